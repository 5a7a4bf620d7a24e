//! Facts coming in (JSON, CSV cells, CLI flags all meet in `FactFields`), and the
//! small write-side answers going out: receipts, settings, errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FieldError;
use super::time_serde;
use crate::bindings::{
    Fact, Failure, InvalidInput, Outcome, Quantity, Receipt, ReceiptStatus, Settings, UsageError,
};
use crate::timestamp::{self, Millis};

/// `"success"` or `"failure"`; the kind and message of a failure sit beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutcomeKind {
    Success,
    Failure,
}

/// One fact on the wire. Deserialising checks the whole thing (required fields,
/// failure details only on failures), so a `FactJson` always converts to a `Fact`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawFact")]
pub struct FactJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub user: String,
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    pub outcome: OutcomeKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// RFC 3339 UTC, or integer milliseconds since 1970 [default: now].
    #[serde(with = "time_serde::option", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    pub quantities: BTreeMap<String, u64>,
}

impl FactJson {
    /// Parses one JSON object, naming the offending field on error
    /// (`json` for text that is not a JSON object at all). From text, never
    /// from a parsed `Value`: that would have dropped a field given twice.
    pub fn from_json_str(text: &str) -> Result<FactJson, FieldError> {
        let raw: RawFact = serde_json::from_str(text).map_err(raw_fact_error)?;
        FactJson::try_from(raw)
    }
}

fn raw_fact_error(e: serde_json::Error) -> FieldError {
    let text = e.to_string();
    if let Some(field) = quoted_after(&text, "unknown field `") {
        if field.is_empty() {
            return FieldError::new("json", "a field with an empty name is not a fact field");
        }
        return FieldError::new(field, "unknown field");
    }
    if let Some(field) = quoted_after(&text, "duplicate field `") {
        return FieldError::new(field, "appears more than once");
    }
    match e.classify() {
        serde_json::error::Category::Data => {
            FieldError::new("json", "expected one JSON object (a fact)")
        }
        _ => FieldError::new("json", format!("not valid JSON: {e}")),
    }
}

/// Pulls `foo` out of serde's "unknown field `foo`, expected ..." (or "duplicate field `foo`").
fn quoted_after(message: &str, prefix: &str) -> Option<String> {
    let rest = message.strip_prefix(prefix)?;
    Some(rest.split('`').next()?.to_owned())
}

/// Fact fields gathered one by one from any input shape, then checked together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactFields {
    pub id: Option<String>,
    pub user: Option<String>,
    pub service: Option<String>,
    pub model: Option<String>,
    pub outcome: Option<OutcomeKind>,
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub occurred_at: Option<Millis>,
    pub duration_ms: Option<u64>,
    pub quantities: BTreeMap<String, u64>,
}

impl FactFields {
    /// Checks what no single field can: required fields, and failure details
    /// present exactly when the outcome is a failure.
    pub fn finish(self) -> Result<FactJson, FieldError> {
        let user = required("user", self.user)?;
        let service = required("service", self.service)?;
        let outcome = self
            .outcome
            .ok_or_else(|| FieldError::new("outcome", "required: \"success\" or \"failure\""))?;
        match outcome {
            OutcomeKind::Failure if self.error_kind.is_none() => {
                return Err(FieldError::new(
                    "error_kind",
                    "required when outcome is failure (e.g. \"timeout\")",
                ));
            }
            OutcomeKind::Success if self.error_kind.is_some() => {
                return Err(FieldError::new(
                    "error_kind",
                    "only allowed when outcome is failure",
                ));
            }
            OutcomeKind::Success if self.error_message.is_some() => {
                return Err(FieldError::new(
                    "error_message",
                    "only allowed when outcome is failure",
                ));
            }
            _ => {}
        }
        Ok(FactJson {
            id: self.id,
            user,
            service,
            model: self.model,
            outcome,
            error_kind: self.error_kind,
            error_message: self.error_message,
            occurred_at: self.occurred_at,
            duration_ms: self.duration_ms,
            quantities: self.quantities,
        })
    }
}

