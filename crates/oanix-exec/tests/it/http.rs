//! HttpExecutor against wiremock and against a server that misbehaves on
//! purpose: timeouts, retries, redirects, body limits, the SSRF guard and
//! shutdown.

use std::time::Duration;

use oanix_caps::{
    Body, EgressPolicy, FailureKind, HttpFs, HttpLimits, HttpMethod, HttpOutcome, HttpRequest,
    Outcome, RecordLog,
};
use oanix_exec::{ExecutorConfig, ExecutorManager, RetryPolicy};

use crate::support::{PATIENCE, RawServer, fast_config, local_policy};

fn start(http: &HttpFs, config: ExecutorConfig) -> ExecutorManager {
    let mut m = ExecutorManager::new(config).unwrap();
    m.attach_http(http);
    m.start().unwrap();
    m
}

fn run(http: &HttpFs, request: HttpRequest) -> HttpOutcome {
    let id = http.try_submit(request).unwrap();
    http.wait_response(&id, PATIENCE).unwrap()
}

fn failure(outcome: &HttpOutcome) -> (FailureKind, String) {
    let f = outcome
        .failure()
        .unwrap_or_else(|| panic!("expected a failure, got {outcome:?}"));
    (f.kind, f.message.clone())
}

#[test]
fn wiremock_get_post_and_injected_headers() {
    use wiremock::matchers::{body_string, header, method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("GET"))
            .and(path("/items"))
            .and(header("authorization", "Bearer s3cret"))
            .and(header("accept", "application/json"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("x-kind", "items")
                    .set_body_string("[1,2,3]"),
            )
            .mount(&server),
    );
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/items"))
            .and(body_string("{\"n\":4}"))
            .respond_with(ResponseTemplate::new(201).set_body_bytes(vec![0xffu8, 0]))
            .mount(&server),
    );
    let port = server.address().port();
    let log = RecordLog::new(100);
    let http = HttpFs::builder()
        .policy(
            local_policy(port)
                .to_builder()
                .inject_header("127.0.0.1", "authorization", "Bearer s3cret")
                .build()
                .unwrap(),
        )
        .record_sink(log.sink())
        .build();
    let m = start(&http, fast_config().build());

    let get = run(
        &http,
        HttpRequest::get(format!("{}/items", server.uri()))
            .with_header("accept", "application/json"),
    );
    let r = get.response().expect("a response");
    assert_eq!(r.status, 200);
    assert_eq!(r.status_text, "OK");
    assert_eq!(r.body, Body::Text("[1,2,3]".into()));
    assert_eq!(r.headers.get("x-kind").map(String::as_str), Some("items"));

    let post = run(
        &http,
        HttpRequest::post(format!("{}/items", server.uri()), "{\"n\":4}"),
    );
    let r = post.response().expect("a response");
    assert_eq!(r.status, 201);
    assert_eq!(r.body, Body::Binary(vec![0xff, 0]));

    m.shutdown().unwrap();
    let records = log.records();
    assert!(
        records
            .iter()
            .any(|r| r.action == "response" && r.outcome == Outcome::Ok)
    );
    assert!(records.iter().all(|r| !r.to_json_line().contains("s3cret")));
}

#[test]
fn connections_are_reused() {
    let server = RawServer::start();
    let http = HttpFs::builder().policy(local_policy(server.port)).build();
    let m = start(&http, fast_config().build());
    for _ in 0..10 {
        let out = run(&http, HttpRequest::get(server.url("/hello")));
        assert_eq!(out.response().map(|r| r.status), Some(200));
    }
    // One connection as a rule; the pool may open another when the next
    // request comes before the connection's task has put it back (a busy
    // machine), never one per request.
    let opened = server.connections.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=3).contains(&opened),
        "10 requests opened {opened} connections"
    );
    m.shutdown().unwrap();
}

