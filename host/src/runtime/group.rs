//! Group commit for single records. Concurrent `record` calls for one city are
//! gathered into one `record-batch` call, so they share one instance, one
//! transaction and one durable commit (one fsync on the embedded store)
//! instead of each paying its own; durability is unchanged, since nobody gets
//! an answer before the commit that holds their fact.
//!
//! Each caller still gets the answer its fact alone would have had: the guest
//! judges the items of a batch one after another, as it would consecutive
//! calls. If the grouped call fails as a whole (a trap, a storage failure),
//! every fact of the group is run again on its own, so only the fact that
//! caused a trap gets one.
//!
//! Leadership: the first caller to find no group running takes the waiting
//! facts (its own among them), runs them, hands out the answers and steps
//! down; a caller whose answer is not there yet waits, and leads the next
//! group if none is running.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::bindings::{Fact, Receipt, UsageError};

/// What one `record` answers.
pub(super) type Answer = anyhow::Result<Result<Receipt, UsageError>>;

/// Facts one grouped call takes at most (a batch the sandbox handles easily).
const MAX_GROUP: usize = 256;

/// The waiting rooms of all cities.
#[derive(Default)]
pub(super) struct Groups {
    rooms: Mutex<HashMap<String, Arc<Room>>>,
}

impl Groups {
    /// Records `fact` in `city`'s next group. `run_group` runs a group as one
    /// batch (one answer per fact, or an error for the whole group); `run_alone`
    /// runs one fact by itself.
    pub(super) fn record(
        &self,
        city: &str,
        fact: Fact,
        run_group: impl Fn(Vec<Fact>) -> anyhow::Result<Vec<Result<Receipt, UsageError>>>,
        run_alone: impl Fn(Fact) -> Answer,
    ) -> Answer {
        let room = self.room(city);
        let mut state = room.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.waiting.push((ticket, fact));
        loop {
            if let Some(answer) = state.answers.remove(&ticket) {
                return answer;
            }
            if state.leading {
                state = room.wait(state);
                continue;
            }
            state.leading = true;
            let take = state.waiting.len().min(MAX_GROUP);
            let group: Vec<(u64, Fact)> = state.waiting.drain(..take).collect();
            drop(state);
            let mut lead = Leadership::new(&room, group.iter().map(|(t, _)| *t).collect());
            lead.answers = run(group, &run_group, &run_alone);
            drop(lead); // hands out the answers and steps down
            state = room.lock();
        }
    }

    fn room(&self, city: &str) -> Arc<Room> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        rooms.entry(city.to_owned()).or_default().clone()
    }
}

/// Runs one group: as one batch, or fact by fact if the batch failed as a whole.
fn run(
    group: Vec<(u64, Fact)>,
    run_group: &impl Fn(Vec<Fact>) -> anyhow::Result<Vec<Result<Receipt, UsageError>>>,
    run_alone: &impl Fn(Fact) -> Answer,
) -> Vec<(u64, Answer)> {
    let (tickets, mut facts): (Vec<u64>, Vec<Fact>) = group.into_iter().unzip();
    if facts.len() == 1
        && let Some(fact) = facts.pop()
    {
        return vec![(tickets[0], run_alone(fact))];
    }
    match run_group(facts.clone()) {
        Ok(results) if results.len() == facts.len() => tickets
            .into_iter()
            .zip(results.into_iter().map(Ok))
            .collect(),
        // A trap, a storage failure or a malformed answer: each fact on its own.
        _ => tickets
            .into_iter()
            .zip(facts)
            .map(|(ticket, fact)| (ticket, run_alone(fact)))
            .collect(),
    }
}

/// One city's waiting facts and the answers not yet collected.
#[derive(Default)]
struct Room {
    state: Mutex<RoomState>,
    changed: Condvar,
}

#[derive(Default)]
struct RoomState {
    next_ticket: u64,
    waiting: Vec<(u64, Fact)>,
    answers: HashMap<u64, Answer>,
    /// A group is running.
    leading: bool,
}

impl Room {
    fn lock(&self) -> MutexGuard<'_, RoomState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, state: MutexGuard<'a, RoomState>) -> MutexGuard<'a, RoomState> {
        self.changed
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running group: when dropped (also by a panic) it hands out its answers,
/// answers an error for any fact it has none for, steps down and wakes the
/// waiters, so nobody waits forever.
struct Leadership<'a> {
    room: &'a Room,
    tickets: Vec<u64>,
    answers: Vec<(u64, Answer)>,
}

