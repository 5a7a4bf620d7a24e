//! Records per second of `record-batch` (1000 facts with ids per batch) through
//! the runtime, on each store given, and the store operations (round trips on
//! Redis) per batch:
//!
//! ```text
//! cargo run --release -p usage-host --example record_rate -- memory: redb:/tmp/rate.redb redis://127.0.0.1:6379
//! ```
//!
//! Redis data goes under its own key prefix, removed afterwards.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::Context as _;
use usage_host::bindings::{Fact, Outcome, Quantity};
use usage_host::runtime::{Limits, Runtime};
use usage_host::store::{
    Backend, ReadSet, RedisBackend, Snapshot, StoreError, StoreUrl, WriteSet, open_store,
};

const BATCH: usize = 1000;
const BATCHES: usize = 10;

fn main() -> anyhow::Result<()> {
    let stores: Vec<String> = std::env::args().skip(1).collect();
    anyhow::ensure!(!stores.is_empty(), "usage: record_rate STORE_URL...");
    for setting in stores {
        let url = StoreUrl::parse(&setting, std::path::Path::new("."))?;
        let mut redis = None;
        let backend: Arc<dyn Backend> = match &url {
            StoreUrl::Redis(url) => {
                let prefix = format!("usage-bench-{}", std::process::id());
                let backend = Arc::new(RedisBackend::open_with_prefix(url, &prefix)?);
                redis = Some(backend.clone());
                backend
            }
            StoreUrl::Redb(path) if path.exists() => anyhow::bail!("{} exists", path.display()),
            other => open_store(other)?,
        };
        let counted = Arc::new(Counted {
            inner: backend,
            ops: Arc::default(),
        });
        let runtime = Runtime::new(counted.clone(), Limits::default())?;
        let city = runtime.city("bench")?;
        city.record_batch(facts(0))?; // warm-up: instance pool, first commit
        let ops_before = counted.ops.load(Ordering::Relaxed);
        let started = Instant::now();
        for batch in 1..=BATCHES {
            let answers = city.record_batch(facts(batch))?;
            anyhow::ensure!(answers.iter().all(Result::is_ok), "a fact was rejected");
        }
        let elapsed = started.elapsed();
        let ops = counted.ops.load(Ordering::Relaxed) - ops_before;
        println!(
            "{setting}: {:.0} records/s ({BATCHES} batches of {BATCH} in {elapsed:.2?}), {:.1} store operations per batch",
            (BATCHES * BATCH) as f64 / elapsed.as_secs_f64(),
            ops as f64 / BATCHES as f64,
        );
        if let StoreUrl::Redb(path) = &url {
            drop(city);
            drop((runtime, counted));
            std::fs::remove_file(path).context("removing the bench file")?;
        }
        if let Some(redis) = redis {
            redis.purge()?;
        }
    }
    Ok(())
}

/// `BATCH` facts with fresh ids: 50 users, 3 services, 2 models, some failures.
fn facts(batch: usize) -> Vec<Fact> {
    (0..BATCH)
        .map(|i| Fact {
            id: Some(format!("b{batch}-{i}")),
            user: format!("user{}", i % 50),
            service: ["chat", "embed", "image"][i % 3].to_owned(),
            model: Some(["m1", "m2"][i % 2].to_owned()),
            outcome: Outcome::Success,
            occurred_at: None,
            duration_ms: Some(100 + i as u64 % 900),
            quantities: vec![Quantity {
                name: "tokens".to_owned(),
                value: 10 + i as u64,
            }],
        })
        .collect()
}

/// Counts store operations: one round trip each on Redis.
struct Counted {
    inner: Arc<dyn Backend>,
    ops: Arc<AtomicU64>,
}

struct CountedSnapshot {
    inner: Box<dyn Snapshot>,
    ops: Arc<AtomicU64>,
}

impl Backend for Counted {
    fn snapshot(&self, city: &str) -> Result<Box<dyn Snapshot>, StoreError> {
        Ok(Box::new(CountedSnapshot {
            inner: self.inner.snapshot(city)?,
            ops: self.ops.clone(),
        }))
    }

    fn commit(&self, city: &str, reads: &ReadSet, writes: &WriteSet) -> Result<(), StoreError> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.commit(city, reads, writes)
    }

    fn cities(&self) -> Result<Vec<String>, StoreError> {
        self.inner.cities()
    }
}

impl Snapshot for CountedSnapshot {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.get(key)
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.get_many(keys)
    }

    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        self.ops.fetch_add(1, Ordering::Relaxed);
        self.inner.keys()
    }
}
