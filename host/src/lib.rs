//! The usage host: runs the usage component with wasmtime, one sandbox per city.

pub mod bindings;
pub mod keyvalue;
pub mod runtime;
pub mod server;
pub mod store;

pub mod cli;
pub mod import;
pub mod render;
pub mod timestamp;
pub mod wire;