#[test]
fn a_hanging_server_times_out_and_only_safe_requests_are_retried() {
    let server = RawServer::start();
    let http = HttpFs::builder().policy(local_policy(server.port)).build();
    let config = fast_config()
        .http_timeout(Duration::from_millis(200))
        .http_retry(RetryPolicy::exponential(2, Duration::from_millis(10)).without_jitter())
        .build();
    let m = start(&http, config);

    // GET is idempotent: three attempts of 200 ms, then the failure.
    let get = run(
        &http,
        HttpRequest::get(server.url("/hang")).with_timeout(Duration::from_secs(10)),
    );
    let (kind, message) = failure(&get);
    assert_eq!(kind, FailureKind::Timeout, "{message}");
    assert!(message.contains("within 200 ms"), "{message}");
    assert_eq!(server.count("/hang"), 3);

    // POST is not: one attempt.
    let post = run(
        &http,
        HttpRequest::post(server.url("/hang"), "x").with_timeout(Duration::from_secs(10)),
    );
    assert_eq!(failure(&post).0, FailureKind::Timeout);
    assert_eq!(server.count("/hang"), 4);

    // The request's own timeout bounds everything.
    let short = run(
        &http,
        HttpRequest::get(server.url("/hang")).with_timeout(Duration::from_millis(100)),
    );
    let (kind, message) = failure(&short);
    assert_eq!(kind, FailureKind::Timeout);
    assert!(message.contains("no complete response"), "{message}");
    m.shutdown().unwrap();
}

#[test]
fn a_slow_body_times_out() {
    let server = RawServer::start();
    let http = HttpFs::builder().policy(local_policy(server.port)).build();
    let m = start(
        &http,
        fast_config()
            .http_retry(RetryPolicy::none())
            .http_timeout(Duration::from_millis(300))
            .build(),
    );
    let out = run(&http, HttpRequest::get(server.url("/slow-body")));
    assert_eq!(failure(&out).0, FailureKind::Timeout);
    m.shutdown().unwrap();
}

#[test]
fn an_early_close_fails_with_the_reason() {
    let server = RawServer::start();
    let http = HttpFs::builder().policy(local_policy(server.port)).build();
    let m = start(&http, fast_config().build());
    let out = run(&http, HttpRequest::get(server.url("/early-close")));
    let (kind, message) = failure(&out);
    assert_eq!(kind, FailureKind::Protocol, "{message}");
    assert!(message.contains("broke off"), "{message}");
    // Idempotent: tried three times.
    assert_eq!(server.count("/early-close"), 3);
    m.shutdown().unwrap();
}

#[test]
fn redirects_are_followed_with_a_hop_limit() {
    let server = RawServer::start();
    let log = RecordLog::new(100);
    let http = HttpFs::builder()
        .policy(local_policy(server.port))
        .record_sink(log.sink())
        .build();
    let m = start(&http, fast_config().http_max_redirects(5).build());
    let ok = run(&http, HttpRequest::get(server.url("/redirect")));
    let r = ok.response().expect("a response");
    assert_eq!((r.status, r.body.as_bytes()), (200, &b"hello"[..]));
    assert!(log.records().iter().any(|r| r.action == "redirect"));

    let looped = run(&http, HttpRequest::get(server.url("/loop-a")));
    let (kind, message) = failure(&looped);
    assert_eq!(kind, FailureKind::Protocol);
    assert!(
        message.contains("too many redirects (more than 5)"),
        "{message}"
    );
    assert_eq!(server.count("/loop-a") + server.count("/loop-b"), 6);
    m.shutdown().unwrap();
}

#[test]
fn a_redirect_to_the_metadata_address_is_refused() {
    let server = RawServer::start();
    // Any host is allowed by name: the address check is what refuses.
    let policy = EgressPolicy::allow_hosts(["*"])
        .schemes(["http"])
        .ports([server.port])
        .allow_loopback(true)
        .build()
        .unwrap();
    let log = RecordLog::new(100);
    let http = HttpFs::builder()
        .policy(policy)
        .record_sink(log.sink())
        .build();
    let m = start(&http, fast_config().build());
    let out = run(&http, HttpRequest::get(server.url("/metadata")));
    let (kind, message) = failure(&out);
    assert_eq!(kind, FailureKind::Refused);
    assert!(message.contains("169.254.169.254"), "{message}");
    assert!(message.contains("link-local"), "{message}");
    assert!(
        log.records()
            .iter()
            .any(|r| r.action == "redirect" && r.outcome == Outcome::Refused)
    );
    m.shutdown().unwrap();
}

