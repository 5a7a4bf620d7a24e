//! Usage scenarios written once against [`Api`], run natively over
//! [`crate::kv::MemoryKv`] (tests below) and through wasmtime and every store
//! by the host's integration tests. Expected figures come from
//! [`crate::reference`], a brute-force recount, never from the product.

#![allow(clippy::unwrap_used)] // test support: a failed expectation should panic

use std::collections::{BTreeMap, HashMap};

use crate::model::*;
use crate::reference;

/// The component's surface, per city.
pub trait Api {
    fn record_batch(&mut self, city: &str, facts: Vec<Fact>) -> Vec<UsageResult<Receipt>>;
    fn events(&mut self, city: &str, q: EventsQuery) -> UsageResult<EventPage>;
    fn summary(&mut self, city: &str, q: SummaryQuery) -> UsageResult<Summary>;
    fn me(&mut self, city: &str, user: &str, q: MeQuery) -> UsageResult<UsageReport>;
    fn get_settings(&mut self, city: &str) -> UsageResult<Settings>;
    fn set_settings(&mut self, city: &str, s: Settings) -> UsageResult<Settings>;
}

pub type Scenario = fn(&mut dyn Api, &str);

/// Every scenario with its name; each uses only cities whose names start with
/// the prefix it is given, so all can share one store.
pub const ALL: &[(&str, Scenario)] = &[
    ("reads_agree_with_a_recount", reads_agree_with_a_recount),
    ("idempotent_retry_counts_once", idempotent_retry_counts_once),
    (
        "changed_payload_is_a_conflict",
        changed_payload_is_a_conflict,
    ),
    ("record_errors_setting", record_errors_setting),
    (
        "bad_items_do_not_sink_a_batch",
        bad_items_do_not_sink_a_batch,
    ),
    ("cities_are_isolated", cities_are_isolated),
    (
        "paging_returns_each_event_once",
        paging_returns_each_event_once,
    ),
    ("me_shows_only_that_user", me_shows_only_that_user),
    ("windows_and_buckets", windows_and_buckets),
    ("bad_queries_name_the_field", bad_queries_name_the_field),
];

/// 2024-11-15T00:00:00Z
pub const T0: Timestamp = 1_731_628_800_000;
pub const HOUR: u64 = 3_600_000;

/// A varied but deterministic set of facts over ~3 days.
pub fn sample_facts(n: usize, seed: u64) -> Vec<Fact> {
    let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move |m: u64| {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (x >> 33) % m
    };
    (0..n)
        .map(|i| {
            let user = format!("user-{}", next(7).min(next(7)));
            let failed = next(10) == 0;
            Fact {
                id: Some(format!("f-{seed}-{i}")),
                user,
                service: ["chat", "image", "a/b"][next(3) as usize].to_owned(),
                model: match next(4) {
                    0 => None,
                    m => Some(format!("m{m}")),
                },
                outcome: if failed {
                    Outcome::Failure {
                        kind: ["timeout", "rate_limited"][next(2) as usize].to_owned(),
                        message: Some("upstream said no".into()),
                    }
                } else {
                    Outcome::Success
                },
                occurred_at: Some(T0 + next(72 * HOUR)),
                duration_ms: Some(next(5000)),
                quantities: vec![
                    Quantity {
                        name: "input_tokens".into(),
                        value: next(2000),
                    },
                    Quantity {
                        name: "output_tokens".into(),
                        value: next(500),
                    },
                ],
            }
        })
        .collect()
}

fn expect_all_recorded(results: &[UsageResult<Receipt>]) -> Vec<u64> {
    results
        .iter()
        .map(|r| match r {
            Ok(Receipt {
                status: ReceiptStatus::Recorded,
                position: Some(p),
                ..
            }) => *p,
            other => panic!("expected recorded, got {other:?}"),
        })
        .collect()
}

/// All events of a city, oldest first, by walking pages.
pub fn all_events(api: &mut dyn Api, city: &str, mut q: EventsQuery) -> Vec<Event> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let page = api.events(city, q.clone()).expect("events page");
        let short = page.events.is_empty();
        out.extend(page.events);
        match page.next_cursor {
            Some(c) if !(short && q.order == Order::OldestFirst) => q.cursor = Some(c),
            _ => return out,
        }
    }
    panic!("paging did not end");
}

