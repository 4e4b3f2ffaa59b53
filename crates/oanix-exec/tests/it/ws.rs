//! WsConnector against real tokio-tungstenite servers: echo with text and
//! binary kept apart, dead peers, dropped connections and reconnection,
//! size limits, the connection limit, the SSRF guard, clean closes.

use std::sync::atomic::Ordering;
use std::time::Duration;

use oanix_caps::{Body, EgressPolicy, WsFs, WsState};
use oanix_exec::{ExecutorConfig, ExecutorManager, RetryPolicy};

use crate::support::{PATIENCE, WsMode, WsServer, fast_config, local_policy, wait_until};

fn start(ws: &WsFs, config: ExecutorConfig) -> ExecutorManager {
    let mut m = ExecutorManager::new(config).unwrap();
    m.attach_ws(ws);
    m.start().unwrap();
    m
}

fn wait_state(ws: &WsFs, id: &str, state: WsState) {
    wait_until(
        || ws.message_listener(),
        || ws.connection_state(id) == Some(state),
    );
}

fn error_of(ws: &WsFs, id: &str) -> Option<String> {
    ws.connection_status(id).and_then(|s| s.error)
}

#[test]
fn echo_keeps_text_and_binary_and_closes_cleanly() {
    let server = WsServer::start(WsMode::Echo);
    let ws = WsFs::builder().policy(local_policy(server.port)).build();
    let m = start(&ws, fast_config().build());
    let id = ws.open_connection(&server.url()).unwrap();
    // Written before the connection is open: kept in order.
    ws.send_message(&id, Body::Text("one".into())).unwrap();
    ws.send_message(&id, Body::Binary(vec![0, 159, 146, 150]))
        .unwrap();
    ws.send_message(&id, Body::Text("three".into())).unwrap();
    assert_eq!(
        ws.wait_message(&id, PATIENCE).unwrap(),
        Some(Body::Text("one".into()))
    );
    assert_eq!(
        ws.wait_message(&id, PATIENCE).unwrap(),
        Some(Body::Binary(vec![0, 159, 146, 150]))
    );
    assert_eq!(
        ws.wait_message(&id, PATIENCE).unwrap(),
        Some(Body::Text("three".into()))
    );
    ws.close_connection(&id).unwrap();
    wait_state(&ws, &id, WsState::Closed);
    assert_eq!(error_of(&ws, &id), None);
    assert_eq!(server.wait_close(), vec![1000]);
    m.shutdown().unwrap();
}

#[test]
fn a_peer_that_stops_answering_pings_is_detected() {
    let server = WsServer::start(WsMode::Silent);
    let ws = WsFs::builder().policy(local_policy(server.port)).build();
    let config = fast_config()
        .ws_ping_interval(Duration::from_millis(100))
        .ws_pong_timeout(Duration::from_millis(200))
        .build();
    let m = start(&ws, config);
    let id = ws.open_connection(&server.url()).unwrap();
    wait_state(&ws, &id, WsState::Closed);
    let error = error_of(&ws, &id).unwrap_or_default();
    assert!(error.contains("the peer is dead"), "{error}");
    m.shutdown().unwrap();
}

#[test]
fn a_dropped_connection_closes_with_the_reason_without_reconnect() {
    let server = WsServer::start(WsMode::DropFirst);
    let ws = WsFs::builder().policy(local_policy(server.port)).build();
    let m = start(&ws, fast_config().build());
    let id = ws.open_connection(&server.url()).unwrap();
    ws.send_message(&id, Body::Text("hi".into())).unwrap();
    wait_state(&ws, &id, WsState::Closed);
    let error = error_of(&ws, &id).unwrap_or_default();
    assert!(
        error.contains("without a close frame") || error.contains("connection lost"),
        "{error}"
    );
    m.shutdown().unwrap();
}

#[test]
fn a_dropped_connection_reconnects_with_the_same_id() {
    let server = WsServer::start(WsMode::DropFirst);
    let ws = WsFs::builder().policy(local_policy(server.port)).build();
    let config = fast_config()
        .ws_reconnect(RetryPolicy::exponential(5, Duration::from_millis(10)))
        .build();
    let m = start(&ws, config);
    let id = ws.open_connection(&server.url()).unwrap();
    wait_state(&ws, &id, WsState::Open);
    ws.send_message(&id, Body::Text("lost".into())).unwrap();
    wait_until(
        || ws.message_listener(),
        || server.stats.connections.load(Ordering::SeqCst) >= 2,
    );
    ws.send_message(&id, Body::Text("after".into())).unwrap();
    assert_eq!(
        ws.wait_message(&id, PATIENCE).unwrap(),
        Some(Body::Text("after".into()))
    );
    assert_eq!(ws.connection_state(&id), Some(WsState::Open));
    m.shutdown().unwrap();
    assert_eq!(ws.connection_state(&id), Some(WsState::Closed));
}

