//! `usage import`: a whole file of facts, in batches, with a progress bar.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::context::{BadInput, Context};
use crate::import::{self, BadFile, Format, ImportReport, Options, Source};
use crate::render;

/// Import a file of facts (JSONL, CSV, or a real trace preset). Bad rows are
/// rejected and listed; the rest of the file still imports.
#[derive(Debug, Args)]
pub struct ImportCommand {
    /// The file to import; `-` reads stdin.
    file: PathBuf,
    /// The file's format [default: guessed from its header and name].
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// azure-llm only: the service of every row [default: a Service column, else from the file name].
    #[arg(long)]
    service: Option<String>,
    /// azure-llm only: the user of every row [default: azure].
    #[arg(long)]
    user: Option<String>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

impl ImportCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let source = Source::open(&self.file).map_err(bad_file)?;
        let options = Options {
            format: self.format,
            service: self.service,
            user: self.user,
        };
        let progress = progress_bar(self.quiet);
        let runtime = context.runtime()?;
        let city = runtime.city(&context.city_or("default"))?;
        let report = import::import(&city, source, &options, &progress).map_err(bad_file)?;
        print_report(context, &report, &self.file.display().to_string())
    }
}

/// Prints an import report as a table or as JSON.
pub fn print_report(context: &Context, report: &ImportReport, source: &str) -> anyhow::Result<()> {
    if context.common.json {
        return context.print_json(report);
    }
    println!("{}", render::import_report(report, source));
    Ok(())
}

/// A file that cannot be imported is the user's to fix: exit 2.
fn bad_file(e: anyhow::Error) -> anyhow::Error {
    match e.downcast::<BadFile>() {
        Ok(BadFile(message)) => BadInput(message).into(),
        Err(other) => other,
    }
}

/// A bar on stderr, hidden with --quiet or when stderr is not a terminal.
pub fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} importing [{bar:30}] {bytes}/{total_bytes} {msg} ({elapsed})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message("starting the usage component");
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
