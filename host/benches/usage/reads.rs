//! Reads on a loaded store: `summary` over a 30-day window by model and by
//! day, `me` for a heavy and a light user, an `events` page of 50 filtered by
//! user; each next to SQLite's equivalent query on the same facts.

use std::time::Duration;

use usage_host::bindings::{Dimension, EventsQuery, MeQuery, Order, SummaryQuery, TimeBucket};
use usage_host::runtime::Runtime;

use crate::Size;
use crate::engines::CITY;
use crate::facts::{DAY_MS, END_MS, HEAVY_USER, LIGHT_USER};
use crate::measure::{Latency, latency};
use crate::report::{Goal, Report, fmt};
use crate::sqlite::Sqlite;

const FROM: u64 = END_MS - 30 * DAY_MS;
const RECENT: u32 = 20;
const PAGE: u32 = 50;

/// The reads at N stored events; `base` keeps the latencies at the smallest N
/// so the growth to the largest can be judged.
pub fn run(
    size: &Size,
    n: u64,
    runtime: &Runtime,
    sqlite: &Sqlite,
    base: &mut Vec<(String, Duration)>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let city = runtime.city(CITY)?;
    let reps =
        |f: &mut dyn FnMut() -> anyhow::Result<()>| latency(5, size.read_reps, size.read_budget, f);
    let slow =
        |f: &mut dyn FnMut() -> anyhow::Result<()>| latency(3, size.read_reps, size.read_budget, f);
    let summary = |group_by: Vec<Dimension>, bucket| SummaryQuery {
        from: Some(FROM),
        to: Some(END_MS),
        group_by,
        bucket,
    };
    let me = MeQuery {
        from: Some(FROM),
        to: Some(END_MS),
        group_by: vec![Dimension::Service, Dimension::Model],
        bucket: TimeBucket::None,
        recent: Some(RECENT),
    };

    // Both sides must count the same facts, or the comparison means nothing.
    let ours = city
        .summary(summary(vec![Dimension::Model], TimeBucket::None))?
        .map_err(|e| anyhow::anyhow!("summary failed: {e:?}"))?;
    let (_, their_calls) = sqlite.summary_by_model(FROM, END_MS)?;
    anyhow::ensure!(
        ours.totals.calls == their_calls,
        "at {n}: our 30-day summary counts {} calls, SQLite {their_calls}",
        ours.totals.calls
    );

    let cases: Vec<(&str, Latency, Latency)> = vec![
        (
            "summary 30 days by model",
            reps(&mut || ok(city.summary(summary(vec![Dimension::Model], TimeBucket::None))?))?,
            slow(&mut || sqlite.summary_by_model(FROM, END_MS).map(drop))?,
        ),
        (
            "summary 30 days by day",
            reps(&mut || ok(city.summary(summary(vec![], TimeBucket::Day))?))?,
            slow(&mut || sqlite.summary_by_day(FROM, END_MS).map(drop))?,
        ),
        (
            "me, heavy user",
            reps(&mut || ok(city.me(HEAVY_USER, me.clone())?))?,
            slow(&mut || sqlite.me(HEAVY_USER, FROM, END_MS, RECENT).map(drop))?,
        ),
        (
            "me, light user",
            reps(&mut || ok(city.me(LIGHT_USER, me.clone())?))?,
            slow(&mut || sqlite.me(LIGHT_USER, FROM, END_MS, RECENT).map(drop))?,
        ),
        (
            "events page of 50, one user",
            reps(&mut || ok(city.events(page())?))?,
            slow(&mut || sqlite.page(HEAVY_USER, PAGE).map(drop))?,
        ),
    ];
    let at = format!("N = {}", fmt(n as f64));
    for (name, ours, theirs) in &cases {
        report.add(
            "Reads",
            format!("{name}, {at}"),
            ms(ours.median),
            "ms median",
            format!(
                "p99 {} ms ({} calls); SQLite median {} ms, p99 {} ms ({} calls)",
                fmt(ms(ours.p99)),
                ours.samples,
                fmt(ms(theirs.median)),
                fmt(ms(theirs.p99)),
                theirs.samples
            ),
        );
    }
    if n == size.loads[0] {
        *base = cases
            .iter()
            .map(|(name, o, _)| (name.to_string(), o.median))
            .collect();
    } else if n == *size.loads.last().unwrap_or(&0) {
        let small = fmt(size.loads[0] as f64);
        for (name, ours, _) in &cases {
            let Some((_, at_small)) = base.iter().find(|(b, _)| b == name) else {
                continue;
            };
            let limit = if name.starts_with("events") { 2.0 } else { 1.5 };
            report.target(
                format!("{name}: cost at {at} / at {small}"),
                ratio(ours.median, *at_small),
                Goal::AtMost(limit),
            );
        }
        for (name, ours, theirs) in cases
            .iter()
            .filter(|(name, ..)| name.starts_with("summary"))
        {
            report.target(
                format!("SQLite / ours, {name}, {at}"),
                ratio(theirs.median, ours.median),
                Goal::AtLeast(1000.0),
            );
        }
    }
    Ok(())
}

fn page() -> EventsQuery {
    EventsQuery {
        user: Some(HEAVY_USER.to_owned()),
        service: None,
        model: None,
        outcome: None,
        from: None,
        to: None,
        order: Order::NewestFirst,
        limit: Some(PAGE),
        cursor: None,
    }
}

fn ok<T, E: std::fmt::Debug>(answer: Result<T, E>) -> anyhow::Result<()> {
    answer
        .map(drop)
        .map_err(|e| anyhow::anyhow!("the read failed: {e:?}"))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64().max(1e-12)
}
