//! WsFs through its files (mounted in a namespace) and through its API.

use std::sync::Arc;
use std::time::Duration;

use oanix_caps::{
    Body, CapError, EgressPolicy, Outcome, RecordLog, WsFs, WsLimits, WsMessage, WsState,
    frame_message,
};
use oanix_vfs::{FileService, FsError, FsErrorKind, Namespace, OpenFlags, read_file, write_file};

use crate::support::{block_on, read_json, send, until};

fn policy() -> EgressPolicy {
    EgressPolicy::allow_hosts(["relay.example.com", "*.ws.example"])
        .max_request_body(16)
        .build()
        .unwrap()
}

fn mounted(ws: &Arc<WsFs>) -> Namespace {
    Namespace::builder()
        .mount("/cap/ws", Arc::clone(ws))
        .build()
}

fn names(ns: &Namespace, dir: &str) -> Vec<String> {
    ns.readdir(dir)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect()
}

fn open(ns: &Namespace, url: &str) -> String {
    send(ns, "/cap/ws/control", &format!(r#"{{"url":"{url}"}}"#)).unwrap()
}

#[test]
fn an_agent_opens_talks_and_closes() {
    let log = RecordLog::new(100);
    let ws = Arc::new(
        WsFs::builder()
            .policy(policy())
            .record_sink(log.sink())
            .build(),
    );
    let ns = mounted(&ws);
    assert_eq!(names(&ns, "/cap/ws"), ["conns", "control", "status"]);
    let id = open(&ns, "wss://relay.example.com/feed");
    assert_eq!(id, "conn-1");
    assert_eq!(names(&ns, "/cap/ws/conns"), ["conn-1"]);
    assert_eq!(
        names(&ns, "/cap/ws/conns/conn-1"),
        ["in", "out", "out.bin", "status", "url"]
    );
    assert_eq!(
        oanix_vfs::read_to_string(&ns, "/cap/ws/conns/conn-1/url").unwrap(),
        "wss://relay.example.com/feed"
    );
    assert_eq!(
        read_json(&ns, "/cap/ws/conns/conn-1/status").unwrap()["state"],
        "connecting"
    );

    // Written before the connection is up: waits in the outbox.
    write_file(&ns, "/cap/ws/conns/conn-1/out", "hello").unwrap();
    assert_eq!(
        ws.connecting_connections(),
        [(
            "conn-1".to_owned(),
            "wss://relay.example.com/feed".to_owned()
        )]
    );
    assert!(ws.outbox_ready().is_empty());
    ws.set_connected(&id).unwrap();
    assert_eq!(ws.outbox_ready(), std::slice::from_ref(&id));
    write_file(&ns, "/cap/ws/conns/conn-1/out.bin", [0u8, 1, 2]).unwrap();
    assert_eq!(
        ws.drain_outbox(&id).unwrap(),
        [Body::Text("hello".into()), Body::Binary(vec![0, 1, 2])]
    );

    // Messages arrive; each read to the end gives one, in order.
    ws.receive_message(&id, "first").unwrap();
    ws.receive_message(&id, vec![9u8, 8]).unwrap();
    assert_eq!(
        read_file(&ns, "/cap/ws/conns/conn-1/in").unwrap(),
        b"text 5\nfirst"
    );
    let mut h = ns
        .open("/cap/ws/conns/conn-1/in", OpenFlags::read_only())
        .unwrap();
    let mut buf = [0u8; 1];
    let mut got = Vec::new();
    while h.read(&mut buf).unwrap() == 1 {
        got.push(buf[0]);
    }
    assert_eq!(got, b"binary 2\n\x09\x08");

    let st = read_json(&ns, "/cap/ws/conns/conn-1/status").unwrap();
    assert_eq!(st["state"], "open");
    assert_eq!(st["sent"], 2);
    assert_eq!(st["received"], 2);
    assert_eq!(st["sent_bytes"], 8);

    // Closing.
    assert_eq!(
        send(&ns, "/cap/ws/control", r#"{"close":"conn-1"}"#).unwrap(),
        "conn-1"
    );
    assert_eq!(ws.closing_connections(), std::slice::from_ref(&id));
    ws.receive_message(&id, "last words").unwrap();
    ws.set_closed(&id, None).unwrap();
    assert_eq!(ws.connection_state(&id), Some(WsState::Closed));
    // What arrived can still be read; then the stream ends without waiting.
    assert_eq!(
        read_file(&ns, "/cap/ws/conns/conn-1/in").unwrap(),
        b"text 10\nlast words"
    );
    assert_eq!(read_file(&ns, "/cap/ws/conns/conn-1/in").unwrap(), b"");
    assert_eq!(
        write_file(&ns, "/cap/ws/conns/conn-1/out", "more"),
        Err(FsError::io(
            "/cap/ws/conns/conn-1/out",
            "connection `conn-1` is closed"
        ))
    );

    let actions: Vec<(String, Outcome)> = log
        .records()
        .into_iter()
        .map(|r| (r.action.as_str().to_owned(), r.outcome))
        .collect();
    assert_eq!(
        actions,
        [
            ("open".to_owned(), Outcome::Queued),
            ("send".to_owned(), Outcome::Queued),
            ("connected".to_owned(), Outcome::Ok),
            ("send".to_owned(), Outcome::Queued),
            ("receive".to_owned(), Outcome::Ok),
            ("receive".to_owned(), Outcome::Ok),
            ("receive".to_owned(), Outcome::Ok),
            ("close".to_owned(), Outcome::Ok),
        ]
    );
    let send_rec = &log.records()[1];
    assert_eq!(
        send_rec.digest.as_deref(),
        Some(oanix_caps::sha256_digest(b"hello").as_str())
    );
    assert_eq!(send_rec.detail.as_deref(), Some("text"));
}

fn refused_control(ws: &WsFs, ns: &Namespace, msg: &str, expected: FsError) {
    let before = ws.status();
    let listed = names(ns, "/cap/ws/conns");
    let mut h = ns.open("/cap/ws/control", OpenFlags::read_write()).unwrap();
    assert_eq!(h.write(msg.as_bytes()), Err(expected), "{msg}");
    let mut buf = [0u8; 8];
    assert_eq!(h.read(&mut buf), Ok(0));
    assert_eq!(ws.status().opened, before.opened);
    assert_eq!(names(ns, "/cap/ws/conns"), listed);
}

#[test]
fn malformed_control_messages_and_refused_urls() {
    let ws = Arc::new(WsFs::builder().policy(policy()).build());
    let ns = mounted(&ws);
    let c = "/cap/ws/control";
    for (msg, why) in [
        (
            "{}",
            "expected field `url` (to open a connection) or `close` (to close one)",
        ),
        (
            r#"{"url":1}"#,
            "field `url`: expected a string, found a number",
        ),
        (
            r#"{"close":["conn-1"]}"#,
            "field `close`: expected a string, found an array",
        ),
        (
            r#"{"url":"wss://relay.example.com/","close":"conn-1"}"#,
            "fields `url` and `close` cannot both be given",
        ),
        (
            r#"{"open":"wss://relay.example.com/"}"#,
            "unknown field `open` (expected one of: url, close)",
        ),
        ("3", "expected a JSON object, found a number"),
    ] {
        refused_control(&ws, &ns, msg, FsError::invalid_input(c, why));
    }
    for (msg, why) in [
        (
            r#"{"url":"ws://relay.example.com/"}"#,
            "scheme `ws` is not allowed (allowed: https, wss)",
        ),
        (
            r#"{"url":"wss://evil.example/"}"#,
            "host `evil.example` is not in the allow list",
        ),
        (
            r#"{"url":"https://relay.example.com/"}"#,
            "scheme `https` is not a websocket scheme",
        ),
        (
            r#"{"url":"wss://127.0.0.1/"}"#,
            "host `127.0.0.1` is not in the allow list",
        ),
    ] {
        refused_control(&ws, &ns, msg, FsError::permission_denied(c, why));
    }
    // Wildcards.
    assert_eq!(open(&ns, "wss://a.b.ws.example/x"), "conn-1");
    // Unknown connections.
    refused_control(&ws, &ns, r#"{"close":"conn-9"}"#, FsError::not_found(c));
    for path in [
        "/cap/ws/conns/conn-9",
        "/cap/ws/conns/conn-9/in",
        "/cap/ws/conns/conn-1/nope",
    ] {
        assert_eq!(ns.stat(path), Err(FsError::not_found(path)));
    }
    assert_eq!(
        ws.send_message("conn-9", "x"),
        Err(CapError::UnknownId {
            kind: "connection",
            id: "conn-9".into()
        })
    );
    assert!(ws.set_connected("conn-9").is_err());
    assert!(ws.receive_message("conn-9", "x").is_err());
    assert!(ws.drain_outbox("conn-9").is_err());
    assert!(ws.read_message("conn-9").is_err());
}

#[test]
fn queues_and_sizes_are_bounded() {
    let ws = Arc::new(
        WsFs::builder()
            .policy(policy())
            .limits(
                WsLimits::default()
                    .max_outbox(2)
                    .max_inbox(1)
                    .max_connections(1),
            )
            .build(),
    );
    let ns = mounted(&ws);
    let id = open(&ns, "wss://relay.example.com/");
    refused_control(
        &ws,
        &ns,
        r#"{"url":"wss://relay.example.com/2"}"#,
        FsError::would_block("/cap/ws/control"),
    );
    let out = "/cap/ws/conns/conn-1/out";
    write_file(&ns, out, "1").unwrap();
    write_file(&ns, out, "2").unwrap();
    assert_eq!(write_file(&ns, out, "3"), Err(FsError::would_block(out)));
    assert_eq!(
        ws.send_message(&id, "3"),
        Err(CapError::QueueFull {
            what: "outbox of conn-1".into(),
            capacity: 2
        })
    );
    assert_eq!(ws.connection_status(&id).unwrap().outbox, 2);
    // Oversize messages (the policy's max_request_body is 16).
    ws.drain_outbox(&id).unwrap();
    assert_eq!(
        write_file(&ns, out, [b'x'; 17]),
        Err(FsError::too_large(out, 16))
    );
    assert_eq!(
        write_file(&ns, out, [0xffu8, 0xfe]),
        Err(FsError::invalid_input(
            out,
            "a text message must be UTF-8 (write binary messages to `out.bin`)"
        ))
    );
    assert_eq!(ws.connection_status(&id).unwrap().outbox, 0);
    ws.set_connected(&id).unwrap();
    ws.receive_message(&id, "a").unwrap();
    assert_eq!(
        ws.receive_message(&id, "b"),
        Err(CapError::QueueFull {
            what: "inbox of conn-1".into(),
            capacity: 1
        })
    );
    assert_eq!(ws.read_message(&id).unwrap(), Some(WsMessage::from("a")));
    assert_eq!(ws.read_message(&id).unwrap(), None);
    // A closed connection frees its slot.
    ws.set_closed(&id, Some("reset by peer".into())).unwrap();
    assert_eq!(
        ws.connection_status(&id).unwrap().error.as_deref(),
        Some("reset by peer")
    );
    assert_eq!(open(&ns, "wss://relay.example.com/2"), "conn-2");
}

#[test]
fn closed_connections_are_forgotten_oldest_first() {
    let ws = WsFs::builder()
        .policy(policy())
        .limits(WsLimits::default().max_closed(1))
        .build();
    let a = ws.open_connection("wss://relay.example.com/").unwrap();
    let b = ws.open_connection("wss://relay.example.com/").unwrap();
    ws.set_closed(&a, None).unwrap();
    ws.set_closed(&b, None).unwrap();
    assert_eq!(ws.connection_state(&a), None);
    assert_eq!(ws.connection_state(&b), Some(WsState::Closed));
}

#[test]
fn read_only_files_and_handles() {
    let ws = Arc::new(WsFs::builder().policy(policy()).build());
    let ns = mounted(&ws);
    open(&ns, "wss://relay.example.com/");
    for path in [
        "/cap/ws/status",
        "/cap/ws/conns/conn-1/in",
        "/cap/ws/conns/conn-1/status",
        "/cap/ws/conns/conn-1/url",
    ] {
        assert_eq!(
            ns.open(path, OpenFlags::write_only()).err(),
            Some(FsError::read_only(path))
        );
    }
    let fixed = |p: &str| FsError::permission_denied(p, "the files of this service are fixed");
    assert_eq!(
        ns.remove("/cap/ws/conns/conn-1/out"),
        Err(fixed("/cap/ws/conns/conn-1/out"))
    );
    assert_eq!(
        ns.remove("/cap/ws/conns/conn-1"),
        Err(fixed("/cap/ws/conns/conn-1"))
    );
    assert_eq!(
        ns.mkdir("/cap/ws/conns/conn-2"),
        Err(fixed("/cap/ws/conns/conn-2"))
    );
    assert_eq!(
        ns.open("/cap/ws/conns/conn-1/log", OpenFlags::create_truncate())
            .err(),
        Some(fixed("/cap/ws/conns/conn-1/log"))
    );
    let mut h = ns
        .open("/cap/ws/conns/conn-1/out", OpenFlags::read_only())
        .unwrap();
    assert_eq!(h.write(b"x").unwrap_err().kind(), FsErrorKind::BadHandle);
    let mut h = ns
        .open("/cap/ws/conns/conn-1/in", OpenFlags::read_only())
        .unwrap();
    assert_eq!(
        h.seek(std::io::SeekFrom::Start(3)).unwrap_err().kind(),
        FsErrorKind::InvalidInput
    );
}

#[test]
fn reads_of_in_block_until_a_message_or_time_out() {
    let ws = Arc::new(
        WsFs::builder()
            .policy(policy())
            .limits(WsLimits::default().wait(Duration::from_millis(30)))
            .build(),
    );
    let ns = Arc::new(mounted(&ws));
    let id = open(&ns, "wss://relay.example.com/");
    ws.set_connected(&id).unwrap();
    let path = "/cap/ws/conns/conn-1/in";
    let mut buf = [0u8; 8];
    let mut h = ns.open(path, OpenFlags::read_only()).unwrap();
    assert_eq!(h.read(&mut buf), Err(FsError::timed_out(path)));
    let mut h = ns
        .open(path, OpenFlags::read_only().with_nonblocking(true))
        .unwrap();
    assert_eq!(h.read(&mut buf), Err(FsError::would_block(path)));

    // A long wait, woken by the message.
    let slow = Arc::new(WsFs::builder().policy(policy()).build());
    let id = slow.open_connection("wss://relay.example.com/").unwrap();
    slow.set_connected(&id).unwrap();
    let reader = {
        let slow = Arc::clone(&slow);
        let path = format!("/conns/{id}/in");
        std::thread::spawn(move || read_file(&*slow, &path))
    };
    until("the reader blocks", || slow.status().waiting_readers == 1);
    slow.receive_message(&id, "ping").unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), b"text 4\nping");
    // A reader blocked on a connection that closes sees the end of the stream.
    let reader = {
        let slow = Arc::clone(&slow);
        let path = format!("/conns/{id}/in");
        std::thread::spawn(move || read_file(&*slow, &path))
    };
    until("the reader blocks", || slow.status().waiting_readers == 1);
    slow.set_closed(&id, None).unwrap();
    assert_eq!(reader.join().unwrap().unwrap(), b"");
}

#[test]
fn executors_wake_on_work_from_async_code() {
    let ws = Arc::new(WsFs::builder().policy(policy()).build());
    let executor = {
        let ws = Arc::clone(&ws);
        std::thread::spawn(move || {
            block_on(async {
                // Connect whatever is asked for, then echo one message.
                loop {
                    let listener = ws.work_listener();
                    for (id, _url) in ws.connecting_connections() {
                        ws.set_connected(&id).unwrap();
                    }
                    if let Some(id) = ws.outbox_ready().pop() {
                        for m in ws.drain_outbox(&id).unwrap() {
                            ws.receive_message(&id, m).unwrap();
                        }
                        return;
                    }
                    listener.await;
                }
            })
        })
    };
    let ns = mounted(&ws);
    let id = open(&ns, "wss://relay.example.com/");
    write_file(&ns, &format!("/cap/ws/conns/{id}/out"), "echo?").unwrap();
    assert_eq!(
        read_file(&ns, &format!("/cap/ws/conns/{id}/in")).unwrap(),
        b"text 5\necho?"
    );
    executor.join().unwrap();
}

#[test]
fn the_status_file_lists_connections() {
    let ws = Arc::new(WsFs::builder().policy(policy()).build());
    let ns = mounted(&ws);
    open(&ns, "wss://relay.example.com/a");
    let s = read_json(&ns, "/cap/ws/status").unwrap();
    assert_eq!(s["service"], "ws");
    assert_eq!(s["counters"]["connecting"], 1);
    assert_eq!(s["connections"][0]["url"], "wss://relay.example.com/a");
    assert_eq!(s["limits"]["max_outbox"], 64);
}

#[test]
fn with_max_closed_zero_a_closed_connection_is_forgotten_at_once() {
    let ws = WsFs::builder()
        .policy(policy())
        .limits(WsLimits::default().max_closed(0))
        .build();
    let a = ws.open_connection("wss://relay.example.com/").unwrap();
    let b = ws.open_connection("wss://relay.example.com/").unwrap();
    ws.set_closed(&a, Some("reset".into())).unwrap();
    assert_eq!(ws.connection_state(&a), None);
    assert_eq!(ws.connection_state(&b), Some(WsState::Connecting));
    assert_eq!(ws.status().closed, 0);
}

/// Reads `in` with `read(2)`-style calls of `chunk` bytes until one
/// returns 0: one message (header and payload), or nothing at the end.
fn read_in(ns: &Namespace, path: &str, chunk: usize) -> Vec<u8> {
    let mut h = ns.open(path, OpenFlags::read_only()).unwrap();
    let mut buf = vec![0u8; chunk];
    let mut out = Vec::new();
    loop {
        match h.read(&mut buf).unwrap() {
            0 => return out,
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn the_type_and_emptiness_of_messages_survive_the_files() {
    let ws = Arc::new(WsFs::builder().policy(policy()).build());
    let ns = mounted(&ws);
    let id = open(&ns, "wss://relay.example.com/");
    ws.set_connected(&id).unwrap();
    let out = format!("/cap/ws/conns/{id}/out");
    let out_bin = format!("/cap/ws/conns/{id}/out.bin");

    // Out: `write_file` of nothing (a truncating open, no write) and a
    // zero-length write each send one empty message; UTF-8-looking bytes
    // written to `out.bin` stay binary.
    write_file(&ns, &out, "").unwrap();
    write_file(&ns, &out_bin, b"").unwrap();
    let mut h = ns.open(&out, OpenFlags::write_only()).unwrap();
    assert_eq!(h.write(b"").unwrap(), 0);
    drop(h);
    // Opened without truncate and never written: no message.
    drop(ns.open(&out, OpenFlags::write_only()).unwrap());
    write_file(&ns, &out_bin, "hi").unwrap();
    write_file(&ns, &out, "hi").unwrap();
    // A truncating handle closed without flush or write: one empty message.
    drop(ns.open(&out_bin, OpenFlags::create_truncate()).unwrap());
    assert_eq!(
        ws.drain_outbox(&id).unwrap(),
        [
            Body::Text(String::new()),
            Body::Binary(Vec::new()),
            Body::Text(String::new()),
            Body::Binary(b"hi".to_vec()),
            Body::Text("hi".into()),
            Body::Binary(Vec::new()),
        ]
    );

    // In: every message has its header, the empty ones included.
    ws.receive_message(&id, Body::Text(String::new())).unwrap();
    ws.receive_message(&id, Body::Binary(Vec::new())).unwrap();
    ws.receive_message(&id, Body::Binary(b"hi".to_vec()))
        .unwrap();
    ws.receive_message(&id, Body::Text("hi".into())).unwrap();
    ws.receive_message(&id, Body::Text("caf\u{e9}".into()))
        .unwrap();
    let path = format!("/cap/ws/conns/{id}/in");
    assert_eq!(read_in(&ns, &path, 64), b"text 0\n");
    assert_eq!(read_in(&ns, &path, 3), b"binary 0\n");
    assert_eq!(read_in(&ns, &path, 1), b"binary 2\nhi");
    assert_eq!(read_in(&ns, &path, 64), b"text 2\nhi");
    assert_eq!(read_in(&ns, &path, 64), "text 5\ncaf\u{e9}".as_bytes());
    assert_eq!(
        frame_message(&Body::Binary(b"hi".to_vec())),
        b"binary 2\nhi"
    );

    // An empty message after the close is still read as one; then the end
    // of the connection reads as nothing at all, again and again.
    ws.receive_message(&id, Body::Text(String::new())).unwrap();
    ws.set_closed(&id, None).unwrap();
    assert_eq!(read_in(&ns, &path, 64), b"text 0\n");
    assert_eq!(read_in(&ns, &path, 64), b"");
    assert_eq!(read_in(&ns, &path, 64), b"");
    // Nothing can be sent any more, not even an empty message.
    assert_eq!(
        write_file(&ns, &out, ""),
        Err(FsError::io(&out, "connection `conn-1` is closed"))
    );
}
