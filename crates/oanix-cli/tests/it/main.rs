//! The `oanix` command driven as a user would: spawned as a process, its
//! output and exit codes checked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod cli;
mod egress;
mod native;
