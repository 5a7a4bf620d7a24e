//! `usage events`: raw events, filtered, one page at a time.

use clap::Args;

use super::args;
use super::context::{Context, answer};
use crate::bindings::{EventsQuery, Order, OutcomeFilter};
use crate::render;
use crate::timestamp::Millis;
use crate::wire::EventPageJson;

/// List recorded events, newest first; continue with --cursor.
#[derive(Debug, Args)]
pub struct EventsCommand {
    #[arg(long)]
    user: Option<String>,
    #[arg(long)]
    service: Option<String>,
    #[arg(long)]
    model: Option<String>,
    /// success, failure, or failure:KIND.
    #[arg(long, value_parser = args::outcome_filter, value_name = "OUTCOME")]
    outcome: Option<OutcomeFilter>,
    /// Start of the window on occurred-at (inclusive).
    #[arg(long, value_parser = args::time, value_name = "TIME")]
    from: Option<Millis>,
    /// End of the window (exclusive).
    #[arg(long, value_parser = args::time, value_name = "TIME")]
    to: Option<Millis>,
    /// Events per page [default: 50, at most 1000].
    #[arg(long)]
    limit: Option<u32>,
    /// From the previous page's "more:" line.
    #[arg(long)]
    cursor: Option<String>,
    /// Oldest first; the cursor then never ends, so it can be kept to poll for new events.
    #[arg(long)]
    oldest_first: bool,
}

impl EventsCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let query = EventsQuery {
            user: self.user,
            service: self.service,
            model: self.model,
            outcome: self.outcome,
            from: self.from,
            to: self.to,
            order: if self.oldest_first {
                Order::OldestFirst
            } else {
                Order::NewestFirst
            },
            limit: self.limit,
            cursor: self.cursor,
        };
        let runtime = context.runtime()?;
        let city = runtime.city(&context.city_or("default"))?;
        let page = EventPageJson::from(answer(city.events(query))?);
        if context.common.json {
            return context.print_json(&page);
        }
        println!("{}", render::events_page(&page));
        Ok(())
    }
}
