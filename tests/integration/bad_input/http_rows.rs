//! The HTTP rows of the table: each a request to one `usage serve` over the
//! seeded data dir, answered with its 4xx and the JSON error shape
//! `{error:{code,message,field?}}` naming the field (for refused access and
//! conflicts, which name no field, the code).
//!
//! How the store is shown unchanged: redb lets one process at a time open the
//! file, so no raw dump can be taken while the server runs. Two checks, then:
//! - the complete one, byte for byte: a raw dump of every city's keys before the
//!   server starts, and again after SIGTERM has stopped it and closed the store;
//!   it covers all rows together (a row that wrote anything leaves a difference,
//!   as bad input can only add or change keys, never take one away);
//! - per row, to name the row that wrote: everything the server can show before
//!   and after it (every event of every city, and the summary grouped by every
//!   dimension, city and day). This is complete for what reads see, not for
//!   raw keys; the raw dump at the end covers those.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};
use usage_host::server::HttpLimits;

use super::{Case, GOOD_JSONL, Via, assert_distinct_names, fact_with, long, path, run, seeded_dir};
use crate::audit::{difference, dump_dir};
use crate::http::{base64_url, now_secs, signed};
use crate::http_support::{Answer, Client, SECRET, Server, encode, issue_token};
use crate::util::usage_json;

/// One request and the status it must be answered with.
pub struct Request {
    method: &'static str,
    path: String,
    body: Vec<u8>,
    token: Token,
    status: u16,
}

/// Which `Authorization` the request carries.
enum Token {
    None,
    Operator,
    Bearer(String),
}

/// The city the good rows were imported into (the CLI's default).
const CITY: &str = "default";
/// A city whose image totals are seeded full, for the overflow row.
const FULL_CITY: &str = "full";
/// Largest quantity one fact may carry (2^53 - 1, exact in any JSON reader).
const MAX_QUANTITY: u64 = (1 << 53) - 1;
/// The server's body limit in these rows, so an oversized body stays small.
const MAX_BODY: &str = "64KiB";
const MAX_BODY_BYTES: usize = 64 << 10;

fn request(
    name: &'static str,
    method: &'static str,
    path: String,
    body: Vec<u8>,
    status: u16,
    field: &'static str,
) -> Case {
    Case {
        name,
        via: Via::Http(Request {
            method,
            path,
            body,
            token: Token::Operator,
            status,
        }),
        field,
    }
}

/// A POST of `body` to `/v1/cities/default/events` with the operator token.
fn post(name: &'static str, body: impl Into<Vec<u8>>, field: &'static str) -> Case {
    post_to(name, &events_path(CITY), body, 400, field)
}

fn post_to(
    name: &'static str,
    path: &str,
    body: impl Into<Vec<u8>>,
    status: u16,
    field: &'static str,
) -> Case {
    request(name, "POST", path.to_owned(), body.into(), status, field)
}

/// A GET of `path` with the operator token, answered 400 naming `field`.
fn get(name: &'static str, path: &str, field: &'static str) -> Case {
    request(name, "GET", path.to_owned(), Vec::new(), 400, field)
}

/// `case` sent with `token` instead of the operator's, answered `status`.
fn with_token(mut case: Case, token: Token, status: u16) -> Case {
    if let Via::Http(r) = &mut case.via {
        r.token = token;
        r.status = status;
    }
    case
}

fn events_path(city: &str) -> String {
    format!("/v1/cities/{city}/events")
}

/// A valid fact in the full city's counters: one more would overflow them.
fn full_fact(id: &str) -> String {
    json!({
        "id": id, "user": "u", "service": "s", "outcome": "success",
        "occurred_at": "2025-06-01T12:00:00Z", "quantities": {"images": MAX_QUANTITY}
    })
    .to_string()
}

/// How many facts of [`MAX_QUANTITY`] images fit in a u64 total.
fn facts_that_fit() -> u64 {
    u64::MAX / MAX_QUANTITY
}

