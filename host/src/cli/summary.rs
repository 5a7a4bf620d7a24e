//! `usage summary`: aggregates grouped by dimensions and time buckets.

use clap::Args;

use super::args;
use super::context::{Context, answer};
use crate::bindings::{SummaryQuery, TimeBucket};
use crate::render;
use crate::timestamp::Millis;
use crate::wire::SummaryJson;

/// Calls, failures, durations and quantities, grouped.
#[derive(Debug, Args)]
pub struct SummaryCommand {
    /// Start of the window (whole UTC hours), inclusive.
    #[arg(long, value_parser = args::time, value_name = "TIME")]
    from: Option<Millis>,
    /// End of the window (whole UTC hours), exclusive.
    #[arg(long, value_parser = args::time, value_name = "TIME")]
    to: Option<Millis>,
    /// Comma list of service, model, user, outcome ('' for totals only).
    #[arg(long, value_parser = args::dimensions, default_value = "service", value_name = "DIMS")]
    group_by: args::Dimensions,
    /// none, hour, day or month (UTC).
    #[arg(long, value_parser = args::bucket, default_value = "none")]
    bucket: TimeBucket,
}

impl SummaryCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let query = SummaryQuery {
            from: self.from,
            to: self.to,
            group_by: self.group_by.0,
            bucket: self.bucket,
        };
        let runtime = context.runtime()?;
        let city = runtime.city(&context.city_or("default"))?;
        let summary = SummaryJson::from(answer(city.summary(query))?);
        if context.common.json {
            return context.print_json(&summary);
        }
        println!("{}", render::summary(&summary));
        Ok(())
    }
}
