//! The guest's shared scenarios, through wasmtime, on each store.

use std::sync::Arc;

use usage_guest::scenarios::ALL;
use usage_host::runtime::{Limits, Runtime};
use usage_host::store::testing::{test_redis_url, unique_prefix};
use usage_host::store::{Backend, MemoryBackend, RedbBackend, RedisBackend};

use crate::host_api::HostApi;

fn run_all(backend: Arc<dyn Backend>, label: &str) {
    let mut api = HostApi {
        runtime: Runtime::new(backend, Limits::default()).expect("runtime"),
    };
    for (name, scenario) in ALL {
        eprintln!("{label}: {name}");
        scenario(&mut api, label);
    }
}

#[test]
fn every_scenario_on_the_memory_store() {
    run_all(Arc::new(MemoryBackend::new()), "mem");
}

#[test]
fn every_scenario_on_the_embedded_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let backend = RedbBackend::open(&dir.path().join("usage.redb")).expect("open redb");
    run_all(Arc::new(backend), "redb");
}

#[test]
fn every_scenario_on_the_redis_store() {
    let Some(url) = test_redis_url() else {
        return; // skipped, with the reason printed (never in CI)
    };
    let backend = RedisBackend::open_with_prefix(&url, &unique_prefix()).expect("open redis");
    let backend = Arc::new(backend);
    run_all(backend.clone(), "redis");
    backend.purge().expect("purge the test's keys");
}
