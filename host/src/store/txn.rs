//! One guest call = one atomic unit: reads come from a snapshot (plus this
//! call's own writes), writes are buffered, and the host commits them all at the
//! end, only if nothing the call read has changed since (optimistic concurrency).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Backend, ReadSet, Snapshot, StoreError, Write, WriteSet};

/// How many keys one `list-keys` page holds.
pub const LIST_PAGE: usize = 1000;

/// The storage side of one guest call for one city.
pub struct CallTxn {
    backend: Arc<dyn Backend>,
    city: String,
    snapshot: Box<dyn Snapshot>,
    reads: ReadSet,
    writes: WriteSet,
    /// The first failure the guest saw; a call that saw one never commits.
    failure: Option<StoreError>,
    /// A call that only reads: nothing to validate at commit, so reads are
    /// not recorded, and a write is refused.
    read_only: bool,
}

impl CallTxn {
    pub fn begin(backend: Arc<dyn Backend>, city: &str) -> Result<Self, StoreError> {
        let snapshot = backend.snapshot(city)?;
        let reads = ReadSet {
            snapshot_version: snapshot.version(),
            ..ReadSet::default()
        };
        Ok(Self {
            backend,
            city: city.to_owned(),
            snapshot,
            reads,
            writes: WriteSet::new(),
            failure: None,
            read_only: false,
        })
    }

    /// A transaction for a call that only reads (`events`, `summary`, `me`):
    /// the same snapshot, without the read set a commit would check.
    pub fn begin_read(backend: Arc<dyn Backend>, city: &str) -> Result<Self, StoreError> {
        let mut txn = Self::begin(backend, city)?;
        txn.read_only = true;
        Ok(txn)
    }

    /// A transaction that sees nothing and commits nothing: what a kept
    /// instance holds between its calls, so no call can reach the store then.
    pub fn idle(backend: Arc<dyn Backend>, city: &str) -> Self {
        Self {
            backend,
            city: city.to_owned(),
            snapshot: Box::new(Idle),
            reads: ReadSet::default(),
            writes: WriteSet::new(),
            failure: None,
            read_only: false,
        }
    }

    /// Hands over this transaction and leaves an idle one in its place.
    pub fn take(&mut self) -> CallTxn {
        let idle = CallTxn::idle(self.backend.clone(), &self.city);
        std::mem::replace(self, idle)
    }

    pub fn city(&self) -> &str {
        &self.city
    }

