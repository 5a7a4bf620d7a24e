//! A brute-force reference for tests: summaries recounted straight from a list
//! of events, sharing no code with the rollups it checks.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::model::{Bucket, Dimension, Event, Figures, Quantity, Timestamp};

/// What one summary row should hold, keyed by (bucket start, service, model, user, outcome).
pub type Key = (
    Option<Timestamp>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

pub fn bucket_start(at: Timestamp, bucket: Bucket) -> Option<Timestamp> {
    const H: u64 = 3_600_000;
    match bucket {
        Bucket::None => None,
        Bucket::Hour => Some(at - at % H),
        Bucket::Day => Some(at - at % (24 * H)),
        Bucket::Month => {
            let t = OffsetDateTime::from_unix_timestamp((at / 1000) as i64).ok()?;
            let first = t.date().replace_day(1).ok()?;
            Some(first.midnight().assume_utc().unix_timestamp() as u64 * 1000)
        }
    }
}

pub fn key_of(e: &Event, group_by: &[Dimension], bucket: Bucket) -> Key {
    let has = |d| group_by.contains(&d);
    (
        bucket_start(e.occurred_at, bucket),
        has(Dimension::Service).then(|| e.service.clone()),
        has(Dimension::Model).then(|| e.model.clone().unwrap_or_default()),
        has(Dimension::User).then(|| e.user.clone()),
        has(Dimension::Outcome).then(|| e.outcome.label().to_owned()),
    )
}

/// Rows and totals recounted from `events` within [from, to).
pub fn summarize(
    events: &[Event],
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    group_by: &[Dimension],
    bucket: Bucket,
) -> (BTreeMap<Key, Figures>, Figures) {
    let inside: Vec<&Event> = events
        .iter()
        .filter(|e| from.is_none_or(|f| e.occurred_at >= f) && to.is_none_or(|t| e.occurred_at < t))
        .collect();
    let mut groups: BTreeMap<Key, Vec<&Event>> = BTreeMap::new();
    for e in &inside {
        groups
            .entry(key_of(e, group_by, bucket))
            .or_default()
            .push(e);
    }
    let rows = groups
        .into_iter()
        .map(|(k, es)| (k, figures(&es)))
        .collect();
    (rows, figures(&inside))
}

pub fn figures(events: &[&Event]) -> Figures {
    let mut quantities: BTreeMap<String, u64> = BTreeMap::new();
    let mut users = BTreeSet::new();
    let mut f = Figures::default();
    for e in events {
        f.calls += 1;
        if e.outcome.is_success() {
            f.successes += 1;
        } else {
            f.failures += 1;
        }
        f.duration_ms += e.duration_ms.unwrap_or(0);
        for q in &e.quantities {
            *quantities.entry(q.name.clone()).or_default() += q.value;
        }
        users.insert(e.user.clone());
    }
    f.quantities = quantities
        .into_iter()
        .map(|(name, value)| Quantity { name, value })
        .collect();
    f.distinct_users = users.len() as u64;
    f
}
