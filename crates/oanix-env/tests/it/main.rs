//! Integration tests of oanix-env: lifecycle, wiring, runs and manifests.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod bounds;
mod lifecycle;
mod manifest;
mod plan;
mod runs;
mod snapshot;
mod wiring;
