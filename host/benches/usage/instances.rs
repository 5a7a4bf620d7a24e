//! Instance costs: a record through a fresh per-call instance (`City`) against
//! one kept warm (`WarmCity`), and 10,000 distinct cities touched once each.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use usage_host::runtime::{Limits, Runtime};
use usage_host::store::{Backend, MemoryBackend, RedbBackend};

use crate::Size;
use crate::engines::{CITY, remove_scratch};
use crate::facts::Generator;
use crate::measure::{mib, status_bytes};
use crate::report::{Goal, Report, fmt};

pub fn run(size: &Size, dir: &Path, report: &mut Report) -> anyhow::Result<()> {
    let memory: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    fresh_vs_warm("memory store", memory, size.instance_calls, report)?;
    let path = dir.join("instances.redb");
    remove_scratch(&path)?;
    let redb: Arc<dyn Backend> = Arc::new(RedbBackend::open(&path)?);
    fresh_vs_warm(
        "embedded store",
        redb,
        (size.instance_calls / 10).max(20),
        report,
    )?;
    remove_scratch(&path)?;
    many_cities(size.cities, report)
}

/// Mean time of one `record`, fresh instance per call against a kept one,
/// interleaved in rounds so drift on a shared machine hits both alike.
fn fresh_vs_warm(
    store: &str,
    backend: Arc<dyn Backend>,
    calls: usize,
    report: &mut Report,
) -> anyhow::Result<()> {
    let runtime = Runtime::new(backend, Limits::default())?;
    let city = runtime.city(CITY)?;
    let mut warm = runtime.warm_city(CITY)?;
    let mut facts = Generator::new(7, calls as u64 * 2 + 2)
        .take(calls * 2 + 2)
        .into_iter();
    let mut next = || {
        facts
            .next()
            .map(|s| s.to_host())
            .ok_or_else(|| anyhow::anyhow!("out of facts"))
    };
    anyhow::ensure!(city.record(next()?)?.is_ok() && warm.record(next()?)?.is_ok());
    let (mut fresh_t, mut warm_t) = (Duration::ZERO, Duration::ZERO);
    const ROUNDS: usize = 10;
    for _ in 0..ROUNDS {
        for _ in 0..calls / ROUNDS {
            let fact = next()?;
            let t = Instant::now();
            anyhow::ensure!(city.record(fact)?.is_ok(), "fresh record rejected");
            fresh_t += t.elapsed();
        }
        for _ in 0..calls / ROUNDS {
            let fact = next()?;
            let t = Instant::now();
            anyhow::ensure!(warm.record(fact)?.is_ok(), "warm record rejected");
            warm_t += t.elapsed();
        }
    }
    let per = |d: Duration| d.as_secs_f64() * 1e6 / (calls / ROUNDS * ROUNDS) as f64;
    let (fresh_us, warm_us) = (per(fresh_t), per(warm_t));
    report.add(
        "Instances",
        format!("record, fresh instance, {store}"),
        fresh_us,
        "µs mean",
        format!("{calls} calls"),
    );
    report.add(
        "Instances",
        format!("record, warm instance, {store}"),
        warm_us,
        "µs mean",
        format!("{calls} calls"),
    );
    report.target(
        format!("fresh / warm record, {store}"),
        fresh_us / warm_us,
        Goal::AtMost(1.3),
    );
    Ok(())
}

/// One record into each of `count` distinct cities (memory store, so the
/// instance and namespace costs show, not fsync).
fn many_cities(count: usize, report: &mut Report) -> anyhow::Result<()> {
    let runtime = Runtime::new(Arc::new(MemoryBackend::new()), Limits::default())?;
    let mut facts = Generator::new(9, count as u64).take(count).into_iter();
    let rss_before = status_bytes("VmRSS").unwrap_or(0);
    let started = Instant::now();
    for i in 0..count {
        let fact = facts
            .next()
            .map(|s| s.to_host())
            .ok_or_else(|| anyhow::anyhow!("out of facts"))?;
        let receipt = runtime.city(&format!("city-{i}"))?.record(fact)?;
        anyhow::ensure!(receipt.is_ok(), "record into city-{i} rejected");
    }
    let elapsed = started.elapsed();
    let rss_after = status_bytes("VmRSS").unwrap_or(0);
    anyhow::ensure!(
        runtime.cities()?.len() == count,
        "not every city was registered"
    );
    report.add(
        "Instances",
        format!(
            "{} distinct cities, one record each (memory store)",
            fmt(count as f64)
        ),
        elapsed.as_secs_f64(),
        "s",
        format!(
            "{:.0} µs per city; resident memory {:.0} -> {:.0} MiB",
            elapsed.as_secs_f64() * 1e6 / count as f64,
            mib(rss_before),
            mib(rss_after)
        ),
    );
    Ok(())
}
