//! Opaque page cursors. A cursor names the next list index to read and carries
//! a fingerprint of the query it belongs to, so a cursor from another query (or
//! an edited one) is refused instead of silently returning the wrong page.

use crate::model::{EventsQuery, Order, UsageError, UsageResult};

const PREFIX: &str = "c1_";

pub fn encode(next: u64, q: &EventsQuery) -> String {
    format!("{PREFIX}{next:x}_{:016x}", fingerprint(q))
}

/// The list index a cursor continues at.
pub fn decode(cursor: &str, q: &EventsQuery) -> UsageResult<u64> {
    let bad = |why: &str| UsageError::invalid("cursor", why.to_owned());
    let body = cursor
        .strip_prefix(PREFIX)
        .ok_or_else(|| bad("not a cursor returned by this service"))?;
    let (next, fp) = body
        .split_once('_')
        .ok_or_else(|| bad("not a cursor returned by this service"))?;
    let next = u64::from_str_radix(next, 16).map_err(|_| bad("damaged cursor"))?;
    let fp = u64::from_str_radix(fp, 16).map_err(|_| bad("damaged cursor"))?;
    if fp != fingerprint(q) {
        return Err(bad(
            "this cursor belongs to a different query (filters or order changed)",
        ));
    }
    Ok(next)
}

/// FNV-1a over the query's filters and order: stable across builds and hosts.
fn fingerprint(q: &EventsQuery) -> u64 {
    let outcome = q.outcome.as_ref().map(|o| format!("{o:?}"));
    let order = match q.order {
        Order::NewestFirst => "n",
        Order::OldestFirst => "o",
    };
    let parts = [
        q.user.as_deref(),
        q.service.as_deref(),
        q.model.as_deref(),
        outcome.as_deref(),
        Some(&*q.from.map_or(String::new(), |t| t.to_string())),
        Some(&*q.to.map_or(String::new(), |t| t.to_string())),
        Some(order),
    ];
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        let bytes = match part {
            Some(s) => s.as_bytes(),
            None => b"\xff",
        };
        for b in bytes.iter().chain(b"\0") {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_for_its_own_query_only() {
        let q = EventsQuery {
            user: Some("ana".into()),
            ..Default::default()
        };
        let c = encode(42, &q);
        assert_eq!(decode(&c, &q).unwrap(), 42);
        let other = EventsQuery {
            user: Some("bob".into()),
            ..Default::default()
        };
        assert!(decode(&c, &other).is_err());
        assert!(decode("garbage", &q).is_err());
        assert!(decode("c1_zz_0", &q).is_err());
        assert!(
            decode(&c.replace("c1_2a", "c1_2b"), &q).is_ok(),
            "indexes are not secret"
        );
    }
}
