//! Rollup figures: [`Tally`] as summaries add them up (with names), and
//! [`Packed`] as stored, with the names numbered; the figures of every tuple
//! of a cell are one value ([`TupleFigures`], postcard).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Event, Figures, Quantity};

/// Figures with their names: what a summary adds up per row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub calls: u64,
    pub successes: u64,
    pub failures: u64,
    pub duration_ms: u64,
    pub quantities: BTreeMap<String, u64>,
}

impl Tally {
    /// Adds for reporting, where a stored total cannot overflow twice over:
    /// saturates instead of failing.
    pub fn merge(&mut self, other: &Tally) {
        self.calls = self.calls.saturating_add(other.calls);
        self.successes = self.successes.saturating_add(other.successes);
        self.failures = self.failures.saturating_add(other.failures);
        self.duration_ms = self.duration_ms.saturating_add(other.duration_ms);
        for (name, value) in &other.quantities {
            match self.quantities.get_mut(name) {
                Some(slot) => *slot = slot.saturating_add(*value),
                None => {
                    self.quantities.insert(name.clone(), *value);
                }
            }
        }
    }

    pub fn into_figures(self, distinct_users: u64) -> Figures {
        Figures {
            calls: self.calls,
            successes: self.successes,
            failures: self.failures,
            duration_ms: self.duration_ms,
            quantities: self
                .quantities
                .into_iter()
                .map(|(name, value)| Quantity { name, value })
                .collect(),
            distinct_users,
        }
    }
}

/// Figures as stored: names replaced by their numbers in the city's
/// dictionary (`names.rs`), successes implied (calls − failures). Quantities
/// are sorted by number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Packed {
    pub calls: u64,
    pub failures: u64,
    pub duration_ms: u64,
    pub quantities: Vec<(u32, u64)>,
}

/// Which stored total would overflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    Calls,
    DurationMs,
    Quantity(u32),
}

impl Packed {
    /// One event's figures, its quantities already numbered.
    pub fn of_event(e: &Event, quantities: Vec<(u32, u64)>) -> Packed {
        let mut quantities = quantities;
        quantities.sort_unstable();
        Packed {
            calls: 1,
            failures: u64::from(!e.outcome.is_success()),
            duration_ms: e.duration_ms.unwrap_or(0),
            quantities,
        }
    }

    /// Whether adding `other` would overflow a total, without changing anything.
    pub fn check_add(&self, other: &Packed) -> Result<(), Overflow> {
        let fits = |a: u64, b: u64, what| a.checked_add(b).map(|_| ()).ok_or(what);
        fits(self.calls, other.calls, Overflow::Calls)?;
        fits(self.duration_ms, other.duration_ms, Overflow::DurationMs)?;
        for (id, value) in &other.quantities {
            let current = self.quantity(*id);
            fits(current, *value, Overflow::Quantity(*id))?;
        }
        Ok(())
    }

    /// Adds `other` (checked beforehand with [`Packed::check_add`]).
    pub fn add(&mut self, other: &Packed) {
        self.calls = self.calls.saturating_add(other.calls);
        self.failures = self.failures.saturating_add(other.failures);
        self.duration_ms = self.duration_ms.saturating_add(other.duration_ms);
        for (id, value) in &other.quantities {
            match self.quantities.binary_search_by_key(id, |(i, _)| *i) {
                Ok(at) => self.quantities[at].1 = self.quantities[at].1.saturating_add(*value),
                Err(at) => self.quantities.insert(at, (*id, *value)),
            }
        }
    }

    fn quantity(&self, id: u32) -> u64 {
        self.quantities
            .binary_search_by_key(&id, |(i, _)| *i)
            .map_or(0, |at| self.quantities[at].1)
    }

    /// The figures with names, or `None` if a number has no name or the
    /// counts disagree (a damaged value).
    pub fn unpack(&self, name: impl Fn(u32) -> Option<String>) -> Option<Tally> {
        let mut quantities = BTreeMap::new();
        for (id, value) in &self.quantities {
            quantities.insert(name(*id)?, *value);
        }
        Some(Tally {
            calls: self.calls,
            successes: self.calls.checked_sub(self.failures)?,
            failures: self.failures,
            duration_ms: self.duration_ms,
            quantities,
        })
    }
}

/// The figures of every tuple in one cell, or of one user's tuples in one
/// cell, keyed by the tuple's number: the value of a `c/` or `uc/` key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TupleFigures(pub BTreeMap<u32, Packed>);

impl TupleFigures {
    pub fn encode(&self) -> Vec<u8> {
        let tuples: Vec<(&u32, &Packed)> = self.0.iter().collect();
        // Serialising plain owned data into a Vec cannot fail.
        postcard::to_allocvec(&tuples).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<TupleFigures> {
        let tuples: Vec<(u32, Packed)> = postcard::from_bytes(bytes).ok()?;
        let out: BTreeMap<u32, Packed> = tuples.into_iter().collect();
        Some(TupleFigures(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips_and_unpacks_with_names() {
        let p = Packed {
            calls: 3,
            failures: 1,
            duration_ms: 900,
            quantities: vec![(4, 12), (9, 4)],
        };
        let mut figures = TupleFigures::default();
        figures.0.insert(1, p.clone());
        figures.0.insert(2, Packed::default());
        assert_eq!(TupleFigures::decode(&figures.encode()), Some(figures));
        let names = |id: u32| match id {
            4 => Some("input_tokens".to_owned()),
            9 => Some("images".to_owned()),
            _ => None,
        };
        let t = p.unpack(names).unwrap();
        assert_eq!((t.calls, t.successes, t.failures), (3, 2, 1));
        assert_eq!(t.quantities["images"], 4);
        let unnamed = Packed {
            quantities: vec![(5, 1)],
            ..p
        };
        assert_eq!(unnamed.unpack(names), None);
    }

    #[test]
    fn packed_overflow_names_the_total_and_adds_in_order() {
        let mut a = Packed {
            calls: 1,
            quantities: vec![(2, u64::MAX - 1)],
            ..Packed::default()
        };
        let more = Packed {
            calls: 1,
            quantities: vec![(1, 5), (2, 2)],
            ..Packed::default()
        };
        assert_eq!(a.check_add(&more), Err(Overflow::Quantity(2)));
        let fine = Packed {
            calls: 1,
            quantities: vec![(1, 5), (3, 1)],
            ..Packed::default()
        };
        a.check_add(&fine).unwrap();
        a.add(&fine);
        assert_eq!(a.quantities, vec![(1, 5), (2, u64::MAX - 1), (3, 1)]);
        assert_eq!(a.calls, 2);
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(TupleFigures::decode(&[0xff, 0xff, 0xff]), None);
        assert_eq!(TupleFigures::decode(&[1, 1, 200]), None);
    }
}