fn required(field: &str, value: Option<String>) -> Result<String, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "required"))
}

/// Parses `success` or `failure`, as typed by a person or found in a cell.
impl std::str::FromStr for OutcomeKind {
    type Err = String;

    fn from_str(text: &str) -> Result<OutcomeKind, String> {
        match text {
            "success" => Ok(OutcomeKind::Success),
            "failure" => Ok(OutcomeKind::Failure),
            other => Err(format!("`{other}` is not \"success\" or \"failure\"")),
        }
    }
}

/// The JSON object as written, every field still untyped, so each type error can
/// name its field (serde's own messages do not).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFact {
    id: Option<Value>,
    user: Option<Value>,
    service: Option<Value>,
    model: Option<Value>,
    outcome: Option<Value>,
    error_kind: Option<Value>,
    error_message: Option<Value>,
    occurred_at: Option<Value>,
    duration_ms: Option<Value>,
    quantities: Option<RawQuantities>,
}

/// `quantities` as written: its entries in order, so a name given twice is
/// refused (a JSON map would silently keep the last one), or whatever stood
/// there instead of an object.
enum RawQuantities {
    Entries(Vec<(String, Value)>),
    NotAnObject(Value),
}

impl<'de> Deserialize<'de> for RawQuantities {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(QuantitiesVisitor)
    }
}

struct QuantitiesVisitor;

