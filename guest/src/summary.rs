//! The `summary` and `me` read surfaces, answered from pre-aggregated cells
//! only: cost grows with the window (cells) times the groups in it, never with
//! the number of stored events.
//!
//! A query window is split into output buckets, each covered by the fewest
//! hour/day/month cells (`calendar.rs`). Figures come from the cells' tuples
//! (or a user's tuples when grouping by user, or for `me`). Distinct users come
//! from the per-cell lists of active users (and their own tuple lists when the
//! rows are grouped), so that one figure's cost grows with the users active in
//! the window; an ungrouped single-cell answer reads just a counter.

use std::collections::{BTreeMap, HashSet};

use crate::calendar::{self, Cell, HOUR_MS};
use crate::context::Ctx;
use crate::events;
use crate::figures::Tally;
use crate::kv::Kv;
use crate::layout::{self, List, Tuple};
use crate::lists;
use crate::model::{
    Bucket, Dimension, EventsQuery, MeQuery, Summary, SummaryQuery, SummaryRow, Timestamp,
    UsageError, UsageReport, UsageResult,
};
use crate::rollup::parse_span;
use crate::validate;

/// Output buckets one query may ask for.
pub const MAX_BUCKETS: usize = 10_000;
const RECENT_DEFAULT: u32 = 10;

/// One output bucket and the cells that cover it.
struct Plan {
    start: Option<Timestamp>,
    cells: Vec<Cell>,
}

/// A row being built: bucket index, user (when grouped by user), and the
/// tuple with the dimensions not grouped on blanked.
type RowKey = (usize, Option<String>, Tuple);

struct Grouping {
    bits: u8,
    by_user: bool,
}

impl Grouping {
    fn of(dims: &[Dimension]) -> Grouping {
        let mut bits = 0;
        for d in dims {
            bits |= match d {
                Dimension::Service => 1,
                Dimension::Model => 2,
                Dimension::Outcome => 4,
                Dimension::User => 0,
            };
        }
        Grouping {
            bits,
            by_user: dims.contains(&Dimension::User),
        }
    }

    fn blank(&self, t: &Tuple) -> Tuple {
        let keep = |bit: u8, s: &str| {
            if self.bits & bit != 0 {
                s.to_owned()
            } else {
                String::new()
            }
        };
        Tuple {
            service: keep(1, &t.service),
            model: keep(2, &t.model),
            outcome: keep(4, &t.outcome),
        }
    }
}

pub fn summary<K: Kv + ?Sized>(cx: &Ctx<K>, q: &SummaryQuery) -> UsageResult<Summary> {
    let plans = plan(cx, q.from, q.to, q.bucket)?;
    let grouping = Grouping::of(&q.group_by);
    if grouping.by_user {
        let cells: Vec<Cell> = plans.iter().flat_map(|p| p.cells.iter().copied()).collect();
        let active_lists: Vec<List> = cells.iter().map(|c| List::active_users(*c)).collect();
        let active = lists::read_all(cx.kv, &active_lists)?;
        let pairs: Vec<(Cell, String)> = cells
            .iter()
            .zip(active)
            .flat_map(|(cell, users)| users.into_iter().map(move |u| (*cell, layout::unesc(&u))))
            .collect();
        per_user(cx, &plans, &grouping, &pairs)
    } else {
        by_tuple(cx, &plans, &grouping)
    }
}

pub fn me<K: Kv + ?Sized>(cx: &Ctx<K>, user: &str, q: &MeQuery) -> UsageResult<UsageReport> {
    validate::name("user", user)?;
    let recent = validate::limit("recent", q.recent, RECENT_DEFAULT)?;
    let plans = plan(cx, q.from, q.to, q.bucket)?;
    let mut grouping = Grouping::of(&q.group_by);
    grouping.by_user = false;
    let pairs: Vec<(Cell, String)> = plans
        .iter()
        .flat_map(|p| p.cells.iter().map(|c| (*c, user.to_owned())))
        .collect();
    let summary = per_user(cx, &plans, &grouping, &pairs)?;
    let page = events::events(
        cx,
        &EventsQuery {
            user: Some(user.to_owned()),
            limit: Some(recent),
            ..Default::default()
        },
    )?;
    Ok(UsageReport {
        user: user.to_owned(),
        summary,
        recent: page.events,
        next_cursor: page.next_cursor,
    })
}

