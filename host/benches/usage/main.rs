//! The usage benchmark: ingest, reads, instances and memory in one process run,
//! against SQLite and the embedded store's own limit. Prints one table and
//! writes `usage.json` and `usage.md` under `<target>/bench/`.
//!
//! ```text
//! cargo bench -p usage-host --bench usage -- --size smoke            # seconds; what CI may run
//! cargo bench -p usage-host --bench usage -- --size full --redis redis://127.0.0.1:6379
//! ```
//!
//! Figures are reported, never asserted; ratios within one run are what to compare.

mod engines;
mod facts;
mod footprint;
mod ingest;
mod instances;
mod measure;
mod memory;
mod native;
mod reads;
mod report;
mod sqlite;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use report::Report;

/// How big a run is.
pub struct Size {
    pub name: &'static str,
    /// Stored events at which ingest rate and reads are measured.
    pub loads: Vec<u64>,
    /// Facts recorded per engine for the batch-size comparison: (batch, facts).
    pub batches: Vec<(usize, u64)>,
    /// Single records on stores that fsync each commit.
    pub fsync_singles: u64,
    pub read_reps: usize,
    pub read_budget: Duration,
    pub cities: usize,
    pub instance_calls: usize,
    pub import_facts: u64,
}

impl Size {
    fn parse(name: &str) -> anyhow::Result<Size> {
        Ok(match name {
            "smoke" => Size {
                name: "smoke",
                loads: vec![2_000, 6_000],
                batches: vec![(1, 100), (100, 1_000), (1000, 3_000)],
                fsync_singles: 30,
                read_reps: 10,
                read_budget: Duration::from_millis(200),
                cities: 200,
                instance_calls: 100,
                import_facts: 6_000,
            },
            "full" => Size {
                name: "full",
                loads: vec![10_000, 100_000, 1_000_000],
                batches: vec![(1, 1_000), (100, 10_000), (1000, 30_000)],
                fsync_singles: 300,
                read_reps: 200,
                read_budget: Duration::from_secs(3),
                cities: 10_000,
                instance_calls: 2_000,
                import_facts: 1_000_000,
            },
            // Full plus a 10 M load (about half an hour on 2 cores; the
            // native engine is not loaded past 1 M, to save a quarter of it).
            "large" => Size {
                name: "large",
                loads: vec![10_000, 1_000_000, 10_000_000],
                ..Size::parse("full")?
            },
            other => anyhow::bail!("--size: expected smoke, full or large, got {other:?}"),
        })
    }
}

/// Command-line options (cargo adds `--bench`, which is ignored).
struct Options {
    size: Size,
    redis: Option<String>,
    only: Option<String>,
    out: PathBuf,
}

fn options() -> anyhow::Result<Options> {
    let mut size = std::env::var("USAGE_BENCH_SIZE").unwrap_or_else(|_| "smoke".to_owned());
    let mut redis = std::env::var("USAGE_BENCH_REDIS").ok();
    let mut only = None;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let mut out = target.join("bench");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--size" => size = value("--size")?,
            "--redis" => redis = Some(value("--redis")?),
            "--only" => only = Some(value("--only")?),
            "--out" => out = PathBuf::from(value("--out")?),
            "--bench" => {}
            other => anyhow::bail!(
                "unknown argument {other:?}; use --size smoke|full|large, --redis URL, --only ingest|footprint|reads|instances|memory, --out DIR"
            ),
        }
    }
    Ok(Options {
        size: Size::parse(&size)?,
        redis,
        only,
        out,
    })
}

fn main() -> anyhow::Result<()> {
    let options = options()?;
    let started = Instant::now();
    let scratch_root = options.out.join("scratch");
    std::fs::create_dir_all(&scratch_root)?;
    let scratch = tempfile::tempdir_in(&scratch_root).context("creating the scratch dir")?;
    let mut report = Report::default();
    let run = |phase: &str| options.only.as_deref().is_none_or(|only| only == phase);
    let size = &options.size;
    eprintln!("usage bench, size {}", size.name);
    if run("ingest") {
        ingest::batch_sizes(size, scratch.path(), options.redis.as_deref(), &mut report)?;
    }
    if run("ingest") || run("footprint") {
        footprint::run(size, &mut report)?;
    }
    if run("ingest") || run("reads") {
        ingest::loads(size, scratch.path(), &mut report)?;
    }
    if run("instances") {
        instances::run(size, scratch.path(), &mut report)?;
    }
    // The import is the largest load when that is its size; else on its own.
    let imported_in_loads =
        (run("ingest") || run("reads")) && size.loads.contains(&size.import_facts);
    if run("memory")
        && !imported_in_loads
        && let Some(imported) = memory::run(size, 0x1a2b, scratch.path(), &mut report)?
    {
        engines::remove_scratch(&imported.store)?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    report.note(format!("size {}, whole run {elapsed:.0} s", size.name));
    println!("{}", report.table());
    report.write(&options.out, size.name, elapsed)?;
    println!("wrote {}", options.out.join("usage.json").display());
    Ok(())
}
