//! Storage backends behind one trait, and the per-call transaction over them.
//!
//! Every city's keys live in their own namespace; a backend sees whole-call
//! commits (`Backend::commit`) validated against what the call read, so
//! concurrent writers (several processes sharing Redis too) never lose an update.

mod embedded;
mod faulty;
mod memory;
mod namespace;
mod redis;
#[doc(hidden)]
pub mod testing;
mod txn;
mod url;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub use self::redis::RedisBackend;
pub use embedded::RedbBackend;
pub use memory::MemoryBackend;
pub use txn::{CallTxn, LIST_PAGE};
pub use url::{StoreUrl, StoreUrlError};

/// Why a storage operation failed. Backends map their own errors into these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A key the call read changed before the call committed; retry the whole call.
    #[error("the stored data changed during the call; retry it")]
    Conflict,
    /// The city name cannot be used as a namespace.
    #[error("invalid city name {0:?}")]
    InvalidCity(String),
    /// A stored value cannot be used as asked (e.g. incrementing a non-number).
    #[error("{0}")]
    BadValue(String),
    /// The backend itself failed (I/O, corruption, lock held by another process).
    #[error("storage failure: {0}")]
    Backend(String),
}

/// One buffered write of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put(Vec<u8>),
    Delete,
}

/// Writes of one call, by key (the last write to a key wins).
pub type WriteSet = BTreeMap<String, Write>;

/// What a call observed; the commit fails with [`StoreError::Conflict`] if any of it changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadSet {
    /// Each key read from committed state, with the value seen (`None`: absent).
    pub values: BTreeMap<String, Option<Vec<u8>>>,
    /// The snapshot's [`Snapshot::version`]: lets a backend that knows nothing
    /// was committed since skip re-reading `values`.
    pub snapshot_version: Option<u64>,
    /// The namespace's committed key set, if the call listed keys.
    pub keys: Option<BTreeSet<String>>,
}

impl ReadSet {
    pub fn is_empty(&self) -> bool {
        self.values.is_empty() && self.keys.is_none()
    }
}

/// A consistent read-only view of one city's committed keys.
pub trait Snapshot: Send {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// One value per key, in order. Networked stores answer it in one round trip.
    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        keys.iter().map(|key| self.get(key)).collect()
    }
    /// Every committed key of the namespace, in byte order.
    fn keys(&self) -> Result<BTreeSet<String>, StoreError>;
    /// A count of the backend's commits when the snapshot was taken, for a
    /// backend that can tell from it that nothing changed since (see
    /// [`ReadSet::snapshot_version`]); `None`: always validate.
    fn version(&self) -> Option<u64> {
        None
    }
}

/// A key-value store holding one namespace per city.
pub trait Backend: Send + Sync {
    /// A consistent view of `city`'s committed state.
    fn snapshot(&self, city: &str) -> Result<Box<dyn Snapshot>, StoreError>;
    /// Applies `writes` atomically if nothing in `reads` changed; otherwise
    /// [`StoreError::Conflict`] and nothing is written. Registers the city.
    fn commit(&self, city: &str, reads: &ReadSet, writes: &WriteSet) -> Result<(), StoreError>;
    /// Cities that have committed at least one write, sorted.
    fn cities(&self) -> Result<Vec<String>, StoreError>;
}

/// Opens the backend a store URL names.
pub fn open_store(url: &StoreUrl) -> anyhow::Result<Arc<dyn Backend>> {
    match url {
        StoreUrl::Memory => Ok(Arc::new(MemoryBackend::new())),
        StoreUrl::Redb(path) => Ok(Arc::new(RedbBackend::open(path)?)),
        StoreUrl::Redis(url) => Ok(Arc::new(RedisBackend::open(url)?)),
    }
}

/// Checks that `reads` still hold in `current` (used by backends inside their commit).
fn validate(
    reads: &ReadSet,
    mut current_value: impl FnMut(&str) -> Result<Option<Vec<u8>>, StoreError>,
    current_keys: impl FnOnce() -> Result<BTreeSet<String>, StoreError>,
) -> Result<(), StoreError> {
    for (key, seen) in &reads.values {
        if current_value(key)? != *seen {
            return Err(StoreError::Conflict);
        }
    }
    if let Some(seen) = &reads.keys
        && current_keys()? != *seen
    {
        return Err(StoreError::Conflict);
    }
    Ok(())
}
