//! HTTPS and WSS through rustls: local TLS servers with a certificate made
//! for the test and trusted through `ExecutorConfig::add_root_certificate`;
//! an untrusted certificate fails the connection.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use oanix_caps::{Body, EgressPolicy, FailureKind, HttpFs, HttpRequest, WsFs, WsState};
use oanix_exec::ExecutorManager;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

use crate::support::{PATIENCE, fast_config, wait_until};

/// A TLS server on 127.0.0.1 for `localhost`, answering HTTP or echoing
/// WebSocket messages; returns the port and the certificate (DER).
fn tls_server(rt: &Runtime, websocket: bool) -> (u16, Vec<u8>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if websocket {
                    let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.next().await {
                        if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                            return;
                        }
                    }
                    return;
                }
                let mut buf = vec![0u8; 4096];
                let mut have = 0;
                while !buf[..have].windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf[have..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => have += n,
                    }
                }
                let _ = tls
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret",
                    )
                    .await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, cert.to_vec())
}

fn policy(port: u16) -> EgressPolicy {
    EgressPolicy::allow_hosts(["localhost"])
        .schemes(["https", "wss"])
        .ports([port])
        .allow_loopback(true)
        .build()
        .unwrap()
}

#[test]
fn https_with_a_trusted_root_and_refusal_of_an_unknown_one() {
    let rt = Runtime::new().unwrap();
    let (port, cert) = tls_server(&rt, false);
    let url = format!("https://localhost:{port}/");

    let http = HttpFs::builder().policy(policy(port)).build();
    let mut m = ExecutorManager::new(fast_config().add_root_certificate(cert).build()).unwrap();
    m.attach_http(&http);
    m.start().unwrap();
    let id = http.try_submit(HttpRequest::get(&url)).unwrap();
    let out = http.wait_response(&id, PATIENCE).unwrap();
    let r = out.response().expect("a response over https");
    assert_eq!((r.status, r.body.as_bytes()), (200, &b"secret"[..]));
    m.shutdown().unwrap();

    // Without the root (and without the Mozilla roots) the handshake fails.
    let http = HttpFs::builder().policy(policy(port)).build();
    let mut m = ExecutorManager::new(fast_config().build()).unwrap();
    m.attach_http(&http);
    m.start().unwrap();
    let id = http.try_submit(HttpRequest::get(&url)).unwrap();
    let out = http.wait_response(&id, PATIENCE).unwrap();
    let f = out.failure().expect("a failure");
    assert_eq!(f.kind, FailureKind::Protocol, "{}", f.message);
    assert!(f.message.contains("certificate"), "{}", f.message);
    m.shutdown().unwrap();
}

#[test]
fn wss_with_a_trusted_root() {
    let rt = Runtime::new().unwrap();
    let (port, cert) = tls_server(&rt, true);
    let ws = WsFs::builder().policy(policy(port)).build();
    let mut m = ExecutorManager::new(fast_config().add_root_certificate(cert).build()).unwrap();
    m.attach_ws(&ws);
    m.start().unwrap();
    let id = ws
        .open_connection(&format!("wss://localhost:{port}/"))
        .unwrap();
    ws.send_message(&id, Body::Text("over tls".into())).unwrap();
    assert_eq!(
        ws.wait_message(&id, PATIENCE).unwrap(),
        Some(Body::Text("over tls".into()))
    );
    ws.close_connection(&id).unwrap();
    wait_until(
        || ws.message_listener(),
        || ws.connection_state(&id) == Some(WsState::Closed),
    );
    m.shutdown().unwrap();
}
