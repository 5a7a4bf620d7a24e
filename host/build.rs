//! Builds the guest component (`usage-guest`) for `wasm32-wasip2` so that one
//! `cargo build` of the host does everything; the runtime embeds the bytes.
//!
//! The nested cargo gets its own target dir under `OUT_DIR`: sharing the outer
//! one deadlocks on cargo's build lock.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const GUEST: &str = "usage-guest";
const TARGET: &str = "wasm32-wasip2";
const PROFILE: &str = "guest";
/// A guest built elsewhere, embedded instead of building one: for toolchains
/// without the wasm target, e.g. the nightly that `cargo +nightly fuzz` uses.
const PREBUILT: &str = "USAGE_GUEST_WASM_PREBUILT";

fn main() {
    if let Err(message) = run() {
        eprintln!("{message}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let root = manifest_dir
        .parent()
        .ok_or("host crate has no parent directory")?
        .to_path_buf();
    for watched in [
        "guest/src",
        "guest/Cargo.toml",
        "wit",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    println!("cargo:rerun-if-env-changed={PREBUILT}");
    if let Some(prebuilt) = env::var_os(PREBUILT).filter(|p| !p.is_empty()) {
        let prebuilt = PathBuf::from(prebuilt);
        if !prebuilt.is_file() {
            return Err(format!("{PREBUILT}={} is not a file", prebuilt.display()));
        }
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        println!("cargo:rustc-env=USAGE_GUEST_WASM={}", prebuilt.display());
        return Ok(());
    }

    let target_dir = PathBuf::from(var("OUT_DIR")?).join("guest-target");
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .args(["-p", GUEST, "--target", TARGET, "--profile", PROFILE])
        .arg("--manifest-path")
        .arg(root.join("Cargo.toml"));
    scrub_env(&mut cmd);
    cmd.env("CARGO_TARGET_DIR", &target_dir);
    // SIMD (a standard wasm 2.0 feature, on in wasmtime) for the merge of
    // distinct-user sketches in summaries.
    cmd.env(
        "CARGO_TARGET_WASM32_WASIP2_RUSTFLAGS",
        "-Ctarget-feature=+simd128",
    );

    let output = cmd
        .output()
        .map_err(|e| format!("could not run cargo to build the guest: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "building the guest component failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }

    let wasm = target_dir
        .join(TARGET)
        .join(PROFILE)
        .join(format!("{}.wasm", GUEST.replace('-', "_")));
    if !wasm.is_file() {
        return Err(format!(
            "the guest build succeeded but {} is missing",
            wasm.display()
        ));
    }
    println!("cargo:rustc-env=USAGE_GUEST_WASM={}", wasm.display());
    Ok(())
}

/// Removes what cargo sets for this build script (flags, target, wrappers such as
/// clippy-driver), so the host's settings do not leak into the wasm build. User
/// configuration (`CARGO_HOME`, network, registries, terminal) is kept.
fn scrub_env(cmd: &mut Command) {
    const KEEP: [&str; 6] = [
        "CARGO_HOME",
        "CARGO_NET_",
        "CARGO_HTTP_",
        "CARGO_REGISTRIES_",
        "CARGO_REGISTRY_",
        "CARGO_TERM_",
    ];
    const REMOVE: [&str; 8] = [
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CLIPPY_CONF_DIR",
        "TARGET",
        "HOST",
    ];
    for (key, _) in env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let leaked_cargo_var =
            key.starts_with("CARGO_") && !KEEP.iter().any(|keep| key.starts_with(keep));
        if leaked_cargo_var || REMOVE.contains(&key) {
            cmd.env_remove(key);
        }
    }
}

fn var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|_| format!("{name} is not set"))
}
