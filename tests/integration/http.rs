//! The HTTP service through a real `usage serve` on an ephemeral loopback port:
//! every route, every access rule, batches, concurrency across cities checked
//! against recounts of the stored events, traps, limits and graceful shutdown.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::http_support::{Answer, Client, OPERATOR, Recount, SECRET, Server, issue_token};
use crate::util;

fn fact(id: &str, user: &str, service: &str, tokens: u64) -> Value {
    json!({
        "id": id, "user": user, "service": service, "model": "m1",
        "outcome": "success", "duration_ms": 5, "quantities": {"tokens": tokens}
    })
}

/// A token signed here, independently of the product, with any claims.
pub(crate) fn signed(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("key"),
    )
    .expect("sign")
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// (method, path) of every route the service is meant to have.
const ROUTES: [(&str, &str); 8] = [
    ("post", "/v1/cities/{city}/events"),
    ("get", "/v1/cities/{city}/events"),
    ("get", "/v1/cities/{city}/summary"),
    ("get", "/v1/summary"),
    ("get", "/v1/me"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/openapi.json"),
];

#[test]
fn every_route_answers_and_the_openapi_document_lists_them() {
    let server = Server::start(&[]);
    let op = Client::operator(&server);
    let anonymous = Client::new(&server, None);

    let health = anonymous.get("/healthz");
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("ok"))
    );

    let doc = anonymous.get("/openapi.json");
    assert_eq!(doc.status, 200);
    assert!(
        doc.body["openapi"]
            .as_str()
            .expect("version")
            .starts_with("3.")
    );
    let mut listed = BTreeSet::new();
    for (path, item) in doc.body["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            listed.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(listed, expected);
    let schemas = doc.body["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for name in [
        "FactJson",
        "ReceiptJson",
        "BatchResultJson",
        "EventPageJson",
        "SummaryJson",
        "UsageReportJson",
        "ErrorBody",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }

    let city = "/v1/cities/acme";
    assert_eq!(
        op.post_json(&format!("{city}/events"), &fact("r1", "ana", "chat", 3))
            .status,
        201
    );
    assert_eq!(op.get(&format!("{city}/events")).status, 200);
    assert_eq!(op.get(&format!("{city}/summary")).status, 200);
    assert_eq!(op.get("/v1/summary").status, 200);
    let me = Client::new(&server, Some(&issue_token("acme", "ana"))).get("/v1/me");
    assert_eq!(me.status, 200, "{}", me.text);
    let metrics = op.get("/metrics");
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.text.contains("usage_http_requests_total"),
        "{}",
        metrics.text
    );

    let missing = op.get("/v1/nothing");
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
    let wrong_method = op.post("/v1/summary", "{}");
    assert_eq!(
        (wrong_method.status, wrong_method.code()),
        (405, "method_not_allowed")
    );
}

