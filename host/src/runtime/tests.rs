//! The runtime with the real embedded component: isolation between cities,
//! commit policy, retries on conflict, failures that must write nothing.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::bindings::{Order, Outcome, ReceiptStatus};
use crate::store::{MemoryBackend, ReadSet, RedbBackend, Snapshot, WriteSet};

fn fact(user: &str, id: Option<&str>) -> Fact {
    Fact {
        id: id.map(str::to_owned),
        user: user.to_owned(),
        service: "chat".to_owned(),
        model: Some("m1".to_owned()),
        outcome: Outcome::Success,
        occurred_at: None,
        duration_ms: Some(10),
        quantities: Vec::new(),
    }
}

fn all_events() -> EventsQuery {
    EventsQuery {
        user: None,
        service: None,
        model: None,
        outcome: None,
        from: None,
        to: None,
        order: Order::OldestFirst,
        limit: Some(1000),
        cursor: None,
    }
}

/// Turns the guest's answer into a test failure when it is an error.
trait Answer<T> {
    fn answer(self) -> anyhow::Result<T>;
}

impl<T> Answer<T> for Result<T, UsageError> {
    fn answer(self) -> anyhow::Result<T> {
        self.map_err(|e| anyhow::anyhow!("the guest answered {e:?}"))
    }
}

fn memory_runtime() -> Runtime {
    Runtime::new(Arc::new(MemoryBackend::new()), Limits::default()).expect("runtime")
}

fn event_count(runtime: &Runtime, city: &str) -> anyhow::Result<usize> {
    let page = runtime.city(city)?.events(all_events())?;
    Ok(page.answer()?.events.len())
}

#[test]
fn city_names() {
    for ok in ["a", "Berlin", "eu-west:1", "x.y_z", &"a".repeat(64)] {
        assert_eq!(validate_city_name(ok), Ok(()), "{ok}");
    }
    for bad in ["", " ", "a b", "a/b", "ü", "a\0", &"a".repeat(65)] {
        assert!(validate_city_name(bad).is_err(), "{bad:?}");
    }
    assert!(memory_runtime().city("no spaces").is_err());
}

#[test]
fn the_component_imports_only_wasi() -> anyhow::Result<()> {
    let imports = component_imports()?;
    let foreign: Vec<&String> = imports.iter().filter(|i| !i.starts_with("wasi:")).collect();
    assert!(foreign.is_empty(), "non-WASI imports: {foreign:?}");
    for kv in ["store", "atomics", "batch"] {
        let name = format!("wasi:keyvalue/{kv}@0.2.0-draft");
        assert!(imports.contains(&name), "{name} missing from {imports:?}");
    }
    Ok(())
}

#[test]
fn records_and_reads_back_in_its_own_city() -> anyhow::Result<()> {
    let runtime = memory_runtime();
    let city = runtime.city("a")?;
    let receipt = city.record(fact("u1", Some("id-1")))?.answer()?;
    assert_eq!(receipt.status, ReceiptStatus::Recorded);
    let again = city.record(fact("u1", Some("id-1")))?.answer()?;
    assert_eq!(again.status, ReceiptStatus::Duplicate);
    assert_eq!(again.position, receipt.position);

    let page = city.events(all_events())?.answer()?;
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].city, "a");
    assert_eq!(page.events[0].user, "u1");
    Ok(())
}

#[test]
fn cities_are_isolated() -> anyhow::Result<()> {
    let runtime = memory_runtime();
    runtime.city("a")?.record(fact("u", None))?.answer()?;
    runtime.city("a:b")?.record(fact("u", None))?.answer()?;
    runtime.city("a:b")?.record(fact("u", None))?.answer()?;
    assert_eq!(event_count(&runtime, "a")?, 1);
    assert_eq!(event_count(&runtime, "a:b")?, 2);
    assert_eq!(event_count(&runtime, "b")?, 0);
    assert_eq!(runtime.cities()?, ["a", "a:b"]);
    Ok(())
}

#[test]
fn settings_round_trip() -> anyhow::Result<()> {
    let runtime = memory_runtime();
    let city = runtime.city("c")?;
    let get = || city.settings()?.answer();
    assert!(get()?.record_errors);
    let set = city.set_settings(Settings {
        record_errors: false,
    })?;
    assert!(!set.answer()?.record_errors);
    assert!(!get()?.record_errors);
    assert!(runtime.city("other")?.settings()?.answer()?.record_errors);
    Ok(())
}

