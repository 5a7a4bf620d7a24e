//! The guest's own domain types. The WIT bindings are converted to and from these
//! in `component.rs`, so the logic also runs natively in tests.

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
pub type Timestamp = u64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quantity {
    pub name: String,
    pub value: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    Success,
    Failure {
        kind: String,
        message: Option<String>,
    },
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Success)
    }

    /// The label used when grouping by outcome: "success" or the failure kind.
    pub fn label(&self) -> &str {
        match self {
            Outcome::Success => SUCCESS_LABEL,
            Outcome::Failure { kind, .. } => kind,
        }
    }
}

/// Group label of successful calls; no failure kind may take it.
pub const SUCCESS_LABEL: &str = "success";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub id: Option<String>,
    pub user: String,
    pub service: String,
    pub model: Option<String>,
    pub outcome: Outcome,
    pub occurred_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    pub quantities: Vec<Quantity>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub position: u64,
    pub city: String,
    pub recorded_at: Timestamp,
    pub id: Option<String>,
    pub user: String,
    pub service: String,
    pub model: Option<String>,
    pub outcome: Outcome,
    pub occurred_at: Timestamp,
    pub duration_ms: Option<u64>,
    pub quantities: Vec<Quantity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptStatus {
    Recorded,
    Duplicate,
    NotRecorded,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub status: ReceiptStatus,
    pub position: Option<u64>,
    pub recorded_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageError {
    Invalid { field: String, message: String },
    Conflict(String),
    Storage(String),
}

impl UsageError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        UsageError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type UsageResult<T> = Result<T, UsageError>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub record_errors: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            record_errors: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    #[default]
    NewestFirst,
    OldestFirst,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutcomeFilter {
    Success,
    Failure,
    FailureKind(String),
}

impl OutcomeFilter {
    pub fn matches(&self, outcome: &Outcome) -> bool {
        match (self, outcome) {
            (OutcomeFilter::Success, Outcome::Success) => true,
            (OutcomeFilter::Failure, Outcome::Failure { .. }) => true,
            (OutcomeFilter::FailureKind(want), Outcome::Failure { kind, .. }) => want == kind,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventsQuery {
    pub user: Option<String>,
    pub service: Option<String>,
    pub model: Option<String>,
    pub outcome: Option<OutcomeFilter>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub order: Order,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<Event>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Dimension {
    Service,
    Model,
    User,
    Outcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bucket {
    #[default]
    None,
    Hour,
    Day,
    Month,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryQuery {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub group_by: Vec<Dimension>,
    pub bucket: Bucket,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Figures {
    pub calls: u64,
    pub successes: u64,
    pub failures: u64,
    pub duration_ms: u64,
    /// Sorted by name.
    pub quantities: Vec<Quantity>,
    pub distinct_users: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryRow {
    pub bucket_start: Option<Timestamp>,
    pub service: Option<String>,
    pub model: Option<String>,
    pub user: Option<String>,
    pub outcome: Option<String>,
    pub figures: Figures,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub rows: Vec<SummaryRow>,
    pub totals: Figures,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MeQuery {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub group_by: Vec<Dimension>,
    pub bucket: Bucket,
    pub recent: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageReport {
    pub user: String,
    pub summary: Summary,
    pub recent: Vec<Event>,
    pub next_cursor: Option<String>,
}
