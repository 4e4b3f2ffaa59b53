//! Integration tests of oanix-sandbox: a real kernel, real programs, real escape attempts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod abuse;
mod errors;
mod escape;
mod listen;
mod normal;
mod support;
