//! Unit tests of HttpFs: message parsing, validation and the request lifecycle.

use super::*;

fn fs() -> HttpFs {
    HttpFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["api.example.com"])
                .build()
                .unwrap(),
        )
        .limits(HttpLimits::default().max_pending(2).max_message(4096))
        .build()
}

fn invalid(fs: &HttpFs, msg: &str) -> String {
    match fs.submit_message(msg.as_bytes()) {
        Err(CapError::Invalid(m)) => m,
        other => panic!("expected Invalid for {msg}, got {other:?}"),
    }
}

#[test]
fn parse_request_reads_every_field() {
    let fs = fs();
    let r = fs
        .parse_request(
            br#"{"method":"post","url":"https://api.example.com/x","headers":{"accept":"text/plain"},"body_base64":"AAEC","timeout_ms":1500}"#,
        )
        .unwrap();
    assert_eq!(r.method, HttpMethod::Post);
    assert_eq!(r.body, Body::Binary(vec![0, 1, 2]));
    assert_eq!(r.timeout, Some(Duration::from_millis(1500)));
    assert_eq!(r.headers["accept"], "text/plain");
    let r = fs
        .parse_request(br#"{"url":"https://api.example.com/"}"#)
        .unwrap();
    assert_eq!(r.method, HttpMethod::Get);
    assert_eq!(r.body, Body::default());
}

#[test]
fn malformed_messages_say_what_is_wrong() {
    let fs = fs();
    assert_eq!(
        invalid(&fs, "{}"),
        "missing field `url` (expected a string)"
    );
    assert_eq!(
        invalid(&fs, r#"{"url": 7}"#),
        "field `url`: expected a string, found a number"
    );
    assert_eq!(
        invalid(&fs, r#"{"url":"https://api.example.com/","method":"BREW"}"#),
        "field `method`: `BREW` is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
    );
    assert_eq!(
        invalid(&fs, r#"{"url":"https://api.example.com/","headers":["a"]}"#),
        "field `headers`: expected an object of strings, found an array"
    );
    assert_eq!(
        invalid(
            &fs,
            r#"{"url":"https://api.example.com/","body":"a","body_base64":"YQ=="}"#
        ),
        "fields `body` and `body_base64` cannot both be given"
    );
    assert!(
        invalid(
            &fs,
            r#"{"url":"https://api.example.com/","body_base64":"!!"}"#
        )
        .starts_with("field `body_base64`: not valid base64")
    );
    assert_eq!(
        invalid(&fs, r#"{"url":"https://api.example.com/","timeout_ms":0}"#),
        "field `timeout_ms`: expected a positive number of milliseconds, found 0"
    );
    assert_eq!(
        invalid(
            &fs,
            r#"{"url":"https://api.example.com/","timeout_ms":999999999}"#
        ),
        "field `timeout_ms`: at most 300000 ms, found 999999999"
    );
    assert_eq!(
        invalid(
            &fs,
            r#"{"url":"https://api.example.com/","headers":{"Host":"evil"}}"#
        ),
        "field `headers.Host`: set by the executor, not by the request"
    );
    assert_eq!(
        invalid(
            &fs,
            r#"{"url":"https://api.example.com/","headers":{"x":"a\r\nb: c"}}"#
        ),
        "field `headers.x`: the value has a line break or NUL"
    );
    assert_eq!(
        invalid(
            &fs,
            r#"{"url":"https://api.example.com/","headers":{"a b":"c"}}"#
        ),
        "field `headers`: `a b` is not a valid header name"
    );
    assert_eq!(
        invalid(&fs, r#"{"url":"https://api.example.com/","verb":"GET"}"#),
        "unknown field `verb` (expected one of: method, url, headers, body, body_base64, timeout_ms)"
    );
    let big = format!(
        r#"{{"url":"https://api.example.com/","body":"{}"}}"#,
        "a".repeat(5000)
    );
    assert_eq!(
        fs.submit_message(big.as_bytes()),
        Err(CapError::TooLarge {
            what: "message",
            limit: 4096
        })
    );
    let st = fs.status();
    assert_eq!((st.submitted, st.queued), (0, 0));
    assert!(st.invalid >= 12);
}

#[test]
fn lifecycle_take_complete_fail() {
    let fs = fs();
    let a = fs
        .try_submit(HttpRequest::get("https://api.example.com/a"))
        .unwrap();
    let b = fs
        .try_submit(HttpRequest::get("https://api.example.com/b"))
        .unwrap();
    assert_eq!((a.as_str(), b.as_str()), ("req-1", "req-2"));
    assert_eq!(
        fs.try_submit(HttpRequest::get("https://api.example.com/c")),
        Err(CapError::QueueFull {
            what: "pending requests".into(),
            capacity: 2
        })
    );
    assert_eq!(fs.queued_ids(), [a.clone(), b.clone()]);
    let p = fs.take_pending(&b).unwrap();
    assert_eq!(p.url.as_str(), "https://api.example.com/b");
    assert_eq!(p.timeout, Duration::from_secs(30));
    assert!(matches!(
        fs.take_pending(&b),
        Err(CapError::WrongState { .. })
    ));
    assert!(matches!(
        fs.take_pending("req-9"),
        Err(CapError::UnknownId { .. })
    ));
    let batch = fs.take_pending_batch(10);
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].id, a);
    assert!(!fs.has_pending());
    fs.complete_request(HttpResponse::new(&a, 200).with_body("hi"))
        .unwrap();
    fs.fail_request(&b, FailureKind::Timeout, "no answer in 30 s")
        .unwrap();
    assert_eq!(
        fs.get_response(&a).unwrap().response().unwrap().body,
        Body::from("hi")
    );
    let f = fs.get_response(&b).unwrap();
    assert_eq!(f.failure().unwrap().kind, FailureKind::Timeout);
    assert!(matches!(
        fs.complete_request(HttpResponse::new(&a, 200)),
        Err(CapError::UnknownId { .. })
    ));
    let st = fs.status();
    assert_eq!((st.completed, st.failed, st.responses), (1, 1, 2));
}

#[test]
fn oversize_responses_are_refused_without_change() {
    let fs = HttpFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["api.example.com"])
                .max_response_body(3)
                .build()
                .unwrap(),
        )
        .build();
    let id = fs
        .try_submit(HttpRequest::get("https://api.example.com/"))
        .unwrap();
    assert_eq!(
        fs.complete_request(HttpResponse::new(&id, 200).with_body("four")),
        Err(CapError::TooLarge {
            what: "response body",
            limit: 3
        })
    );
    assert!(matches!(fs.get_response(&id), Err(CapError::WouldBlock(_))));
    assert_eq!(fs.status().queued, 1);
}

#[test]
fn responses_are_bounded_oldest_first() {
    let fs = HttpFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["api.example.com"])
                .build()
                .unwrap(),
        )
        .limits(HttpLimits::default().max_responses(2))
        .build();
    let ids: Vec<String> = (0..3)
        .map(|_| {
            let id = fs
                .try_submit(HttpRequest::get("https://api.example.com/"))
                .unwrap();
            fs.complete_request(HttpResponse::new(&id, 204)).unwrap();
            id
        })
        .collect();
    assert!(fs.get_response(&ids[0]).is_err());
    assert!(fs.get_response(&ids[2]).is_ok());
    assert_eq!(fs.status().evicted, 1);
}

