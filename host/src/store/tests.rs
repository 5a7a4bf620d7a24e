//! One conformance suite run against every backend, plus a property test
//! comparing each backend with a `BTreeMap` model over random operation sequences.
//! The Redis runs use `testing::test_redis_url()` (skipped without a server,
//! except in CI) and one key prefix per fixture, removed afterwards.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use tempfile::TempDir;

use super::testing::{RedisServer, test_redis_url, unique_prefix};
use super::{Backend, CallTxn, LIST_PAGE, MemoryBackend, RedbBackend, RedisBackend, StoreError};

type TestResult = Result<(), StoreError>;

/// A backend under test; the temp dir (if any) lives as long as it does, and
/// the Redis keys (if any) are purged when it is dropped.
struct Fixture {
    backend: Arc<dyn Backend>,
    _dir: Option<TempDir>,
    redis: Option<Arc<RedisBackend>>,
}

impl Fixture {
    fn new(backend: Arc<dyn Backend>) -> Self {
        Self {
            backend,
            _dir: None,
            redis: None,
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(redis) = &self.redis {
            let _ = redis.purge();
        }
    }
}

// Each fixture is `None` when its backend is unavailable here (the test is skipped).

fn memory() -> Option<Fixture> {
    Some(Fixture::new(Arc::new(MemoryBackend::new())))
}

fn redb() -> Option<Fixture> {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = RedbBackend::open(&dir.path().join("nested/usage.redb")).expect("open redb");
    Some(Fixture {
        backend: Arc::new(backend),
        _dir: Some(dir),
        redis: None,
    })
}

fn redis() -> Option<Fixture> {
    let url = test_redis_url()?;
    let backend =
        Arc::new(RedisBackend::open_with_prefix(&url, &unique_prefix()).expect("open redis"));
    Some(Fixture {
        backend: backend.clone(),
        _dir: None,
        redis: Some(backend),
    })
}

/// Runs `test` on the fixture, or skips it.
fn on(fixture: Option<Fixture>, test: fn(&Fixture) -> TestResult) -> TestResult {
    fixture.map_or(Ok(()), |f| test(&f))
}

fn begin(f: &Fixture, city: &str) -> CallTxn {
    CallTxn::begin(f.backend.clone(), city).expect("begin")
}

/// Commits `pairs` for `city` in one call.
fn put(f: &Fixture, city: &str, pairs: &[(&str, &[u8])]) -> TestResult {
    let mut txn = begin(f, city);
    for (key, value) in pairs {
        txn.set((*key).to_owned(), value.to_vec());
    }
    txn.commit().map(|_| ())
}

fn read(f: &Fixture, city: &str, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
    begin(f, city).get(key)
}

fn all_keys(f: &Fixture, city: &str) -> Result<Vec<String>, StoreError> {
    let mut txn = begin(f, city);
    let (mut out, mut cursor) = txn.list_keys(None)?;
    while let Some(next) = cursor {
        let (page, after) = txn.list_keys(Some(next))?;
        out.extend(page);
        cursor = after;
    }
    Ok(out)
}

macro_rules! conformance {
    ($($backend:ident),*) => {$(
        mod $backend {
            #[test] fn get_set_delete_exists() -> super::TestResult { super::on(super::$backend(), super::get_set_delete_exists) }
            #[test] fn reads_see_own_writes() -> super::TestResult { super::on(super::$backend(), super::reads_see_own_writes) }
            #[test] fn increment_counts_in_decimal() -> super::TestResult { super::on(super::$backend(), super::increment_counts_in_decimal) }
            #[test] fn increment_rejects_non_decimal() -> super::TestResult { super::on(super::$backend(), super::increment_rejects_non_decimal) }
            #[test] fn increment_rejects_overflow() -> super::TestResult { super::on(super::$backend(), super::increment_rejects_overflow) }
            #[test] fn list_keys_pages_and_edges() -> super::TestResult { super::on(super::$backend(), super::list_keys_pages_and_edges) }
            #[test] fn list_keys_merges_own_writes() -> super::TestResult { super::on(super::$backend(), super::list_keys_merges_own_writes) }
            #[test] fn namespaces_are_isolated() -> super::TestResult { super::on(super::$backend(), super::namespaces_are_isolated) }
            #[test] fn commit_is_all_or_nothing() -> super::TestResult { super::on(super::$backend(), super::commit_is_all_or_nothing) }
            #[test] fn changed_reads_conflict() -> super::TestResult { super::on(super::$backend(), super::changed_reads_conflict) }
            #[test] fn changed_listing_conflicts() -> super::TestResult { super::on(super::$backend(), super::changed_listing_conflicts) }
            #[test] fn blind_writes_do_not_conflict() -> super::TestResult { super::on(super::$backend(), super::blind_writes_do_not_conflict) }
            #[test] fn cities_register_on_first_write() -> super::TestResult { super::on(super::$backend(), super::cities_register_on_first_write) }
            #[test] fn rejects_bad_city_names() { super::$backend().iter().for_each(super::rejects_bad_city_names) }
        }
    )*};
}

conformance!(memory, redb, redis);

fn get_set_delete_exists(f: &Fixture) -> TestResult {
    assert_eq!(read(f, "c", "k")?, None);
    put(
        f,
        "c",
        &[("k", b"v1"), ("", b"empty key"), ("empty value", b"")],
    )?;
    assert_eq!(read(f, "c", "k")?, Some(b"v1".to_vec()));
    assert_eq!(read(f, "c", "")?, Some(b"empty key".to_vec()));
    assert_eq!(read(f, "c", "empty value")?, Some(Vec::new()));
    let mut txn = begin(f, "c");
    assert!(txn.exists("k")?);
    assert!(txn.exists("empty value")?);
    assert!(!txn.exists("missing")?);
    txn.set("k".into(), b"v2".to_vec());
    txn.delete("".into());
    txn.delete("missing".into());
    assert!(txn.commit()?);
    assert_eq!(read(f, "c", "k")?, Some(b"v2".to_vec()));
    assert_eq!(read(f, "c", "")?, None);
    assert_eq!(all_keys(f, "c")?, ["empty value", "k"]);
    Ok(())
}

fn reads_see_own_writes(f: &Fixture) -> TestResult {
    put(f, "c", &[("k", b"old")])?;
    let mut txn = begin(f, "c");
    txn.set("k".into(), b"new".to_vec());
    assert_eq!(txn.get("k")?, Some(b"new".to_vec()));
    txn.delete("k".into());
    assert_eq!(txn.get("k")?, None);
    assert!(!txn.exists("k")?);
    // Nothing is visible to other calls before the commit.
    assert_eq!(read(f, "c", "k")?, Some(b"old".to_vec()));
    drop(txn);
    assert_eq!(read(f, "c", "k")?, Some(b"old".to_vec()));
    Ok(())
}

fn increment_counts_in_decimal(f: &Fixture) -> TestResult {
    let mut txn = begin(f, "c");
    assert_eq!(txn.increment("n", 5)?, 5);
    assert_eq!(txn.increment("n", 0)?, 5);
    assert_eq!(txn.get("n")?, Some(b"5".to_vec()));
    txn.commit()?;
    put(f, "c", &[("padded", b"007")])?;
    let mut txn = begin(f, "c");
    assert_eq!(txn.increment("n", 37)?, 42);
    assert_eq!(txn.increment("padded", 1)?, 8);
    assert_eq!(txn.increment("max", u64::MAX)?, u64::MAX);
    txn.commit()?;
    assert_eq!(read(f, "c", "n")?, Some(b"42".to_vec()));
    assert_eq!(
        read(f, "c", "max")?,
        Some(u64::MAX.to_string().into_bytes())
    );
    Ok(())
}

fn increment_rejects_non_decimal(f: &Fixture) -> TestResult {
    let bad: [&[u8]; 6] = [b"x", b"", b"-1", b"+1", b" 1", b"1.0"];
    for (i, value) in bad.iter().enumerate() {
        let key = format!("bad{i}");
        put(f, "c", &[(&key, value)])?;
        let mut txn = begin(f, "c");
        txn.set("other".into(), b"x".to_vec());
        assert!(
            matches!(txn.increment(&key, 1), Err(StoreError::BadValue(_))),
            "{value:?}"
        );
        assert!(txn.failure().is_some());
        // A call that saw a storage error never commits any of its writes.
        assert!(matches!(txn.commit(), Err(StoreError::BadValue(_))));
        assert_eq!(read(f, "c", "other")?, None);
        assert_eq!(read(f, "c", &key)?, Some(value.to_vec()));
    }
    let too_big = b"18446744073709551616";
    put(f, "c", &[("big", too_big)])?;
    assert!(matches!(
        begin(f, "c").increment("big", 0),
        Err(StoreError::BadValue(_))
    ));
    Ok(())
}

fn increment_rejects_overflow(f: &Fixture) -> TestResult {
    put(f, "c", &[("n", u64::MAX.to_string().as_bytes())])?;
    let mut txn = begin(f, "c");
    assert!(matches!(
        txn.increment("n", 1),
        Err(StoreError::BadValue(_))
    ));
    assert!(txn.commit().is_err());
    assert_eq!(read(f, "c", "n")?, Some(u64::MAX.to_string().into_bytes()));
    Ok(())
}

fn list_keys_pages_and_edges(f: &Fixture) -> TestResult {
    let mut txn = begin(f, "c");
    assert_eq!(txn.list_keys(None)?, (vec![], None));
    assert_eq!(txn.list_keys(Some(0))?, (vec![], None));
    assert_eq!(txn.list_keys(Some(u64::MAX))?, (vec![], None));
    drop(txn);

    let total = 2 * LIST_PAGE + 500;
    let keys: Vec<String> = (0..total).map(|i| format!("k{i:05}")).collect();
    let mut txn = begin(f, "c");
    for key in &keys {
        txn.set(key.clone(), vec![1]);
    }
    txn.commit()?;

    let mut txn = begin(f, "c");
    let (first, cursor) = txn.list_keys(None)?;
    assert_eq!((first.len(), cursor), (LIST_PAGE, Some(LIST_PAGE as u64)));
    let (second, cursor) = txn.list_keys(cursor)?;
    assert_eq!(
        (second.len(), cursor),
        (LIST_PAGE, Some(2 * LIST_PAGE as u64))
    );
    let (third, cursor) = txn.list_keys(cursor)?;
    assert_eq!((third.len(), cursor), (500, None));
    assert_eq!([first, second, third].concat(), keys);
    // A cursor exactly at the end, or past it, is an empty last page.
    assert_eq!(txn.list_keys(Some(total as u64))?, (vec![], None));
    assert_eq!(txn.list_keys(Some(total as u64 + 7))?, (vec![], None));
    let (last, cursor) = txn.list_keys(Some(total as u64 - 1))?;
    assert_eq!((last, cursor), (vec![keys[total - 1].clone()], None));
    // Listing records what it saw but is not a write.
    assert!(!txn.commit()?);
    Ok(())
}

fn list_keys_merges_own_writes(f: &Fixture) -> TestResult {
    put(f, "c", &[("a", b"1"), ("b", b"2"), ("c", b"3")])?;
    let mut txn = begin(f, "c");
    txn.delete("b".into());
    txn.set("bb".into(), b"4".to_vec());
    txn.set("a".into(), b"5".to_vec());
    txn.delete("zz".into());
    assert_eq!(txn.list_keys(None)?.0, ["a", "bb", "c"]);
    txn.commit()?;
    assert_eq!(all_keys(f, "c")?, ["a", "bb", "c"]);
    Ok(())
}

fn namespaces_are_isolated(f: &Fixture) -> TestResult {
    // With a naive `city:key` encoding these two would be the same stored key.
    put(f, "a", &[("b:k", b"city a")])?;
    put(f, "a:b", &[("k", b"city a:b")])?;
    put(f, "ab", &[("k", b"city ab")])?;
    assert_eq!(read(f, "a", "b:k")?, Some(b"city a".to_vec()));
    assert_eq!(read(f, "a:b", "k")?, Some(b"city a:b".to_vec()));
    assert_eq!(read(f, "a", "k")?, None);
    assert_eq!(read(f, "a:b", "b:k")?, None);
    assert_eq!(all_keys(f, "a")?, ["b:k"]);
    assert_eq!(all_keys(f, "a:b")?, ["k"]);
    assert_eq!(all_keys(f, "ab")?, ["k"]);
    assert_eq!(all_keys(f, "b")?, Vec::<String>::new());
    // Deleting in one city leaves the other alone.
    let mut txn = begin(f, "a:b");
    txn.delete("k".into());
    txn.commit()?;
    assert_eq!(read(f, "ab", "k")?, Some(b"city ab".to_vec()));
    assert_eq!(read(f, "a", "b:k")?, Some(b"city a".to_vec()));
    Ok(())
}

fn commit_is_all_or_nothing(f: &Fixture) -> TestResult {
    put(f, "c", &[("guard", b"0"), ("keep", b"old")])?;
    let mut txn = begin(f, "c");
    txn.get("guard")?;
    for i in 0..100 {
        txn.set(format!("new{i}"), vec![1]);
    }
    txn.set("keep".into(), b"new".to_vec());
    put(f, "c", &[("guard", b"1")])?;
    assert_eq!(txn.commit(), Err(StoreError::Conflict));
    assert_eq!(all_keys(f, "c")?, ["guard", "keep"]);
    assert_eq!(read(f, "c", "keep")?, Some(b"old".to_vec()));
    Ok(())
}

fn changed_reads_conflict(f: &Fixture) -> TestResult {
    // Two concurrent increments of one counter: the second must not lose the first.
    let mut first = begin(f, "c");
    let mut second = begin(f, "c");
    assert_eq!(first.increment("n", 1)?, 1);
    assert_eq!(second.increment("n", 1)?, 1);
    first.commit()?;
    assert_eq!(second.commit(), Err(StoreError::Conflict));
    let mut retry = begin(f, "c");
    assert_eq!(retry.increment("n", 1)?, 2);
    retry.commit()?;

    // A key read as absent that appears meanwhile is a change too, as is a deletion.
    let mut txn = begin(f, "c");
    assert!(!txn.exists("fresh")?);
    txn.set("x".into(), vec![]);
    put(f, "c", &[("fresh", b"")])?;
    assert_eq!(txn.commit(), Err(StoreError::Conflict));

    let mut txn = begin(f, "c");
    assert!(txn.exists("fresh")?);
    txn.set("x".into(), vec![]);
    let mut deleter = begin(f, "c");
    deleter.delete("fresh".into());
    deleter.commit()?;
    assert_eq!(txn.commit(), Err(StoreError::Conflict));

    // Writes to another city never conflict.
    let mut txn = begin(f, "c");
    txn.get("n")?;
    txn.set("y".into(), vec![]);
    put(f, "other", &[("n", b"9")])?;
    assert_eq!(txn.commit(), Ok(true));
    Ok(())
}

fn changed_listing_conflicts(f: &Fixture) -> TestResult {
    put(f, "c", &[("a", b"")])?;
    let mut txn = begin(f, "c");
    txn.list_keys(None)?;
    txn.set("b".into(), vec![]);
    put(f, "c", &[("phantom", b"")])?;
    assert_eq!(txn.commit(), Err(StoreError::Conflict));
    Ok(())
}

fn blind_writes_do_not_conflict(f: &Fixture) -> TestResult {
    let mut first = begin(f, "c");
    let mut second = begin(f, "c");
    first.set("k".into(), b"1".to_vec());
    second.set("k".into(), b"2".to_vec());
    first.commit()?;
    second.commit()?;
    assert_eq!(read(f, "c", "k")?, Some(b"2".to_vec()));
    Ok(())
}

fn cities_register_on_first_write(f: &Fixture) -> TestResult {
    assert_eq!(f.backend.cities()?, Vec::<String>::new());
    let mut txn = begin(f, "reader");
    txn.get("k")?;
    assert!(!txn.commit()?);
    assert_eq!(f.backend.cities()?, Vec::<String>::new());
    put(f, "zeta", &[("k", b"")])?;
    put(f, "alpha", &[("k", b"")])?;
    put(f, "zeta", &[("j", b"")])?;
    assert_eq!(f.backend.cities()?, ["alpha", "zeta"]);
    Ok(())
}

fn rejects_bad_city_names(f: &Fixture) {
    assert!(matches!(
        CallTxn::begin(f.backend.clone(), ""),
        Err(StoreError::InvalidCity(_))
    ));
}

#[test]
fn a_read_only_call_reads_without_tracking_and_refuses_writes() -> TestResult {
    let f = Fixture::new(Arc::new(MemoryBackend::new()));
    put(&f, "c", &[("k", b"v")])?;
    let mut txn = CallTxn::begin_read(f.backend.clone(), "c")?;
    assert_eq!(
        txn.get_many(&["k".to_owned(), "absent".to_owned()])?,
        [Some(b"v".to_vec()), None]
    );
    assert!(txn.increment("n", 1).is_err());
    txn.set("k".to_owned(), b"changed".to_vec());
    assert!(!txn.has_writes());
    assert!(
        txn.commit().is_err(),
        "a read-only call that wrote must not commit"
    );
    assert_eq!(read(&f, "c", "k")?, Some(b"v".to_vec()));
    Ok(())
}

#[test]
fn redb_persists_across_reopen() -> TestResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("usage.redb");
    {
        let f = Fixture::new(Arc::new(RedbBackend::open(&path)?));
        put(&f, "c", &[("k", b"v")])?;
        let mut txn = begin(&f, "c");
        txn.increment("n", 3)?;
        txn.commit()?;
    }
    let f = Fixture::new(Arc::new(RedbBackend::open(&path)?));
    assert_eq!(read(&f, "c", "k")?, Some(b"v".to_vec()));
    assert_eq!(read(&f, "c", "n")?, Some(b"3".to_vec()));
    assert_eq!(f.backend.cities()?, ["c"]);
    Ok(())
}

