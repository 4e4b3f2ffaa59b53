//! Integration tests of oanix-caps: every service through the `FileService`
//! interface as an agent uses it, and through its programmatic API.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a panic is how a test reports a failure"
)]

mod conformance;
mod http;
#[cfg(feature = "nostr")]
mod nostr;
mod seed;
mod support;
mod ws;
