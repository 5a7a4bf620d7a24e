//! The GenAI trace imported through the CLI into one city; summary, `me` and
//! paging are checked against counts this test makes itself from the CSV.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

use crate::util::{shared_data, usage, usage_json};

/// What the test counts straight from the CSV, for completed calls only.
#[derive(Default, Debug, PartialEq)]
struct Count {
    calls: u64,
    images: u64,
    duration_ms: u64,
}

struct Trace {
    /// (service, outcome label) → count
    by_service_outcome: BTreeMap<(String, String), Count>,
    /// user → completed rows' times ("YYYY-MM-DD HH:MM:SS"), in file order
    times_by_user: BTreeMap<String, Vec<String>>,
    by_user: BTreeMap<String, Count>,
    unfinished: u64,
}

fn number(cell: &str) -> u64 {
    if cell.is_empty() {
        0
    } else {
        cell.parse::<f64>().expect("number cell").round() as u64
    }
}

fn read_trace(path: &std::path::Path) -> Trace {
    let mut reader = csv::Reader::from_path(path).expect("open trace");
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect("column");
    let (at, service, status, secs, user, images) = (
        col("gmt_create"),
        col("predict_type"),
        col("predict_status"),
        col("exec_time_seconds"),
        col("groupId"),
        col("num_images_per_prompt"),
    );
    let mut t = Trace {
        by_service_outcome: BTreeMap::new(),
        times_by_user: BTreeMap::new(),
        by_user: BTreeMap::new(),
        unfinished: 0,
    };
    for row in reader.records() {
        let row = row.expect("row");
        let outcome = match &row[status] {
            "SUCCEED" => "success",
            "FAILED" => "failed",
            _ => {
                t.unfinished += 1;
                continue;
            }
        };
        let duration_ms = if row[secs].is_empty() {
            0
        } else {
            (row[secs].parse::<f64>().expect("seconds") * 1000.0).round() as u64
        };
        for count in [
            t.by_service_outcome
                .entry((row[service].to_owned(), outcome.to_owned()))
                .or_default(),
            t.by_user.entry(row[user].to_owned()).or_default(),
        ] {
            count.calls += 1;
            count.images += number(&row[images]);
            count.duration_ms += duration_ms;
        }
        t.times_by_user
            .entry(row[user].to_owned())
            .or_default()
            .push(row[at].to_owned());
    }
    t
}

fn u(v: &Value, key: &str) -> u64 {
    v[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn count_of(figures: &Value) -> Count {
    Count {
        calls: u(figures, "calls"),
        images: figures["quantities"]["images"].as_u64().unwrap_or(0),
        duration_ms: u(figures, "duration_ms"),
    }
}

#[test]
fn genai_trace_matches_an_independent_count() {
    let Some(path) = shared_data("genai-requests.csv") else {
        return;
    };
    let trace = read_trace(&path);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    let file = path.to_str().expect("utf-8 path");
    let city = ["--city", "genai"];
    usage(
        data,
        &[&["import", file, "--format", "genai", "--quiet"][..], &city].concat(),
    );

    // Summary by service × outcome.
    let summary = usage_json(
        data,
        &[&["summary", "--group-by", "service,outcome"][..], &city].concat(),
    );
    let mut got = BTreeMap::new();
    for row in summary["rows"].as_array().expect("rows") {
        let key = (
            row["service"].as_str().expect("service").to_owned(),
            row["outcome"].as_str().expect("outcome").to_owned(),
        );
        got.insert(key, count_of(row));
    }
    assert_eq!(got, trace.by_service_outcome);
    assert!(
        trace.unfinished > 0,
        "the trace has unfinished rows to skip"
    );

    // `me` of the busiest user.
    let (busiest, want) = trace
        .by_user
        .iter()
        .max_by_key(|(_, c)| c.calls)
        .expect("users");
    let me = usage_json(data, &[&["me", "--user", busiest][..], &city].concat());
    assert_eq!(count_of(&me["summary"]["totals"]), *want);
    assert_eq!(u(&me["summary"]["totals"], "distinct_users"), 1);

    // Paging through all of that user's events: each once, newest first.
    let mut cursor: Option<String> = None;
    let mut positions = Vec::new();
    let mut times = Vec::new();
    loop {
        let mut args = vec![
            "events", "--user", busiest, "--limit", "97", "--city", "genai",
        ];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c]);
        }
        let page = usage_json(data, &args);
        for e in page["events"].as_array().expect("events") {
            assert_eq!(e["user"], busiest.as_str());
            positions.push(u(e, "position"));
            // RFC 3339 out, "YYYY-MM-DD HH:MM:SS" in the CSV: compare the first 19 characters.
            let at = e["occurred_at"]
                .as_str()
                .expect("time")
                .replacen('T', " ", 1);
            times.push(at.chars().take(19).collect::<String>());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(positions.len() as u64, want.calls);
    assert!(
        positions.windows(2).all(|w| w[0] > w[1]),
        "newest first, each once"
    );
    assert_eq!(
        positions.iter().collect::<HashSet<_>>().len(),
        positions.len()
    );
    let mut expected_times = trace.times_by_user[busiest.as_str()].clone();
    expected_times.reverse();
    let first_difference = times.iter().zip(&expected_times).position(|(a, b)| a != b);
    assert_eq!(
        first_difference, None,
        "occurred-at of the user's events, newest first"
    );

    // Importing the same file again counts nothing twice.
    usage(
        data,
        &[&["import", file, "--format", "genai", "--quiet"][..], &city].concat(),
    );
    let again = usage_json(data, &[&["summary"][..], &city].concat());
    let total: u64 = trace.by_service_outcome.values().map(|c| c.calls).sum();
    assert_eq!(u(&again["totals"], "calls"), total);
}