#[test]
fn redb_refuses_a_second_handle_on_one_file() -> TestResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("usage.redb");
    let _first = RedbBackend::open(&path)?;
    let Err(StoreError::Backend(message)) = RedbBackend::open(&path) else {
        panic!("opened twice");
    };
    assert!(message.contains("already in use"), "{message}");
    Ok(())
}

#[test]
fn redb_refuses_a_file_that_is_not_a_database() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("usage.redb");
    std::fs::write(&path, b"not a database").expect("write");
    assert!(matches!(
        RedbBackend::open(&path),
        Err(StoreError::Backend(_))
    ));
}

// ---- property test against a model ----

#[derive(Debug, Clone)]
enum Op {
    Get(usize, usize),
    GetMany(usize, Vec<usize>),
    Exists(usize, usize),
    Set(usize, usize, Vec<u8>),
    Delete(usize, usize),
    Increment(usize, usize, u64),
    ListKeys(usize),
    Commit(usize),
    /// Begin a competing call on the same city that writes `key` and commits first.
    Interfere(usize, usize, Vec<u8>),
}

const CITIES: [&str; 3] = ["a", "a:b", "ab"];
const KEYS: [&str; 5] = ["", "k", "b:k", "n", "z"];

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4),
        (0u64..1000).prop_map(|n| n.to_string().into_bytes()),
        Just(u64::MAX.to_string().into_bytes()),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let city = 0..CITIES.len();
    let key = 0..KEYS.len();
    prop_oneof![
        (city.clone(), key.clone()).prop_map(|(c, k)| Op::Get(c, k)),
        (city.clone(), prop::collection::vec(key.clone(), 0..6))
            .prop_map(|(c, ks)| Op::GetMany(c, ks)),
        (city.clone(), key.clone()).prop_map(|(c, k)| Op::Exists(c, k)),
        (city.clone(), key.clone(), value()).prop_map(|(c, k, v)| Op::Set(c, k, v)),
        (city.clone(), key.clone()).prop_map(|(c, k)| Op::Delete(c, k)),
        (
            city.clone(),
            key.clone(),
            prop_oneof![0u64..10, Just(u64::MAX)]
        )
            .prop_map(|(c, k, d)| Op::Increment(c, k, d)),
        city.clone().prop_map(Op::ListKeys),
        city.clone().prop_map(Op::Commit),
        (city, key, value()).prop_map(|(c, k, v)| Op::Interfere(c, k, v)),
    ]
}

