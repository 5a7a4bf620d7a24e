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

/// A duration: `500ms`, `30s`, `15m`, `1h`, `7d` (a bare number is seconds).
pub fn duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration like 500ms, 30s, 15m, 1h or 7d"))?;
    let millis_per = match unit.trim() {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        other => return Err(format!("`{other}` is not a unit: use ms, s, m, h or d")),
    };
    n.checked_mul(millis_per)
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| format!("`{text}` is too long"))
}

/// A size in bytes: `1048576`, `512KiB`, `64MiB`, `1GiB`.
pub fn bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: usize = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 65536, 512KiB or 64MiB"))?;
    let per = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        other => return Err(format!("`{other}` is not a unit: use B, KiB, MiB or GiB")),
    };
    n.checked_mul(per)
        .ok_or_else(|| format!("`{text}` is too large"))
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
    fn durations_and_sizes() {
        use std::time::Duration;
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert!(duration("1w").is_err());
        assert!(duration("h").is_err());
        assert!(duration("-1s").is_err());
        assert_eq!(bytes("64MiB"), Ok(64 << 20));
        assert_eq!(bytes("4096"), Ok(4096));
        assert!(bytes("1MB").is_err());
        assert!(bytes("MiB").is_err());
    }

    #[test]
    fn times_accept_the_short_forms() {
        assert_eq!(time("2024-11-15T16"), Ok(1_731_686_400_000));
        assert!(time("tomorrow").is_err());
    }
}
