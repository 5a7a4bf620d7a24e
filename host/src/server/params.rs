//! Query parameters of the read routes. They mirror the CLI's flags (same names
//! with `_` for `-`, same value syntax, same parsers and defaults), and any
//! parameter a route does not know is a 400 naming it: nothing can widen a query
//! by a parameter the route silently ignores.

use std::collections::BTreeMap;

use super::errors::ApiError;
use crate::bindings::{Dimension, EventsQuery, MeQuery, Order, SummaryQuery, TimeBucket};
use crate::timestamp::{self, Millis};
use crate::wire;

/// The parameters of one request, by name; each may appear once.
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses `a=1&b=2`, allowing only `known` names.
    pub fn parse(query: Option<&str>, known: &[&str]) -> Result<Params, ApiError> {
        let mut values = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            if !known.contains(&name.as_ref()) {
                return Err(ApiError::invalid(
                    name.as_ref(),
                    format!(
                        "unknown query parameter; this route takes {}",
                        known.join(", ")
                    ),
                ));
            }
            if values.insert(name.to_string(), value.to_string()).is_some() {
                return Err(ApiError::invalid(name.as_ref(), "given more than once"));
            }
        }
        Ok(Params { values })
    }

    fn text(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    fn parsed<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|text| parse(&text).map_err(|message| ApiError::invalid(name, message)))
            .transpose()
    }

    /// RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DDTHH` (UTC) or integer milliseconds, as on the CLI.
    fn time(&mut self, name: &str) -> Result<Option<Millis>, ApiError> {
        self.parsed(name, |t| {
            timestamp::parse_human(t).map_err(|e| e.to_string())
        })
    }

    fn number(&mut self, name: &str) -> Result<Option<u32>, ApiError> {
        self.parsed(name, |t| {
            t.parse::<u32>()
                .map_err(|_| format!("`{t}` is not a whole number"))
        })
    }

    fn flag(&mut self, name: &str) -> Result<bool, ApiError> {
        Ok(self
            .parsed(name, |t| match t {
                "true" | "" => Ok(true),
                "false" => Ok(false),
                other => Err(format!("`{other}` is not true or false")),
            })?
            .unwrap_or(false))
    }

    fn dimensions(&mut self, name: &str, default: &str) -> Result<Vec<Dimension>, ApiError> {
        let text = self.text(name).unwrap_or_else(|| default.to_owned());
        wire::parse_dimensions(&text).map_err(|message| ApiError::invalid(name, message))
    }

    fn bucket(&mut self, name: &str) -> Result<TimeBucket, ApiError> {
        Ok(self
            .parsed(name, wire::parse_bucket)?
            .unwrap_or(TimeBucket::None))
    }
}

/// `GET /v1/cities/{city}/events`, as `usage events`.
pub const EVENTS: &[&str] = &[
    "user",
    "service",
    "model",
    "outcome",
    "from",
    "to",
    "limit",
    "cursor",
    "oldest_first",
];

pub fn events(query: Option<&str>) -> Result<EventsQuery, ApiError> {
    let mut p = Params::parse(query, EVENTS)?;
    Ok(EventsQuery {
        user: p.text("user"),
        service: p.text("service"),
        model: p.text("model"),
        outcome: p.parsed("outcome", wire::parse_outcome_filter)?,
        from: p.time("from")?,
        to: p.time("to")?,
        order: if p.flag("oldest_first")? {
            Order::OldestFirst
        } else {
            Order::NewestFirst
        },
        limit: p.number("limit")?,
        cursor: p.text("cursor"),
    })
}

/// `GET /v1/cities/{city}/summary`, as `usage summary` (group_by defaults to `service`).
pub const SUMMARY: &[&str] = &["from", "to", "group_by", "bucket"];

pub fn summary(query: Option<&str>) -> Result<SummaryQuery, ApiError> {
    let mut p = Params::parse(query, SUMMARY)?;
    Ok(SummaryQuery {
        from: p.time("from")?,
        to: p.time("to")?,
        group_by: p.dimensions("group_by", "service")?,
        bucket: p.bucket("bucket")?,
    })
}

/// `GET /v1/summary`: as `summary`, and `group_by` may also name `city`.
pub struct AllCitiesQuery {
    pub query: SummaryQuery,
    pub by_city: bool,
}

pub fn all_cities_summary(query: Option<&str>) -> Result<AllCitiesQuery, ApiError> {
    let mut p = Params::parse(query, SUMMARY)?;
    let group_by = p.text("group_by").unwrap_or_else(|| "service".to_owned());
    let mut by_city = false;
    let rest: Vec<&str> = group_by
        .split(',')
        .map(str::trim)
        .filter(|name| {
            let city = *name == "city";
            by_city |= city;
            !city
        })
        .collect();
    let dims = wire::parse_dimensions(&rest.join(","))
        .map_err(|m| ApiError::invalid("group_by", format!("{m} (or city)")))?;
    Ok(AllCitiesQuery {
        query: SummaryQuery {
            from: p.time("from")?,
            to: p.time("to")?,
            group_by: dims,
            bucket: p.bucket("bucket")?,
        },
        by_city,
    })
}

