//! `usage me`: one user's own usage, as that user would see it.

use clap::Args;

use super::args;
use super::context::{Context, answer};
use crate::bindings::{MeQuery, TimeBucket};
use crate::render;
use crate::timestamp::Millis;
use crate::wire::UsageReportJson;

/// One user's summary and newest events; nothing about other users.
#[derive(Debug, Args)]
pub struct MeCommand {
    #[arg(long)]
    user: String,
    #[arg(long, value_parser = args::time, value_name = "TIME")]
    from: Option<Millis>,
    #[arg(long, value_parser = args::time, value_name = "TIME")]
    to: Option<Millis>,
    /// Comma list of service, model, outcome ('' for totals only).
    #[arg(long, value_parser = args::dimensions, default_value = "service", value_name = "DIMS")]
    group_by: args::Dimensions,
    /// none, hour, day or month (UTC).
    #[arg(long, value_parser = args::bucket, default_value = "none")]
    bucket: TimeBucket,
    /// How many of the newest events to show [default: 10, at most 1000].
    #[arg(long, value_name = "N")]
    recent: Option<u32>,
}

impl MeCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let query = MeQuery {
            from: self.from,
            to: self.to,
            group_by: self.group_by.0,
            bucket: self.bucket,
            recent: self.recent,
        };
        let runtime = context.runtime()?;
        let city_name = context.city_or("default");
        let city = runtime.city(&city_name)?;
        let report = UsageReportJson::from(answer(city.me(&self.user, query))?);
        if context.common.json {
            return context.print_json(&report);
        }
        println!("{}", render::usage_report(&report, &city_name));
        Ok(())
    }
}
