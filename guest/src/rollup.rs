//! Keeping the pre-aggregated counters up to date as facts are stored: the
//! figures of every (cell, tuple) and (user, cell, tuple), and the users active
//! in every cell. All updates of one batch are summed in memory first, so a
//! batch reads and writes each counter once.

use std::collections::{HashMap, HashSet};

use crate::calendar::{Cell, HOUR_MS};
use crate::figures::Tally;
use crate::kv::{Kv, KvResult};
use crate::layout::{self, List, Tuple};
use crate::lists::WriteSet;
use crate::model::Event;

/// The counters one event touches. Lists are named only when an entry is
/// appended (rare next to the lookups), so they are not built per fact.
struct Touches {
    /// (figures key, its cell, whether it is the user's figure or the cell's)
    figures: Vec<(String, Cell, bool)>,
    /// (active-user marker key, its cell)
    markers: Vec<(String, Cell)>,
    /// The encoded tuple: the entry of the tuple lists.
    tuple: String,
    hour: u64,
}

fn touches(e: &Event) -> Touches {
    let tuple = Tuple::of_event(e).encode();
    let user = layout::esc(&e.user);
    let mut figures = Vec::with_capacity(8);
    let mut markers = Vec::with_capacity(4);
    for cell in Cell::containing(e.occurred_at) {
        let cell_key = cell.key();
        figures.push((layout::cell_figures_of(&cell_key, &tuple), cell, false));
        figures.push((
            layout::user_cell_figures_of(&user, &cell_key, &tuple),
            cell,
            true,
        ));
        markers.push((layout::active_marker_of(&cell_key, &user), cell));
    }
    Touches {
        figures,
        markers,
        tuple,
        hour: e.occurred_at / HOUR_MS,
    }
}

/// The stored state of every counter a batch touches, updated in memory.
pub struct Rollup {
    figures: HashMap<String, (Option<Tally>, Tally)>,
    markers: HashMap<String, bool>,
    span: Option<(u64, u64)>,
    stored_span: Option<(u64, u64)>,
    pending: Vec<Touches>,
    /// Lists to append to, with the entry: new tuples and newly active users.
    new_entries: Vec<(List, Vec<u8>)>,
    new_markers: HashSet<String>,
}

impl Rollup {
    /// Reads, in one `get-many`, every counter the events will touch.
    pub fn load<'e, K: Kv + ?Sized>(
        kv: &K,
        events: impl IntoIterator<Item = &'e Event>,
    ) -> KvResult<Rollup> {
        let pending: Vec<Touches> = events.into_iter().map(touches).collect();
        let mut keys: Vec<String> = Vec::new();
        {
            let mut seen: HashSet<&str> = HashSet::new();
            for t in &pending {
                let names = t
                    .figures
                    .iter()
                    .map(|f| &f.0)
                    .chain(t.markers.iter().map(|m| &m.0));
                for key in names {
                    if seen.insert(key) {
                        keys.push(key.clone());
                    }
                }
            }
        }
        keys.push(layout::SPAN.to_owned());
        let mut values = kv.get_many(&keys)?;
        keys.pop();
        let span = values.pop().flatten().and_then(|v| parse_span(&v));
        let mut figures = HashMap::new();
        let mut markers = HashMap::new();
        for (key, value) in keys.into_iter().zip(values) {
            if key.starts_with("am/") {
                markers.insert(key, value.is_some());
            } else {
                let stored = value.and_then(|v| Tally::decode(&v));
                let current = stored.clone().unwrap_or_default();
                figures.insert(key, (stored, current));
            }
        }
        Ok(Rollup {
            figures,
            markers,
            span,
            stored_span: span,
            pending,
            new_entries: Vec::new(),
            new_markers: HashSet::new(),
        })
    }

    /// Counts the `i`-th event given to [`Rollup::load`]. On overflow of any
    /// total it counts nothing and names the figure.
    pub fn add(&mut self, i: usize, e: &Event) -> Result<(), String> {
        let tally = Tally::of_event(e);
        let t = &self.pending[i];
        for (key, _, _) in &t.figures {
            if let Some((_, current)) = self.figures.get(key) {
                current.check_add(&tally)?;
            }
        }
        for (key, cell, by_user) in &t.figures {
            if let Some((stored, current)) = self.figures.get_mut(key) {
                if current.calls == 0 && stored.is_none() {
                    let list = if *by_user {
                        List::user_cell_tuples(&e.user, *cell)
                    } else {
                        List::cell_tuples(*cell)
                    };
                    self.new_entries.push((list, t.tuple.as_bytes().to_vec()));
                }
                current.merge(&tally); // checked above: cannot saturate
            }
        }
        for (key, cell) in &t.markers {
            if let Some(present) = self.markers.get_mut(key)
                && !*present
            {
                *present = true;
                self.new_markers.insert(key.clone());
                self.new_entries
                    .push((List::active_users(*cell), e.user.as_bytes().to_vec()));
            }
        }
        self.span = Some(match self.span {
            Some((lo, hi)) => (lo.min(t.hour), hi.max(t.hour)),
            None => (t.hour, t.hour),
        });
        Ok(())
    }

    /// Queues every changed counter, new list entry and marker.
    pub fn write(self, w: &mut WriteSet) {
        for (key, (stored, current)) in self.figures {
            if stored.as_ref() != Some(&current) && current.calls > 0 {
                w.put(key, current.encode());
            }
        }
        for key in self.new_markers {
            w.put(key, b"1".to_vec());
        }
        for (list, entry) in self.new_entries {
            w.append(list, entry);
        }
        if let Some((lo, hi)) = self.span
            && self.span != self.stored_span
        {
            w.put(layout::SPAN.to_owned(), format!("{lo} {hi}").into_bytes());
        }
    }
}

/// `span` holds the first and last hour with facts: `"{lo} {hi}"`.
pub fn parse_span(bytes: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (lo, hi) = text.split_once(' ')?;
    Some((lo.parse().ok()?, hi.parse().ok()?))
}
