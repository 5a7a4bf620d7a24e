//! The usage fact layer of one city, as a WebAssembly component.
//!
//! All logic lives here and is written against the small [`kv::Kv`] trait, so it
//! runs natively in tests over [`kv::MemoryKv`] and in wasm over the standard
//! `wasi:keyvalue` imports (`component.rs`). The storage layout is in `layout.rs`.

pub mod calendar;
pub mod codec;
pub mod context;
pub mod cursor;
pub mod distinct;
pub mod events;
pub mod figures;
pub mod ingest;
pub mod kv;
pub mod layout;
pub mod lists;
pub mod model;
pub mod names;
pub mod rollup;
pub mod settings;
pub mod summary;
pub mod validate;

#[cfg(any(test, feature = "scenarios"))]
pub mod reference;
#[cfg(any(test, feature = "scenarios"))]
pub mod scenarios;

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod component;
#[cfg(target_arch = "wasm32")]
mod wasi_kv;

pub use context::Ctx;
