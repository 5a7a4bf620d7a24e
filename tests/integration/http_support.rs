//! Helpers for the HTTP tests: a real `usage serve` on an ephemeral loopback
//! port (killed when dropped), a small blocking client, and recounts of a
//! city's events through the API.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const OPERATOR: &str = "operator-token-for-tests";
pub const SECRET: &str = "a test signing secret of at least 32 bytes";

/// A `usage serve` process. Dropping it kills the process.
pub struct Server {
    child: Option<Child>,
    /// Kept open so a later line on stdout never meets a closed pipe.
    _stdout: Option<BufReader<ChildStdout>>,
    pub base: String,
    log: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// A server on a fresh redb store with both tokens set.
    pub fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Server::start_in(dir.path(), extra);
        server._dir = Some(dir);
        server
    }

    /// A server on `data_dir` (whose store the caller may reuse afterwards).
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Server {
        let log = data_dir.join(format!("serve-{}.log", unique()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_usage"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--operator-token", OPERATOR, "--token-secret", SECRET])
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env_remove("USAGE_DATA_DIR")
            .env_remove("USAGE_STORE")
            .env_remove("USAGE_TOKEN_SECRET")
            .env_remove("USAGE_OPERATOR_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("start usage serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).expect("read the address line");
        let mut server = Server {
            child: Some(child),
            _stdout: Some(stdout),
            base: String::new(),
            log,
            _dir: None,
        };
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            panic!("usage serve did not start: {line:?}\n{}", server.log());
        };
        server.base = base.to_owned();
        server
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Kills the process with SIGKILL (a crash: nothing gets to clean up) and reaps it.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL usage serve");
        child.wait().expect("reap usage serve");
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(&mut self) -> ExitStatus {
        // The shell's own `kill`, so no procps package is needed.
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.pid())])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("usage serve did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One answer: status and parsed JSON body (`Value::Null` for non-JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub text: String,
}

impl Answer {
    /// The `error.code` of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["error"]["field"].as_str().unwrap_or("")
    }
}

/// A blocking client with an optional bearer token.
#[derive(Clone)]
pub struct Client {
    agent: ureq::Agent,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(server: &Server, token: Option<&str>) -> Client {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Client {
            agent,
            base: server.base.clone(),
            token: token.map(str::to_owned),
        }
    }

    pub fn operator(server: &Server) -> Client {
        Client::new(server, Some(OPERATOR))
    }

    pub fn get(&self, path: &str) -> Answer {
        let mut request = self.agent.get(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        answer(request.call())
    }

    pub fn post(&self, path: &str, body: &str) -> Answer {
        self.try_post(path, body)
            .expect("the request reached the server")
    }

    /// [`Client::post`] that reports a transport failure (refused, reset, timed
    /// out) instead of panicking: the crash harness expects them.
    pub fn try_post(&self, path: &str, body: &str) -> Result<Answer, ureq::Error> {
        let mut request = self.agent.post(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let mut response = request.content_type("application/json").send(body)?;
        read_answer(&mut response)
    }

    /// Any request with raw body bytes (which need not be UTF-8); `GET` sends none.
    pub fn send(&self, method: &str, path: &str, body: &[u8]) -> Answer {
        let url = format!("{}{path}", self.base);
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let result = match method {
            "GET" => {
                let mut request = self.agent.get(url);
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.call()
            }
            "POST" => {
                let mut request = self.agent.post(url);
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.content_type("application/json").send(body)
            }
            other => panic!("no such method in these tests: {other}"),
        };
        answer(result)
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Answer {
        self.post(path, &body.to_string())
    }

    /// Every event of `city`, oldest first, following cursors.
    pub fn all_events(&self, city: &str) -> Vec<Value> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/v1/cities/{city}/events?oldest_first=true&limit=1000");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={}", encode(c)));
            }
            let page = self.get(&path);
            assert_eq!(page.status, 200, "{}", page.text);
            let events = page.body["events"].as_array().expect("events").clone();
            if events.is_empty() {
                return out;
            }
            out.extend(events);
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return out,
            }
        }
    }
}

fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = result.expect("the request reached the server");
    read_answer(&mut response).expect("read the body")
}

fn read_answer(response: &mut ureq::http::Response<ureq::Body>) -> Result<Answer, ureq::Error> {
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(256 << 20)
        .read_to_string()?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Answer { status, body, text })
}

/// A user token made by `usage token issue`, signed with [`SECRET`].
pub fn issue_token(city: &str, user: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_usage"))
        .args([
            "token", "issue", "--city", city, "--user", user, "--ttl", "1h",
        ])
        .env("USAGE_TOKEN_SECRET", SECRET)
        .output()
        .expect("run usage token issue");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

/// Percent-encodes a query value (cursors are opaque text).
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Figures recounted from raw events, the way a summary should report them.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recount {
    pub calls: u64,
    pub successes: u64,
    pub failures: u64,
    pub duration_ms: u64,
    pub users: BTreeSet<String>,
    pub quantities: BTreeMap<String, u64>,
}

impl Recount {
    pub fn of(events: &[Value]) -> Recount {
        let mut r = Recount::default();
        for e in events {
            r.calls += 1;
            match e["outcome"].as_str() {
                Some("success") => r.successes += 1,
                Some("failure") => r.failures += 1,
                other => panic!("odd outcome {other:?}"),
            }
            r.duration_ms += e["duration_ms"].as_u64().unwrap_or(0);
            r.users.insert(e["user"].as_str().expect("user").to_owned());
            for (name, value) in e["quantities"].as_object().expect("quantities") {
                *r.quantities.entry(name.clone()).or_default() += value.as_u64().expect("n");
            }
        }
        r
    }

    /// Checks a summary's `figures` object (a row or the totals) against this recount.
    pub fn assert_matches(&self, figures: &Value, what: &str) {
        assert_eq!(figures["calls"].as_u64(), Some(self.calls), "{what}: calls");
        assert_eq!(
            figures["successes"].as_u64(),
            Some(self.successes),
            "{what}: successes"
        );
        assert_eq!(
            figures["failures"].as_u64(),
            Some(self.failures),
            "{what}: failures"
        );
        assert_eq!(
            figures["duration_ms"].as_u64(),
            Some(self.duration_ms),
            "{what}: duration"
        );
        assert_eq!(
            figures["distinct_users"].as_u64(),
            Some(self.users.len() as u64),
            "{what}: distinct users"
        );
        let quantities: BTreeMap<String, u64> = figures["quantities"]
            .as_object()
            .expect("quantities")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().expect("n")))
            .collect();
        assert_eq!(quantities, self.quantities, "{what}: quantities");
    }
}
