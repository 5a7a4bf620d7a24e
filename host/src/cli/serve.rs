//! `usage serve`: the HTTP service on the same store as the other commands.
//! Prints `listening on http://ADDR` once bound; on Ctrl-C or SIGTERM lets the
//! requests in flight finish, then closes the store.

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::args;
use super::context::{BadInput, Context};
use crate::runtime::Limits;
use crate::server::auth::{Access, TokenSecret};
use crate::server::{self, HttpLimits};

/// Serve the HTTP API (JSON): record, events, summary, me, metrics, OpenAPI.
#[derive(Debug, Args)]
pub struct ServeCommand {
    /// Address to listen on; port 0 picks a free one. Off loopback, both tokens are required.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    listen: String,
    /// Secret that signs user tokens (HS256, at least 32 bytes).
    #[arg(
        long,
        value_name = "SECRET",
        env = "USAGE_TOKEN_SECRET",
        hide_env_values = true
    )]
    token_secret: Option<String>,
    /// Bearer token of the operator (record, events, summary, metrics).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "USAGE_OPERATOR_TOKEN",
        hide_env_values = true
    )]
    operator_token: Option<String>,
    /// Memory cap of each call's instance, e.g. 64MiB; a call past it traps (500).
    #[arg(long, value_parser = args::bytes, value_name = "SIZE", default_value = "64MiB")]
    memory_limit: usize,
    /// Wall-clock budget of each call, e.g. 5s; a call past it traps (500).
    #[arg(long, value_parser = args::duration, value_name = "DURATION", default_value = "5s")]
    call_deadline: Duration,
    /// Largest request body; larger answers 413.
    #[arg(long, value_parser = args::bytes, value_name = "SIZE", default_value = "16MiB")]
    max_body: usize,
}

impl ServeCommand {
    pub fn run(self, context: &Context) -> anyhow::Result<()> {
        let addr = resolve(&self.listen)?;
        let secret = match self.token_secret.as_deref().filter(|s| !s.is_empty()) {
            Some(secret) => Some(
                TokenSecret::new(secret).map_err(|e| BadInput(format!("--token-secret: {e}")))?,
            ),
            None => None,
        };
        let operator_token = self.operator_token.filter(|t| !t.is_empty());
        let access = Access::new(operator_token.clone(), secret);
        if !addr.ip().is_loopback() && !access.is_complete() {
            return Err(BadInput(format!(
                "--listen {addr} is not a loopback address: set both --token-secret and --operator-token \
                 (or USAGE_TOKEN_SECRET and USAGE_OPERATOR_TOKEN)"
            ))
            .into());
        }
        if self.max_body == 0 {
            return Err(BadInput("--max-body: must be positive".to_owned()).into());
        }
        let limits = Limits {
            memory_bytes: self.memory_limit,
            deadline: self.call_deadline,
        };
        let runtime = context.runtime_with(limits).map_err(|e| {
            if format!("{e:#}").contains("must be positive") {
                BadInput(format!("--memory-limit / --call-deadline: {e:#}")).into()
            } else {
                e
            }
        })?;
        let http = HttpLimits {
            max_body_bytes: self.max_body,
            ..HttpLimits::default()
        };
        let router = server::router(runtime.clone(), access, http)?;
        if operator_token.is_none() {
            eprintln!("warning: no operator token; operator routes are open to local callers");
        }

        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("usage-http")
            .build()
            .context("starting the async runtime")?;
        let served = tokio.block_on(async move {
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?;
            let bound = listener.local_addr()?;
            println!("listening on http://{bound}");
            std::io::stdout().flush()?;
            let shutdown = async {
                server::shutdown_signal().await;
                eprintln!("shutting down: finishing the requests in flight");
            };
            server::serve(listener, router, shutdown)
                .await
                .context("serving HTTP")
        });
        // Dropping the async runtime waits for calls still on its blocking pool;
        // only then is the last handle on the store dropped, which closes it.
        drop(tokio);
        drop(runtime);
        served?;
        eprintln!("stopped; the store is closed");
        Ok(())
    }
}

/// `HOST:PORT` to one socket address; a name must resolve to exactly one kind of
/// address (all loopback or none), so the loopback check cannot be dodged.
fn resolve(listen: &str) -> anyhow::Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = listen
        .to_socket_addrs()
        .map_err(|e| BadInput(format!("--listen {listen:?}: {e} (expected HOST:PORT)")))?
        .collect();
    let first = *addrs
        .first()
        .ok_or_else(|| BadInput(format!("--listen {listen:?}: resolves to no address")))?;
    if addrs
        .iter()
        .any(|a| a.ip().is_loopback() != first.ip().is_loopback())
    {
        return Err(BadInput(format!(
            "--listen {listen:?}: resolves to loopback and other addresses; give an IP"
        ))
        .into());
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert!(resolve("127.0.0.1:0").expect("ip").ip().is_loopback());
        assert!(resolve("[::1]:8080").expect("ip").ip().is_loopback());
        assert!(!resolve("0.0.0.0:8080").expect("ip").ip().is_loopback());
        assert!(resolve("nonsense").is_err());
    }
}
