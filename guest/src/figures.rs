//! Rollup figures of one cell: how they are added up and how they are stored
//! (`calls successes failures duration_ms[ name=sum]*`, decimal ASCII).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::model::{Event, Figures, Quantity};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

    pub fn encode(&self) -> Vec<u8> {
        let mut text = format!(
            "{} {} {} {}",
            self.calls, self.successes, self.failures, self.duration_ms
        );
        for (name, value) in &self.quantities {
            let _ = write!(text, " {name}={value}");
        }
        text.into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Tally> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.split(' ');
        let mut next = || parts.next()?.parse::<u64>().ok();
        let mut tally = Tally {
            calls: next()?,
            successes: next()?,
            failures: next()?,
            duration_ms: next()?,
            quantities: BTreeMap::new(),
        };
        for part in text.split(' ').skip(4) {
            let (name, value) = part.split_once('=')?;
            tally
                .quantities
                .insert(name.to_owned(), value.parse().ok()?);
        }
        Some(tally)
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
        assert_eq!(Tally::decode(&t.encode()), Some(t.clone()));
        t.quantities.insert("input_tokens".into(), 12);
        t.quantities.insert("images".into(), 4);
        assert_eq!(t.encode(), b"3 2 1 900 images=4 input_tokens=12");
        assert_eq!(Tally::decode(&t.encode()), Some(t));
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
        assert_eq!(Tally::decode(b"1 2"), None);
        assert_eq!(Tally::decode(b"1 2 3 x"), None);
        assert_eq!(Tally::decode(b"1 1 0 0 a"), None);
    }
}