/// Splits the window into buckets and covers each with cells. Unbounded sides
/// stop at the first and last hour that hold facts.
fn plan<K: Kv + ?Sized>(
    cx: &Ctx<K>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
    bucket: Bucket,
) -> UsageResult<Vec<Plan>> {
    validate::window(from, to)?;
    for (field, at) in [("from", from), ("to", to)] {
        if let Some(at) = at
            && !at.is_multiple_of(HOUR_MS)
        {
            return Err(UsageError::invalid(
                field,
                format!("{at} is not a whole hour (UTC); rollups are hourly"),
            ));
        }
    }
    if from.is_none() && to.is_none() && bucket == Bucket::None {
        return Ok(vec![Plan {
            start: None,
            cells: vec![Cell::All],
        }]);
    }
    let Some((first, last)) = cx.kv.get(layout::SPAN)?.and_then(|v| parse_span(&v)) else {
        return Ok(Vec::new());
    };
    let lo = from.map_or(first, |f| (f / HOUR_MS).max(first));
    let hi = to.map_or(last + 1, |t| (t / HOUR_MS).min(last + 1));
    if bucket == Bucket::None {
        let cells = if lo < hi {
            calendar::cover(lo, hi)
        } else {
            Vec::new()
        };
        return Ok(vec![Plan { start: None, cells }]);
    }
    let mut plans = Vec::new();
    let mut at = lo;
    while at < hi {
        let (start, end) = calendar::bucket_bounds(bucket, at);
        plans.push(Plan {
            start: Some(start * HOUR_MS),
            cells: calendar::cover(at, end.min(hi)),
        });
        if plans.len() > MAX_BUCKETS {
            return Err(UsageError::invalid(
                "bucket",
                format!(
                    "the window holds more than {MAX_BUCKETS} buckets; narrow it or use a coarser bucket"
                ),
            ));
        }
        at = end;
    }
    Ok(plans)
}

/// Figures from the city-wide cells, grouped by service, model and outcome;
/// distinct users from the cells' active-user lists (and, when grouping, from
/// those users' own tuple lists).
fn by_tuple<K: Kv + ?Sized>(
    cx: &Ctx<K>,
    plans: &[Plan],
    grouping: &Grouping,
) -> UsageResult<Summary> {
    let cells: Vec<(usize, Cell)> = cells_of(plans);
    let tuple_lists: Vec<List> = cells.iter().map(|(_, c)| List::cell_tuples(*c)).collect();
    let tuples = lists::read_all(cx.kv, &tuple_lists)?;
    let mut keys = Vec::new();
    let mut origin = Vec::new();
    for ((bucket, cell), names) in cells.iter().zip(tuples) {
        for tuple in names.iter().filter_map(|t| Tuple::decode(t)) {
            keys.push(layout::cell_figures(*cell, &tuple));
            origin.push((*bucket, tuple));
        }
    }
    let mut rows: BTreeMap<RowKey, Tally> = BTreeMap::new();
    for ((bucket, tuple), value) in origin.into_iter().zip(cx.kv.get_many(&keys)?) {
        if let Some(tally) = value.and_then(|v| Tally::decode(&v)) {
            rows.entry((bucket, None, grouping.blank(&tuple)))
                .or_default()
                .merge(&tally);
        }
    }
    let active_lists: Vec<List> = cells.iter().map(|(_, c)| List::active_users(*c)).collect();
    if cells.len() == 1 && grouping.bits == 0 {
        // One cell, one row: its user count is the list's length.
        let users = lists::lengths(cx.kv, &active_lists)?[0];
        let rows = rows
            .into_iter()
            .map(|(key, tally)| (key, tally, users))
            .collect();
        return Ok(finish(plans, grouping, rows, users));
    }
    let active = lists::read_all(cx.kv, &active_lists)?;
    let mut row_users: BTreeMap<RowKey, HashSet<String>> = BTreeMap::new();
    if grouping.bits == 0 {
        for ((bucket, _), users) in cells.iter().zip(&active) {
            let key = (*bucket, None, Tuple::default());
            row_users
                .entry(key)
                .or_default()
                .extend(users.iter().cloned());
        }
    } else {
        let pairs: Vec<(usize, Cell, &String)> = cells
            .iter()
            .zip(&active)
            .flat_map(|((bucket, cell), users)| users.iter().map(move |u| (*bucket, *cell, u)))
            .collect();
        let user_lists: Vec<List> = pairs
            .iter()
            .map(|(_, cell, user)| List::user_cell_tuples(&layout::unesc(user), *cell))
            .collect();
        for ((bucket, _, user), names) in pairs.iter().zip(lists::read_all(cx.kv, &user_lists)?) {
            for tuple in names.iter().filter_map(|t| Tuple::decode(t)) {
                let key = (*bucket, None, grouping.blank(&tuple));
                row_users.entry(key).or_default().insert((*user).clone());
            }
        }
    }
    let everyone: HashSet<&String> = active.iter().flatten().collect();
    let rows = rows
        .into_iter()
        .map(|(key, tally)| {
            let users = row_users.get(&key).map_or(0, |u| u.len() as u64);
            (key, tally, users)
        })
        .collect();
    Ok(finish(plans, grouping, rows, everyone.len() as u64))
}

