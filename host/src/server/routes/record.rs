//! `POST /v1/cities/{city}/events`: one fact (a JSON object) or a batch (a JSON
//! array). A batch answers one result per item, in order; its valid items commit
//! together, its invalid ones are rejected with the reason, naming the field.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::city_name;
use crate::bindings::{Fact, Receipt, ReceiptStatus, UsageError};
use crate::server::AppState;
use crate::server::calls::city_call;
use crate::server::errors::{ApiError, ErrorBody, ErrorDetail};
use crate::timestamp::Millis;
use crate::wire::{FactJson, FieldError, ReceiptJson};

/// The request body: one fact, or an array of facts.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // documents the body; parsing goes through `FactJson::from_json_str`
pub enum RecordBody {
    One(FactJson),
    Batch(Vec<FactJson>),
}

/// What became of one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ItemResultJson {
    /// `recorded`, `duplicate`, `not_recorded` or `rejected`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub position: Option<u64>,
    #[serde(
        with = "crate::wire::time_serde::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recorded_at: Option<Millis>,
    /// Why the item was rejected.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<ErrorDetail>,
}

/// The answer to a batch: counts, then one result per item in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchResultJson {
    pub recorded: u64,
    pub duplicates: u64,
    pub not_recorded: u64,
    pub rejected: u64,
    pub results: Vec<ItemResultJson>,
}

/// Record one fact or a batch.
///
/// One fact answers its receipt: 201 when recorded, 200 for a duplicate (the
/// original receipt; nothing counted again) or `not_recorded`; 400 names the bad
/// field, 409 means the id was used for a different fact. A batch always
/// answers 200 with one result per item.
#[utoipa::path(
    post,
    path = "/v1/cities/{city}/events",
    tag = "operator",
    params(("city" = String, Path, description = "The city: 1-64 of A-Z a-z 0-9 . _ : -")),
    request_body(content = RecordBody, description = "A fact, or an array of at most 10,000 facts"),
    responses(
        (status = 201, description = "The fact was recorded", body = ReceiptJson),
        (status = 200, description = "A duplicate or not-recorded fact's receipt, or a batch's results", body = BatchResultJson),
        (status = 400, description = "Bad input, naming the field", body = ErrorBody),
        (status = 401, description = "Missing, bad or expired token", body = ErrorBody),
        (status = 403, description = "A user token", body = ErrorBody),
        (status = 409, description = "The id was used for a different fact", body = ErrorBody),
        (status = 413, description = "The body or batch is over its limit", body = ErrorBody),
        (status = 500, description = "The component trapped; nothing was written", body = ErrorBody),
        (status = 503, description = "Storage failed; nothing was written, retry", body = ErrorBody),
    ),
    security(("operator" = []))
)]
pub async fn record(
    State(state): State<AppState>,
    city: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    state.access.require_operator(&headers)?;
    let city = city_name(city)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(
                "body",
                format!("the body is over {} bytes", state.limits.max_body_bytes),
            )
        } else {
            ApiError::invalid("body", e.body_text())
        }
    })?;
    match parse_body(&body, state.limits.max_batch)? {
        Body::Batch(items) => {
            let results = record_batch(&state, &city, items).await?;
            Ok(Json(results).into_response())
        }
        Body::One(fact) => record_one(&state, &city, fact).await,
    }
}

/// A body decoded: one fact, or each item of a batch decoded on its own.
enum Body {
    One(Result<FactJson, FieldError>),
    Batch(Vec<Result<FactJson, FieldError>>),
}

/// Decodes each fact from its own text rather than from a parsed `Value`,
/// which would keep only the last of a field given twice.
fn parse_body(bytes: &[u8], max_batch: usize) -> Result<Body, ApiError> {
    let not_json = |e: serde_json::Error| ApiError::invalid("json", format!("not valid JSON: {e}"));
    let whole: &RawValue = serde_json::from_slice(bytes).map_err(not_json)?;
    let text = whole.get();
    match text.as_bytes().first() {
        Some(b'{') => Ok(Body::One(FactJson::from_json_str(text))),
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(not_json)?;
            if items.len() > max_batch {
                return Err(ApiError::too_large(
                    "batch",
                    format!("{} facts; a batch holds at most {max_batch}", items.len()),
                ));
            }
            Ok(Body::Batch(
                items
                    .into_iter()
                    .map(|item| FactJson::from_json_str(item.get()))
                    .collect(),
            ))
        }
        _ => Err(ApiError::invalid(
            "json",
            "expected a fact (a JSON object) or a batch (an array of facts)",
        )),
    }
}

