//! Keeping the pre-aggregated rollups up to date as facts are stored. For each
//! cell a fact falls in (hour, day, month, all time) it counts in the cell's
//! figures, the user's figures in that cell and the tuple's distinct users in
//! that cell, and a user new to the cell joins the cell's user list. A batch
//! reads every value it touches once, updates them in memory and writes each
//! changed one once, so its writes grow with the distinct (cell, user) and
//! (cell, tuple) pairs it holds, not with its facts.

use rustc_hash::FxHashMap;

use crate::calendar::{Cell, HOUR_MS};
use crate::distinct::{self, UserSet};
use crate::figures::{Overflow, Packed, TupleFigures};
use crate::kv::{Kv, KvError, KvResult};
use crate::layout::{self, List, Tuple};
use crate::lists::WriteSet;
use crate::model::Event;
use crate::names::Names;

const CELLS: usize = 4;

/// Where one event counts: slots in the rollup's tables, one per cell.
struct Touches {
    cells: [usize; CELLS],
    users: [usize; CELLS],
    sets: [usize; CELLS],
    tuple: String,
    user_hash: u64,
    hour: u64,
}

/// One stored value a batch updates.
struct Slot<T> {
    key: String,
    present: bool,
    value: T,
    dirty: bool,
}

/// Slots of one kind, found by key while the batch is planned.
struct Table<T> {
    slots: Vec<Slot<T>>,
    index: FxHashMap<String, usize>,
}

impl<T: Default> Table<T> {
    fn new() -> Self {
        Table {
            slots: Vec::new(),
            index: FxHashMap::default(),
        }
    }

    fn slot(&mut self, key: String) -> usize {
        if let Some(i) = self.index.get(&key) {
            return *i;
        }
        let i = self.slots.len();
        self.index.insert(key.clone(), i);
        self.slots.push(Slot {
            key,
            present: false,
            value: T::default(),
            dirty: false,
        });
        i
    }

    fn keys(&self) -> impl Iterator<Item = &String> {
        self.slots.iter().map(|s| &s.key)
    }

    /// Fills the slots from stored values, in slot order.
    fn fill(
        &mut self,
        values: impl Iterator<Item = Option<Vec<u8>>>,
        decode: impl Fn(&[u8]) -> Option<T>,
    ) -> KvResult<()> {
        for (slot, value) in self.slots.iter_mut().zip(values) {
            let Some(bytes) = value else { continue };
            slot.value = decode(&bytes)
                .ok_or_else(|| KvError(format!("the rollup at {} is unreadable", slot.key)))?;
            slot.present = true;
        }
        Ok(())
    }

    fn write(self, w: &mut WriteSet, encode: impl Fn(&T) -> Vec<u8>) {
        for slot in self.slots.into_iter().filter(|s| s.dirty) {
            w.put(slot.key, encode(&slot.value));
        }
    }
}

/// The stored state of every rollup value a batch touches, updated in memory.
pub struct Rollup {
    cells: Table<TupleFigures>,
    users: Table<TupleFigures>,
    /// The cell key of each `users` slot, to name the cell's user list.
    user_cells: Vec<String>,
    sets: Table<UserSet>,
    names: Names,
    span: Option<(u64, u64)>,
    stored_span: Option<(u64, u64)>,
    pending: Vec<Touches>,
    /// Users new to a cell: the list and the entry.
    new_users: Vec<(List, Vec<u8>)>,
}

