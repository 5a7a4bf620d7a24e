//! `redis://HOST:PORT[/DB]` — a store several `usage` processes can share.
//!
//! | key                      | type   | holds                                  |
//! |--------------------------|--------|----------------------------------------|
//! | `usage:{<city>}:<key>`   | string | the value of `<key>` in the city's bucket |
//! | `usage:cities`           | set    | cities that have committed a write     |
//!
//! `{<city>}` is a Redis Cluster hash tag (see `layout.rs` for its escaping):
//! all of a city's keys share one slot, so one script may touch them all.
//!
//! What is guaranteed:
//! - Reads go to Redis as the guest asks (`GET`, one `MGET` per `get-many`);
//!   writes stay in the call's buffer. The commit is one Lua script
//!   (`commit.lua`, one round trip): it checks every value the call read and
//!   applies all writes only if none changed, else answers a conflict and the
//!   runtime reruns the call. A call's writes are thus atomic and validated
//!   (optimistic concurrency), across any number of processes.
//! - `increment` is atomic across processes: the counter's old value is in the
//!   read set, so two racing increments cannot both commit.
//! - Idempotency holds across hosts: the `id/...` key a call read as absent is
//!   validated too, so only one of two hosts recording the same id commits.
//! - A call without writes is not validated: on Redis it sees each read as
//!   committed at that moment (read committed, not a snapshot).
//! - A commit that fails with a connection error or timeout may or may not have
//!   been applied, but never in part; retrying with idempotency ids is safe.
//! - The city is registered in `usage:cities` after its first commit in this
//!   process, in a separate command (another slot). It is idempotent; a crash
//!   in between leaves the city unlisted until its next write.

mod client;
mod commit;
mod layout;

use std::collections::{BTreeSet, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use redis::AsyncCommands as _;
use redis::aio::ConnectionManager;

use super::{Backend, ReadSet, Snapshot, StoreError, WriteSet};
use client::Client;
use layout::{CityKeys, Layout};

/// Keys asked for per `SCAN` step.
const SCAN_COUNT: usize = 1000;

/// A Redis store. Cheap to share; each operation is one blocking round trip.
pub struct RedisBackend {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    layout: Layout,
    /// Cities this process has already added to the city set.
    registered: Mutex<HashSet<String>>,
}

impl RedisBackend {
    /// The key prefix of [`RedisBackend::open`].
    pub const PREFIX: &str = "usage";

    /// Connects to `url` (`redis://HOST:PORT[/DB]`), failing now if Redis is unreachable.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with_prefix(url, Self::PREFIX)
    }

    /// Like [`RedisBackend::open`] with another key prefix: separate stores on
    /// one Redis (tests use one per test).
    pub fn open_with_prefix(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let layout = Layout::new(prefix)?;
        Ok(Self {
            inner: Arc::new(Inner {
                client: Client::connect(url)?,
                layout,
                registered: Mutex::new(HashSet::new()),
            }),
        })
    }

    /// Deletes every key under this store's prefix; returns how many. For tests.
    #[doc(hidden)]
    pub fn purge(&self) -> Result<usize, StoreError> {
        let pattern = self.inner.layout.everything();
        self.inner.client.run(move |mut conn| {
            let pattern = pattern.clone();
            async move {
                let keys = scan(&mut conn, &pattern).await?;
                let mut deleted = 0;
                for chunk in keys.chunks(SCAN_COUNT) {
                    deleted += conn.del::<_, usize>(chunk).await?;
                }
                Ok(deleted)
            }
        })
    }

    /// Adds `city` to the city set once per process. A failure is not the
    /// call's failure (its writes are stored): the next commit tries again.
    fn register(&self, city: &str) {
        let registered = || {
            self.inner
                .registered
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
        };
        if registered().contains(city) {
            return;
        }
        let key = self.inner.layout.cities();
        let member = city.to_owned();
        let added = self.inner.client.run(move |mut conn| {
            let (key, member) = (key.clone(), member.clone());
            async move { conn.sadd::<_, _, ()>(key, member).await }
        });
        if added.is_ok() {
            registered().insert(city.to_owned());
        }
    }
}

impl Backend for RedisBackend {
    /// Cheap: nothing is read until the call asks.
    fn snapshot(&self, city: &str) -> Result<Box<dyn Snapshot>, StoreError> {
        Ok(Box::new(RedisSnapshot {
            inner: self.inner.clone(),
            keys: self.inner.layout.city(city)?,
        }))
    }

    fn commit(&self, city: &str, reads: &ReadSet, writes: &WriteSet) -> Result<(), StoreError> {
        let keys = self.inner.layout.city(city)?;
        let call = Arc::new(commit::invocation(&keys, reads, writes));
        let answer: i64 = self.inner.client.run(move |mut conn| {
            let call = call.clone();
            async move { call.invoke_async(&mut conn).await }
        })?;
        match answer {
            commit::APPLIED => {}
            commit::CONFLICT => return Err(StoreError::Conflict),
            other => {
                return Err(StoreError::Backend(format!(
                    "redis: the commit script answered {other}"
                )));
            }
        }
        if !writes.is_empty() {
            self.register(city);
        }
        Ok(())
    }

    fn cities(&self) -> Result<Vec<String>, StoreError> {
        let key = self.inner.layout.cities();
        let mut cities: Vec<String> = self.inner.client.run(move |mut conn| {
            let key = key.clone();
            async move { conn.smembers(key).await }
        })?;
        cities.sort_unstable();
        Ok(cities)
    }
}

/// Reads go straight to Redis: see the module doc for what that means.
struct RedisSnapshot {
    inner: Arc<Inner>,
    keys: CityKeys,
}

impl Snapshot for RedisSnapshot {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = self.keys.key(key);
        self.inner.client.run(move |mut conn| {
            let key = key.clone();
            async move { conn.get(key).await }
        })
    }

    fn get_many(&self, keys: &[&str]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut mget = redis::cmd("MGET");
        for key in keys {
            mget.arg(self.keys.key(key));
        }
        let mget = Arc::new(mget);
        self.inner.client.run(move |mut conn| {
            let mget = mget.clone();
            async move { mget.query_async(&mut conn).await }
        })
    }

    /// `SCAN`s the whole database for the city's pattern: fine for the tiny
    /// buckets `list-keys` is meant for, never used by the usage queries.
    fn keys(&self) -> Result<BTreeSet<String>, StoreError> {
        let pattern = self.keys.pattern();
        let stored = self.inner.client.run(move |mut conn| {
            let pattern = pattern.clone();
            async move { scan(&mut conn, &pattern).await }
        })?;
        stored
            .iter()
            .map(|stored| {
                std::str::from_utf8(stored)
                    .ok()
                    .and_then(|stored| self.keys.strip(stored))
                    .map(str::to_owned)
                    .ok_or_else(|| {
                        StoreError::Backend("redis: a stored key is not in the layout".to_owned())
                    })
            })
            .collect()
    }
}

/// Every key matching `pattern` (possibly repeated, as `SCAN` may).
async fn scan(conn: &mut ConnectionManager, pattern: &str) -> redis::RedisResult<Vec<Vec<u8>>> {
    let mut cursor = 0u64;
    let mut found = Vec::new();
    loop {
        let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(SCAN_COUNT)
            .query_async(conn)
            .await?;
        found.extend(keys);
        if next == 0 {
            return Ok(found);
        }
        cursor = next;
    }
}
