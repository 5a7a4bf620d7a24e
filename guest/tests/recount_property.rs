//! Property: any sequence of batches, retries, conflicting replays and setting
//! changes leaves `summary` equal to a brute-force recount of what a simple
//! model says was stored, over any window, grouping and bucket.

use std::collections::HashMap;

use proptest::prelude::*;
use usage_guest::model::*;
use usage_guest::reference;
use usage_guest::scenarios::{Api, HOUR, NativeApi, T0};

#[derive(Debug, Clone)]
enum Op {
    Batch(Vec<Fact>),
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
        6 => prop::collection::vec(fact(), 1..12).prop_map(Op::Batch),
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
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn summaries_equal_a_recount(
        ops in prop::collection::vec(op(), 1..14),
        windows in prop::collection::vec((0u64..80, 1u64..80, 0usize..4, 0u8..16), 4),
    ) {
        let mut api = NativeApi::new();
        let mut stored: HashMap<String, Fact> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut sent: Vec<Fact> = Vec::new();
        let mut record_errors = true;
        for op in ops {
            let batch = match op {
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
            let results = api.record_batch("c", batch.clone());
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
            for (from, to) in [(None, None), (Some(T0 + from * HOUR), Some(T0 + (from + len) * HOUR))] {
                let q = SummaryQuery { from, to, group_by: group_by.clone(), bucket };
                let got = api.summary("c", q.clone()).unwrap();
                let (rows, totals) = reference::summarize(&events, from, to, &group_by, bucket);
                prop_assert_eq!(&got.totals, &totals, "totals of {:?}", q);
                prop_assert_eq!(got.rows.len(), rows.len(), "rows of {:?}", q);
                for r in got.rows {
                    let key = (r.bucket_start, r.service, r.model, r.user, r.outcome);
                    prop_assert_eq!(Some(&r.figures), rows.get(&key), "row {:?} of {:?}", key, q);
                }
            }
        }
    }
}
