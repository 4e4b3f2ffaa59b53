//! Integration tests of the executors against real peers on 127.0.0.1:
//! the Autobahn fuzzing-server cases (kosoku),
//! wiremock and a misbehaving HTTP server, tokio-tungstenite servers with
//! fault modes, nostr-relay-builder's relays, and the files end to end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers: a panic is how a test reports a failure"
)]

mod autobahn;
mod e2e;
mod http;
mod nostr;
mod relay_rs;
mod support;
mod tls;
mod ws;
