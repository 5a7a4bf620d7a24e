//! Runs the embedded usage component: one engine, component and `InstancePre`
//! per process, a fresh sandboxed instance per call, one storage transaction per
//! call. A trapped instance is dropped, never reused.

mod engine;
mod group;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::Store;

use crate::bindings::{
    EventPage, EventsQuery, Fact, MeQuery, Receipt, Settings, SummaryQuery, Usage, UsageError,
    UsageReport, UsageSummary,
};
use crate::store::{Backend, CallTxn, StoreError};
use engine::{CallState, Shared};

/// Attempts of one call when its commit conflicts with another writer.
const MAX_ATTEMPTS: usize = 5;

/// Per-call limits of the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Cap on each linear memory of an instance.
    pub memory_bytes: usize,
    /// Wall-clock budget of one call; a call past it traps.
    pub deadline: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            deadline: Duration::from_secs(5),
        }
    }
}

/// A city name was rejected (it becomes a storage namespace and the guest's `USAGE_CITY`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid city name {0:?}: use 1 to 64 characters from A-Z a-z 0-9 . _ : -")]
pub struct InvalidCityName(pub String);

/// Checks a city name: 1..=64 bytes of `[A-Za-z0-9._:-]`.
pub fn validate_city_name(name: &str) -> Result<(), InvalidCityName> {
    let allowed = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-');
    if (1..=64).contains(&name.len()) && name.bytes().all(|b| allowed(&b)) {
        Ok(())
    } else {
        Err(InvalidCityName(name.to_owned()))
    }
}

/// The embedded component (`usage_guest.wasm`), e.g. to run it on another host.
pub fn component_bytes() -> &'static [u8] {
    engine::GUEST_WASM
}

/// Names of the component's imports: only standard `wasi:*` interfaces, so any
/// host with `wasi:keyvalue` can run it.
pub fn component_imports() -> anyhow::Result<Vec<String>> {
    Ok(Shared::get()?.imports())
}

/// The usage component over one storage backend. Cheap to clone; usable from many threads.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    shared: &'static Shared,
    backend: Arc<dyn Backend>,
    limits: Limits,
    /// One lock per city, serializing this process's writing calls so their
    /// commits do not conflict with each other.
    writers: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    /// Concurrent single records waiting to share a call, per city.
    groups: group::Groups,
}

impl Runtime {
    pub fn new(backend: Arc<dyn Backend>, limits: Limits) -> anyhow::Result<Runtime> {
        anyhow::ensure!(limits.memory_bytes > 0, "the memory limit must be positive");
        anyhow::ensure!(!limits.deadline.is_zero(), "the deadline must be positive");
        Ok(Runtime {
            inner: Arc::new(Inner {
                shared: Shared::get()?,
                backend,
                limits,
                writers: Mutex::new(HashMap::new()),
                groups: group::Groups::default(),
            }),
        })
    }

    /// A handle on one city; fails if the name is not a valid city name.
    pub fn city(&self, name: &str) -> anyhow::Result<City<'_>> {
        validate_city_name(name)?;
        Ok(City {
            runtime: self,
            name: name.to_owned(),
        })
    }

    /// Cities that have stored anything, sorted.
    pub fn cities(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.inner.backend.cities()?)
    }

    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    fn writer_lock(&self, city: &str) -> Arc<Mutex<()>> {
        let mut writers = self
            .inner
            .writers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        writers.entry(city.to_owned()).or_default().clone()
    }
}

/// One city's sandbox. Each method is one guest call and one atomic commit;
/// the outer error is a trap, a host failure or a failed commit (nothing was
/// written), the inner one is what the guest answered.
pub struct City<'a> {
    runtime: &'a Runtime,
    name: String,
}

