//! Property: any sequence of single records, batches, resent batches (a client
//! that timed out), replays with and without changes, and setting changes
//! leaves `summary`, `me` and `events` equal to a brute-force recount of what a
//! simple model says was stored, over any window (open on either side or
//! both), grouping and bucket.

use std::collections::HashMap;

use proptest::prelude::*;
use usage_guest::model::*;
use usage_guest::reference;
use usage_guest::scenarios::{Api, HOUR, NativeApi, T0, all_events};

#[derive(Debug, Clone)]
enum Op {
    /// One `record` call.
    Record(Fact),
    Batch(Vec<Fact>),
    /// The previous batch again, unchanged, as a client resends after a timeout.
    Resend,
    /// Replays earlier facts by index (mod their count), possibly changed.
    Replay(Vec<(usize, bool)>),
    RecordErrors(bool),
}

fn fact() -> impl Strategy<Value = Fact> {
    (
        0u32..1_000_000,
        0usize..4,
        0usize..3,
        prop::option::of(0usize..3),
        prop::option::of("[a-c]"),
        0u64..(70 * HOUR),
        prop::collection::vec((0usize..3, 0u64..1000), 0..3),
    )
        .prop_map(|(id, user, service, model, failure, at, qs)| {
            let mut quantities: Vec<Quantity> = Vec::new();
            for (name, value) in qs {
                let name = ["tokens", "images", "steps"][name].to_owned();
                if !quantities.iter().any(|q| q.name == name) {
                    quantities.push(Quantity { name, value });
                }
            }
            quantities.sort_by(|a, b| a.name.cmp(&b.name));
            Fact {
                id: Some(format!("id-{id}")),
                user: format!("u{user}"),
                service: ["chat", "img", "x/y"][service].to_owned(),
                model: model.map(|m| format!("m{m}")),
                outcome: match failure {
                    None => Outcome::Success,
                    Some(kind) => Outcome::Failure {
                        kind,
                        message: None,
                    },
                },
                occurred_at: Some(T0 + at),
                duration_ms: Some(at % 997),
                quantities,
            }
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => fact().prop_map(Op::Record),
        6 => prop::collection::vec(fact(), 1..12).prop_map(Op::Batch),
        2 => Just(Op::Resend),
        2 => prop::collection::vec((0usize..1000, any::<bool>()), 1..6).prop_map(Op::Replay),
        1 => any::<bool>().prop_map(Op::RecordErrors),
    ]
}

/// What the model expects of one fact, updating the model.
fn expect(
    stored: &mut HashMap<String, Fact>,
    record_errors: bool,
    f: &Fact,
) -> Result<ReceiptStatus, ()> {
    let id = f.id.clone().unwrap_or_default();
    match stored.get(&id) {
        Some(prev) if prev == f => Ok(ReceiptStatus::Duplicate),
        Some(_) => Err(()),
        None if !record_errors && !f.outcome.is_success() => Ok(ReceiptStatus::NotRecorded),
        None => {
            stored.insert(id, f.clone());
            Ok(ReceiptStatus::Recorded)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn summaries_equal_a_recount(
        ops in prop::collection::vec(op(), 1..14),
        windows in prop::collection::vec(
            (prop::option::of(0u64..80), prop::option::of(1u64..80), 0usize..4, 0u8..16),
            5,
        ),
    ) {
        let mut api = NativeApi::new();
        let mut stored: HashMap<String, Fact> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut sent: Vec<Fact> = Vec::new();
        let mut record_errors = true;
        let mut last_batch: Vec<Fact> = Vec::new();
        for op in ops {
            let single = matches!(op, Op::Record(_));
            let batch = match op {
                Op::Record(f) => vec![f],
                Op::Resend => last_batch.clone(),
                Op::RecordErrors(on) => {
                    api.set_settings("c", Settings { record_errors: on }).unwrap();
                    record_errors = on;
                    continue;
                }
                Op::Batch(facts) => facts,
                Op::Replay(picks) if sent.is_empty() => { let _ = picks; continue; }
                Op::Replay(picks) => picks
                    .into_iter()
                    .map(|(i, change)| {
                        let mut f = sent[i % sent.len()].clone();
                        if change {
                            f.duration_ms = Some(f.duration_ms.unwrap_or(0) + 1);
                        }
                        f
                    })
                    .collect(),
            };
            let results = if single {
                let kv = api.cities.entry("c".to_owned()).or_default();
                api.now += 1;
                let cx = usage_guest::Ctx { kv: &*kv, city: "c", now: api.now };
                vec![usage_guest::ingest::record(&cx, batch[0].clone())]
            } else {
                api.record_batch("c", batch.clone())
            };
            prop_assert_eq!(results.len(), batch.len());
            for (f, got) in batch.iter().zip(results) {
                let before = stored.len();
                let want = expect(&mut stored, record_errors, f);
                if stored.len() > before {
                    order.push(f.id.clone().unwrap_or_default());
                }
                match (want, got) {
                    (Ok(status), Ok(receipt)) => prop_assert_eq!(status, receipt.status),
                    (Err(()), Err(UsageError::Conflict(_))) => {}
                    (want, got) => prop_assert!(false, "fact {:?}: expected {:?}, got {:?}", f, want, got),
                }
            }
            if !single {
                last_batch = batch.clone();
            }
            sent.extend(batch);
        }
        let events: Vec<Event> = order
            .iter()
            .enumerate()
            .map(|(i, id)| {
                let f = &stored[id];
                Event {
                    position: i as u64 + 1,
                    city: "c".into(),
                    recorded_at: 0,
                    id: f.id.clone(),
                    user: f.user.clone(),
                    service: f.service.clone(),
                    model: f.model.clone(),
                    outcome: f.outcome.clone(),
                    occurred_at: f.occurred_at.unwrap_or(0),
                    duration_ms: f.duration_ms,
                    quantities: f.quantities.clone(),
                }
            })
            .collect();
        for (from, len, bucket, dims) in windows {
            let bucket = [Bucket::None, Bucket::Hour, Bucket::Day, Bucket::Month][bucket];
            let group_by: Vec<Dimension> = [Dimension::Service, Dimension::Model, Dimension::User, Dimension::Outcome]
                .into_iter()
                .enumerate()
                .filter(|(i, _)| dims & (1 << i) != 0)
                .map(|(_, d)| d)
                .collect();
            let from = from.map(|h| T0 + h * HOUR);
            let to = len.map(|l| from.unwrap_or(T0) + l * HOUR);
            for (from, to) in [(None, None), (from, to)] {
                let q = SummaryQuery { from, to, group_by: group_by.clone(), bucket };
                let got = api.summary("c", q.clone()).unwrap();
                let (rows, totals) = reference::summarize(&events, from, to, &group_by, bucket);
                prop_assert_eq!(&got.totals, &totals, "totals of {:?}", q);
                prop_assert_eq!(got.rows.len(), rows.len(), "rows of {:?}", q);
                for r in got.rows {
                    let key = (r.bucket_start, r.service, r.model, r.user, r.outcome);
                    prop_assert_eq!(Some(&r.figures), rows.get(&key), "row {:?} of {:?}", key, q);
                }
                // Each user's own view of the window equals the recount of their events.
                for user in ["u0", "u1", "u2", "u3"] {
                    let mine: Vec<Event> = events.iter().filter(|e| e.user == user).cloned().collect();
                    let me = api
                        .me("c", user, MeQuery { from, to, group_by: group_by.clone(), bucket, recent: Some(1) })
                        .unwrap();
                    let (_, totals) = reference::summarize(&mine, from, to, &[], Bucket::None);
                    prop_assert_eq!(&me.summary.totals, &totals, "me of {} in {:?}", user, q);
                }
                // The raw events of the window are exactly the stored ones inside it.
                let listed: Vec<u64> = all_events(
                    &mut api,
                    "c",
                    EventsQuery { from, to, order: Order::OldestFirst, limit: Some(7), ..Default::default() },
                )
                .iter()
                .map(|e| e.position)
                .collect();
                let inside: Vec<u64> = events
                    .iter()
                    .filter(|e| from.is_none_or(|f| e.occurred_at >= f) && to.is_none_or(|t| e.occurred_at < t))
                    .map(|e| e.position)
                    .collect();
                prop_assert_eq!(listed, inside, "events of {:?}..{:?}", from, to);
            }
        }
    }
}
