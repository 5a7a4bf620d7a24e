//! Recording facts: validation, idempotency, the record-errors setting,
//! position assignment, indexes and rollups, written with one `set-many`.

use std::collections::HashMap;

use crate::codec::StoredEvent;
use crate::context::Ctx;
use crate::kv::Kv;
use crate::layout::{self, List};
use crate::lists::WriteSet;
use crate::model::{Fact, Receipt, ReceiptStatus, UsageError, UsageResult};
use crate::rollup::Rollup;
use crate::settings;
use crate::validate;

pub fn record<K: Kv + ?Sized>(cx: &Ctx<K>, fact: Fact) -> UsageResult<Receipt> {
    record_batch(cx, vec![fact])
        .pop()
        .unwrap_or_else(|| Err(UsageError::Storage("empty batch result".into())))
}

/// One result per fact, in order. A storage failure fails every item, and the
/// host then discards the call's writes.
pub fn record_batch<K: Kv + ?Sized>(cx: &Ctx<K>, facts: Vec<Fact>) -> Vec<UsageResult<Receipt>> {
    let n = facts.len();
    if n > validate::BATCH_MAX {
        let e = UsageError::invalid(
            "facts",
            format!("{n} facts in one batch; at most {}", validate::BATCH_MAX),
        );
        return vec![Err(e); n];
    }
    match try_record_batch(cx, facts) {
        Ok(results) => results,
        Err(e) => vec![Err(e); n],
    }
}

/// What became of an item before anything is written.
enum Plan {
    Done(UsageResult<Receipt>),
    /// To be stored as the given slot of the new events.
    Store(usize),
    /// A repeat, within this batch, of the item stored in the slot.
    SameAs(usize),
}

fn try_record_batch<K: Kv + ?Sized>(
    cx: &Ctx<K>,
    facts: Vec<Fact>,
) -> UsageResult<Vec<UsageResult<Receipt>>> {
    let facts: Vec<UsageResult<Fact>> = facts
        .into_iter()
        .map(|f| validate::fact(f, cx.now))
        .collect();

    // One read for the setting and every idempotency id, one for the events they name.
    let mut keys = vec![
        layout::RECORD_ERRORS.to_owned(),
        layout::LAYOUT.to_owned(),
        layout::SEQ.to_owned(),
    ];
    keys.extend(facts.iter().filter_map(|f| {
        let id = f.as_ref().ok()?.id.as_deref()?;
        Some(layout::idempotency(id))
    }));
    let mut values = cx.kv.get_many(&keys)?.into_iter();
    let settings = settings::parse(values.next().flatten().as_deref());
    let (marker, seq) = (values.next().flatten(), values.next().flatten());
    let mark_layout =
        layout::check_version(marker.as_deref(), seq.as_deref()).map_err(UsageError::Storage)?;
    let known_positions: HashMap<String, u64> = keys[3..]
        .iter()
        .zip(values)
        .filter_map(|(key, v)| Some((key.clone(), parse_position(&v?)?)))
        .collect();
    let known = load_events(cx, known_positions.values().copied())?;

    let mut plans = Vec::with_capacity(facts.len());
    let mut new_facts: Vec<Fact> = Vec::new();
    // id → what its first occurrence in this batch became
    let mut first_of_id: HashMap<String, (usize, Fact)> = HashMap::new();
    for fact in facts {
        let fact = match fact {
            Ok(f) => f,
            Err(e) => {
                plans.push(Plan::Done(Err(e)));
                continue;
            }
        };
        if let Some(id) = &fact.id {
            let id = id.clone();
            let key = layout::idempotency(&id);
            if let Some(position) = known_positions.get(&key) {
                let stored = known.get(position).ok_or_else(|| {
                    UsageError::Storage(format!("event {position} of id {id:?} is missing"))
                })?;
                plans.push(Plan::Done(if stored.same_fact(&fact) {
                    Ok(duplicate_of(stored))
                } else {
                    Err(conflict(&id))
                }));
                continue;
            }
            if let Some((plan_index, first)) = first_of_id.get(&id) {
                plans.push(if *first != fact {
                    Plan::Done(Err(conflict(&id)))
                } else {
                    match plans[*plan_index] {
                        Plan::Store(slot) => Plan::SameAs(slot),
                        Plan::Done(ref r) => Plan::Done(r.clone()),
                        Plan::SameAs(slot) => Plan::SameAs(slot),
                    }
                });
                continue;
            }
        }
        if !fact.outcome.is_success() && !settings.record_errors {
            // Nothing is stored under its id, so a later item with that id is
            // judged on its own, exactly as if it came in another call.
            plans.push(Plan::Done(Ok(Receipt {
                status: ReceiptStatus::NotRecorded,
                position: None,
                recorded_at: None,
            })));
            continue;
        }
        if let Some(id) = &fact.id {
            first_of_id.insert(id.clone(), (plans.len(), fact.clone()));
        }
        plans.push(Plan::Store(new_facts.len()));
        new_facts.push(fact);
    }

    let stored = store_new(cx, &new_facts, mark_layout)?;
    Ok(plans
        .into_iter()
        .map(|plan| match plan {
            Plan::Done(r) => r,
            Plan::Store(slot) => stored[slot].clone(),
            Plan::SameAs(slot) => stored[slot].clone().map(|r| Receipt {
                status: ReceiptStatus::Duplicate,
                ..r
            }),
        })
        .collect())
}

