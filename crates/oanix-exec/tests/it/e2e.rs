//! End to end, as an agent would: files only. Write `/cap/http/request`
//! and read the response; open a WebSocket, exchange messages, close;
//! publish a NIP-90 request and read the relay's copy from the inbox.

use std::sync::Arc;

use oanix_caps::{Filter, HttpFs, NostrFs, WsFs};
use oanix_exec::ExecutorManager;
use oanix_vfs::{FileService, Namespace, OpenFlags, read_to_end, read_to_string, write_file};
use serde_json::Value;

use crate::nostr::{nostr_config, relay_runtime};
use crate::support::{RawServer, WsMode, WsServer, local_policy, wait_until};

/// Writes one message to `path` and reads back the id it was given.
fn write_for_id(ns: &Namespace, path: &str, message: &str) -> String {
    let mut h = ns.open(path, OpenFlags::read_write()).unwrap();
    h.write(message.as_bytes()).unwrap();
    let mut id = Vec::new();
    read_to_end(h.as_mut(), &mut id).unwrap();
    String::from_utf8(id).unwrap()
}

#[test]
fn an_agent_uses_http_websocket_and_nostr_through_files() {
    let web = RawServer::start();
    let echo = WsServer::start(WsMode::Echo);
    let rt = relay_runtime();
    let (_relay, relay_url) = rt.block_on(async {
        let relay = nostr_relay_builder::LocalRelay::new(Default::default());
        relay.run().await.unwrap();
        let url = relay.url().await.to_string();
        (relay, url)
    });

    let http = Arc::new(HttpFs::builder().policy(local_policy(web.port)).build());
    let ws = Arc::new(WsFs::builder().policy(local_policy(echo.port)).build());
    let nostr = Arc::new(
        NostrFs::builder()
            .policy(crate::nostr::relay_policy(&[&relay_url]))
            .relay(&relay_url)
            .generate()
            .unwrap(),
    );
    // The host subscribes to the agent's own job requests.
    nostr
        .add_subscription(
            "jobs",
            vec![Filter::new().authors([nostr.pubkey()]).kinds([5050])],
        )
        .unwrap();

    let mut executors = ExecutorManager::new(nostr_config().build()).unwrap();
    executors.attach_http(Arc::clone(&http));
    executors.attach_ws(Arc::clone(&ws));
    executors.attach_nostr(Arc::clone(&nostr));
    executors.start().unwrap();

    let ns = Namespace::builder()
        .mount("/cap/http", Arc::clone(&http))
        .mount("/cap/ws", Arc::clone(&ws))
        .mount("/cap/nostr", Arc::clone(&nostr))
        .build();

    // HTTP: a request, then its response.
    let id = write_for_id(
        &ns,
        "/cap/http/request",
        &format!(
            r#"{{"method": "POST", "url": "{}", "body": "ping"}}"#,
            web.url("/echo")
        ),
    );
    let response: Value = serde_json::from_str(
        &read_to_string(&ns, &format!("/cap/http/responses/{id}.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(response["ok"], true);
    assert_eq!(response["status"], 200);
    assert_eq!(response["body"], "ping");

    // WebSocket: open, exchange, close.
    let conn = write_for_id(
        &ns,
        "/cap/ws/control",
        &format!(r#"{{"url": "{}"}}"#, echo.url()),
    );
    write_file(&ns, &format!("/cap/ws/conns/{conn}/out"), "hello").unwrap();
    write_file(&ns, &format!("/cap/ws/conns/{conn}/out.bin"), [1u8, 2, 255]).unwrap();
    let text = oanix_vfs::read_file(&ns, &format!("/cap/ws/conns/{conn}/in")).unwrap();
    assert_eq!(text, b"text 5\nhello");
    let bin = oanix_vfs::read_file(&ns, &format!("/cap/ws/conns/{conn}/in")).unwrap();
    assert_eq!(bin, b"binary 3\n\x01\x02\xff");
    write_file(&ns, "/cap/ws/control", format!(r#"{{"close": "{conn}"}}"#)).unwrap();
    wait_until(
        || ws.message_listener(),
        || {
            read_to_string(&ns, &format!("/cap/ws/conns/{conn}/status"))
                .unwrap()
                .contains("\"state\": \"closed\"")
        },
    );

    // Nostr: a NIP-90 job request, published, and the relay's copy received.
    let event_id = write_for_id(
        &ns,
        "/cap/nostr/request",
        r#"{"kind": 5050, "input": "What is the capital of France?", "params": {"model": "small"}}"#,
    );
    wait_until(
        || nostr.inbox_listener(),
        || {
            ns.stat(&format!("/cap/nostr/inbox/{event_id}.json"))
                .is_ok()
        },
    );
    let copy: Value = serde_json::from_str(
        &read_to_string(&ns, &format!("/cap/nostr/inbox/{event_id}.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(copy["event"]["kind"], 5050);
    assert_eq!(copy["relay"], relay_url.as_str());
    assert!(ns.readdir("/cap/nostr/outbox").unwrap().is_empty());

    executors.shutdown().unwrap();
}