fn check_summary(api: &mut dyn Api, city: &str, events: &[Event], q: SummaryQuery) {
    let got = api.summary(city, q.clone()).expect("summary");
    let (rows, totals) = reference::summarize(events, q.from, q.to, &q.group_by, q.bucket);
    let got_rows: BTreeMap<reference::Key, Figures> = got
        .rows
        .iter()
        .map(|r| {
            let key = (
                r.bucket_start,
                r.service.clone(),
                r.model.clone(),
                r.user.clone(),
                r.outcome.clone(),
            );
            (key, r.figures.clone())
        })
        .collect();
    assert_eq!(got.rows.len(), got_rows.len(), "duplicate rows in {q:?}");
    assert_eq!(got_rows, rows, "rows of {q:?}");
    assert_eq!(got.totals, totals, "totals of {q:?}");
}

pub fn reads_agree_with_a_recount(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-recount");
    let facts = sample_facts(300, 1);
    for chunk in facts.chunks(70) {
        expect_all_recorded(&api.record_batch(&city, chunk.to_vec()));
    }
    let events = all_events(
        api,
        &city,
        EventsQuery {
            order: Order::OldestFirst,
            ..Default::default()
        },
    );
    assert_eq!(events.len(), facts.len());
    for (e, f) in events.iter().zip(&facts) {
        assert_eq!(e.id, f.id);
        assert_eq!(e.city, city);
        assert_eq!(Some(e.occurred_at), f.occurred_at);
    }
    use Dimension::*;
    for group_by in [
        vec![],
        vec![Service],
        vec![Service, Outcome],
        vec![Model, User],
        vec![User],
        vec![Service, Model, Outcome, User],
    ] {
        for bucket in [Bucket::None, Bucket::Hour, Bucket::Day, Bucket::Month] {
            check_summary(
                api,
                &city,
                &events,
                SummaryQuery {
                    group_by: group_by.clone(),
                    bucket,
                    ..Default::default()
                },
            );
        }
    }
    for user in ["user-0", "user-3", "user-6"] {
        let report = api
            .me(
                &city,
                user,
                MeQuery {
                    group_by: vec![Service],
                    ..Default::default()
                },
            )
            .expect("me");
        let mine: Vec<Event> = events.iter().filter(|e| e.user == user).cloned().collect();
        let (_, totals) = reference::summarize(&mine, None, None, &[], Bucket::None);
        assert_eq!(report.summary.totals, totals, "me totals of {user}");
        let newest: Vec<u64> = mine.iter().rev().take(10).map(|e| e.position).collect();
        assert_eq!(
            report.recent.iter().map(|e| e.position).collect::<Vec<_>>(),
            newest
        );
    }
}

pub fn idempotent_retry_counts_once(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-retry");
    let facts = sample_facts(5, 2);
    let first = expect_all_recorded(&api.record_batch(&city, facts.clone()));
    // Retried alone, retried in a batch, and repeated inside one batch.
    let mut again = facts.clone();
    again.push(facts[0].clone());
    let retry = api.record_batch(&city, again);
    for (i, r) in retry.iter().enumerate() {
        let r = r.as_ref().expect("retry accepted");
        assert_eq!(r.status, ReceiptStatus::Duplicate);
        assert_eq!(r.position, Some(first[i % facts.len()]));
    }
    let mut fresh = sample_facts(1, 3);
    fresh.push(fresh[0].clone());
    let twice = api.record_batch(&city, fresh);
    assert_eq!(
        twice[0].as_ref().map(|r| r.status),
        Ok(ReceiptStatus::Recorded)
    );
    assert_eq!(
        twice[1].as_ref().map(|r| r.status),
        Ok(ReceiptStatus::Duplicate)
    );
    assert_eq!(
        twice[0].as_ref().map(|r| r.position),
        twice[1].as_ref().map(|r| r.position)
    );
    let s = api
        .summary(&city, SummaryQuery::default())
        .expect("summary");
    assert_eq!(s.totals.calls, 6);
}

pub fn changed_payload_is_a_conflict(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-conflict");
    let facts = sample_facts(1, 4);
    expect_all_recorded(&api.record_batch(&city, facts.clone()));
    let mut changed = facts[0].clone();
    changed.quantities[0].value += 1;
    let r = api.record_batch(&city, vec![changed.clone()]);
    assert!(matches!(r[0], Err(UsageError::Conflict(_))), "{r:?}");
    // Inside one batch too.
    let mut other = sample_facts(1, 5);
    let mut variant = other[0].clone();
    variant.user = "someone-else".into();
    other.push(variant);
    let r = api.record_batch(&city, other);
    assert!(r[0].is_ok());
    assert!(matches!(r[1], Err(UsageError::Conflict(_))), "{r:?}");
    let s = api
        .summary(&city, SummaryQuery::default())
        .expect("summary");
    assert_eq!(s.totals.calls, 2);
}