impl<'de> serde::de::Visitor<'de> for QuantitiesVisitor {
    type Value = RawQuantities;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object of quantities")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<RawQuantities, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            entries.push(entry);
        }
        Ok(RawQuantities::Entries(entries))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<RawQuantities, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Value>()? {
            items.push(item);
        }
        Ok(RawQuantities::NotAnObject(Value::Array(items)))
    }

    fn visit_bool<E>(self, v: bool) -> Result<RawQuantities, E> {
        Ok(RawQuantities::NotAnObject(Value::Bool(v)))
    }

    fn visit_i64<E>(self, v: i64) -> Result<RawQuantities, E> {
        Ok(RawQuantities::NotAnObject(Value::from(v)))
    }

    fn visit_u64<E>(self, v: u64) -> Result<RawQuantities, E> {
        Ok(RawQuantities::NotAnObject(Value::from(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<RawQuantities, E> {
        Ok(RawQuantities::NotAnObject(Value::from(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<RawQuantities, E> {
        Ok(RawQuantities::NotAnObject(Value::from(v)))
    }

    fn visit_unit<E>(self) -> Result<RawQuantities, E> {
        Ok(RawQuantities::NotAnObject(Value::Null))
    }
}

impl TryFrom<RawFact> for FactJson {
    type Error = FieldError;

    fn try_from(raw: RawFact) -> Result<FactJson, FieldError> {
        let outcome = match raw.outcome {
            Some(value) => Some(
                string("outcome", value)?
                    .parse()
                    .map_err(|m| FieldError::new("outcome", m))?,
            ),
            None => None,
        };
        FactFields {
            id: raw.id.map(|v| string("id", v)).transpose()?,
            user: raw.user.map(|v| string("user", v)).transpose()?,
            service: raw.service.map(|v| string("service", v)).transpose()?,
            model: raw.model.map(|v| string("model", v)).transpose()?,
            outcome,
            error_kind: raw
                .error_kind
                .map(|v| string("error_kind", v))
                .transpose()?,
            error_message: raw
                .error_message
                .map(|v| string("error_message", v))
                .transpose()?,
            occurred_at: raw
                .occurred_at
                .map(|v| time("occurred_at", v))
                .transpose()?,
            duration_ms: raw
                .duration_ms
                .map(|v| whole("duration_ms", v))
                .transpose()?,
            quantities: raw
                .quantities
                .map(quantities)
                .transpose()?
                .unwrap_or_default(),
        }
        .finish()
    }
}

fn string(field: &str, value: Value) -> Result<String, FieldError> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(FieldError::new(
            field,
            format!("expected a string, found {other}"),
        )),
    }
}

fn whole(field: &str, value: Value) -> Result<u64, FieldError> {
    value.as_u64().ok_or_else(|| {
        FieldError::new(field, format!("expected a whole number ≥ 0, found {value}"))
    })
}

fn time(field: &str, value: Value) -> Result<Millis, FieldError> {
    match value {
        Value::String(text) => {
            timestamp::parse_wire(&text).map_err(|e| FieldError::new(field, e.to_string()))
        }
        Value::Number(n) => n.as_u64().ok_or_else(|| {
            FieldError::new(field, format!("{n} is not whole milliseconds since 1970"))
        }),
        other => Err(FieldError::new(
            field,
            format!("expected an RFC 3339 string or integer milliseconds, found {other}"),
        )),
    }
}

fn quantities(raw: RawQuantities) -> Result<BTreeMap<String, u64>, FieldError> {
    let entries = match raw {
        RawQuantities::Entries(entries) => entries,
        RawQuantities::NotAnObject(value) => {
            return Err(FieldError::new(
                "quantities",
                format!("expected an object like {{\"input_tokens\": 812}}, found {value}"),
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (name, v) in entries {
        let field = format!("quantities.{name}");
        let n = whole(&field, v)?;
        if out.insert(name, n).is_some() {
            return Err(FieldError::new(field, "appears more than once"));
        }
    }
    Ok(out)
}

impl From<FactJson> for Fact {
    fn from(f: FactJson) -> Fact {
        let outcome = match f.outcome {
            OutcomeKind::Success => Outcome::Success,
            OutcomeKind::Failure => Outcome::Failure(Failure {
                kind: f.error_kind.unwrap_or_default(),
                message: f.error_message,
            }),
        };
        Fact {
            id: f.id,
            user: f.user,
            service: f.service,
            model: f.model,
            outcome,
            occurred_at: f.occurred_at,
            duration_ms: f.duration_ms,
            quantities: quantity_list(f.quantities),
        }
    }
}

impl From<Fact> for FactJson {
    fn from(f: Fact) -> FactJson {
        let (outcome, error_kind, error_message) = split_outcome(f.outcome);
        FactJson {
            id: f.id,
            user: f.user,
            service: f.service,
            model: f.model,
            outcome,
            error_kind,
            error_message,
            occurred_at: f.occurred_at,
            duration_ms: f.duration_ms,
            quantities: quantity_map(f.quantities),
        }
    }
}

/// Flattens the WIT outcome into the wire's three fields.
pub(super) fn split_outcome(outcome: Outcome) -> (OutcomeKind, Option<String>, Option<String>) {
    match outcome {
        Outcome::Success => (OutcomeKind::Success, None, None),
        Outcome::Failure(failure) => (OutcomeKind::Failure, Some(failure.kind), failure.message),
    }
}

pub(super) fn quantity_list(map: BTreeMap<String, u64>) -> Vec<Quantity> {
    map.into_iter()
        .map(|(name, value)| Quantity { name, value })
        .collect()
}

pub(super) fn quantity_map(list: Vec<Quantity>) -> BTreeMap<String, u64> {
    list.into_iter().map(|q| (q.name, q.value)).collect()
}

/// What happened to one recorded fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReceiptJson {
    /// `recorded`, `duplicate` or `not_recorded`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    #[serde(
        with = "time_serde::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub recorded_at: Option<Millis>,
}

impl From<Receipt> for ReceiptJson {
    fn from(r: Receipt) -> ReceiptJson {
        let status = match r.status {
            ReceiptStatus::Recorded => "recorded",
            ReceiptStatus::Duplicate => "duplicate",
            ReceiptStatus::NotRecorded => "not_recorded",
        };
        ReceiptJson {
            status: status.to_owned(),
            position: r.position,
            recorded_at: r.recorded_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsJson {
    pub record_errors: bool,
}

impl From<Settings> for SettingsJson {
    fn from(s: Settings) -> SettingsJson {
        SettingsJson {
            record_errors: s.record_errors,
        }
    }
}

impl From<SettingsJson> for Settings {
    fn from(s: SettingsJson) -> Settings {
        Settings {
            record_errors: s.record_errors,
        }
    }
}

/// A guest error as callers see it: `{"error": "invalid", "field": "user", "message": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorJson {
    /// `invalid`, `conflict` or `storage`.
    pub error: String,
    /// The offending field in wire spelling (`occurred_at`), for `invalid` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    pub message: String,
}

impl From<UsageError> for ErrorJson {
    fn from(e: UsageError) -> ErrorJson {
        match e {
            UsageError::Invalid(InvalidInput { field, message }) => ErrorJson {
                error: "invalid".to_owned(),
                field: Some(wire_field(&field)),
                message,
            },
            UsageError::Conflict(message) => ErrorJson {
                error: "conflict".to_owned(),
                field: None,
                message,
            },
            UsageError::Storage(message) => ErrorJson {
                error: "storage".to_owned(),
                field: None,
                message,
            },
        }
    }
}

/// The wire spelling of a contract field: `occurred-at` is `occurred_at`, and
/// a failure's `outcome.kind`/`outcome.message` sit flat as `error_kind`/`error_message`.
pub fn wire_field(field: &str) -> String {
    match field {
        "outcome.kind" => "error_kind".to_owned(),
        "outcome.message" => "error_message".to_owned(),
        other => other.replace('-', "_"),
    }
}

impl std::fmt::Display for ErrorJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.field {
            Some(field) => write!(f, "{field}: {}", self.message),
            None => write!(f, "{}: {}", self.error, self.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<FactJson, FieldError> {
        FactJson::from_json_str(text)
    }

    fn field_of(text: &str) -> String {
        match parse(text) {
            Ok(f) => panic!("expected an error, got {f:?}"),
            Err(e) => e.field,
        }
    }

    #[test]
    fn minimal_fact_parses_with_empty_quantities() {
        let f = parse(r#"{"user":"u","service":"chat","outcome":"success"}"#).expect("parses");
        assert_eq!(f.user, "u");
        assert!(f.quantities.is_empty());
        assert_eq!(f.occurred_at, None);
    }

    #[test]
    fn full_failure_converts_to_bindings_and_back() {
        let text = r#"{"id":"r1","user":"u","service":"chat","model":"gpt","outcome":"failure",
            "error_kind":"timeout","error_message":"took too long",
            "occurred_at":"2024-11-15T16:57:50Z","duration_ms":30000,
            "quantities":{"output_tokens":5,"input_tokens":812}}"#;
        let wire = parse(text).expect("parses");
        let fact = Fact::from(wire.clone());
        assert_eq!(fact.occurred_at, Some(1_731_689_870_000));
        let Outcome::Failure(failure) = &fact.outcome else {
            panic!("expected a failure");
        };
        assert_eq!(failure.kind, "timeout");
        assert_eq!(failure.message.as_deref(), Some("took too long"));
        let names: Vec<_> = fact.quantities.iter().map(|q| q.name.as_str()).collect();
        assert_eq!(names, ["input_tokens", "output_tokens"]);
        assert_eq!(FactJson::from(fact), wire);
    }

    #[test]
    fn occurred_at_accepts_integer_ms_and_serialises_as_rfc3339() {
        let f =
            parse(r#"{"user":"u","service":"s","outcome":"success","occurred_at":1731689870000}"#)
                .expect("parses");
        let out = serde_json::to_value(&f).expect("serialises");
        assert_eq!(out["occurred_at"], "2024-11-15T16:57:50.000Z");
        assert_eq!(out["quantities"], serde_json::json!({}));
        assert!(out.get("model").is_none());
        let back: FactJson = serde_json::from_value(out).expect("round trip");
        assert_eq!(back, f);
    }

    #[test]
    fn null_means_absent() {
        let f = parse(r#"{"user":"u","service":"s","outcome":"success","model":null}"#)
            .expect("parses");
        assert_eq!(f.model, None);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(field_of(r#"{"service":"s","outcome":"success"}"#), "user");
        assert_eq!(field_of(r#"{"user":"u","outcome":"success"}"#), "service");
        assert_eq!(field_of(r#"{"user":"u","service":"s"}"#), "outcome");
        assert_eq!(
            field_of(r#"{"user":7,"service":"s","outcome":"success"}"#),
            "user"
        );
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"ok"}"#),
            "outcome"
        );
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"success","colour":"red"}"#),
            "colour"
        );
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"success","duration_ms":-1}"#),
            "duration_ms"
        );
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"success","duration_ms":1.5}"#),
            "duration_ms"
        );
        assert_eq!(
            field_of(
                r#"{"user":"u","service":"s","outcome":"success","occurred_at":"2024-11-15"}"#
            ),
            "occurred_at"
        );
        assert_eq!(
            field_of(
                r#"{"user":"u","service":"s","outcome":"success","quantities":{"images":"4"}}"#
            ),
            "quantities.images"
        );
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"success","quantities":[1]}"#),
            "quantities"
        );
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"success","quantities":5}"#),
            "quantities"
        );
        assert_eq!(field_of("not json"), "json");
        assert_eq!(field_of("[]"), "json");
    }

    #[test]
    fn an_empty_field_name_is_still_a_named_error() {
        // Found by the fact_json fuzz target: the error named the field "".
        let e = parse(r#"{"":"id","user":"u","service":"s","outcome":"success"}"#)
            .expect_err("unknown field");
        assert_eq!(e.field, "json");
        assert!(!e.message.is_empty());
    }

    #[test]
    fn a_name_given_twice_is_refused_not_overwritten() {
        let e = parse(
            r#"{"user":"u","service":"s","outcome":"success","quantities":{"images":1,"images":2}}"#,
        )
        .expect_err("ambiguous");
        assert_eq!(e.field, "quantities.images");
        let e = parse(r#"{"user":"u","user":"v","service":"s","outcome":"success"}"#)
            .expect_err("ambiguous");
        assert_eq!(e.field, "user");
    }

    #[test]
    fn failure_details_must_match_the_outcome() {
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"failure"}"#),
            "error_kind"
        );
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"success","error_kind":"x"}"#),
            "error_kind"
        );
        assert_eq!(
            field_of(r#"{"user":"u","service":"s","outcome":"success","error_message":"x"}"#),
            "error_message"
        );
    }

    #[test]
    fn receipt_and_error_shapes() {
        let r = ReceiptJson::from(Receipt {
            status: ReceiptStatus::NotRecorded,
            position: None,
            recorded_at: None,
        });
        assert_eq!(
            serde_json::to_value(&r).expect("serialises"),
            serde_json::json!({"status": "not_recorded"})
        );
        let e = ErrorJson::from(UsageError::Invalid(InvalidInput {
            field: "occurred-at".to_owned(),
            message: "in the future".to_owned(),
        }));
        assert_eq!(e.to_string(), "occurred_at: in the future");
        let e = ErrorJson::from(UsageError::Invalid(InvalidInput {
            field: "outcome.kind".to_owned(),
            message: "reserved".to_owned(),
        }));
        assert_eq!(e.field.as_deref(), Some("error_kind"));
        assert_eq!(
            ErrorJson::from(UsageError::Storage("disk full".to_owned())).to_string(),
            "storage: disk full"
        );
    }
}
