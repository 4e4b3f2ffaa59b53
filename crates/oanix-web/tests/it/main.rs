//! Tests of the JavaScript bindings, run in a JavaScript engine by `wasm-bindgen-test`.
//!
//! They build for `wasm32-unknown-unknown` only; `cargo xtask test` runs them in Node with
//! `wasm-bindgen-test-runner`. On other targets this binary is empty: the same operations are
//! tested there through `WebNamespace`.

#![cfg(all(target_arch = "wasm32", target_os = "unknown"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod bindings;
mod fetch;