#[test]
fn access_rules_for_operator_users_and_strangers() {
    let server = Server::start(&[]);
    let op = Client::operator(&server);
    // ana and bob in acme, another ana in globex: each must see only their own.
    let mine = [("a1", "ana", 3), ("a2", "ana", 4), ("b1", "bob", 50)];
    for (id, user, tokens) in mine {
        assert_eq!(
            op.post_json("/v1/cities/acme/events", &fact(id, user, "chat", tokens))
                .status,
            201
        );
    }
    assert_eq!(
        op.post_json("/v1/cities/globex/events", &fact("g1", "ana", "chat", 700))
            .status,
        201
    );

    let ana = Client::new(&server, Some(&issue_token("acme", "ana")));
    let me = ana.get("/v1/me?group_by=&recent=10");
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.body["user"], "ana");
    let recent = me.body["recent"].as_array().expect("recent");
    let ids: BTreeSet<&str> = recent
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, BTreeSet::from(["a1", "a2"]));
    assert!(
        recent
            .iter()
            .all(|e| e["user"] == "ana" && e["city"] == "acme")
    );
    let expected: Vec<Value> = mine
        .iter()
        .filter(|(_, user, _)| *user == "ana")
        .map(|(id, user, tokens)| fact(id, user, "chat", *tokens))
        .collect();
    Recount::of(&expected).assert_matches(&me.body["summary"]["totals"], "ana's own totals");

    // Nothing widens /v1/me: no user or city parameter exists.
    for query in ["user=bob", "city=globex"] {
        let widened = ana.get(&format!("/v1/me?{query}"));
        assert_eq!(
            (widened.status, widened.field()),
            (400, query.split('=').next().expect("name"))
        );
    }

    // A user token reaches nothing but /v1/me, in its own city or another.
    for (path, body) in [
        ("/v1/cities/acme/events", Some(fact("x", "ana", "chat", 1))),
        ("/v1/cities/acme/events", None),
        ("/v1/cities/acme/summary", None),
        ("/v1/cities/globex/summary", None),
        ("/v1/summary", None),
        ("/metrics", None),
    ] {
        let a: Answer = match &body {
            Some(b) => ana.post_json(path, b),
            None => ana.get(path),
        };
        assert_eq!(
            (a.status, a.code()),
            (403, "forbidden"),
            "user token on {path}"
        );
    }
    // The operator token names no user.
    assert_eq!(op.get("/v1/me").status, 403);

    // No token, a wrong one, a tampered one, an expired one, another secret's: 401.
    let exp = now_secs() + 3600;
    let good = issue_token("acme", "ana");
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = {
        use base64_url as b64;
        let claims =
            json!({"sub": "bob", "city": "acme", "aud": "usage", "iat": now_secs(), "exp": exp});
        b64::encode(claims.to_string().as_bytes())
    };
    let tampered = parts.join(".");
    let expired = signed(
        &json!({"sub": "ana", "city": "acme", "aud": "usage", "iat": now_secs() - 7200, "exp": now_secs() - 60}),
        SECRET,
    );
    let other_secret = signed(
        &json!({"sub": "ana", "city": "acme", "aud": "usage", "iat": now_secs(), "exp": exp}),
        "a different secret, also 32 bytes or longer",
    );
    let other_audience = signed(
        &json!({"sub": "ana", "city": "acme", "aud": "billing", "iat": now_secs(), "exp": exp}),
        SECRET,
    );
    for (what, token) in [
        ("none", None),
        ("wrong operator token", Some("operator-token-for-test")),
        ("tampered", Some(tampered.as_str())),
        ("expired", Some(expired.as_str())),
        ("another secret", Some(other_secret.as_str())),
        ("another audience", Some(other_audience.as_str())),
        ("garbage", Some("not.a.jwt")),
    ] {
        let client = Client::new(&server, token);
        for path in ["/v1/me", "/v1/cities/acme/summary", "/metrics"] {
            let a = client.get(path);
            assert_eq!(
                (a.status, a.code()),
                (401, "unauthorized"),
                "{what} on {path}: {}",
                a.text
            );
        }
    }
    // An independently signed, valid token works: the server checks, not trusts, claims.
    let independent = signed(
        &json!({"sub": "bob", "city": "acme", "aud": "usage", "iat": now_secs(), "exp": exp}),
        SECRET,
    );
    let bob = Client::new(&server, Some(&independent)).get("/v1/me?group_by=");
    assert_eq!(bob.status, 200);
    assert_eq!(bob.body["summary"]["totals"]["calls"], 1);
    assert_eq!(bob.body["summary"]["totals"]["quantities"]["tokens"], 50);
}

/// base64url without padding, as JWT segments use it.
pub(crate) mod base64_url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