#[test]
fn redirects_with_non_ascii_locations_are_refused_like_any_other() {
    let server = RawServer::start();
    let policy = EgressPolicy::allow_hosts(["*"])
        .schemes(["http"])
        .ports([server.port])
        .allow_loopback(true)
        .build()
        .unwrap();
    let log = RecordLog::new(100);
    let http = HttpFs::builder()
        .policy(policy)
        .record_sink(log.sink())
        .build();
    let m = start(&http, fast_config().build());
    // 169.254.169.254 in full-width digits: the same address, refused the
    // same way (not handed back as a bare 302).
    let out = run(&http, HttpRequest::get(server.url("/fullwidth")));
    let (kind, message) = failure(&out);
    assert_eq!(kind, FailureKind::Refused, "{message}");
    assert!(message.contains("169.254.169.254"), "{message}");
    assert!(message.contains("link-local"), "{message}");
    // A location that is not UTF-8 cannot be followed or checked: refused,
    // naming what was sent.
    let out = run(&http, HttpRequest::get(server.url("/not-utf8")));
    let (kind, message) = failure(&out);
    assert_eq!(kind, FailureKind::Refused, "{message}");
    assert!(message.contains("/h\u{fffd}llo"), "{message}");
    let refused = log
        .records()
        .iter()
        .filter(|r| r.action == "redirect" && r.outcome == Outcome::Refused)
        .count();
    assert_eq!(refused, 2);
    // Neither target was contacted: the server saw only the two requests.
    let seen = server.requests.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    m.shutdown().unwrap();
}

#[test]
fn names_resolving_to_refused_addresses_are_refused_when_connecting() {
    let server = RawServer::start();
    // `localhost` is allowed by name, but loopback is not allowed.
    let policy = EgressPolicy::allow_hosts(["localhost"])
        .schemes(["http"])
        .ports([server.port])
        .build()
        .unwrap();
    let http = HttpFs::builder().policy(policy).build();
    let m = start(&http, fast_config().build());
    let out = run(
        &http,
        HttpRequest::get(format!("http://localhost:{}/hello", server.port)),
    );
    let (kind, message) = failure(&out);
    assert_eq!(kind, FailureKind::Refused);
    assert!(
        message.contains("`localhost` resolves only to refused addresses"),
        "{message}"
    );
    assert!(message.contains("loopback"), "{message}");
    assert_eq!(server.count("/hello"), 0);
    // Literal forms of loopback hidden in IPv6 are refused when written.
    let hidden = EgressPolicy::allow_hosts(["*"])
        .schemes(["http"])
        .ports([server.port])
        .build()
        .unwrap();
    for url in [
        format!("http://[::ffff:127.0.0.1]:{}/", server.port),
        format!("http://[::ffff:a9fe:a9fe]:{}/", server.port),
        format!("http://[64:ff9b::7f00:1]:{}/", server.port),
    ] {
        assert!(
            hidden.check_http(HttpMethod::Get, &url, 0).is_err(),
            "{url} should be refused"
        );
    }
    m.shutdown().unwrap();
}

#[test]
fn response_bodies_are_capped_by_the_policy() {
    let server = RawServer::start();
    let http = HttpFs::builder()
        .policy(
            local_policy(server.port)
                .to_builder()
                .max_response_body(1 << 20)
                .build()
                .unwrap(),
        )
        .build();
    let m = start(&http, fast_config().build());
    for path in ["/big", "/big-chunked"] {
        let out = run(&http, HttpRequest::get(server.url(path)));
        let (kind, message) = failure(&out);
        assert_eq!(kind, FailureKind::TooLarge, "{path}: {message}");
        assert!(message.contains("1048576 bytes"), "{message}");
        // Never retried.
        assert_eq!(server.count(path), 1);
    }
    m.shutdown().unwrap();
}

