//! Storage faults through the real component: a failing read, snapshot or
//! commit makes the call answer a storage error, leaves the store exactly as it
//! was (compared key by key), and the next call works. A commit that is applied
//! but answered with an error is safe to resend: it counts once.
//! Each test runs on the memory and the embedded (redb) store.

use std::sync::Arc;

use tempfile::TempDir;
use usage_guest::model as m;
use usage_guest::scenarios::{Api, sample_facts};
use usage_host::bindings::{self as b, ReceiptStatus, UsageError};
use usage_host::runtime::{Limits, Runtime};
use usage_host::store::testing::{Effect, FaultyBackend, INJECTED, Op};
use usage_host::store::{Backend, MemoryBackend, RedbBackend};

use crate::audit::{assert_unchanged, audit, dump, id_counts};
use crate::convert;
use crate::host_api::HostApi;

const CITY: &str = "faulty";

struct Fixture {
    faulty: Arc<FaultyBackend>,
    runtime: Runtime,
    _dir: Option<TempDir>,
}

impl Fixture {
    fn memory() -> Self {
        Self::over(Arc::new(MemoryBackend::new()), None)
    }

    fn redb() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = RedbBackend::open(&dir.path().join("usage.redb")).expect("open redb");
        Self::over(Arc::new(backend), Some(dir))
    }

    fn over(inner: Arc<dyn Backend>, dir: Option<TempDir>) -> Self {
        let faulty = Arc::new(FaultyBackend::new(inner));
        let runtime = Runtime::new(faulty.clone(), Limits::default()).expect("runtime");
        let fixture = Fixture {
            faulty,
            runtime,
            _dir: dir,
        };
        let seeded = fixture
            .runtime
            .city(CITY)
            .expect("city")
            .record_batch(facts(40, 7))
            .expect("seed");
        assert!(seeded.iter().all(Result::is_ok), "{seeded:?}");
        fixture
    }

    fn city(&self) -> usage_host::runtime::City<'_> {
        self.runtime.city(CITY).expect("city")
    }

    fn dump(&self) -> crate::audit::Dump {
        dump(self.faulty.inner().as_ref())
    }

    fn api(&self) -> HostApi {
        HostApi {
            runtime: self.runtime.clone(),
        }
    }
}

fn both(test: fn(&Fixture)) {
    test(&Fixture::memory());
    test(&Fixture::redb());
}

fn facts(n: usize, seed: u64) -> Vec<b::Fact> {
    sample_facts(n, seed)
        .into_iter()
        .map(convert::fact)
        .collect()
}

fn one_fact(seed: u64) -> b::Fact {
    facts(1, seed).remove(0)
}

/// A call's answer is a storage failure: an outer error (nothing committed) or
/// the guest's own storage error, either naming the injected fault.
#[track_caller]
fn assert_storage_failure<T: std::fmt::Debug>(answer: anyhow::Result<Result<T, UsageError>>) {
    match answer {
        Err(e) => assert!(format!("{e:#}").contains(INJECTED), "{e:#}"),
        Ok(Err(UsageError::Storage(message))) => assert!(message.contains(INJECTED), "{message}"),
        Ok(other) => panic!("expected a storage failure, got {other:?}"),
    }
}

/// A query call that answers its storage failure, if any.
type QueryCall<'a> = Box<dyn Fn() -> Option<String> + 'a>;

/// The storage failure a call answered, if it answered one (else `None`).
fn failure_of<T: std::fmt::Debug>(answer: anyhow::Result<Result<T, UsageError>>) -> Option<String> {
    match answer {
        Err(e) => Some(format!("{e:#}")),
        Ok(Err(UsageError::Storage(message))) => Some(message),
        Ok(Err(other)) => panic!("expected a storage failure or an answer, got {other:?}"),
        Ok(Ok(_)) => None,
    }
}

#[track_caller]
fn assert_batch_storage_failure(answer: anyhow::Result<Vec<Result<b::Receipt, UsageError>>>) {
    match answer {
        Err(e) => assert!(format!("{e:#}").contains(INJECTED), "{e:#}"),
        Ok(items) => assert!(
            items
                .iter()
                .all(|i| matches!(i, Err(UsageError::Storage(m)) if m.contains(INJECTED))),
            "expected storage failures, got {items:?}"
        ),
    }
}

