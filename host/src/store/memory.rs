//! `memory:` — maps behind a lock, for tests and demos. Each city's map sits
//! behind an `Arc`, so a snapshot is a cheap clone and a commit copies the map
//! only if a snapshot of it is still alive.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, PoisonError, RwLock};

use super::namespace::Namespace;
use super::{Backend, ReadSet, Snapshot, StoreError, Write, WriteSet, validate};

type CityMap = BTreeMap<String, Vec<u8>>;

#[derive(Default)]
pub struct MemoryBackend {
    cities: RwLock<BTreeMap<String, Arc<CityMap>>>,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }
}

struct MemorySnapshot(Arc<CityMap>);

impl Snapshot for MemorySnapshot {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(key).cloned())
    }

    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        Ok(self.0.keys().cloned().collect())
    }
}

impl Backend for MemoryBackend {
    fn snapshot(&self, city: &str) -> Result<Box<dyn Snapshot>, StoreError> {
        Namespace::new(city)?;
        // Only map inserts run under the write lock; they do not panic, so a
        // poisoned lock still guards consistent data.
        let cities = self.cities.read().unwrap_or_else(PoisonError::into_inner);
        let map = cities.get(city).cloned().unwrap_or_default();
        Ok(Box::new(MemorySnapshot(map)))
    }

    fn commit(&self, city: &str, reads: &ReadSet, writes: &WriteSet) -> Result<(), StoreError> {
        Namespace::new(city)?;
        let mut cities = self.cities.write().unwrap_or_else(PoisonError::into_inner);
        let empty = CityMap::new();
        let current = cities.get(city).map_or(&empty, |map| map.as_ref());
        validate(
            reads,
            |key| Ok(current.get(key).cloned()),
            || Ok(current.keys().cloned().collect()),
        )?;
        if writes.is_empty() {
            return Ok(());
        }
        let map = Arc::make_mut(cities.entry(city.to_owned()).or_default());
        for (key, write) in writes {
            match write {
                Write::Put(value) => map.insert(key.clone(), value.clone()),
                Write::Delete => map.remove(key),
            };
        }
        Ok(())
    }

    fn cities(&self) -> Result<Vec<String>, StoreError> {
        let cities = self.cities.read().unwrap_or_else(PoisonError::into_inner);
        Ok(cities.keys().cloned().collect())
    }
}