impl Rollup {
    /// Reads every rollup value the events will touch: the numbers of their
    /// names first (a cell's figures are sharded by tuple number), then the
    /// values, in one `get-many` each.
    pub fn load<'e, K: Kv + ?Sized>(
        kv: &K,
        events: impl IntoIterator<Item = &'e Event>,
    ) -> KvResult<Rollup> {
        let events: Vec<(&Event, String)> = events
            .into_iter()
            .map(|e| (e, Tuple::of_event(e).encode()))
            .collect();
        let names: Vec<String> = events
            .iter()
            .flat_map(|(e, tuple)| {
                let quantities = e.quantities.iter().map(|q| q.name.clone());
                std::iter::once(tuple.clone()).chain(quantities)
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut keys = Names::keys(&names);
        keys.push(layout::SPAN.to_owned());
        let mut values = kv.get_many(&keys)?;
        let span = values.pop().flatten().and_then(|v| parse_span(&v));
        let names = Names::from_stored(kv, names, values.into_iter())?;

        let mut cells = Table::new();
        let mut users = Table::new();
        let mut user_cells = Vec::new();
        let mut sets = Table::new();
        let mut pending = Vec::with_capacity(events.len());
        for (e, tuple) in events {
            let user = layout::esc(&e.user);
            let shard = layout::shard_of(names.id(&tuple));
            let mut t = Touches {
                cells: [0; CELLS],
                users: [0; CELLS],
                sets: [0; CELLS],
                user_hash: distinct::user_hash(&e.user),
                hour: e.occurred_at / HOUR_MS,
                tuple,
            };
            for (c, cell) in Cell::containing(e.occurred_at).iter().enumerate() {
                let cell_key = cell.key();
                t.cells[c] = cells.slot(layout::cell_figures_of(&cell_key, shard));
                t.users[c] = users.slot(layout::user_cell_figures_of(&user, &cell_key));
                if t.users[c] == user_cells.len() {
                    user_cells.push(cell_key.clone());
                }
                t.sets[c] = sets.slot(layout::cell_users_set_of(&cell_key, &t.tuple));
            }
            pending.push(t);
        }
        let keys: Vec<String> = cells
            .keys()
            .chain(users.keys())
            .chain(sets.keys())
            .cloned()
            .collect();
        let mut values = kv.get_many(&keys)?.into_iter();
        cells.fill(
            values.by_ref().take(cells.slots.len()),
            TupleFigures::decode,
        )?;
        users.fill(
            values.by_ref().take(users.slots.len()),
            TupleFigures::decode,
        )?;
        sets.fill(values, UserSet::decode)?;
        Ok(Rollup {
            cells,
            users,
            user_cells,
            sets,
            names,
            span,
            stored_span: span,
            pending,
            new_users: Vec::new(),
        })
    }

    /// Counts the `i`-th event given to [`Rollup::load`]. On overflow of any
    /// total it counts nothing and names the figure.
    pub fn add(&mut self, i: usize, e: &Event) -> Result<(), String> {
        let t = &self.pending[i];
        let quantities = e
            .quantities
            .iter()
            .map(|q| (self.names.id(&q.name), q.value))
            .collect();
        let packed = Packed::of_event(e, quantities);
        let tuple = self.names.id(&t.tuple);
        for c in 0..CELLS {
            for figures in [
                &self.cells.slots[t.cells[c]].value,
                &self.users.slots[t.users[c]].value,
            ] {
                if let Some(current) = figures.0.get(&tuple) {
                    current
                        .check_add(&packed)
                        .map_err(|o| self.overflow_message(o))?;
                }
            }
        }
        for c in 0..CELLS {
            let user = &mut self.users.slots[t.users[c]];
            if !user.present && !user.dirty {
                let list = List::cell_users_of(&self.user_cells[t.users[c]]);
                self.new_users.push((list, e.user.as_bytes().to_vec()));
            }
            for slot in [&mut self.cells.slots[t.cells[c]], user] {
                count(&mut slot.value, tuple, &packed);
                slot.dirty = true;
            }
            let set = &mut self.sets.slots[t.sets[c]];
            if set.value.insert(t.user_hash) {
                set.dirty = true;
            }
        }
        self.span = Some(match self.span {
            Some((lo, hi)) => (lo.min(t.hour), hi.max(t.hour)),
            None => (t.hour, t.hour),
        });
        Ok(())
    }

    fn overflow_message(&self, overflow: Overflow) -> String {
        let name = match overflow {
            Overflow::Calls => "calls",
            Overflow::DurationMs => "duration-ms",
            Overflow::Quantity(id) => self.names.name(id).unwrap_or("a quantity"),
        };
        format!("the stored total of {name} would overflow")
    }

    /// Queues every changed value, new list entry and new name.
    pub fn write(self, w: &mut WriteSet) {
        self.names.write(w);
        self.cells.write(w, TupleFigures::encode);
        self.users.write(w, TupleFigures::encode);
        self.sets.write(w, UserSet::encode);
        for (list, entry) in self.new_users {
            w.append(list, entry);
        }
        if let Some((lo, hi)) = self.span
            && self.span != self.stored_span
        {
            w.put(layout::SPAN.to_owned(), format!("{lo} {hi}").into_bytes());
        }
    }
}

/// Adds one event's figures to its tuple (checked for overflow beforehand).
fn count(figures: &mut TupleFigures, tuple: u32, packed: &Packed) {
    match figures.0.get_mut(&tuple) {
        Some(current) => current.add(packed),
        None => {
            figures.0.insert(tuple, packed.clone());
        }
    }
}

/// `span` holds the first and last hour with facts: `"{lo} {hi}"`.
pub fn parse_span(bytes: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (lo, hi) = text.split_once(' ')?;
    Some((lo.parse().ok()?, hi.parse().ok()?))
}
