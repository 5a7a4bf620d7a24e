//! Timestamps as the product shows and accepts them: milliseconds since the Unix
//! epoch (UTC) inside, RFC 3339 at the edges, plus the short forms a person types.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

/// Milliseconds since the Unix epoch, UTC (the WIT `timestamp`).
pub type Millis = u64;

/// Why a time could not be read; the caller adds the field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(String);

/// Parses RFC 3339 (any offset, converted to UTC) or integer milliseconds since the epoch.
/// This is what the JSON wire format and CSV cells accept.
pub fn parse_wire(text: &str) -> Result<Millis, TimeError> {
    let text = text.trim();
    if let Some(ms) = parse_integer_ms(text)? {
        return Ok(ms);
    }
    let at = OffsetDateTime::parse(text, &Rfc3339).map_err(|_| {
        TimeError(format!(
            "`{text}` is not an RFC 3339 time (e.g. 2024-11-15T16:57:50Z) or integer milliseconds"
        ))
    })?;
    to_millis(at)
}

/// Parses what a person types on the command line: RFC 3339, `YYYY-MM-DD`,
/// `YYYY-MM-DDTHH` (both UTC, start of that day or hour), or integer milliseconds.
pub fn parse_human(text: &str) -> Result<Millis, TimeError> {
    let text = text.trim();
    if let Some(ms) = parse_integer_ms(text)? {
        return Ok(ms);
    }
    if let Ok(at) = OffsetDateTime::parse(text, &Rfc3339) {
        return to_millis(at);
    }
    if let Ok(day) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return to_millis(day.midnight().assume_utc());
    }
    if let Some((day, hour)) = text.split_once('T')
        && hour.len() == 2
        && let Ok(day) = Date::parse(day, format_description!("[year]-[month]-[day]"))
        && let Ok(hour) = hour.parse::<u8>()
        && let Ok(time) = Time::from_hms(hour, 0, 0)
    {
        return to_millis(PrimitiveDateTime::new(day, time).assume_utc());
    }
    Err(TimeError(format!(
        "`{text}` is not a time: use RFC 3339 (2024-11-15T16:57:50Z), YYYY-MM-DD, YYYY-MM-DDTHH (UTC) or integer milliseconds"
    )))
}

/// Parses a zone-less `YYYY-MM-DD HH:MM:SS[.fraction]` as UTC, the shape both real
/// traces use. Digits beyond milliseconds are dropped, not rounded.
pub fn parse_naive_utc(text: &str) -> Result<Millis, TimeError> {
    let text = text.trim();
    let with_fraction =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");
    let whole_seconds = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text, whole_seconds)
        .or_else(|_| PrimitiveDateTime::parse(text, with_fraction))
        .map_err(|_| {
            TimeError(format!(
                "`{text}` is not a time of the form YYYY-MM-DD HH:MM:SS[.fraction]"
            ))
        })
        .and_then(|at| to_millis(at.assume_utc()))
}

