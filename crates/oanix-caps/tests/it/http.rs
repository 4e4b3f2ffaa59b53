//! HttpFs through its files (mounted in a namespace, as an agent sees it) and
//! through its API (as an executor uses it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use oanix_caps::{
    Body, CapRecord, EgressPolicy, FailureKind, HttpFs, HttpLimits, HttpMethod, HttpReply,
    HttpRequest, HttpResponse, Outcome, RecordLog,
};
use oanix_vfs::{FileService, FsError, FsErrorKind, Namespace, OpenFlags, deadline, read_file};
use serde_json::json;

use crate::support::{block_on, read_json, send, until};

fn policy() -> EgressPolicy {
    EgressPolicy::allow_hosts(["api.example.com", "*.github.com"])
        .inject_header("api.example.com", "authorization", "Bearer TOPSECRET")
        .max_request_body(64)
        .build()
        .unwrap()
}

fn mounted(fs: &Arc<HttpFs>) -> Namespace {
    Namespace::builder()
        .mount("/cap/http", Arc::clone(fs))
        .build()
}

fn names(ns: &Namespace, dir: &str) -> Vec<String> {
    ns.readdir(dir)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect()
}

#[test]
fn the_tree_is_listed_sorted_and_typed() {
    let http = Arc::new(HttpFs::builder().policy(policy()).build());
    let ns = mounted(&http);
    assert_eq!(
        names(&ns, "/cap/http"),
        ["pending", "request", "responses", "status"]
    );
    assert!(ns.stat("/cap/http/pending").unwrap().is_dir());
    assert!(ns.stat("/cap/http/responses").unwrap().is_dir());
    let req = ns.stat("/cap/http/request").unwrap();
    assert!(req.is_file() && !req.readonly);
    assert!(ns.stat("/cap/http/status").unwrap().readonly);
    assert_eq!(http.fs_type(), "httpfs");
}

