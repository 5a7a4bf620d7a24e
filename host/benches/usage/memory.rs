//! Peak resident memory of `usage import` of generated facts (jsonl) into the
//! embedded store, in its own process so nothing of the benchmark is counted.

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::Context as _;

use crate::Size;
use crate::engines::{CITY, remove_scratch};
use crate::facts::Generator;
use crate::measure::rate;
use crate::report::{Goal, Report, fmt};

const TIME: &str = "/usr/bin/time";

/// What an import measured; the store is left for reads.
pub struct Imported {
    pub store: PathBuf,
    pub rate: f64,
}

/// Imports `size.import_facts` generated facts (`seed`) into a fresh store
/// through the `usage` binary; `None` if peak memory cannot be measured here.
pub fn run(
    size: &Size,
    seed: u64,
    dir: &Path,
    report: &mut Report,
) -> anyhow::Result<Option<Imported>> {
    let n = size.import_facts;
    let file = dir.join("import.jsonl");
    let store = dir.join("import.redb");
    remove_scratch(&store)?;
    {
        let mut out = BufWriter::new(std::fs::File::create(&file)?);
        let mut generator = Generator::new(seed, n);
        let mut left = n;
        while left > 0 {
            let chunk = left.min(10_000);
            for spec in generator.take(chunk as usize) {
                writeln!(out, "{}", spec.to_json_line())?;
            }
            left -= chunk;
        }
        out.flush()?;
    }
    if !Path::new(TIME).exists() {
        report.note(format!(
            "peak memory of import not measured: {TIME} is missing"
        ));
        return Ok(None);
    }
    let started = Instant::now();
    let output = Command::new(TIME)
        .arg("-v")
        .arg(env!("CARGO_BIN_EXE_usage"))
        .arg("--store")
        .arg(format!("redb:{}", store.display()))
        .args(["--city", CITY, "--json", "import", "--quiet"])
        .arg(&file)
        .output()
        .context("running usage import")?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(
        output.status.success(),
        "usage import failed: {stdout}\n{stderr}"
    );
    let imported: serde_json::Value =
        serde_json::from_str(&stdout).context("reading the import report")?;
    anyhow::ensure!(
        imported["imported"].as_u64() == Some(n),
        "usage import stored {} of {n} facts: {stdout}",
        imported["imported"]
    );
    let peak_kib: u64 = stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
        .and_then(|v| v.trim().parse().ok())
        .context("no maximum resident set size in the output of time -v")?;
    let peak_mib = peak_kib as f64 / 1024.0;
    let rate = rate(n, elapsed);
    report.add(
        "Memory",
        format!(
            "peak resident memory, usage import of {} facts (jsonl) into the embedded store",
            fmt(n as f64)
        ),
        peak_mib,
        "MiB",
        format!("{rate:.0} events/s over the whole import, process start included"),
    );
    report.target(
        format!("peak MiB importing {} facts", fmt(n as f64)),
        peak_mib,
        Goal::AtMost(256.0),
    );
    std::fs::remove_file(&file)?;
    Ok(Some(Imported { store, rate }))
}
