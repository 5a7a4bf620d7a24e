//! Small helpers: the team's shared traces and running the `usage` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A trace under `../shared/data/`, or `None` with a note when this checkout has
/// none (a user's fresh clone). CI always has it, so there a missing file fails.
pub fn shared_data(name: &str) -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/data")
        .join(name);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must provide {}",
        path.display()
    );
    eprintln!(
        "skipped: {} is not here (it ships beside the project, not in it)",
        path.display()
    );
    None
}

/// Runs `usage ARGS` against `data_dir`; fails the test on a non-zero exit.
pub fn usage(data_dir: &Path, args: &[&str]) -> String {
    let out = usage_raw(data_dir, args);
    assert!(
        out.status.success(),
        "usage {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

pub fn usage_raw(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_usage"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("USAGE_DATA_DIR")
        .output()
        .expect("run usage")
}

pub fn usage_json(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.push("--json");
    let text = usage(data_dir, &all);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("usage {args:?}: bad JSON ({e}): {text}"))
}
