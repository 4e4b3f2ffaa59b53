//! The proxy with real clients on loopback: `curl` where installed, raw
//! sockets otherwise, against local servers; the executor does the I/O.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oanix_caps::{CapRecord, EgressPolicy, HttpFs, Outcome, RecordAction, RecordSink};
use oanix_exec::{ExecutorConfig, ExecutorManager};
use oanix_proxy::{Proxy, ProxyConfig, ProxyHandle};

mod secrets;

/// A proxy over an HttpFs with `policy`, its executor running.
struct Fixture {
    proxy: ProxyHandle,
    http: HttpFs,
    records: Arc<Mutex<Vec<CapRecord>>>,
    _manager: ExecutorManager,
}

fn fixture(policy: EgressPolicy, config: ProxyConfig) -> Fixture {
    let records = Arc::new(Mutex::new(Vec::new()));
    let sink_records = Arc::clone(&records);
    let sink: RecordSink =
        Arc::new(move |r: &CapRecord| sink_records.lock().unwrap().push(r.clone()));
    let http = HttpFs::builder().policy(policy).record_sink(sink).build();
    let mut manager = ExecutorManager::new(ExecutorConfig::default()).unwrap();
    manager.attach_http(&http);
    manager.start().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy = Proxy::new(http.clone())
        .with_config(config)
        .serve(listener)
        .unwrap();
    Fixture {
        proxy,
        http,
        records,
        _manager: manager,
    }
}

impl Fixture {
    fn url(&self) -> String {
        format!("http://{}", self.proxy.local_addr())
    }

    fn records(&self, action: RecordAction) -> Vec<CapRecord> {
        self.records
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.action == action)
            .cloned()
            .collect()
    }
}

/// An HTTP server answering `body`, keeping each request's head.
fn http_server(body: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            log.lock().unwrap().push(head);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nx-server: local\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

/// A TCP server that answers whatever it reads first with `reply`, keeping
/// what it read.
fn raw_server(reply: &'static [u8]) -> (u16, Arc<Mutex<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            log.lock().unwrap().extend_from_slice(&buf[..n]);
            let _ = stream.write_all(reply);
        }
    });
    (port, seen)
}

