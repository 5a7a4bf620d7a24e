//! The `events` read surface: filtered, paged listings of stored events.
//!
//! A listing walks one list: the user's events when a user is given, else the
//! failures when the outcome filter asks for failures, else all positions.
//! Other filters are applied while walking; a page looks at no more than
//! [`SCAN_BUDGET_PER_EVENT`] × limit entries, so a very selective filter may
//! return a short page with a cursor to go on.

use crate::context::Ctx;
use crate::cursor;
use crate::ingest::{load_events, parse_position};
use crate::kv::{Kv, parse_counter};
use crate::layout::{self, List};
use crate::lists;
use crate::model::{Event, EventPage, EventsQuery, Order, OutcomeFilter, UsageResult};
use crate::validate;

pub const SCAN_BUDGET_PER_EVENT: u64 = 8;
const SCAN_BUDGET_MIN: u64 = 256;

enum Source {
    /// Every position `1..=seq`.
    All,
    List(List),
}

pub fn events<K: Kv + ?Sized>(cx: &Ctx<K>, q: &EventsQuery) -> UsageResult<EventPage> {
    check(q)?;
    let limit = u64::from(validate::limit("limit", q.limit, validate::PAGE_DEFAULT)?);
    let source = match (&q.user, &q.outcome) {
        (Some(user), _) => Source::List(List::user_events(user)),
        (None, Some(OutcomeFilter::Failure | OutcomeFilter::FailureKind(_))) => {
            Source::List(List::failures())
        }
        _ => Source::All,
    };
    let total = match &source {
        Source::All => cx
            .kv
            .get(layout::SEQ)?
            .map_or(Ok(0), |v| parse_counter(&v))?,
        Source::List(list) => lists::lengths(cx.kv, std::slice::from_ref(list))?[0],
    };
    let newest = q.order == Order::NewestFirst;
    let mut next = match &q.cursor {
        Some(c) => cursor::decode(c, q)?,
        None if newest => total,
        None => 1,
    };
    let mut budget = (limit * SCAN_BUDGET_PER_EVENT).max(SCAN_BUDGET_MIN);
    let mut found: Vec<Event> = Vec::new();
    'walk: while budget > 0 && (found.len() as u64) < limit {
        let remaining = if newest {
            next
        } else {
            (total + 1).saturating_sub(next)
        };
        let chunk = (limit - found.len() as u64)
            .max(16)
            .min(budget)
            .min(remaining);
        if chunk == 0 {
            break;
        }
        let ks: Vec<u64> = if newest {
            (next + 1 - chunk..=next).rev().collect()
        } else {
            (next..next + chunk).collect()
        };
        let positions = positions_of(cx, &source, &ks)?;
        let mut loaded = load_events(cx, positions.iter().flatten().copied())?;
        for position in positions {
            budget -= 1;
            next = if newest { next - 1 } else { next + 1 };
            // A gap (a position handed out by a failed call on a host without
            // transactions) is skipped.
            let Some(stored) = position.and_then(|p| loaded.remove(&p)) else {
                continue;
            };
            if matches(q, &stored.event) {
                found.push(stored.event);
                if found.len() as u64 == limit {
                    break 'walk;
                }
            }
        }
    }
    let next_cursor = (!newest || next >= 1).then(|| cursor::encode(next, q));
    Ok(EventPage {
        events: found,
        next_cursor,
    })
}

fn check(q: &EventsQuery) -> UsageResult<()> {
    validate::window(q.from, q.to)?;
    for (field, value) in [
        ("user", &q.user),
        ("service", &q.service),
        ("model", &q.model),
    ] {
        if let Some(v) = value {
            validate::name(field, v)?;
        }
    }
    if let Some(OutcomeFilter::FailureKind(kind)) = &q.outcome {
        validate::name("outcome", kind)?;
    }
    Ok(())
}

/// The positions at list indexes `ks`, aligned with them.
fn positions_of<K: Kv + ?Sized>(
    cx: &Ctx<K>,
    source: &Source,
    ks: &[u64],
) -> UsageResult<Vec<Option<u64>>> {
    match source {
        Source::All => Ok(ks.iter().map(|k| Some(*k)).collect()),
        Source::List(list) => {
            let reads: Vec<(List, u64)> = ks.iter().map(|k| (list.clone(), *k)).collect();
            Ok(lists::entries(cx.kv, &reads)?
                .into_iter()
                .map(|v| parse_position(&v?))
                .collect())
        }
    }
}

fn matches(q: &EventsQuery, e: &Event) -> bool {
    q.user.as_ref().is_none_or(|u| *u == e.user)
        && q.service.as_ref().is_none_or(|s| *s == e.service)
        && q.model.as_ref().is_none_or(|m| Some(m) == e.model.as_ref())
        && q.outcome.as_ref().is_none_or(|o| o.matches(&e.outcome))
        && q.from.is_none_or(|from| e.occurred_at >= from)
        && q.to.is_none_or(|to| e.occurred_at < to)
}