/// `GET /v1/me`, as `usage me` without `--city`/`--user`: those come from the token.
pub const ME: &[&str] = &["from", "to", "group_by", "bucket", "recent"];

pub fn me(query: Option<&str>) -> Result<MeQuery, ApiError> {
    let mut p = Params::parse(query, ME)?;
    Ok(MeQuery {
        from: p.time("from")?,
        to: p.time("to")?,
        group_by: p.dimensions("group_by", "service")?,
        bucket: p.bucket("bucket")?,
        recent: p.number("recent")?,
    })
}

/// The documented form of [`EVENTS`] (parsing goes through [`events`]).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EventsParams {
    /// Only this user's events.
    user: Option<String>,
    service: Option<String>,
    model: Option<String>,
    /// `success`, `failure` or `failure:KIND`.
    outcome: Option<String>,
    /// Start of the window on occurred-at, inclusive: RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DDTHH` or ms.
    from: Option<String>,
    /// End of the window, exclusive.
    to: Option<String>,
    /// Events per page (default 50, at most 1000).
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Oldest first; the cursor then never ends, so it can be kept to poll for new events.
    oldest_first: Option<bool>,
}

/// The documented form of [`SUMMARY`].
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SummaryParams {
    /// Start of the window (whole UTC hours), inclusive.
    from: Option<String>,
    /// End of the window (whole UTC hours), exclusive.
    to: Option<String>,
    /// Comma list of service, model, user, outcome (and city on `/v1/summary`); empty for totals only. Default: service.
    group_by: Option<String>,
    /// `none` (default), `hour`, `day` or `month` (UTC).
    bucket: Option<String>,
}

/// The documented form of [`ME`].
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MeParams {
    from: Option<String>,
    to: Option<String>,
    /// Comma list of service, model, outcome; default service.
    group_by: Option<String>,
    /// `none` (default), `hour`, `day` or `month` (UTC).
    bucket: Option<String>,
    /// How many of the newest events to include (default 10, at most 1000).
    recent: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::OutcomeFilter;

    fn field(err: ApiError) -> String {
        err.detail.field.unwrap_or_default()
    }

    #[test]
    fn events_parameters_mirror_the_cli() {
        let q = events(Some(
            "user=ana&outcome=failure:timeout&from=2024-11-15&limit=20&oldest_first=true&cursor=c1",
        ))
        .expect("parses");
        assert_eq!(q.user.as_deref(), Some("ana"));
        assert!(matches!(q.outcome, Some(OutcomeFilter::FailureKind(k)) if k == "timeout"));
        assert_eq!(q.from, Some(1_731_628_800_000));
        assert_eq!(q.limit, Some(20));
        assert!(matches!(q.order, Order::OldestFirst));
        assert_eq!(q.cursor.as_deref(), Some("c1"));
        let defaults = events(None).expect("parses");
        assert!(matches!(defaults.order, Order::NewestFirst));
        assert_eq!(defaults.limit, None);
    }

    #[test]
    fn bad_and_unknown_parameters_name_themselves() {
        assert_eq!(field(events(Some("limit=ten")).expect_err("bad")), "limit");
        assert_eq!(
            field(events(Some("from=last+week")).expect_err("bad")),
            "from"
        );
        assert_eq!(
            field(events(Some("colour=red")).expect_err("unknown")),
            "colour"
        );
        assert_eq!(
            field(events(Some("user=a&user=b")).expect_err("twice")),
            "user"
        );
        assert_eq!(
            field(summary(Some("bucket=week")).expect_err("bad")),
            "bucket"
        );
        assert_eq!(
            field(summary(Some("group_by=city")).expect_err("bad")),
            "group_by"
        );
        assert_eq!(field(me(Some("user=bob")).expect_err("unknown")), "user");
        assert_eq!(field(me(Some("city=other")).expect_err("unknown")), "city");
    }

    #[test]
    fn the_documented_parameters_are_the_accepted_ones() {
        use utoipa::IntoParams;
        let names = |params: Vec<utoipa::openapi::path::Parameter>| -> Vec<String> {
            params.into_iter().map(|p| p.name).collect()
        };
        assert_eq!(names(EventsParams::into_params(|| None)), EVENTS);
        assert_eq!(names(SummaryParams::into_params(|| None)), SUMMARY);
        assert_eq!(names(MeParams::into_params(|| None)), ME);
    }

    #[test]
    fn summary_groups_by_service_unless_told() {
        assert_eq!(summary(None).expect("parses").group_by.len(), 1);
        assert_eq!(
            summary(Some("group_by=")).expect("parses").group_by.len(),
            0
        );
        let all = all_cities_summary(Some("group_by=city,outcome&bucket=day")).expect("parses");
        assert!(all.by_city);
        assert!(matches!(all.query.group_by[..], [Dimension::Outcome]));
        assert!(matches!(all.query.bucket, TimeBucket::Day));
        assert!(!all_cities_summary(None).expect("parses").by_city);
    }
}
