//! Value parsers for flags, so clap reports bad values as usage errors (exit 2).

use crate::bindings::{Dimension, OutcomeFilter, TimeBucket};
use crate::runtime;
use crate::timestamp::{self, Millis};
use crate::wire;

/// RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DDTHH` (UTC) or integer milliseconds.
pub fn time(text: &str) -> Result<Millis, String> {
    timestamp::parse_human(text).map_err(|e| e.to_string())
}

/// A city name, checked here so a bad one is a usage error naming `--city`.
pub fn city(text: &str) -> Result<String, String> {
    runtime::validate_city_name(text)
        .map(|()| text.to_owned())
        .map_err(|e| e.to_string())
}

pub fn outcome_filter(text: &str) -> Result<OutcomeFilter, String> {
    wire::parse_outcome_filter(text)
}

/// A comma list of dimensions as one flag value (`service,outcome`; `''` for none).
#[derive(Debug, Clone)]
pub struct Dimensions(pub Vec<Dimension>);

pub fn dimensions(text: &str) -> Result<Dimensions, String> {
    wire::parse_dimensions(text).map(Dimensions)
}

pub fn bucket(text: &str) -> Result<TimeBucket, String> {
    wire::parse_bucket(text)
}

/// `name=value` with a whole number value, e.g. `input_tokens=812`.
pub fn quantity(text: &str) -> Result<(String, u64), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}` is not NAME=VALUE (e.g. input_tokens=812)"))?;
    let value = value
        .trim()
        .replace(['_', ','], "")
        .parse::<u64>()
        .map_err(|_| format!("`{value}` is not a whole number ≥ 0"))?;
    Ok((name.trim().to_owned(), value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_name_equals_value() {
        assert_eq!(
            quantity("input_tokens=812"),
            Ok(("input_tokens".to_owned(), 812))
        );
        assert_eq!(quantity("images = 1_000"), Ok(("images".to_owned(), 1000)));
        assert!(quantity("images").is_err());
        assert!(quantity("images=-1").is_err());
        assert!(quantity("images=1.5").is_err());
    }

    #[test]
    fn times_accept_the_short_forms() {
        assert_eq!(time("2024-11-15T16"), Ok(1_731_686_400_000));
        assert!(time("tomorrow").is_err());
    }
}
