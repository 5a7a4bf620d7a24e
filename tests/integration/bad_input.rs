//! Bad input, table-driven: each row is one distinct mistake sent through one
//! surface, with the field its error must name. Every row is checked to leave
//! the store exactly as it was (a raw dump of every city's keys before and
//! after), and each surface's error shape is checked:
//! - CLI: exit code 2 and one line on stderr naming the field;
//! - import: the bad row is rejected with its line number and field, while the
//!   good rows around it are still processed (they were imported beforehand,
//!   so they come back as duplicates and the store stays unchanged).
//!
//! - HTTP: a 4xx with the JSON error shape `{error:{code,message,field?}}`
//!   naming the field (or, for refused access and conflicts, the code); these
//!   rows run against one `usage serve` (see `http_rows` for how the store is
//!   shown unchanged while a server holds it).
//!
//! Every failing row is collected, so one run lists all of them.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use usage_guest::model as m;
use usage_guest::scenarios::{Api, sample_facts};
use usage_host::runtime::{Limits, Runtime};
use usage_host::store::MemoryBackend;

use crate::audit::{assert_unchanged, difference, dump, dump_dir};
use crate::host_api::HostApi;
use crate::http_support::Server;
use crate::util::{usage, usage_json};

/// How one bad input reaches the product.
enum Via {
    /// `usage ARGS`; `@FILE` in ARGS is replaced by the path of `file`, written first.
    Cli {
        args: Vec<String>,
        file: Option<Vec<u8>>,
        stdin: Option<Vec<u8>>,
    },
    /// One bad row between the two good rows of `format`, imported with `usage import`.
    ImportRow { format: RowFormat, row: Vec<u8> },
    /// One request to `usage serve`, answered with its 4xx.
    Http(http_rows::Request),
}

mod http_rows;

#[derive(Clone, Copy)]
enum RowFormat {
    Jsonl,
    Csv,
}

struct Case {
    name: &'static str,
    via: Via,
    /// What the error must name: a field (`user`, `quantities.images`), a flag
    /// (`--city`) or, for a rejected row, its `field` (or message when it has none).
    field: &'static str,
}

fn cli(name: &'static str, args: &[&str], field: &'static str) -> Case {
    Case {
        name,
        via: Via::Cli {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            file: None,
            stdin: None,
        },
        field,
    }
}

fn cli_owned(name: &'static str, args: Vec<String>, field: &'static str) -> Case {
    Case {
        name,
        via: Via::Cli {
            args,
            file: None,
            stdin: None,
        },
        field,
    }
}

fn cli_stdin(name: &'static str, args: &[&str], stdin: Vec<u8>, field: &'static str) -> Case {
    let mut case = cli(name, args, field);
    if let Via::Cli { stdin: s, .. } = &mut case.via {
        *s = Some(stdin);
    }
    case
}

fn import_file(name: &'static str, args: &[&str], file: &[u8], field: &'static str) -> Case {
    let mut case = cli(name, args, field);
    if let Via::Cli { file: f, .. } = &mut case.via {
        *f = Some(file.to_vec());
    }
    case
}

fn jsonl_row(name: &'static str, row: impl Into<Vec<u8>>, field: &'static str) -> Case {
    Case {
        name,
        via: Via::ImportRow {
            format: RowFormat::Jsonl,
            row: row.into(),
        },
        field,
    }
}

fn csv_row(name: &'static str, row: impl Into<Vec<u8>>, field: &'static str) -> Case {
    Case {
        name,
        via: Via::ImportRow {
            format: RowFormat::Csv,
            row: row.into(),
        },
        field,
    }
}

