//! The read side on the wire: events, pages, summaries and a user's report.
//! Output shapes, so unknown fields are tolerated when reading them back.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::fact::{OutcomeKind, quantity_map, split_outcome};
use super::time_serde;
use crate::bindings::{Event, EventPage, Figures, SummaryRow, UsageReport, UsageSummary};
use crate::timestamp::Millis;

/// A stored fact: the fact's fields plus where and when it was stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventJson {
    pub position: u64,
    pub city: String,
    #[serde(with = "time_serde")]
    #[schema(value_type = String, format = DateTime)]
    pub recorded_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    pub user: String,
    pub service: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub model: Option<String>,
    pub outcome: OutcomeKind,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error_message: Option<String>,
    #[serde(with = "time_serde")]
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub duration_ms: Option<u64>,
    #[serde(default)]
    pub quantities: BTreeMap<String, u64>,
}

impl From<Event> for EventJson {
    fn from(e: Event) -> EventJson {
        let (outcome, error_kind, error_message) = split_outcome(e.outcome);
        EventJson {
            position: e.position,
            city: e.city,
            recorded_at: e.recorded_at,
            id: e.id,
            user: e.user,
            service: e.service,
            model: e.model,
            outcome,
            error_kind,
            error_message,
            occurred_at: e.occurred_at,
            duration_ms: e.duration_ms,
            quantities: quantity_map(e.quantities),
        }
    }
}

/// One page of events; `next_cursor` continues the same query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventPageJson {
    pub events: Vec<EventJson>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl From<EventPage> for EventPageJson {
    fn from(p: EventPage) -> EventPageJson {
        EventPageJson {
            events: p.events.into_iter().map(EventJson::from).collect(),
            next_cursor: p.next_cursor,
        }
    }
}

/// Aggregates of one group (or of everything, as totals).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FiguresJson {
    pub calls: u64,
    pub successes: u64,
    pub failures: u64,
    /// Sum over the calls that reported a duration.
    pub duration_ms: u64,
    /// Exact while every hour/day/month cell merged into the row holds at most
    /// 256 users per (service, model, outcome); beyond that a HyperLogLog
    /// estimate (standard error 2.3%).
    pub distinct_users: u64,
    pub quantities: BTreeMap<String, u64>,
}

impl From<Figures> for FiguresJson {
    fn from(f: Figures) -> FiguresJson {
        FiguresJson {
            calls: f.calls,
            successes: f.successes,
            failures: f.failures,
            duration_ms: f.duration_ms,
            distinct_users: f.distinct_users,
            quantities: quantity_map(f.quantities),
        }
    }
}

/// One group: the grouped dimensions (only those grouped on appear), then its figures inline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SummaryRowJson {
    #[serde(
        with = "time_serde::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub bucket_start: Option<Millis>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub model: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub outcome: Option<String>,
    #[serde(flatten)]
    pub figures: FiguresJson,
}

impl From<SummaryRow> for SummaryRowJson {
    fn from(r: SummaryRow) -> SummaryRowJson {
        SummaryRowJson {
            bucket_start: r.bucket_start,
            service: r.service,
            model: r.model,
            user: r.user,
            outcome: r.outcome,
            figures: r.figures.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SummaryJson {
    pub rows: Vec<SummaryRowJson>,
    pub totals: FiguresJson,
}

impl From<UsageSummary> for SummaryJson {
    fn from(s: UsageSummary) -> SummaryJson {
        SummaryJson {
            rows: s.rows.into_iter().map(SummaryRowJson::from).collect(),
            totals: s.totals.into(),
        }
    }
}

/// One user's own usage: their summary, newest events, and where to continue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UsageReportJson {
    pub user: String,
    pub summary: SummaryJson,
    pub recent: Vec<EventJson>,
    #[serde(default)]
    pub next_cursor: Option<String>,
}

impl From<UsageReport> for UsageReportJson {
    fn from(r: UsageReport) -> UsageReportJson {
        UsageReportJson {
            user: r.user,
            summary: r.summary.into(),
            recent: r.recent.into_iter().map(EventJson::from).collect(),
            next_cursor: r.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::{Failure, Outcome, Quantity};
    use serde_json::json;

    fn figures(calls: u64) -> Figures {
        Figures {
            calls,
            successes: calls,
            failures: 0,
            duration_ms: 1500,
            quantities: vec![Quantity {
                name: "images".to_owned(),
                value: 4,
            }],
            distinct_users: 1,
        }
    }

    #[test]
    fn event_is_flat_with_rfc3339_times() {
        let event = Event {
            position: 7,
            city: "demo".to_owned(),
            recorded_at: 1_700_158_546_680,
            id: None,
            user: "azure".to_owned(),
            service: "code".to_owned(),
            model: None,
            outcome: Outcome::Failure(Failure {
                kind: "timeout".to_owned(),
                message: None,
            }),
            occurred_at: 1_700_158_546_000,
            duration_ms: Some(12),
            quantities: vec![],
        };
        let out = serde_json::to_value(EventJson::from(event)).expect("serialises");
        assert_eq!(
            out,
            json!({
                "position": 7, "city": "demo", "recorded_at": "2023-11-16T18:15:46.680Z",
                "user": "azure", "service": "code", "outcome": "failure", "error_kind": "timeout",
                "occurred_at": "2023-11-16T18:15:46.000Z", "duration_ms": 12, "quantities": {}
            })
        );
        let back: EventJson = serde_json::from_value(out).expect("reads back");
        assert_eq!(back.position, 7);
    }

    #[test]
    fn summary_rows_inline_their_figures_and_show_only_grouped_dimensions() {
        let summary = UsageSummary {
            rows: vec![SummaryRow {
                bucket_start: Some(1_700_157_600_000),
                service: Some("code".to_owned()),
                model: None,
                user: None,
                outcome: None,
                figures: figures(3),
            }],
            totals: figures(3),
        };
        let out = serde_json::to_value(SummaryJson::from(summary)).expect("serialises");
        assert_eq!(
            out["rows"][0],
            json!({
                "bucket_start": "2023-11-16T18:00:00.000Z", "service": "code",
                "calls": 3, "successes": 3, "failures": 0, "duration_ms": 1500,
                "distinct_users": 1, "quantities": {"images": 4}
            })
        );
        assert_eq!(out["totals"]["calls"], 3);
        let back: SummaryJson = serde_json::from_value(out).expect("reads back");
        assert_eq!(back.rows[0].figures.calls, 3);
    }
}
