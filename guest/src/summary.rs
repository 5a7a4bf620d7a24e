//! The `summary` and `me` read surfaces, answered from pre-aggregated cells
//! only: cost grows with the window (cells) times the groups in it, never with
//! the number of stored events.
//!
//! A query window is split into output buckets, each covered by the fewest
//! hour/day/month cells (`calendar.rs`). Figures come from one value per cell
//! shard of 64 tuples (or per user and cell when grouping by user, and for
//! `me`); distinct users from the (cell, tuple) user sets merged per row
//! (`distinct.rs`: exact up to 256 users per set, an estimate beyond). So a
//! summary reads a value per cell shard and a set per (cell, tuple), whatever
//! the events and users stored; grouping by user reads a value per (cell,
//! active user).

use std::collections::{BTreeMap, HashSet};

use crate::calendar::{self, Cell, HOUR_MS};
use crate::context::Ctx;
use crate::distinct::DistinctCount;
use crate::events;
use crate::figures::{Tally, TupleFigures};
use crate::kv::Kv;
use crate::layout::{self, List, Tuple};
use crate::lists;
use crate::model::{
    Bucket, Dimension, EventsQuery, MeQuery, Summary, SummaryQuery, SummaryRow, Timestamp,
    UsageError, UsageReport, UsageResult,
};
use crate::names;
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
        let user_lists: Vec<List> = cells.iter().map(|c| List::cell_users(*c)).collect();
        let active = lists::read_all(cx.kv, &user_lists)?;
        let pairs: Vec<(Cell, String)> = cells
            .iter()
            .zip(active)
            .flat_map(|(cell, users)| users.into_iter().map(move |u| (*cell, u)))
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
    let keys = [layout::SPAN, layout::LAYOUT, layout::SEQ].map(str::to_owned);
    let [span, marker, seq]: [Option<Vec<u8>>; 3] =
        cx.kv.get_many(&keys)?.try_into().map_err(|_| {
            UsageError::Storage("get-many answered the wrong number of values".into())
        })?;
    layout::check_version(marker.as_deref(), seq.as_deref()).map_err(UsageError::Storage)?;
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
    let Some((first, last)) = span.and_then(|v| parse_span(&v)) else {
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
/// distinct users from the user sets of the (cell, tuple) pairs in each row.
fn by_tuple<K: Kv + ?Sized>(
    cx: &Ctx<K>,
    plans: &[Plan],
    grouping: &Grouping,
) -> UsageResult<Summary> {
    // Every shard a tuple number could be in: numbers go up to the
    // dictionary's length.
    let numbered = lists::lengths(cx.kv, &[List::names()])?[0];
    let shards = layout::shard_of(u32::try_from(numbered).unwrap_or(u32::MAX)) + 1;
    let cells: Vec<(usize, Cell)> = cells_of(plans)
        .into_iter()
        .flat_map(|cell| std::iter::repeat_n(cell, shards as usize))
        .collect();
    let keys: Vec<String> = cells
        .iter()
        .enumerate()
        .map(|(i, (_, c))| layout::cell_figures(*c, i as u32 % shards))
        .collect();
    let stored = cells
        .iter()
        .zip(cx.kv.get_many(&keys)?)
        .filter_map(|((bucket, cell), value)| Some((*bucket, *cell, value?)))
        .collect();
    let mut rows: BTreeMap<RowKey, Tally> = BTreeMap::new();
    let mut set_keys = Vec::new();
    let mut set_rows = Vec::new();
    for (bucket, cell, tuple, tally) in unpack_all(cx, stored)? {
        set_keys.push(layout::cell_users_set(cell, &tuple));
        let row = (bucket, None, grouping.blank(&tuple));
        set_rows.push(row.clone());
        rows.entry(row).or_default().merge(&tally);
    }
    let mut row_users: BTreeMap<RowKey, DistinctCount> = BTreeMap::new();
    let mut everyone = DistinctCount::default();
    for (row, value) in set_rows.into_iter().zip(cx.kv.get_many(&set_keys)?) {
        let bytes = value.unwrap_or_default();
        let users = row_users.entry(row).or_default();
        if !(users.add_encoded(&bytes) && everyone.add_encoded(&bytes)) {
            return Err(UsageError::Storage(
                "the distinct users of a tuple are missing or unreadable".into(),
            ));
        }
    }
    let rows = rows
        .into_iter()
        .map(|(key, tally)| {
            let users = row_users.get(&key).map_or(0, DistinctCount::count);
            (key, tally, users)
        })
        .collect();
    Ok(finish(plans, grouping, rows, everyone.count()))
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
    let keys: Vec<String> = pairs
        .iter()
        .map(|(cell, user)| layout::user_cell_figures(user, *cell))
        .collect();
    let stored = pairs
        .iter()
        .zip(cx.kv.get_many(&keys)?)
        .enumerate()
        .filter_map(|(i, ((cell, _), value))| Some((i, *cell, value?)))
        .collect();
    let mut rows: BTreeMap<RowKey, Tally> = BTreeMap::new();
    let mut users = HashSet::new();
    for (i, cell, tuple, tally) in unpack_all(cx, stored)? {
        let user = &pairs[i].1;
        let bucket = bucket_of.get(&cell).copied().unwrap_or(0);
        users.insert(user);
        let who = grouping.by_user.then(|| user.clone());
        rows.entry((bucket, who, grouping.blank(&tuple)))
            .or_default()
            .merge(&tally);
    }
    let total_distinct = users.len() as u64;
    // A row of one user's facts has one distinct user; without grouping by
    // user (`me`), every row is that same user.
    let rows = rows
        .into_iter()
        .map(|(key, tally)| (key, tally, 1))
        .collect();
    Ok(finish(plans, grouping, rows, total_distinct))
}

/// Decodes stored figures values (tagged with where they came from) and names
/// their numbers with one more read, of the dictionary entries they use:
/// `(tag, cell, tuple, figures)` for every tuple in them.
fn unpack_all<K: Kv + ?Sized, T: Copy>(
    cx: &Ctx<K>,
    stored: Vec<(T, Cell, Vec<u8>)>,
) -> UsageResult<Vec<(T, Cell, Tuple, Tally)>> {
    let mut decoded = Vec::with_capacity(stored.len());
    for (tag, cell, bytes) in stored {
        let figures = TupleFigures::decode(&bytes).ok_or_else(|| unreadable(cell))?;
        decoded.push((tag, cell, figures));
    }
    let ids = decoded.iter().flat_map(|(_, _, figures)| {
        figures.0.iter().flat_map(|(tuple, packed)| {
            std::iter::once(*tuple).chain(packed.quantities.iter().map(|(id, _)| *id))
        })
    });
    let named = names::resolve(cx.kv, ids)?;
    let mut out = Vec::new();
    for (tag, cell, figures) in decoded {
        for (tuple, packed) in figures.0 {
            let tuple = named
                .get(&tuple)
                .and_then(|name| Tuple::decode(name))
                .ok_or_else(|| unreadable(cell))?;
            let tally = packed
                .unpack(|id| named.get(&id).cloned())
                .ok_or_else(|| unreadable(cell))?;
            out.push((tag, cell, tuple, tally));
        }
    }
    Ok(out)
}

fn unreadable(cell: Cell) -> UsageError {
    UsageError::Storage(format!("the rollup of cell {} is unreadable", cell.key()))
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