fn curl(args: &[&str]) -> Option<(i32, String, String)> {
    let out = Command::new("curl")
        .args(["-s", "-S", "--max-time", "20"])
        .args(args)
        .output()
        .ok()?;
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

fn loopback_policy(port: u16) -> EgressPolicy {
    EgressPolicy::allow_hosts(["127.0.0.1", "localhost"])
        .schemes(["http", "https"])
        .ports([port])
        .allow_loopback(true)
        .build()
        .unwrap()
}

/// Sends `request` to the proxy and reads the answer until it closes.
fn raw(proxy: &str, request: &str) -> String {
    let mut s = TcpStream::connect(proxy.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn plain_requests_go_through_the_executor_and_refusals_say_why() {
    let (port, seen) = http_server("hello through the proxy");
    let fx = fixture(loopback_policy(port), ProxyConfig::default());
    let target = format!("http://127.0.0.1:{port}/item?x=1");
    let answer = raw(
        &fx.url(),
        &format!(
            "GET {target} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-agent: a\r\nproxy-authorization: secret\r\nconnection: close\r\n\r\n"
        ),
    );
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("x-server: local"), "{answer}");
    assert!(answer.ends_with("hello through the proxy"), "{answer}");
    let head = seen.lock().unwrap()[0].clone();
    assert!(head.starts_with("GET /item?x=1 HTTP/1.1"), "{head}");
    assert!(head.to_ascii_lowercase().contains("x-agent: a"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("proxy-authorization"),
        "{head}"
    );
    assert!(!fx.records(RecordAction::Request).is_empty());
    // Another host, another port: refused before anything leaves.
    let refused = raw(
        &fx.url(),
        "GET http://example.com/ HTTP/1.1\r\nhost: example.com\r\nconnection: close\r\n\r\n",
    );
    assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
    assert!(
        refused.contains("oanix proxy: refused by the egress policy"),
        "{refused}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    // Not a proxy request at all.
    let origin = raw(
        &fx.url(),
        "GET /x HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n",
    );
    assert!(origin.starts_with("HTTP/1.1 400"), "{origin}");
}

#[test]
fn ssrf_through_the_proxy_is_refused() {
    let (port, seen) = http_server("secret internal page");
    // Every host is allowed, but not loopback addresses.
    let policy = EgressPolicy::allow_hosts(["*"])
        .schemes(["http", "https"])
        .ports([port])
        .build()
        .unwrap();
    let fx = fixture(policy, ProxyConfig::default());
    for host in [
        "127.0.0.1",
        "127.1",
        "localhost",
        "[::ffff:127.0.0.1]",
        "[::1]",
        "0.0.0.0",
    ] {
        let answer = raw(
            &fx.url(),
            &format!("GET http://{host}:{port}/ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
        );
        assert!(
            answer.starts_with("HTTP/1.1 403") || answer.starts_with("HTTP/1.1 502"),
            "{host}: {answer}"
        );
        assert!(!answer.contains("secret internal page"), "{host}: {answer}");
        let (status, _) = tunnel(&fx.url(), &format!("{host}:{port}"), b"");
        assert!(status.starts_with("HTTP/1.1 403"), "{host}: {status}");
    }
    assert!(seen.lock().unwrap().is_empty(), "the server was reached");
}

/// A TLS ClientHello record naming `name`.
fn client_hello(name: &str) -> Vec<u8> {
    let mut list = vec![0u8];
    list.extend((name.len() as u16).to_be_bytes());
    list.extend(name.as_bytes());
    let mut sni = (list.len() as u16).to_be_bytes().to_vec();
    sni.extend(list);
    let mut ext = 0u16.to_be_bytes().to_vec();
    ext.extend((sni.len() as u16).to_be_bytes());
    ext.extend(sni);
    let mut body = vec![3, 3];
    body.extend([9u8; 32]);
    body.extend([0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend((ext.len() as u16).to_be_bytes());
    body.extend(ext);
    let mut hs = vec![1];
    hs.extend(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend(body);
    let mut rec = vec![22, 3, 1];
    rec.extend((hs.len() as u16).to_be_bytes());
    rec.extend(hs);
    rec
}

/// Opens a tunnel to `authority`, sends `first`, returns the proxy's answer
/// line and what came back through the tunnel.
fn tunnel(proxy: &str, authority: &str, first: &[u8]) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(proxy.trim_start_matches("http://")).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
    }
    if !status.contains(" 200") {
        return (status, Vec::new());
    }
    s.write_all(first).unwrap();
    let mut back = Vec::new();
    let _ = reader.read_to_end(&mut back);
    (status, back)
}

#[test]
fn tunnels_carry_tls_untouched_to_allowed_hosts_whose_name_matches() {
    let (port, seen) = raw_server(b"server hello bytes");
    let fx = fixture(loopback_policy(port), ProxyConfig::default());
    let hello = client_hello("localhost");
    let (status, back) = tunnel(&fx.url(), &format!("localhost:{port}"), &hello);
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert_eq!(back, b"server hello bytes");
    assert_eq!(
        *seen.lock().unwrap(),
        hello,
        "the ClientHello arrives byte for byte"
    );
    // A ClientHello for another name is refused, and nothing reaches the server.
    seen.lock().unwrap().clear();
    let (status, back) = tunnel(
        &fx.url(),
        &format!("localhost:{port}"),
        &client_hello("evil.example"),
    );
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(back.is_empty());
    // Not TLS at all.
    let (_, back) = tunnel(
        &fx.url(),
        &format!("localhost:{port}"),
        b"GET / HTTP/1.1\r\n\r\n",
    );
    assert!(back.is_empty());
    assert!(seen.lock().unwrap().is_empty());
    // A host the policy does not name is refused at CONNECT.
    let (status, _) = tunnel(&fx.url(), "example.com:443", &hello);
    assert!(status.starts_with("HTTP/1.1 403"), "{status}");
    // Wait (bounded) for the tunnels' records.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while fx.records(RecordAction::Tunnel).len() < 4 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            fx.records(RecordAction::Tunnel)
        );
        std::thread::yield_now();
    }
    let records = fx.records(RecordAction::Tunnel);
    let ok: Vec<_> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Ok)
        .collect();
    assert_eq!(ok.len(), 1, "{records:?}");
    assert_eq!(
        ok[0].bytes,
        (hello.len() + b"server hello bytes".len()) as u64
    );
    let refused: Vec<_> = records
        .iter()
        .filter(|r| r.outcome == Outcome::Refused)
        .collect();
    assert_eq!(refused.len(), 3, "{records:?}");
    assert!(
        refused
            .iter()
            .any(|r| r.detail.as_deref().unwrap_or("").contains("evil.example"))
    );
}

#[test]
fn curl_through_the_proxy_gets_the_page_or_the_refusal() {
    if Command::new("curl").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "curl must be installed in CI"
        );
        eprintln!("skipped: curl is not installed");
        return;
    }
    let (port, _) = http_server("page for curl");
    let fx = fixture(loopback_policy(port), ProxyConfig::default());
    let (code, out, err) = curl(&["-x", &fx.url(), &format!("http://127.0.0.1:{port}/")]).unwrap();
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "page for curl");
    let (_, out, _) = curl(&["-x", &fx.url(), "http://example.org/"]).unwrap();
    assert!(out.contains("refused by the egress policy"), "{out}");
    let (code, _, err) = curl(&["-x", &fx.url(), "https://example.org/"]).unwrap();
    assert_ne!(code, 0);
    assert!(err.contains("403"), "{err}");
}

