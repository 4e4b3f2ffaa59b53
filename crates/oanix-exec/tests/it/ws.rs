//! WsConnector against real tokio-tungstenite servers and a raw peer that
//! speaks broken frames: echo with text and binary kept apart, dead peers
//! and keepalive, protocol errors, dropped connections and reconnection,
//! size limits, the connection limit, the SSRF guard, clean closes.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
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

/// How a [`RawPeer`] behaves after the handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawMode {
    /// Sends a frame with a reserved opcode (a protocol error).
    BadOpcode,
    /// Sends a text frame whose payload is not UTF-8.
    BadUtf8,
    /// Sends nothing of its own; answers every ping with a pong.
    AnswersPings,
    /// Sends nothing at all; reads and ignores everything.
    IgnoresPings,
}

/// A frame the peer received from the connector.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Got {
    Text(String),
    Binary(Vec<u8>),
    Ping,
    Close(u16),
}

/// A WebSocket peer on plain TCP, frames written and parsed by hand, so it
/// can break the protocol on purpose.
struct RawPeer {
    port: u16,
    connections: Arc<AtomicUsize>,
    got: Receiver<Got>,
}

impl RawPeer {
    fn start(mode: RawMode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let (tx, got) = channel();
        let count = Arc::clone(&connections);
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let tx = tx.clone();
                std::thread::spawn(move || {
                    let _ = raw_session(tcp, mode, &tx);
                });
            }
        });
        Self {
            port,
            connections,
            got,
        }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    /// The next frame received, waited for.
    fn next(&self) -> Got {
        self.got.recv_timeout(PATIENCE).unwrap()
    }
}

fn raw_session(mut tcp: TcpStream, mode: RawMode, got: &Sender<Got>) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte)?;
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let key = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    write!(
        tcp,
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    )?;
    match mode {
        // FIN with opcode 3, reserved for future data frames.
        RawMode::BadOpcode => tcp.write_all(&[0x83, 0x00])?,
        // A text frame holding 0xC3 0x28, not UTF-8.
        RawMode::BadUtf8 => tcp.write_all(&[0x81, 0x02, 0xC3, 0x28])?,
        RawMode::AnswersPings | RawMode::IgnoresPings => {}
    }
    loop {
        let mut h = [0u8; 2];
        tcp.read_exact(&mut h)?;
        let opcode = h[0] & 0x0F;
        let len = match h[1] & 0x7F {
            126 => {
                let mut b = [0u8; 2];
                tcp.read_exact(&mut b)?;
                u64::from(u16::from_be_bytes(b))
            }
            127 => {
                let mut b = [0u8; 8];
                tcp.read_exact(&mut b)?;
                u64::from_be_bytes(b)
            }
            n => u64::from(n),
        };
        let mut mask = [0u8; 4];
        if h[1] & 0x80 != 0 {
            tcp.read_exact(&mut mask)?;
        }
        let mut payload = vec![0u8; usize::try_from(len).unwrap()];
        tcp.read_exact(&mut payload)?;
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        let frame = match opcode {
            1 => Got::Text(String::from_utf8_lossy(&payload).into_owned()),
            2 => Got::Binary(payload.clone()),
            8 => Got::Close(
                payload
                    .get(..2)
                    .map_or(1005, |c| u16::from_be_bytes([c[0], c[1]])),
            ),
            9 => {
                if mode == RawMode::AnswersPings {
                    let mut pong = vec![0x8A, u8::try_from(payload.len()).unwrap()];
                    pong.extend_from_slice(&payload);
                    tcp.write_all(&pong)?;
                }
                Got::Ping
            }
            _ => continue,
        };
        let closing = matches!(frame, Got::Close(_));
        let _ = got.send(frame);
        if closing {
            let _ = tcp.write_all(&[0x88, 0x00]);
            return Ok(());
        }
    }
}

/// A peer breaking the protocol gets the queued messages, then a close frame
/// with `code`; the connection closes with the reason and is not reconnected
/// to, though reconnecting is allowed.
fn a_protocol_violation_closes_with(mode: RawMode, code: u16, reason: &str) {
    let peer = RawPeer::start(mode);
    let ws = WsFs::builder().policy(local_policy(peer.port)).build();
    let config = fast_config()
        .ws_reconnect(RetryPolicy::exponential(5, Duration::from_millis(10)))
        .build();
    let m = start(&ws, config);
    let id = ws.open_connection(&peer.url()).unwrap();
    ws.send_message(&id, Body::Text("queued".into())).unwrap();
    ws.send_message(&id, Body::Binary(b"too".to_vec())).unwrap();
    wait_state(&ws, &id, WsState::Closed);
    assert_eq!(peer.next(), Got::Text("queued".into()));
    assert_eq!(peer.next(), Got::Binary(b"too".to_vec()));
    assert_eq!(peer.next(), Got::Close(code));
    let error = error_of(&ws, &id).unwrap_or_default();
    assert!(error.starts_with(reason), "{error}");
    assert!(!error.contains("unsent"), "{error}");
    assert_eq!(peer.connections.load(Ordering::SeqCst), 1);
    m.shutdown().unwrap();
}

#[test]
fn a_malformed_frame_closes_with_1002_and_no_reconnect() {
    a_protocol_violation_closes_with(RawMode::BadOpcode, 1002, "protocol error:");
}

#[test]
fn a_text_message_not_utf8_closes_with_1007_and_no_reconnect() {
    a_protocol_violation_closes_with(
        RawMode::BadUtf8,
        1007,
        "protocol error: a text message is not UTF-8",
    );
}

#[test]
fn a_silent_peer_that_answers_pings_stays_connected() {
    let peer = RawPeer::start(RawMode::AnswersPings);
    let ws = WsFs::builder().policy(local_policy(peer.port)).build();
    // A connector ignoring the pongs would give up after 320 ms of silence;
    // twenty pings, each after 20 ms of silence, take longer than that.
    let config = fast_config()
        .ws_ping_interval(Duration::from_millis(20))
        .ws_pong_timeout(Duration::from_millis(300))
        .build();
    let m = start(&ws, config);
    let id = ws.open_connection(&peer.url()).unwrap();
    for _ in 0..20 {
        assert_eq!(peer.next(), Got::Ping);
    }
    assert_eq!(ws.connection_state(&id), Some(WsState::Open));
    assert_eq!(peer.connections.load(Ordering::SeqCst), 1);
    m.shutdown().unwrap();
}

#[test]
fn a_silent_peer_that_ignores_pings_is_dead_after_a_ping() {
    let peer = RawPeer::start(RawMode::IgnoresPings);
    let ws = WsFs::builder().policy(local_policy(peer.port)).build();
    let config = fast_config()
        .ws_ping_interval(Duration::from_millis(20))
        .ws_pong_timeout(Duration::from_millis(100))
        .build();
    let m = start(&ws, config);
    let id = ws.open_connection(&peer.url()).unwrap();
    // The verdict comes from a ping actually sent.
    assert_eq!(peer.next(), Got::Ping);
    wait_state(&ws, &id, WsState::Closed);
    let error = error_of(&ws, &id).unwrap_or_default();
    assert!(
        error.starts_with("the peer is dead: a ping went unanswered"),
        "{error}"
    );
    m.shutdown().unwrap();
}