pub fn record_errors_setting(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-errors");
    assert_eq!(
        api.get_settings(&city),
        Ok(Settings {
            record_errors: true
        }),
        "default is on"
    );
    let failed = |id: &str| Fact {
        id: Some(id.into()),
        user: "u".into(),
        service: "chat".into(),
        model: None,
        outcome: Outcome::Failure {
            kind: "timeout".into(),
            message: None,
        },
        occurred_at: Some(T0),
        duration_ms: None,
        quantities: vec![],
    };
    expect_all_recorded(&api.record_batch(&city, vec![failed("a")]));
    api.set_settings(
        &city,
        Settings {
            record_errors: false,
        },
    )
    .expect("set");
    assert_eq!(
        api.get_settings(&city),
        Ok(Settings {
            record_errors: false
        })
    );
    let r = api.record_batch(&city, vec![failed("b")]);
    let receipt = r[0].as_ref().expect("accepted");
    assert_eq!(receipt.status, ReceiptStatus::NotRecorded);
    assert_eq!(receipt.position, None);
    let mut ok = failed("c");
    ok.outcome = Outcome::Success;
    expect_all_recorded(&api.record_batch(&city, vec![ok]));
    let s = api
        .summary(&city, SummaryQuery::default())
        .expect("summary");
    assert_eq!(
        (s.totals.calls, s.totals.failures, s.totals.successes),
        (2, 1, 1)
    );
    let page = api.events(&city, EventsQuery::default()).expect("events");
    assert_eq!(page.events.len(), 2);
    // A not-recorded failure claims no id: a different payload under that id,
    // later in the same batch, is judged as it would be in a call of its own.
    let mut changed = failed("d");
    changed.duration_ms = Some(5);
    let mut changed_ok = failed("d");
    changed_ok.outcome = Outcome::Success;
    let r = api.record_batch(&city, vec![failed("d"), changed, changed_ok]);
    let statuses: Vec<_> = r.iter().map(|r| r.as_ref().map(|r| r.status)).collect();
    assert_eq!(
        statuses,
        [
            Ok(ReceiptStatus::NotRecorded),
            Ok(ReceiptStatus::NotRecorded),
            Ok(ReceiptStatus::Recorded)
        ]
    );
    api.set_settings(
        &city,
        Settings {
            record_errors: true,
        },
    )
    .expect("set");
    expect_all_recorded(&api.record_batch(&city, vec![failed("b")]));
}

pub fn bad_items_do_not_sink_a_batch(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-badbatch");
    let mut facts = sample_facts(4, 6);
    facts[1].user = String::new();
    facts[2].quantities.push(Quantity {
        name: "input_tokens".into(),
        value: 1,
    });
    let r = api.record_batch(&city, facts);
    assert!(r[0].is_ok() && r[3].is_ok());
    assert!(
        matches!(&r[1], Err(UsageError::Invalid { field, .. }) if field == "user"),
        "{:?}",
        r[1]
    );
    assert!(
        matches!(&r[2], Err(UsageError::Invalid { field, .. }) if field == "quantities"),
        "{:?}",
        r[2]
    );
    let s = api
        .summary(&city, SummaryQuery::default())
        .expect("summary");
    assert_eq!(s.totals.calls, 2);
}

pub fn cities_are_isolated(api: &mut dyn Api, prefix: &str) {
    let a = format!("{prefix}-a");
    let ab = format!("{prefix}-a:b");
    expect_all_recorded(&api.record_batch(&a, sample_facts(3, 7)));
    expect_all_recorded(&api.record_batch(&ab, sample_facts(5, 8)));
    // The same ids in another city are new facts there.
    expect_all_recorded(&api.record_batch(&ab, sample_facts(3, 7)));
    assert_eq!(
        api.summary(&a, SummaryQuery::default())
            .expect("a")
            .totals
            .calls,
        3
    );
    assert_eq!(
        api.summary(&ab, SummaryQuery::default())
            .expect("ab")
            .totals
            .calls,
        8
    );
    let events = all_events(api, &ab, EventsQuery::default());
    assert!(events.iter().all(|e| e.city == ab));
    let fresh = format!("{prefix}-empty");
    assert_eq!(
        api.summary(&fresh, SummaryQuery::default())
            .expect("empty")
            .totals,
        Figures::default()
    );
}

