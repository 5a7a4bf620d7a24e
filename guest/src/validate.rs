//! Input limits and validation. Every rejection names the field, and nothing is
//! written for a rejected fact. The limits are documented in the README.

use crate::model::{Fact, Outcome, SUCCESS_LABEL, Timestamp, UsageError, UsageResult};

/// User, service, model and failure-kind names: 1 to 128 bytes.
pub const NAME_MAX_BYTES: usize = 128;
/// Idempotency ids: 1 to 128 bytes.
pub const ID_MAX_BYTES: usize = 128;
pub const MESSAGE_MAX_BYTES: usize = 1024;
pub const QUANTITIES_MAX: usize = 32;
/// Quantity names: 1 to 64 of `A-Z a-z 0-9 _ . -`.
pub const QUANTITY_NAME_MAX_BYTES: usize = 64;
/// 2^53 − 1: the largest integer every JSON reader keeps exactly.
pub const QUANTITY_VALUE_MAX: u64 = (1 << 53) - 1;
/// 30 days.
pub const DURATION_MAX_MS: u64 = 30 * 24 * 3_600_000;
/// 2000-01-01T00:00:00Z: nothing this layer meters happened before.
pub const EARLIEST_MS: Timestamp = 946_684_800_000;
/// How far in the future a fact may claim to have happened (clock skew).
pub const FUTURE_SLACK_MS: u64 = 24 * 3_600_000;
pub const BATCH_MAX: usize = 10_000;
/// Events a page may return.
pub const PAGE_MAX: u32 = 1000;
pub const PAGE_DEFAULT: u32 = 50;

/// Checks a fact and returns it normalised (quantities sorted by name).
pub fn fact(mut f: Fact, now: Timestamp) -> UsageResult<Fact> {
    if let Some(id) = &f.id {
        text("id", id, ID_MAX_BYTES)?;
    }
    name("user", &f.user)?;
    name("service", &f.service)?;
    if let Some(model) = &f.model {
        name("model", model)?;
    }
    if let Outcome::Failure { kind, message } = &f.outcome {
        name("outcome.kind", kind)?;
        if kind == SUCCESS_LABEL {
            return Err(UsageError::invalid(
                "outcome.kind",
                "\"success\" is reserved for successful calls",
            ));
        }
        if let Some(message) = message {
            if message.len() > MESSAGE_MAX_BYTES {
                return Err(too_long("outcome.message", MESSAGE_MAX_BYTES));
            }
            if message
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                return Err(control("outcome.message"));
            }
        }
    }
    if let Some(at) = f.occurred_at {
        timestamp("occurred-at", at, now)?;
    }
    if let Some(d) = f.duration_ms
        && d > DURATION_MAX_MS
    {
        return Err(UsageError::invalid(
            "duration-ms",
            format!("{d} ms is more than the limit of {DURATION_MAX_MS} ms (30 days)"),
        ));
    }
    quantities(&mut f)?;
    Ok(f)
}

fn quantities(f: &mut Fact) -> UsageResult<()> {
    if f.quantities.len() > QUANTITIES_MAX {
        return Err(UsageError::invalid(
            "quantities",
            format!(
                "{} quantities; at most {QUANTITIES_MAX}",
                f.quantities.len()
            ),
        ));
    }
    for (i, q) in f.quantities.iter().enumerate() {
        let field = format!("quantities[{i}].name");
        if q.name.is_empty() || q.name.len() > QUANTITY_NAME_MAX_BYTES {
            return Err(UsageError::invalid(
                field,
                format!("must be 1 to {QUANTITY_NAME_MAX_BYTES} bytes"),
            ));
        }
        if !q
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        {
            return Err(UsageError::invalid(
                field,
                format!(
                    "{:?} may only use letters, digits, '_', '.' and '-'",
                    q.name
                ),
            ));
        }
        if q.value > QUANTITY_VALUE_MAX {
            return Err(UsageError::invalid(
                format!("quantities[{i}].value"),
                format!("{} is more than the limit of {QUANTITY_VALUE_MAX}", q.value),
            ));
        }
    }
    f.quantities.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = f.quantities.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(UsageError::invalid(
            "quantities",
            format!("{:?} appears more than once", pair[0].name),
        ));
    }
    Ok(())
}

/// A user, service, model or kind name.
pub fn name(field: &str, value: &str) -> UsageResult<()> {
    text(field, value, NAME_MAX_BYTES)
}

