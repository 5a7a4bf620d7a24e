//! One conformance suite run against every backend, plus a property test
//! comparing each backend with a `BTreeMap` model over random operation sequences.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use proptest::prelude::*;
use tempfile::TempDir;

use super::{Backend, CallTxn, LIST_PAGE, MemoryBackend, RedbBackend, StoreError};

type TestResult = Result<(), StoreError>;

/// A backend under test; the temp dir (if any) lives as long as it does.
struct Fixture {
    backend: Arc<dyn Backend>,
    _dir: Option<TempDir>,
}

fn memory() -> Fixture {
    Fixture {
        backend: Arc::new(MemoryBackend::new()),
        _dir: None,
    }
}

fn redb() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = RedbBackend::open(&dir.path().join("nested/usage.redb")).expect("open redb");
    Fixture {
        backend: Arc::new(backend),
        _dir: Some(dir),
    }
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
            #[test] fn get_set_delete_exists() -> super::TestResult { super::get_set_delete_exists(&super::$backend()) }
            #[test] fn reads_see_own_writes() -> super::TestResult { super::reads_see_own_writes(&super::$backend()) }
            #[test] fn increment_counts_in_decimal() -> super::TestResult { super::increment_counts_in_decimal(&super::$backend()) }
            #[test] fn increment_rejects_non_decimal() -> super::TestResult { super::increment_rejects_non_decimal(&super::$backend()) }
            #[test] fn increment_rejects_overflow() -> super::TestResult { super::increment_rejects_overflow(&super::$backend()) }
            #[test] fn list_keys_pages_and_edges() -> super::TestResult { super::list_keys_pages_and_edges(&super::$backend()) }
            #[test] fn list_keys_merges_own_writes() -> super::TestResult { super::list_keys_merges_own_writes(&super::$backend()) }
            #[test] fn namespaces_are_isolated() -> super::TestResult { super::namespaces_are_isolated(&super::$backend()) }
            #[test] fn commit_is_all_or_nothing() -> super::TestResult { super::commit_is_all_or_nothing(&super::$backend()) }
            #[test] fn changed_reads_conflict() -> super::TestResult { super::changed_reads_conflict(&super::$backend()) }
            #[test] fn changed_listing_conflicts() -> super::TestResult { super::changed_listing_conflicts(&super::$backend()) }
            #[test] fn blind_writes_do_not_conflict() -> super::TestResult { super::blind_writes_do_not_conflict(&super::$backend()) }
            #[test] fn cities_register_on_first_write() -> super::TestResult { super::cities_register_on_first_write(&super::$backend()) }
            #[test] fn rejects_bad_city_names() { super::rejects_bad_city_names(&super::$backend()) }
        }
    )*};
}

conformance!(memory, redb);

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
fn redb_persists_across_reopen() -> TestResult {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("usage.redb");
    {
        let f = Fixture {
            backend: Arc::new(RedbBackend::open(&path)?),
            _dir: None,
        };
        put(&f, "c", &[("k", b"v")])?;
        let mut txn = begin(&f, "c");
        txn.increment("n", 3)?;
        txn.commit()?;
    }
    let f = Fixture {
        backend: Arc::new(RedbBackend::open(&path)?),
        _dir: None,
    };
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

/// The model of one open call: the committed state it started from, its own
/// view, and what it read from the start state (which decides conflicts).
#[derive(Default)]
struct ModelCall {
    base: Map,
    view: Map,
    written: BTreeSet<String>,
    read_from_base: BTreeSet<String>,
    listed: bool,
    failed: bool,
}

impl ModelCall {
    fn read(&mut self, key: &str) -> Option<Vec<u8>> {
        if !self.written.contains(key) {
            self.read_from_base.insert(key.to_owned());
        }
        self.view.get(key).cloned()
    }

    fn stale(&self, now: &Map) -> bool {
        self.read_from_base
            .iter()
            .any(|k| self.base.get(k) != now.get(k))
            || (self.listed && !self.base.keys().eq(now.keys()))
    }
}

fn run(backend: Arc<dyn Backend>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut committed: Vec<Map> = vec![Map::new(); CITIES.len()];
    let mut calls: Vec<Option<(CallTxn, ModelCall)>> = (0..CITIES.len()).map(|_| None).collect();
    let mut registered = BTreeSet::new();

    for op in ops {
        let c = match &op {
            Op::Get(c, _)
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
                view: committed[c].clone(),
                ..ModelCall::default()
            };
            calls[c] = Some((txn, model));
        }
        match op {
            Op::Get(_, k) | Op::Exists(_, k) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                let expected = model.read(KEYS[k]);
                if matches!(op, Op::Get(..)) {
                    prop_assert_eq!(txn.get(KEYS[k]).map_err(fail)?, expected);
                } else {
                    prop_assert_eq!(txn.exists(KEYS[k]).map_err(fail)?, expected.is_some());
                }
            }
            Op::Set(_, k, v) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                txn.set(KEYS[k].to_owned(), v.clone());
                model.view.insert(KEYS[k].to_owned(), v);
                model.written.insert(KEYS[k].to_owned());
            }
            Op::Delete(_, k) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                txn.delete(KEYS[k].to_owned());
                model.view.remove(KEYS[k]);
                model.written.insert(KEYS[k].to_owned());
            }
            Op::Increment(_, k, d) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                let key = KEYS[k];
                let current = match model.read(key) {
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
                        model
                            .view
                            .insert(key.to_owned(), want.to_string().into_bytes());
                        model.written.insert(key.to_owned());
                    }
                    (Err(StoreError::BadValue(_)), None) => model.failed = true,
                    (got, want) => prop_assert!(false, "increment: {:?} vs {:?}", got, want),
                }
            }
            Op::ListKeys(_) => {
                let Some((txn, model)) = calls[c].as_mut() else {
                    continue;
                };
                model.listed = true;
                let (keys, cursor) = txn.list_keys(None).map_err(fail)?;
                prop_assert_eq!(cursor, None);
                prop_assert_eq!(keys, model.view.keys().cloned().collect::<Vec<_>>());
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
                } else if model.written.is_empty() {
                    prop_assert_eq!(result, Ok(false));
                } else if model.stale(&committed[c]) {
                    prop_assert_eq!(result, Err(StoreError::Conflict));
                } else {
                    prop_assert_eq!(result, Ok(true));
                    for key in &model.written {
                        match model.view.get(key) {
                            Some(value) => committed[c].insert(key.clone(), value.clone()),
                            None => committed[c].remove(key),
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
        run(memory().backend, ops)?;
    }

    #[test]
    fn redb_matches_model(ops in prop::collection::vec(op(), 1..60)) {
        let f = redb();
        run(f.backend.clone(), ops)?;
    }
}
