//! The `usage` command line: one struct per subcommand, each with a `run` method
//! (like wasmtime's `src/commands/*.rs`); `main` only parses and reports errors.

mod args;
mod cities;
mod context;
mod demo;
mod events;
mod import;
mod me;
mod record;
mod serve;
mod settings;
mod summary;
mod token;

use clap::{Parser, Subcommand};

pub use context::{BadInput, Common, Context};

/// Usage facts of a city's services: record calls, import traces, read them back.
#[derive(Debug, Parser)]
#[command(name = "usage", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub common: Common,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Record(record::RecordCommand),
    Import(import::ImportCommand),
    Events(events::EventsCommand),
    Summary(summary::SummaryCommand),
    Me(me::MeCommand),
    Settings(settings::SettingsCommand),
    Cities(cities::CitiesCommand),
    Demo(demo::DemoCommand),
    Serve(serve::ServeCommand),
    Token(token::TokenCommand),
}

impl Cli {
    pub fn run(self) -> anyhow::Result<()> {
        let context = Context::new(self.common);
        match self.command {
            Command::Record(c) => c.run(&context),
            Command::Import(c) => c.run(&context),
            Command::Events(c) => c.run(&context),
            Command::Summary(c) => c.run(&context),
            Command::Me(c) => c.run(&context),
            Command::Settings(c) => c.run(&context),
            Command::Cities(c) => c.run(&context),
            Command::Demo(c) => c.run(&context),
            Command::Serve(c) => c.run(&context),
            Command::Token(c) => c.run(&context),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn common_flags_go_before_or_after_the_subcommand() {
        let before =
            Cli::try_parse_from(["usage", "--city", "x", "--json", "cities"]).expect("parses");
        let after =
            Cli::try_parse_from(["usage", "cities", "--city", "x", "--json"]).expect("parses");
        assert_eq!(before.common.city.as_deref(), Some("x"));
        assert_eq!(after.common.city.as_deref(), Some("x"));
        assert!(before.common.json && after.common.json);
    }

    #[test]
    fn bad_values_are_usage_errors() {
        let bad = [
            vec!["usage", "events", "--from", "last week"],
            vec!["usage", "events", "--outcome", "failed"],
            vec!["usage", "summary", "--group-by", "colour"],
            vec!["usage", "summary", "--bucket", "week"],
            vec![
                "usage",
                "record",
                "--user",
                "u",
                "--service",
                "s",
                "--quantity",
                "images",
            ],
            vec![
                "usage",
                "record",
                "--user",
                "u",
                "--service",
                "s",
                "--quantity",
                "images=-1",
            ],
            vec!["usage", "import", "f", "--format", "xml"],
            vec!["usage", "me"],
            vec!["usage", "cities", "--city", "a b"],
            vec!["usage", "cities", "--city", ""],
        ];
        for argv in bad {
            let err = Cli::try_parse_from(&argv).expect_err(&argv.join(" "));
            assert_eq!(err.exit_code(), 2, "{}", argv.join(" "));
        }
    }
}