fn text(field: &str, value: &str, max: usize) -> UsageResult<()> {
    if value.is_empty() {
        return Err(UsageError::invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(too_long(field, max));
    }
    if value.chars().any(char::is_control) {
        return Err(control(field));
    }
    Ok(())
}

fn timestamp(field: &str, at: Timestamp, now: Timestamp) -> UsageResult<()> {
    if at < EARLIEST_MS {
        return Err(UsageError::invalid(
            field,
            format!(
                "{at} is before 2000-01-01T00:00:00Z (milliseconds since the Unix epoch expected)"
            ),
        ));
    }
    if at > now.saturating_add(FUTURE_SLACK_MS) {
        return Err(UsageError::invalid(
            field,
            format!("{at} is more than a day in the future"),
        ));
    }
    Ok(())
}

/// A query window: `from` before `to` where both are given.
pub fn window(from: Option<Timestamp>, to: Option<Timestamp>) -> UsageResult<()> {
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(UsageError::invalid(
            "from",
            format!("the window [from, to) is empty: from {from} is not before to {to}"),
        ));
    }
    Ok(())
}

/// A page size: default when absent, 1 to [`PAGE_MAX`].
pub fn limit(field: &str, limit: Option<u32>, default: u32) -> UsageResult<u32> {
    match limit.unwrap_or(default) {
        0 => Err(UsageError::invalid(field, "must be at least 1")),
        n if n > PAGE_MAX => Err(UsageError::invalid(
            field,
            format!("{n} is more than the limit of {PAGE_MAX}"),
        )),
        n => Ok(n),
    }
}

fn too_long(field: &str, max: usize) -> UsageError {
    UsageError::invalid(field, format!("is longer than {max} bytes"))
}

fn control(field: &str) -> UsageError {
    UsageError::invalid(field, "must not contain control characters")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Quantity;

    const NOW: Timestamp = 1_733_000_000_000;

    fn good() -> Fact {
        Fact {
            id: None,
            user: "u".into(),
            service: "s".into(),
            model: None,
            outcome: Outcome::Success,
            occurred_at: None,
            duration_ms: None,
            quantities: vec![
                Quantity {
                    name: "b".into(),
                    value: 1,
                },
                Quantity {
                    name: "a".into(),
                    value: 2,
                },
            ],
        }
    }

    fn field_of(f: Fact) -> String {
        match fact(f, NOW) {
            Err(UsageError::Invalid { field, .. }) => field,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn normalises_quantity_order() {
        let f = fact(good(), NOW).unwrap();
        assert_eq!(f.quantities[0].name, "a");
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut f = good();
        f.user = String::new();
        assert_eq!(field_of(f), "user");
        let mut f = good();
        f.service = "x".repeat(NAME_MAX_BYTES + 1);
        assert_eq!(field_of(f), "service");
        let mut f = good();
        f.model = Some("a\u{7}b".into());
        assert_eq!(field_of(f), "model");
        let mut f = good();
        f.id = Some(String::new());
        assert_eq!(field_of(f), "id");
        let mut f = good();
        f.outcome = Outcome::Failure {
            kind: "success".into(),
            message: None,
        };
        assert_eq!(field_of(f), "outcome.kind");
        let mut f = good();
        f.occurred_at = Some(5);
        assert_eq!(field_of(f), "occurred-at");
        let mut f = good();
        f.occurred_at = Some(NOW + 2 * FUTURE_SLACK_MS);
        assert_eq!(field_of(f), "occurred-at");
        let mut f = good();
        f.duration_ms = Some(DURATION_MAX_MS + 1);
        assert_eq!(field_of(f), "duration-ms");
        let mut f = good();
        f.quantities[1].name = "a b".into();
        assert_eq!(field_of(f), "quantities[1].name");
        let mut f = good();
        f.quantities[0].value = QUANTITY_VALUE_MAX + 1;
        assert_eq!(field_of(f), "quantities[0].value");
        let mut f = good();
        f.quantities[1].name = "b".into();
        assert_eq!(field_of(f), "quantities");
        let mut f = good();
        f.quantities = (0..=QUANTITIES_MAX)
            .map(|i| Quantity {
                name: format!("q{i}"),
                value: 1,
            })
            .collect();
        assert_eq!(field_of(f), "quantities");
    }

    #[test]
    fn windows_and_limits() {
        assert!(window(Some(2), Some(1)).is_err());
        assert!(window(Some(1), Some(1)).is_err());
        assert!(window(Some(1), None).is_ok());
        assert_eq!(limit("limit", None, PAGE_DEFAULT).unwrap(), PAGE_DEFAULT);
        assert!(limit("limit", Some(0), PAGE_DEFAULT).is_err());
        assert!(limit("limit", Some(PAGE_MAX + 1), PAGE_DEFAULT).is_err());
    }
}
