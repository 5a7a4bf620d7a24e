//! The `usage` binary: parse, run, and turn errors into one line and an exit code
//! (2 for bad input or usage, 1 for anything else).

use std::process::ExitCode;

use clap::Parser;
use usage_host::cli::{BadInput, Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("{}", one_line(&e.render().to_string()));
            return ExitCode::from(2);
        }
    };
    if !matches!(cli.command, Command::Serve(_)) {
        end_quietly_when_stdout_closes();
    }
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

/// Clap's usage errors span several lines (the error, a tip, the usage line,
/// a pointer to --help); scripts and people both read one line best.
fn one_line(rendered: &str) -> String {
    rendered
        .lines()
        .map(str::trim)
        .filter(|line| {
            !line.is_empty()
                && !line.starts_with("Usage:")
                && !line.starts_with("For more information")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `usage events | head` should end quietly, as `cat` does, instead of
/// panicking on the closed pipe: restore the default SIGPIPE action, which
/// Rust's runtime sets to ignore. Not for `serve`, whose job is to outlive
/// clients that hang up. (Socket writes use MSG_NOSIGNAL, so a closed Redis
/// connection still surfaces as an error, not as this signal.)
fn end_quietly_when_stdout_closes() {
    #[cfg(unix)]
    // SAFETY: changes one signal's disposition at start-up, before any other
    // thread exists; SIG_DFL is always a valid handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}
