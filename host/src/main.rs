//! The `usage` binary: parse, run, and turn errors into one line and an exit code
//! (2 for bad input or usage, 1 for anything else).

use std::process::ExitCode;

use clap::Parser;
use usage_host::cli::{BadInput, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.chain().any(|cause| cause.is::<BadInput>()) {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