#[test]
fn rejected_input_writes_nothing() -> anyhow::Result<()> {
    let runtime = memory_runtime();
    let answer = runtime.city("c")?.record(fact("", None))?;
    assert!(
        matches!(answer, Err(UsageError::Invalid(ref i)) if i.field == "user"),
        "{answer:?}"
    );
    assert!(runtime.cities()?.is_empty());
    Ok(())
}

#[test]
fn batches_answer_per_item_and_commit_together() -> anyhow::Result<()> {
    let runtime = memory_runtime();
    let answers = runtime.city("c")?.record_batch(vec![
        fact("u1", None),
        fact("", None),
        fact("u3", None),
    ])?;
    assert_eq!(answers.len(), 3);
    assert!(answers[0].is_ok() && answers[2].is_ok(), "{answers:?}");
    assert!(matches!(answers[1], Err(UsageError::Invalid(_))));
    assert_eq!(event_count(&runtime, "c")?, 2);
    Ok(())
}

#[test]
fn many_threads_share_one_runtime() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let backend = Arc::new(RedbBackend::open(&dir.path().join("usage.redb"))?);
    let runtime = Runtime::new(backend, Limits::default())?;
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let runtime = runtime.clone();
            std::thread::spawn(move || -> anyhow::Result<()> {
                for i in 0..10 {
                    let city = runtime.city(if i % 2 == 0 { "even" } else { "odd" })?;
                    let receipt = city.record(fact(&format!("u{t}"), None))?;
                    receipt.answer()?;
                    city.events(all_events())?.answer()?;
                }
                Ok(())
            })
        })
        .collect();
    for thread in threads {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("thread panicked"))??;
    }
    for city in ["even", "odd"] {
        let page = runtime.city(city)?.events(all_events())?.answer()?;
        let positions: BTreeSet<u64> = page.events.iter().map(|e| e.position).collect();
        assert_eq!((page.events.len(), positions.len()), (20, 20), "{city}");
    }
    Ok(())
}

#[test]
fn a_failed_instance_does_not_poison_the_runtime() -> anyhow::Result<()> {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let tiny = Limits {
        memory_bytes: 64 * 1024,
        ..Limits::default()
    };
    let cramped = Runtime::new(backend.clone(), tiny)?;
    let err = cramped
        .city("c")?
        .record(fact("u", None))
        .expect_err("too small");
    assert!(format!("{err:#}").contains("memory"), "{err:#}");
    assert!(backend.cities()?.is_empty());
    let roomy = Runtime::new(backend, Limits::default())?;
    roomy.city("c")?.record(fact("u", None))?.answer()?;
    Ok(())
}

/// A backend that fails on purpose, wrapping the memory one.
struct Faulty {
    inner: MemoryBackend,
    conflicts_left: AtomicUsize,
    commits: AtomicUsize,
    fail_commit: bool,
    fail_reads: bool,
}

impl Faulty {
    fn new() -> Self {
        Self {
            inner: MemoryBackend::new(),
            conflicts_left: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            fail_commit: false,
            fail_reads: false,
        }
    }
}

struct FailingSnapshot;

impl Snapshot for FailingSnapshot {
    fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        Err(StoreError::Backend("disk on fire".into()))
    }
}

impl Backend for Faulty {
    fn snapshot(&self, city: &str) -> Result<Box<dyn Snapshot>, StoreError> {
        if self.fail_reads {
            return Ok(Box::new(FailingSnapshot));
        }
        self.inner.snapshot(city)
    }

    fn commit(&self, city: &str, reads: &ReadSet, writes: &WriteSet) -> Result<(), StoreError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        if self.fail_commit {
            return Err(StoreError::Backend("disk full".into()));
        }
        let left = self.conflicts_left.load(Ordering::SeqCst);
        if left > 0 {
            self.conflicts_left.store(left - 1, Ordering::SeqCst);
            return Err(StoreError::Conflict);
        }
        self.inner.commit(city, reads, writes)
    }

    fn cities(&self) -> Result<Vec<String>, StoreError> {
        self.inner.cities()
    }
}

#[test]
fn conflicts_are_retried() -> anyhow::Result<()> {
    let backend = Arc::new(Faulty::new());
    backend.conflicts_left.store(2, Ordering::SeqCst);
    let runtime = Runtime::new(backend.clone(), Limits::default())?;
    runtime.city("c")?.record(fact("u", None))?.answer()?;
    assert_eq!(backend.commits.load(Ordering::SeqCst), 3);
    assert_eq!(event_count(&runtime, "c")?, 1);

    backend.conflicts_left.store(usize::MAX, Ordering::SeqCst);
    let err = runtime
        .city("c")?
        .record(fact("u", None))
        .expect_err("endless conflicts");
    assert!(format!("{err:#}").contains("gave up"), "{err:#}");
    assert_eq!(event_count(&runtime, "c")?, 1);
    Ok(())
}

