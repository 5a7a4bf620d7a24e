//! Test helpers for the stores (unit and integration), in one place: Redis
//! servers, and the fault-injecting backend wrapper (`FaultyBackend`).
//!
//! [`test_redis_url`] answers, in order: `$USAGE_TEST_REDIS_URL`; a throwaway
//! `redis-server` started on a free loopback port (one per test process, no
//! persistence); a failure when `$CI` is set (CI must run the Redis tests);
//! else `None` after printing why the test is skipped.
//!
//! A server started here runs under `sh`, which kills it as soon as its stdin
//! closes: when the [`RedisServer`] is dropped or the test process exits, even
//! if it is killed.

pub use super::faulty::{Effect, Faults, FaultyBackend, INJECTED, Op};

use std::io::{self, Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Points the tests at an existing Redis instead of starting one.
pub const URL_VAR: &str = "USAGE_TEST_REDIS_URL";

const SKIPPED: &str =
    "skipped: no redis-server (apt-get install redis-server, or set USAGE_TEST_REDIS_URL)";

/// Runs redis-server in the background, waits for stdin to close, then kills it.
const SUPERVISOR: &str = r#""$0" "$@" & pid=$!
cat >/dev/null
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit 0"#;

/// The Redis the tests should use; `None` means skip (never in CI).
pub fn test_redis_url() -> Option<String> {
    if let Some(url) = std::env::var(URL_VAR).ok().filter(|url| !url.is_empty()) {
        return Some(url);
    }
    static SHARED: OnceLock<Option<RedisServer>> = OnceLock::new();
    SHARED
        .get_or_init(|| RedisServer::start(None))
        .as_ref()
        .map(RedisServer::url)
}

/// A key prefix no other test (in this or another process) uses.
pub fn unique_prefix() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("usage-test-{}-{nanos}-{n}", std::process::id())
}

/// A `redis-server` of this process, which can be stopped and restarted on the
/// same port (to test outages).
pub struct RedisServer {
    port: u16,
    /// Where the append-only file lives, if the data should survive a restart.
    dir: Option<PathBuf>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free loopback port, persisting to an append-only
    /// file in `dir` (fsync on every write) if given, else keeping nothing.
    /// `None` (skip) if `redis-server` is not installed; panics if `$CI` is set
    /// then, or if the server does not start.
    pub fn start(dir: Option<&Path>) -> Option<Self> {
        if !on_path("redis-server") {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is not installed, and CI must run the Redis tests"
            );
            eprintln!("{SKIPPED}");
            return None;
        }
        let mut last_error = None;
        for _ in 0..3 {
            let mut server = Self {
                port: match free_port() {
                    Ok(port) => port,
                    Err(err) => panic!("no free loopback port: {err}"),
                },
                dir: dir.map(Path::to_owned),
                child: None,
            };
            match server.restart() {
                Ok(()) => return Some(server),
                Err(err) => last_error = Some(err), // most likely the port was taken meanwhile
            }
        }
        panic!("redis-server did not start: {last_error:?}");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Kills the server at once (no shutdown, no save) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }

    /// (Re)starts the server on its port and waits until it answers `PING`.
    pub fn restart(&mut self) -> io::Result<()> {
        self.stop();
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(SUPERVISOR)
            .arg("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""]);
        match &self.dir {
            Some(dir) => command
                .args(["--appendonly", "yes", "--appendfsync", "always", "--dir"])
                .arg(dir),
            None => command.args(["--appendonly", "no"]),
        };
        let child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.answers_ping() {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && child.try_wait()?.is_some()
            {
                self.child = None;
                return Err(io::Error::other(format!(
                    "redis-server exited at once (port {} taken?)",
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop();
        Err(io::Error::other(
            "redis-server did not answer PING within 10 s",
        ))
    }

    fn answers_ping(&self) -> bool {
        let ping = || -> io::Result<bool> {
            let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port))?;
            stream.set_read_timeout(Some(Duration::from_secs(1)))?;
            stream.write_all(b"PING\r\n")?;
            let mut answer = [0u8; 7];
            stream.read_exact(&mut answer)?;
            Ok(&answer == b"+PONG\r\n")
        };
        ping().unwrap_or(false)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
