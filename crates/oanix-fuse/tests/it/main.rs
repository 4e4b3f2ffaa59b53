//! Integration tests: namespaces mounted through the kernel, used with
//! `std::fs` and with real programs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

mod support;

mod blocking;
mod caching;
mod conformance;
mod files;
mod lifecycle;
mod programs;