#[test]
fn single_posts_answer_receipts_and_named_errors() {
    let server = Server::start(&["--max-body", "64KiB"]);
    let op = Client::operator(&server);
    let path = "/v1/cities/acme/events";

    let first = op.post_json(path, &fact("r1", "ana", "chat", 3));
    assert_eq!(
        (first.status, first.body["status"].as_str()),
        (201, Some("recorded"))
    );
    let again = op.post_json(path, &fact("r1", "ana", "chat", 3));
    assert_eq!(
        (again.status, again.body["status"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(again.body["position"], first.body["position"]);
    let conflict = op.post_json(path, &fact("r1", "ana", "chat", 4));
    assert_eq!((conflict.status, conflict.code()), (409, "conflict"));

    let cases = [
        (json!({"user": "ana", "outcome": "success"}).to_string(), "service"),
        (json!({"user": 7, "service": "s", "outcome": "success"}).to_string(), "user"),
        (json!({"user": "u", "service": "s", "outcome": "success", "colour": 1}).to_string(), "colour"),
        (json!({"user": "u", "service": "s", "outcome": "failure"}).to_string(), "error_kind"),
        (json!({"user": "", "service": "s", "outcome": "success"}).to_string(), "user"),
        (json!({"user": "u", "service": "s", "outcome": "success", "occurred_at": "1990-01-01T00:00:00Z"}).to_string(), "occurred_at"),
        ("{not json".to_owned(), "json"),
        ("42".to_owned(), "json"),
    ];
    for (body, field) in cases {
        let a = op.post(path, &body);
        assert_eq!(
            (a.status, a.code(), a.field()),
            (400, "invalid", field),
            "{body}: {}",
            a.text
        );
    }
    let bad_city = op.post_json(
        "/v1/cities/no%20spaces/events",
        &fact("r2", "ana", "chat", 1),
    );
    assert_eq!((bad_city.status, bad_city.field()), (400, "city"));
    let not_utf8 = op.get("/v1/cities/%FF/summary");
    assert_eq!(
        (not_utf8.status, not_utf8.field()),
        (400, "city"),
        "{}",
        not_utf8.text
    );
    let bad_param = op.get("/v1/cities/acme/events?limit=lots");
    assert_eq!((bad_param.status, bad_param.field()), (400, "limit"));
    let unknown_param = op.get("/v1/cities/acme/summary?colour=red");
    assert_eq!(
        (unknown_param.status, unknown_param.field()),
        (400, "colour")
    );

    let big = format!(
        "[{}]",
        vec![fact("x", "u", "s", 1).to_string(); 1000].join(",")
    );
    assert!(big.len() > 64 << 10);
    let too_big = op.post(path, &big);
    assert_eq!(
        (too_big.status, too_big.code(), too_big.field()),
        (413, "too_large", "body")
    );
    let many = format!("[{}]", vec!["{}"; 10_001].join(","));
    let too_many = op.post(path, &many);
    assert_eq!(
        (too_many.status, too_many.field()),
        (413, "batch"),
        "{}",
        too_many.text
    );

    // Only the one recorded fact is stored.
    assert_eq!(op.all_events("acme").len(), 1);
}

#[test]
fn a_batch_answers_each_item_and_records_only_the_good_ones() {
    let server = Server::start(&[]);
    let op = Client::operator(&server);
    let path = "/v1/cities/acme/events";
    assert_eq!(
        op.post_json(path, &fact("old", "ana", "chat", 2)).status,
        201
    );

    let batch = json!([
        fact("n1", "ana", "chat", 10),
        {"user": 7, "service": "chat", "outcome": "success"},
        fact("old", "ana", "chat", 2),
        fact("old", "ana", "chat", 99),
        {"id": "n2", "user": "bob", "service": "code", "outcome": "failure", "error_kind": "timeout"},
        {"user": "bob", "service": "x".repeat(200), "outcome": "success"},
        fact("n1", "ana", "chat", 10),
    ]);
    let a = op.post_json(path, &batch);
    assert_eq!(a.status, 200, "{}", a.text);
    let results = a.body["results"].as_array().expect("results");
    let statuses: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().expect("status"))
        .collect();
    assert_eq!(
        statuses,
        [
            "recorded",
            "rejected",
            "duplicate",
            "rejected",
            "recorded",
            "rejected",
            "duplicate"
        ]
    );
    assert_eq!(results[1]["error"]["field"], "user");
    assert_eq!(results[3]["error"]["code"], "conflict");
    assert_eq!(results[5]["error"]["field"], "service");
    assert_eq!(results[6]["position"], results[0]["position"]);
    assert_eq!(
        (
            a.body["recorded"].as_u64(),
            a.body["duplicates"].as_u64(),
            a.body["rejected"].as_u64()
        ),
        (Some(2), Some(2), Some(3))
    );

    let events = op.all_events("acme");
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["old", "n1", "n2"]);
    let summary = op.get("/v1/cities/acme/summary?group_by=");
    Recount::of(&events).assert_matches(&summary.body["totals"], "acme");
    assert_eq!(summary.body["totals"]["failures"], 1);

    let metrics = op.get("/metrics").text;
    for (status, n) in [("recorded", 3), ("duplicate", 2), ("rejected", 3)] {
        let line = format!("usage_records_total{{city=\"acme\",status=\"{status}\"}} {n}");
        assert!(metrics.contains(&line), "{line} not in\n{metrics}");
    }
}

#[test]
fn concurrent_clients_across_cities_leave_summaries_equal_to_recounts() {
    const CITIES: [&str; 4] = ["north", "south", "east", "west"];
    const CLIENTS: usize = 8;
    const ROUNDS: usize = 12;
    let server = Server::start(&[]);
    let op = Client::operator(&server);

    // Every client writes to every city, ids drawn from a shared pool so clients
    // collide; the content of an id is fixed, so a collision is a duplicate.
    let id_fact = |city: &str, n: usize| {
        let user = format!("u{}", n % 5);
        let service = if n.is_multiple_of(3) { "code" } else { "chat" };
        let mut f = fact(&format!("{city}-{n}"), &user, service, (n % 7 + 1) as u64);
        if n.is_multiple_of(4) {
            f["outcome"] = json!("failure");
            f["error_kind"] = json!("timeout");
        }
        f
    };
    let sent: BTreeMap<&str, BTreeSet<usize>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..CLIENTS)
            .map(|client| {
                let op = op.clone();
                scope.spawn(move || {
                    let mut sent: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
                    for round in 0..ROUNDS {
                        for (c, city) in CITIES.iter().enumerate() {
                            let path = format!("/v1/cities/{city}/events");
                            let base = (round * 7 + client * 3 + c) % 60;
                            if (round + client) % 2 == 0 {
                                let a = op.post_json(&path, &id_fact(city, base));
                                assert!(matches!(a.status, 200 | 201), "{}", a.text);
                                sent.entry(city).or_default().insert(base);
                            } else {
                                let ns: Vec<usize> = (base..base + 5).collect();
                                let batch: Vec<Value> =
                                    ns.iter().map(|n| id_fact(city, *n)).collect();
                                let a = op.post_json(&path, &Value::Array(batch));
                                assert_eq!(a.status, 200, "{}", a.text);
                                assert_eq!(a.body["rejected"], 0, "{}", a.text);
                                sent.entry(city).or_default().extend(ns);
                            }
                        }
                    }
                    sent
                })
            })
            .collect();
        let mut all: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
        for w in workers {
            for (city, ns) in w.join().expect("client") {
                all.entry(city).or_default().extend(ns);
            }
        }
        all
    });

    let mut overall = Vec::new();
    for city in CITIES {
        let events = op.all_events(city);
        let ids: Vec<String> = events
            .iter()
            .map(|e| e["id"].as_str().expect("id").to_owned())
            .collect();
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "{city}: an id was stored twice");
        let expected: BTreeSet<String> = sent[city].iter().map(|n| format!("{city}-{n}")).collect();
        assert_eq!(
            unique.into_iter().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{city}: ids"
        );
        let expected_facts: Vec<Value> = sent[city].iter().map(|n| id_fact(city, *n)).collect();
        let recount = Recount::of(&events);
        assert_eq!(
            recount,
            Recount::of(&expected_facts),
            "{city}: stored facts differ from sent"
        );

        let summary = op.get(&format!("/v1/cities/{city}/summary?group_by=service"));
        recount.assert_matches(&summary.body["totals"], city);
        for row in summary.body["rows"].as_array().expect("rows") {
            let service = row["service"].as_str().expect("service");
            let of_service: Vec<Value> = events
                .iter()
                .filter(|e| e["service"] == service)
                .cloned()
                .collect();
            Recount::of(&of_service).assert_matches(row, &format!("{city}/{service}"));
        }
        overall.push((city, recount, events));
    }

    // Across cities: totals add up, users are (city, user) pairs.
    let all = op.get("/v1/summary?group_by=city");
    assert_eq!(all.status, 200, "{}", all.text);
    let calls: u64 = overall.iter().map(|(_, r, _)| r.calls).sum();
    let users: usize = overall.iter().map(|(_, r, _)| r.users.len()).sum();
    assert_eq!(all.body["totals"]["calls"].as_u64(), Some(calls));
    assert_eq!(
        all.body["totals"]["distinct_users"].as_u64(),
        Some(users as u64)
    );
    let listed: BTreeSet<&str> = all.body["cities"]
        .as_array()
        .expect("cities")
        .iter()
        .map(|c| c.as_str().expect("city"))
        .collect();
    assert_eq!(listed, CITIES.into_iter().collect());
    for (city, recount, _) in &overall {
        let row = all.body["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["city"] == *city)
            .expect("row");
        recount.assert_matches(row, &format!("all/{city}"));
    }
    let by_service = op.get("/v1/summary?group_by=service");
    for row in by_service.body["rows"].as_array().expect("rows") {
        let service = row["service"].as_str().expect("service");
        let calls: usize = overall
            .iter()
            .map(|(_, _, ev)| ev.iter().filter(|e| e["service"] == service).count())
            .sum();
        assert_eq!(row["calls"].as_u64(), Some(calls as u64), "all/{service}");
    }
}

