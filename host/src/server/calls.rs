//! Running one blocking component call from a handler: on tokio's blocking pool
//! (wasmtime calls are synchronous), counted per city in `/metrics`, with traps
//! and storage failures turned into their HTTP answers.

use super::AppState;
use super::errors::{ApiError, Failure, classify};
use crate::bindings::UsageError;
use crate::runtime::City;

/// Runs `call` against `city` and returns the guest's answer, or the error
/// answer if the call did not complete (trap, storage failure, host bug).
pub async fn city_call<T, F>(
    state: &AppState,
    city: &str,
    export: &'static str,
    call: F,
) -> Result<Result<T, UsageError>, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&City<'_>) -> anyhow::Result<Result<T, UsageError>> + Send + 'static,
{
    let state = state.clone();
    let city = city.to_owned();
    blocking(move || {
        let handle = state
            .runtime
            .city(&city)
            .map_err(|e| ApiError::invalid("city", format!("{e:#}")))?;
        run_counted(&state, &city, export, || call(&handle))
    })
    .await
}

/// One counted call on the current (blocking) thread: the city's instance gauge
/// covers it, its result is counted, a trap is logged with its cause.
pub fn run_counted<T>(
    state: &AppState,
    city: &str,
    export: &str,
    call: impl FnOnce() -> anyhow::Result<T>,
) -> Result<T, ApiError> {
    let instance = state.metrics.instance(city);
    let result = call();
    drop(instance);
    match result {
        Ok(answer) => {
            state.metrics.call_finished(city, export, "ok");
            Ok(answer)
        }
        Err(err) => {
            let kind = classify(&err);
            let label = if kind == Failure::Trap {
                "trap"
            } else {
                "error"
            };
            state.metrics.call_finished(city, export, label);
            eprintln!("city {city}: {export} failed ({label}): {err:#}");
            Err(ApiError::from_runtime(&err))
        }
    }
}

/// Runs blocking work on tokio's blocking pool; a panic there answers 500.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(ApiError::internal(format!("the call panicked: {e}"))))
}
