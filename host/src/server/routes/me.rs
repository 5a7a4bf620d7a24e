//! `GET /v1/me`: a user's own usage. The city and user come from the token and
//! nowhere else; the route takes no parameter that could name another.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;

use crate::server::AppState;
use crate::server::calls::city_call;
use crate::server::errors::{ApiError, ErrorBody};
use crate::server::params::{self, MeParams};
use crate::wire::UsageReportJson;

/// The caller's own summary and newest events.
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "user",
    params(MeParams),
    responses(
        (status = 200, description = "The caller's usage", body = UsageReportJson),
        (status = 400, description = "A bad or unknown parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, bad or expired token", body = ErrorBody),
        (status = 403, description = "The operator token (it names no user)", body = ErrorBody),
    ),
    security(("user" = []))
)]
pub async fn me(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<UsageReportJson>, ApiError> {
    let (city, user) = state.access.require_user(&headers)?;
    let query = params::me(query.as_deref())?;
    let report = city_call(&state, &city, "me", move |c| c.me(&user, query)).await??;
    Ok(Json(report.into()))
}