#[test]
fn a_trap_answers_500_for_that_request_only() {
    // 4 MiB of linear memory is enough for small calls, not for a fat batch.
    let server = Server::start(&["--memory-limit", "4MiB"]);
    let op = Client::operator(&server);
    assert_eq!(
        op.post_json("/v1/cities/acme/events", &fact("before", "ana", "chat", 1))
            .status,
        201
    );

    let fat: Vec<Value> = (0..4000)
        .map(|n| {
            let quantities: serde_json::Map<String, Value> =
                (0..32).map(|q| (format!("{q:0>60}"), json!(1))).collect();
            json!({"id": format!("fat-{n}"), "user": "u".repeat(128), "service": "s".repeat(128),
                   "model": "m".repeat(128), "outcome": "success", "quantities": quantities})
        })
        .collect();
    let trapped = std::thread::scope(|scope| {
        let other = scope.spawn(|| {
            (0..20)
                .map(|n| {
                    op.post_json(
                        "/v1/cities/globex/events",
                        &fact(&format!("g{n}"), "bo", "chat", 1),
                    )
                    .status
                })
                .collect::<Vec<_>>()
        });
        let trapped = op.post_json("/v1/cities/acme/events", &Value::Array(fat));
        assert!(
            other.join().expect("other city").iter().all(|s| *s == 201),
            "another city was harmed"
        );
        trapped
    });
    assert_eq!(
        (trapped.status, trapped.code()),
        (500, "trap"),
        "{}",
        trapped.text
    );

    let after = op.post_json("/v1/cities/acme/events", &fact("after", "ana", "chat", 1));
    assert_eq!(after.status, 201, "{}", after.text);
    let ids: Vec<String> = op
        .all_events("acme")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids, ["before", "after"], "the trapped batch wrote nothing");
    assert_eq!(op.all_events("globex").len(), 20);
    let metrics = op.get("/metrics").text;
    assert!(
        metrics.contains("usage_traps_total{city=\"acme\"} 1"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("usage_traps_total{city=\"globex\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("usage_instances{city=\"acme\"} 0"),
        "{metrics}"
    );
}

#[test]
fn sigterm_finishes_the_request_in_flight_and_closes_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut server = Server::start_in(dir.path(), &[]);
    let op = Client::operator(&server);
    let batch: Vec<Value> = (0..10_000)
        .map(|n| fact(&format!("b{n}"), "ana", "chat", 1))
        .collect();
    let answer = std::thread::scope(|scope| {
        let posting = scope.spawn(|| op.post_json("/v1/cities/acme/events", &Value::Array(batch)));
        // Wait until the batch is inside the component, then ask the server to stop.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !op
            .get("/metrics")
            .text
            .contains("usage_instances{city=\"acme\"} 1")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the batch never started"
            );
            assert!(
                !posting.is_finished(),
                "the batch finished before SIGTERM could be sent"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let status = server.terminate();
        assert!(status.success(), "exit {status:?}: {}", server.log());
        posting.join().expect("poster")
    });
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(answer.body["recorded"], 10_000);
    assert!(
        server.log().contains("stopped; the store is closed"),
        "{}",
        server.log()
    );
    // The store was closed: another process opens it and sees every fact.
    let summary = util::usage_json(dir.path(), &["summary", "--city", "acme", "--group-by", ""]);
    assert_eq!(summary["totals"]["calls"], 10_000);
}

#[test]
fn off_loopback_the_server_needs_both_tokens() {
    let dir = tempfile::tempdir().expect("temp dir");
    for extra in [
        &[][..],
        &["--operator-token", OPERATOR][..],
        &["--token-secret", SECRET][..],
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_usage"))
            .args(["serve", "--listen", "0.0.0.0:0"])
            .args(extra)
            .arg("--data-dir")
            .arg(dir.path())
            .env_remove("USAGE_TOKEN_SECRET")
            .env_remove("USAGE_OPERATOR_TOKEN")
            .output()
            .expect("run usage serve");
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("not a loopback address"), "{stderr}");
    }
    let short = util::usage_raw(
        dir.path(),
        &[
            "token",
            "issue",
            "--city",
            "acme",
            "--user",
            "ana",
            "--token-secret",
            "short",
        ],
    );
    assert_eq!(short.status.code(), Some(2));
}