// The good rows every import case carries, in both formats: the same two facts.
const GOOD_JSONL: [&str; 2] = [
    r#"{"id":"good-1","user":"ana","service":"chat","outcome":"success","occurred_at":"2025-06-01T12:00:00Z","quantities":{"images":3}}"#,
    r#"{"id":"good-2","user":"bo","service":"chat","outcome":"failure","error_kind":"timeout","occurred_at":"2025-06-01T13:00:00Z"}"#,
];
const CSV_HEADER: &str = "id,user,service,outcome,error_kind,occurred_at,q.images";
const GOOD_CSV: [&str; 2] = [
    "good-1,ana,chat,success,,2025-06-01T12:00:00Z,3",
    "good-2,bo,chat,failure,timeout,2025-06-01T13:00:00Z,",
];

/// A JSONL fact line with `field: value` (raw JSON) set over a valid base.
fn fact_with(extra: &str) -> String {
    format!(r#"{{"id":"bad","user":"u","service":"s","outcome":"success",{extra}}}"#)
}

fn long(n: usize) -> String {
    "x".repeat(n)
}

fn cli_cases() -> Vec<Case> {
    let rec = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["record", "--user", "u", "--service", "s"];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_owned).collect()
    };
    let many_quantities: Vec<String> = (0..33).map(|i| format!("q{i}=1")).collect();
    let mut too_many = rec(&[]);
    for q in &many_quantities {
        too_many.push("--quantity".to_owned());
        too_many.push(q.clone());
    }
    let mut big_fact = fact_with(r#""model":"m""#).into_bytes();
    big_fact.splice(
        1..1,
        format!(r#""error_message":"{}","#, long(70_000)).into_bytes(),
    );
    vec![
        // record: names
        cli(
            "empty user",
            &["record", "--user", "", "--service", "s"],
            "user",
        ),
        cli_owned(
            "user over 128 bytes",
            vec![
                "record".into(),
                "--user".into(),
                long(129),
                "--service".into(),
                "s".into(),
            ],
            "user",
        ),
        cli(
            "control character in service",
            &["record", "--user", "u", "--service", "a\u{7}b"],
            "service",
        ),
        cli_owned("empty model", rec(&["--model", ""]), "model"),
        cli_owned(
            "error kind on a success",
            rec(&["--error-kind", "t"]),
            "--error-kind",
        ),
        cli_owned(
            "failure without a kind",
            rec(&["--outcome", "failure"]),
            "--error-kind",
        ),
        cli_owned(
            "failure kind \"success\"",
            rec(&["--outcome", "failure", "--error-kind", "success"]),
            "error_kind",
        ),
        cli_owned(
            "error message over 1024 bytes",
            {
                let mut a = rec(&[
                    "--outcome",
                    "failure",
                    "--error-kind",
                    "t",
                    "--error-message",
                ]);
                a.push(long(1025));
                a
            },
            "error_message",
        ),
        cli_owned(
            "control character in error message",
            rec(&[
                "--outcome",
                "failure",
                "--error-kind",
                "t",
                "--error-message",
                "a\u{1b}[2J",
            ]),
            "error_message",
        ),
        cli_owned("empty id", rec(&["--id", ""]), "id"),
        cli_owned(
            "id over 128 bytes",
            {
                let mut a = rec(&["--id"]);
                a.push(long(129));
                a
            },
            "id",
        ),
        // record: quantities
        cli_owned(
            "quantity name with a space",
            rec(&["--quantity", "a b=1"]),
            "quantities[0].name",
        ),
        cli_owned(
            "quantity name over 64 bytes",
            {
                let mut a = rec(&["--quantity"]);
                a.push(format!("{}=1", long(65)));
                a
            },
            "quantities[0].name",
        ),
        cli_owned(
            "quantity of 2^53",
            rec(&["--quantity", "images=9007199254740992"]),
            "quantities[0].value",
        ),
        cli_owned(
            "quantity beyond u64",
            rec(&["--quantity", "images=99999999999999999999999"]),
            "--quantity",
        ),
        cli_owned(
            "negative quantity",
            rec(&["--quantity", "images=-1"]),
            "--quantity",
        ),
        cli_owned(
            "quantity without a value",
            rec(&["--quantity", "images"]),
            "--quantity",
        ),
        cli_owned(
            "same quantity twice",
            rec(&["--quantity", "images=1", "--quantity", "images=2"]),
            "--quantity",
        ),
        cli_owned("33 quantities", too_many, "quantities"),
        // record: times and durations
        cli_owned("time before 1970", rec(&["--at", "1969-12-31"]), "--at"),
        cli_owned(
            "time before 2000",
            rec(&["--at", "1999-12-31"]),
            "occurred_at",
        ),
        cli_owned(
            "time far in the future",
            rec(&["--at", "2999-01-01"]),
            "occurred_at",
        ),
        cli_owned("time in words", rec(&["--at", "tomorrow"]), "--at"),
        cli_owned(
            "duration over 30 days",
            rec(&["--duration-ms", "2592000001"]),
            "duration_ms",
        ),
        cli_owned(
            "duration not a number",
            rec(&["--duration-ms", "5s"]),
            "--duration-ms",
        ),
        cli("missing service", &["record", "--user", "u"], "--service"),
        cli_owned("unknown flag", rec(&["--colour", "red"]), "--colour"),
        // record --fact: the JSON decoder
        cli(
            "malformed JSON",
            &["record", "--fact", "{\"user\":"],
            "json",
        ),
        cli(
            "wrong type",
            &[
                "record",
                "--fact",
                r#"{"user":7,"service":"s","outcome":"success"}"#,
            ],
            "user",
        ),
        cli(
            "unknown field",
            &["record", "--fact", &fact_with(r#""colour":"red""#)],
            "colour",
        ),
        cli("not an object", &["record", "--fact", "[1,2]"], "json"),
        cli(
            "field given twice",
            &[
                "record",
                "--fact",
                r#"{"user":"u","user":"v","service":"s","outcome":"success"}"#,
            ],
            "user",
        ),
        cli(
            "quantity given twice",
            &[
                "record",
                "--fact",
                &fact_with(r#""quantities":{"images":1,"images":2}"#),
            ],
            "quantities.images",
        ),
        cli(
            "quantity as a float",
            &[
                "record",
                "--fact",
                &fact_with(r#""quantities":{"images":1e30}"#),
            ],
            "quantities.images",
        ),
        cli(
            "quantities as an array",
            &["record", "--fact", &fact_with(r#""quantities":[1]"#)],
            "quantities",
        ),
        cli(
            "negative milliseconds",
            &["record", "--fact", &fact_with(r#""occurred_at":-1"#)],
            "occurred_at",
        ),
        cli_stdin(
            "non-UTF-8 fact on stdin",
            &["record", "--fact", "-"],
            b"{\"user\":\"\xff\xfe\",\"service\":\"s\",\"outcome\":\"success\"}".to_vec(),
            "--fact",
        ),
        cli_stdin(
            "fact over 64 KiB on stdin",
            &["record", "--fact", "-"],
            big_fact,
            "--fact",
        ),
        // common flags
        cli("city with a space", &["cities", "--city", "a b"], "--city"),
        cli_owned(
            "city over 64 bytes",
            vec!["events".into(), "--city".into(), long(65)],
            "--city",
        ),
        cli("empty city", &["summary", "--city", ""], "--city"),
        cli("unknown store", &["events", "--store", "bogus:"], "--store"),
        // events
        cli("page of 0", &["events", "--limit", "0"], "limit"),
        cli("page over 1000", &["events", "--limit", "1001"], "limit"),
        cli(
            "garbage cursor",
            &["events", "--cursor", "garbage"],
            "cursor",
        ),
        cli(
            "events window from > to",
            &["events", "--from", "2025-02-01", "--to", "2025-01-01"],
            "from",
        ),
        cli(
            "unknown outcome filter",
            &["events", "--outcome", "failed"],
            "--outcome",
        ),
        cli(
            "time in words as from",
            &["events", "--from", "last week"],
            "--from",
        ),
        // summary
        cli(
            "unknown group-by",
            &["summary", "--group-by", "service,colour"],
            "--group-by",
        ),
        cli(
            "unknown bucket",
            &["summary", "--bucket", "week"],
            "--bucket",
        ),
        cli(
            "summary window from > to",
            &["summary", "--from", "2025-02-01", "--to", "2025-01-01"],
            "from",
        ),
        cli(
            "empty summary window",
            &["summary", "--from", "2025-02-01", "--to", "2025-02-01"],
            "from",
        ),
        cli(
            "window not on whole hours",
            &[
                "summary",
                "--from",
                "2025-01-01T00:30:00Z",
                "--to",
                "2025-01-02",
            ],
            "from",
        ),
        // me
        cli("me without a user", &["me"], "--user"),
        cli("me of an empty user", &["me", "--user", ""], "user"),
        cli(
            "me with too many recent events",
            &["me", "--user", "ana", "--recent", "5000"],
            "recent",
        ),
        // settings
        cli(
            "setting not a boolean",
            &["settings", "--record-errors", "maybe"],
            "--record-errors",
        ),
        // import, whole-file mistakes
        cli(
            "import of a missing file",
            &["import", "/nonexistent/facts.jsonl"],
            "/nonexistent/facts.jsonl",
        ),
        import_file(
            "csv with an unknown column",
            &["import", "@FILE", "--format", "csv"],
            b"user,service,outcome,colour\nu,s,success,red\n",
            "colour",
        ),
        import_file(
            "csv without a required column",
            &["import", "@FILE", "--format", "csv"],
            b"user,service\nu,s\n",
            "outcome",
        ),
        import_file(
            "csv with a column twice",
            &["import", "@FILE", "--format", "csv"],
            b"user,service,outcome,user\nu,s,success,v\n",
            "user",
        ),
        import_file(
            "empty csv",
            &["import", "@FILE", "--format", "csv"],
            b"",
            "empty",
        ),
        import_file(
            "csv header not UTF-8",
            &["import", "@FILE", "--format", "csv"],
            b"us\xffer,service,outcome\n",
            "header",
        ),
        import_file(
            "unknown format",
            &["import", "@FILE", "--format", "xml"],
            b"",
            "--format",
        ),
        import_file(
            "service flag outside azure-llm",
            &["import", "@FILE", "--format", "jsonl", "--service", "chat"],
            b"",
            "--service",
        ),
    ]
}

fn row_cases() -> Vec<Case> {
    let quantities: Vec<String> = (0..33).map(|i| format!(r#""q{i}":1"#)).collect();
    vec![
        // JSONL rows
        jsonl_row("malformed JSON line", r#"{"user":"u","service""#, "json"),
        jsonl_row(
            "wrong type",
            r#"{"user":7,"service":"s","outcome":"success"}"#,
            "user",
        ),
        jsonl_row("unknown field", fact_with(r#""colour":"red""#), "colour"),
        jsonl_row(
            "non-UTF-8 bytes",
            b"{\"user\":\"\xc3\x28\",\"service\":\"s\",\"outcome\":\"success\"}".to_vec(),
            "line",
        ),
        jsonl_row(
            "empty user",
            r#"{"user":"","service":"s","outcome":"success"}"#,
            "user",
        ),
        jsonl_row(
            "service over 128 bytes",
            format!(
                r#"{{"user":"u","service":"{}","outcome":"success"}}"#,
                long(129)
            ),
            "service",
        ),
        jsonl_row(
            "control character in model",
            fact_with(r#""model":"a\u0007b""#),
            "model",
        ),
        jsonl_row(
            "quantity over 2^53",
            fact_with(r#""quantities":{"images":9007199254740992}"#),
            "quantities[0].value",
        ),
        jsonl_row(
            "quantity beyond u64",
            fact_with(r#""quantities":{"images":18446744073709551616}"#),
            "quantities.images",
        ),
        jsonl_row(
            "quantity as a string",
            fact_with(r#""quantities":{"images":"3"}"#),
            "quantities.images",
        ),
        jsonl_row(
            "quantity given twice",
            fact_with(r#""quantities":{"images":1,"images":2}"#),
            "quantities.images",
        ),
        jsonl_row(
            "33 quantities",
            fact_with(&format!(r#""quantities":{{{}}}"#, quantities.join(","))),
            "quantities",
        ),
        jsonl_row(
            "bad quantity name",
            fact_with(r#""quantities":{"a b":1}"#),
            "quantities[0].name",
        ),
        jsonl_row(
            "time far in the future",
            fact_with(r#""occurred_at":"2999-01-01T00:00:00Z""#),
            "occurred_at",
        ),
        jsonl_row(
            "time before 1970",
            fact_with(r#""occurred_at":"1969-07-20T20:17:00Z""#),
            "occurred_at",
        ),
        jsonl_row(
            "time not RFC 3339",
            fact_with(r#""occurred_at":"01/06/2025""#),
            "occurred_at",
        ),
        jsonl_row(
            "duration over 30 days",
            fact_with(r#""duration_ms":2592000001"#),
            "duration_ms",
        ),
        jsonl_row(
            "failure without a kind",
            r#"{"user":"u","service":"s","outcome":"failure"}"#,
            "error_kind",
        ),
        jsonl_row(
            "changed payload under a used id",
            r#"{"id":"good-1","user":"ana","service":"chat","outcome":"success","occurred_at":"2025-06-01T12:00:00Z","quantities":{"images":4}}"#,
            "conflict",
        ),
        jsonl_row(
            "line over 64 KiB",
            fact_with(&format!(r#""model":"{}""#, long(70_000))),
            "line",
        ),
        // CSV rows (header: id,user,service,outcome,error_kind,occurred_at,q.images)
        csv_row(
            "non-UTF-8 cell",
            b"bad,\xff\xfe,chat,success,,,".to_vec(),
            "user",
        ),
        csv_row("too few columns", "bad,u,chat", "row"),
        csv_row("quantity in words", "bad,u,chat,success,,,four", "q.images"),
        csv_row(
            "negative quantity cell",
            "bad,u,chat,success,,,-1",
            "q.images",
        ),
        csv_row(
            "fractional quantity",
            "bad,u,chat,success,,,1.5",
            "q.images",
        ),
        csv_row("unknown outcome", "bad,u,chat,maybe,,,", "outcome"),
        csv_row(
            "impossible date",
            "bad,u,chat,success,,2025-13-01T00:00:00Z,",
            "occurred_at",
        ),
        csv_row("empty user cell", "bad,,chat,success,,,", "user"),
        csv_row(
            "control character in a cell",
            "bad,u\u{1},chat,success,,,",
            "user",
        ),
        csv_row(
            "record over 64 KiB",
            format!("bad,u,\"{}\",success,,,", long(70_000)),
            "row",
        ),
    ]
}

/// A data dir whose store already holds the good rows (and a little more).
fn seeded_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.jsonl");
    std::fs::write(&good, GOOD_JSONL.join("\n")).expect("write");
    let report = usage_json(dir.path(), &["import", path(&good), "--quiet"]);
    assert_eq!(report["imported"], 2, "{report}");
    usage(
        dir.path(),
        &[
            "record",
            "--city",
            "other",
            "--user",
            "u",
            "--service",
            "s",
            "--id",
            "o-1",
        ],
    );
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Runs one case (HTTP cases against `server`); `Err` says how it failed.
fn run(case: &Case, data_dir: &Path, server: Option<&Server>) -> Result<(), String> {
    match &case.via {
        Via::Http(request) => {
            let server = server.ok_or("an HTTP row needs a running server")?;
            http_rows::check(request, case.field, server)
        }
        Via::Cli { args, file, stdin } => {
            let file_path = data_dir.join("case-input");
            if let Some(bytes) = file {
                std::fs::write(&file_path, bytes).map_err(|e| e.to_string())?;
            }
            let args: Vec<String> = args
                .iter()
                .map(|a| {
                    if a == "@FILE" {
                        path(&file_path).to_owned()
                    } else {
                        a.clone()
                    }
                })
                .collect();
            let (code, stderr) = run_cli(data_dir, &args, stdin.as_deref());
            let line = stderr.trim_end();
            if code != Some(2) {
                return Err(format!("exit code {code:?}, stderr {line:?}"));
            }
            if line.lines().count() != 1 || !line.starts_with("error: ") {
                return Err(format!("not one `error:` line: {line:?}"));
            }
            if !line.contains(case.field) {
                return Err(format!("does not name {:?}: {line:?}", case.field));
            }
            Ok(())
        }
        Via::ImportRow { format, row } => {
            let (name, header, good) = match format {
                RowFormat::Jsonl => ("rows.jsonl", None, GOOD_JSONL),
                RowFormat::Csv => ("rows.csv", Some(CSV_HEADER), GOOD_CSV),
            };
            let mut bytes = Vec::new();
            if let Some(header) = header {
                bytes.extend_from_slice(header.as_bytes());
                bytes.push(b'\n');
            }
            let bad_line = u64::from(header.is_some()) + 2;
            bytes.extend_from_slice(good[0].as_bytes());
            bytes.push(b'\n');
            bytes.extend_from_slice(row);
            bytes.push(b'\n');
            bytes.extend_from_slice(good[1].as_bytes());
            bytes.push(b'\n');
            let file = data_dir.join(name);
            std::fs::write(&file, bytes).map_err(|e| e.to_string())?;
            let report = usage_json(data_dir, &["import", path(&file), "--quiet"]);
            let counts = (
                &report["rows"],
                &report["imported"],
                &report["duplicates"],
                &report["rejected"],
            );
            if counts != (&3.into(), &0.into(), &2.into(), &1.into()) {
                return Err(format!(
                    "rows/imported/duplicates/rejected {counts:?}: {report}"
                ));
            }
            let rejection = &report["rejections"][0];
            if rejection["line"] != bad_line {
                return Err(format!(
                    "rejected line {} instead of {bad_line}",
                    rejection["line"]
                ));
            }
            let named = match rejection["field"].as_str() {
                Some(field) => field == case.field,
                None => rejection["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(case.field)),
            };
            if !named {
                return Err(format!("does not name {:?}: {rejection}", case.field));
            }
            Ok(())
        }
    }
}

fn run_cli(data_dir: &Path, args: &[String], stdin: Option<&[u8]>) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_usage"))
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("USAGE_DATA_DIR")
        .env_remove("USAGE_STORE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run usage");
    let mut pipe = child.stdin.take().expect("stdin");
    // The child may exit before reading all of stdin; that is its answer, not ours.
    let _ = pipe.write_all(stdin.unwrap_or_default());
    drop(pipe);
    let out = child.wait_with_output().expect("usage ran");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs every case against one seeded data dir, checking the store after each.
fn run_table(cases: Vec<Case>, extra: impl Fn(&Path) -> Vec<Case>) -> usize {
    let dir = seeded_dir();
    let mut cases = cases;
    cases.extend(extra(dir.path()));
    assert_distinct_names(&cases);

    let mut failures = Vec::new();
    for case in &cases {
        let before = dump_dir(dir.path());
        assert!(!before.is_empty(), "the seeded store is not empty");
        let result = run(case, dir.path(), None);
        let after = dump_dir(dir.path());
        let result = result.and_then(|()| match difference(&before, &after) {
            Some(diff) => Err(format!("changed the store: {diff}")),
            None => Ok(()),
        });
        if let Err(why) = result {
            failures.push(format!("{}: {why}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    eprintln!("bad inputs tried: {}", cases.len());
    cases.len()
}

#[track_caller]
fn assert_distinct_names(cases: &[Case]) {
    let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    names.sort_unstable();
    let before_dedup = names.len();
    names.dedup();
    assert_eq!(names.len(), before_dedup, "case names must be distinct");
}

/// Cursor cases need a real cursor of this store.
fn cursor_cases(data_dir: &Path) -> Vec<Case> {
    let page = usage_json(data_dir, &["events", "--limit", "1"]);
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next cursor")
        .to_owned();
    let (head, fingerprint) = cursor.rsplit_once('_').expect("cursor shape");
    let flipped: String = fingerprint
        .chars()
        .map(|c| if c == '0' { '1' } else { '0' })
        .collect();
    vec![
        cli_owned(
            "cursor of another query",
            vec![
                "events".into(),
                "--limit".into(),
                "1".into(),
                "--user".into(),
                "ana".into(),
                "--cursor".into(),
                cursor.clone(),
            ],
            "cursor",
        ),
        cli_owned(
            "cursor with a tampered fingerprint",
            vec![
                "events".into(),
                "--limit".into(),
                "1".into(),
                "--cursor".into(),
                format!("{head}_{flipped}"),
            ],
            "cursor",
        ),
        cli_owned(
            "cursor with a damaged index",
            vec![
                "events".into(),
                "--limit".into(),
                "1".into(),
                "--cursor".into(),
                cursor.replacen("c1_", "c1_zz", 1),
            ],
            "cursor",
        ),
    ]
}

#[test]
fn bad_command_lines_exit_2_naming_the_field_and_change_nothing() {
    let tried = run_table(cli_cases(), cursor_cases);
    assert!(tried >= 60, "{tried}");
}

#[test]
fn bad_import_rows_are_rejected_by_line_and_change_nothing() {
    let tried = run_table(row_cases(), |_| Vec::new());
    assert!(tried >= 30, "{tried}");
}

/// Quantity sums that would overflow a stored total: facts that all land in
/// the same counters (one user, service, model, outcome and hour); the one that
/// would overflow is refused naming `quantities`, nothing of it is stored, and
/// the totals stay equal to a recount of what was accepted.
#[test]
fn overflowing_quantity_sums_are_refused_and_change_nothing() {
    let backend = std::sync::Arc::new(MemoryBackend::new());
    let mut api = HostApi {
        runtime: Runtime::new(backend.clone(), Limits::default()).expect("runtime"),
    };
    let max = (1u64 << 53) - 1;
    let huge = |i: usize| {
        let mut f = sample_facts(1, 0).remove(0);
        f.id = Some(format!("huge-{i}"));
        f.quantities = vec![m::Quantity {
            name: "images".into(),
            value: max,
        }];
        f
    };
    // u64::MAX / (2^53 - 1) = 2048: the 2049th such fact cannot be counted.
    let fit = (u64::MAX / max) as usize;
    let results = api.record_batch("big", (0..fit + 3).map(huge).collect());
    let accepted = results
        .iter()
        .filter(|r| matches!(r, Ok(r) if r.status == m::ReceiptStatus::Recorded))
        .count();
    assert_eq!(accepted, fit);
    for r in &results[fit..] {
        assert!(
            matches!(r, Err(m::UsageError::Invalid { field, message })
                if field == "quantities" && message.contains("images")),
            "{r:?}"
        );
    }
    let before = dump(backend.as_ref());
    let again = api.record_batch("big", vec![huge(fit + 10)]);
    assert!(
        matches!(&again[0], Err(m::UsageError::Invalid { .. })),
        "{again:?}"
    );
    assert_unchanged(&before, &dump(backend.as_ref()), "an overflowing fact");
    let events = crate::audit::audit(&mut api, "big");
    assert_eq!(events.len(), fit);
}