pub fn paging_returns_each_event_once(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-paging");
    let facts = sample_facts(230, 9);
    let positions = expect_all_recorded(&api.record_batch(&city, facts.clone()));
    for (user, limit) in [(None, 7), (Some("user-1"), 3), (Some("user-5"), 1000)] {
        let q = EventsQuery {
            user: user.map(str::to_owned),
            limit: Some(limit),
            ..Default::default()
        };
        let got: Vec<u64> = all_events(api, &city, q)
            .iter()
            .map(|e| e.position)
            .collect();
        let want: Vec<u64> = facts
            .iter()
            .zip(&positions)
            .filter(|(f, _)| user.is_none_or(|u| f.user == u))
            .map(|(_, p)| *p)
            .rev()
            .collect();
        assert_eq!(got, want, "newest first for {user:?}");
    }
    // Filters on other dimensions, both orders.
    let q = EventsQuery {
        service: Some("a/b".into()),
        outcome: Some(OutcomeFilter::Success),
        limit: Some(5),
        order: Order::OldestFirst,
        ..Default::default()
    };
    let got: Vec<u64> = all_events(api, &city, q)
        .iter()
        .map(|e| e.position)
        .collect();
    let want: Vec<u64> = facts
        .iter()
        .zip(&positions)
        .filter(|(f, _)| f.service == "a/b" && f.outcome.is_success())
        .map(|(_, p)| *p)
        .collect();
    assert_eq!(got, want);
    let q = EventsQuery {
        outcome: Some(OutcomeFilter::FailureKind("timeout".into())),
        limit: Some(4),
        ..Default::default()
    };
    let got = all_events(api, &city, q);
    let want = facts
        .iter()
        .filter(|f| matches!(&f.outcome, Outcome::Failure { kind, .. } if kind == "timeout"))
        .count();
    assert_eq!(got.len(), want);
    // Following: an oldest-first cursor at the end picks up new facts.
    let mut q = EventsQuery {
        order: Order::OldestFirst,
        limit: Some(1000),
        ..Default::default()
    };
    let page = api.events(&city, q.clone()).expect("page");
    assert_eq!(page.events.len(), facts.len());
    q.cursor = page.next_cursor;
    assert!(
        api.events(&city, q.clone())
            .expect("empty")
            .events
            .is_empty()
    );
    let more = expect_all_recorded(&api.record_batch(&city, sample_facts(2, 10)));
    let got: Vec<u64> = api
        .events(&city, q)
        .expect("follow")
        .events
        .iter()
        .map(|e| e.position)
        .collect();
    assert_eq!(got, more);
}

pub fn me_shows_only_that_user(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-me");
    let facts = sample_facts(120, 11);
    expect_all_recorded(&api.record_batch(&city, facts.clone()));
    let report = api
        .me(
            &city,
            "user-2",
            MeQuery {
                group_by: vec![Dimension::Model, Dimension::User],
                bucket: Bucket::Day,
                recent: Some(1000),
                ..Default::default()
            },
        )
        .expect("me");
    assert!(report.recent.iter().all(|e| e.user == "user-2"));
    let mine = facts.iter().filter(|f| f.user == "user-2").count() as u64;
    assert_eq!(report.recent.len() as u64, mine);
    assert_eq!(report.summary.totals.calls, mine);
    assert_eq!(report.summary.totals.distinct_users, 1);
    assert!(
        report
            .summary
            .rows
            .iter()
            .all(|r| r.user.is_none() || r.user.as_deref() == Some("user-2"))
    );
    let nobody = api.me(&city, "nobody", MeQuery::default()).expect("me");
    assert_eq!(nobody.summary.totals, Figures::default());
    assert!(nobody.recent.is_empty());
}