/// Formats as RFC 3339 in UTC with millisecond precision, e.g. `2023-11-16T18:15:46.680Z`.
pub fn format_rfc3339(ms: Millis) -> String {
    let at = utc(ms);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// Formats for a table cell: `2023-11-16 18:15:46.680`, UTC (the header says so).
pub fn format_short(ms: Millis) -> String {
    let at = utc(ms);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

/// The current time, for callers that need "now" on the host side.
pub fn now() -> Millis {
    to_millis(OffsetDateTime::now_utc()).unwrap_or(0)
}

/// Integer milliseconds, or `None` when the text is not all digits. A leading `-`
/// is an error rather than a fall-through, so it gets a clear message.
fn parse_integer_ms(text: &str) -> Result<Option<Millis>, TimeError> {
    if let Some(rest) = text.strip_prefix('-')
        && !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(TimeError(format!("`{text}` is before 1970")));
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    text.parse::<u64>()
        .map(Some)
        .map_err(|_| TimeError(format!("`{text}` is too large for milliseconds")))
}

fn to_millis(at: OffsetDateTime) -> Result<Millis, TimeError> {
    let ms = at.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).map_err(|_| TimeError(format!("{at} is before 1970")))
}

/// Milliseconds far in the future (beyond year 9999) clamp to the largest time `time` knows.
fn utc(ms: Millis) -> OffsetDateTime {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or_else(|_| PrimitiveDateTime::new(Date::MAX, Time::MIDNIGHT).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2024-11-15T16:57:50Z, counted independently: `date -u -d 2024-11-15T16:57:50Z +%s`.
    const GENAI_FIRST: Millis = 1_731_689_870_000;

    #[test]
    fn wire_accepts_rfc3339_and_integer_ms() {
        assert_eq!(parse_wire("2024-11-15T16:57:50Z"), Ok(GENAI_FIRST));
        assert_eq!(parse_wire("2024-11-15T17:57:50+01:00"), Ok(GENAI_FIRST));
        assert_eq!(
            parse_wire("2024-11-15T16:57:50.123Z"),
            Ok(GENAI_FIRST + 123)
        );
        assert_eq!(parse_wire("1731689870000"), Ok(GENAI_FIRST));
        assert_eq!(parse_wire("0"), Ok(0));
    }

    #[test]
    fn wire_rejects_short_forms_and_junk() {
        assert!(parse_wire("2024-11-15").is_err());
        assert!(parse_wire("yesterday").is_err());
        assert!(parse_wire("").is_err());
        assert!(parse_wire("-5").is_err());
        assert!(parse_wire("99999999999999999999999").is_err());
        assert!(parse_wire("1969-12-31T23:59:59Z").is_err());
    }

    #[test]
    fn human_accepts_day_and_hour_forms() {
        assert_eq!(
            parse_human("2024-11-15"),
            Ok(GENAI_FIRST - (16 * 3600 + 57 * 60 + 50) * 1000)
        );
        assert_eq!(
            parse_human("2024-11-15T16"),
            Ok(GENAI_FIRST - (57 * 60 + 50) * 1000)
        );
        assert_eq!(parse_human("2024-11-15T16:57:50Z"), Ok(GENAI_FIRST));
        assert_eq!(parse_human(" 1731689870000 "), Ok(GENAI_FIRST));
    }

    #[test]
    fn human_rejects_bad_hours_and_dates() {
        assert!(parse_human("2024-11-15T24").is_err());
        assert!(parse_human("2024-11-15T7").is_err());
        assert!(parse_human("2024-02-30").is_err());
        assert!(parse_human("15/11/2024").is_err());
    }

    #[test]
    fn naive_utc_reads_both_trace_shapes() {
        assert_eq!(parse_naive_utc("2024-11-15 16:57:50"), Ok(GENAI_FIRST));
        // Azure: seven fractional digits; the sub-millisecond part is dropped.
        // 2023-11-16T18:15:46Z = 1700158546 s.
        assert_eq!(
            parse_naive_utc("2023-11-16 18:15:46.6805900"),
            Ok(1_700_158_546_680)
        );
        assert!(parse_naive_utc("2023-11-16T18:15:46").is_err());
        assert!(parse_naive_utc("").is_err());
    }

    #[test]
    fn formats_with_milliseconds_in_utc() {
        assert_eq!(format_rfc3339(GENAI_FIRST), "2024-11-15T16:57:50.000Z");
        assert_eq!(
            format_rfc3339(1_700_158_546_680),
            "2023-11-16T18:15:46.680Z"
        );
        assert_eq!(format_short(0), "1970-01-01 00:00:00.000");
        assert_eq!(
            parse_wire(&format_rfc3339(1_700_158_546_681)),
            Ok(1_700_158_546_681)
        );
    }

    #[test]
    fn far_future_does_not_panic() {
        assert!(format_rfc3339(u64::MAX).starts_with("9999-12-31"));
    }
}
