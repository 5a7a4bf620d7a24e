//! Integration tests through the real component and host. Modules:
//! - `scenarios`: the guest's shared scenarios through wasmtime on each store (memory, redb, Redis)
//! - `portability`: the same component on wasmtime's own wasi-keyvalue host
//! - `persistence`: data survives closing and reopening the data dir
//! - `real_trace`: the GenAI trace imported and checked against an independent count
//! - `http`: `usage serve` over real HTTP: routes, access rules, batches, concurrency, traps, shutdown
//! - `crash`: SIGKILL `usage serve` mid-load, cycle after cycle: nothing acknowledged lost, nothing doubled
//! - `http_redis`: two `usage serve` processes on one Redis with overlapping writers
//!
//! Helpers: `convert` (guest model ↔ host bindings), `host_api` (the scenarios'
//! API over a `Runtime`), `util` (data paths, running the binary), `http_support`
//! (a server on an ephemeral loopback port, a client, recounts).

mod convert;
mod crash;
mod host_api;
mod http;
mod http_redis;
mod http_support;
mod persistence;
mod portability;
mod real_trace;
mod scenarios;
mod util;
