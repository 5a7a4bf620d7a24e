//! The operator's reads: one city's events and summary, and the summary across
//! all cities. Query parameters mirror `usage events` / `usage summary`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;

use super::city_name;
use crate::server::AppState;
use crate::server::calls::{blocking, city_call, run_counted};
use crate::server::errors::{ApiError, ErrorBody};
use crate::server::merge::{AllCitiesSummaryJson, merge};
use crate::server::params::{self, EventsParams, SummaryParams};
use crate::wire::{EventPageJson, SummaryJson};

/// One page of a city's events, newest first unless `oldest_first`; continue with `cursor`.
#[utoipa::path(
    get,
    path = "/v1/cities/{city}/events",
    tag = "operator",
    params(("city" = String, Path, description = "The city"), EventsParams),
    responses(
        (status = 200, description = "One page of events", body = EventPageJson),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, bad or expired token", body = ErrorBody),
        (status = 403, description = "A user token", body = ErrorBody),
    ),
    security(("operator" = []))
)]
pub async fn events(
    State(state): State<AppState>,
    city: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<EventPageJson>, ApiError> {
    state.access.require_operator(&headers)?;
    let city = city_name(city)?;
    let query = params::events(query.as_deref())?;
    let page = city_call(&state, &city, "events", move |c| c.events(query)).await??;
    Ok(Json(page.into()))
}

/// A city's calls, failures, durations, quantities and distinct users, grouped.
#[utoipa::path(
    get,
    path = "/v1/cities/{city}/summary",
    tag = "operator",
    params(("city" = String, Path, description = "The city"), SummaryParams),
    responses(
        (status = 200, description = "The summary", body = SummaryJson),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, bad or expired token", body = ErrorBody),
        (status = 403, description = "A user token", body = ErrorBody),
    ),
    security(("operator" = []))
)]
pub async fn summary(
    State(state): State<AppState>,
    city: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<SummaryJson>, ApiError> {
    state.access.require_operator(&headers)?;
    let city = city_name(city)?;
    let query = params::summary(query.as_deref())?;
    let summary = city_call(&state, &city, "summary", move |c| c.summary(query)).await??;
    Ok(Json(summary.into()))
}

/// Every city's summary merged; `group_by` may include `city`. Across cities a
/// user is a (city, user) pair, so `distinct_users` adds up.
#[utoipa::path(
    get,
    path = "/v1/summary",
    tag = "operator",
    params(SummaryParams),
    responses(
        (status = 200, description = "The merged summary", body = AllCitiesSummaryJson),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 401, description = "Missing, bad or expired token", body = ErrorBody),
        (status = 403, description = "A user token", body = ErrorBody),
    ),
    security(("operator" = []))
)]
pub async fn all_cities_summary(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Json<AllCitiesSummaryJson>, ApiError> {
    state.access.require_operator(&headers)?;
    let all = params::all_cities_summary(query.as_deref())?;
    let state = state.clone();
    let merged = blocking(move || {
        let cities = state
            .runtime
            .cities()
            .map_err(|e| ApiError::from_runtime(&e))?;
        let mut per_city = Vec::with_capacity(cities.len());
        for name in cities {
            let query = all.query.clone();
            let city = state
                .runtime
                .city(&name)
                .map_err(|e| ApiError::internal(format!("{e:#}")))?;
            let summary = run_counted(&state, &name, "summary", || city.summary(query))??;
            per_city.push((name, SummaryJson::from(summary)));
        }
        Ok(merge(per_city, all.by_city))
    })
    .await?;
    Ok(Json(merged))
}