#[test]
fn injected_headers_replace_the_agents_own() {
    let fs = HttpFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["api.example.com"])
                .inject_header("api.example.com", "Authorization", "Bearer secret")
                .build()
                .unwrap(),
        )
        .build();
    let id = fs
        .try_submit(
            HttpRequest::get("https://api.example.com/")
                .with_header("authorization", "mine")
                .with_header("accept", "*/*"),
        )
        .unwrap();
    let p = fs.take_pending(&id).unwrap();
    assert_eq!(
        p.headers_to_send(),
        [
            ("accept".to_owned(), "*/*".to_owned()),
            ("authorization".to_owned(), "Bearer secret".to_owned())
        ]
    );
    assert_eq!(p.request.headers["authorization"], "mine");
}

#[test]
fn max_pending_bounds_the_queued_and_the_in_flight_together() {
    let fs = fs();
    let get = || HttpRequest::get("https://api.example.com/");
    let a = fs.try_submit(get()).unwrap();
    let b = fs.try_submit(get()).unwrap();
    // Taken out of order: the one left queued keeps its place.
    assert_eq!(fs.take_pending(&b).unwrap().id, b);
    assert_eq!(fs.queued_ids(), std::slice::from_ref(&a));
    let s = fs.status();
    assert_eq!((s.queued, s.in_flight), (1, 1));
    let full = Err(CapError::QueueFull {
        what: "pending requests".into(),
        capacity: 2,
    });
    assert_eq!(fs.try_submit(get()), full);
    assert_eq!(fs.status().refused, 1);
    // A queued request that fails leaves the queue and frees its place.
    fs.fail_request(&a, FailureKind::Cancelled, "stopped")
        .unwrap();
    assert!(fs.queued_ids().is_empty());
    let c = fs.try_submit(get()).unwrap();
    assert_eq!(fs.try_submit(get()), full);
    // An answered request in flight frees its place too.
    fs.complete_request(HttpResponse::new(&b, 200)).unwrap();
    let d = fs.try_submit(get()).unwrap();
    assert_eq!(fs.queued_ids(), [c.clone(), d.clone()]);
    let taken: Vec<String> = fs.take_pending_batch(8).into_iter().map(|p| p.id).collect();
    assert_eq!(taken, [c, d]);
    let s = fs.status();
    assert_eq!((s.queued, s.in_flight, s.completed, s.failed), (0, 2, 1, 1));
}
