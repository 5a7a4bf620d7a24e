//! `usage settings`: show or change a city's settings.

use clap::Args;

use super::context::{Context, answer};
use crate::bindings::Settings;
use crate::wire::SettingsJson;

/// Show the city's settings, or change them.
#[derive(Debug, Args)]
pub struct SettingsCommand {
    /// Store and count failed calls (true) or drop them (false).
    #[arg(long, value_name = "BOOL")]
    record_errors: Option<bool>,
}

impl SettingsCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let runtime = context.runtime()?;
        let city = runtime.city(&context.city_or("default"))?;
        let settings = match self.record_errors {
            Some(record_errors) => answer(city.set_settings(Settings { record_errors }))?,
            None => answer(city.settings())?,
        };
        let settings = SettingsJson::from(settings);
        if context.common.json {
            return context.print_json(&settings);
        }
        println!("record_errors: {}", settings.record_errors);
        Ok(())
    }
}