#[test]
fn messages_over_the_limit_close_the_connection() {
    let server = WsServer::start(WsMode::Big);
    let ws = WsFs::builder().policy(local_policy(server.port)).build();
    let m = start(
        &ws,
        fast_config()
            .ws_max_message(1024)
            .ws_max_frame(1024)
            .build(),
    );
    let id = ws.open_connection(&server.url()).unwrap();
    wait_state(&ws, &id, WsState::Closed);
    let error = error_of(&ws, &id).unwrap_or_default();
    assert!(error.contains("over the limit"), "{error}");
    m.shutdown().unwrap();
}

#[test]
fn the_peer_closing_ends_the_connection_cleanly() {
    let server = WsServer::start(WsMode::CloseAfterFirst);
    let ws = WsFs::builder().policy(local_policy(server.port)).build();
    let m = start(&ws, fast_config().build());
    let id = ws.open_connection(&server.url()).unwrap();
    ws.send_message(&id, Body::Text("bye".into())).unwrap();
    wait_state(&ws, &id, WsState::Closed);
    assert_eq!(error_of(&ws, &id), None);
    m.shutdown().unwrap();
}

#[test]
fn the_connection_limit_holds_the_next_one_until_a_slot_frees() {
    let server = WsServer::start(WsMode::Echo);
    let ws = WsFs::builder().policy(local_policy(server.port)).build();
    let m = start(&ws, fast_config().ws_max_concurrent(1).build());
    let a = ws.open_connection(&server.url()).unwrap();
    wait_state(&ws, &a, WsState::Open);
    let b = ws.open_connection(&server.url()).unwrap();
    ws.send_message(&a, Body::Text("ping".into())).unwrap();
    assert!(ws.wait_message(&a, PATIENCE).unwrap().is_some());
    assert_eq!(ws.connection_state(&b), Some(WsState::Connecting));
    ws.close_connection(&a).unwrap();
    wait_state(&ws, &b, WsState::Open);
    // A connection waiting for a slot can be closed while it waits.
    let c = ws.open_connection(&server.url()).unwrap();
    ws.close_connection(&c).unwrap();
    wait_state(&ws, &c, WsState::Closed);
    assert_eq!(error_of(&ws, &c), None);
    assert_eq!(ws.connection_state(&b), Some(WsState::Open));
    m.shutdown().unwrap();
}

#[test]
fn a_name_resolving_to_loopback_is_refused_without_permission() {
    let server = WsServer::start(WsMode::Echo);
    let policy = EgressPolicy::allow_hosts(["localhost"])
        .schemes(["ws"])
        .ports([server.port])
        .build()
        .unwrap();
    let ws = WsFs::builder().policy(policy).build();
    let m = start(&ws, fast_config().build());
    let id = ws
        .open_connection(&format!("ws://localhost:{}/", server.port))
        .unwrap();
    wait_state(&ws, &id, WsState::Closed);
    let error = error_of(&ws, &id).unwrap_or_default();
    assert!(
        error.starts_with("refused: `localhost` resolves only to refused addresses"),
        "{error}"
    );
    assert_eq!(server.stats.connections.load(Ordering::SeqCst), 0);
    m.shutdown().unwrap();
}

#[test]
fn shutdown_closes_connections_with_a_close_frame_and_a_reason() {
    let server = WsServer::start(WsMode::Echo);
    let ws = WsFs::builder().policy(local_policy(server.port)).build();
    let m = start(&ws, fast_config().build());
    let id = ws.open_connection(&server.url()).unwrap();
    wait_state(&ws, &id, WsState::Open);
    m.shutdown().unwrap();
    assert_eq!(ws.connection_state(&id), Some(WsState::Closed));
    assert_eq!(
        error_of(&ws, &id).as_deref(),
        Some("closed: the executor shut down")
    );
    assert_eq!(server.wait_close(), vec![1001]);
}

#[test]
fn a_host_connection_the_policy_refuses_is_closed_without_connecting() {
    let server = WsServer::start(WsMode::Echo);
    // Trusted host call: accepted by the service with the deny-all policy...
    let ws = std::sync::Arc::new(WsFs::new());
    let mut m = ExecutorManager::new(fast_config().build()).unwrap();
    m.attach_ws(std::sync::Arc::clone(&ws));
    m.start().unwrap();
    let id = ws.open_connection(&server.url()).unwrap();
    // ...and refused by the executor before any connection.
    wait_state(&ws, &id, WsState::Closed);
    let error = error_of(&ws, &id).unwrap_or_default();
    assert!(
        error.starts_with("refused: scheme `ws` is not allowed"),
        "{error}"
    );
    assert_eq!(server.stats.connections.load(Ordering::SeqCst), 0);
    m.shutdown().unwrap();
}
