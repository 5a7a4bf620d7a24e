//! Integration tests through the real component and host. Modules:
//! - `scenarios`: the guest's shared scenarios through wasmtime on each store (memory, redb, Redis)
//! - `portability`: the same component on wasmtime's own wasi-keyvalue host
//! - `persistence`: data survives closing and reopening the data dir
//! - `real_trace`: the GenAI trace imported and checked against an independent count
//!
//! Helpers: `convert` (guest model ↔ host bindings), `host_api` (the scenarios'
//! API over a `Runtime`), `util` (data paths, running the binary).

mod convert;
mod host_api;
mod persistence;
mod portability;
mod real_trace;
mod scenarios;
mod util;