#[test]
fn a_flood_of_connections_stays_within_the_bound() {
    let (port, _) = http_server("ok");
    let config = ProxyConfig {
        max_connections: 4,
        ..ProxyConfig::default()
    };
    let fx = fixture(loopback_policy(port), config);
    let addr = fx.proxy.local_addr();
    // Twelve idle connections: four are served, the rest closed at once.
    let conns: Vec<TcpStream> = (0..12).map(|_| TcpStream::connect(addr).unwrap()).collect();
    let mut closed = 0;
    for c in &conns {
        c.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut b = [0u8; 1];
        if matches!((&*c).read(&mut b), Ok(0)) {
            closed += 1;
        }
    }
    assert_eq!(closed, 8, "served beyond the bound");
    drop(conns);
    // Once they are gone, the proxy serves again.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let answer = raw(
            &fx.url(),
            &format!(
                "GET http://127.0.0.1:{port}/ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
            ),
        );
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer}");
    }
    let refused = fx
        .records(RecordAction::Request)
        .into_iter()
        .filter(|r| r.outcome == Outcome::Refused)
        .count();
    assert!(refused >= 8, "{refused}");
}

#[test]
fn the_policy_changes_while_the_proxy_runs_and_each_change_is_recorded() {
    let (port, seen) = http_server("index page");
    let (other, other_seen) = http_server("other page");
    let fx = fixture(loopback_policy(port), ProxyConfig::default());
    let get = |p: u16| {
        raw(
            &fx.url(),
            &format!("GET http://127.0.0.1:{p}/ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
        )
    };
    assert!(get(other).starts_with("HTTP/1.1 403"));
    // Open the second port for a step...
    fx.http.set_policy(
        EgressPolicy::allow_hosts(["127.0.0.1"])
            .schemes(["http"])
            .ports([port, other])
            .allow_loopback(true)
            .build()
            .unwrap(),
    );
    let answer = get(other);
    assert!(answer.ends_with("other page"), "{answer}");
    // ...then close everything.
    fx.http.set_policy(EgressPolicy::deny_all());
    assert!(get(port).starts_with("HTTP/1.1 403"));
    assert!(get(other).starts_with("HTTP/1.1 403"));
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(other_seen.lock().unwrap().len(), 1);
    let changes = fx.records(RecordAction::Policy);
    assert_eq!(changes.len(), 2, "{changes:?}");
    assert_eq!(
        changes[0].detail.as_deref(),
        Some("allow_hosts = [127.0.0.1]")
    );
    assert_eq!(changes[1].detail.as_deref(), Some("allow_hosts = []"));
}

#[test]
fn redirects_go_back_to_the_client_and_are_checked_again() {
    let (inside, inside_seen) = http_server("internal");
    // A server that redirects to another port of the loopback.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{inside}/secret\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    let fx = fixture(loopback_policy(port), ProxyConfig::default());
    let answer = raw(
        &fx.url(),
        &format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains(&format!("location: http://127.0.0.1:{inside}/secret")),
        "{answer}"
    );
    // The client following it asks the proxy, which refuses the port.
    let follow = raw(
        &fx.url(),
        &format!(
            "GET http://127.0.0.1:{inside}/secret HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"
        ),
    );
    assert!(follow.starts_with("HTTP/1.1 403"), "{follow}");
    assert!(inside_seen.lock().unwrap().is_empty());
    // curl following the redirect itself gets the proxy's refusal.
    if let Some((_, out, _)) = curl(&["-L", "-x", &fx.url(), &format!("http://127.0.0.1:{port}/")])
    {
        assert!(out.contains("refused by the egress policy"), "{out}");
        assert!(
            inside_seen.lock().unwrap().is_empty(),
            "curl -L reached the inside"
        );
    }
}
