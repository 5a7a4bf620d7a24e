//! The summary across cities: each city's summary, merged group by group.
//!
//! Users belong to a city, so across cities a user is a `(city, user)` pair: the
//! same name in two cities is two users. That makes `distinct_users` additive
//! across cities, and every figure of a merged group is the sum of the cities'.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::timestamp::Millis;
use crate::wire::{FiguresJson, SummaryJson, SummaryRowJson};

/// A group of the cross-city summary; `city` appears when grouping by city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CityRowJson {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub city: Option<String>,
    #[serde(flatten)]
    pub row: SummaryRowJson,
}

/// `GET /v1/summary`: the cities included, the merged groups and the totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AllCitiesSummaryJson {
    pub cities: Vec<String>,
    pub rows: Vec<CityRowJson>,
    pub totals: FiguresJson,
}

type GroupKey = (
    Option<Millis>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Merges per-city summaries (in city order); `by_city` keeps the city as a dimension.
pub fn merge(per_city: Vec<(String, SummaryJson)>, by_city: bool) -> AllCitiesSummaryJson {
    let mut groups: BTreeMap<GroupKey, FiguresJson> = BTreeMap::new();
    let mut totals = empty();
    let mut cities = Vec::with_capacity(per_city.len());
    for (city, summary) in per_city {
        add(&mut totals, &summary.totals);
        for row in summary.rows {
            let key = (
                row.bucket_start,
                by_city.then(|| city.clone()),
                row.service,
                row.model,
                row.user,
                row.outcome,
            );
            add(groups.entry(key).or_insert_with(empty), &row.figures);
        }
        cities.push(city);
    }
    let rows = groups
        .into_iter()
        .map(
            |((bucket_start, city, service, model, user, outcome), figures)| CityRowJson {
                city,
                row: SummaryRowJson {
                    bucket_start,
                    service,
                    model,
                    user,
                    outcome,
                    figures,
                },
            },
        )
        .collect();
    AllCitiesSummaryJson {
        cities,
        rows,
        totals,
    }
}

fn empty() -> FiguresJson {
    FiguresJson {
        calls: 0,
        successes: 0,
        failures: 0,
        duration_ms: 0,
        distinct_users: 0,
        quantities: BTreeMap::new(),
    }
}

fn add(into: &mut FiguresJson, from: &FiguresJson) {
    into.calls = into.calls.saturating_add(from.calls);
    into.successes = into.successes.saturating_add(from.successes);
    into.failures = into.failures.saturating_add(from.failures);
    into.duration_ms = into.duration_ms.saturating_add(from.duration_ms);
    into.distinct_users = into.distinct_users.saturating_add(from.distinct_users);
    for (name, value) in &from.quantities {
        let sum = into.quantities.entry(name.clone()).or_default();
        *sum = sum.saturating_add(*value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(calls: u64, users: u64, tokens: u64) -> FiguresJson {
        FiguresJson {
            calls,
            successes: calls,
            failures: 0,
            duration_ms: 10 * calls,
            distinct_users: users,
            quantities: BTreeMap::from([("tokens".to_owned(), tokens)]),
        }
    }

    fn row(service: &str, f: FiguresJson) -> SummaryRowJson {
        SummaryRowJson {
            bucket_start: None,
            service: Some(service.to_owned()),
            model: None,
            user: None,
            outcome: None,
            figures: f,
        }
    }

    fn sample() -> Vec<(String, SummaryJson)> {
        vec![
            (
                "a".to_owned(),
                SummaryJson {
                    rows: vec![row("chat", figures(2, 1, 5)), row("code", figures(1, 1, 1))],
                    totals: figures(3, 1, 6),
                },
            ),
            (
                "b".to_owned(),
                SummaryJson {
                    rows: vec![row("chat", figures(4, 2, 7))],
                    totals: figures(4, 2, 7),
                },
            ),
        ]
    }

    #[test]
    fn groups_of_the_same_key_add_up() {
        let merged = merge(sample(), false);
        assert_eq!(merged.cities, ["a", "b"]);
        assert_eq!(merged.rows.len(), 2);
        let chat = &merged.rows[0];
        assert_eq!(chat.row.service.as_deref(), Some("chat"));
        assert_eq!(chat.city, None);
        assert_eq!(chat.row.figures, figures(6, 3, 12));
        assert_eq!(merged.totals, figures(7, 3, 13));
    }

    #[test]
    fn grouping_by_city_keeps_each_citys_rows() {
        let merged = merge(sample(), true);
        let keys: Vec<_> = merged
            .rows
            .iter()
            .map(|r| {
                (
                    r.city.as_deref(),
                    r.row.service.as_deref(),
                    r.row.figures.calls,
                )
            })
            .collect();
        assert_eq!(
            keys,
            [
                (Some("a"), Some("chat"), 2),
                (Some("a"), Some("code"), 1),
                (Some("b"), Some("chat"), 4)
            ]
        );
        let out = serde_json::to_value(&merged.rows[0]).expect("serialises");
        assert_eq!(out["city"], "a");
        assert_eq!(out["calls"], 2);
    }

    #[test]
    fn no_cities_is_all_zero() {
        let merged = merge(Vec::new(), true);
        assert!(merged.rows.is_empty() && merged.cities.is_empty());
        assert_eq!(merged.totals, empty());
    }
}
