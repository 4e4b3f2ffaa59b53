//! Integration tests of oanix-wasi: real guests (Rust programs built for
//! `wasm32-wasip1` from `tests/guests`, and WAT modules) run over real
//! namespaces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers outside #[test] functions fail loudly, as the tests do"
)]

mod bounds;
mod c_guest;
mod compare;
mod conformance;
mod guests;
mod limits;
mod live;
mod wat_edges;
