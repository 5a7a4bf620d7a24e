//! What the layout costs per fact, counted rather than timed: key reads and
//! writes per fact in each commit, and keys stored per fact, for the native
//! engine on the memory store (the same guest code the component runs).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use usage_host::store::{Backend, MemoryBackend, ReadSet, Snapshot, StoreError, WriteSet};

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
    }
    Ok(())
}

/// The memory backend, counting the reads and writes each commit carries.
struct Counting {
    inner: MemoryBackend,
    reads: AtomicU64,
    writes: AtomicU64,
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
        self.inner.commit(city, reads, writes)
    }

    fn cities(&self) -> Result<Vec<String>, StoreError> {
        self.inner.cities()
    }
}
