//! Records per second over HTTP, for single and batched posts from concurrent
//! clients, and the latency of `GET summary` while that load runs.
//!
//! ```text
//! cargo run --release -p usage-host --example http_load -- --clients 8 --seconds 10 --batch 100
//! ```
//!
//! Without `--url` it serves a fresh embedded (redb) store in a temp dir from
//! this process on an ephemeral loopback port; with `--url http://127.0.0.1:PORT`
//! (loopback only) and `--operator-token` it loads a running `usage serve`.
//! Each phase is bounded in time (`--seconds`, at most 120) and in records.
//! At the end every city's summary is checked against the records acknowledged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde_json::{Value, json};
use usage_host::runtime::{Limits, Runtime};
use usage_host::server::{self, HttpLimits, auth::Access};
use usage_host::store::{StoreUrl, open_store};

const CITIES: usize = 4;
const MAX_RECORDS_PER_PHASE: u64 = 2_000_000;
const OPERATOR: &str = "http-load-operator-token";

struct Options {
    clients: usize,
    seconds: u64,
    batch: usize,
    url: Option<String>,
    token: String,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        clients: 8,
        seconds: 10,
        batch: 100,
        url: None,
        token: OPERATOR.to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--clients" => o.clients = value()?.parse()?,
            "--seconds" => o.seconds = value()?.parse()?,
            "--batch" => o.batch = value()?.parse()?,
            "--url" => o.url = Some(value()?),
            "--operator-token" => o.token = value()?,
            other => anyhow::bail!(
                "unknown flag {other}; use --clients N --seconds S --batch B [--url URL --operator-token T]"
            ),
        }
    }
    anyhow::ensure!((1..=256).contains(&o.clients), "--clients: 1 to 256");
    anyhow::ensure!((1..=120).contains(&o.seconds), "--seconds: 1 to 120");
    anyhow::ensure!((1..=10_000).contains(&o.batch), "--batch: 1 to 10000");
    if let Some(url) = &o.url {
        let loopback = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
        anyhow::ensure!(
            loopback.iter().any(|p| url.starts_with(p)),
            "--url must be a loopback http:// address"
        );
    }
    Ok(o)
}

fn main() -> anyhow::Result<()> {
    let o = options()?;
    let dir = tempfile::tempdir()?;
    let (base, server) = match &o.url {
        Some(url) => (url.trim_end_matches('/').to_owned(), None),
        None => {
            let (base, handle) = start_server(dir.path())?;
            (base, Some(handle))
        }
    };
    let run = format!("{}-{}", std::process::id(), usage_host::timestamp::now());
    println!(
        "http_load: {} clients, {}s per phase, batches of {}, {CITIES} cities, server {base}{}",
        o.clients,
        o.seconds,
        o.batch,
        if o.url.is_none() {
            " (in process, redb store in a temp dir)"
        } else {
            ""
        }
    );
    let mut acknowledged = vec![0u64; CITIES];
    for (name, batch) in [("single", 1), ("batched", o.batch)] {
        let phase = Phase {
            base: &base,
            token: &o.token,
            clients: o.clients,
            batch,
            duration: Duration::from_secs(o.seconds),
            run: format!("{run}-{name}"),
        };
        let result = phase.run()?;
        for (city, n) in result.per_city.iter().enumerate() {
            acknowledged[city] += n;
        }
        result.print(name, batch);
    }
    check(&base, &o.token, &run, &acknowledged, o.url.is_none())?;
    if let Some(server) = server {
        server.stop()?;
    }
    Ok(())
}

/// A server in this process on its own tokio runtime.
struct InProcess {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl InProcess {
    fn stop(self) -> anyhow::Result<()> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the server thread panicked"))?
    }
}

fn start_server(dir: &std::path::Path) -> anyhow::Result<(String, InProcess)> {
    let backend = open_store(&StoreUrl::default_in(dir))?;
    let runtime = Runtime::new(backend, Limits::default())?;
    let access = Access::new(Some(OPERATOR.to_owned()), None);
    let router = server::router(runtime, access, HttpLimits::default())?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = stop.clone();
    let thread = std::thread::spawn(move || -> anyhow::Result<()> {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        tokio.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            server::serve(listener, router, async move {
                while !stopped.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
            .await?;
            anyhow::Ok(())
        })
    });
    Ok((base, InProcess { stop, thread }))
}

struct Phase<'a> {
    base: &'a str,
    token: &'a str,
    clients: usize,
    batch: usize,
    duration: Duration,
    run: String,
}

struct PhaseResult {
    records: u64,
    requests: u64,
    elapsed: Duration,
    post_latencies: Vec<Duration>,
    summary_latencies: Vec<Duration>,
    per_city: Vec<u64>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn fact(run: &str, client: usize, n: u64) -> Value {
    json!({
        "id": format!("{run}-{client}-{n}"),
        "user": format!("u{}", n % 100),
        "service": if n.is_multiple_of(3) { "code" } else { "chat" },
        "model": "m1",
        "outcome": "success",
        "duration_ms": 20 + n % 50,
        "quantities": {"input_tokens": 100 + n % 900, "output_tokens": 1 + n % 200}
    })
}

impl Phase<'_> {
    fn run(&self) -> anyhow::Result<PhaseResult> {
        let done = AtomicBool::new(false);
        let budget = AtomicU64::new(MAX_RECORDS_PER_PHASE);
        let started = Instant::now();
        let deadline = started + self.duration;
        let (posts, summary_latencies) = std::thread::scope(|scope| {
            let reader = scope.spawn(|| self.read_summaries(&done));
            let writers: Vec<_> = (0..self.clients)
                .map(|client| {
                    let budget = &budget;
                    scope.spawn(move || self.write(client, deadline, budget))
                })
                .collect();
            let posts: Vec<_> = writers
                .into_iter()
                .map(|w| w.join().map_err(|_| anyhow::anyhow!("a client panicked"))?)
                .collect();
            done.store(true, Ordering::Relaxed);
            let summaries = reader
                .join()
                .map_err(|_| anyhow::anyhow!("the reader panicked"))?;
            anyhow::Ok((posts, summaries?))
        })?;
        let elapsed = started.elapsed();
        let mut result = PhaseResult {
            records: 0,
            requests: 0,
            elapsed,
            post_latencies: Vec::new(),
            summary_latencies,
            per_city: vec![0; CITIES],
        };
        for post in posts {
            let post = post?;
            result.records += post.records;
            result.requests += post.latencies.len() as u64;
            result.post_latencies.extend(post.latencies);
            for (city, n) in post.per_city.iter().enumerate() {
                result.per_city[city] += n;
            }
        }
        Ok(result)
    }

