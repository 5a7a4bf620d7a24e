//! Sandbox containment through the real runtime: a call that needs more than
//! its memory cap, and one that runs past its deadline, are stopped and
//! answered with an error naming the limit; they store nothing, and the same
//! city and other cities keep working (also while the runaway call runs).

use std::sync::Arc;
use std::time::Duration;

use usage_guest::scenarios::sample_facts;
use usage_host::bindings::{self as b, ReceiptStatus};
use usage_host::runtime::{Limits, Runtime};
use usage_host::store::testing::{Effect, FaultyBackend, Op};
use usage_host::store::{Backend, MemoryBackend};

use crate::audit::{assert_unchanged, audit, dump};
use crate::convert;
use crate::host_api::HostApi;

fn facts(n: usize, seed: u64) -> Vec<b::Fact> {
    sample_facts(n, seed)
        .into_iter()
        .map(convert::fact)
        .collect()
}

/// Records a few facts in `city` and checks they were all recorded.
#[track_caller]
fn still_works(runtime: &Runtime, city: &str, seed: u64) {
    let answers = runtime
        .city(city)
        .expect("city")
        .record_batch(facts(3, seed))
        .expect("the call runs");
    assert!(
        answers
            .iter()
            .all(|a| matches!(a, Ok(r) if r.status == ReceiptStatus::Recorded)),
        "{answers:?}"
    );
}

/// A batch whose arguments alone take far more than `bytes` of guest memory:
/// the longest names and the most quantities the contract allows.
fn bulky_batch(bytes: usize) -> Vec<b::Fact> {
    let name = |tag: &str, i: usize| format!("{tag}-{i:0>120}");
    let per_fact = 4 * 128 + 32 * 64;
    (0..(2 * bytes / per_fact).min(10_000))
        .map(|i| b::Fact {
            id: Some(name("id", i)),
            user: name("user", i),
            service: name("service", i),
            model: Some(name("model", i)),
            outcome: b::Outcome::Success,
            occurred_at: None,
            duration_ms: Some(1),
            quantities: (0..32)
                .map(|q| b::Quantity {
                    name: format!("q{q:0>62}"),
                    value: 1,
                })
                .collect(),
        })
        .collect()
}

#[test]
fn a_call_over_its_memory_cap_is_stopped_and_others_keep_working() {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let cap = 8 << 20;
    let runtime = Runtime::new(
        backend.clone(),
        Limits {
            memory_bytes: cap,
            ..Limits::default()
        },
    )
    .expect("runtime");
    still_works(&runtime, "greedy", 1);
    still_works(&runtime, "neighbour", 2);
    let before = dump(backend.as_ref());

    let batch = bulky_batch(cap);
    assert!(batch.len() > 4000, "the batch must need well over the cap");
    let err = runtime
        .city("greedy")
        .expect("city")
        .record_batch(batch)
        .expect_err("over the memory cap");
    let message = format!("{err:#}");
    assert!(message.contains("memory"), "names the limit: {message}");
    assert_unchanged(&before, &dump(backend.as_ref()), "the stopped call");

    still_works(&runtime, "greedy", 3);
    still_works(&runtime, "neighbour", 4);
    let mut api = HostApi { runtime };
    assert_eq!(audit(&mut api, "greedy").len(), 6);
    assert_eq!(audit(&mut api, "neighbour").len(), 6);
}

#[test]
fn a_call_past_its_deadline_is_stopped_and_others_keep_working_meanwhile() {
    let faulty = Arc::new(FaultyBackend::new(Arc::new(MemoryBackend::new())));
    let backend: Arc<dyn Backend> = faulty.clone();
    let deadline = Duration::from_millis(100);
    let runtime = Runtime::new(
        backend,
        Limits {
            deadline,
            ..Limits::default()
        },
    )
    .expect("runtime");
    still_works(&runtime, "slow", 1);
    still_works(&runtime, "neighbour", 2);
    let before = dump(faulty.inner().as_ref());

    // The next read stalls far past the deadline (the guest is interrupted as
    // soon as it runs again), as a runaway loop would.
    let faults = faulty.faults();
    faults.on_nth(Op::Read, 1, Effect::Delay(20 * deadline));
    let stuck = {
        let runtime = runtime.clone();
        std::thread::spawn(move || {
            runtime
                .city("slow")
                .expect("city")
                .record_batch(facts(3, 5))
                .map(|_| ())
        })
    };
    while faults.fired() == 0 {
        std::thread::yield_now();
    }
    // While the slow call is stuck: another city, and reads of the same city, work.
    assert!(!stuck.is_finished());
    still_works(&runtime, "neighbour", 3);
    let page = runtime
        .city("slow")
        .expect("city")
        .events(b::EventsQuery {
            user: None,
            service: None,
            model: None,
            outcome: None,
            from: None,
            to: None,
            order: b::Order::OldestFirst,
            limit: None,
            cursor: None,
        })
        .expect("runs")
        .expect("answers");
    assert_eq!(page.events.len(), 3);

    let err = stuck
        .join()
        .expect("thread")
        .expect_err("past the deadline");
    let message = format!("{err:#}");
    assert!(message.contains("deadline"), "names the limit: {message}");
    let mut after = dump(faulty.inner().as_ref());
    // Only the neighbour's three facts were added meanwhile.
    after.retain(|(city, _), _| city == "slow");
    let mut slow_before = before;
    slow_before.retain(|(city, _), _| city == "slow");
    assert_unchanged(&slow_before, &after, "the stopped call");

    still_works(&runtime, "slow", 6);
    let mut api = HostApi { runtime };
    assert_eq!(audit(&mut api, "slow").len(), 6);
    assert_eq!(audit(&mut api, "neighbour").len(), 6);
}
