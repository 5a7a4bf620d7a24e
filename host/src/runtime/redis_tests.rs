//! The runtime on Redis as several processes use it: two `Runtime`s with their
//! own connections sharing one store, and Redis killed and restarted mid-run.
//! Results are checked against a recount of the stored events.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::*;
use crate::bindings::{Event, Order, Outcome, TimeBucket};
use crate::store::RedisBackend;
use crate::store::testing::{RedisServer, test_redis_url, unique_prefix};

/// The same id always carries the same content, so repeats are duplicates.
fn fact(id: &str) -> Fact {
    Fact {
        id: Some(id.to_owned()),
        user: format!("u{}", id.len() % 3),
        service: "chat".to_owned(),
        model: Some("m1".to_owned()),
        outcome: Outcome::Success,
        occurred_at: None,
        duration_ms: Some(7),
        quantities: Vec::new(),
    }
}

/// Every stored event of `city`, oldest first, page by page.
fn events(runtime: &Runtime, city: &str) -> anyhow::Result<Vec<Event>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let query = EventsQuery {
            user: None,
            service: None,
            model: None,
            outcome: None,
            from: None,
            to: None,
            order: Order::OldestFirst,
            limit: Some(100),
            cursor,
        };
        let page = runtime.city(city)?.events(query)?;
        let page = page.map_err(|e| anyhow::anyhow!("events: {e:?}"))?;
        if page.events.is_empty() {
            return Ok(out);
        }
        out.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

fn total_calls(runtime: &Runtime, city: &str) -> anyhow::Result<u64> {
    let query = SummaryQuery {
        from: None,
        to: None,
        group_by: Vec::new(),
        bucket: TimeBucket::None,
    };
    let summary = runtime.city(city)?.summary(query)?;
    Ok(summary
        .map_err(|e| anyhow::anyhow!("summary: {e:?}"))?
        .totals
        .calls)
}

/// The ids of `city`'s events, failing if one is stored twice.
fn stored_ids(runtime: &Runtime, city: &str) -> anyhow::Result<BTreeSet<String>> {
    let events = events(runtime, city)?;
    let mut ids = BTreeSet::new();
    for event in &events {
        let id = event.id.clone().ok_or_else(|| anyhow::anyhow!("no id"))?;
        anyhow::ensure!(ids.insert(id.clone()), "{city}: id {id} stored twice");
    }
    Ok(ids)
}

/// Records `facts` as one batch, retrying when this runtime gave up on
/// conflicts (a client would retry too; ids make that safe).
fn record(runtime: &Runtime, city: &str, facts: &[Fact]) -> anyhow::Result<Vec<Receipt>> {
    for _ in 0..20 {
        match runtime.city(city)?.record_batch(facts.to_vec()) {
            Ok(answers) => {
                return answers
                    .into_iter()
                    .map(|a| a.map_err(|e| anyhow::anyhow!("record: {e:?}")))
                    .collect();
            }
            Err(err) if format!("{err:#}").contains("gave up") => continue,
            Err(err) => return Err(err),
        }
    }
    anyhow::bail!("{city}: still conflicting after 20 tries")
}

type Positions = Arc<Mutex<BTreeMap<(String, String), BTreeSet<u64>>>>;

#[test]
fn two_runtimes_on_one_redis_count_each_id_once() -> anyhow::Result<()> {
    let Some(url) = test_redis_url() else {
        return Ok(());
    };
    const IDS: usize = 40;
    const CITIES: [&str; 2] = ["north", "south"];
    let prefix = unique_prefix();
    let open = || -> anyhow::Result<Runtime> {
        let backend = Arc::new(RedisBackend::open_with_prefix(&url, &prefix)?);
        Runtime::new(backend, Limits::default())
    };
    let (first, second) = (open()?, open()?);
    // Position each worker got for each (city, id): one id must mean one event.
    let positions: Positions = Arc::default();

    let work = |runtime: Runtime, worker: usize, positions: Positions| {
        move || -> anyhow::Result<()> {
            // Each worker walks all ids from another starting point, alternating
            // single records and batches of 4, so every id is sent by all of them.
            let ids: Vec<String> = (0..IDS)
                .map(|i| format!("id-{}", (i + worker * 11) % IDS))
                .collect();
            for (n, chunk) in ids.chunks(4).enumerate() {
                let city = CITIES[(n + worker) % 2];
                let facts: Vec<Fact> = chunk.iter().map(|id| fact(id)).collect();
                let receipts = if n % 2 == 0 {
                    record(&runtime, city, &facts)?
                } else {
                    let mut receipts = Vec::new();
                    for fact in facts.chunks(1) {
                        receipts.extend(record(&runtime, city, fact)?);
                    }
                    receipts
                };
                let mut positions = positions.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
                for (id, receipt) in chunk.iter().zip(receipts) {
                    let position = receipt
                        .position
                        .ok_or_else(|| anyhow::anyhow!("no position"))?;
                    positions
                        .entry((city.to_owned(), id.clone()))
                        .or_default()
                        .insert(position);
                }
            }
            Ok(())
        }
    };

    // The first "process" works from plain threads (as the CLI does), the
    // second from `spawn_blocking` (as the HTTP server does).
    let plain: Vec<_> = (0..2)
        .map(|w| std::thread::spawn(work(first.clone(), w, positions.clone())))
        .collect();
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let blocking: Vec<_> = (2..4)
        .map(|w| server.spawn_blocking(work(second.clone(), w, positions.clone())))
        .collect();
    for thread in plain {
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("worker panicked"))??;
    }
    for task in blocking {
        server.block_on(task)??;
    }

    let positions = positions.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    for ((city, id), seen) in positions.iter() {
        assert_eq!(seen.len(), 1, "{city} {id}: positions {seen:?}");
    }
    for city in CITIES {
        let sent: BTreeSet<String> = positions
            .keys()
            .filter(|(c, _)| c == city)
            .map(|(_, id)| id.clone())
            .collect();
        for runtime in [&first, &second] {
            let stored = stored_ids(runtime, city)?;
            assert_eq!(stored, sent, "{city}");
            assert_eq!(total_calls(runtime, city)?, stored.len() as u64, "{city}");
        }
    }
    let mut cities = first.cities()?;
    cities.sort();
    assert_eq!(cities, CITIES);
    RedisBackend::open_with_prefix(&url, &prefix)?.purge()?;
    Ok(())
}