/// Figures from users' own cells, for `(cell, user)` pairs.
fn per_user<K: Kv + ?Sized>(
    cx: &Ctx<K>,
    plans: &[Plan],
    grouping: &Grouping,
    pairs: &[(Cell, String)],
) -> UsageResult<Summary> {
    let bucket_of: BTreeMap<Cell, usize> =
        cells_of(plans).into_iter().map(|(b, c)| (c, b)).collect();
    let tuple_lists: Vec<List> = pairs
        .iter()
        .map(|(cell, user)| List::user_cell_tuples(user, *cell))
        .collect();
    let tuples = lists::read_all(cx.kv, &tuple_lists)?;
    let mut keys = Vec::new();
    let mut origin = Vec::new();
    for ((cell, user), names) in pairs.iter().zip(tuples) {
        for tuple in names.iter().filter_map(|t| Tuple::decode(t)) {
            keys.push(layout::user_cell_figures(user, *cell, &tuple));
            origin.push((bucket_of.get(cell).copied().unwrap_or(0), user, tuple));
        }
    }
    let mut rows: BTreeMap<RowKey, Tally> = BTreeMap::new();
    let mut users = HashSet::new();
    for ((bucket, user, tuple), value) in origin.into_iter().zip(cx.kv.get_many(&keys)?) {
        let Some(tally) = value.and_then(|v| Tally::decode(&v)) else {
            continue;
        };
        users.insert(user.clone());
        let who = grouping.by_user.then(|| user.clone());
        rows.entry((bucket, who, grouping.blank(&tuple)))
            .or_default()
            .merge(&tally);
    }
    let total_distinct = users.len() as u64;
    let rows = rows
        .into_iter()
        .map(|(key, tally)| {
            // A row of one user's facts has one distinct user; without grouping
            // by user (`me`), every row is that same user.
            (key, tally, 1)
        })
        .collect();
    Ok(finish(plans, grouping, rows, total_distinct))
}

fn cells_of(plans: &[Plan]) -> Vec<(usize, Cell)> {
    plans
        .iter()
        .enumerate()
        .flat_map(|(i, p)| p.cells.iter().map(move |c| (i, *c)))
        .collect()
}

fn finish(
    plans: &[Plan],
    grouping: &Grouping,
    rows: Vec<(RowKey, Tally, u64)>,
    total_distinct: u64,
) -> Summary {
    let mut totals = Tally::default();
    let mut out: Vec<SummaryRow> = rows
        .into_iter()
        .map(|((bucket, user, tuple), tally, users)| {
            totals.merge(&tally);
            let on = |bit: u8| grouping.bits & bit != 0;
            SummaryRow {
                bucket_start: plans.get(bucket).and_then(|p| p.start),
                service: on(1).then(|| tuple.service_name()),
                model: on(2).then(|| tuple.model_name()),
                user,
                outcome: on(4).then(|| tuple.outcome_label()),
                figures: tally.into_figures(users),
            }
        })
        .collect();
    // Buckets in time order; within one, the largest groups first.
    out.sort_by(|a, b| {
        a.bucket_start
            .cmp(&b.bucket_start)
            .then(b.figures.calls.cmp(&a.figures.calls))
            .then_with(|| {
                (&a.service, &a.model, &a.user, &a.outcome)
                    .cmp(&(&b.service, &b.model, &b.user, &b.outcome))
            })
    });
    Summary {
        rows: out,
        totals: totals.into_figures(total_distinct),
    }
}
