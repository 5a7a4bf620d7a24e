//! Crash safety: `usage serve` on the embedded store is killed with SIGKILL at a
//! random moment while concurrent clients record facts, then restarted on the
//! same data dir, cycle after cycle. Clients resend what was never answered, as a
//! real client would. At the end, from a fresh server:
//! - every acknowledged fact is stored exactly once, with the content sent;
//! - an unacknowledged one at most once, and nothing appears that was never sent;
//! - every summary (totals, and grouped by user × service × outcome) equals a
//!   recount of the events, and each user's `me` equals the recount of theirs.
//!
//! `USAGE_CRASH_CYCLES` sets the number of kill cycles (default 20) and
//! `USAGE_CRASH_SEED` replays a run (the seed is printed).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::http_support::{Client, Recount, Server, encode, issue_token};

const CITIES: [&str; 2] = ["crash-a", "crash-b"];
const USERS: [&str; 5] = ["ana", "bo", "cy", "di", "ed"];
const CLIENTS: usize = 4;
/// How long a cycle's clients run before the kill, at most.
const MAX_RUN: Duration = Duration::from_millis(900);
/// Bounds each client's requests per cycle, whatever the server's speed.
const MAX_REQUESTS_PER_CYCLE: usize = 2_000;

/// A small deterministic generator (splitmix64), so a failing run can be replayed from its seed.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One fact the clients sent, and whether any answer acknowledged it.
#[derive(Clone)]
struct Sent {
    city: &'static str,
    fact: Value,
    acked: bool,
}

/// Every fact sent so far, by id.
type Ledger = BTreeMap<String, Sent>;

fn make_fact(rng: &mut Rng, id: &str) -> Value {
    let user = USERS[rng.below(USERS.len() as u64) as usize];
    let service = ["chat", "image"][rng.below(2) as usize];
    let mut fact = json!({
        "id": id, "user": user, "service": service, "model": "m1",
        "outcome": "success", "duration_ms": rng.below(500),
        "quantities": {"tokens": 1 + rng.below(1000), "images": rng.below(4)},
    });
    if rng.below(10) == 0 {
        fact["outcome"] = json!("failure");
        fact["error_kind"] = json!("timeout");
    }
    // Half name their time; the others default to "now", and a resend of those
    // must still be recognised as the same fact.
    if rng.below(2) == 0 {
        fact["occurred_at"] = json!("2026-11-01T10:00:00Z");
    }
    fact
}

/// Whether one answered item acknowledges its fact (stored now or before).
fn acknowledges(status: &str) -> bool {
    matches!(status, "recorded" | "duplicate")
}

/// Posts `facts` (one alone, or a batch) and says which ids the answer acknowledged;
/// `None` when the request died with the server.
fn post(client: &Client, city: &str, facts: &[Value]) -> Option<Vec<bool>> {
    let path = format!("/v1/cities/{city}/events");
    let body = match facts {
        [one] => one.to_string(),
        many => Value::Array(many.to_vec()).to_string(),
    };
    let answer = client.try_post(&path, &body).ok()?;
    assert!(
        matches!(answer.status, 200 | 201),
        "a live server refused good facts: {} {}",
        answer.status,
        answer.text
    );
    Some(match facts {
        [_] => vec![acknowledges(answer.body["status"].as_str().unwrap_or(""))],
        _ => answer.body["results"]
            .as_array()
            .expect("a batch answers results")
            .iter()
            .map(|r| acknowledges(r["status"].as_str().unwrap_or("")))
            .collect(),
    })
}