pub fn windows_and_buckets(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-windows");
    let facts = sample_facts(200, 12);
    expect_all_recorded(&api.record_batch(&city, facts));
    let events = all_events(api, &city, EventsQuery::default());
    use Dimension::*;
    for (from, to) in [
        (Some(T0 + 5 * HOUR), Some(T0 + 53 * HOUR)),
        (None, Some(T0 + 24 * HOUR)),
        (Some(T0 + 30 * HOUR), None),
        (Some(T0 - 50 * 24 * HOUR), Some(T0 + 90 * 24 * HOUR)),
    ] {
        for bucket in [Bucket::None, Bucket::Hour, Bucket::Day, Bucket::Month] {
            for group_by in [vec![], vec![Model, Outcome], vec![User, Service]] {
                check_summary(
                    api,
                    &city,
                    &events,
                    SummaryQuery {
                        from,
                        to,
                        group_by,
                        bucket,
                    },
                );
            }
        }
        let q = EventsQuery {
            from,
            to,
            limit: Some(9),
            ..Default::default()
        };
        let got = all_events(api, &city, q).len();
        let want = events
            .iter()
            .filter(|e| {
                from.is_none_or(|f| e.occurred_at >= f) && to.is_none_or(|t| e.occurred_at < t)
            })
            .count();
        assert_eq!(got, want, "events in [{from:?}, {to:?})");
    }
}

