//! Integration tests of oanix-prims: every file system against the shared
//! conformance suite and the reference model.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod commit;
mod conformance;
mod cowfs_links;
mod fixed;
mod frozen;
mod links;
mod model;
mod namespace;