    /// One client: posts until the deadline or the phase's record budget is spent.
    fn write(&self, client: usize, deadline: Instant, budget: &AtomicU64) -> anyhow::Result<Posts> {
        let agent = agent();
        let mut posts = Posts {
            records: 0,
            latencies: Vec::new(),
            per_city: vec![0; CITIES],
        };
        let mut n = 0u64;
        let mut round = client;
        while Instant::now() < deadline {
            let want = self.batch as u64;
            if budget
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    b.checked_sub(want)
                })
                .is_err()
            {
                break;
            }
            let city = round % CITIES;
            round += 1;
            let body = if self.batch == 1 {
                n += 1;
                fact(&self.run, client, n)
            } else {
                Value::Array(
                    (0..self.batch)
                        .map(|_| {
                            n += 1;
                            fact(&self.run, client, n)
                        })
                        .collect(),
                )
            };
            let body = body.to_string();
            let sent = Instant::now();
            let mut response = agent
                .post(format!("{}/v1/cities/load-{city}/events", self.base))
                .header("Authorization", format!("Bearer {}", self.token))
                .content_type("application/json")
                .send(&body)?;
            let text = response.body_mut().read_to_string()?;
            posts.latencies.push(sent.elapsed());
            let status = response.status().as_u16();
            let recorded = match (self.batch, status) {
                (1, 201) => 1,
                (_, 200) if self.batch > 1 => {
                    let answer: Value = serde_json::from_str(&text)?;
                    answer["recorded"].as_u64().context("recorded")?
                }
                _ => anyhow::bail!("POST answered {status}: {text}"),
            };
            anyhow::ensure!(
                recorded == want,
                "only {recorded} of {want} recorded: {text}"
            );
            posts.records += recorded;
            posts.per_city[city] += recorded;
        }
        Ok(posts)
    }

    /// One client reading `GET summary` back to back while the writers run.
    fn read_summaries(&self, done: &AtomicBool) -> anyhow::Result<Vec<Duration>> {
        let agent = agent();
        let mut latencies = Vec::new();
        let mut city = 0;
        while !done.load(Ordering::Relaxed) {
            let sent = Instant::now();
            let mut response = agent
                .get(format!(
                    "{}/v1/cities/load-{city}/summary?group_by=service",
                    self.base
                ))
                .header("Authorization", format!("Bearer {}", self.token))
                .call()?;
            let text = response.body_mut().read_to_string()?;
            latencies.push(sent.elapsed());
            anyhow::ensure!(
                response.status().as_u16() == 200,
                "GET summary answered {}: {text}",
                response.status()
            );
            city = (city + 1) % CITIES;
        }
        Ok(latencies)
    }
}

struct Posts {
    records: u64,
    latencies: Vec<Duration>,
    per_city: Vec<u64>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl PhaseResult {
    fn print(mut self, name: &str, batch: usize) {
        self.post_latencies.sort();
        self.summary_latencies.sort();
        let secs = self.elapsed.as_secs_f64();
        println!(
            "{name:>7} (batch {batch}): {:.0} records/s ({} records, {} posts in {:.1}s); post p50 {:.2?} p99 {:.2?}; \
             GET summary during load: {} reads, p50 {:.2?} p99 {:.2?} max {:.2?}",
            self.records as f64 / secs,
            self.records,
            self.requests,
            secs,
            percentile(&self.post_latencies, 50.0),
            percentile(&self.post_latencies, 99.0),
            self.summary_latencies.len(),
            percentile(&self.summary_latencies, 50.0),
            percentile(&self.summary_latencies, 99.0),
            self.summary_latencies.last().copied().unwrap_or_default(),
        );
    }
}

/// Every city's summary must count the records acknowledged to this run:
/// exactly on the fresh store, at least against `--url` (other data may add to it).
fn check(
    base: &str,
    token: &str,
    run: &str,
    acknowledged: &[u64],
    fresh: bool,
) -> anyhow::Result<()> {
    let agent = agent();
    for (city, want) in acknowledged.iter().enumerate() {
        let mut response = agent
            .get(format!("{base}/v1/cities/load-{city}/summary?group_by="))
            .header("Authorization", format!("Bearer {token}"))
            .call()?;
        let summary: Value = serde_json::from_str(&response.body_mut().read_to_string()?)?;
        let calls = summary["totals"]["calls"].as_u64().context("calls")?;
        anyhow::ensure!(
            calls == *want || (!fresh && calls > *want),
            "load-{city}: summary counts {calls} calls, but {want} were acknowledged"
        );
        println!(
            "check load-{city}: summary {calls} calls, {want} acknowledged by this run ({run})"
        );
    }
    Ok(())
}
