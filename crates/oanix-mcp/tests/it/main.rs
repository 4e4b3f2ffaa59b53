//! The MCP server driven by rmcp's client in the same process: over byte
//! streams for the tools, resources and lifecycle; over loopback HTTP for
//! the token.

#![allow(
    deprecated,
    reason = "resources/subscribe is how clients before protocol 2026-07-28 subscribe"
)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

use std::io::{Read, Write};
use std::time::Duration;

use oanix_env::{EnvBuilder, EnvStatus};
use oanix_mcp::{HttpOptions, McpConfig, McpServeError, McpServer};
use oanix_prims::{MemFs, MemLimits};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, ErrorCode, ProtocolVersion,
    ReadResourceRequestParams, ResourceContents, ResourceUpdatedNotificationParam,
    ServerNotification, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::{ClientHandler, ClientLifecycleMode, ClientServiceExt as _, RoleClient, ServiceError};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A client that passes on the `resources/updated` notifications it gets.
#[derive(Clone)]
struct Watcher {
    updates: mpsc::UnboundedSender<String>,
}

impl ClientHandler for Watcher {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::default().with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        let _ = self.updates.send(params.uri);
    }
}

type Client = RunningService<RoleClient, Watcher>;

/// An environment with a task, logs and a workspace of `capacity` bytes.
fn server(capacity: u64, config: McpConfig) -> McpServer {
    let task = TaskFs::new(
        TaskSpec {
            id: "t".into(),
            task_type: "test".into(),
            description: "served over MCP".into(),
            input: json!({}),
        },
        TaskMeta::default(),
    );
    let env = EnvBuilder::new()
        .mount("/task", task)
        .mount("/logs", LogsFs::new())
        .mount(
            "/workspace",
            MemFs::with_limits(MemLimits::capacity(capacity)),
        )
        .build()
        .unwrap();
    McpServer::with_config(env, "t", config.poll_interval(Duration::from_millis(20)))
}

/// Connects a handshake-era client to `server` over an in-memory pipe.
async fn connect(server: &McpServer) -> (Client, mpsc::UnboundedReceiver<String>) {
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let (r, w) = tokio::io::split(server_io);
    tokio::spawn(oanix_mcp::serve_io(server.clone(), r, w));
    let (tx, rx) = mpsc::unbounded_channel();
    let client =
        Watcher { updates: tx }.serve_with_lifecycle(client_io, ClientLifecycleMode::Initialize);
    (client.await.unwrap(), rx)
}

async fn call(
    client: &Client,
    name: &'static str,
    args: Value,
) -> Result<CallToolResult, ServiceError> {
    let Value::Object(args) = args else {
        panic!("arguments are an object")
    };
    client
        .call_tool(CallToolRequestParams::new(name).with_arguments(args))
        .await
}

fn message(result: &CallToolResult) -> String {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect()
}