type Map = BTreeMap<String, Vec<u8>>;

/// What a call sees of data committed after it began.
#[derive(Debug, Clone, Copy)]
enum Reads {
    /// Nothing: it reads the state as of its start (memory, redb).
    Snapshot,
    /// Each key as committed when the call first reads it (Redis).
    Committed,
}

/// The model of one open call: the committed state it started from, the first
/// value it saw of each key it read (which decides conflicts), and its writes.
#[derive(Default)]
struct ModelCall {
    base: Map,
    seen: BTreeMap<String, Option<Vec<u8>>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
    listed: Option<BTreeSet<String>>,
    failed: bool,
}

impl ModelCall {
    fn read(&mut self, key: &str, now: &Map, reads: Reads) -> Option<Vec<u8>> {
        if let Some(written) = self.writes.get(key) {
            return written.clone();
        }
        let source = match reads {
            Reads::Snapshot => &self.base,
            Reads::Committed => now,
        };
        self.seen
            .entry(key.to_owned())
            .or_insert_with(|| source.get(key).cloned())
            .clone()
    }

    fn write(&mut self, key: &str, value: Option<Vec<u8>>) {
        self.writes.insert(key.to_owned(), value);
    }

    fn list(&mut self, now: &Map, reads: Reads) -> Vec<String> {
        let source = match reads {
            Reads::Snapshot => &self.base,
            Reads::Committed => now,
        };
        let mut keys = self
            .listed
            .get_or_insert_with(|| source.keys().cloned().collect())
            .clone();
        for (key, value) in &self.writes {
            match value {
                Some(_) => keys.insert(key.clone()),
                None => keys.remove(key),
            };
        }
        keys.into_iter().collect()
    }