/// Stores the new facts: counts them into the rollups (refusing any that would
/// overflow a total), then gives the rest positions and writes everything.
fn store_new<K: Kv + ?Sized>(
    cx: &Ctx<K>,
    facts: &[Fact],
    mark_layout: bool,
) -> UsageResult<Vec<UsageResult<Receipt>>> {
    if facts.is_empty() {
        return Ok(Vec::new());
    }
    // Positions are not known yet; rollups do not depend on them.
    let drafts: Vec<StoredEvent> = facts
        .iter()
        .map(|f| StoredEvent::from_fact(f, 0, cx.city, cx.now))
        .collect();
    let mut rollup = Rollup::load(cx.kv, drafts.iter().map(|d| &d.event))?;
    let verdicts: Vec<Result<(), String>> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| rollup.add(i, &d.event))
        .collect();
    let accepted = verdicts.iter().filter(|v| v.is_ok()).count() as u64;
    let mut writes = WriteSet::default();
    if mark_layout && accepted > 0 {
        writes.put(layout::LAYOUT.to_owned(), layout::LAYOUT_VERSION.into());
    }
    let mut next = if accepted > 0 {
        cx.kv.increment(layout::SEQ, accepted)? - accepted + 1
    } else {
        0
    };
    let mut results = Vec::with_capacity(facts.len());
    for (mut draft, verdict) in drafts.into_iter().zip(verdicts) {
        if let Err(why) = verdict {
            results.push(Err(UsageError::invalid("quantities", why)));
            continue;
        }
        let position = next;
        next += 1;
        draft.event.position = position;
        let e = &draft.event;
        writes.put(layout::event(position), draft.encode());
        if let Some(id) = &e.id {
            writes.put(layout::idempotency(id), position.to_string().into_bytes());
        }
        let entry = position.to_string().into_bytes();
        writes.append(List::user_events(&e.user), entry.clone());
        if !e.outcome.is_success() {
            writes.append(List::failures(), entry);
        }
        results.push(Ok(Receipt {
            status: ReceiptStatus::Recorded,
            position: Some(position),
            recorded_at: Some(e.recorded_at),
        }));
    }
    rollup.write(&mut writes);
    writes.flush(cx.kv)?;
    Ok(results)
}

/// Reads stored events by position; absent ones are left out.
pub fn load_events<K: Kv + ?Sized>(
    cx: &Ctx<K>,
    positions: impl Iterator<Item = u64>,
) -> UsageResult<HashMap<u64, StoredEvent>> {
    let positions: Vec<u64> = positions.collect();
    if positions.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<String> = positions.iter().map(|p| layout::event(*p)).collect();
    let values = cx.kv.get_many(&keys)?;
    let mut out = HashMap::new();
    for (p, v) in positions.into_iter().zip(values) {
        let Some(bytes) = v else { continue };
        let e = StoredEvent::decode(&bytes, p, cx.city)
            .ok_or_else(|| UsageError::Storage(format!("event {p} is unreadable")))?;
        out.insert(p, e);
    }
    Ok(out)
}

pub fn parse_position(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

fn duplicate_of(stored: &StoredEvent) -> Receipt {
    Receipt {
        status: ReceiptStatus::Duplicate,
        position: Some(stored.event.position),
        recorded_at: Some(stored.event.recorded_at),
    }
}

fn conflict(id: &str) -> UsageError {
    UsageError::Conflict(format!(
        "id {id:?} was recorded before with different content"
    ))
}
