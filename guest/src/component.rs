//! The component's exports: converts between the WIT types and the crate's own,
//! and runs each call over the city's bucket.

use std::cell::OnceCell;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::bindings::exports::downcity::usage::types as wit;
use crate::bindings::exports::downcity::usage::{ingest, query, settings as wit_settings};
use crate::context::Ctx;
use crate::kv::KvResult;
use crate::model::*;
use crate::wasi_kv::WasiKv;
use crate::{events, ingest as ingest_logic, settings, summary};

struct Component;

crate::bindings::export!(Component with_types_in crate::bindings);

thread_local! {
    static BUCKET: OnceCell<WasiKv> = const { OnceCell::new() };
    static CITY: String = std::env::var("USAGE_CITY").unwrap_or_else(|_| "default".to_owned());
}

/// Runs `f` with this call's context; the bucket is opened on first use and kept.
fn with_ctx<T>(f: impl FnOnce(&Ctx<WasiKv>) -> Result<T, UsageError>) -> Result<T, wit::Error> {
    BUCKET.with(|cell| {
        if cell.get().is_none() {
            let kv: KvResult<WasiKv> = WasiKv::open();
            let kv = kv.map_err(|e| wit::Error::Storage(e.0))?;
            let _ = cell.set(kv);
        }
        let kv = cell
            .get()
            .ok_or_else(|| wit::Error::Storage("bucket unavailable".into()))?;
        CITY.with(|city| {
            let cx = Ctx {
                kv,
                city,
                now: now_ms(),
            };
            f(&cx).map_err(to_wit_error)
        })
    })
}