pub fn bad_queries_name_the_field(api: &mut dyn Api, prefix: &str) {
    let city = format!("{prefix}-badq");
    expect_all_recorded(&api.record_batch(&city, sample_facts(3, 13)));
    let field = |r: UsageError| match r {
        UsageError::Invalid { field, .. } => field,
        other => panic!("expected invalid, got {other:?}"),
    };
    let err = api
        .summary(
            &city,
            SummaryQuery {
                from: Some(T0 + 1),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(field(err), "from");
    let err = api
        .summary(
            &city,
            SummaryQuery {
                from: Some(T0 + HOUR),
                to: Some(T0),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(field(err), "from");
    let err = api.summary(
        &city,
        SummaryQuery {
            from: Some(0),
            to: Some(200_000 * 24 * HOUR),
            bucket: Bucket::Hour,
            ..Default::default()
        },
    );
    // The window is clipped to the stored span, so a huge hourly window is fine.
    assert!(err.is_ok());
    let err = api
        .events(
            &city,
            EventsQuery {
                limit: Some(1001),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(field(err), "limit");
    let err = api
        .events(
            &city,
            EventsQuery {
                cursor: Some("nope".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(field(err), "cursor");
    let page = api
        .events(
            &city,
            EventsQuery {
                limit: Some(1),
                ..Default::default()
            },
        )
        .expect("page");
    let err = api
        .events(
            &city,
            EventsQuery {
                user: Some("user-1".into()),
                cursor: page.next_cursor,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(field(err), "cursor");
    let err = api.me(&city, "", MeQuery::default()).unwrap_err();
    assert_eq!(field(err), "user");
}

/// The scenarios' host for native runs: one in-memory map per city.
#[derive(Default)]
pub struct NativeApi {
    pub cities: HashMap<String, crate::kv::MemoryKv>,
    pub now: Timestamp,
}

impl NativeApi {
    pub fn new() -> Self {
        NativeApi {
            cities: HashMap::new(),
            now: T0 + 100 * 24 * HOUR,
        }
    }

    fn with<T>(&mut self, city: &str, f: impl FnOnce(&crate::Ctx<crate::kv::MemoryKv>) -> T) -> T {
        self.now += 1;
        let now = self.now;
        let kv = self.cities.entry(city.to_owned()).or_default();
        f(&crate::Ctx { kv, city, now })
    }
}

impl Api for NativeApi {
    fn record_batch(&mut self, city: &str, facts: Vec<Fact>) -> Vec<UsageResult<Receipt>> {
        self.with(city, |cx| crate::ingest::record_batch(cx, facts))
    }
    fn events(&mut self, city: &str, q: EventsQuery) -> UsageResult<EventPage> {
        self.with(city, |cx| crate::events::events(cx, &q))
    }
    fn summary(&mut self, city: &str, q: SummaryQuery) -> UsageResult<Summary> {
        self.with(city, |cx| crate::summary::summary(cx, &q))
    }
    fn me(&mut self, city: &str, user: &str, q: MeQuery) -> UsageResult<UsageReport> {
        self.with(city, |cx| crate::summary::me(cx, user, &q))
    }
    fn get_settings(&mut self, city: &str) -> UsageResult<Settings> {
        self.with(city, crate::settings::get)
    }
    fn set_settings(&mut self, city: &str, s: Settings) -> UsageResult<Settings> {
        self.with(city, |cx| crate::settings::set(cx, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_passes_natively() {
        for (name, scenario) in ALL {
            let mut api = NativeApi::new();
            println!("scenario {name}");
            scenario(&mut api, "native");
        }
    }

    fn fact_of(user: &str, i: usize) -> Fact {
        Fact {
            id: Some(format!("f-{i}")),
            user: user.to_owned(),
            service: "chat".into(),
            model: Some("m1".into()),
            outcome: Outcome::Success,
            occurred_at: Some(T0),
            duration_ms: None,
            quantities: vec![],
        }
    }

    #[test]
    fn many_users_are_estimated_within_the_sketch_error_and_exact_per_user() {
        let mut api = NativeApi::new();
        let users = 3_000;
        for chunk in (0..2 * users).collect::<Vec<_>>().chunks(1000) {
            let facts = chunk
                .iter()
                .map(|i| fact_of(&format!("u{}", i % users), *i));
            expect_all_recorded(&api.record_batch("big", facts.collect()));
        }
        let q = SummaryQuery {
            group_by: vec![Dimension::Model],
            ..Default::default()
        };
        let summary = api.summary("big", q).unwrap();
        let estimate = summary.rows[0].figures.distinct_users as f64;
        // Four standard errors of the 2048-register sketch (2.3%).
        assert!(
            (estimate - users as f64).abs() / (users as f64) < 0.092,
            "{estimate}"
        );
        assert_eq!(summary.totals.calls, 2 * users as u64);
        let by_user = SummaryQuery {
            group_by: vec![Dimension::User],
            ..Default::default()
        };
        let summary = api.summary("big", by_user).unwrap();
        assert_eq!(summary.rows.len(), users);
        assert_eq!(summary.totals.distinct_users, users as u64);
    }

    #[test]
    fn a_city_written_with_the_older_layout_is_refused_not_misread() {
        use crate::kv::Kv;
        let mut api = NativeApi::new();
        expect_all_recorded(&api.record_batch("new", vec![fact_of("ana", 1)]));
        let marker = api.cities["new"].get(crate::layout::LAYOUT).unwrap();
        assert_eq!(
            marker.as_deref(),
            Some(crate::layout::LAYOUT_VERSION.as_bytes())
        );

        // Layout 1 kept `seq` but no marker.
        let old = api.cities.entry("old".into()).or_default();
        old.set_many(vec![(crate::layout::SEQ.into(), b"5".to_vec())])
            .unwrap();
        let before = api.cities["old"].snapshot();
        let results = api.record_batch("old", vec![fact_of("ana", 2)]);
        let Err(UsageError::Storage(message)) = &results[0] else {
            panic!("recorded into an old layout: {results:?}");
        };
        assert!(message.contains("layout 1"), "{message}");
        assert_eq!(api.cities["old"].snapshot(), before, "nothing written");
        let err = api.summary("old", SummaryQuery::default()).unwrap_err();
        assert!(matches!(err, UsageError::Storage(m) if m.contains("import its facts again")));
        assert!(api.me("old", "ana", MeQuery::default()).is_err());
    }

    #[test]
    fn figures_of_many_tuples_spread_over_shards_add_up() {
        let mut api = NativeApi::new();
        // More tuple numbers than one shard holds, in batches and one by one.
        let facts: Vec<Fact> = (0..600)
            .map(|i| Fact {
                model: Some(format!(
                    "model-{}",
                    i % (3 * crate::layout::SHARD_TUPLES as usize)
                )),
                quantities: vec![Quantity {
                    name: format!("q{}", i % 7),
                    value: i as u64,
                }],
                occurred_at: Some(T0 + (i as u64 % 50) * HOUR),
                ..fact_of(&format!("u{}", i % 40), i)
            })
            .collect();
        let (batched, single) = facts.split_at(500);
        for chunk in batched.chunks(100) {
            expect_all_recorded(&api.record_batch("wide", chunk.to_vec()));
        }
        for fact in single {
            expect_all_recorded(&api.record_batch("wide", vec![fact.clone()]));
        }
        let events = all_events(&mut api, "wide", EventsQuery::default());
        assert_eq!(events.len(), 600);
        for group_by in [
            vec![Dimension::Model],
            vec![],
            vec![Dimension::User, Dimension::Model],
        ] {
            for bucket in [Bucket::None, Bucket::Day] {
                let q = SummaryQuery {
                    from: Some(T0),
                    to: Some(T0 + 60 * HOUR),
                    group_by: group_by.clone(),
                    bucket,
                };
                check_summary(&mut api, "wide", &events, q);
            }
        }
    }
}
