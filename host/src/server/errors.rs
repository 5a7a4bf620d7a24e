//! The one error shape of the HTTP API, `{"error": {"code", "message", "field"?}}`,
//! and how each failure maps to a status: the guest's own errors, runtime
//! failures (traps, storage), bad requests and access refusals.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use crate::bindings::{InvalidInput, UsageError};
use crate::store::StoreError;
use crate::wire::{FieldError, wire_field};

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong, in a form a client can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// `invalid`, `unauthorized`, `forbidden`, `not_found`, `method_not_allowed`,
    /// `conflict`, `too_large`, `trap`, `storage` or `internal`.
    pub code: String,
    pub message: String,
    /// The offending field or query parameter, for `invalid` and `too_large`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub field: Option<String>,
}

/// An error answer: a status and the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: ErrorDetail,
}

impl ApiError {
    fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            detail: ErrorDetail {
                code: code.to_owned(),
                message: message.into(),
                field: None,
            },
        }
    }

    fn with_field(mut self, field: impl Into<String>) -> Self {
        self.detail.field = Some(field.into());
        self
    }

    /// 400 naming the bad field or parameter.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid", message).with_field(field)
    }

    /// 401: no token, or one that is malformed, tampered with or expired.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: a valid token that may not do this.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this route does not take that method",
        )
    }

    /// 413 for a body or batch over its limit, naming what was too large.
    pub fn too_large(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", message).with_field(field)
    }

    /// 500: the component trapped; this request only, the next gets a fresh instance.
    pub fn trap(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "trap", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// 503: storage failed or stayed contended; nothing was written, retrying is safe.
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "storage", message)
    }

    /// The body as a batch item carries it.
    pub fn into_detail(self) -> ErrorDetail {
        self.detail
    }
}

impl From<FieldError> for ApiError {
    fn from(e: FieldError) -> Self {
        Self::invalid(e.field, e.message)
    }
}

/// The guest's answer: bad input 400 (the field in wire spelling, as the CLI
/// and import name it), idempotency conflict 409, storage 503.
impl From<UsageError> for ApiError {
    fn from(e: UsageError) -> Self {
        match e {
            UsageError::Invalid(InvalidInput { field, message }) => {
                Self::invalid(wire_field(&field), message)
            }
            UsageError::Conflict(message) => Self::new(StatusCode::CONFLICT, "conflict", message),
            UsageError::Storage(message) => Self::storage(message),
        }
    }
}

/// What kind of runtime failure an error from `Runtime` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The instance trapped (memory cap, deadline, a guest panic).
    Trap,
    /// The store failed or the commit kept conflicting; nothing was written.
    Storage,
    /// Anything else: a host bug.
    Internal,
}

/// Sorts an outer error of a `Runtime` call (the call did not answer).
pub fn classify(err: &anyhow::Error) -> Failure {
    if err
        .chain()
        .any(|cause| cause.downcast_ref::<wasmtime::Trap>().is_some())
    {
        return Failure::Trap;
    }
    if err.chain().any(|cause| cause.is::<StoreError>()) {
        return Failure::Storage;
    }
    // The runtime gives up on a call that kept conflicting with other writers
    // (another process on the same Redis) with a plain message.
    if format!("{err:#}").contains("conflicting with other writers") {
        return Failure::Storage;
    }
    Failure::Internal
}

impl ApiError {
    /// The answer for an outer error of a `Runtime` call.
    pub fn from_runtime(err: &anyhow::Error) -> Self {
        match classify(err) {
            Failure::Trap => Self::trap(format!(
                "the component trapped; nothing was written and the next call gets a fresh instance: {err:#}"
            )),
            Failure::Storage => Self::storage(format!("{err:#}")),
            Failure::Internal => Self::internal(format!("{err:#}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.detail })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_errors_map_to_statuses_and_wire_field_names() {
        let invalid = ApiError::from(UsageError::Invalid(InvalidInput {
            field: "occurred-at".to_owned(),
            message: "in the future".to_owned(),
        }));
        assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
        assert_eq!(invalid.detail.field.as_deref(), Some("occurred_at"));
        let message = ApiError::from(UsageError::Invalid(InvalidInput {
            field: "outcome.message".to_owned(),
            message: "too long".to_owned(),
        }));
        assert_eq!(message.detail.field.as_deref(), Some("error_message"));
        let conflict = ApiError::from(UsageError::Conflict("id reused".to_owned()));
        assert_eq!(conflict.status, StatusCode::CONFLICT);
        assert_eq!(conflict.detail.code, "conflict");
        let storage = ApiError::from(UsageError::Storage("disk".to_owned()));
        assert_eq!(storage.status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn runtime_errors_are_sorted_by_cause() {
        let storage = anyhow::Error::new(StoreError::Backend("gone".to_owned())).context("call");
        assert_eq!(classify(&storage), Failure::Storage);
        let trap = anyhow::Error::new(wasmtime::Trap::UnreachableCodeReached).context("call");
        assert_eq!(classify(&trap), Failure::Trap);
        assert_eq!(classify(&anyhow::anyhow!("bug")), Failure::Internal);
    }

    #[test]
    fn the_body_has_the_documented_shape() {
        let body = ErrorBody {
            error: ApiError::invalid("limit", "too big").into_detail(),
        };
        assert_eq!(
            serde_json::to_value(body).expect("serialises"),
            serde_json::json!({"error": {"code": "invalid", "message": "too big", "field": "limit"}})
        );
    }
}
