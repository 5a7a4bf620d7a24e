//! Ingest rates: every engine at batch sizes 1, 100 and 1000 on a fresh store,
//! then loads of N stored events (rate over the last tenth of each load) with
//! the reads measured on what was loaded.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use usage_host::runtime::{Limits, Runtime};
use usage_host::store::{Backend, MemoryBackend, RedbBackend, RedisBackend};

use crate::Size;
use crate::engines::{Engine, Native, Raw, Wasm, remove_scratch};
use crate::facts::Generator;
use crate::measure::rate;
use crate::report::{Goal, Report};
use crate::sqlite::Sqlite;

const SEED: u64 = 0x5eed;

/// An engine of the comparison: its name, whether it fsyncs every commit, itself.
type Contender = (&'static str, bool, Box<dyn Engine>);

/// The engines of the batch-size comparison, made fresh for each batch size.
fn engines(dir: &Path, redis: Option<&str>) -> anyhow::Result<Vec<Contender>> {
    let redb = |name: &str| -> anyhow::Result<Arc<dyn Backend>> {
        let path = dir.join(name);
        remove_scratch(&path)?;
        Ok(Arc::new(RedbBackend::open(&path)?))
    };
    let wasm = |backend: Arc<dyn Backend>| -> anyhow::Result<Box<dyn Engine>> {
        Ok(Box::new(Wasm {
            runtime: Runtime::new(backend, Limits::default())?,
        }))
    };
    let sqlite_path = dir.join("batch.sqlite");
    remove_scratch(&sqlite_path)?;
    // (name, fsyncs every commit, engine)
    let mut out: Vec<Contender> = vec![
        (
            "wasm, memory store",
            false,
            wasm(Arc::new(MemoryBackend::new()))?,
        ),
        (
            "native, memory store",
            false,
            Box::new(Native {
                backend: Arc::new(MemoryBackend::new()),
            }),
        ),
        (
            "wasm, embedded store",
            true,
            wasm(redb("batch-wasm.redb")?)?,
        ),
        (
            "native, embedded store",
            true,
            Box::new(Native {
                backend: redb("batch-native.redb")?,
            }),
        ),
        ("SQLite", true, Box::new(Sqlite::create(&sqlite_path)?)),
        (
            "raw inserts, embedded store",
            true,
            Box::new(Raw {
                backend: redb("batch-raw.redb")?,
                next: 0,
            }),
        ),
    ];
    if let Some(url) = redis {
        let prefix = format!("usage-bench-{}", std::process::id());
        let backend = Arc::new(RedisBackend::open_with_prefix(url, &prefix)?);
        backend.purge()?;
        out.push(("wasm, Redis", false, wasm(backend)?));
    }
    Ok(out)
}

/// Events/s of every engine at each batch size, on fresh stores.
pub fn batch_sizes(
    size: &Size,
    dir: &Path,
    redis: Option<&str>,
    report: &mut Report,
) -> anyhow::Result<()> {
    if redis.is_none() {
        report.note("Redis left out: no --redis URL given");
    }
    for &(batch, facts) in &size.batches {
        let mut rates = Vec::new();
        for (name, fsyncs, mut engine) in engines(dir, redis)? {
            let facts = if batch == 1 && fsyncs {
                size.fsync_singles
            } else {
                facts
            };
            let mut generator = Generator::new(SEED, facts);
            // Warm-up outside the clock: first instance, first commit.
            engine.ingest(&Generator::new(SEED ^ 1, 1).take(1))?;
            let mut elapsed = Duration::ZERO;
            let mut done = 0;
            while done < facts {
                let n = (batch as u64).min(facts - done) as usize;
                let specs = generator.take(n);
                let t = Instant::now();
                engine.ingest(&specs)?;
                elapsed += t.elapsed();
                done += n as u64;
            }
            let r = rate(done, elapsed);
            let label = if batch == 1 {
                "record".to_owned()
            } else {
                format!("record-batch {batch}")
            };
            report.add(
                "Ingest",
                format!("{name}: {label}"),
                r,
                "events/s",
                format!("{done} facts from empty"),
            );
            rates.push((name, r));
        }
        let of = |name: &str| {
            rates
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(f64::NAN, |(_, r)| *r)
        };
        report.target(
            format!("wasm / native ingest, memory store, batch {batch}"),
            of("wasm, memory store") / of("native, memory store"),
            Goal::AtLeast(0.8),
        );
        report.target(
            format!("wasm / native ingest, embedded store, batch {batch}"),
            of("wasm, embedded store") / of("native, embedded store"),
            Goal::AtLeast(0.8),
        );
    }
    Ok(())
}

/// Loads of N stored events into each engine (batches of 1000), the rate over
/// the last tenth of each, and the reads on the loaded wasm store and SQLite.
/// At the import size our store is loaded by `usage import` instead (the
/// memory measurement), which saves loading it twice.
pub fn loads(size: &Size, dir: &Path, report: &mut Report) -> anyhow::Result<()> {
    let mut base = Vec::new();
    for &n in &size.loads {
        let at = format!("at {} stored", crate::report::fmt(n as f64));
        let sqlite_path = dir.join(format!("load-{n}.sqlite"));
        let raw_path = dir.join(format!("load-{n}-raw.redb"));
        let native_path = dir.join(format!("load-{n}-native.redb"));
        let mut ours_path = dir.join(format!("load-{n}.redb"));
        for p in [&ours_path, &native_path, &raw_path, &sqlite_path] {
            remove_scratch(p)?;
        }
        let imported = if n == size.import_facts {
            crate::memory::run(size, SEED, dir, report)?
        } else {
            None
        };
        let imported_rate = imported.as_ref().map(|i| i.rate);
        let ours = match imported {
            Some(imported) => {
                ours_path = imported.store;
                report.add(
                    "Ingest at N",
                    format!(
                        "wasm, embedded store, usage import to {}",
                        crate::report::fmt(n as f64)
                    ),
                    imported.rate,
                    "events/s",
                    "whole import, batches of 1000",
                );
                report.note(format!("{at}: our rate is the whole `usage import` (0 to N), SQLite's is shown for the whole load too; the native engine is not loaded to this size"));
                None
            }
            None => {
                let runtime =
                    Runtime::new(Arc::new(RedbBackend::open(&ours_path)?), Limits::default())?;
                let (_, tail) = load(&mut Wasm { runtime }, n)?;
                report.add(
                    "Ingest at N",
                    format!("wasm, embedded store, batch 1000, {at}"),
                    tail,
                    "events/s",
                    "last tenth of the load",
                );
                if n > size.import_facts {
                    report.note(format!(
                        "{at}: the native engine is not loaded past the import size"
                    ));
                    Some(tail)
                } else {
                    let mut e = Native {
                        backend: Arc::new(RedbBackend::open(&native_path)?),
                    };
                    let (_, native) = load(&mut e, n)?;
                    report.add(
                        "Ingest at N",
                        format!("native, embedded store, batch 1000, {at}"),
                        native,
                        "events/s",
                        "last tenth of the load",
                    );
                    report.target(
                        format!("wasm / native ingest, embedded store {at}"),
                        tail / native,
                        Goal::AtLeast(0.8),
                    );
                    Some(tail)
                }
            }
        };
        let mut sqlite = Sqlite::create(&sqlite_path)?;
        let (their_whole, theirs) = load(&mut sqlite, n)?;
        report.add(
            "Ingest at N",
            format!("SQLite, batch 1000, {at}"),
            theirs,
            "events/s",
            format!(
                "last tenth of the load; {} events/s over the whole load",
                crate::report::fmt(their_whole)
            ),
        );
        let raw = {
            let mut e = Raw {
                backend: Arc::new(RedbBackend::open(&raw_path)?),
                next: 0,
            };
            load(&mut e, n)?.1
        };
        report.add(
            "Ingest at N",
            format!("raw inserts, embedded store, batch 1000, {at}"),
            raw,
            "events/s",
            "last tenth of the load",
        );
        match (ours, imported_rate) {
            (Some(ours), _) => {
                report.target(
                    format!("ours / SQLite ingest {at}"),
                    ours / theirs,
                    Goal::AtLeast(3.0),
                );
                report.target(
                    format!("ours / raw inserts {at}"),
                    ours / raw,
                    Goal::AtLeast(0.5),
                );
            }
            (None, Some(whole)) => {
                report.target(
                    format!(
                        "ours / SQLite ingest, whole load to {}",
                        crate::report::fmt(n as f64)
                    ),
                    whole / their_whole,
                    Goal::AtLeast(3.0),
                );
                report.target(
                    format!("ours (whole import) / raw inserts {at}"),
                    whole / raw,
                    Goal::AtLeast(0.5),
                );
            }
            (None, None) => {
                report.note(format!("{at}: ours not measured (no {})", "/usr/bin/time"))
            }
        }
        // Reads get a long deadline so slow ones are measured, not cut off.
        let limits = Limits {
            deadline: READ_DEADLINE,
            ..Limits::default()
        };
        let runtime = Runtime::new(Arc::new(RedbBackend::open(&ours_path)?), limits)?;
        crate::reads::run(size, n, &runtime, &sqlite, &mut base, report)?;
        drop((runtime, sqlite));
        for p in [&ours_path, &native_path, &raw_path, &sqlite_path] {
            remove_scratch(p)?;
        }
    }
    Ok(())
}

/// Deadline of the benchmark's reads; the product's default is 5 s.
const READ_DEADLINE: Duration = Duration::from_secs(300);

/// Loads `n` facts in batches of 1000; events/s over the whole load and over its last tenth.
fn load(engine: &mut dyn Engine, n: u64) -> anyhow::Result<(f64, f64)> {
    let mut generator = Generator::new(SEED, n);
    let tail_from = n - n / 10;
    let mut done = 0;
    let mut tail = Duration::ZERO;
    let mut tail_count = 0;
    let started = Instant::now();
    while done < n {
        let count = 1000.min(n - done) as usize;
        let specs = generator.take(count);
        let t = Instant::now();
        engine.ingest(&specs)?;
        if done + count as u64 > tail_from {
            tail += t.elapsed();
            tail_count += count as u64;
        }
        done += count as u64;
    }
    Ok((rate(n, started.elapsed()), rate(tail_count, tail)))
}
