//! The host's programmatic calls (trusted, recorded) beside the agent's file
//! writes (under the policy), starting from the design document's examples.
//! The facade's `tests/it/seed.rs` runs those examples verbatim; these tests
//! check, on this crate alone, what they leave unsaid: what was queued and
//! sent, what the files show, and that the agent's own writes are refused.

use std::collections::HashMap;
use std::error::Error;

use oanix_caps::{
    CapError, FailureKind, HttpFs, HttpLimits, HttpMethod, HttpOutcome, HttpRequest, HttpResponse,
    RecordLog, WsFs, WsState, now,
};
use oanix_vfs::{FsErrorKind, read_to_string, write_file};

type TestResult = Result<(), Box<dyn Error>>;

#[test]
fn the_http_example_runs_as_written() -> TestResult {
    let http = HttpFs::new();
    let request = HttpRequest {
        method: HttpMethod::Get,
        url: "https://api.example.com/data".to_string(),
        headers: HashMap::from([("Authorization".into(), "Bearer token".into())]),
        ..Default::default()
    };
    let req_id = http.submit_request(request);
    let pending = http.take_pending(&req_id)?;
    http.complete_request(HttpResponse {
        request_id: req_id.clone(),
        status: 200,
        status_text: "OK".to_string(),
        headers: HashMap::new(),
        body: r#"{"result": "success"}"#.to_string(),
        duration_ms: 150,
        completed_at: now(),
    })?;
    let response = http.get_response(&req_id)?;

    assert_eq!(pending.url.as_str(), "https://api.example.com/data");
    assert_eq!(
        pending.headers_to_send(),
        [("Authorization".to_owned(), "Bearer token".to_owned())]
    );
    let reply = response.response().ok_or("expected a response")?;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.as_bytes(), br#"{"result": "success"}"#);
    assert_eq!(reply.duration.as_millis(), 150);
    let file = read_to_string(&http, &format!("/responses/{req_id}.json"))?;
    let doc: serde_json::Value = serde_json::from_str(&file)?;
    assert_eq!(doc["status"], 200);
    assert_eq!(doc["duration_ms"], 150);
    assert_eq!(doc["body"], r#"{"result": "success"}"#);
    // The agent's own write stays under the (empty) policy.
    let e = write_file(
        &http,
        "/request",
        r#"{"url": "https://api.example.com/data"}"#,
    )
    .err()
    .map(|e| e.kind());
    assert_eq!(e, Some(FsErrorKind::PermissionDenied));
    Ok(())
}

#[test]
fn try_submit_applies_the_policy_and_returns_the_error() {
    let http = HttpFs::new();
    let e = http
        .try_submit(HttpRequest::get("https://api.example.com/"))
        .unwrap_err();
    assert_eq!(
        e,
        CapError::Refused("scheme `https` is not allowed (no scheme is)".into())
    );
    assert_eq!(http.status().queued, 0);
    assert_eq!(http.status().refused, 1);
}

#[test]
fn a_host_request_that_cannot_be_queued_fails_at_once_with_the_reason() {
    let log = RecordLog::new(10);
    let http = HttpFs::builder()
        .limits(HttpLimits::default().max_pending(1))
        .record_sink(log.sink())
        .build();
    let malformed = http.submit_request(HttpRequest::get("not a url"));
    match http.get_response(&malformed) {
        Ok(HttpOutcome::Failure(f)) => {
            assert_eq!(f.kind, FailureKind::Invalid);
            assert!(f.message.contains("field `url`"), "{}", f.message);
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    let first = http.submit_request(HttpRequest::get("https://a.example/"));
    let second = http.submit_request(HttpRequest::get("https://b.example/"));
    assert_ne!(first, second);
    assert!(http.take_pending(&first).is_ok());
    let f = http.get_response(&second).unwrap();
    let f = f.failure().unwrap();
    assert_eq!(f.kind, FailureKind::Refused);
    assert_eq!(f.message, "pending requests is full (capacity 1)");
    // A finished request cannot be taken; the error says how it ended.
    assert_eq!(
        http.take_pending(&second).unwrap_err().to_string(),
        "request `req-3` is already finished (refused: pending requests is full (capacity 1))"
    );
    // Pending: not there yet; never given: unknown.
    assert!(matches!(
        http.get_response(&first),
        Err(CapError::WouldBlock(_))
    ));
    assert!(matches!(
        http.get_response("req-99"),
        Err(CapError::UnknownId { .. })
    ));
    let records = log.records();
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r.outcome == oanix_caps::Outcome::Refused)
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(refused, [Some(malformed), Some(second)]);
}

#[test]
fn the_websocket_example_runs_as_written() -> TestResult {
    let ws = WsFs::new();
    let conn_id = ws.open_connection("wss://relay.example.com")?;
    ws.set_connected(&conn_id)?;
    ws.send_message(&conn_id, b"Hello WebSocket!".to_vec())?;
    let pending = ws.drain_outbox(&conn_id)?;
    ws.receive_message(&conn_id, b"Response".to_vec())?;
    let msg = ws.read_message(&conn_id)?;

    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].as_ref(), b"Hello WebSocket!");
    assert_eq!(msg.as_ref().map(AsRef::as_ref), Some(&b"Response"[..]));
    assert_eq!(ws.connection_state(&conn_id), Some(WsState::Open));
    // The host's URL must still be a WebSocket URL; the agent's write is
    // checked against the (empty) policy.
    assert!(matches!(
        ws.open_connection("https://relay.example.com"),
        Err(CapError::Invalid(_))
    ));
    assert!(matches!(
        ws.open_checked("wss://relay.example.com"),
        Err(CapError::Refused(_))
    ));
    let e = write_file(&ws, "/control", r#"{"url": "wss://relay.example.com"}"#)
        .err()
        .map(|e| e.kind());
    assert_eq!(e, Some(FsErrorKind::PermissionDenied));
    Ok(())
}

#[cfg(feature = "nostr")]
#[test]
fn the_nostr_example_runs_as_written() -> TestResult {
    use oanix_caps::NostrFs;

    let secret_key = [0u8; 32];
    let e = NostrFs::new(secret_key).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid key: not a valid secp256k1 secret key"
    );

    let nostr = NostrFs::generate()?;
    assert_eq!(nostr.pubkey().len(), 64);
    assert!(nostr.npub().starts_with("npub1"));
    let _ = nostr.add_relay("wss://relay.damus.io");
    let event = nostr.create_job_request(5050, "What is the capital of France?", HashMap::new())?;
    let pending = nostr.outbox_events();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].event.id, event.id);
    Ok(())
}
