//! Timing and memory readings: repeated calls summarised by median and p99,
//! and the process's resident memory from `/proc/self/status`.

use std::time::{Duration, Instant};

/// Latency of repeated calls.
#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub median: Duration,
    pub p99: Duration,
    pub samples: usize,
}

/// Calls `f` at least `min` and at most `max` times, stopping early once
/// `budget` has passed (slow baselines get fewer repetitions), after one warm-up call.
pub fn latency(
    min: usize,
    max: usize,
    budget: Duration,
    mut f: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<Latency> {
    f()?;
    let started = Instant::now();
    let mut times = Vec::with_capacity(max);
    while times.len() < max && (times.len() < min || started.elapsed() < budget) {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    times.sort_unstable();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Ok(Latency {
        median: at(0.5),
        p99: at(0.99),
        samples: times.len(),
    })
}

/// Events per second of `count` events in `elapsed`.
pub fn rate(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes.
pub fn status_bytes(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
        Some(kb * 1024)
    })
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