/// Reads the new fact's record makes, counted on a throwaway copy of the state.
fn reads_of(f: &Fixture, call: impl Fn(&Fixture)) -> u64 {
    let faults = f.faulty.faults();
    let before = faults.count(Op::Read);
    // A failing commit makes the call read everything but store nothing.
    faults.on_nth(Op::Commit, 1, Effect::Fail);
    call(f);
    faults.heal();
    faults.count(Op::Read) - before
}

#[test]
fn every_failed_read_of_a_record_writes_nothing_and_the_next_call_works() {
    both(|f| {
        let fact = one_fact(99);
        let reads = reads_of(f, |f| drop(f.city().record(fact.clone())));
        assert!(reads >= 2, "a record reads its id and counters ({reads})");
        for n in 1..=reads {
            let before = f.dump();
            f.faulty.faults().on_nth(Op::Read, n, Effect::Fail);
            assert_storage_failure(f.city().record(fact.clone()));
            f.faulty.faults().heal();
            assert_unchanged(&before, &f.dump(), &format!("failing read {n} of {reads}"));
        }
        let receipt = f.city().record(fact.clone()).expect("call").expect("ok");
        assert_eq!(receipt.status, ReceiptStatus::Recorded);
        let events = audit(&mut f.api(), CITY);
        assert_eq!(events.len(), 41);
        assert_eq!(id_counts(&events)[fact.id.as_deref().expect("id")], 1);
    });
}

#[test]
fn every_failed_read_of_a_batch_writes_nothing() {
    both(|f| {
        let batch = facts(25, 100);
        let reads = reads_of(f, |f| drop(f.city().record_batch(batch.clone())));
        for n in 1..=reads {
            let before = f.dump();
            f.faulty.faults().on_nth(Op::Read, n, Effect::Fail);
            assert_batch_storage_failure(f.city().record_batch(batch.clone()));
            f.faulty.faults().heal();
            assert_unchanged(&before, &f.dump(), &format!("failing batch read {n}"));
        }
        let results = f.city().record_batch(batch.clone()).expect("batch");
        assert!(
            results
                .iter()
                .all(|r| matches!(r, Ok(r) if r.status == ReceiptStatus::Recorded))
        );
        assert_eq!(audit(&mut f.api(), CITY).len(), 65);
    });
}

#[test]
fn a_failed_commit_writes_nothing_and_a_resend_counts_once() {
    both(|f| {
        let fact = one_fact(5);
        let before = f.dump();
        f.faulty.faults().on_nth(Op::Commit, 1, Effect::Fail);
        assert_storage_failure(f.city().record(fact.clone()));
        assert_unchanged(&before, &f.dump(), "a failed commit");
        // The Nth commit: the first batch goes through, the second fails.
        f.faulty.faults().on_nth(Op::Commit, 2, Effect::Fail);
        let first = facts(10, 11);
        let second = facts(10, 12);
        assert!(
            f.city()
                .record_batch(first)
                .expect("first")
                .iter()
                .all(Result::is_ok)
        );
        let before = f.dump();
        assert_batch_storage_failure(f.city().record_batch(second.clone()));
        assert_unchanged(&before, &f.dump(), "the second commit failing");
        // Resending both works and counts each fact once.
        let receipt = f.city().record(fact.clone()).expect("call").expect("ok");
        assert_eq!(receipt.status, ReceiptStatus::Recorded);
        assert!(
            f.city()
                .record_batch(second)
                .expect("again")
                .iter()
                .all(Result::is_ok)
        );
        let events = audit(&mut f.api(), CITY);
        assert_eq!(events.len(), 40 + 1 + 10 + 10);
        assert!(id_counts(&events).values().all(|n| *n == 1));
    });
}

