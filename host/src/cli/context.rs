//! What every subcommand shares: the common flags, where data lives, opening the
//! runtime, printing JSON, and telling bad input (exit 2) from failures (exit 1).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;
use serde::Serialize;

use super::args;
use crate::bindings::UsageError;
use crate::runtime::{Limits, Runtime};
use crate::store::{StoreUrl, open_store};
use crate::wire::ErrorJson;

/// Flags accepted by every subcommand, before or after its name.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Common options")]
pub struct Common {
    /// The city (tenant) to work in [default: default; demo: demo].
    #[arg(long, global = true, value_name = "NAME", value_parser = args::city)]
    pub city: Option<String>,
    /// Where data lives [default: the platform data dir, e.g. ~/.local/share/usage].
    #[arg(long, global = true, value_name = "DIR", env = "USAGE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Storage: memory:, redb:PATH, redis://HOST:PORT[/DB] [default: redb:<data-dir>/usage.redb].
    #[arg(long, global = true, value_name = "URL", env = "USAGE_STORE")]
    pub store: Option<String>,
    /// Print the wire JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Bad input from the person at the keyboard: `main` exits with 2 and one line.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BadInput(pub String);

/// Shared state of one command run.
pub struct Context {
    pub common: Common,
}

impl Context {
    pub fn new(common: Common) -> Context {
        Context { common }
    }

    /// The city named by `--city`, else `default`.
    pub fn city_or(&self, default: &str) -> String {
        self.common
            .city
            .clone()
            .unwrap_or_else(|| default.to_owned())
    }

    /// The data directory, created if missing.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        let dir = match &self.common.data_dir {
            Some(dir) => dir.clone(),
            None => platform_data_dir().ok_or_else(|| {
                BadInput("no home directory: pass --data-dir or set USAGE_DATA_DIR".to_owned())
            })?,
        };
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        Ok(dir)
    }

    pub fn store_url(&self) -> anyhow::Result<StoreUrl> {
        match &self.common.store {
            Some(setting) => {
                let url = if setting.trim() == "redb:" {
                    StoreUrl::parse(setting, &self.data_dir()?)
                } else {
                    StoreUrl::parse(setting, &PathBuf::new())
                };
                url.map_err(|e| BadInput(format!("--store: {e}")).into())
            }
            None => Ok(StoreUrl::default_in(&self.data_dir()?)),
        }
    }

    /// Opens the store and starts the runtime (compiling the component once).
    pub fn runtime(&self) -> anyhow::Result<Runtime> {
        self.runtime_with(Limits::default())
    }

    /// The same with other per-call limits (`usage serve --memory-limit ...`).
    pub fn runtime_with(&self, limits: Limits) -> anyhow::Result<Runtime> {
        let url = self.store_url()?;
        if let StoreUrl::Redb(path) = &url
            && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let backend = open_store(&url)?;
        Runtime::new(Arc::clone(&backend), limits)
    }

    pub fn print_json(&self, value: &impl Serialize) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }
}

/// Unwraps a guest answer: its own errors become one-line messages, bad input
/// and conflicts exit with 2, storage failures with 1.
pub fn answer<T>(result: anyhow::Result<Result<T, UsageError>>) -> anyhow::Result<T> {
    match result? {
        Ok(value) => Ok(value),
        Err(e @ UsageError::Storage(_)) => Err(anyhow::anyhow!(ErrorJson::from(e).to_string())),
        Err(e) => Err(BadInput(ErrorJson::from(e).to_string()).into()),
    }
}

/// `$XDG_DATA_HOME/usage` or `~/.local/share/usage` on Linux and other Unixes,
/// `~/Library/Application Support/usage` on macOS, `%APPDATA%\usage` on Windows.
fn platform_data_dir() -> Option<PathBuf> {
    let env_dir = |name| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    if cfg!(windows) {
        return env_dir("APPDATA").map(|d| d.join("usage"));
    }
    if cfg!(target_os = "macos") {
        return env_dir("HOME").map(|h| h.join("Library/Application Support/usage"));
    }
    env_dir("XDG_DATA_HOME")
        .or_else(|| env_dir("HOME").map(|h| h.join(".local/share")))
        .map(|d| d.join("usage"))
}