impl City<'_> {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Records one fact. Concurrent records for this city share one call and
    /// one commit (see `group.rs`); each still gets its own fact's answer.
    pub fn record(&self, fact: Fact) -> anyhow::Result<Result<Receipt, UsageError>> {
        self.runtime.inner.groups.record(
            &self.name,
            fact,
            |facts| self.record_batch(facts),
            |fact| self.record_alone(fact),
        )
    }

    fn record_alone(&self, fact: Fact) -> anyhow::Result<Result<Receipt, UsageError>> {
        self.call(Access::Write, "record", Result::is_ok, |u, s| {
            u.downcity_usage_ingest().call_record(s, &fact)
        })
    }

    /// One result per fact, in order; the whole batch commits at once.
    pub fn record_batch(
        &self,
        facts: Vec<Fact>,
    ) -> anyhow::Result<Vec<Result<Receipt, UsageError>>> {
        self.call(
            Access::Write,
            "record-batch",
            |_| true,
            |u, s| u.downcity_usage_ingest().call_record_batch(s, &facts),
        )
    }

    pub fn events(&self, q: EventsQuery) -> anyhow::Result<Result<EventPage, UsageError>> {
        self.call(Access::Read, "events", Result::is_ok, |u, s| {
            u.downcity_usage_query().call_events(s, &q)
        })
    }

    pub fn summary(&self, q: SummaryQuery) -> anyhow::Result<Result<UsageSummary, UsageError>> {
        self.call(Access::Read, "summary", Result::is_ok, |u, s| {
            u.downcity_usage_query().call_summary(s, &q)
        })
    }

    pub fn me(&self, user: &str, q: MeQuery) -> anyhow::Result<Result<UsageReport, UsageError>> {
        self.call(Access::Read, "me", Result::is_ok, |u, s| {
            u.downcity_usage_query().call_me(s, user, &q)
        })
    }

    pub fn settings(&self) -> anyhow::Result<Result<Settings, UsageError>> {
        self.call(Access::Read, "get-settings", Result::is_ok, |u, s| {
            u.downcity_usage_settings().call_get_settings(s)
        })
    }

    pub fn set_settings(&self, settings: Settings) -> anyhow::Result<Result<Settings, UsageError>> {
        self.call(Access::Write, "set-settings", Result::is_ok, |u, s| {
            u.downcity_usage_settings().call_set_settings(s, settings)
        })
    }

    /// Runs `invoke` in a fresh instance and commits its writes if `commit_if`
    /// approves the answer; retries the whole call when the commit conflicts.
    fn call<R>(
        &self,
        access: Access,
        export: &str,
        commit_if: impl Fn(&R) -> bool,
        invoke: impl Fn(&Usage, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<R> {
        let inner = &self.runtime.inner;
        let read_only = matches!(access, Access::Read);
        let attempt = || {
            inner.shared.run(
                &inner.backend,
                &self.name,
                &inner.limits,
                read_only,
                &invoke,
            )
        };
        commit_call(self.runtime, &self.name, access, export, commit_if, attempt)
    }
}

/// One city's kept instance: its calls run one after another in the same
/// instance, each still its own transaction and atomic commit, saving the
/// instantiation of [`City`]. It holds a slot of the instance pool while it
/// lives; after a trap the instance is dropped and the next call makes a new one.
pub struct WarmCity<'a> {
    runtime: &'a Runtime,
    name: String,
    instance: Option<engine::Warm>,
}

impl Runtime {
    /// A kept instance of one city; fails if the name is not a valid city name.
    pub fn warm_city(&self, name: &str) -> anyhow::Result<WarmCity<'_>> {
        validate_city_name(name)?;
        Ok(WarmCity {
            runtime: self,
            name: name.to_owned(),
            instance: None,
        })
    }
}

impl WarmCity<'_> {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn record(&mut self, fact: Fact) -> anyhow::Result<Result<Receipt, UsageError>> {
        self.call("record", Result::is_ok, |u, s| {
            u.downcity_usage_ingest().call_record(s, &fact)
        })
    }

    /// One result per fact, in order; the whole batch commits at once.
    pub fn record_batch(
        &mut self,
        facts: Vec<Fact>,
    ) -> anyhow::Result<Vec<Result<Receipt, UsageError>>> {
        self.call(
            "record-batch",
            |_| true,
            |u, s| u.downcity_usage_ingest().call_record_batch(s, &facts),
        )
    }

    fn call<R>(
        &mut self,
        export: &str,
        commit_if: impl Fn(&R) -> bool,
        invoke: impl Fn(&Usage, &mut Store<CallState>) -> wasmtime::Result<R>,
    ) -> anyhow::Result<R> {
        let runtime = self.runtime;
        let inner = &runtime.inner;
        let name = &self.name;
        let slot = &mut self.instance;
        let attempt = || {
            let instance = match slot {
                Some(instance) => instance,
                None => slot.insert(inner.shared.warm(&inner.backend, name, &inner.limits)?),
            };
            let result = instance.run(&inner.backend, name, &inner.limits, &invoke);
            if result.is_err() {
                *slot = None; // a trapped instance is never entered again
            }
            result
        };
        commit_call(runtime, name, Access::Write, export, commit_if, attempt)
    }
}

/// Runs one call by `attempt` and commits its writes if `commit_if` approves
/// the answer; reruns it when the commit conflicts with another writer.
fn commit_call<R>(
    runtime: &Runtime,
    city: &str,
    access: Access,
    export: &str,
    commit_if: impl Fn(&R) -> bool,
    mut attempt: impl FnMut() -> anyhow::Result<(R, CallTxn)>,
) -> anyhow::Result<R> {
    let lock = match access {
        Access::Write => Some(runtime.writer_lock(city)),
        Access::Read => None,
    };
    let _guard = lock
        .as_ref()
        .map(|l| l.lock().unwrap_or_else(PoisonError::into_inner));
    let context = || format!("city {city}: {export}");
    for _ in 0..MAX_ATTEMPTS {
        let (answer, txn) = attempt().with_context(context)?;
        if !commit_if(&answer) {
            return Ok(answer); // the overlay is dropped: nothing was written
        }
        match txn.commit() {
            Ok(_) => return Ok(answer),
            Err(StoreError::Conflict) => std::thread::yield_now(),
            Err(err) => {
                return Err(anyhow::Error::new(err))
                    .context("the call's writes were not stored")
                    .with_context(context);
            }
        }
    }
    anyhow::bail!(
        "{}: gave up after {MAX_ATTEMPTS} attempts conflicting with other writers",
        context()
    )
}

#[derive(Clone, Copy)]
enum Access {
    /// Serialized per city within this process.
    Write,
    /// Runs concurrently; if it happens to write, a conflict retries it.
    Read,
}

#[cfg(test)]
mod redis_tests;
#[cfg(test)]
mod tests;
