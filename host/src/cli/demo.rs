//! `usage demo`: the whole product on real data with nothing to set up. Imports a
//! sample of the Azure LLM inference trace (shipped inside the binary) into the
//! city `demo`, then shows the three read surfaces. Ids are derived from the rows,
//! so running it again counts nothing twice.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

use super::context::{Context, answer};
use super::import::{print_report, progress_bar};
use crate::bindings::{Dimension, EventsQuery, MeQuery, Order, SummaryQuery, TimeBucket};
use crate::import::{self, Format, ImportReport, Options, Source};
use crate::render;
use crate::wire::{EventPageJson, SummaryJson, UsageReportJson};

/// 2,000 conversation and 1,000 code requests from the Azure LLM inference trace
/// 2023 (CC-BY 4.0, Microsoft Azure); see host/demo/README.md.
const SAMPLE: &str = include_str!("../../demo/azure-llm-sample.csv");
const SAMPLE_NAME: &str = "azure-llm-sample.csv";
/// The trace has no users; the importer's default stands in for them.
const DEMO_USER: &str = "azure";

/// Import a real trace sample into city "demo" and show what the product does.
#[derive(Debug, Args)]
pub struct DemoCommand {
    /// Use a new temporary data directory (instead of --data-dir and --store).
    #[arg(long)]
    fresh: bool,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Serialize)]
struct DemoJson {
    city: String,
    import: ImportReport,
    summary_by_service: SummaryJson,
    summary_by_hour: SummaryJson,
    me: UsageReportJson,
    events: EventPageJson,
}

impl DemoCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let mut common = context.common.clone();
        if self.fresh {
            common.data_dir = Some(fresh_dir()?);
            common.store = None;
        }
        let context = Context::new(common);
        let city_name = context.city_or("demo");
        let progress = progress_bar(self.quiet);
        let runtime = context.runtime()?;
        let city = runtime.city(&city_name)?;

        let source = Source {
            name: SAMPLE_NAME.to_owned(),
            len: Some(SAMPLE.len() as u64),
            reader: Box::new(SAMPLE.as_bytes()),
        };
        let options = Options {
            format: Some(Format::AzureLlm),
            ..Options::default()
        };
        let imported = import::import(&city, source, &options, &progress)?;

        let by_service = answer(city.summary(SummaryQuery {
            from: None,
            to: None,
            group_by: vec![Dimension::Service],
            bucket: TimeBucket::None,
        }))?;
        let by_hour = answer(city.summary(SummaryQuery {
            from: None,
            to: None,
            group_by: vec![Dimension::Service],
            bucket: TimeBucket::Hour,
        }))?;
        let me = answer(city.me(
            DEMO_USER,
            MeQuery {
                from: None,
                to: None,
                group_by: vec![Dimension::Service],
                bucket: TimeBucket::None,
                recent: Some(5),
            },
        ))?;
        let events = answer(city.events(EventsQuery {
            user: None,
            service: None,
            model: None,
            outcome: None,
            from: None,
            to: None,
            order: Order::NewestFirst,
            limit: Some(10),
            cursor: None,
        }))?;

        let demo = DemoJson {
            city: city_name,
            import: imported,
            summary_by_service: by_service.into(),
            summary_by_hour: by_hour.into(),
            me: me.into(),
            events: events.into(),
        };
        if context.common.json {
            return context.print_json(&demo);
        }
        print_human(&context, &demo, self.fresh)
    }
}

fn print_human(context: &Context, demo: &DemoJson, fresh: bool) -> anyhow::Result<()> {
    println!("== import into city `{}`", demo.city);
    print_report(context, &demo.import, SAMPLE_NAME)?;
    println!(
        "\n== summary by service        (usage summary --city {})",
        demo.city
    );
    println!("{}", render::summary(&demo.summary_by_service));
    println!(
        "\n== summary by hour (UTC)     (usage summary --city {} --bucket hour)",
        demo.city
    );
    println!("{}", render::summary(&demo.summary_by_hour));
    println!(
        "\n== one user's own usage      (usage me --city {} --user {DEMO_USER} --recent 5)",
        demo.city
    );
    println!("{}", render::usage_report(&demo.me, &demo.city));
    println!(
        "\n== newest events             (usage events --city {} --limit 10)",
        demo.city
    );
    println!("{}", render::events_page(&demo.events));
    if fresh {
        let dir = context.data_dir()?;
        println!(
            "\nStored in {dir}; explore it with: usage --data-dir {dir} summary --city {}",
            demo.city,
            dir = dir.display()
        );
        return Ok(());
    }
    if context.common.store.is_none() {
        println!("\nStored in {}.", context.data_dir()?.display());
    }
    println!("Run `usage demo` again: nothing is counted twice.");
    Ok(())
}

/// A new, empty directory under the system temp dir, kept so it can be explored.
fn fresh_dir() -> anyhow::Result<PathBuf> {
    let stamp = crate::timestamp::now();
    let dir = std::env::temp_dir().join(format!("usage-demo-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_sample_has_both_services_and_a_header() {
        let mut lines = SAMPLE.lines();
        assert_eq!(
            lines.next(),
            Some("TIMESTAMP,ContextTokens,GeneratedTokens,Service")
        );
        let services: Vec<_> = lines.filter_map(|l| l.rsplit(',').next()).collect();
        assert_eq!(
            services.iter().filter(|s| **s == "conversation").count(),
            2000
        );
        assert_eq!(services.iter().filter(|s| **s == "code").count(), 1000);
    }
}
