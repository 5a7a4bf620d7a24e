//! How an event is stored under `e/{position}`: postcard, a compact binary
//! serde format. Position and city are not stored: the key and the instance
//! supply them.

use serde::{Deserialize, Serialize};

use crate::model::{Event, Fact, Outcome, Quantity, Timestamp};

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    recorded_at: Timestamp,
    occurred_at: Timestamp,
    /// Whether the caller gave `occurred_at`, so a retry compares like with like.
    occurred_given: bool,
    id: Option<String>,
    user: String,
    service: String,
    model: Option<String>,
    outcome: Outcome,
    duration_ms: Option<u64>,
    quantities: Vec<Quantity>,
}

/// A stored event together with what the caller originally sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub event: Event,
    pub occurred_given: bool,
}

impl StoredEvent {
    /// The event a valid, normalised fact becomes.
    pub fn from_fact(fact: &Fact, position: u64, city: &str, now: Timestamp) -> StoredEvent {
        StoredEvent {
            event: Event {
                position,
                city: city.to_owned(),
                recorded_at: now,
                id: fact.id.clone(),
                user: fact.user.clone(),
                service: fact.service.clone(),
                model: fact.model.clone(),
                outcome: fact.outcome.clone(),
                occurred_at: fact.occurred_at.unwrap_or(now),
                duration_ms: fact.duration_ms,
                quantities: fact.quantities.clone(),
            },
            occurred_given: fact.occurred_at.is_some(),
        }
    }

    /// Whether `fact` (normalised) is the same fact as the one stored: the
    /// test that separates an idempotent retry from a conflict.
    pub fn same_fact(&self, fact: &Fact) -> bool {
        let e = &self.event;
        let occurred = self.occurred_given.then_some(e.occurred_at);
        e.id == fact.id
            && e.user == fact.user
            && e.service == fact.service
            && e.model == fact.model
            && e.outcome == fact.outcome
            && occurred == fact.occurred_at
            && e.duration_ms == fact.duration_ms
            && e.quantities == fact.quantities
    }

    pub fn encode(&self) -> Vec<u8> {
        let e = &self.event;
        let stored = Stored {
            recorded_at: e.recorded_at,
            occurred_at: e.occurred_at,
            occurred_given: self.occurred_given,
            id: e.id.clone(),
            user: e.user.clone(),
            service: e.service.clone(),
            model: e.model.clone(),
            outcome: e.outcome.clone(),
            duration_ms: e.duration_ms,
            quantities: e.quantities.clone(),
        };
        // Serialising plain owned data into a Vec cannot fail.
        postcard::to_allocvec(&stored).unwrap_or_default()
    }

    pub fn decode(bytes: &[u8], position: u64, city: &str) -> Option<StoredEvent> {
        let s: Stored = postcard::from_bytes(bytes).ok()?;
        Some(StoredEvent {
            event: Event {
                position,
                city: city.to_owned(),
                recorded_at: s.recorded_at,
                id: s.id,
                user: s.user,
                service: s.service,
                model: s.model,
                outcome: s.outcome,
                occurred_at: s.occurred_at,
                duration_ms: s.duration_ms,
                quantities: s.quantities,
            },
            occurred_given: s.occurred_given,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact() -> Fact {
        Fact {
            id: Some("r-1".into()),
            user: "ana".into(),
            service: "chat".into(),
            model: Some("m1".into()),
            outcome: Outcome::Failure {
                kind: "timeout".into(),
                message: Some("upstream took too long".into()),
            },
            occurred_at: None,
            duration_ms: Some(1200),
            quantities: vec![Quantity {
                name: "input_tokens".into(),
                value: 812,
            }],
        }
    }

    #[test]
    fn round_trips_and_recognises_its_fact() {
        let stored = StoredEvent::from_fact(&fact(), 7, "rome", 1_700_000_000_000);
        let back = StoredEvent::decode(&stored.encode(), 7, "rome").unwrap();
        assert_eq!(back, stored);
        assert!(back.same_fact(&fact()));
        let mut changed = fact();
        changed.quantities[0].value = 813;
        assert!(!back.same_fact(&changed));
        let mut timed = fact();
        timed.occurred_at = Some(1_700_000_000_000);
        assert!(
            !back.same_fact(&timed),
            "a retry that now names a time is a different fact"
        );
    }

    #[test]
    fn garbage_does_not_decode() {
        assert!(StoredEvent::decode(&[0xff, 0xff, 0xff], 1, "x").is_none());
    }
}