/// One client's work in one cycle: resend `retries`, then new facts, until the
/// server dies or `stop` is set. Returns what it sent.
fn client_cycle(
    client: Client,
    mut rng: Rng,
    prefix: String,
    retries: Vec<(String, Sent)>,
    stop: Arc<AtomicBool>,
) -> Ledger {
    let mut ledger = Ledger::new();
    let send = |items: Vec<(String, Sent)>, ledger: &mut Ledger| -> bool {
        let city = items[0].1.city;
        let facts: Vec<Value> = items.iter().map(|(_, s)| s.fact.clone()).collect();
        let acks = post(&client, city, &facts);
        for (i, (id, mut sent)) in items.into_iter().enumerate() {
            let acked = acks.as_ref().is_some_and(|a| a[i]);
            sent.acked |= acked;
            ledger.insert(id, sent);
        }
        acks.is_some()
    };
    for (id, sent) in retries {
        if !send(vec![(id, sent)], &mut ledger) {
            return ledger;
        }
    }
    for n in 0..MAX_REQUESTS_PER_CYCLE {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let city = CITIES[rng.below(CITIES.len() as u64) as usize];
        let size = if rng.below(3) == 0 {
            2 + rng.below(7)
        } else {
            1
        };
        let items = (0..size)
            .map(|k| {
                let id = format!("{prefix}-{n}-{k}");
                let fact = make_fact(&mut rng, &id);
                let sent = Sent {
                    city,
                    fact,
                    acked: false,
                };
                (id, sent)
            })
            .collect();
        if !send(items, &mut ledger) {
            break;
        }
    }
    ledger
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

#[test]
fn sigkill_loses_no_acknowledged_fact_and_counts_none_twice() {
    let cycles = env_number("USAGE_CRASH_CYCLES", 20);
    let seed = env_number(
        "USAGE_CRASH_SEED",
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos() as u64,
    );
    eprintln!("crash harness: {cycles} cycles, USAGE_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut ledger = Ledger::new();
    let started = Instant::now();

    for cycle in 0..cycles {
        let mut server = Server::start_in(dir.path(), &[]);
        // Facts never answered are resent, spread over the clients.
        let unanswered: Vec<(String, Sent)> = ledger
            .iter()
            .filter(|(_, sent)| !sent.acked)
            .map(|(id, sent)| (id.clone(), sent.clone()))
            .collect();
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|t| {
                let client = Client::operator(&server);
                let client_rng = Rng(rng.next());
                let retries = unanswered
                    .iter()
                    .skip(t)
                    .step_by(CLIENTS)
                    .cloned()
                    .collect();
                let stop = stop.clone();
                let prefix = format!("c{cycle}-t{t}");
                std::thread::spawn(move || client_cycle(client, client_rng, prefix, retries, stop))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(
            100 + rng.below(MAX_RUN.as_millis() as u64 - 100),
        ));
        server.kill();
        stop.store(true, Ordering::Relaxed);
        for client in clients {
            for (id, sent) in client.join().expect("client thread") {
                let acked_before = ledger.get(&id).is_some_and(|s| s.acked);
                ledger.insert(
                    id,
                    Sent {
                        acked: sent.acked || acked_before,
                        ..sent
                    },
                );
            }
        }
    }

    let server = Server::start_in(dir.path(), &[]);
    let operator = Client::operator(&server);
    let mut verified = 0;
    let mut unacked_present = 0;
    for city in CITIES {
        let events = operator.all_events(city);
        let mut seen = BTreeSet::new();
        for event in &events {
            let id = event["id"]
                .as_str()
                .expect("every fact was sent with an id");
            assert!(
                seen.insert(id.to_owned()),
                "{city}: id {id} is stored twice"
            );
            let sent = ledger
                .get(id)
                .unwrap_or_else(|| panic!("{city}: id {id} was never sent"));
            assert_eq!(sent.city, city, "id {id} is stored in the wrong city");
            for field in ["user", "service", "outcome", "duration_ms", "quantities"] {
                assert_eq!(event[field], sent.fact[field], "id {id}: {field}");
            }
            if !sent.acked {
                unacked_present += 1;
            }
        }
        for (id, sent) in &ledger {
            if sent.city == city && sent.acked {
                assert!(seen.contains(id), "{city}: acknowledged id {id} was lost");
                verified += 1;
            }
        }
        check_summaries_match_recounts(&operator, &server, city, &events);
    }
    let acked = ledger.values().filter(|s| s.acked).count();
    assert!(
        acked > 0,
        "no fact was ever acknowledged: the harness tested nothing"
    );
    eprintln!(
        "crash harness: {cycles} SIGKILL cycles survived in {:.1?}; {} facts sent, {acked} \
         acknowledged and verified exactly once ({verified} checked), {} never answered \
         ({unacked_present} of them stored, each once)",
        started.elapsed(),
        ledger.len(),
        ledger.len() - acked,
    );
}

/// Summary totals, each user × service × outcome group, and every user's `me`
/// equal what the events add up to.
fn check_summaries_match_recounts(
    operator: &Client,
    server: &Server,
    city: &str,
    events: &[Value],
) {
    let totals = operator.get(&format!("/v1/cities/{city}/summary"));
    assert_eq!(totals.status, 200, "{}", totals.text);
    Recount::of(events).assert_matches(&totals.body["totals"], &format!("{city} totals"));

    let grouped = operator.get(&format!(
        "/v1/cities/{city}/summary?group_by={}",
        encode("user,service,outcome")
    ));
    assert_eq!(grouped.status, 200, "{}", grouped.text);
    let mut groups: BTreeMap<(String, String, String), Vec<Value>> = BTreeMap::new();
    for e in events {
        let outcome = match e["outcome"].as_str() {
            Some("success") => "success".to_owned(),
            _ => e["error_kind"].as_str().expect("failure kind").to_owned(),
        };
        let key = (str_of(&e["user"]), str_of(&e["service"]), outcome);
        groups.entry(key).or_default().push(e.clone());
    }
    let rows = grouped.body["rows"].as_array().expect("rows");
    assert_eq!(
        rows.len(),
        groups.len(),
        "{city}: one row per group present"
    );
    for row in rows {
        let key = (
            str_of(&row["user"]),
            str_of(&row["service"]),
            str_of(&row["outcome"]),
        );
        let members = groups
            .get(&key)
            .unwrap_or_else(|| panic!("{city}: summary row {key:?} has no events"));
        Recount::of(members).assert_matches(row, &format!("{city} {key:?}"));
    }

    for user in USERS {
        let mine: Vec<Value> = events
            .iter()
            .filter(|e| e["user"] == user)
            .cloned()
            .collect();
        let me = Client::new(server, Some(&issue_token(city, user))).get("/v1/me");
        assert_eq!(me.status, 200, "{}", me.text);
        Recount::of(&mine)
            .assert_matches(&me.body["summary"]["totals"], &format!("{city} me {user}"));
    }
}

fn str_of(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}