/// Fills the full city's image totals to the brim, through the CLI (before
/// the server holds the store).
fn seed_full_city(data_dir: &Path) {
    let fit = facts_that_fit();
    let lines: Vec<String> = (0..fit).map(|i| full_fact(&format!("full-{i}"))).collect();
    let file = data_dir.join("full.jsonl");
    std::fs::write(&file, lines.join("\n")).expect("write");
    let report = usage_json(
        data_dir,
        &["import", path(&file), "--city", FULL_CITY, "--quiet"],
    );
    assert_eq!(report["imported"].as_u64(), Some(fit), "{report}");
}

fn post_cases() -> Vec<Case> {
    let too_many: Vec<String> = (0..33).map(|i| format!(r#""q{i}":1"#)).collect();
    let over_limit = fact_with(&format!(r#""model":"{}""#, long(MAX_BODY_BYTES + 1024)));
    let max_batch = HttpLimits::default().max_batch;
    let oversized_batch = format!("[{}]", vec!["{}"; max_batch + 1].join(","));
    assert!(
        oversized_batch.len() < MAX_BODY_BYTES,
        "413 for the count, not the size"
    );
    let changed_good_1 = GOOD_JSONL[0].replace(r#""images":3"#, r#""images":4"#);
    assert_ne!(changed_good_1, GOOD_JSONL[0]);
    vec![
        // The body as JSON.
        post("malformed JSON", r#"{"user":"u","service""#, "json"),
        post(
            "JSON with trailing text",
            fact_with(r#""model":"m""#) + " and more",
            "json",
        ),
        post("a number instead of a fact", "42", "json"),
        post("empty body", "", "json"),
        post(
            "non-UTF-8 bytes in a string",
            b"{\"user\":\"\xff\xfe\",\"service\":\"s\",\"outcome\":\"success\"}".to_vec(),
            "json",
        ),
        post(
            "wrong type",
            r#"{"user":7,"service":"s","outcome":"success"}"#,
            "user",
        ),
        post("unknown field", fact_with(r#""colour":"red""#), "colour"),
        post(
            "field given twice",
            r#"{"user":"u","user":"v","service":"s","outcome":"success"}"#,
            "user",
        ),
        post(
            "missing service",
            r#"{"user":"u","outcome":"success"}"#,
            "service",
        ),
        post(
            "outcome not success or failure",
            r#"{"user":"u","service":"s","outcome":"maybe"}"#,
            "outcome",
        ),
        // Names.
        post(
            "empty user",
            r#"{"user":"","service":"s","outcome":"success"}"#,
            "user",
        ),
        post(
            "user over 128 bytes",
            format!(
                r#"{{"user":"{}","service":"s","outcome":"success"}}"#,
                long(129)
            ),
            "user",
        ),
        post(
            "control character in service",
            r#"{"user":"u","service":"a\u0007b","outcome":"success"}"#,
            "service",
        ),
        post("empty model", fact_with(r#""model":"""#), "model"),
        post(
            "id over 128 bytes",
            {
                let mut body = fact_with(r#""model":"m""#);
                body = body.replacen(r#""id":"bad""#, &format!(r#""id":"{}""#, long(129)), 1);
                body
            },
            "id",
        ),
        // Failures.
        post(
            "failure without a kind",
            r#"{"user":"u","service":"s","outcome":"failure"}"#,
            "error_kind",
        ),
        post(
            "error kind on a success",
            fact_with(r#""error_kind":"timeout""#),
            "error_kind",
        ),
        post(
            "error message over 1024 bytes",
            format!(
                r#"{{"user":"u","service":"s","outcome":"failure","error_kind":"t","error_message":"{}"}}"#,
                long(1025)
            ),
            "error_message",
        ),
        post(
            "control character in error message",
            r#"{"user":"u","service":"s","outcome":"failure","error_kind":"t","error_message":"a\u001b[2J"}"#,
            "error_message",
        ),
        // Quantities.
        post(
            "quantity beyond u64",
            fact_with(r#""quantities":{"images":18446744073709551616}"#),
            "quantities.images",
        ),
        post(
            "negative quantity",
            fact_with(r#""quantities":{"images":-1}"#),
            "quantities.images",
        ),
        post(
            "fractional quantity",
            fact_with(r#""quantities":{"images":1.5}"#),
            "quantities.images",
        ),
        post(
            "quantity as a float in exponent form",
            fact_with(r#""quantities":{"images":1e30}"#),
            "quantities.images",
        ),
        post(
            "quantity as a string",
            fact_with(r#""quantities":{"images":"3"}"#),
            "quantities.images",
        ),
        post(
            "quantity of 2^53",
            fact_with(r#""quantities":{"images":9007199254740992}"#),
            "quantities[0].value",
        ),
        post(
            "quantity given twice",
            fact_with(r#""quantities":{"images":1,"images":2}"#),
            "quantities.images",
        ),
        post(
            "33 quantities",
            fact_with(&format!(r#""quantities":{{{}}}"#, too_many.join(","))),
            "quantities",
        ),
        post(
            "quantity name with a space",
            fact_with(r#""quantities":{"a b":1}"#),
            "quantities[0].name",
        ),
        post(
            "quantities as an array",
            fact_with(r#""quantities":[1]"#),
            "quantities",
        ),
        post_to(
            "quantity sum overflowing a stored total",
            &events_path(FULL_CITY),
            full_fact("one-too-many"),
            400,
            "quantities",
        ),
        // Times and durations.
        post(
            "time far in the future",
            fact_with(r#""occurred_at":"2999-01-01T00:00:00Z""#),
            "occurred_at",
        ),
        post(
            "time before 1970",
            fact_with(r#""occurred_at":"1969-07-20T20:17:00Z""#),
            "occurred_at",
        ),
        post(
            "time not RFC 3339",
            fact_with(r#""occurred_at":"01/06/2025""#),
            "occurred_at",
        ),
        post(
            "impossible date",
            fact_with(r#""occurred_at":"2025-13-01T00:00:00Z""#),
            "occurred_at",
        ),
        post(
            "negative milliseconds",
            fact_with(r#""occurred_at":-1"#),
            "occurred_at",
        ),
        post(
            "milliseconds beyond u64",
            fact_with(r#""occurred_at":1e30"#),
            "occurred_at",
        ),
        post(
            "duration over 30 days",
            fact_with(r#""duration_ms":2592000001"#),
            "duration_ms",
        ),
        post(
            "negative duration",
            fact_with(r#""duration_ms":-5"#),
            "duration_ms",
        ),
        // Idempotency and limits.
        post_to(
            "changed payload under a used id",
            &events_path(CITY),
            changed_good_1,
            409,
            "conflict",
        ),
        post_to(
            "body over the limit",
            &events_path(CITY),
            over_limit,
            413,
            "body",
        ),
        post_to(
            "batch over 10,000 facts",
            &events_path(CITY),
            oversized_batch,
            413,
            "batch",
        ),
        // The city in the path.
        post_to(
            "city with a space",
            "/v1/cities/a%20b/events",
            GOOD_JSONL[0],
            400,
            "city",
        ),
        post_to(
            "city over 64 bytes",
            &events_path(&long(65)),
            GOOD_JSONL[0],
            400,
            "city",
        ),
        post_to(
            "city not UTF-8",
            "/v1/cities/%FF%FE/events",
            GOOD_JSONL[0],
            400,
            "city",
        ),
        post_to(
            "control character in city",
            "/v1/cities/a%07b/events",
            GOOD_JSONL[0],
            400,
            "city",
        ),
    ]
}

/// Query mistakes; cursors come from a real page of this server.
fn read_cases(op: &Client) -> Vec<Case> {
    let events = events_path(CITY);
    let page = op.get(&format!("{events}?limit=1"));
    assert_eq!(page.status, 200, "{}", page.text);
    let cursor = page.body["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let (head, fingerprint) = cursor.rsplit_once('_').expect("cursor shape");
    let flipped: String = fingerprint
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    let tampered = format!("{head}_{flipped}");
    assert_ne!(tampered, cursor);
    let damaged = cursor.replacen("c1_", "c1_zz", 1);
    assert_ne!(damaged, cursor);
    let q = |query: &str| format!("{events}?{query}");
    let summary = |query: &str| format!("/v1/cities/{CITY}/summary?{query}");
    vec![
        // events
        get("page of 0", &q("limit=0"), "limit"),
        get("page over 1000", &q("limit=1001"), "limit"),
        get("negative page", &q("limit=-1"), "limit"),
        get(
            "page beyond u64",
            &q("limit=99999999999999999999999"),
            "limit",
        ),
        get("fractional page", &q("limit=1.5"), "limit"),
        get(
            "events window from > to",
            &q("from=2025-02-01&to=2025-01-01"),
            "from",
        ),
        get("from in words", &q("from=last%20week"), "from"),
        get("to before 1970", &q("to=1969-12-31"), "to"),
        get("unknown outcome filter", &q("outcome=failed"), "outcome"),
        get(
            "order flag not a boolean",
            &q("oldest_first=maybe"),
            "oldest_first",
        ),
        get("unknown order parameter", &q("order=oldest"), "order"),
        get("unknown query parameter", &q("colour=red"), "colour"),
        get("parameter given twice", &q("user=ana&user=bo"), "user"),
        get("garbage cursor", &q("cursor=garbage"), "cursor"),
        get(
            "cursor with a tampered fingerprint",
            &q(&format!("limit=1&cursor={}", encode(&tampered))),
            "cursor",
        ),
        get(
            "cursor with a damaged index",
            &q(&format!("limit=1&cursor={}", encode(&damaged))),
            "cursor",
        ),
        get(
            "cursor of another query",
            &q(&format!("limit=1&user=ana&cursor={}", encode(&cursor))),
            "cursor",
        ),
        get(
            "events of an invalid city",
            "/v1/cities/a%20b/events",
            "city",
        ),
        // summary
        get(
            "unknown group-by",
            &summary("group_by=service,colour"),
            "group_by",
        ),
        get("unknown bucket", &summary("bucket=week"), "bucket"),
        get(
            "summary window from > to",
            &summary("from=2025-02-01&to=2025-01-01"),
            "from",
        ),
        get(
            "empty summary window",
            &summary("from=2025-02-01&to=2025-02-01"),
            "from",
        ),
        get(
            "window not on whole hours",
            &summary("from=2025-01-01T00:30:00Z&to=2025-01-02"),
            "from",
        ),
        get("summary takes no cursor", &summary("cursor=abc"), "cursor"),
        get(
            "summary of an invalid city",
            &format!("/v1/cities/{}/summary", long(65)),
            "city",
        ),
        get(
            "cross-city summary by an unknown dimension",
            "/v1/summary?group_by=city,colour",
            "group_by",
        ),
        get(
            "cross-city summary with an unknown bucket",
            "/v1/summary?bucket=fortnight",
            "bucket",
        ),
    ]
}

/// Tokens: missing, garbage, tampered, expired, of another secret or city.
fn token_cases() -> Vec<Case> {
    let ana = issue_token(CITY, "ana");
    let exp = now_secs() + 3600;
    let iat = now_secs().saturating_sub(7200);
    let claims = |sub: &str, city: &str, exp: u64| json!({"sub": sub, "city": city, "aud": "usage", "iat": iat, "exp": exp});
    // The payload of a real token swapped for bo's, the signature kept.
    let mut parts: Vec<String> = ana.split('.').map(str::to_owned).collect();
    assert_eq!(parts.len(), 3, "a JWT");
    parts[1] = base64_url::encode(claims("bo", CITY, exp).to_string().as_bytes());
    let tampered = parts.join(".");
    let expired = signed(&claims("ana", CITY, now_secs() - 60), SECRET);
    let other_secret = signed(
        &claims("ana", CITY, exp),
        "a different secret, also 32 bytes or longer",
    );
    let unusable_city = signed(&claims("ana", "no spaces", exp), SECRET);
    let user = |t: &str| Token::Bearer(t.to_owned());
    // Valid and not yet stored: were it let through, the store would change.
    let good = r#"{"id":"fresh","user":"u","service":"s","outcome":"success"}"#;
    let me = |name, query: &str, field| get(name, &format!("/v1/me?{query}"), field);
    vec![
        with_token(
            post_to("no token", &events_path(CITY), good, 0, ""),
            Token::None,
            401,
        ),
        with_token(
            post_to("garbage token", &events_path(CITY), good, 0, ""),
            user("not.a.jwt"),
            401,
        ),
        with_token(
            post_to("near-miss operator token", &events_path(CITY), good, 0, ""),
            user("operator-token-for-test"),
            401,
        ),
        with_token(
            post_to("user token recording", &events_path(CITY), good, 0, ""),
            user(&ana),
            403,
        ),
        with_token(
            get(
                "user token reading another city",
                "/v1/cities/other/events",
                "",
            ),
            user(&ana),
            403,
        ),
        with_token(
            get(
                "user token reading its own city's events",
                &events_path(CITY),
                "",
            ),
            user(&ana),
            403,
        ),
        with_token(get("tampered token", "/v1/me", ""), user(&tampered), 401),
        with_token(get("expired token", "/v1/me", ""), user(&expired), 401),
        with_token(
            get("token of another secret", "/v1/me", ""),
            user(&other_secret),
            401,
        ),
        with_token(
            get("token naming an invalid city", "/v1/me", ""),
            user(&unusable_city),
            401,
        ),
        with_token(get("no token on me", "/v1/me", ""), Token::None, 401),
        get_with_status("operator token on me", "/v1/me", 403),
        // The user's own reads take nothing that could name another city or user.
        with_token(
            me("me of another city", "city=other", "city"),
            user(&ana),
            400,
        ),
        with_token(me("me of another user", "user=bo", "user"), user(&ana), 400),
        with_token(
            me("me with too many recent events", "recent=5000", "recent"),
            user(&ana),
            400,
        ),
        with_token(
            me("me by an unknown bucket", "bucket=week", "bucket"),
            user(&ana),
            400,
        ),
    ]
    .into_iter()
    .map(name_the_code)
    .collect()
}

fn get_with_status(name: &'static str, path: &str, status: u16) -> Case {
    request(name, "GET", path.to_owned(), Vec::new(), status, "")
}

/// Refusals name no field; their code is what the row must name.
fn name_the_code(mut case: Case) -> Case {
    if let Via::Http(r) = &case.via
        && let Some(code) = code_of(r.status).filter(|_| case.field.is_empty())
    {
        case.field = code;
    }
    case
}

/// The `error.code` each status carries.
fn code_of(status: u16) -> Option<&'static str> {
    Some(match status {
        400 => "invalid",
        401 => "unauthorized",
        403 => "forbidden",
        409 => "conflict",
        413 => "too_large",
        _ => return None,
    })
}

/// Sends one request; `Err` says how its answer falls short.
pub fn check(request: &Request, field: &str, server: &Server) -> Result<(), String> {
    let client = match &request.token {
        Token::None => Client::new(server, None),
        Token::Operator => Client::operator(server),
        Token::Bearer(token) => Client::new(server, Some(token)),
    };
    let answer = client.send(request.method, &request.path, &request.body);
    let excerpt: String = answer.text.chars().take(300).collect();
    if answer.status != request.status {
        return Err(format!(
            "status {} instead of {}: {excerpt}",
            answer.status, request.status
        ));
    }
    let (code, named) = error_shape(&answer).map_err(|why| format!("{why}: {excerpt}"))?;
    let expected = code_of(request.status).ok_or("a row expects an error status")?;
    if code != expected {
        return Err(format!("code {code:?} instead of {expected:?}: {excerpt}"));
    }
    let names = match (request.status, named) {
        (400 | 413, Some(named)) => named == field,
        (400 | 413, None) => false,
        (_, Some(_)) => false,
        (_, None) => code == field,
    };
    if !names {
        return Err(format!("does not name {field:?}: {excerpt}"));
    }
    Ok(())
}

/// `{error:{code,message,field?}}` and nothing else: the code and the field.
fn error_shape(answer: &Answer) -> Result<(&str, Option<&str>), String> {
    let body = answer
        .body
        .as_object()
        .ok_or("the body is not a JSON object")?;
    if body.len() != 1 {
        return Err("the body holds more than `error`".to_owned());
    }
    let error = body
        .get("error")
        .and_then(Value::as_object)
        .ok_or("no `error` object")?;
    if let Some(other) = error
        .keys()
        .find(|k| !["code", "message", "field"].contains(&k.as_str()))
    {
        return Err(format!("`error` holds an unexpected {other:?}"));
    }
    let code = error
        .get("code")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or("no `error.code`")?;
    error
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .ok_or("no `error.message`")?;
    let field = match error.get("field") {
        None => None,
        Some(Value::String(f)) => Some(f.as_str()),
        Some(other) => return Err(format!("`error.field` is not a string: {other}")),
    };
    Ok((code, field))
}

/// Everything the server shows of the store: each city's events, and the
/// summary across cities grouped by every dimension and day.
fn visible(op: &Client, cities: &BTreeSet<String>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let summary = op.get("/v1/summary?group_by=city,service,model,user,outcome&bucket=day");
    assert_eq!(summary.status, 200, "{}", summary.text);
    out.insert("the summary across cities".to_owned(), summary.body);
    for city in cities {
        out.insert(
            format!("the events of {city}"),
            Value::Array(op.all_events(city)),
        );
    }
    out
}

/// Runs every HTTP row against one server over the seeded dir.
fn run_table() -> usize {
    let dir = seeded_dir();
    seed_full_city(dir.path());
    let before = dump_dir(dir.path());
    let cities: BTreeSet<String> = before.keys().map(|(city, _)| city.clone()).collect();
    assert!(
        cities.contains(CITY) && cities.contains(FULL_CITY),
        "{cities:?}"
    );

    let mut server = Server::start_in(dir.path(), &["--max-body", MAX_BODY]);
    let op = Client::operator(&server);
    let mut cases = post_cases();
    cases.extend(read_cases(&op));
    cases.extend(token_cases());
    assert_distinct_names(&cases);

    let mut failures = Vec::new();
    for case in &cases {
        let seen = visible(&op, &cities);
        let answered = run(case, dir.path(), Some(&server));
        let now = visible(&op, &cities);
        let changed = seen
            .iter()
            .find(|(what, value)| now.get(*what) != Some(value))
            .map(|(what, _)| format!("changed {what}"));
        let why: Vec<String> = answered.err().into_iter().chain(changed).collect();
        if !why.is_empty() {
            failures.push(format!("{}: {}", case.name, why.join("; ")));
        }
    }
    let status = server.terminate();
    assert!(
        status.success(),
        "usage serve exited {status}:\n{}",
        server.log()
    );
    if let Some(diff) = difference(&before, &dump_dir(dir.path())) {
        failures.push(format!("the rows together changed the store: {diff}"));
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad requests mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("bad requests tried: {}", cases.len());
    cases.len()
}

#[test]
fn bad_http_requests_answer_4xx_naming_the_field_and_change_nothing() {
    let tried = run_table();
    assert!(tried >= 30, "{tried}");
}
