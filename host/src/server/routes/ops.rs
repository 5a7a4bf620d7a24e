//! Operations: liveness, metrics and the API's own description.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::server::AppState;
use crate::server::errors::{ApiError, ErrorBody};

/// The answer of `/healthz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HealthJson {
    /// Always `ok` while the server answers.
    pub status: String,
}

/// Liveness: answers while the server runs. No token needed.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "ops",
    responses((status = 200, description = "The server is up", body = HealthJson))
)]
pub async fn healthz() -> Json<HealthJson> {
    Json(HealthJson {
        status: "ok".to_owned(),
    })
}

/// Prometheus text: requests and latencies per route, records, component calls
/// and traps per city, instances running per city. Operator token (it names cities).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "ops",
    responses(
        (status = 200, description = "OpenMetrics text", body = String, content_type = "application/openmetrics-text"),
        (status = 401, description = "Missing or bad token", body = ErrorBody),
        (status = 403, description = "A user token", body = ErrorBody),
    ),
    security(("operator" = []))
)]
pub async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    state.access.require_operator(&headers)?;
    let text = state.metrics.render();
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// This API as an OpenAPI 3.1 document, generated from the handlers. No token needed.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "ops",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json"))
)]
pub async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.as_str().to_owned(),
    )
        .into_response()
}