impl<'a> Leadership<'a> {
    fn new(room: &'a Room, tickets: Vec<u64>) -> Self {
        Self {
            room,
            tickets,
            answers: Vec::new(),
        }
    }
}

impl Drop for Leadership<'_> {
    fn drop(&mut self) {
        let mut state = self.room.lock();
        state.answers.extend(self.answers.drain(..));
        for ticket in &self.tickets {
            state.answers.entry(*ticket).or_insert_with(|| {
                Err(anyhow::anyhow!(
                    "the grouped record call failed unexpectedly; nothing of it was acknowledged"
                ))
            });
        }
        state.leading = false;
        drop(state);
        self.room.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;
    use crate::bindings::{Outcome, ReceiptStatus};

    fn fact(user: &str) -> Fact {
        Fact {
            id: None,
            user: user.to_owned(),
            service: "chat".to_owned(),
            model: None,
            outcome: Outcome::Success,
            occurred_at: None,
            duration_ms: None,
            quantities: Vec::new(),
        }
    }

    /// A receipt whose position encodes the user, so each caller can check it got its own.
    fn receipt_for(fact: &Fact) -> Result<Receipt, UsageError> {
        Ok(Receipt {
            status: ReceiptStatus::Recorded,
            position: fact.user.parse().ok(),
            recorded_at: None,
        })
    }

    #[test]
    fn concurrent_callers_share_groups_and_each_gets_its_own_answer() {
        let groups = Arc::new(Groups::default());
        let batches = Arc::new(AtomicUsize::new(0));
        let callers: Vec<_> = (0..32u64)
            .map(|n| {
                let groups = groups.clone();
                let batches = batches.clone();
                std::thread::spawn(move || {
                    let answer = groups.record(
                        "city",
                        fact(&n.to_string()),
                        |facts| {
                            batches.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            Ok(facts.iter().map(receipt_for).collect())
                        },
                        |fact| {
                            std::thread::sleep(Duration::from_millis(20));
                            Ok(receipt_for(&fact))
                        },
                    );
                    let receipt = answer.expect("answered").expect("recorded");
                    assert_eq!(receipt.position, Some(n), "caller {n} got another's answer");
                })
            })
            .collect();
        for caller in callers {
            caller.join().expect("caller");
        }
        let batches = batches.load(Ordering::SeqCst);
        assert!(
            (1..32).contains(&batches),
            "32 concurrent callers should share fewer than 32 calls, made {batches} batch calls"
        );
    }

    #[test]
    fn a_failed_group_runs_each_fact_alone() {
        let groups = Groups::default();
        let alone = AtomicUsize::new(0);
        // Another caller's fact (ticket 100) waits in the room; this caller leads both.
        {
            let room = groups.room("c");
            let mut state = room.lock();
            state.waiting.push((100, fact("7")));
            state.next_ticket = 101;
        }
        let answer = groups.record(
            "c",
            fact("8"),
            |_| anyhow::bail!("the whole batch trapped"),
            |fact| {
                alone.fetch_add(1, Ordering::SeqCst);
                if fact.user == "7" {
                    anyhow::bail!("this one traps");
                }
                Ok(receipt_for(&fact))
            },
        );
        assert_eq!(answer.expect("answered").expect("ok").position, Some(8));
        assert_eq!(alone.load(Ordering::SeqCst), 2, "both facts reran alone");
        let room = groups.room("c");
        let state = room.lock();
        assert!(
            state.answers[&100].is_err(),
            "the trapping fact got its own error"
        );
        assert!(!state.leading, "the leader stepped down");
    }

    #[test]
    fn a_panicking_group_answers_everyone_and_steps_down() {
        let groups = Groups::default();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            groups.record("c", fact("1"), |_| panic!("bug"), |_| panic!("bug"))
        }));
        assert!(caught.is_err());
        let room = groups.room("c");
        let s = room.lock();
        assert!(!s.leading, "a panic must not leave the room led forever");
        assert!(
            s.answers[&0].is_err(),
            "the caller's fact has an error answer"
        );
    }
}
