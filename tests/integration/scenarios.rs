//! The guest's shared scenarios, through wasmtime, on each store.

use std::sync::Arc;

use usage_guest::scenarios::ALL;
use usage_host::runtime::{Limits, Runtime};
use usage_host::store::{Backend, MemoryBackend, RedbBackend};

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