fn now_ms() -> Timestamp {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl ingest::Guest for Component {
    fn record(fact: wit::Fact) -> Result<wit::Receipt, wit::Error> {
        with_ctx(|cx| ingest_logic::record(cx, from_wit_fact(fact)).map(to_wit_receipt))
    }

    fn record_batch(facts: Vec<wit::Fact>) -> Vec<Result<wit::Receipt, wit::Error>> {
        let n = facts.len();
        let facts: Vec<Fact> = facts.into_iter().map(from_wit_fact).collect();
        let results = with_ctx(|cx| Ok(ingest_logic::record_batch(cx, facts)));
        match results {
            Ok(results) => results
                .into_iter()
                .map(|r| r.map(to_wit_receipt).map_err(to_wit_error))
                .collect(),
            Err(e) => vec![Err(e); n],
        }
    }
}

impl query::Guest for Component {
    fn events(q: query::EventsQuery) -> Result<query::EventPage, wit::Error> {
        let q = EventsQuery {
            user: q.user,
            service: q.service,
            model: q.model,
            outcome: q.outcome.map(|o| match o {
                query::OutcomeFilter::Success => OutcomeFilter::Success,
                query::OutcomeFilter::Failure => OutcomeFilter::Failure,
                query::OutcomeFilter::FailureKind(k) => OutcomeFilter::FailureKind(k),
            }),
            from: q.from,
            to: q.to,
            order: match q.order {
                query::Order::NewestFirst => Order::NewestFirst,
                query::Order::OldestFirst => Order::OldestFirst,
            },
            limit: q.limit,
            cursor: q.cursor,
        };
        with_ctx(|cx| events::events(cx, &q)).map(|page| query::EventPage {
            events: page.events.into_iter().map(to_wit_event).collect(),
            next_cursor: page.next_cursor,
        })
    }

    fn summary(q: query::SummaryQuery) -> Result<query::UsageSummary, wit::Error> {
        let q = SummaryQuery {
            from: q.from,
            to: q.to,
            group_by: q.group_by.into_iter().map(from_wit_dimension).collect(),
            bucket: from_wit_bucket(q.bucket),
        };
        with_ctx(|cx| summary::summary(cx, &q)).map(to_wit_summary)
    }

    fn me(user: String, q: query::MeQuery) -> Result<query::UsageReport, wit::Error> {
        let q = MeQuery {
            from: q.from,
            to: q.to,
            group_by: q.group_by.into_iter().map(from_wit_dimension).collect(),
            bucket: from_wit_bucket(q.bucket),
            recent: q.recent,
        };
        with_ctx(|cx| summary::me(cx, &user, &q)).map(|r| query::UsageReport {
            user: r.user,
            summary: to_wit_summary(r.summary),
            recent: r.recent.into_iter().map(to_wit_event).collect(),
            next_cursor: r.next_cursor,
        })
    }
}

impl wit_settings::Guest for Component {
    fn get_settings() -> Result<wit::Settings, wit::Error> {
        with_ctx(settings::get).map(|s| wit::Settings {
            record_errors: s.record_errors,
        })
    }

    fn set_settings(s: wit::Settings) -> Result<wit::Settings, wit::Error> {
        let s = Settings {
            record_errors: s.record_errors,
        };
        with_ctx(|cx| settings::set(cx, s)).map(|s| wit::Settings {
            record_errors: s.record_errors,
        })
    }
}

fn from_wit_fact(f: wit::Fact) -> Fact {
    Fact {
        id: f.id,
        user: f.user,
        service: f.service,
        model: f.model,
        outcome: from_wit_outcome(f.outcome),
        occurred_at: f.occurred_at,
        duration_ms: f.duration_ms,
        quantities: f
            .quantities
            .into_iter()
            .map(|q| Quantity {
                name: q.name,
                value: q.value,
            })
            .collect(),
    }
}

fn from_wit_outcome(o: wit::Outcome) -> Outcome {
    match o {
        wit::Outcome::Success => Outcome::Success,
        wit::Outcome::Failure(f) => Outcome::Failure {
            kind: f.kind,
            message: f.message,
        },
    }
}

fn to_wit_outcome(o: Outcome) -> wit::Outcome {
    match o {
        Outcome::Success => wit::Outcome::Success,
        Outcome::Failure { kind, message } => wit::Outcome::Failure(wit::Failure { kind, message }),
    }
}

fn to_wit_quantities(qs: Vec<Quantity>) -> Vec<wit::Quantity> {
    qs.into_iter()
        .map(|q| wit::Quantity {
            name: q.name,
            value: q.value,
        })
        .collect()
}

fn to_wit_event(e: Event) -> wit::Event {
    wit::Event {
        position: e.position,
        city: e.city,
        recorded_at: e.recorded_at,
        id: e.id,
        user: e.user,
        service: e.service,
        model: e.model,
        outcome: to_wit_outcome(e.outcome),
        occurred_at: e.occurred_at,
        duration_ms: e.duration_ms,
        quantities: to_wit_quantities(e.quantities),
    }
}

fn to_wit_receipt(r: Receipt) -> wit::Receipt {
    wit::Receipt {
        status: match r.status {
            ReceiptStatus::Recorded => wit::ReceiptStatus::Recorded,
            ReceiptStatus::Duplicate => wit::ReceiptStatus::Duplicate,
            ReceiptStatus::NotRecorded => wit::ReceiptStatus::NotRecorded,
        },
        position: r.position,
        recorded_at: r.recorded_at,
    }
}

fn to_wit_error(e: UsageError) -> wit::Error {
    match e {
        UsageError::Invalid { field, message } => {
            wit::Error::Invalid(wit::InvalidInput { field, message })
        }
        UsageError::Conflict(m) => wit::Error::Conflict(m),
        UsageError::Storage(m) => wit::Error::Storage(m),
    }
}

fn from_wit_dimension(d: query::Dimension) -> Dimension {
    match d {
        query::Dimension::Service => Dimension::Service,
        query::Dimension::Model => Dimension::Model,
        query::Dimension::User => Dimension::User,
        query::Dimension::Outcome => Dimension::Outcome,
    }
}

fn from_wit_bucket(b: query::Bucket) -> Bucket {
    match b {
        query::Bucket::None => Bucket::None,
        query::Bucket::Hour => Bucket::Hour,
        query::Bucket::Day => Bucket::Day,
        query::Bucket::Month => Bucket::Month,
    }
}

fn to_wit_figures(f: Figures) -> query::Figures {
    query::Figures {
        calls: f.calls,
        successes: f.successes,
        failures: f.failures,
        duration_ms: f.duration_ms,
        quantities: to_wit_quantities(f.quantities),
        distinct_users: f.distinct_users,
    }
}

fn to_wit_summary(s: Summary) -> query::UsageSummary {
    query::UsageSummary {
        rows: s
            .rows
            .into_iter()
            .map(|r| query::SummaryRow {
                bucket_start: r.bucket_start,
                service: r.service,
                model: r.model,
                user: r.user,
                outcome: r.outcome,
                figures: to_wit_figures(r.figures),
            })
            .collect(),
        totals: to_wit_figures(s.totals),
    }
}