#[test]
fn server_errors_are_retried_until_success() {
    let server = RawServer::start();
    let log = RecordLog::new(100);
    let http = HttpFs::builder()
        .policy(local_policy(server.port))
        .record_sink(log.sink())
        .build();
    let m = start(&http, fast_config().build());
    let out = run(&http, HttpRequest::get(server.url("/flaky")));
    let r = out.response().expect("a response");
    assert_eq!((r.status, r.body.as_bytes()), (200, &b"recovered"[..]));
    assert_eq!(server.count("/flaky"), 3);
    let retries: Vec<_> = log
        .records()
        .into_iter()
        .filter(|r| r.action == "retry")
        .collect();
    assert_eq!(retries.len(), 2);
    assert!(
        retries[0]
            .detail
            .as_deref()
            .unwrap_or("")
            .contains("status 503")
    );
    m.shutdown().unwrap();
}

#[test]
fn agent_credentials_do_not_follow_a_redirect_to_another_origin() {
    let a = RawServer::start();
    let http = HttpFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["127.0.0.1"])
                .schemes(["http"])
                .ports([a.port])
                .allow_loopback(true)
                .build()
                .unwrap(),
        )
        .build();
    let m = start(&http, fast_config().build());
    let out = run(
        &http,
        HttpRequest::get(a.url("/echo"))
            .with_header("authorization", "Bearer agent")
            .with_header("x-trace", "1"),
    );
    let r = out.response().expect("a response");
    assert_eq!(
        r.headers.get("x-seen-authorization").map(String::as_str),
        Some("Bearer agent")
    );
    assert!(
        r.headers
            .get("x-seen-user-agent")
            .is_some_and(|v| v.starts_with("oanix-exec/"))
    );
    m.shutdown().unwrap();
}

#[test]
fn shutdown_fails_in_flight_and_queued_requests_with_a_reason() {
    let server = RawServer::start();
    let http = HttpFs::builder()
        .policy(local_policy(server.port))
        .limits(HttpLimits::default().max_timeout(Duration::from_secs(600)))
        .build();
    let config = fast_config()
        .http_max_concurrent(1)
        .http_timeout(Duration::from_secs(300))
        .shutdown_grace(Duration::from_millis(100))
        .build();
    let m = start(&http, config);
    let hung = http
        .try_submit(HttpRequest::get(server.url("/hang")).with_timeout(Duration::from_secs(300)))
        .unwrap();
    server.wait_hang();
    let queued = http
        .try_submit(HttpRequest::get(server.url("/hello")))
        .unwrap();
    m.shutdown().unwrap();
    let (kind, message) = failure(&http.wait_response(&hung, PATIENCE).unwrap());
    assert_eq!(kind, FailureKind::Cancelled);
    assert!(
        message.contains("shut down before the response arrived"),
        "{message}"
    );
    let (kind, message) = failure(&http.wait_response(&queued, PATIENCE).unwrap());
    assert_eq!(kind, FailureKind::Cancelled);
    assert_eq!(message, "not sent: the executor shut down");
    assert_eq!(http.status().in_flight + http.status().queued, 0);
}

#[test]
fn a_host_request_the_policy_refuses_is_failed_without_connecting() {
    let server = RawServer::start();
    // Loopback allowed, but not this port: the URL itself is refused.
    let http = std::sync::Arc::new(
        HttpFs::builder()
            .policy(local_policy(server.port.wrapping_add(1)))
            .build(),
    );
    let mut m = ExecutorManager::new(fast_config().build()).unwrap();
    m.attach_http(std::sync::Arc::clone(&http));
    m.start().unwrap();
    let id = http.submit_request(HttpRequest::get(server.url("/hello")));
    let outcome = http.wait_response(&id, PATIENCE).unwrap();
    let (kind, message) = failure(&outcome);
    assert_eq!(kind, FailureKind::Refused);
    assert!(message.contains("is not allowed"), "{message}");
    assert_eq!(server.count("/hello"), 0);
    // The same host request within the policy goes out.
    let http2 = HttpFs::builder().policy(local_policy(server.port)).build();
    let mut m2 = ExecutorManager::new(fast_config().build()).unwrap();
    m2.attach_http(&http2);
    m2.start().unwrap();
    let id = http2.submit_request(HttpRequest::get(server.url("/hello")));
    let outcome = http2.wait_response(&id, PATIENCE).unwrap();
    assert_eq!(outcome.response().map(|r| r.status), Some(200));
    m.shutdown().unwrap();
    m2.shutdown().unwrap();
}
