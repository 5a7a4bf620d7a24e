//! The JSON wire format: the one product shape shared by JSONL import, `--json`
//! output and the HTTP API. Flat and friendly (`"outcome": "failure"` beside
//! `"error_kind"`, quantities as an object, timestamps as RFC 3339 UTC), converted
//! to and from the WIT bindings here so no other module knows both shapes.

mod fact;
mod query;
mod read;
pub mod time_serde;

pub use fact::{
    ErrorJson, FactFields, FactJson, OutcomeKind, ReceiptJson, SettingsJson, wire_field,
};
pub use query::{
    bucket_name, dimension_name, parse_bucket, parse_dimensions, parse_outcome_filter,
};
pub use read::{
    EventJson, EventPageJson, FiguresJson, SummaryJson, SummaryRowJson, UsageReportJson,
};

/// A rejected input value, naming the field as the wire spells it
/// (`user`, `occurred_at`, `quantities.images`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}
