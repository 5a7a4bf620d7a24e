//! Query parameters as people and URLs spell them: `failure:timeout`,
//! `service,outcome`, `hour`. Shared by the CLI and the HTTP API.

use crate::bindings::{Dimension, OutcomeFilter, TimeBucket as Bucket};

/// `success`, `failure` (any kind) or `failure:KIND`.
pub fn parse_outcome_filter(text: &str) -> Result<OutcomeFilter, String> {
    match text.trim() {
        "success" => Ok(OutcomeFilter::Success),
        "failure" => Ok(OutcomeFilter::Failure),
        other => match other.strip_prefix("failure:") {
            Some(kind) if !kind.is_empty() => Ok(OutcomeFilter::FailureKind(kind.to_owned())),
            _ => Err(format!("`{other}` is not success, failure or failure:KIND")),
        },
    }
}

/// A comma list of `service`, `model`, `user`, `outcome`; empty means no grouping.
pub fn parse_dimensions(text: &str) -> Result<Vec<Dimension>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| match name {
            "service" => Ok(Dimension::Service),
            "model" => Ok(Dimension::Model),
            "user" => Ok(Dimension::User),
            "outcome" => Ok(Dimension::Outcome),
            other => Err(format!(
                "`{other}` is not one of service, model, user, outcome"
            )),
        })
        .collect()
}

pub fn dimension_name(d: &Dimension) -> &'static str {
    match d {
        Dimension::Service => "service",
        Dimension::Model => "model",
        Dimension::User => "user",
        Dimension::Outcome => "outcome",
    }
}

/// `none`, `hour`, `day` or `month` (UTC).
pub fn parse_bucket(text: &str) -> Result<Bucket, String> {
    match text.trim() {
        "none" => Ok(Bucket::None),
        "hour" => Ok(Bucket::Hour),
        "day" => Ok(Bucket::Day),
        "month" => Ok(Bucket::Month),
        other => Err(format!("`{other}` is not one of none, hour, day, month")),
    }
}

pub fn bucket_name(b: &Bucket) -> &'static str {
    match b {
        Bucket::None => "none",
        Bucket::Hour => "hour",
        Bucket::Day => "day",
        Bucket::Month => "month",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_filters() {
        assert!(matches!(
            parse_outcome_filter("success"),
            Ok(OutcomeFilter::Success)
        ));
        assert!(matches!(
            parse_outcome_filter("failure"),
            Ok(OutcomeFilter::Failure)
        ));
        assert!(
            matches!(parse_outcome_filter("failure:timeout"), Ok(OutcomeFilter::FailureKind(k)) if k == "timeout")
        );
        assert!(parse_outcome_filter("failure:").is_err());
        assert!(parse_outcome_filter("failed").is_err());
    }

    #[test]
    fn dimension_lists() {
        let dims = parse_dimensions("service, outcome").expect("parses");
        let names: Vec<_> = dims.iter().map(dimension_name).collect();
        assert_eq!(names, ["service", "outcome"]);
        assert_eq!(parse_dimensions("").expect("empty is fine").len(), 0);
        assert!(parse_dimensions("service,colour").is_err());
    }

    #[test]
    fn buckets() {
        for name in ["none", "hour", "day", "month"] {
            assert_eq!(bucket_name(&parse_bucket(name).expect("parses")), name);
        }
        assert!(parse_bucket("week").is_err());
    }
}
