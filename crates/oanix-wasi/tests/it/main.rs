//! Integration tests of oanix-wasi: real guests (Rust programs built for
//! `wasm32-wasip1` from `tests/guests`, and WAT modules) run over real
//! namespaces.

mod conformance;
mod guests;
mod limits;
mod live;
mod wat_edges;
