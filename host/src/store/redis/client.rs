//! The blocking side of the async Redis client. The backend owns a one-worker
//! tokio runtime; each operation is spawned onto it and awaited over a channel,
//! so it works from any thread: plain ones (the CLI) and `spawn_blocking`
//! threads of another runtime (the HTTP server), where `block_on` would panic.

use std::future::Future;
use std::sync::mpsc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisError, RedisResult};
use tokio::runtime::Runtime;

use super::super::StoreError;

/// One connection attempt.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// One command's answer.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);
/// One operation, including waiting for a reconnect. Below the default 5 s call
/// deadline, so a dead Redis reaches the guest as a storage error, not a trap.
pub(super) const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);

pub(super) struct Client {
    /// `None` only while dropping.
    runtime: Option<Runtime>,
    conn: ConnectionManager,
    /// `host:port`, for messages (the URL may hold a password).
    addr: String,
}

impl Client {
    /// Connects now, so a wrong address fails at startup rather than on the first call.
    pub(super) fn connect(url: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Backend(format!("redis: invalid store URL: {e}")))?;
        let addr = client.get_connection_info().addr().to_string();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("usage-redis")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Backend(format!("redis: cannot start the client: {e}")))?;
        // Few, quick reconnect attempts: a call waits for them, and the
        // manager tries again on the next call anyway.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = wait(&runtime, &addr, async move {
            ConnectionManager::new_with_config(client, config).await
        })?;
        Ok(Self {
            runtime: Some(runtime),
            conn,
            addr,
        })
    }

    /// Runs one operation and waits for it. If the connection was refused the
    /// command was never sent, so it is tried once more: the manager keeps a
    /// failed reconnect until the next command, and without the retry the
    /// first call after Redis comes back would fail.
    pub(super) fn run<T, F, Fut>(&self, op: F) -> Result<T, StoreError>
    where
        F: Fn(ConnectionManager) -> Fut + Send + 'static,
        Fut: Future<Output = RedisResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        let runtime = self.runtime.as_ref().ok_or_else(stopped)?;
        let conn = self.conn.clone();
        wait(runtime, &self.addr, async move {
            match op(conn.clone()).await {
                Err(err) if err.is_connection_refusal() => op(conn).await,
                done => done,
            }
        })
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Never blocks, so dropping the backend inside async code is fine.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn wait<T: Send + 'static>(
    runtime: &Runtime,
    addr: &str,
    op: impl Future<Output = RedisResult<T>> + Send + 'static,
) -> Result<T, StoreError> {
    let (tx, rx) = mpsc::sync_channel(1);
    runtime.spawn(async move {
        let result = tokio::time::timeout(OPERATION_TIMEOUT, op).await;
        // The caller waits until this arrives, so the send cannot fail.
        let _ = tx.send(result);
    });
    match rx.recv().map_err(|_| stopped())? {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(StoreError::Backend(describe(&err, addr))),
        Err(_elapsed) => Err(StoreError::Backend(format!(
            "redis: no answer from {addr} within {OPERATION_TIMEOUT:?}"
        ))),
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("redis: the client has stopped".to_owned())
}

/// A short message naming the server, without the URL's credentials.
fn describe(err: &RedisError, addr: &str) -> String {
    if err.is_connection_refusal() {
        format!("redis: cannot connect to {addr}: connection refused")
    } else if err.is_timeout() {
        format!("redis: no answer from {addr} in time")
    } else if err.is_connection_dropped() || err.is_io_error() {
        format!("redis: lost the connection to {addr}: {err}")
    } else {
        format!("redis: {addr}: {err}")
    }
}