#[test]
fn a_failed_commit_is_an_outer_error() -> anyhow::Result<()> {
    let backend = Arc::new(Faulty {
        fail_commit: true,
        ..Faulty::new()
    });
    let runtime = Runtime::new(backend.clone(), Limits::default())?;
    let err = runtime
        .city("c")?
        .record(fact("u", None))
        .expect_err("commit fails");
    assert!(format!("{err:#}").contains("disk full"), "{err:#}");
    assert!(backend.cities()?.is_empty());
    // A call without writes commits nothing, so it is unaffected.
    assert!(runtime.city("c")?.settings()?.is_ok());
    Ok(())
}

#[test]
fn storage_failures_reach_the_guest_and_write_nothing() -> anyhow::Result<()> {
    let backend = Arc::new(Faulty {
        fail_reads: true,
        ..Faulty::new()
    });
    let runtime = Runtime::new(backend.clone(), Limits::default())?;
    let answer = runtime.city("c")?.record(fact("u", None))?;
    assert!(
        matches!(answer, Err(UsageError::Storage(ref m)) if m.contains("disk on fire")),
        "{answer:?}"
    );
    // A batch whose items saw a storage failure is not committed at all.
    assert!(
        runtime
            .city("c")?
            .record_batch(vec![fact("u", None)])
            .is_err()
    );
    assert_eq!(backend.commits.load(Ordering::SeqCst), 0);
    Ok(())
}

#[test]
fn limits_default_to_64_mib_and_5_s() {
    let limits = Limits::default();
    assert_eq!(limits.memory_bytes, 64 << 20);
    assert_eq!(limits.deadline, Duration::from_secs(5));
}

#[test]
fn a_call_past_its_deadline_traps_and_writes_nothing() -> anyhow::Result<()> {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    // One epoch tick (10 ms): far less than recording thousands of facts takes.
    let hasty = Limits {
        deadline: Duration::from_nanos(1),
        ..Limits::default()
    };
    let runtime = Runtime::new(backend.clone(), hasty)?;
    let facts = (0..5000).map(|i| fact(&format!("u{i}"), None)).collect();
    let err = runtime
        .city("c")?
        .record_batch(facts)
        .expect_err("deadline");
    assert!(format!("{err:#}").contains("deadline"), "{err:#}");
    assert!(backend.cities()?.is_empty());
    Ok(())
}

#[test]
fn a_warm_city_commits_each_call_and_sees_its_earlier_ones() -> anyhow::Result<()> {
    let backend = Arc::new(Faulty::new());
    let runtime = Runtime::new(backend.clone(), Limits::default())?;
    let mut warm = runtime.warm_city("c")?;
    let first = warm.record(fact("u", Some("a")))?.answer()?;
    let again = warm.record(fact("u", Some("a")))?.answer()?;
    assert_eq!(again.status, ReceiptStatus::Duplicate);
    assert_eq!(again.position, first.position);
    let batch = warm.record_batch(vec![fact("v", None), fact("w", None)])?;
    assert!(batch.iter().all(Result::is_ok));
    // Every writing call committed on its own; the duplicate wrote nothing.
    assert_eq!(backend.commits.load(Ordering::SeqCst), 2);
    assert_eq!(event_count(&runtime, "c")?, 3);

    backend.conflicts_left.store(2, Ordering::SeqCst);
    warm.record(fact("x", None))?.answer()?;
    assert_eq!(backend.commits.load(Ordering::SeqCst), 5);
    assert_eq!(event_count(&runtime, "c")?, 4);
    Ok(())
}

#[test]
fn a_warm_city_replaces_a_trapped_instance() -> anyhow::Result<()> {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    // Room for a small call, not for a batch of 10,000 long-named facts.
    let cramped = Limits {
        memory_bytes: 8 << 20,
        ..Limits::default()
    };
    let runtime = Runtime::new(backend.clone(), cramped)?;
    let mut warm = runtime.warm_city("c")?;
    let long = "u".repeat(120);
    let facts: Vec<Fact> = (0..10_000)
        .map(|i| fact(&format!("{long}{i}"), None))
        .collect();
    warm.record_batch(facts).expect_err("out of memory");
    assert!(backend.cities()?.is_empty());
    // The next call runs in a new instance (entering the trapped one would fail).
    warm.record(fact("u", None))?.answer()?;
    assert_eq!(event_count(&runtime, "c")?, 1);
    Ok(())
}
