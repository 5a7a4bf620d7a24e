//! Loads the benchmark's generated facts into a fresh store, natively (the
//! guest's ingest over the host's per-call transaction, no wasm) or through
//! the component, printing the rate of each tenth: a target for `perf record`.
//!
//! `cargo run --release -p usage-host --example ingest_profile -- [FACTS] [native|wasm] [redb|memory]`;
//! `-- FACTS jsonl` prints the facts as JSON lines instead (for `usage import`).

#[path = "../benches/usage/facts.rs"]
#[allow(dead_code)]
mod facts;
#[path = "../benches/usage/native.rs"]
mod native;

use std::sync::Arc;
use std::time::Instant;

use usage_host::runtime::{Limits, Runtime};
use usage_host::store::{Backend, MemoryBackend, RedbBackend};

const CITY: &str = "profile";
const BATCH: usize = 1000;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: u64 = args.next().map_or(Ok(300_000), |a| a.parse())?;
    let engine = args.next().unwrap_or_else(|| "native".into());
    let store = args.next().unwrap_or_else(|| "redb".into());
    if engine == "jsonl" {
        // The same facts as JSON lines, for `usage import`.
        let mut generator = facts::Generator::new(7, total);
        for _ in 0..total {
            println!("{}", generator.take(1)[0].to_json_line());
        }
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let backend: Arc<dyn Backend> = match store.as_str() {
        "memory" => Arc::new(MemoryBackend::new()),
        _ => Arc::new(RedbBackend::open(&dir.path().join("usage.redb"))?),
    };
    let runtime = (engine == "wasm")
        .then(|| Runtime::new(backend.clone(), Limits::default()))
        .transpose()?;
    let mut generator = facts::Generator::new(7, total);
    let tenth = (total / 10).max(BATCH as u64);
    let mut done = 0u64;
    let mut started = Instant::now();
    let mut written = disk_writes();
    while done < total {
        let batch = generator.take(BATCH.min((total - done) as usize));
        match &runtime {
            Some(runtime) => {
                let answers = runtime
                    .city(CITY)?
                    .record_batch(batch.iter().map(facts::Spec::to_host).collect())?;
                anyhow::ensure!(answers.iter().all(Result::is_ok), "a fact was rejected");
            }
            None => native::record_batch(
                &backend,
                CITY,
                batch.iter().map(facts::Spec::to_guest).collect(),
            )?,
        }
        done += batch.len() as u64;
        if done.is_multiple_of(tenth) || done == total {
            let secs = started.elapsed().as_secs_f64();
            let now_written = disk_writes();
            println!(
                "{done:>9} stored: {:>8.0} events/s, {:>6.0} bytes written to disk per fact",
                tenth as f64 / secs,
                now_written.saturating_sub(written) as f64 / tenth as f64
            );
            started = Instant::now();
            written = now_written;
        }
    }
    Ok(())
}

/// Bytes this process has caused to be written to storage (`/proc/self/io`).
fn disk_writes() -> u64 {
    let io = std::fs::read_to_string("/proc/self/io").unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("write_bytes: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}