#[test]
fn a_lost_acknowledgement_then_a_resend_counts_once() {
    both(|f| {
        let fact = one_fact(77);
        f.faulty
            .faults()
            .on_nth(Op::Commit, 1, Effect::ApplyThenFail);
        assert_storage_failure(f.city().record(fact.clone()));
        // The client saw an error and resends: the fact is already there.
        let receipt = f.city().record(fact.clone()).expect("call").expect("ok");
        assert_eq!(receipt.status, ReceiptStatus::Duplicate);

        let batch = facts(30, 78);
        f.faulty
            .faults()
            .on_nth(Op::Commit, 1, Effect::ApplyThenFail);
        assert_batch_storage_failure(f.city().record_batch(batch[..20].to_vec()));
        let resent = f.city().record_batch(batch.clone()).expect("resend");
        let statuses: Vec<_> = resent
            .into_iter()
            .map(|r| r.expect("accepted").status)
            .collect();
        assert!(
            statuses[..20]
                .iter()
                .all(|s| *s == ReceiptStatus::Duplicate)
        );
        assert!(statuses[20..].iter().all(|s| *s == ReceiptStatus::Recorded));
        let events = audit(&mut f.api(), CITY);
        assert_eq!(events.len(), 40 + 1 + 30);
        assert!(id_counts(&events).values().all(|n| *n == 1));
    });
}

#[test]
fn a_failed_snapshot_or_an_outage_fails_calls_until_it_heals() {
    both(|f| {
        let before = f.dump();
        f.faulty.faults().on_nth(Op::Snapshot, 1, Effect::Fail);
        assert_storage_failure(f.city().record(one_fact(1)));
        // An outage: every read fails until healed; writes and reads both refuse.
        f.faulty.faults().from_nth(Op::Read, 1, Effect::Fail);
        for seed in 2..5 {
            assert_storage_failure(f.city().record(one_fact(seed)));
        }
        assert_storage_failure(f.city().summary(b::SummaryQuery {
            from: None,
            to: None,
            group_by: vec![],
            bucket: b::TimeBucket::None,
        }));
        f.faulty.faults().heal();
        assert_unchanged(&before, &f.dump(), "calls during an outage");
        for seed in 1..5 {
            let receipt = f.city().record(one_fact(seed)).expect("call").expect("ok");
            assert_eq!(receipt.status, ReceiptStatus::Recorded);
        }
        assert_eq!(audit(&mut f.api(), CITY).len(), 44);
    });
}

#[test]
fn failed_reads_of_queries_answer_storage_errors_then_the_same_answer() {
    both(|f| {
        let mut api = f.api();
        let summary_q = m::SummaryQuery {
            group_by: vec![m::Dimension::Service],
            ..Default::default()
        };
        let events_q = m::EventsQuery {
            limit: Some(7),
            ..Default::default()
        };
        let summary = api.summary(CITY, summary_q.clone()).expect("summary");
        let page = api.events(CITY, events_q.clone()).expect("events");
        let me = api.me(CITY, "user-0", m::MeQuery::default()).expect("me");
        let before = f.dump();
        let calls: [(&str, QueryCall<'_>); 3] = [
            (
                "summary",
                Box::new(|| {
                    failure_of(f.city().summary(convert::summary_query(summary_q.clone())))
                }),
            ),
            (
                "events",
                Box::new(|| failure_of(f.city().events(convert::events_query(events_q.clone())))),
            ),
            (
                "me",
                Box::new(|| {
                    failure_of(
                        f.city()
                            .me("user-0", convert::me_query(m::MeQuery::default())),
                    )
                }),
            ),
        ];
        let faults = f.faulty.faults();
        for (name, call) in &calls {
            let start = faults.count(Op::Read);
            assert_eq!(call(), None, "{name} works");
            let reads = faults.count(Op::Read) - start;
            assert!(reads >= 1, "{name} reads");
            for n in 1..=reads {
                faults.on_nth(Op::Read, n, Effect::Fail);
                let failure = call();
                faults.heal();
                let failure =
                    failure.unwrap_or_else(|| panic!("{name}: read {n} failed unnoticed"));
                assert!(failure.contains(INJECTED), "{name}: {failure}");
            }
        }
        assert_unchanged(&before, &f.dump(), "failed reads");
        drop(calls);
        assert_eq!(api.summary(CITY, summary_q).expect("summary"), summary);
        assert_eq!(api.events(CITY, events_q).expect("events"), page);
        assert_eq!(
            api.me(CITY, "user-0", m::MeQuery::default()).expect("me"),
            me
        );
    });
}