#[test]
fn an_agent_writes_a_request_and_reads_the_response() {
    let log = RecordLog::new(100);
    let http = Arc::new(
        HttpFs::builder()
            .policy(policy())
            .record_sink(log.sink())
            .build(),
    );
    let ns = mounted(&http);
    let id = send(
        &ns,
        "/cap/http/request",
        r#"{"method":"POST","url":"https://api.example.com/v1/items","headers":{"content-type":"application/json"},"body":"{\"a\":1}","timeout_ms":5000}"#,
    )
    .unwrap();
    assert_eq!(id, "req-1");
    assert_eq!(names(&ns, "/cap/http/pending"), ["req-1.json"]);
    let pending = read_json(&ns, "/cap/http/pending/req-1.json").unwrap();
    assert_eq!(pending["state"], "queued");
    assert_eq!(pending["method"], "POST");
    assert_eq!(pending["url"], "https://api.example.com/v1/items");
    assert_eq!(pending["timeout_ms"], 5000);
    assert_eq!(pending["body_bytes"], 7);

    // The executor's side.
    let work = http.take_pending_batch(8);
    assert_eq!(work.len(), 1);
    let p = &work[0];
    assert_eq!(p.request.method, HttpMethod::Post);
    assert_eq!(p.timeout, Duration::from_secs(5));
    assert!(
        p.headers_to_send()
            .contains(&("authorization".to_owned(), "Bearer TOPSECRET".to_owned()))
    );
    assert_eq!(
        read_json(&ns, "/cap/http/pending/req-1.json").unwrap()["state"],
        "in_flight"
    );
    http.complete_request(
        HttpResponse::new(&p.id, 201)
            .with_status_text("Created")
            .with_header("content-type", "application/json")
            .with_body(r#"{"id":9}"#)
            .with_duration(Duration::from_millis(12)),
    )
    .unwrap();

    let resp = read_json(&ns, "/cap/http/responses/req-1.json").unwrap();
    assert_eq!(resp["ok"], true);
    assert_eq!(resp["status"], 201);
    assert_eq!(resp["status_text"], "Created");
    assert_eq!(resp["headers"], json!({"content-type": "application/json"}));
    assert_eq!(resp["body"], r#"{"id":9}"#);
    assert_eq!(resp["duration_ms"], 12);
    assert!(names(&ns, "/cap/http/pending").is_empty());
    assert_eq!(names(&ns, "/cap/http/responses"), ["req-1.json"]);

    // The secret never reaches a file or a record.
    for path in ["/cap/http/status", "/cap/http/responses/req-1.json"] {
        let text = String::from_utf8(read_file(&ns, path).unwrap()).unwrap();
        assert!(!text.contains("TOPSECRET"), "{path}: {text}");
    }
    let records = log.records();
    let lines: Vec<String> = records.iter().map(CapRecord::to_json_line).collect();
    assert!(lines.iter().all(|l| !l.contains("TOPSECRET")));
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].action, "request");
    assert_eq!(records[0].outcome, Outcome::Queued);
    assert_eq!(records[0].id.as_deref(), Some("req-1"));
    assert_eq!(records[0].target, "https://api.example.com/v1/items");
    assert_eq!(records[0].bytes, 7);
    assert_eq!(
        records[0].digest.as_deref(),
        Some(oanix_caps::sha256_digest(br#"{"a":1}"#).as_str())
    );
    assert_eq!(records[1].action, "response");
    assert_eq!(records[1].outcome, Outcome::Ok);
    assert_eq!(records[1].detail.as_deref(), Some("status 201"));
    assert_eq!(records[1].bytes, 8);

    // Removing the response frees it.
    ns.remove("/cap/http/responses/req-1.json").unwrap();
    assert!(names(&ns, "/cap/http/responses").is_empty());
    assert_eq!(
        ns.stat("/cap/http/responses/req-1.json"),
        Err(FsError::not_found("/cap/http/responses/req-1.json"))
    );
}

#[test]
fn binary_bodies_and_failures_show_in_the_response_file() {
    let http = Arc::new(HttpFs::builder().policy(policy()).build());
    let ns = mounted(&http);
    let a = send(
        &ns,
        "/cap/http/request",
        r#"{"url":"https://raw.github.com/f","body_base64":"AP8="}"#,
    )
    .unwrap();
    let b = send(
        &ns,
        "/cap/http/request",
        r#"{"url":"https://api.github.com/"}"#,
    )
    .unwrap();
    let p = http.take_pending(&a).unwrap();
    assert_eq!(p.request.body, Body::Binary(vec![0, 255]));
    http.complete_request(HttpReply::new(&a, 200).with_body(vec![0u8, 159, 146, 150]))
        .unwrap();
    http.fail_request(&b, FailureKind::Connect, "connection refused")
        .unwrap();
    let ra = read_json(&ns, &format!("/cap/http/responses/{a}.json")).unwrap();
    assert_eq!(ra["body_base64"], "AJ+Slg==");
    assert!(ra.get("body").is_none());
    let rb = read_json(&ns, &format!("/cap/http/responses/{b}.json")).unwrap();
    assert_eq!(rb["ok"], false);
    assert_eq!(
        rb["error"],
        json!({"kind": "connect", "message": "connection refused"})
    );
}

/// Writes `msg` and expects `expected`, then checks nothing changed.
fn refused_write(http: &HttpFs, ns: &Namespace, msg: &str, expected: FsError) {
    let before = http.status();
    let listed = names(ns, "/cap/http/pending");
    let mut h = ns
        .open("/cap/http/request", OpenFlags::read_write())
        .unwrap();
    assert_eq!(h.write(msg.as_bytes()), Err(expected), "{msg}");
    // Nothing was queued and the handle has no id to give.
    let mut buf = [0u8; 16];
    assert_eq!(h.read(&mut buf), Ok(0));
    let after = http.status();
    assert_eq!(
        (after.queued, after.submitted),
        (before.queued, before.submitted)
    );
    assert_eq!(names(ns, "/cap/http/pending"), listed);
}

#[test]
fn malformed_requests_fail_the_write_and_change_nothing() {
    let http = Arc::new(HttpFs::builder().policy(policy()).build());
    let ns = mounted(&http);
    let p = "/cap/http/request";
    let cases = [
        (
            "not json",
            "not valid JSON (expected ident at line 1 column 2)",
        ),
        ("[]", "expected a JSON object, found an array"),
        (
            r#"{"method":"GET"}"#,
            "missing field `url` (expected a string)",
        ),
        (
            r#"{"url":["x"]}"#,
            "field `url`: expected a string, found an array",
        ),
        (
            r#"{"url":"https://api.example.com/","method":5}"#,
            "field `method`: expected a string, found a number",
        ),
        (
            r#"{"url":"https://api.example.com/","headers":{"a":1}}"#,
            "field `headers.a`: expected a string, found a number",
        ),
        (
            r#"{"url":"https://api.example.com/","timeout_ms":"5"}"#,
            "field `timeout_ms`: expected a non-negative integer, found a string",
        ),
        (
            r#"{"url":"https://api.example.com/","body":1}"#,
            "field `body`: expected a string, found a number",
        ),
        (
            r#"{"url":"/relative"}"#,
            "field `url`: not an absolute URL (relative URL without a base)",
        ),
    ];
    for (msg, why) in cases {
        refused_write(&http, &ns, msg, FsError::invalid_input(p, why));
    }
    assert_eq!(http.status().invalid, cases.len() as u64);
}

#[test]
fn the_policy_refuses_at_write_time_with_a_reason() {
    let log = RecordLog::new(100);
    let http = Arc::new(
        HttpFs::builder()
            .policy(policy())
            .record_sink(log.sink())
            .build(),
    );
    let ns = mounted(&http);
    let p = "/cap/http/request";
    let cases = [
        (
            r#"{"url":"http://api.example.com/"}"#,
            "scheme `http` is not allowed (allowed: https, wss)",
        ),
        (
            r#"{"url":"file:///etc/passwd"}"#,
            "scheme `file` is not allowed (allowed: https, wss)",
        ),
        (
            r#"{"url":"https://evil.example/"}"#,
            "host `evil.example` is not in the allow list",
        ),
        (
            r#"{"url":"https://github.com/"}"#,
            "host `github.com` is not in the allow list",
        ),
        (
            r#"{"url":"https://api.example.com:8080/"}"#,
            "port 8080 is not allowed (only the scheme's default port is)",
        ),
        (
            r#"{"url":"wss://api.example.com/"}"#,
            "scheme `wss` is not an http scheme",
        ),
    ];
    for (msg, why) in cases {
        refused_write(&http, &ns, msg, FsError::permission_denied(p, why));
    }
    // Oversize bodies: the policy's limit.
    let big = format!(
        r#"{{"url":"https://api.example.com/","body":"{}"}}"#,
        "x".repeat(65)
    );
    refused_write(&http, &ns, &big, FsError::too_large(p, 64));
    assert_eq!(http.status().refused, cases.len() as u64 + 1);
    // Wildcards allow subdomains at any depth.
    assert_eq!(
        send(&ns, p, r#"{"url":"https://a.b.github.com/"}"#).unwrap(),
        "req-1"
    );
    // Every refusal was recorded, with its reason.
    let refused: Vec<_> = log
        .records()
        .into_iter()
        .filter(|r| r.outcome == Outcome::Refused)
        .collect();
    assert_eq!(refused.len(), cases.len() + 1);
    assert_eq!(refused[2].target, "https://evil.example/");
    assert_eq!(
        refused[2].detail.as_deref(),
        Some("refused by policy: host `evil.example` is not in the allow list")
    );
}

#[test]
fn the_methods_of_the_policy_are_enforced_through_the_files() {
    let http = Arc::new(
        HttpFs::builder()
            .policy(
                EgressPolicy::allow_hosts(["api.example.com"])
                    .methods([HttpMethod::Get])
                    .build()
                    .unwrap(),
            )
            .build(),
    );
    let ns = mounted(&http);
    refused_write(
        &http,
        &ns,
        r#"{"method":"DELETE","url":"https://api.example.com/x"}"#,
        FsError::permission_denied("/cap/http/request", "method DELETE is not allowed"),
    );
}

#[test]
fn a_full_queue_fails_the_write_with_would_block() {
    let http = Arc::new(
        HttpFs::builder()
            .policy(policy())
            .limits(HttpLimits::default().max_pending(1))
            .build(),
    );
    let ns = mounted(&http);
    send(
        &ns,
        "/cap/http/request",
        r#"{"url":"https://api.example.com/"}"#,
    )
    .unwrap();
    refused_write(
        &http,
        &ns,
        r#"{"url":"https://api.example.com/"}"#,
        FsError::would_block("/cap/http/request"),
    );
    let id = http.take_pending_batch(1).remove(0).id;
    http.complete_request(HttpResponse::new(&id, 200)).unwrap();
    assert_eq!(
        send(
            &ns,
            "/cap/http/request",
            r#"{"url":"https://api.example.com/"}"#
        )
        .unwrap(),
        "req-2"
    );
}

#[test]
fn read_only_files_and_fixed_names_are_refused() {
    let http = Arc::new(HttpFs::builder().policy(policy()).build());
    let ns = mounted(&http);
    let id = send(
        &ns,
        "/cap/http/request",
        r#"{"url":"https://api.example.com/"}"#,
    )
    .unwrap();
    let pending = format!("/cap/http/pending/{id}.json");
    let response = format!("/cap/http/responses/{id}.json");
    for path in ["/cap/http/status", pending.as_str(), response.as_str()] {
        assert_eq!(
            ns.open(path, OpenFlags::write_only()).err(),
            Some(FsError::read_only(path)),
            "{path}"
        );
        assert_eq!(
            ns.open(path, OpenFlags::create_truncate()).err(),
            Some(FsError::read_only(path))
        );
    }
    let fixed = |p: &str| FsError::permission_denied(p, "the files of this service are fixed");
    assert_eq!(ns.mkdir("/cap/http/new"), Err(fixed("/cap/http/new")));
    assert_eq!(
        ns.remove("/cap/http/status"),
        Err(fixed("/cap/http/status"))
    );
    assert_eq!(
        ns.remove("/cap/http/pending"),
        Err(fixed("/cap/http/pending"))
    );
    assert_eq!(ns.remove(&pending), Err(fixed(&pending)));
    assert_eq!(
        ns.remove(&response),
        Err(FsError::permission_denied(
            &response,
            "the response has not arrived yet"
        ))
    );
    assert_eq!(
        ns.rename("/cap/http/status", "/cap/http/s2"),
        Err(fixed("/cap/http/status"))
    );
    assert_eq!(
        ns.open("/cap/http/new", OpenFlags::create_truncate()).err(),
        Some(fixed("/cap/http/new"))
    );
    assert_eq!(
        ns.open(
            "/cap/http/request",
            OpenFlags::read_write().with_create_new(true)
        )
        .err(),
        Some(FsError::already_exists("/cap/http/request"))
    );
    assert_eq!(
        ns.open("/cap/http/pending", OpenFlags::write_only()).err(),
        Some(FsError::is_a_directory("/cap/http/pending"))
    );
    assert_eq!(
        ns.stat("/cap/http/status/x").err(),
        Some(FsError::not_a_directory("/cap/http/status/x"))
    );
    assert_eq!(
        ns.stat("/cap/http/request/").err(),
        Some(FsError::not_a_directory("/cap/http/request"))
    );
    // Unknown ids do not exist.
    for path in [
        "/cap/http/pending/req-77.json",
        "/cap/http/responses/req-77.json",
        "/cap/http/responses/req-1",
    ] {
        assert_eq!(
            ns.open(path, OpenFlags::read_only()).err(),
            Some(FsError::not_found(path))
        );
    }
    // A handle opened for writing only cannot read back the id.
    let mut h = ns
        .open("/cap/http/request", OpenFlags::write_only())
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(h.read(&mut buf).unwrap_err().kind(), FsErrorKind::BadHandle);
    // A handle opened for reading only cannot write a request.
    let mut h = ns
        .open("/cap/http/request", OpenFlags::read_only())
        .unwrap();
    assert_eq!(h.write(b"{}").unwrap_err().kind(), FsErrorKind::BadHandle);
    assert_eq!(http.status().submitted, 1);
}

#[test]
fn a_blocking_read_is_woken_by_the_completion() {
    let http = Arc::new(HttpFs::builder().policy(policy()).build());
    let ns = Arc::new(mounted(&http));
    let id = send(
        &*ns,
        "/cap/http/request",
        r#"{"url":"https://api.example.com/slow"}"#,
    )
    .unwrap();
    let reader = {
        let ns = Arc::clone(&ns);
        let path = format!("/cap/http/responses/{id}.json");
        std::thread::spawn(move || read_json(&*ns, &path))
    };
    until("the reader blocks", || http.status().waiting_readers == 1);
    http.take_pending(&id).unwrap();
    http.complete_request(HttpResponse::new(&id, 200).with_body("late"))
        .unwrap();
    let resp = reader.join().unwrap().unwrap();
    assert_eq!(resp["body"], "late");
    assert_eq!(http.status().waiting_readers, 0);
}

#[test]
fn blocking_reads_time_out_and_nonblocking_reads_do_not_wait() {
    let http = Arc::new(
        HttpFs::builder()
            .policy(policy())
            .limits(HttpLimits::default().wait(Duration::from_millis(30)))
            .build(),
    );
    let ns = mounted(&http);
    let id = send(
        &ns,
        "/cap/http/request",
        r#"{"url":"https://api.example.com/"}"#,
    )
    .unwrap();
    let path = format!("/cap/http/responses/{id}.json");
    let mut buf = [0u8; 64];
    let mut h = ns.open(&path, OpenFlags::read_only()).unwrap();
    assert_eq!(h.read(&mut buf), Err(FsError::timed_out(&path)));
    let mut h = ns
        .open(&path, OpenFlags::read_only().with_nonblocking(true))
        .unwrap();
    assert_eq!(h.read(&mut buf), Err(FsError::would_block(&path)));
    // A thread deadline cuts a long wait short.
    let slow = HttpFs::builder().policy(policy()).build();
    let id = slow
        .try_submit(HttpRequest::get("https://api.example.com/"))
        .unwrap();
    let start = Instant::now();
    let r = deadline::scoped(start + Duration::from_millis(20), || {
        let mut h = slow
            .open(&format!("/responses/{id}.json"), OpenFlags::read_only())
            .unwrap();
        h.read(&mut buf)
    });
    assert_eq!(r.unwrap_err().kind(), FsErrorKind::TimedOut);
    assert!(start.elapsed() < Duration::from_secs(30));
    // The same handle reads the response once it is there.
    http.complete_request(HttpResponse::new("req-1", 204))
        .unwrap();
    let mut h = ns
        .open(&path, OpenFlags::read_only().with_nonblocking(true))
        .unwrap();
    let mut out = Vec::new();
    oanix_vfs::read_to_end(h.as_mut(), &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("\"status\": 204"));
}

#[test]
fn executors_are_woken_without_polling_from_async_code() {
    let http = Arc::new(HttpFs::builder().policy(policy()).build());
    let executor = {
        let http = Arc::clone(&http);
        std::thread::spawn(move || {
            block_on(async {
                loop {
                    let listener = http.work_listener();
                    let batch = http.take_pending_batch(4);
                    if batch.is_empty() {
                        listener.await;
                        continue;
                    }
                    for p in batch {
                        http.complete_request(
                            HttpResponse::new(&p.id, 200).with_body(p.url.path()),
                        )
                        .unwrap();
                    }
                    return;
                }
            })
        })
    };
    let ns = mounted(&http);
    let id = send(
        &ns,
        "/cap/http/request",
        r#"{"url":"https://api.example.com/ping"}"#,
    )
    .unwrap();
    let resp = read_json(&ns, &format!("/cap/http/responses/{id}.json")).unwrap();
    assert_eq!(resp["body"], "/ping");
    executor.join().unwrap();
}

#[test]
fn api_waits_and_unknown_ids() {
    let http = HttpFs::builder().policy(policy()).build();
    assert!(matches!(
        http.wait_response("req-5", Duration::from_secs(5)),
        Err(oanix_caps::CapError::UnknownId { .. })
    ));
    let id = http
        .try_submit(HttpRequest::get("https://api.example.com/"))
        .unwrap();
    assert_eq!(
        http.wait_response(&id, Duration::from_millis(5)),
        Err(oanix_caps::CapError::TimedOut(format!("response to {id}")))
    );
    assert!(http.fail_request("req-9", FailureKind::Other, "x").is_err());
    http.fail_request(&id, FailureKind::Cancelled, "shutting down")
        .unwrap();
    let o = http.wait_response(&id, Duration::from_secs(5)).unwrap();
    assert_eq!(o.failure().unwrap().message, "shutting down");
    assert!(http.remove_response(&id).is_some());
    assert!(http.get_response(&id).is_err());
}

#[test]
fn the_status_file_shows_counters_limits_and_policy() {
    let http = Arc::new(HttpFs::builder().policy(policy()).build());
    let ns = mounted(&http);
    send(
        &ns,
        "/cap/http/request",
        r#"{"url":"https://api.example.com/"}"#,
    )
    .unwrap();
    let _ = send(
        &ns,
        "/cap/http/request",
        r#"{"url":"https://nope.example/"}"#,
    );
    let s = read_json(&ns, "/cap/http/status").unwrap();
    assert_eq!(s["service"], "http");
    assert_eq!(s["counters"]["queued"], 1);
    assert_eq!(s["counters"]["refused"], 1);
    assert_eq!(s["limits"]["max_pending"], 64);
    assert_eq!(
        s["policy"]["hosts"],
        json!(["api.example.com", "*.github.com"])
    );
    assert_eq!(s["policy"]["max_request_body"], 64);
    assert!(s["policy"].get("inject").is_none());
}

#[test]
fn the_default_service_refuses_everything() {
    let http = HttpFs::new();
    assert_eq!(
        http.try_submit(HttpRequest::get("https://example.com/")),
        Err(oanix_caps::CapError::refused(
            "scheme `https` is not allowed (no scheme is)"
        ))
    );
    assert_eq!(http.status().refused, 1);
}

#[test]
fn a_record_sink_may_call_back_into_the_service() {
    let http = HttpFs::builder().policy(policy()).build();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    {
        let (svc, seen) = (http.clone(), Arc::clone(&seen));
        http.set_record_sink(Some(Arc::new(move |r: &CapRecord| {
            // Records are delivered outside the service's lock.
            seen.lock()
                .unwrap()
                .push((r.action.as_str().to_owned(), svc.status().queued));
        })));
    }
    let id = http
        .try_submit(HttpRequest::get("https://api.example.com/"))
        .unwrap();
    http.complete_request(HttpResponse::new(&id, 200)).unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [("request".to_owned(), 1), ("response".to_owned(), 0)]
    );
    http.set_record_sink(None);
}
