//! The events cursor decoder: any text against any query is either refused
//! naming `cursor`, or decodes to an index whose own cursor decodes the same;
//! a cursor never decodes for a different query. Never a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use usage_guest::cursor;
use usage_guest::model::{EventsQuery, Order, OutcomeFilter, UsageError};

/// A small query shaped by two bytes, so cursors meet many fingerprints.
fn query(a: u8, b: u8) -> EventsQuery {
    let name = |bits: u8, stem: &str| (bits != 0).then(|| format!("{stem}{bits}"));
    EventsQuery {
        user: name(a & 3, "u"),
        service: name((a >> 2) & 3, "s"),
        model: name((a >> 4) & 3, "m"),
        outcome: match b & 3 {
            0 => None,
            1 => Some(OutcomeFilter::Success),
            2 => Some(OutcomeFilter::Failure),
            _ => Some(OutcomeFilter::FailureKind("timeout".into())),
        },
        from: (b & 4 != 0).then_some(u64::from(a) * 3_600_000),
        to: (b & 8 != 0).then_some(u64::from(b) * 3_600_000),
        order: if b & 16 != 0 {
            Order::OldestFirst
        } else {
            Order::NewestFirst
        },
        limit: None,
        cursor: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let [a, b, rest @ ..] = data else {
        return;
    };
    let q = query(*a, *b);
    let text = String::from_utf8_lossy(rest);
    match cursor::decode(&text, &q) {
        Ok(next) => {
            let again = cursor::encode(next, &q);
            assert_eq!(cursor::decode(&again, &q).ok(), Some(next), "{text:?}");
        }
        Err(UsageError::Invalid { field, .. }) => assert_eq!(field, "cursor"),
        Err(other) => panic!("unexpected error for {text:?}: {other:?}"),
    }
    // A real cursor for an index taken from the input fits its own query only.
    let index = rest
        .iter()
        .take(8)
        .fold(0u64, |n, byte| (n << 8) | u64::from(*byte));
    let own = cursor::encode(index, &q);
    assert_eq!(cursor::decode(&own, &q).ok(), Some(index));
    let other = query(a.wrapping_add(1), *b);
    if other != q {
        assert!(cursor::decode(&own, &other).is_err(), "{own} fits {other:?}");
    }
});