async fn read(client: &Client, path: &str) -> String {
    let r = call(client, "read_file", json!({ "path": path }))
        .await
        .unwrap();
    assert_eq!(r.is_error, Some(false), "{r:?}");
    r.structured_content.unwrap()["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_failed_write_leaves_the_file_as_it_was() {
    let server = server(1 << 20, McpConfig::default());
    let (client, _) = connect(&server).await;
    let old = "a".repeat(600 * 1024);
    let w = call(
        &client,
        "write_file",
        json!({ "path": "/workspace/big.txt", "content": old }),
    )
    .await
    .unwrap();
    assert_eq!(w.is_error, Some(false), "{w:?}");
    // A second copy does not fit beside the first: the write fails, and
    // the file still holds the old bytes, not a truncated part of the new.
    let new = "b".repeat(600 * 1024);
    let failed = call(
        &client,
        "write_file",
        json!({ "path": "/workspace/big.txt", "content": new }),
    )
    .await
    .unwrap();
    let text = message(&failed);
    assert!(
        text.contains("/workspace/big.txt") && text.contains("space"),
        "{text}"
    );
    assert_eq!(read(&client, "/workspace/big.txt").await.len(), old.len());
    assert!(read(&client, "/workspace/big.txt").await.starts_with('a'));
    // Nothing is left beside it.
    let listing = call(&client, "list_dir", json!({ "path": "/workspace" }))
        .await
        .unwrap();
    assert_eq!(
        listing.structured_content.unwrap()["entries"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // An append that does not fit is cut back off: the length is as before.
    let failed = call(
        &client,
        "append_file",
        json!({ "path": "/workspace/big.txt", "content": "c".repeat(600 * 1024) }),
    )
    .await
    .unwrap();
    assert!(message(&failed).contains("space"));
    let st = call(&client, "stat", json!({ "path": "/workspace/big.txt" }))
        .await
        .unwrap();
    assert_eq!(st.structured_content.unwrap()["size"], 600 * 1024);
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn oversize_and_malformed_calls_are_refused_before_anything_is_done() {
    let server = server(1 << 20, McpConfig::default().max_write_bytes(100));
    let (client, _) = connect(&server).await;
    call(
        &client,
        "write_file",
        json!({ "path": "/workspace/a.txt", "content": "kept" }),
    )
    .await
    .unwrap();
    for (tool, args, needle) in [
        (
            "write_file",
            json!({ "path": "/workspace/a.txt", "content": "x".repeat(101) }),
            "over the limit of 100 bytes",
        ),
        (
            "append_file",
            json!({ "path": "/workspace/a.txt", "content": "x".repeat(101) }),
            "over the limit",
        ),
        (
            "write_file",
            json!({ "path": "/workspace/a.txt", "content": "!!", "encoding": "base64" }),
            "not base64",
        ),
        (
            "write_file",
            json!({ "path": "/workspace/a.txt", "content": 7 }),
            "invalid type",
        ),
        (
            "rename",
            json!({ "from": "/workspace/a.txt" }),
            "missing field `to`",
        ),
        (
            "read_file",
            json!({ "path": "/workspace/a.txt", "length": 0 }),
            "length must be at least 1",
        ),
        (
            "find",
            json!({ "path": "/workspace", "max_results": 0 }),
            "max_results",
        ),
        ("run", json!({}), "give module"),
        ("checkpoint", json!({ "name": "x" }), "keeps no checkpoints"),
        ("sudo", json!({}), "unknown tool \"sudo\""),
    ] {
        let err = call(&client, tool, args.clone()).await.unwrap_err();
        let ServiceError::McpError(e) = err else {
            panic!("{tool} {args}: {err:?}")
        };
        assert_eq!(e.code, ErrorCode::INVALID_PARAMS, "{tool}: {e:?}");
        assert!(e.message.contains(needle), "{tool} {args}: {}", e.message);
    }
    assert_eq!(read(&client, "/workspace/a.txt").await, "kept");
    // The checkpoint tools are listed only where checkpoints are kept.
    let tools = client.list_all_tools().await.unwrap();
    assert_eq!(tools.len(), 13);
    assert!(tools.iter().all(|t| t.name != "checkpoint"));
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_environment_follows_the_session() {
    let server = server(1 << 20, McpConfig::default());
    assert_eq!(server.env().status(), EnvStatus::Created);
    let (client, _) = connect(&server).await;
    assert_eq!(server.env().status(), EnvStatus::Running);
    call(
        &client,
        "write_file",
        json!({ "path": "/workspace/secret.txt", "content": "hunter2-hunter2" }),
    )
    .await
    .unwrap();
    let refused = call(
        &client,
        "read_file",
        json!({ "path": "/workspace/../../etc/passwd" }),
    )
    .await
    .unwrap();
    assert_eq!(
        message(&refused),
        "path escapes the root: /workspace/../../etc/passwd"
    );
    // Every call is an event, its content by length only.
    let events = server.env().logs().unwrap().events();
    let started = events
        .iter()
        .find(|e| e.message == "mcp session started")
        .unwrap();
    assert_eq!(started.data.as_ref().unwrap()["client"], "rmcp");
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| e.message == "mcp tools/call")
        .map(|e| e.data.as_ref().unwrap())
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0]["tool"], "write_file");
    assert_eq!(calls[0]["arguments"]["content"], json!({ "bytes": 15 }));
    assert_eq!(calls[1]["ok"], false);
    assert!(
        calls[1]["error"]
            .as_str()
            .unwrap()
            .contains("escapes the root")
    );
    let log = String::from_utf8(
        oanix_vfs::read_file(server.env().namespace(), "/logs/events.jsonl").unwrap(),
    )
    .unwrap();
    assert!(!log.contains("hunter2"), "{log}");
    // The host ends the session: the environment completes, and takes no
    // more calls.
    assert_eq!(
        server.finish(0).unwrap(),
        EnvStatus::Completed { exit_code: 0 }
    );
    let status = call(&client, "task_status", json!({})).await.unwrap_err();
    assert!(
        status.to_string().contains("takes no more calls"),
        "{status}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn subscribers_hear_of_changes_from_calls_and_from_elsewhere() {
    let server = server(1 << 20, McpConfig::default());
    let (client, mut updates) = connect(&server).await;
    let uri = server.resource_uri("/workspace/a.txt");
    call(
        &client,
        "write_file",
        json!({ "path": "/workspace/a.txt", "content": "1" }),
    )
    .await
    .unwrap();
    client
        .subscribe(SubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    // A tool call's change.
    call(
        &client,
        "append_file",
        json!({ "path": "/workspace/a.txt", "content": "2" }),
    )
    .await
    .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), updates.recv())
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(uri.as_str()));
    // A change the host makes, seen by the poll.
    oanix_vfs::write_file(
        server.env().namespace(),
        "/workspace/a.txt",
        "from the host",
    )
    .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), updates.recv())
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(uri.as_str()));
    let contents = client
        .read_resource(ReadResourceRequestParams::new(uri.clone()))
        .await
        .unwrap()
        .contents;
    let ResourceContents::TextResourceContents { text, .. } = &contents[0] else {
        panic!("{contents:?}")
    };
    assert_eq!(text, "from the host");
    // The task's status, which the service computes: seen when it changes.
    let status = server.resource_uri("/task/status");
    client
        .subscribe(SubscribeRequestParams::new(status.clone()))
        .await
        .unwrap();
    client
        .unsubscribe(UnsubscribeRequestParams::new(uri.clone()))
        .await
        .unwrap();
    oanix_vfs::write_file(server.env().namespace(), "/workspace/a.txt", "unheard").unwrap();
    server.finish(0).unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), updates.recv())
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(status.as_str()));
    // After unsubscribe, the file's changes are not told.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(updates.try_recv().is_err());
    // Subscribing to another environment's URI is refused.
    let err = client
        .subscribe(SubscribeRequestParams::new("oanix://other/workspace/a.txt"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("this server serves \"t\""),
        "{err}"
    );
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn a_2026_client_listens_for_changes() {
    let server = server(1 << 20, McpConfig::default());
    let (client_io, server_io) = tokio::io::duplex(1 << 20);
    let (r, w) = tokio::io::split(server_io);
    tokio::spawn(oanix_mcp::serve_io(server.clone(), r, w));
    let client = ClientConfig::default()
        .serve_with_lifecycle(
            client_io,
            ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        )
        .await
        .unwrap();
    let uri = server.resource_uri("/workspace/w.txt");
    let mut subscription = client
        .listen(
            SubscriptionFilter::builder()
                .resource_subscriptions([uri.clone(), "oanix://elsewhere/x".to_owned()])
                .build(),
        )
        .await
        .unwrap();
    // Only this environment's URIs are accepted.
    assert_eq!(
        subscription
            .acknowledged()
            .resource_subscriptions
            .as_deref(),
        Some(&[uri.clone()][..])
    );
    assert_eq!(server.env().status(), EnvStatus::Running);
    oanix_vfs::write_file(server.env().namespace(), "/workspace/w.txt", "new").unwrap();
    let note = tokio::time::timeout(Duration::from_secs(5), subscription.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let ServerNotification::ResourceUpdatedNotification(n) = note else {
        panic!("{note:?}")
    };
    assert_eq!(n.params.uri, uri);
    subscription.cancel().await.unwrap();
    client.cancel().await.unwrap();
}

/// One raw HTTP/1.1 POST of an `initialize`; gives the status line.
fn post(addr: std::net::SocketAddr, auth: Option<&str>) -> String {
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}"#;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = auth.map_or(String::new(), |a| format!("authorization: {a}\r\n"));
    write!(
        s,
        "POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-type: application/json\r\naccept: application/json, text/event-stream\r\n{auth}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        addr.port(),
        body.len()
    )
    .unwrap();
    let mut head = [0u8; 64];
    let n = s.read(&mut head).unwrap();
    String::from_utf8_lossy(&head[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_takes_only_the_token_and_needs_one_off_loopback() {
    let server = server(1 << 20, McpConfig::default());
    // Reachable from elsewhere without a token: refused before serving.
    let open = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let err = oanix_mcp::serve_http(
        server.clone(),
        open,
        HttpOptions::default(),
        Default::default(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, McpServeError::TokenRequired { .. }), "{err}");
    assert!(err.to_string().contains("needs a bearer token"), "{err}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(oanix_mcp::serve_http(
        server.clone(),
        listener,
        HttpOptions::default().token("s3cret"),
        shutdown.clone(),
    ));
    let statuses = tokio::task::spawn_blocking(move || {
        [
            post(addr, None),
            post(addr, Some("Bearer wrong")),
            post(addr, Some("Basic czNjcmV0")),
            post(addr, Some("Bearer s3cret")),
        ]
    })
    .await
    .unwrap();
    assert!(statuses[0].starts_with("HTTP/1.1 401"), "{statuses:?}");
    assert!(statuses[1].starts_with("HTTP/1.1 401"), "{statuses:?}");
    assert!(statuses[2].starts_with("HTTP/1.1 401"), "{statuses:?}");
    assert!(statuses[3].starts_with("HTTP/1.1 200"), "{statuses:?}");
    // Only the authorized session started the environment.
    let started = server
        .env()
        .logs()
        .unwrap()
        .events()
        .into_iter()
        .filter(|e| e.message == "mcp session started")
        .count();
    assert_eq!(started, 1);
    shutdown.cancel();
    serving.await.unwrap().unwrap();
}
