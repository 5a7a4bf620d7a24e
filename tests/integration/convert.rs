//! Conversions between the guest's own types (in which the shared scenarios
//! are written) and the host's generated bindings.

use usage_guest::model as m;
use usage_host::bindings as b;

pub fn fact(f: m::Fact) -> b::Fact {
    b::Fact {
        id: f.id,
        user: f.user,
        service: f.service,
        model: f.model,
        outcome: match f.outcome {
            m::Outcome::Success => b::Outcome::Success,
            m::Outcome::Failure { kind, message } => {
                b::Outcome::Failure(b::Failure { kind, message })
            }
        },
        occurred_at: f.occurred_at,
        duration_ms: f.duration_ms,
        quantities: f
            .quantities
            .into_iter()
            .map(|q| b::Quantity {
                name: q.name,
                value: q.value,
            })
            .collect(),
    }
}

fn quantities(qs: Vec<b::Quantity>) -> Vec<m::Quantity> {
    qs.into_iter()
        .map(|q| m::Quantity {
            name: q.name,
            value: q.value,
        })
        .collect()
}

pub fn event(e: b::Event) -> m::Event {
    m::Event {
        position: e.position,
        city: e.city,
        recorded_at: e.recorded_at,
        id: e.id,
        user: e.user,
        service: e.service,
        model: e.model,
        outcome: match e.outcome {
            b::Outcome::Success => m::Outcome::Success,
            b::Outcome::Failure(f) => m::Outcome::Failure {
                kind: f.kind,
                message: f.message,
            },
        },
        occurred_at: e.occurred_at,
        duration_ms: e.duration_ms,
        quantities: quantities(e.quantities),
    }
}

pub fn receipt(r: b::Receipt) -> m::Receipt {
    m::Receipt {
        status: match r.status {
            b::ReceiptStatus::Recorded => m::ReceiptStatus::Recorded,
            b::ReceiptStatus::Duplicate => m::ReceiptStatus::Duplicate,
            b::ReceiptStatus::NotRecorded => m::ReceiptStatus::NotRecorded,
        },
        position: r.position,
        recorded_at: r.recorded_at,
    }
}

pub fn error(e: b::UsageError) -> m::UsageError {
    match e {
        b::UsageError::Invalid(i) => m::UsageError::Invalid {
            field: i.field,
            message: i.message,
        },
        b::UsageError::Conflict(s) => m::UsageError::Conflict(s),
        b::UsageError::Storage(s) => m::UsageError::Storage(s),
    }
}

pub fn events_query(q: m::EventsQuery) -> b::EventsQuery {
    b::EventsQuery {
        user: q.user,
        service: q.service,
        model: q.model,
        outcome: q.outcome.map(|o| match o {
            m::OutcomeFilter::Success => b::OutcomeFilter::Success,
            m::OutcomeFilter::Failure => b::OutcomeFilter::Failure,
            m::OutcomeFilter::FailureKind(k) => b::OutcomeFilter::FailureKind(k),
        }),
        from: q.from,
        to: q.to,
        order: match q.order {
            m::Order::NewestFirst => b::Order::NewestFirst,
            m::Order::OldestFirst => b::Order::OldestFirst,
        },
        limit: q.limit,
        cursor: q.cursor,
    }
}

pub fn page(p: b::EventPage) -> m::EventPage {
    m::EventPage {
        events: p.events.into_iter().map(event).collect(),
        next_cursor: p.next_cursor,
    }
}

fn dimension(d: m::Dimension) -> b::Dimension {
    match d {
        m::Dimension::Service => b::Dimension::Service,
        m::Dimension::Model => b::Dimension::Model,
        m::Dimension::User => b::Dimension::User,
        m::Dimension::Outcome => b::Dimension::Outcome,
    }
}

fn bucket(k: m::Bucket) -> b::TimeBucket {
    match k {
        m::Bucket::None => b::TimeBucket::None,
        m::Bucket::Hour => b::TimeBucket::Hour,
        m::Bucket::Day => b::TimeBucket::Day,
        m::Bucket::Month => b::TimeBucket::Month,
    }
}

pub fn summary_query(q: m::SummaryQuery) -> b::SummaryQuery {
    b::SummaryQuery {
        from: q.from,
        to: q.to,
        group_by: q.group_by.into_iter().map(dimension).collect(),
        bucket: bucket(q.bucket),
    }
}

pub fn me_query(q: m::MeQuery) -> b::MeQuery {
    b::MeQuery {
        from: q.from,
        to: q.to,
        group_by: q.group_by.into_iter().map(dimension).collect(),
        bucket: bucket(q.bucket),
        recent: q.recent,
    }
}

fn figures(f: b::Figures) -> m::Figures {
    m::Figures {
        calls: f.calls,
        successes: f.successes,
        failures: f.failures,
        duration_ms: f.duration_ms,
        quantities: quantities(f.quantities),
        distinct_users: f.distinct_users,
    }
}

pub fn summary(s: b::UsageSummary) -> m::Summary {
    m::Summary {
        rows: s
            .rows
            .into_iter()
            .map(|r| m::SummaryRow {
                bucket_start: r.bucket_start,
                service: r.service,
                model: r.model,
                user: r.user,
                outcome: r.outcome,
                figures: figures(r.figures),
            })
            .collect(),
        totals: figures(s.totals),
    }
}

pub fn report(r: b::UsageReport) -> m::UsageReport {
    m::UsageReport {
        user: r.user,
        summary: summary(r.summary),
        recent: r.recent.into_iter().map(event).collect(),
        next_cursor: r.next_cursor,
    }
}

pub fn settings(s: b::Settings) -> m::Settings {
    m::Settings {
        record_errors: s.record_errors,
    }
}
