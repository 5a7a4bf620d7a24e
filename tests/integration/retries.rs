//! Retries and duplicates through the real component on the embedded store:
//! concurrent sends of one id (within one city, across cities, from two
//! runtimes sharing the store as two hosts would), a client that times out and
//! resends while its first call is still running, and a changed payload under a
//! used id. Zero double counts, checked by auditing every city.

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use tempfile::TempDir;
use usage_guest::scenarios::sample_facts;
use usage_host::bindings::{self as b, ReceiptStatus, UsageError};
use usage_host::runtime::{Limits, Runtime};
use usage_host::store::testing::{Effect, FaultyBackend, Op};
use usage_host::store::{Backend, RedbBackend};

use crate::audit::{assert_unchanged, audit, dump, id_counts};
use crate::convert;
use crate::host_api::HostApi;

/// A redb store in a temp dir.
fn redb() -> (Arc<dyn Backend>, TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = RedbBackend::open(&dir.path().join("usage.redb")).expect("open redb");
    (Arc::new(backend), dir)
}

/// Two runtimes over one backend: their writers are not serialized with each
/// other, so their commits really race and conflict, as two hosts' would.
fn two_hosts(backend: &Arc<dyn Backend>) -> [Runtime; 2] {
    let open = || Runtime::new(backend.clone(), Limits::default()).expect("runtime");
    [open(), open()]
}

fn facts(n: usize, seed: u64) -> Vec<b::Fact> {
    sample_facts(n, seed)
        .into_iter()
        .map(convert::fact)
        .collect()
}

/// What one client saw for one fact: the receipt, or the guest's error.
type Seen = (String, Result<b::Receipt, UsageError>);

/// Sends `fact` until the host answers (a commit that gave up after conflicting
/// with other writers is an error a client retries), and returns the answer and
/// how many resends it took.
fn send(runtime: &Runtime, city: &str, fact: &b::Fact) -> (Result<b::Receipt, UsageError>, u32) {
    for resends in 0..50 {
        match runtime.city(city).expect("city").record(fact.clone()) {
            Ok(answer) => return (answer, resends),
            Err(e) => assert!(format!("{e:#}").contains("gave up"), "{e:#}"),
        }
    }
    panic!("no answer after 50 sends");
}

fn send_batch(
    runtime: &Runtime,
    city: &str,
    facts: &[b::Fact],
) -> Vec<Result<b::Receipt, UsageError>> {
    for _ in 0..50 {
        match runtime
            .city(city)
            .expect("city")
            .record_batch(facts.to_vec())
        {
            Ok(answers) => return answers,
            Err(e) => assert!(format!("{e:#}").contains("gave up"), "{e:#}"),
        }
    }
    panic!("no answer after 50 sends");
}

/// Per id: exactly one `recorded`, every other answer a duplicate of that position.
fn assert_recorded_once(seen: &[Seen]) {
    let mut by_id: BTreeMap<&str, Vec<&Result<b::Receipt, UsageError>>> = BTreeMap::new();
    for (id, answer) in seen {
        by_id.entry(id).or_default().push(answer);
    }
    for (id, answers) in by_id {
        let receipts: Vec<&b::Receipt> = answers
            .iter()
            .map(|a| a.as_ref().unwrap_or_else(|e| panic!("{id}: {e:?}")))
            .collect();
        let recorded: Vec<_> = receipts
            .iter()
            .filter(|r| r.status == ReceiptStatus::Recorded)
            .collect();
        assert_eq!(recorded.len(), 1, "{id}: {receipts:?}");
        assert!(
            receipts.iter().all(|r| r.position == recorded[0].position),
            "{id}: positions differ {receipts:?}"
        );
    }
}

