//! The storage layout: every key the component reads or writes is built here.
//!
//! `wasi:keyvalue` has point reads, `get-many` and `increment`, but no ordered
//! scans, so every query walks append-only lists: a head value at `{list}/n`
//! (length and newest entries) and chunks of 32 older entries at
//! `{list}/c{i}` (`lists.rs`). Segments in `{}` are escaped (`%` → `%25`,
//! `/` → `%2F`), so keys are injective. `{cell}` is a time cell (`h<hour>`,
//! `d<day>`, `m<month>`, `a` for all time; see `calendar.rs`). `{tuple}` is
//! `{service}/{model}/{outcome}` with model `""` when absent and outcome `s`
//! (success) or `f:{kind}`. The `seq` counter is decimal ASCII (what `increment` keeps).
//!
//! | key                              | value                                   |
//! |----------------------------------|-----------------------------------------|
//! | `cfg/record_errors`              | `true` / `false` (absent: true)         |
//! | `layout`                         | [`LAYOUT_VERSION`] once anything is stored |
//! | `seq`                            | last position handed out (increment)    |
//! | `span`                           | `{first hour} {last hour}` of occurred-at |
//! | `e/{position}`                   | the event (postcard, see `codec.rs`)    |
//! | `id/{id}`                        | position of the fact with that idempotency id |
//! | `u/{user}/n`, `u/{user}/c{i}`    | list of the user's events' positions    |
//! | `f/n`, `f/c{i}`                  | list of failed events' positions        |
//! | `c/{cell}/{shard}`               | figures of the cell's tuples numbered `64 × shard ..` |
//! | `s/{cell}/{tuple}`               | distinct users of the tuple in the cell (`distinct.rs`) |
//! | `uc/{cell}/{user}`               | figures of every tuple of the user in the cell |
//! | `cu/{cell}/n`, `cu/{cell}/c{i}`  | list of the users with facts in the cell |
//! | `nm/{name}`                      | number of a tuple or quantity name (`names.rs`) |
//! | `ni/n`, `ni/c{i}`                | list of the names in number order       |
//!
//! Figures values are [`crate::figures::TupleFigures`]: tuple number → calls,
//! failures, duration and quantity sums by quantity-name number, postcard
//! varints. One value per cell shard (and per user and cell) keeps the keys a
//! batch writes to a few per distinct user, and lets a summary read a value
//! per cell shard; numbers instead of names make these values, most of what
//! ingest writes, about a third of the size. Shards of 64 tuple numbers keep a
//! city with many models from rewriting all of them on every call.
//!
//! Per-cell keys put the cell first (`uc/{cell}/{user}`, not user first):
//! stores keep keys in byte order, so a batch of facts from the same hours
//! writes a few neighbouring pages instead of one page per user.

use crate::calendar::Cell;
use crate::model::{Event, Outcome};

pub const RECORD_ERRORS: &str = "cfg/record_errors";
pub const SEQ: &str = "seq";
pub const LAYOUT: &str = "layout";
/// Bumped when rollup keys change meaning: a city written under another
/// version is refused rather than read wrong. Version 1 (unmarked) kept one
/// key per tuple and active-user markers.
pub const LAYOUT_VERSION: &str = "2";
pub const SPAN: &str = "span";

/// Whether a city's rollups are of this layout, from the stored `layout` and
/// `seq` values: `Ok(true)` if nothing is stored yet (mark it when storing),
/// `Ok(false)` if marked with this version, an error saying what to do if not.
pub fn check_version(marker: Option<&[u8]>, seq: Option<&[u8]>) -> Result<bool, String> {
    let found = match (marker, seq) {
        (None, None) => return Ok(true),
        (Some(m), _) if m == LAYOUT_VERSION.as_bytes() => return Ok(false),
        (Some(m), _) => String::from_utf8_lossy(m).into_owned(),
        (None, Some(_)) => "1".to_owned(),
    };
    Err(format!(
        "this city was written with storage layout {found}, this component reads layout \
         {LAYOUT_VERSION}; import its facts again into a new store"
    ))
}

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

/// An append-only list: a head (length and newest entries) and chunks of
/// older entries; see `lists.rs`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct List(String);

impl List {
    pub fn user_events(user: &str) -> List {
        List(format!("u/{}", esc(user)))
    }

    pub fn failures() -> List {
        List("f".to_owned())
    }

    /// The city's names in number order (`names.rs`).
    pub fn names() -> List {
        List("ni".to_owned())
    }

    pub fn cell_users(cell: Cell) -> List {
        Self::cell_users_of(&cell.key())
    }

    pub fn cell_users_of(cell_key: &str) -> List {
        List(concat(&["cu/", cell_key]))
    }

    pub fn len_key(&self) -> String {
        format!("{}/n", self.0)
    }

    /// The `i`-th full chunk of entries (`lists.rs`).
    pub fn chunk(&self, i: u64) -> String {
        format!("{}/c{i}", self.0)
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

/// The number of a tuple or quantity name (`names.rs`).
pub fn name_number(name: &str) -> String {
    concat(&["nm/", &esc(name)])
}

/// Tuples per shard of a cell's figures: a cell's value stays small however
/// many tuples the city has, and a batch rewrites only the shards it touches.
pub const SHARD_TUPLES: u32 = 64;

/// The shard of a cell's figures that holds a tuple (by its number, `names.rs`).
pub fn shard_of(tuple_number: u32) -> u32 {
    tuple_number / SHARD_TUPLES
}

pub fn cell_figures(cell: Cell, shard: u32) -> String {
    cell_figures_of(&cell.key(), shard)
}

pub fn user_cell_figures(user: &str, cell: Cell) -> String {
    user_cell_figures_of(&esc(user), &cell.key())
}

pub fn cell_users_set(cell: Cell, tuple: &Tuple) -> String {
    cell_users_set_of(&cell.key(), &tuple.encode())
}

// The same keys from parts already encoded ([`Cell::key`], [`Tuple::encode`],
// [`esc`]): ingest builds them for every cell of every fact, and formatting
// each part again is much of its cost.

pub fn cell_figures_of(cell_key: &str, shard: u32) -> String {
    concat(&["c/", cell_key, "/", &shard.to_string()])
}

pub fn user_cell_figures_of(escaped_user: &str, cell_key: &str) -> String {
    concat(&["uc/", cell_key, "/", escaped_user])
}

pub fn cell_users_set_of(cell_key: &str, tuple: &str) -> String {
    concat(&["s/", cell_key, "/", tuple])
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
        assert_ne!(
            List::user_events("a/c0").len_key(),
            List::user_events("a").chunk(0)
        );
    }
}
