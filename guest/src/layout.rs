//! The storage layout: every key the component reads or writes is built here.
//!
//! `wasi:keyvalue` has point reads, `get-many` and `increment`, but no ordered
//! scans, so every query walks lists whose length is kept in a counter and whose
//! entries sit at numbered keys. Segments in `{}` are escaped (`%` → `%25`,
//! `/` → `%2F`), so keys are injective. `{cell}` is a time cell (`h<hour>`,
//! `d<day>`, `m<month>`, `a` for all time; see `calendar.rs`). `{tuple}` is
//! `{service}/{model}/{outcome}` with model `""` when absent and outcome `s`
//! (success) or `f:{kind}`. Counters and list lengths are decimal ASCII.
//!
//! | key                              | value                                   |
//! |----------------------------------|-----------------------------------------|
//! | `cfg/record_errors`              | `true` / `false` (absent: true)         |
//! | `seq`                            | last position handed out (increment)    |
//! | `span`                           | `{first hour} {last hour}` of occurred-at |
//! | `e/{position}`                   | the event (postcard, see `codec.rs`)    |
//! | `id/{id}`                        | position of the fact with that idempotency id |
//! | `u/{user}/n`, `u/{user}/{k}`     | the user's events: count, k-th position |
//! | `f/n`, `f/{k}`                   | failed events: count, k-th position     |
//! | `c/{cell}/{tuple}`               | figures of the tuple in the cell        |
//! | `cl/{cell}/n`, `cl/{cell}/{k}`   | tuples present in the cell              |
//! | `uc/{cell}/{user}/{tuple}`       | the user's figures of the tuple         |
//! | `ul/{cell}/{user}/n`, `.../{k}`  | tuples the user has in the cell         |
//! | `am/{cell}/{user}`               | `1`: the user has facts in the cell     |
//! | `al/{cell}/n`, `al/{cell}/{k}`   | users active in the cell: count, k-th user |
//!
//! Figures are `calls successes failures duration_ms[ name=sum]*` (decimal ASCII).
//!
//! Per-cell keys put the cell first (`uc/{cell}/{user}/…`, not user first):
//! stores keep keys in byte order, so a batch of facts from the same hours
//! writes a few neighbouring pages instead of one page per user (at a million
//! facts this is most of the embedded store's ingest cost).

use crate::calendar::Cell;
use crate::model::{Event, Outcome};

pub const RECORD_ERRORS: &str = "cfg/record_errors";
pub const SEQ: &str = "seq";
pub const SPAN: &str = "span";

/// Escapes one key segment so that `/` only ever separates segments.
pub fn esc(segment: &str) -> String {
    if !segment.contains(['%', '/']) {
        return segment.to_owned();
    }
    segment.replace('%', "%25").replace('/', "%2F")
}

/// Reverses [`esc`].
pub fn unesc(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    segment.replace("%2F", "/").replace("%25", "%")
}

pub fn event(position: u64) -> String {
    format!("e/{position}")
}

pub fn idempotency(id: &str) -> String {
    format!("id/{}", esc(id))
}

/// A numbered list: a length counter and entries `1..=n`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct List(String);

impl List {
    pub fn user_events(user: &str) -> List {
        List(format!("u/{}", esc(user)))
    }

    pub fn failures() -> List {
        List("f".to_owned())
    }

    pub fn cell_tuples(cell: Cell) -> List {
        List(format!("cl/{}", cell.key()))
    }

    pub fn user_cell_tuples(user: &str, cell: Cell) -> List {
        List(format!("ul/{}/{}", cell.key(), esc(user)))
    }

    pub fn active_users(cell: Cell) -> List {
        List(format!("al/{}", cell.key()))
    }

    pub fn len_key(&self) -> String {
        format!("{}/n", self.0)
    }

    pub fn entry(&self, k: u64) -> String {
        format!("{}/{k}", self.0)
    }
}

/// The (service, model, outcome) of a fact, already escaped for keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tuple {
    pub service: String,
    pub model: String,
    pub outcome: String,
}

impl Tuple {
    pub fn of(service: &str, model: Option<&str>, outcome: &Outcome) -> Tuple {
        Tuple {
            service: esc(service),
            model: esc(model.unwrap_or("")),
            outcome: match outcome {
                Outcome::Success => "s".to_owned(),
                Outcome::Failure { kind, .. } => format!("f:{}", esc(kind)),
            },
        }
    }

    pub fn of_event(e: &Event) -> Tuple {
        Tuple::of(&e.service, e.model.as_deref(), &e.outcome)
    }

    /// The stored form, also the suffix of cell keys.
    pub fn encode(&self) -> String {
        format!("{}/{}/{}", self.service, self.model, self.outcome)
    }

    pub fn decode(text: &str) -> Option<Tuple> {
        let mut parts = text.split('/');
        let tuple = Tuple {
            service: parts.next()?.to_owned(),
            model: parts.next()?.to_owned(),
            outcome: parts.next()?.to_owned(),
        };
        parts.next().is_none().then_some(tuple)
    }

    pub fn service_name(&self) -> String {
        unesc(&self.service)
    }

    pub fn model_name(&self) -> String {
        unesc(&self.model)
    }

    /// "success" or the failure kind, as shown in summaries.
    pub fn outcome_label(&self) -> String {
        match self.outcome.strip_prefix("f:") {
            Some(kind) => unesc(kind),
            None => crate::model::SUCCESS_LABEL.to_owned(),
        }
    }
}

pub fn cell_figures(cell: Cell, tuple: &Tuple) -> String {
    cell_figures_of(&cell.key(), &tuple.encode())
}

pub fn user_cell_figures(user: &str, cell: Cell, tuple: &Tuple) -> String {
    user_cell_figures_of(&esc(user), &cell.key(), &tuple.encode())
}

pub fn active_marker(cell: Cell, user: &str) -> String {
    active_marker_of(&cell.key(), &esc(user))
}

// The same keys from parts already encoded ([`Cell::key`], [`Tuple::encode`],
// [`esc`]): ingest builds them for every counter of every fact, and formatting
// each part again is most of its cost.

pub fn cell_figures_of(cell_key: &str, tuple: &str) -> String {
    concat(&["c/", cell_key, "/", tuple])
}

pub fn user_cell_figures_of(escaped_user: &str, cell_key: &str, tuple: &str) -> String {
    concat(&["uc/", cell_key, "/", escaped_user, "/", tuple])
}

pub fn active_marker_of(cell_key: &str, escaped_user: &str) -> String {
    concat(&["am/", cell_key, "/", escaped_user])
}

fn concat(parts: &[&str]) -> String {
    let mut key = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        key.push_str(part);
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_is_injective_and_reversible() {
        for s in ["a", "a/b", "a%2Fb", "%", "/", "", "x%y/z"] {
            assert_eq!(unesc(&esc(s)), s);
            assert!(!esc(s).contains('/'));
        }
        assert_ne!(esc("a/b"), esc("a%2Fb"));
    }

    #[test]
    fn tuple_round_trips_through_its_encoding() {
        let t = Tuple::of(
            "img/gen",
            None,
            &Outcome::Failure {
                kind: "time/out".into(),
                message: None,
            },
        );
        let back = Tuple::decode(&t.encode()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.service_name(), "img/gen");
        assert_eq!(back.model_name(), "");
        assert_eq!(back.outcome_label(), "time/out");
    }

    #[test]
    fn user_keys_cannot_collide_across_users() {
        assert_ne!(
            List::user_events("a/n").len_key(),
            List::user_events("a").len_key()
        );
    }
}