#[test]
fn concurrent_duplicates_within_a_city_and_across_cities_count_once() {
    let (backend, _dir) = redb();
    let hosts = two_hosts(&backend);
    let shared = facts(30, 1);
    let cities = ["dup-a", "dup-b"];
    let clients = 6;
    let start = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let runtime = hosts[client % 2].clone();
            let start = start.clone();
            let mut mine = shared.clone();
            mine.rotate_left(client * 5);
            std::thread::spawn(move || {
                start.wait();
                let mut seen: Vec<(String, Seen)> = Vec::new();
                let mut resends = 0;
                for (i, fact) in mine.iter().enumerate() {
                    let city = cities[(i + client) % 2];
                    let id = fact.id.clone().expect("id");
                    if client % 3 == 0 {
                        // This client sends in small batches, the others one by one.
                        if i % 3 == 0 {
                            let chunk = &mine[i..(i + 3).min(mine.len())];
                            for (f, answer) in chunk.iter().zip(send_batch(&runtime, city, chunk)) {
                                seen.push((city.to_owned(), (f.id.clone().expect("id"), answer)));
                            }
                        }
                        continue;
                    }
                    let (answer, n) = send(&runtime, city, fact);
                    resends += n;
                    seen.push((city.to_owned(), (id, answer)));
                }
                (seen, resends)
            })
        })
        .collect();
    let mut by_city: BTreeMap<String, Vec<Seen>> = BTreeMap::new();
    let mut resends = 0;
    for thread in threads {
        let (seen, n) = thread.join().expect("client");
        resends += n;
        for (city, s) in seen {
            by_city.entry(city).or_default().push(s);
        }
    }
    eprintln!("concurrent duplicates: {resends} resends after conflicts");
    let mut api = HostApi {
        runtime: hosts[0].clone(),
    };
    for city in cities {
        let seen = &by_city[city];
        assert_recorded_once(seen);
        let events = audit(&mut api, city);
        let sent: BTreeMap<&str, ()> = seen.iter().map(|(id, _)| (id.as_str(), ())).collect();
        let counts = id_counts(&events);
        assert_eq!(counts.len(), sent.len(), "{city}: ids stored vs sent");
        assert!(counts.values().all(|n| *n == 1), "{city}: {counts:?}");
        assert!(counts.keys().all(|id| sent.contains_key(id.as_str())));
    }
}

#[test]
fn a_client_that_times_out_and_resends_counts_once() {
    let (inner, _dir) = redb();
    let faulty = Arc::new(FaultyBackend::new(inner));
    let backend: Arc<dyn Backend> = faulty.clone();
    let [first_host, second_host] = two_hosts(&backend);
    let fact = facts(1, 3).remove(0);
    // The first attempt's commit hangs for a while; the client stops waiting
    // and resends through another host.
    faulty
        .faults()
        .on_nth(Op::Commit, 1, Effect::Delay(Duration::from_millis(600)));
    let (tx, rx) = mpsc::channel();
    let slow = {
        let fact = fact.clone();
        std::thread::spawn(move || {
            let answer = send(&first_host, "late", &fact).0;
            let _ = tx.send(());
            answer
        })
    };
    // Waiting for the first answer with a short timeout: it times out (or, on a
    // very slow machine, arrives; either way the resend must count nothing).
    let _ = rx.recv_timeout(Duration::from_millis(100));
    let resent = send(&second_host, "late", &fact).0;
    let first = slow.join().expect("slow client");
    let id = fact.id.clone().expect("id");
    assert_recorded_once(&[(id.clone(), first), (id.clone(), resent)]);
    let events = audit(
        &mut HostApi {
            runtime: second_host,
        },
        "late",
    );
    assert_eq!(id_counts(&events)[&id], 1);
    assert_eq!(events.len(), 1);
}

