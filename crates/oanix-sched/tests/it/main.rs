//! Integration tests of oanix-sched: ordering, the concurrency limit,
//! cancellation, timeouts, failures, WASI jobs and native jobs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

#[cfg(feature = "native")]
mod native;
mod pool;
mod queue;
mod wasi;
