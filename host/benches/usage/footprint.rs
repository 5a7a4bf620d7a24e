//! What the layout costs per fact, counted rather than timed: key reads and
//! writes per fact in each commit (in all, and bytes and keys by kind), and
//! keys stored per fact, for the native engine on the memory store (the same
//! guest code the component runs).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use usage_host::store::{Backend, MemoryBackend, ReadSet, Snapshot, StoreError, Write, WriteSet};

use crate::Size;
use crate::engines::{CITY, Engine, Native};
use crate::facts::Generator;
use crate::report::{Report, fmt};

pub fn run(size: &Size, report: &mut Report) -> anyhow::Result<()> {
    for &n in size.loads.iter().filter(|n| **n <= 100_000) {
        let counting = Arc::new(Counting {
            inner: MemoryBackend::new(),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            kinds: Mutex::new(BTreeMap::new()),
        });
        let mut engine = Native {
            backend: counting.clone(),
        };
        let mut generator = Generator::new(0x5eed, n);
        let mut done = 0;
        while done < n {
            let count = 1000.min(n - done);
            engine.ingest(&generator.take(count as usize))?;
            done += count;
        }
        let stored = counting.inner.snapshot(CITY)?.keys()?.len() as f64;
        let per = |v: &AtomicU64| v.load(Ordering::Relaxed) as f64 / n as f64;
        report.add(
            "Layout",
            format!("batches of 1000, {} facts", fmt(n as f64)),
            per(&counting.writes),
            "key writes/fact",
            format!(
                "{:.1} key reads/fact validated at commit; {:.1} keys stored/fact",
                per(&counting.reads),
                stored / n as f64
            ),
        );
        let kinds = counting
            .kinds
            .lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?;
        let bytes: u64 = kinds.values().map(|(_, b)| b).sum();
        let by_kind: Vec<String> = kinds
            .iter()
            .map(|(kind, (keys, bytes))| {
                format!(
                    "{kind}: {:.2} keys, {:.0} B",
                    *keys as f64 / n as f64,
                    *bytes as f64 / n as f64
                )
            })
            .collect();
        report.add(
            "Layout",
            format!("bytes written per fact, {} facts", fmt(n as f64)),
            bytes as f64 / n as f64,
            "bytes/fact",
            format!("by key kind: {}", by_kind.join("; ")),
        );
    }
    Ok(())
}

/// The memory backend, counting the reads and writes each commit carries.
struct Counting {
    inner: MemoryBackend,
    reads: AtomicU64,
    writes: AtomicU64,
    /// Key kind (the key up to its first `/`) → keys and bytes (key + value) written.
    kinds: Mutex<BTreeMap<String, (u64, u64)>>,
}

impl Backend for Counting {
    fn snapshot(&self, city: &str) -> Result<Box<dyn Snapshot>, StoreError> {
        self.inner.snapshot(city)
    }

    fn commit(&self, city: &str, reads: &ReadSet, writes: &WriteSet) -> Result<(), StoreError> {
        self.reads
            .fetch_add(reads.values.len() as u64, Ordering::Relaxed);
        self.writes
            .fetch_add(writes.len() as u64, Ordering::Relaxed);
        if let Ok(mut kinds) = self.kinds.lock() {
            for (key, write) in writes {
                let kind = key.split('/').next().unwrap_or_default();
                let value = match write {
                    Write::Put(v) => v.len(),
                    Write::Delete => 0,
                };
                let slot = kinds.entry(kind.to_owned()).or_default();
                slot.0 += 1;
                slot.1 += (key.len() + value) as u64;
            }
        }
        self.inner.commit(city, reads, writes)
    }

    fn cities(&self) -> Result<Vec<String>, StoreError> {
        self.inner.cities()
    }
}
