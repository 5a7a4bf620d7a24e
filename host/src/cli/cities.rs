//! `usage cities`: the cities that have stored anything.

use clap::Args;

use super::context::Context;

/// List the cities in the store.
#[derive(Debug, Args)]
pub struct CitiesCommand {}

impl CitiesCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let cities = context.runtime()?.cities()?;
        if context.common.json {
            return context.print_json(&cities);
        }
        if cities.is_empty() {
            println!("no cities yet");
        }
        for city in cities {
            println!("{city}");
        }
        Ok(())
    }
}
