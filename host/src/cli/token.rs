//! `usage token issue`: prints a signed user token for `GET /v1/me`.

use std::time::Duration;

use clap::{Args, Subcommand};

use super::args;
use super::context::{BadInput, Context};
use crate::server::auth::TokenSecret;

/// User tokens (JWT, HS256) for the HTTP API.
#[derive(Debug, Args)]
pub struct TokenCommand {
    #[command(subcommand)]
    action: TokenAction,
}

#[derive(Debug, Subcommand)]
enum TokenAction {
    /// Print a token letting --user of --city read their own usage.
    Issue(IssueArgs),
}

#[derive(Debug, Args)]
struct IssueArgs {
    /// The user the token speaks for.
    #[arg(long)]
    user: String,
    /// How long the token is valid: 30m, 1h, 7d (at most 366 days).
    #[arg(long, value_parser = args::duration, value_name = "DURATION", default_value = "1h")]
    ttl: Duration,
    /// The server's signing secret (at least 32 bytes).
    #[arg(
        long,
        value_name = "SECRET",
        env = "USAGE_TOKEN_SECRET",
        hide_env_values = true
    )]
    token_secret: String,
}

impl TokenCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let TokenAction::Issue(issue) = self.action;
        let city = context
            .common
            .city
            .clone()
            .ok_or_else(|| BadInput("--city: required (the user's city)".to_owned()))?;
        let secret = TokenSecret::new(&issue.token_secret)
            .map_err(|e| BadInput(format!("--token-secret: {e}")))?;
        let token = secret
            .issue(&city, &issue.user, issue.ttl)
            .map_err(|e| BadInput(format!("{e:#}")))?;
        println!("{token}");
        Ok(())
    }
}
