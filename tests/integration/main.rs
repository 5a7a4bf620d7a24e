//! Integration tests through the real component and host. Modules:
//! - `scenarios`: the guest's shared scenarios through wasmtime on each store (memory, redb, Redis)
//! - `portability`: the same component on wasmtime's own wasi-keyvalue host
//! - `persistence`: data survives closing and reopening the data dir
//! - `real_trace`: the GenAI trace imported and checked against an independent count
//! - `http`: `usage serve` over real HTTP: routes, access rules, batches, concurrency, traps, shutdown
//! - `crash`: SIGKILL `usage serve` mid-load, cycle after cycle: nothing acknowledged lost, nothing doubled
//! - `http_redis`: two `usage serve` processes on one Redis with overlapping writers
//! - `bad_input`: a table of bad CLI, import and HTTP inputs, each refused naming its field, store unchanged
//! - `faults`: storage failures (read, snapshot, commit, lost acknowledgement) write nothing
//! - `retries`: concurrent duplicates, resends after timeouts, changed payloads
//! - `cli_pipes`: the CLI piped into a reader that hangs up ends quietly
//! - `containment`: calls over their memory cap or deadline are stopped, others go on
//!
//! Helpers: `audit` (raw store dumps, recount checks), `convert` (guest model ↔ host
//! bindings), `host_api` (the scenarios' API over a `Runtime`), `util` (data paths,
//! running the binary), `http_support` (a server on an ephemeral loopback port, a
//! client, recounts).

mod audit;
mod bad_input;
#[cfg(unix)]
mod cli_pipes;
mod containment;
mod convert;
mod crash;
mod faults;
mod host_api;
mod http;
mod http_redis;
mod http_support;
mod persistence;
mod portability;
mod real_trace;
mod retries;
mod scenarios;
mod util;
