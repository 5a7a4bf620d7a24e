//! `usage serve`: the HTTP service over one `Runtime`, on tokio and axum.
//!
//! Each handler checks the caller (`auth`), parses its input (`params`, the wire
//! types), runs the component call on the blocking pool (`calls`) and answers
//! JSON or the one error shape (`errors`). Every request is counted (`metrics`);
//! the OpenAPI document is generated from the handlers (`openapi`).

pub mod auth;
mod calls;
pub mod errors;
pub mod merge;
pub mod metrics;
mod openapi;
mod params;
pub mod routes;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::runtime::Runtime;
use auth::Access;
use errors::ApiError;
use metrics::Metrics;

/// Request size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Largest request body; larger answers 413.
    pub max_body_bytes: usize,
    /// Most facts in one batch; more answers 413 (the component's own limit).
    pub max_batch: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: 16 << 20,
            max_batch: 10_000,
        }
    }
}

/// What every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    runtime: Runtime,
    access: Access,
    metrics: Arc<Metrics>,
    limits: HttpLimits,
    openapi: Arc<String>,
}

/// The routes and their OpenAPI description, from one registration.
fn routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(routes::record::record, routes::read::events))
        .routes(routes!(routes::read::summary))
        .routes(routes!(routes::read::all_cities_summary))
        .routes(routes!(routes::me::me))
        .routes(routes!(routes::ops::healthz))
        .routes(routes!(routes::ops::metrics))
        .routes(routes!(routes::ops::openapi))
        .split_for_parts()
}

/// The OpenAPI document of the service, as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    routes().1
}

/// The whole service as an axum router.
pub fn router(runtime: Runtime, access: Access, limits: HttpLimits) -> anyhow::Result<Router> {
    let (routes, doc) = routes();
    let state = AppState {
        runtime,
        access,
        metrics: Arc::new(Metrics::new()),
        limits,
        openapi: Arc::new(doc.to_json()?),
    };
    Ok(routes
        .fallback(|| async { ApiError::not_found("no such route; see /openapi.json") })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state))
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish before returning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
