//! Checks that robustness tests share: a raw dump of a backend (to show a
//! failed or refused call changed nothing), and an audit of one city (every
//! event once, summaries equal to a recount of the events, `me` equal to the
//! summary's row for that user).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use usage_guest::model as m;
use usage_guest::reference;
use usage_guest::scenarios::{Api, all_events};
use usage_host::store::{Backend, RedbBackend};

use crate::host_api::HostApi;

/// Every committed key and value of every city, as the backend holds them.
pub type Dump = BTreeMap<(String, String), Vec<u8>>;

pub fn dump(backend: &dyn Backend) -> Dump {
    let mut out = Dump::new();
    for city in backend.cities().expect("cities") {
        let snapshot = backend.snapshot(&city).expect("snapshot");
        for key in snapshot.keys().expect("keys") {
            let value = snapshot.get(&key).expect("get").expect("listed key");
            out.insert((city.clone(), key), value);
        }
    }
    out
}

/// The dump of the embedded store in a CLI data dir (no process may hold it).
pub fn dump_dir(data_dir: &Path) -> Dump {
    let path = data_dir.join("usage.redb");
    if !path.exists() {
        return Dump::new();
    }
    dump(&RedbBackend::open(&path).expect("open the data dir's store"))
}

/// Cities whose state differs between two dumps, with a key that differs.
pub fn difference(before: &Dump, after: &Dump) -> Option<String> {
    let keys: BTreeSet<_> = before.keys().chain(after.keys()).collect();
    keys.into_iter()
        .find(|k| before.get(*k) != after.get(*k))
        .map(|(city, key)| {
            format!(
                "city {city:?} key {key:?}: {:?} -> {:?}",
                before.get(&(city.clone(), key.clone())).map(|v| lossy(v)),
                after.get(&(city.clone(), key.clone())).map(|v| lossy(v))
            )
        })
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts two dumps are equal, naming the first difference.
#[track_caller]
pub fn assert_unchanged(before: &Dump, after: &Dump, what: &str) {
    if let Some(diff) = difference(before, after) {
        panic!("{what} changed the store: {diff}");
    }
}

/// Audits one city and returns its events (oldest first): positions and ids
/// unique, every summary grouping equal to a recount of the events, and each
/// user's `me` equal to the recount of that user's events.
pub fn audit(api: &mut HostApi, city: &str) -> Vec<m::Event> {
    let events = all_events(
        api,
        city,
        m::EventsQuery {
            order: m::Order::OldestFirst,
            ..Default::default()
        },
    );
    let positions: BTreeSet<u64> = events.iter().map(|e| e.position).collect();
    assert_eq!(positions.len(), events.len(), "{city}: a position twice");
    let ids: Vec<&String> = events.iter().filter_map(|e| e.id.as_ref()).collect();
    let distinct: BTreeSet<&&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "{city}: an id stored twice");

    use m::Dimension::*;
    for group_by in [vec![], vec![Service, Outcome], vec![User, Model]] {
        for bucket in [m::Bucket::None, m::Bucket::Hour] {
            let q = m::SummaryQuery {
                group_by: group_by.clone(),
                bucket,
                ..Default::default()
            };
            let got = api.summary(city, q.clone()).expect("summary");
            let (rows, totals) = reference::summarize(&events, None, None, &group_by, bucket);
            assert_eq!(got.totals, totals, "{city}: totals of {q:?}");
            let got_rows: BTreeMap<reference::Key, m::Figures> = got
                .rows
                .into_iter()
                .map(|r| {
                    let key = (r.bucket_start, r.service, r.model, r.user, r.outcome);
                    (key, r.figures)
                })
                .collect();
            assert_eq!(got_rows, rows, "{city}: rows of {q:?}");
        }
    }
    let users: BTreeSet<&str> = events.iter().map(|e| e.user.as_str()).collect();
    for user in users {
        let report = api
            .me(city, user, m::MeQuery::default())
            .expect("me answers");
        let mine: Vec<m::Event> = events.iter().filter(|e| e.user == user).cloned().collect();
        let (_, totals) = reference::summarize(&mine, None, None, &[], m::Bucket::None);
        assert_eq!(report.summary.totals, totals, "{city}: me of {user}");
    }
    events
}

/// How many stored events carry each id.
pub fn id_counts(events: &[m::Event]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        if let Some(id) = &e.id {
            *counts.entry(id.clone()).or_default() += 1;
        }
    }
    counts
}