#[test]
fn a_changed_payload_under_a_used_id_is_a_conflict_and_changes_nothing() {
    let (backend, _dir) = redb();
    let runtime = Runtime::new(backend.clone(), Limits::default()).expect("runtime");
    let city = runtime.city("changed").expect("city");
    let original = facts(1, 9).remove(0);
    assert_eq!(
        city.record(original.clone())
            .expect("call")
            .expect("ok")
            .status,
        ReceiptStatus::Recorded
    );
    let variants: Vec<(&str, b::Fact)> = vec![
        (
            "duration",
            b::Fact {
                duration_ms: Some(original.duration_ms.unwrap_or(0) + 1),
                ..original.clone()
            },
        ),
        (
            "user",
            b::Fact {
                user: "someone-else".to_owned(),
                ..original.clone()
            },
        ),
        (
            "quantity",
            b::Fact {
                quantities: vec![b::Quantity {
                    name: "input_tokens".to_owned(),
                    value: 1,
                }],
                ..original.clone()
            },
        ),
        (
            "outcome",
            b::Fact {
                outcome: b::Outcome::Failure(b::Failure {
                    kind: "timeout".to_owned(),
                    message: None,
                }),
                ..original.clone()
            },
        ),
    ];
    let before = dump(backend.as_ref());
    for (what, changed) in &variants {
        let answer = city.record(changed.clone()).expect("call");
        assert!(
            matches!(answer, Err(UsageError::Conflict(_))),
            "{what}: {answer:?}"
        );
        let batch = city.record_batch(vec![changed.clone()]).expect("call");
        assert!(
            matches!(batch[0], Err(UsageError::Conflict(_))),
            "{what}: {batch:?}"
        );
    }
    assert_unchanged(&before, &dump(backend.as_ref()), "conflicting resends");
    // Within one batch: the same id again is a duplicate, changed a conflict.
    let fresh = facts(1, 10).remove(0);
    let changed = b::Fact {
        duration_ms: Some(fresh.duration_ms.unwrap_or(0) + 1),
        ..fresh.clone()
    };
    let answers = city
        .record_batch(vec![fresh.clone(), fresh.clone(), changed])
        .expect("call");
    assert!(
        matches!(&answers[0], Ok(r) if r.status == ReceiptStatus::Recorded),
        "{answers:?}"
    );
    assert!(
        matches!(&answers[1], Ok(r) if r.status == ReceiptStatus::Duplicate),
        "{answers:?}"
    );
    assert!(
        matches!(answers[2], Err(UsageError::Conflict(_))),
        "{answers:?}"
    );
    let events = audit(
        &mut HostApi {
            runtime: runtime.clone(),
        },
        "changed",
    );
    assert_eq!(events.len(), 2);
    let stored = events
        .iter()
        .find(|e| e.id == original.id)
        .expect("original");
    assert_eq!(
        stored.duration_ms, original.duration_ms,
        "the original content stays"
    );
}

#[test]
fn concurrent_different_payloads_under_one_id_store_exactly_one() {
    let (backend, _dir) = redb();
    let hosts = two_hosts(&backend);
    let base = facts(1, 20).remove(0);
    let clients = 4;
    let start = Arc::new(Barrier::new(clients));
    let threads: Vec<_> = (0..clients)
        .map(|client| {
            let runtime = hosts[client % 2].clone();
            let start = start.clone();
            let fact = b::Fact {
                duration_ms: Some(1000 + client as u64),
                ..base.clone()
            };
            std::thread::spawn(move || {
                start.wait();
                (fact.duration_ms, send(&runtime, "race", &fact).0)
            })
        })
        .collect();
    let answers: Vec<_> = threads
        .into_iter()
        .map(|t| t.join().expect("client"))
        .collect();
    let winners: Vec<_> = answers
        .iter()
        .filter(|(_, a)| matches!(a, Ok(r) if r.status == ReceiptStatus::Recorded))
        .collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(d, _)| *d != winners[0].0)
            .all(|(_, a)| matches!(a, Err(UsageError::Conflict(_)))),
        "{answers:?}"
    );
    let events = audit(
        &mut HostApi {
            runtime: hosts[0].clone(),
        },
        "race",
    );
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].duration_ms, winners[0].0,
        "the winner's content is stored"
    );
}
