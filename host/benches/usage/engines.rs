//! The ingest engines compared: the wasm guest through the runtime, the same
//! guest logic compiled natively over the same store, SQLite, and raw inserts
//! into the embedded store. Each takes a batch of facts and makes it durable
//! as one commit.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use usage_guest::codec::StoredEvent;
use usage_host::runtime::Runtime;
use usage_host::store::{Backend, ReadSet, Write, WriteSet};

use crate::facts::Spec;
use crate::sqlite::Sqlite;

/// Something facts are recorded into, one commit per call.
pub trait Engine {
    /// Records `batch` (one commit; a batch of one is a single `record`).
    fn ingest(&mut self, batch: &[Spec]) -> anyhow::Result<()>;
}

pub const CITY: &str = "bench";

/// The real thing: the wasm component, a fresh instance per call.
pub struct Wasm {
    pub runtime: Runtime,
}

impl Engine for Wasm {
    fn ingest(&mut self, batch: &[Spec]) -> anyhow::Result<()> {
        let city = self.runtime.city(CITY)?;
        if let [one] = batch {
            let receipt = city.record(one.to_host())?;
            anyhow::ensure!(receipt.is_ok(), "a fact was rejected: {receipt:?}");
        } else {
            let answers = city.record_batch(batch.iter().map(Spec::to_host).collect())?;
            anyhow::ensure!(answers.iter().all(Result::is_ok), "a fact was rejected");
        }
        Ok(())
    }
}

/// The guest's ingest logic compiled natively, over the host's per-call
/// transaction on the same backend: what the wasm boundary costs.
pub struct Native {
    pub backend: Arc<dyn Backend>,
}

impl Engine for Native {
    fn ingest(&mut self, batch: &[Spec]) -> anyhow::Result<()> {
        let facts = batch.iter().map(Spec::to_guest).collect();
        crate::native::record_batch(&self.backend, CITY, facts)
    }
}

/// The store's limit: each fact's encoded event under its own key, no
/// indexes, no counters, one commit per batch through the same backend.
pub struct Raw {
    pub backend: Arc<dyn Backend>,
    pub next: u64,
}

impl Engine for Raw {
    fn ingest(&mut self, batch: &[Spec]) -> anyhow::Result<()> {
        let now = usage_host::timestamp::now();
        let mut writes = WriteSet::new();
        for spec in batch {
            self.next += 1;
            let event = StoredEvent::from_fact(&spec.to_guest(), self.next, CITY, now);
            writes.insert(format!("e/{}", self.next), Write::Put(event.encode()));
        }
        self.backend.commit(CITY, &ReadSet::default(), &writes)?;
        Ok(())
    }
}

impl Engine for Sqlite {
    fn ingest(&mut self, batch: &[Spec]) -> anyhow::Result<()> {
        self.insert(batch)
    }
}

/// Removes a scratch file and its SQLite side files, if present.
pub fn remove_scratch(path: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = Path::new(&name);
        if file.exists() {
            std::fs::remove_file(file).with_context(|| format!("removing {}", file.display()))?;
        }
    }
    Ok(())
}