/// What the writers saw: acknowledged and failed batches (their ids), and how
/// long the slowest failure took.
#[derive(Default)]
struct Outcomes {
    acked: Vec<Vec<String>>,
    failed: Vec<(Vec<String>, String)>,
    slowest_failure: Duration,
}

#[test]
fn redis_killed_mid_run_fails_cleanly_and_recovers() -> anyhow::Result<()> {
    // An append-only file fsynced on every write: what was acknowledged
    // survives the kill, so the restart shows what was (half-)written.
    let dir = tempfile::tempdir()?;
    let Some(mut server) = RedisServer::start(Some(dir.path())) else {
        return Ok(());
    };
    let city = "outage";
    let runtime = Runtime::new(
        Arc::new(RedisBackend::open(&server.url())?),
        Limits::default(),
    )?;
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));

    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (runtime, outcomes, stop, acked) = (
                runtime.clone(),
                outcomes.clone(),
                stop.clone(),
                acked.clone(),
            );
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let ids: Vec<String> = (0..10).map(|i| format!("w{w}-b{n}-{i}")).collect();
                    n += 1;
                    let facts = ids.iter().map(|id| fact(id)).collect();
                    let started = Instant::now();
                    let result = runtime.city(city).and_then(|c| c.record_batch(facts));
                    let mut outcomes = outcomes.lock().unwrap_or_else(|e| e.into_inner());
                    match result {
                        Ok(answers) if answers.iter().all(Result::is_ok) => {
                            outcomes.acked.push(ids);
                            acked.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(answers) => panic!("a committed batch with errors: {answers:?}"),
                        Err(err) => {
                            outcomes.slowest_failure =
                                outcomes.slowest_failure.max(started.elapsed());
                            outcomes.failed.push((ids, format!("{err:#}")));
                            drop(outcomes);
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
        })
        .collect();

    let wait_for = |target: usize| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while acked.load(Ordering::SeqCst) < target && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        acked.load(Ordering::SeqCst)
    };
    let before = wait_for(10);
    assert!(before >= 10, "only {before} batches before the kill");
    server.stop();
    std::thread::sleep(Duration::from_millis(1500));
    let failed_while_down = outcomes
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .failed
        .len();
    server.restart()?;
    let after = wait_for(acked.load(Ordering::SeqCst) + 10);
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer
            .join()
            .map_err(|_| anyhow::anyhow!("writer panicked"))?;
    }

    let outcomes = outcomes.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    assert!(failed_while_down > 0, "no call failed while Redis was down");
    assert!(
        after >= before + 10,
        "no recovery: {before} → {after} batches"
    );
    for (_, message) in &outcomes.failed {
        assert!(message.contains("storage failure: redis: "), "{message}");
    }
    assert!(
        outcomes.slowest_failure < Duration::from_secs(5),
        "a failure took {:?}",
        outcomes.slowest_failure
    );

    // Nothing half-written: acknowledged batches are all there, failed ones
    // all or not at all, and the summary agrees with a recount.
    let stored = stored_ids(&runtime, city)?;
    for ids in &outcomes.acked {
        assert!(ids.iter().all(|id| stored.contains(id)), "lost {ids:?}");
    }
    for (ids, _) in &outcomes.failed {
        let present = ids.iter().filter(|id| stored.contains(*id)).count();
        assert!(present == 0 || present == ids.len(), "half of {ids:?}");
    }
    let expected: usize = outcomes
        .acked
        .iter()
        .chain(outcomes.failed.iter().map(|(ids, _)| ids))
        .filter(|ids| stored.contains(&ids[0]))
        .map(Vec::len)
        .sum();
    assert_eq!(stored.len(), expected);
    assert_eq!(total_calls(&runtime, city)?, stored.len() as u64);
    eprintln!(
        "outage: {} batches acknowledged, {} failed",
        outcomes.acked.len(),
        outcomes.failed.len()
    );
    Ok(())
}