async fn record_one(
    state: &AppState,
    city: &str,
    fact: Result<FactJson, FieldError>,
) -> Result<Response, ApiError> {
    let fact = match fact {
        Ok(fact) => Fact::from(fact),
        Err(e) => {
            state.metrics.record_outcome(city, "rejected", 1);
            return Err(e.into());
        }
    };
    let answer = city_call(state, city, "record", move |c| c.record(fact)).await?;
    match answer {
        Ok(receipt) => {
            let status = match receipt.status {
                ReceiptStatus::Recorded => StatusCode::CREATED,
                ReceiptStatus::Duplicate | ReceiptStatus::NotRecorded => StatusCode::OK,
            };
            let json = ReceiptJson::from(receipt);
            state.metrics.record_outcome(city, &json.status, 1);
            Ok((status, Json(json)).into_response())
        }
        Err(e) => {
            state.metrics.record_outcome(city, "rejected", 1);
            Err(e.into())
        }
    }
}

async fn record_batch(
    state: &AppState,
    city: &str,
    items: Vec<Result<FactJson, FieldError>>,
) -> Result<BatchResultJson, ApiError> {
    // Items that do not even parse are rejected here; the rest go to the guest
    // in one call, and their answers are put back in place.
    let mut results: Vec<Option<ItemResultJson>> = Vec::with_capacity(items.len());
    let mut facts = Vec::new();
    for item in items {
        match item {
            Ok(fact) => {
                facts.push(Fact::from(fact));
                results.push(None);
            }
            Err(e) => results.push(Some(rejected(ApiError::from(e)))),
        }
    }
    let answers = if facts.is_empty() {
        Vec::new()
    } else {
        city_call(state, city, "record-batch", move |c| {
            c.record_batch(facts).map(Ok::<_, UsageError>)
        })
        .await?
        .map_err(ApiError::from)?
    };
    let mut answers = answers.into_iter();
    let results: Vec<ItemResultJson> = results
        .into_iter()
        .map(|slot| match slot {
            Some(done) => Ok(done),
            None => answers
                .next()
                .map(item_result)
                .ok_or_else(|| ApiError::internal("the component answered fewer items than sent")),
        })
        .collect::<Result<_, _>>()?;
    let count = |status: &str| results.iter().filter(|r| r.status == status).count() as u64;
    let batch = BatchResultJson {
        recorded: count("recorded"),
        duplicates: count("duplicate"),
        not_recorded: count("not_recorded"),
        rejected: count("rejected"),
        results,
    };
    for (status, n) in [
        ("recorded", batch.recorded),
        ("duplicate", batch.duplicates),
        ("not_recorded", batch.not_recorded),
        ("rejected", batch.rejected),
    ] {
        state.metrics.record_outcome(city, status, n);
    }
    Ok(batch)
}

fn item_result(answer: Result<Receipt, UsageError>) -> ItemResultJson {
    match answer {
        Ok(receipt) => {
            let receipt = ReceiptJson::from(receipt);
            ItemResultJson {
                status: receipt.status,
                position: receipt.position,
                recorded_at: receipt.recorded_at,
                error: None,
            }
        }
        Err(e) => rejected(ApiError::from(e)),
    }
}

fn rejected(error: ApiError) -> ItemResultJson {
    ItemResultJson {
        status: "rejected".to_owned(),
        position: None,
        recorded_at: None,
        error: Some(error.into_detail()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(result: Result<FactJson, FieldError>) -> String {
        result.expect_err("refused").field
    }

    #[test]
    fn a_field_given_twice_is_refused_alone_and_in_a_batch() {
        let twice = r#"{"user":"u","user":"v","service":"s","outcome":"success"}"#;
        let Ok(Body::One(one)) = parse_body(twice.as_bytes(), 10) else {
            panic!("one fact");
        };
        assert_eq!(field(one), "user");
        let batch = format!(
            r#"[{{"user":"u","service":"s","outcome":"success"}}, {twice}, 7,
               {{"user":"u","service":"s","outcome":"success","quantities":{{"n":1,"n":2}}}}]"#
        );
        let Ok(Body::Batch(items)) = parse_body(batch.as_bytes(), 10) else {
            panic!("a batch");
        };
        let mut items = items.into_iter();
        assert_eq!(items.next().expect("first").expect("valid").user, "u");
        assert_eq!(field(items.next().expect("second")), "user");
        assert_eq!(field(items.next().expect("third")), "json");
        assert_eq!(field(items.next().expect("fourth")), "quantities.n");
        assert!(items.next().is_none());
    }

    #[test]
    fn bodies_that_are_not_a_fact_or_a_batch_name_json_or_batch() {
        let status_and_field = |body: &[u8]| {
            let Err(e) = parse_body(body, 2) else {
                panic!("refused: {body:?}");
            };
            (e.status.as_u16(), e.detail.field.unwrap_or_default())
        };
        assert_eq!(status_and_field(b""), (400, "json".to_owned()));
        assert_eq!(status_and_field(b"42"), (400, "json".to_owned()));
        assert_eq!(status_and_field(b"{} {}"), (400, "json".to_owned()));
        assert_eq!(status_and_field(b"[{},{},{}]"), (413, "batch".to_owned()));
    }
}
