//! A backend wrapper that fails chosen operations on purpose, for tests of what
//! the runtime and the component do when storage breaks: an error on the Nth
//! read or commit, a commit that is applied but answered with an error (a lost
//! acknowledgement), or a read that is slow enough to blow a call's deadline.
//!
//! Faults are armed on a shared [`Faults`] handle, fire once (or until healed),
//! and every operation is counted, so a test can first measure how many reads
//! a call makes and then fail each one in turn.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::{Backend, ReadSet, Snapshot, StoreError, WriteSet};

/// The operations a fault can target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Opening a consistent view (`Backend::snapshot`), once per call.
    Snapshot,
    /// One `get`, `get_many` or `keys` on a snapshot.
    Read,
    /// `Backend::commit`.
    Commit,
}

/// What happens when an armed fault fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The operation fails with a backend error and does nothing.
    Fail,
    /// Commit only: the writes are applied, then a backend error is returned,
    /// as when a connection drops after the server committed.
    ApplyThenFail,
    /// The operation sleeps this long, then proceeds normally.
    Delay(Duration),
}

/// The message of every injected failure, so tests can recognise it.
pub const INJECTED: &str = "injected fault";

#[derive(Debug, Clone, Copy)]
struct Armed {
    op: Op,
    /// Fires on the operation whose count (since arming) reaches this; 1 = the next one.
    at: u64,
    effect: Effect,
    /// Keeps firing on every later operation of the kind until healed.
    sticky: bool,
}

/// The test's handle: arms faults and reads the operation counts.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Mutex<Vec<(Armed, u64)>>,
    snapshots: AtomicU64,
    reads: AtomicU64,
    commits: AtomicU64,
    fired: AtomicU64,
}

impl Faults {
    /// The `n`-th operation of kind `op` from now (1 = the next) gets `effect`, once.
    pub fn on_nth(&self, op: Op, n: u64, effect: Effect) {
        self.arm(Armed {
            op,
            at: n.max(1),
            effect,
            sticky: false,
        });
    }

    /// Every operation of kind `op` from the `n`-th on gets `effect`, until [`Faults::heal`].
    pub fn from_nth(&self, op: Op, n: u64, effect: Effect) {
        self.arm(Armed {
            op,
            at: n.max(1),
            effect,
            sticky: true,
        });
    }

    /// Disarms every fault.
    pub fn heal(&self) {
        self.lock().clear();
    }

    /// Operations of kind `op` seen so far (failed ones included).
    pub fn count(&self, op: Op) -> u64 {
        self.counter(op).load(Ordering::SeqCst)
    }

    /// How many faults have fired so far.
    pub fn fired(&self) -> u64 {
        self.fired.load(Ordering::SeqCst)
    }

    fn arm(&self, armed: Armed) {
        self.lock().push((armed, 0));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Armed, u64)>> {
        self.armed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn counter(&self, op: Op) -> &AtomicU64 {
        match op {
            Op::Snapshot => &self.snapshots,
            Op::Read => &self.reads,
            Op::Commit => &self.commits,
        }
    }

    /// Counts one operation and returns the effect it must suffer, if any.
    fn check(&self, op: Op) -> Option<Effect> {
        self.counter(op).fetch_add(1, Ordering::SeqCst);
        let mut armed = self.lock();
        let mut effect = None;
        armed.retain_mut(|(fault, seen)| {
            if fault.op != op {
                return true;
            }
            *seen += 1;
            let fires = *seen == fault.at || (fault.sticky && *seen > fault.at);
            if fires && effect.is_none() {
                effect = Some(fault.effect);
            }
            fault.sticky || *seen < fault.at
        });
        if effect.is_some() {
            self.fired.fetch_add(1, Ordering::SeqCst);
        }
        effect
    }

    /// Applies a non-commit effect: `Err` for a failure, after sleeping for a delay.
    fn suffer(&self, op: Op) -> Result<(), StoreError> {
        match self.check(op) {
            None => Ok(()),
            Some(Effect::Delay(pause)) => {
                std::thread::sleep(pause);
                Ok(())
            }
            Some(Effect::Fail | Effect::ApplyThenFail) => Err(injected(op)),
        }
    }
}

fn injected(op: Op) -> StoreError {
    StoreError::Backend(format!("{INJECTED} ({op:?})"))
}

/// Wraps any backend; operations pass through unless a fault of [`Faults`] fires.
pub struct FaultyBackend {
    inner: Arc<dyn Backend>,
    faults: Arc<Faults>,
}

impl FaultyBackend {
    pub fn new(inner: Arc<dyn Backend>) -> Self {
        Self {
            inner,
            faults: Arc::new(Faults::default()),
        }
    }