    fn stale(&self, now: &Map) -> bool {
        self.seen.iter().any(|(k, v)| now.get(k) != v.as_ref())
            || self
                .listed
                .as_ref()
                .is_some_and(|listed| !listed.iter().eq(now.keys()))
    }
}

fn run(backend: Arc<dyn Backend>, reads: Reads, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut committed: Vec<Map> = vec![Map::new(); CITIES.len()];
    let mut calls: Vec<Option<(CallTxn, ModelCall)>> = (0..CITIES.len()).map(|_| None).collect();
    let mut registered = BTreeSet::new();

    for op in ops {
        let c = match &op {
            Op::Get(c, _)
            | Op::GetMany(c, _)
            | Op::Exists(c, _)
            | Op::Set(c, _, _)
            | Op::Delete(c, _)
            | Op::Increment(c, _, _)
            | Op::ListKeys(c)
            | Op::Commit(c)
            | Op::Interfere(c, _, _) => *c,
        };
        if !matches!(op, Op::Commit(_) | Op::Interfere(..)) && calls[c].is_none() {
            let txn = CallTxn::begin(backend.clone(), CITIES[c]).map_err(fail)?;
            let model = ModelCall {
                base: committed[c].clone(),
                ..ModelCall::default()
            };
            calls[c] = Some((txn, model));
        }
        let now = &committed[c];
        match op {
            Op::Get(_, k) | Op::Exists(_, k) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                let expected = model.read(KEYS[k], now, reads);
                if matches!(op, Op::Get(..)) {
                    prop_assert_eq!(txn.get(KEYS[k]).map_err(fail)?, expected);
                } else {
                    prop_assert_eq!(txn.exists(KEYS[k]).map_err(fail)?, expected.is_some());
                }
            }
            Op::GetMany(_, ks) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                let keys: Vec<String> = ks.iter().map(|k| KEYS[*k].to_owned()).collect();
                let expected: Vec<_> = keys.iter().map(|k| model.read(k, now, reads)).collect();
                prop_assert_eq!(txn.get_many(&keys).map_err(fail)?, expected);
            }
            Op::Set(_, k, v) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                txn.set(KEYS[k].to_owned(), v.clone());
                model.write(KEYS[k], Some(v));
            }
            Op::Delete(_, k) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                txn.delete(KEYS[k].to_owned());
                model.write(KEYS[k], None);
            }
            Op::Increment(_, k, d) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                let key = KEYS[k];
                let current = match model.read(key, now, reads) {
                    None => Some(0),
                    Some(v) if !v.is_empty() && v.iter().all(u8::is_ascii_digit) => {
                        std::str::from_utf8(&v)
                            .ok()
                            .and_then(|s| s.parse::<u64>().ok())
                    }
                    Some(_) => None,
                };
                let expected = current.and_then(|n| n.checked_add(d));
                match (txn.increment(key, d), expected) {
                    (Ok(got), Some(want)) => {
                        prop_assert_eq!(got, want);
                        model.write(key, Some(want.to_string().into_bytes()));
                    }
                    (Err(StoreError::BadValue(_)), None) => model.failed = true,
                    (got, want) => prop_assert!(false, "increment: {:?} vs {:?}", got, want),
                }
            }
            Op::ListKeys(_) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                let (keys, cursor) = txn.list_keys(None).map_err(fail)?;
                prop_assert_eq!(cursor, None);
                prop_assert_eq!(keys, model.list(now, reads));
            }
            Op::Commit(_) => {
                let Some((txn, model)) = calls[c].take() else {
                    continue;
                };
                let result = txn.commit();
                if model.failed {
                    prop_assert!(
                        matches!(result, Err(StoreError::BadValue(_))),
                        "{:?}",
                        result
                    );
                } else if model.writes.is_empty() {
                    prop_assert_eq!(result, Ok(false));
                } else if model.stale(now) {
                    prop_assert_eq!(result, Err(StoreError::Conflict));
                } else {
                    prop_assert_eq!(result, Ok(true));
                    for (key, value) in model.writes {
                        match value {
                            Some(value) => committed[c].insert(key, value),
                            None => committed[c].remove(&key),
                        };
                    }
                    registered.insert(c);
                }
            }
            Op::Interfere(_, k, v) => {
                let mut other = CallTxn::begin(backend.clone(), CITIES[c]).map_err(fail)?;
                other.set(KEYS[k].to_owned(), v.clone());
                prop_assert_eq!(other.commit(), Ok(true));
                committed[c].insert(KEYS[k].to_owned(), v);
                registered.insert(c);
            }
        }
    }
    for (c, map) in committed.iter().enumerate() {
        let mut txn = CallTxn::begin(backend.clone(), CITIES[c]).map_err(fail)?;
        let (keys, _) = txn.list_keys(None).map_err(fail)?;
        prop_assert_eq!(keys, map.keys().cloned().collect::<Vec<_>>());
        for key in KEYS {
            prop_assert_eq!(txn.get(key).map_err(fail)?, map.get(key).cloned());
        }
    }
    let registered: BTreeSet<&str> = registered.iter().map(|c| CITIES[*c]).collect();
    prop_assert_eq!(
        backend.cities().map_err(fail)?,
        registered.into_iter().collect::<Vec<_>>()
    );
    Ok(())
}