    /// Reads through this call's writes, then the snapshot (recording what was seen).
    pub fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self.read(key);
        self.track(result)
    }

    /// [`CallTxn::get`] for many keys, fetching the ones not yet seen with one
    /// [`Snapshot::get_many`] (one round trip on a networked store).
    pub fn get_many(&mut self, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if self.read_only {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let result = self.snapshot.get_many(&keys).and_then(|values| {
                if values.len() == keys.len() {
                    Ok(values)
                } else {
                    Err(wrong_count(keys.len(), values.len()))
                }
            });
            return self.track(result);
        }
        let result = self.fetch_unseen(keys);
        self.track(result)?;
        keys.iter().map(|key| self.get(key)).collect()
    }

    pub fn exists(&mut self, key: &str) -> Result<bool, StoreError> {
        Ok(self.get(key)?.is_some())
    }

    pub fn set(&mut self, key: String, value: Vec<u8>) {
        if self.refuse_write() {
            return;
        }
        self.writes.insert(key, Write::Put(value));
    }

    pub fn delete(&mut self, key: String) {
        if self.refuse_write() {
            return;
        }
        self.writes.insert(key, Write::Delete);
    }

    /// In a read-only call a write is a failure the call cannot commit past.
    fn refuse_write(&mut self) -> bool {
        if self.read_only && self.failure.is_none() {
            self.failure = Some(StoreError::Backend(
                "a read-only call tried to write".to_owned(),
            ));
        }
        self.read_only
    }

    /// Adds `delta` to the decimal ASCII `u64` at `key` (missing = 0) and returns the sum.
    pub fn increment(&mut self, key: &str, delta: u64) -> Result<u64, StoreError> {
        if self.refuse_write() {
            return Err(StoreError::Backend(
                "a read-only call tried to write".to_owned(),
            ));
        }
        let result = self.read(key).and_then(|current| {
            let current = match current {
                None => 0,
                Some(bytes) => parse_counter(key, &bytes)?,
            };
            current.checked_add(delta).ok_or_else(|| {
                StoreError::BadValue(format!("incrementing key {key:?} by {delta} overflows u64"))
            })
        });
        let sum = self.track(result)?;
        self.set(key.to_owned(), sum.to_string().into_bytes());
        Ok(sum)
    }

    /// One page of the namespace's keys (committed merged with this call's writes),
    /// in byte order; the cursor is an offset. Meant for small buckets only.
    pub fn list_keys(
        &mut self,
        cursor: Option<u64>,
    ) -> Result<(Vec<String>, Option<u64>), StoreError> {
        if self.reads.keys.is_none() {
            let keys = self.snapshot.keys();
            self.reads.keys = Some(self.track(keys)?);
        }
        let mut merged: BTreeSet<&str> = self
            .reads
            .keys
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();
        for (key, write) in &self.writes {
            match write {
                Write::Put(_) => merged.insert(key),
                Write::Delete => merged.remove(key.as_str()),
            };
        }
        let start = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
        let page: Vec<String> = merged
            .iter()
            .skip(start)
            .take(LIST_PAGE)
            .map(|key| (*key).to_owned())
            .collect();
        let end = start.saturating_add(page.len());
        let next = (end < merged.len()).then(|| u64::try_from(end).unwrap_or(u64::MAX));
        Ok((page, next))
    }

    pub fn has_writes(&self) -> bool {
        !self.writes.is_empty()
    }

    /// The first storage failure the guest was told about during this call.
    pub fn failure(&self) -> Option<&StoreError> {
        self.failure.as_ref()
    }

    /// Commits the buffered writes atomically; `Ok(false)` if there were none.
    /// Fails with the call's earlier failure, if any, without writing anything.
    pub fn commit(self) -> Result<bool, StoreError> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        if self.writes.is_empty() {
            return Ok(false);
        }
        // Release the snapshot first: an in-memory backend copies on write while one is alive.
        drop(self.snapshot);
        self.backend.commit(&self.city, &self.reads, &self.writes)?;
        Ok(true)
    }

    fn read(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if let Some(write) = self.writes.get(key) {
            return Ok(match write {
                Write::Put(value) => Some(value.clone()),
                Write::Delete => None,
            });
        }
        if let Some(seen) = self.reads.values.get(key) {
            return Ok(seen.clone());
        }
        if self.read_only {
            return self.snapshot.get(key);
        }
        let value = self.snapshot.get(key)?;
        self.reads.values.insert(key.to_owned(), value.clone());
        Ok(value)
    }

    /// Reads into the read set every key that is neither written nor read yet.
    fn fetch_unseen(&mut self, keys: &[String]) -> Result<(), StoreError> {
        let mut unseen: Vec<&str> = keys
            .iter()
            .map(String::as_str)
            .filter(|key| !self.writes.contains_key(*key) && !self.reads.values.contains_key(*key))
            .collect();
        unseen.sort_unstable();
        unseen.dedup();
        if unseen.is_empty() {
            return Ok(());
        }
        let values = self.snapshot.get_many(&unseen)?;
        if values.len() != unseen.len() {
            return Err(wrong_count(unseen.len(), values.len()));
        }
        for (key, value) in unseen.into_iter().zip(values) {
            self.reads.values.insert(key.to_owned(), value);
        }
        Ok(())
    }

    fn track<T>(&mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(err) = &result {
            self.failure.get_or_insert_with(|| err.clone());
        }
        result
    }
}

/// The snapshot of an idle transaction: every read fails.
struct Idle;

impl Snapshot for Idle {
    fn get(&self, _key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err(idle_error())
    }

    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        Err(idle_error())
    }
}

fn idle_error() -> StoreError {
    StoreError::Backend("no call is in progress on this instance".to_owned())
}

/// Counters are decimal ASCII, as wasmtime's own store and Redis keep them.
fn parse_counter(key: &str, bytes: &[u8]) -> Result<u64, StoreError> {
    let not_a_number = || {
        StoreError::BadValue(format!(
            "cannot increment key {key:?}: its value is not a decimal u64"
        ))
    };
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(not_a_number());
    }
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(not_a_number)
}

fn wrong_count(asked: usize, got: usize) -> StoreError {
    StoreError::Backend(format!("asked for {asked} keys, got {got} values"))
}