    /// The handle that arms faults on this backend.
    pub fn faults(&self) -> Arc<Faults> {
        self.faults.clone()
    }

    /// The wrapped backend, to inspect the state without faults or counting.
    pub fn inner(&self) -> &Arc<dyn Backend> {
        &self.inner
    }
}

struct FaultySnapshot {
    inner: Box<dyn Snapshot>,
    faults: Arc<Faults>,
}

impl Snapshot for FaultySnapshot {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.faults.suffer(Op::Read)?;
        self.inner.get(key)
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.faults.suffer(Op::Read)?;
        self.inner.get_many(keys)
    }

    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        self.faults.suffer(Op::Read)?;
        self.inner.keys()
    }
}

impl Backend for FaultyBackend {
    fn snapshot(&self, city: &str) -> Result<Box<dyn Snapshot>, StoreError> {
        self.faults.suffer(Op::Snapshot)?;
        Ok(Box::new(FaultySnapshot {
            inner: self.inner.snapshot(city)?,
            faults: self.faults.clone(),
        }))
    }

    fn commit(&self, city: &str, reads: &ReadSet, writes: &WriteSet) -> Result<(), StoreError> {
        match self.faults.check(Op::Commit) {
            None => self.inner.commit(city, reads, writes),
            Some(Effect::Fail) => Err(injected(Op::Commit)),
            Some(Effect::ApplyThenFail) => {
                self.inner.commit(city, reads, writes)?;
                Err(injected(Op::Commit))
            }
            Some(Effect::Delay(pause)) => {
                std::thread::sleep(pause);
                self.inner.commit(city, reads, writes)
            }
        }
    }

    fn cities(&self) -> Result<Vec<String>, StoreError> {
        self.inner.cities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{MemoryBackend, Write};

    fn put(key: &str) -> WriteSet {
        WriteSet::from([(key.to_owned(), Write::Put(b"v".to_vec()))])
    }

    fn keys_of(backend: &dyn Backend) -> BTreeSet<String> {
        backend.snapshot("c").and_then(|s| s.keys()).expect("keys")
    }

    #[test]
    fn the_nth_commit_fails_once_and_writes_nothing() {
        let backend = FaultyBackend::new(Arc::new(MemoryBackend::new()));
        let faults = backend.faults();
        faults.on_nth(Op::Commit, 2, Effect::Fail);
        let none = ReadSet::default();
        backend.commit("c", &none, &put("a")).expect("first");
        let err = backend.commit("c", &none, &put("b")).expect_err("second");
        assert!(err.to_string().contains(INJECTED), "{err}");
        backend.commit("c", &none, &put("c")).expect("third");
        assert_eq!(
            keys_of(backend.inner().as_ref()),
            BTreeSet::from(["a".to_owned(), "c".to_owned()])
        );
        assert_eq!((faults.count(Op::Commit), faults.fired()), (3, 1));
    }

    #[test]
    fn apply_then_fail_stores_the_writes() {
        let backend = FaultyBackend::new(Arc::new(MemoryBackend::new()));
        backend
            .faults()
            .on_nth(Op::Commit, 1, Effect::ApplyThenFail);
        let result = backend.commit("c", &ReadSet::default(), &put("a"));
        assert!(result.is_err());
        assert_eq!(
            keys_of(backend.inner().as_ref()),
            BTreeSet::from(["a".to_owned()])
        );
    }

    #[test]
    fn sticky_read_faults_last_until_healed() {
        let backend = FaultyBackend::new(Arc::new(MemoryBackend::new()));
        let faults = backend.faults();
        faults.from_nth(Op::Read, 2, Effect::Fail);
        let snapshot = backend.snapshot("c").expect("snapshot");
        assert!(snapshot.get("x").is_ok());
        assert!(snapshot.get("x").is_err());
        assert!(snapshot.get_many(&["x"]).is_err());
        assert!(snapshot.keys().is_err());
        faults.heal();
        assert!(snapshot.keys().is_ok());
        assert_eq!((faults.count(Op::Read), faults.fired()), (5, 3));
    }

    #[test]
    fn a_failed_snapshot_is_counted() {
        let backend = FaultyBackend::new(Arc::new(MemoryBackend::new()));
        let faults = backend.faults();
        faults.on_nth(Op::Snapshot, 1, Effect::Fail);
        assert!(backend.snapshot("c").is_err());
        assert!(backend.snapshot("c").is_ok());
        assert_eq!(faults.count(Op::Snapshot), 2);
    }
}
