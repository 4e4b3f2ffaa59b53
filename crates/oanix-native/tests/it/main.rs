//! Native agents in the sandbox over the FUSE-mounted namespace: real
//! programs (`sh`, `git`, `python3`, `rg`), real kernel.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod support;

mod abuse;
mod egress;
mod errors;
mod flow;
mod secrets;
mod tools;
