//! Two `usage serve` processes on one Redis, each with concurrent writers, and
//! the same idempotency ids sent to both. Afterwards each city's summary (read
//! through either server) equals a recount of its events, and no id is stored
//! twice. Redis comes from `store::testing` (skipped without one, except in CI).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use usage_host::store::testing::{test_redis_url, unique_prefix};

use crate::http_support::{Client, Recount, Server};

/// The content of an id never changes, so resending it is a duplicate.
fn fact(city: &str, n: usize) -> Value {
    json!({
        "id": format!("{city}-{n}"), "user": format!("u{}", n % 4),
        "service": if n.is_multiple_of(2) { "chat" } else { "code" },
        "outcome": "success", "duration_ms": n as u64, "quantities": {"tokens": (n % 9 + 1) as u64}
    })
}

/// Posts until the server answers; 503 means nothing was written (retry is safe).
fn post(client: &Client, path: &str, body: &Value) -> Value {
    for _ in 0..50 {
        let a = client.post_json(path, body);
        match a.status {
            200 | 201 => return a.body,
            503 => std::thread::sleep(std::time::Duration::from_millis(10)),
            _ => panic!("{path}: {} {}", a.status, a.text),
        }
    }
    panic!("{path}: still 503 after 50 tries")
}

#[test]
fn two_servers_on_one_redis_count_each_id_once() {
    let Some(url) = test_redis_url() else {
        return;
    };
    // Unique city names keep this run apart from others on the same Redis.
    let tag = unique_prefix().replace("usage-test-", "t");
    let cities: Vec<String> = ["north", "south"]
        .iter()
        .map(|c| format!("{tag}-{c}"))
        .collect();
    let servers = [
        Server::start(&["--store", &url]),
        Server::start(&["--store", &url]),
    ];
    const WRITERS_PER_SERVER: usize = 3;
    const ROUNDS: usize = 10;
    const IDS: usize = 40;

    let sent: BTreeMap<String, BTreeSet<usize>> = std::thread::scope(|scope| {
        let mut workers = Vec::new();
        for (s, server) in servers.iter().enumerate() {
            for w in 0..WRITERS_PER_SERVER {
                let client = Client::operator(server);
                let cities = &cities;
                workers.push(scope.spawn(move || {
                    let mut sent: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
                    for round in 0..ROUNDS {
                        for city in cities {
                            let path = format!("/v1/cities/{city}/events");
                            // Both servers walk the same id range from different offsets.
                            let base = (round * 3 + w * 5 + s * 2) % IDS;
                            if round % 2 == 0 {
                                post(&client, &path, &fact(city, base));
                                sent.entry(city.clone()).or_default().insert(base);
                            } else {
                                let ns: Vec<usize> = (base..base + 6).map(|n| n % IDS).collect();
                                let batch =
                                    Value::Array(ns.iter().map(|n| fact(city, *n)).collect());
                                let body = post(&client, &path, &batch);
                                assert_eq!(body["rejected"], 0, "{body}");
                                sent.entry(city.clone()).or_default().extend(ns);
                            }
                        }
                    }
                    sent
                }));
            }
        }
        let mut all: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
        for worker in workers {
            for (city, ns) in worker.join().expect("writer") {
                all.entry(city).or_default().extend(ns);
            }
        }
        all
    });

    for city in &cities {
        for server in &servers {
            let op = Client::operator(server);
            let events = op.all_events(city);
            let ids: Vec<&str> = events
                .iter()
                .map(|e| e["id"].as_str().expect("id"))
                .collect();
            let unique: BTreeSet<&str> = ids.iter().copied().collect();
            assert_eq!(unique.len(), ids.len(), "{city}: an id was stored twice");
            let expected: BTreeSet<String> =
                sent[city].iter().map(|n| format!("{city}-{n}")).collect();
            assert_eq!(
                unique,
                expected.iter().map(String::as_str).collect(),
                "{city}: ids"
            );
            let recount = Recount::of(&events);
            let facts: Vec<Value> = sent[city].iter().map(|n| fact(city, *n)).collect();
            assert_eq!(
                recount,
                Recount::of(&facts),
                "{city}: stored facts differ from sent"
            );
            let summary = op.get(&format!("/v1/cities/{city}/summary?group_by="));
            assert_eq!(summary.status, 200, "{}", summary.text);
            recount.assert_matches(&summary.body["totals"], city);
        }
    }
}
