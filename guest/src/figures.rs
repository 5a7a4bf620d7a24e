//! Rollup figures: how they are added up, and how the figures of every tuple
//! in one cell are stored together as one value (postcard, see [`TupleFigures`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::{Event, Figures, Quantity};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub calls: u64,
    pub successes: u64,
    pub failures: u64,
    pub duration_ms: u64,
    pub quantities: BTreeMap<String, u64>,
}

impl Tally {
    pub fn of_event(e: &Event) -> Tally {
        let ok = e.outcome.is_success();
        Tally {
            calls: 1,
            successes: u64::from(ok),
            failures: u64::from(!ok),
            duration_ms: e.duration_ms.unwrap_or(0),
            quantities: e
                .quantities
                .iter()
                .map(|q| (q.name.clone(), q.value))
                .collect(),
        }
    }

    /// Adds `other` in place; on overflow names the figure and changes nothing.
    pub fn try_add(&mut self, other: &Tally) -> Result<(), String> {
        self.check_add(other)?;
        self.merge(other); // cannot saturate: checked above
        Ok(())
    }

    /// Whether [`Tally::try_add`] of `other` would succeed, without changing
    /// anything (and without allocating: it runs for every counter of every fact).
    pub fn check_add(&self, other: &Tally) -> Result<(), String> {
        add(self.calls, other.calls, "calls")?;
        add(self.successes, other.successes, "successes")?;
        add(self.failures, other.failures, "failures")?;
        add(self.duration_ms, other.duration_ms, "duration-ms")?;
        for (name, value) in &other.quantities {
            let current = self.quantities.get(name).copied().unwrap_or(0);
            add(current, *value, name)?;
        }
        Ok(())
    }

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

/// The figures of every tuple (encoded, see `layout::Tuple`) in one cell, or
/// of one user's tuples in one cell: the value of a `c/` or `uc/` key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TupleFigures(pub BTreeMap<String, Tally>);

impl TupleFigures {
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain owned data into a Vec cannot fail.
        postcard::to_allocvec(self).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8]) -> Option<TupleFigures> {
        postcard::from_bytes(bytes).ok()
    }
}

fn add(a: u64, b: u64, name: &str) -> Result<u64, String> {
    a.checked_add(b)
        .ok_or_else(|| format!("the stored total of {name} would overflow"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_round_trips() {
        let mut t = Tally {
            calls: 3,
            successes: 2,
            failures: 1,
            duration_ms: 900,
            quantities: BTreeMap::new(),
        };
        t.quantities.insert("input_tokens".into(), 12);
        t.quantities.insert("images".into(), 4);
        let mut figures = TupleFigures::default();
        figures.0.insert("chat/m1/s".into(), t.clone());
        figures
            .0
            .insert("chat/m1/f:timeout".into(), Tally::default());
        assert_eq!(TupleFigures::decode(&figures.encode()), Some(figures));
    }

    #[test]
    fn overflow_is_refused_and_leaves_the_tally_unchanged() {
        let mut t = Tally::default();
        t.quantities.insert("tokens".into(), u64::MAX - 1);
        let before = t.clone();
        let more = Tally {
            calls: 1,
            quantities: [("tokens".to_owned(), 2)].into(),
            ..Tally::default()
        };
        let err = t.try_add(&more).unwrap_err();
        assert!(err.contains("tokens"), "{err}");
        assert_eq!(t, before);
    }

    #[test]
    fn garbage_does_not_decode() {
        assert_eq!(TupleFigures::decode(&[0xff, 0xff, 0xff]), None);
        assert_eq!(TupleFigures::decode(&[1, 1, b'x']), None);
    }
}