fn fail(err: StoreError) -> TestCaseError {
    TestCaseError::fail(err.to_string())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn memory_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        if let Some(f) = memory() {
            run(f.backend.clone(), Reads::Snapshot, ops)?;
        }
    }

    #[test]
    fn redb_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        if let Some(f) = redb() {
            run(f.backend.clone(), Reads::Snapshot, ops)?;
        }
    }

    #[test]
    fn redis_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        if let Some(f) = redis() {
            run(f.backend.clone(), Reads::Committed, ops)?;
        }
    }
}

// ---- Redis only: threads, outages ----

#[test]
fn redis_serves_plain_threads_and_spawn_blocking() -> TestResult {
    let Some(f) = redis() else {
        return Ok(());
    };
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let f = &f;
                scope.spawn(move || put(f, "c", &[(&format!("plain{t}"), b"x")]))
            })
            .collect();
        threads
            .into_iter()
            .try_for_each(|t| t.join().expect("thread"))
    })?;
    // The HTTP server calls the store from `spawn_blocking` threads of its runtime.
    let runtimes = [
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
    ];
    for (i, runtime) in runtimes.into_iter().enumerate() {
        let runtime = runtime.expect("runtime");
        let backend = f.backend.clone();
        let key = format!("blocking{i}");
        let got = runtime.block_on(async move {
            tokio::task::spawn_blocking(move || {
                let mut txn = CallTxn::begin(backend.clone(), "c")?;
                txn.set(key.clone(), b"y".to_vec());
                txn.commit()?;
                CallTxn::begin(backend, "c")?.get(&key)
            })
            .await
            .expect("spawn_blocking")
        })?;
        assert_eq!(got, Some(b"y".to_vec()));
        // Dropping a backend inside async code must not panic (its runtime shuts down in the background).
        let url = test_redis_url().expect("url");
        runtime.block_on(async move {
            drop(RedisBackend::open_with_prefix(&url, &unique_prefix()));
        });
    }
    assert_eq!(
        all_keys(&f, "c")?,
        [
            "blocking0",
            "blocking1",
            "plain0",
            "plain1",
            "plain2",
            "plain3"
        ]
    );
    Ok(())
}

#[test]
fn redis_outage_fails_cleanly_then_recovers() -> TestResult {
    let Some(mut server) = RedisServer::start(None) else {
        return Ok(());
    };
    let f = Fixture::new(Arc::new(RedisBackend::open(&server.url())?));
    put(&f, "c", &[("k", b"1")])?;
    let mut pending = begin(&f, "c");
    pending.increment("k", 1)?;

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let Err(StoreError::Backend(message)) = read(&f, "c", "k") else {
            panic!("read while Redis is down");
        };
        assert!(message.starts_with("redis: "), "{message}");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "took {:?}",
            started.elapsed()
        );
    }
    let Err(StoreError::Backend(message)) = pending.commit() else {
        panic!("commit while Redis is down");
    };
    assert!(message.starts_with("redis: "), "{message}");
    assert!(f.backend.cities().is_err());

    // Back (empty: no persistence): the very next call works, on the same backend.
    server.restart().expect("restart");
    assert_eq!(read(&f, "c", "k")?, None);
    put(&f, "c", &[("k", b"2")])?;
    assert_eq!(read(&f, "c", "k")?, Some(b"2".to_vec()));
    Ok(())
}
