//! Integration tests of oanix-services.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod commit;
mod conformance;
mod logs;
mod overlay;
mod snapshot;
mod task;
mod workspace;
mod workspace_links;
