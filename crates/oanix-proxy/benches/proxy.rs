//! Benchmark: the egress proxy against the same clients going direct, side by
//! side in one run, every server on 127.0.0.1.
//!
//! 1. Plain HTTP: a `GET` of a 5-byte body on one keep-alive client
//!    connection, to a local HTTP/1.1 server, and the same `GET` in absolute
//!    form through the proxy (which hands it to the `HttpFs`, whose executor
//!    sends it): p50 and p99 of each, and the latency the proxy adds.
//! 2. Tunnel throughput: a download of 100 MiB over TLS from a local rustls
//!    server (a self-signed certificate for `localhost`, trusted by the
//!    client), through a `CONNECT localhost:PORT` tunnel and directly: MiB/s
//!    each and the ratio.
//! 3. TLS request rate: a new connection (full TLS handshake) per small
//!    `GET`, through a tunnel and directly: requests/s each and the ratio.
//! 4. Read (intercepted) TLS request rate: the same small `GET`s, carrying
//!    a secret's placeholder in `authorization`, directly and through a
//!    proxy that has the secret bound to `localhost` (it ends the client's
//!    TLS with its own authority's certificate, which the client trusts, and
//!    sends each request through the executor, which trusts the server's
//!    certificate); once with a new connection per request and once on one
//!    keep-alive connection: requests/s each and the ratio. The server is
//!    checked, once, to have received the real value in place of the
//!    placeholder.
//!
//! The clients are blocking sockets (and rustls over them), the same code
//! for both subjects; the runs of the two alternate. `--quick` (or
//! `OANIX_BENCH_QUICK=1`) takes fewer samples. Every table is printed as
//! Markdown with its target and whether it is met.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "a benchmark binary: a failed setup aborts it, the results are printed"
)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use oanix_bench::format_ns;
use oanix_caps::{
    CapRecord, EgressPolicy, HostPattern, HttpFs, RecordAction, RecordSink, SecretValue,
};
use oanix_exec::{ExecutorConfig, ExecutorManager, shared_runtime};
use oanix_proxy::{Proxy, ProxyHandle, Secret};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

/// The body of every small response.
const SMALL_BODY: &[u8] = b"hello";
/// The size of the tunnel download.
const BIG: usize = 100 << 20;
/// The size of the server's writes and of the client's reads in the download.
const CHUNK: usize = 256 << 10;
/// Target: the latency the proxy adds to a plain GET, at the p50.
const ADDED_P50_TARGET_US: f64 = 100.0;
/// Target: tunnel throughput as a share of direct.
const TUNNEL_TARGET: f64 = 0.80;
/// Target: the request rate of read (intercepted) TLS as a share of direct.
const READ_TARGET: f64 = 0.50;
/// The value of the secret the reading proxy holds.
const SECRET_VALUE: &str = "the-real-token-value";

/// How much to measure.
#[derive(Debug, Clone, Copy)]
struct Config {
    quick: bool,
    /// Plain GETs per subject (plus a tenth as warm-up).
    gets: usize,
    /// Downloads per subject (plus one as warm-up).
    downloads: usize,
    /// TLS requests per subject (plus a tenth as warm-up), a new connection
    /// each.
    tls_requests: usize,
    /// Requests per subject on one keep-alive TLS connection (plus a tenth
    /// as warm-up).
    keepalive_requests: usize,
}

impl Config {
    fn from_args() -> Self {
        let quick = std::env::args().any(|a| a == "--quick")
            || std::env::var_os("OANIX_BENCH_QUICK").is_some_and(|v| v != "0");
        if quick {
            Self {
                quick,
                gets: 200,
                downloads: 2,
                tls_requests: 100,
                keepalive_requests: 200,
            }
        } else {
            Self {
                quick,
                gets: 2_000,
                downloads: 10,
                tls_requests: 1_000,
                keepalive_requests: 2_000,
            }
        }
    }
}

fn runtime(threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------
// Servers

/// A keep-alive HTTP/1.1 server answering every request with [`SMALL_BODY`].
fn http_server(rt: &Runtime) -> u16 {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        loop {
            let Ok((mut tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            tokio::spawn(async move {
                let reply = small_reply(false);
                let mut buf = vec![0u8; 8192];
                let mut have = 0;
                loop {
                    let Ok(n) = tcp.read(&mut buf[have..]).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    have += n;
                    // Every complete request head is answered (bodies are empty).
                    while let Some(end) = head_end(&buf[..have]) {
                        if tcp.write_all(&reply).await.is_err() {
                            return;
                        }
                        buf.copy_within(end..have, 0);
                        have -= end;
                    }
                    if have == buf.len() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn small_reply(close: bool) -> Vec<u8> {
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\n",
        SMALL_BODY.len()
    );
    if close {
        reply.push_str("connection: close\r\n");
    }
    reply.push_str("\r\n");
    let mut reply = reply.into_bytes();
    reply.extend_from_slice(SMALL_BODY);
    reply
}

/// The local TLS server: its port, its certificate, and the
/// `authorization` header of the last `GET /check` it served.
struct TlsServer {
    port: u16,
    cert: CertificateDer<'static>,
    checked: Arc<Mutex<Option<String>>>,
}

impl TlsServer {
    /// The `authorization` of the last `GET /check`, taken (cleared).
    fn take_checked(&self) -> Option<String> {
        self.checked
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The value of header `name` in the request or response head `head`.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// A TLS server for `localhost` on 127.0.0.1 (HTTP/1.1, keep-alive unless
/// the request says `connection: close`): `GET /big` is answered with
/// [`BIG`] bytes and anything else with [`SMALL_BODY`]; the `authorization`
/// of a `GET /check` is kept.
fn tls_server(rt: &Runtime) -> TlsServer {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = made.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let chunk: Arc<[u8]> = (0..CHUNK).map(|i| (i % 251) as u8).collect();
    let checked = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&checked);
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let chunk = Arc::clone(&chunk);
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 8192];
                let mut have = 0;
                loop {
                    let end = loop {
                        if let Some(end) = head_end(&buf[..have]) {
                            break end;
                        }
                        if have == buf.len() {
                            return;
                        }
                        match tls.read(&mut buf[have..]).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => have += n,
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                    let close = header(&head, "connection")
                        .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                    if head.starts_with("GET /check ") {
                        *seen.lock().unwrap_or_else(PoisonError::into_inner) =
                            header(&head, "authorization").map(str::to_owned);
                    }
                    if head.starts_with("GET /big ") {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n\
                             content-length: {BIG}\r\nconnection: close\r\n\r\n"
                        );
                        if tls.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let mut left = BIG;
                        while left > 0 {
                            let n = left.min(chunk.len());
                            if tls.write_all(&chunk[..n]).await.is_err() {
                                return;
                            }
                            left -= n;
                        }
                        break;
                    }
                    if tls.write_all(&small_reply(close)).await.is_err() {
                        return;
                    }
                    if close {
                        break;
                    }
                    // Requests carry no body: what follows the head is the next one.
                    buf.copy_within(end..have, 0);
                    have -= end;
                }
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsServer {
        port,
        cert,
        checked,
    }
}

// ---------------------------------------------------------------------------
// The proxy

/// The proxies, their executor, and the records they have made.
struct Fixture {
    /// A proxy without secrets: every `CONNECT` is a tunnel.
    proxy: ProxyHandle,
    /// A proxy with a secret bound to `localhost`: it reads HTTPS to it.
    reading: ProxyHandle,
    /// The placeholder of that secret.
    placeholder: String,
    /// The certificate of the reading proxy's authority.
    authority: CertificateDer<'static>,
    requests: Arc<AtomicU64>,
    tunnels: Arc<AtomicU64>,
    _manager: ExecutorManager,
}

/// Two proxies over one `HttpFs` allowing `127.0.0.1` (plain HTTP) and
/// `localhost` (HTTPS) on the two ports, with its executor running (and
/// trusting `server_cert`) and a record sink that counts; the second proxy
/// holds a secret bound to `localhost`.
fn fixture(http_port: u16, tls_port: u16, server_cert: &CertificateDer<'static>) -> Fixture {
    let policy = EgressPolicy::allow_hosts(["127.0.0.1", "localhost"])
        .schemes(["http", "https"])
        .ports([http_port, tls_port])
        .allow_loopback(true)
        .build()
        .unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let tunnels = Arc::new(AtomicU64::new(0));
    let (r, t) = (Arc::clone(&requests), Arc::clone(&tunnels));
    let sink: RecordSink = Arc::new(move |record: &CapRecord| match record.action {
        RecordAction::Request => {
            r.fetch_add(1, Ordering::Relaxed);
        }
        RecordAction::Tunnel => {
            t.fetch_add(1, Ordering::Relaxed);
        }
        _ => {}
    });
    let http = HttpFs::builder().policy(policy).record_sink(sink).build();
    let executor = ExecutorConfig::builder()
        .add_root_certificate(server_cert.to_vec())
        .build();
    // As in an environment: the executors on the process's shared runtime,
    // the one the proxies serve on.
    let mut manager = ExecutorManager::with_handle(executor, shared_runtime().unwrap());
    manager.attach_http(&http);
    manager.start().unwrap();
    let serve = |p: &Proxy| p.serve(TcpListener::bind("127.0.0.1:0").unwrap()).unwrap();
    let proxy = serve(&Proxy::new(http.clone()));
    let secret = Secret::new(
        "bench-token",
        [HostPattern::new("localhost").unwrap()],
        SecretValue::new(SECRET_VALUE),
    )
    .unwrap();
    let placeholder = secret.placeholder().to_owned();
    let reading = Proxy::new(http).with_secrets([secret]).unwrap();
    let authority = CertificateDer::from_pem_slice(reading.ca_pem().unwrap().as_bytes()).unwrap();
    let reading = serve(&reading);
    Fixture {
        proxy,
        reading,
        placeholder,
        authority,
        requests,
        tunnels,
        _manager: manager,
    }
}

// ---------------------------------------------------------------------------
// The client: the same code for both subjects

/// The end of the head at the start of `buf` (after its blank line).
fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

/// A response head: the status and the content length.
struct Head {
    status: u16,
    length: usize,
}

/// Reads a response head into `buf` (cleared first); returns it and how many
/// bytes of `buf` after it are already body.
fn read_head(stream: &mut impl Read, buf: &mut Vec<u8>) -> (Head, usize) {
    buf.clear();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(end) = head_end(buf) {
            break end;
        }
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed in a response head");
        buf.extend_from_slice(&chunk[..n]);
    };
    let text = std::str::from_utf8(&buf[..end]).unwrap();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let length = header(text, "content-length").map_or(0, |v| v.parse().unwrap());
    assert_eq!(status, 200, "{text}");
    (Head { status, length }, buf.len() - end)
}

/// Sends `request` and reads the whole response; returns the body's length.
/// A small body (up to 4 KiB) is left in `buf`; a larger one is read and
/// dropped.
fn exchange(stream: &mut (impl Read + Write), request: &[u8], buf: &mut Vec<u8>) -> usize {
    stream.write_all(request).unwrap();
    let (head, mut got) = read_head(stream, buf);
    let small = head.length <= 4096;
    if small {
        let start = buf.len() - got;
        buf.drain(..start);
    }
    let mut chunk = vec![0u8; if small { 4096 } else { CHUNK }];
    while got < head.length {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "the connection closed in a body");
        got += n;
        if small {
            buf.extend_from_slice(&chunk[..n]);
        }
    }
    assert_eq!(got, head.length);
    got
}

/// Opens a `CONNECT` tunnel to `authority` through the proxy at `proxy`.
fn connect_tunnel(proxy: SocketAddr, authority: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(proxy).unwrap();
    tcp.set_nodelay(true).unwrap();
    write!(
        tcp,
        "CONNECT {authority} HTTP/1.1\r\nhost: {authority}\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    let (head, extra) = read_head(&mut tcp, &mut buf);
    assert_eq!((head.status, extra), (200, 0), "the proxy's CONNECT answer");
    tcp
}

/// Where a TLS client connects.
#[derive(Debug, Clone, Copy)]
enum Route {
    Direct,
    Tunnel(SocketAddr),
}

/// A TLS connection to `localhost:port`, directly or through a tunnel.
fn tls_connect(
    route: Route,
    port: u16,
    config: &Arc<rustls::ClientConfig>,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let tcp = match route {
        Route::Direct => {
            let tcp = TcpStream::connect(("localhost", port)).unwrap();
            tcp.set_nodelay(true).unwrap();
            tcp
        }
        Route::Tunnel(proxy) => connect_tunnel(proxy, &format!("localhost:{port}")),
    };
    let name = ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::clone(config), name).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

/// The client's TLS configuration: trusts `certs` only (the server's and
/// the reading proxy's authority), no session resumption (every connection
/// makes a full handshake).
fn client_config(certs: &[CertificateDer<'static>]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert.clone()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

// ---------------------------------------------------------------------------
// Statistics and tables

/// Per-operation times, sorted, in nanoseconds.
struct Times(Vec<f64>);

impl Times {
    fn new(mut ns: Vec<f64>) -> Self {
        ns.sort_by(f64::total_cmp);
        Self(ns)
    }

    fn percentile(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let idx = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[idx.min(self.0.len() - 1)]
    }

    fn p50(&self) -> f64 {
        self.percentile(0.5)
    }

    fn p99(&self) -> f64 {
        self.percentile(0.99)
    }

    fn max(&self) -> f64 {
        self.0.last().copied().unwrap_or(0.0)
    }

    fn total(&self) -> f64 {
        self.0.iter().sum()
    }
}

/// Runs `direct` and `proxied` alternately, `n` times each after `warm`
/// warm-up calls each, timing every call; returns the times of each.
fn alternate(
    warm: usize,
    n: usize,
    mut direct: impl FnMut(),
    mut proxied: impl FnMut(),
) -> (Times, Times) {
    for _ in 0..warm {
        direct();
        proxied();
    }
    let mut d = Vec::with_capacity(n);
    let mut p = Vec::with_capacity(n);
    let time = |f: &mut dyn FnMut(), into: &mut Vec<f64>| {
        let start = Instant::now();
        f();
        into.push(start.elapsed().as_nanos() as f64);
    };
    for i in 0..n {
        // Alternate which goes first, so that neither always follows the other.
        if i % 2 == 0 {
            time(&mut direct, &mut d);
            time(&mut proxied, &mut p);
        } else {
            time(&mut proxied, &mut p);
            time(&mut direct, &mut d);
        }
    }
    (Times::new(d), Times::new(p))
}

/// A table of rows, direct beside proxied, with a comparison, a target and
/// a verdict.
struct Report {
    title: String,
    header: [String; 4],
    rows: Vec<[String; 6]>,
    notes: Vec<String>,
}

impl Report {
    fn new(title: impl Into<String>, header: [&str; 4]) -> Self {
        Self {
            title: title.into(),
            header: header.map(str::to_owned),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn row(&mut self, cells: [String; 6]) {
        self.rows.push(cells);
    }

    fn note(&mut self, text: impl Into<String>) {
        self.notes.push(text.into());
    }

    fn print(&self) {
        let mut out = String::new();
        let _ = writeln!(out, "### {}\n", self.title);
        let [a, b, c, d] = &self.header;
        let _ = writeln!(out, "| {a} | {b} | {c} | {d} | target | |");
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---|");
        for [a, b, c, d, e, f] in &self.rows {
            let _ = writeln!(out, "| {a} | {b} | {c} | {d} | {e} | {f} |");
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                let _ = writeln!(out, "{n}");
            }
        }
        println!("{out}");
    }
}

fn verdict(met: bool) -> String {
    if met { "met" } else { "missed" }.to_owned()
}

fn mib_per_s(bytes: usize, ns: f64) -> f64 {
    bytes as f64 / (1 << 20) as f64 / (ns / 1e9)
}

// ---------------------------------------------------------------------------
// The scenarios

fn plain_get(config: &Config, fx: &Fixture, http_port: u16) -> Report {
    let mut direct = TcpStream::connect(("127.0.0.1", http_port)).unwrap();
    direct.set_nodelay(true).unwrap();
    let mut proxied = TcpStream::connect(fx.proxy.local_addr()).unwrap();
    proxied.set_nodelay(true).unwrap();
    let origin = format!("GET /small HTTP/1.1\r\nhost: 127.0.0.1:{http_port}\r\n\r\n");
    let absolute = format!(
        "GET http://127.0.0.1:{http_port}/small HTTP/1.1\r\nhost: 127.0.0.1:{http_port}\r\n\r\n"
    );
    let (mut buf_d, mut buf_p) = (Vec::new(), Vec::new());
    let (d, p) = alternate(
        config.gets / 10,
        config.gets,
        || {
            exchange(&mut direct, origin.as_bytes(), &mut buf_d);
            assert_eq!(buf_d, SMALL_BODY);
        },
        || {
            exchange(&mut proxied, absolute.as_bytes(), &mut buf_p);
            assert_eq!(buf_p, SMALL_BODY);
        },
    );
    let mut report = Report::new(
        format!(
            "egress proxy: plain HTTP GET of a {}-byte body, one keep-alive client connection",
            SMALL_BODY.len()
        ),
        ["percentile", "direct", "through the proxy", "added"],
    );
    let added_p50 = p.p50() - d.p50();
    report.row([
        "p50".to_owned(),
        format_ns(d.p50()),
        format_ns(p.p50()),
        format_ns(added_p50),
        format!("≤ {ADDED_P50_TARGET_US} µs added"),
        verdict(added_p50 / 1e3 <= ADDED_P50_TARGET_US),
    ]);
    report.row([
        "p99".to_owned(),
        format_ns(d.p99()),
        format_ns(p.p99()),
        format_ns(p.p99() - d.p99()),
        "—".to_owned(),
        String::new(),
    ]);
    report.note(format!(
        "{} requests per subject, alternating, after {} each as warm-up. Through the proxy, \
         each request is submitted to the HttpFs (policy check, record), carried out by its \
         executor on a pooled connection to the server, and its response is awaited and \
         written back; the proxy and the executor run on the process's shared runtime, as in \
         an environment. Added p50: {:.1} µs.",
        config.gets,
        config.gets / 10,
        added_p50 / 1e3,
    ));
    report
}

fn tunnel_throughput(
    config: &Config,
    fx: &Fixture,
    tls_port: u16,
    tls: &Arc<rustls::ClientConfig>,
) -> Report {
    let proxy = fx.proxy.local_addr();
    let request = b"GET /big HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    let download = |route, buf: &mut Vec<u8>| {
        let mut stream = tls_connect(route, tls_port, tls);
        let got = exchange(&mut stream, request, buf);
        assert_eq!(got, BIG);
    };
    let (mut buf_d, mut buf_p) = (Vec::new(), Vec::new());
    let (d, p) = alternate(
        1,
        config.downloads,
        || download(Route::Direct, &mut buf_d),
        || download(Route::Tunnel(proxy), &mut buf_p),
    );
    let (direct_rate, tunnel_rate) = (mib_per_s(BIG, d.p50()), mib_per_s(BIG, p.p50()));
    let ratio = tunnel_rate / direct_rate;
    let mut report = Report::new(
        "egress proxy: CONNECT tunnel throughput, one TLS download of 100 MiB",
        ["workload", "direct", "through a tunnel", "tunnel ÷ direct"],
    );
    report.row([
        format!("download 100 MiB (median of {}), MiB/s", config.downloads),
        format!("{direct_rate:.0} MiB/s"),
        format!("{tunnel_rate:.0} MiB/s"),
        format!("{ratio:.2}×"),
        format!("≥ {TUNNEL_TARGET:.2}×"),
        verdict(ratio >= TUNNEL_TARGET),
    ]);
    report.row([
        "time per download, p50 (slowest)".to_owned(),
        format!("{} ({})", format_ns(d.p50()), format_ns(d.max())),
        format!("{} ({})", format_ns(p.p50()), format_ns(p.max())),
        format!("{:.2}×", p.p50() / d.p50()),
        "—".to_owned(),
        String::new(),
    ]);
    report.note(format!(
        "Each download is a new TLS connection to localhost:{tls_port} (the server is rustls \
         with a self-signed certificate for localhost, writing {} KiB at a time; the client \
         is rustls over a blocking socket, reading {} KiB at a time), timed from connect to the \
         last byte; directly, or through CONNECT localhost:{tls_port} to the proxy, which \
         checks the ClientHello's server name and copies both ways. One warm-up download \
         each; the runs alternate.",
        CHUNK >> 10,
        CHUNK >> 10,
    ));
    report
}

fn tls_rate(
    config: &Config,
    fx: &Fixture,
    tls_port: u16,
    tls: &Arc<rustls::ClientConfig>,
) -> Report {
    let proxy = fx.proxy.local_addr();
    let request = b"GET /small HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n";
    let one = |route, buf: &mut Vec<u8>| {
        let mut stream = tls_connect(route, tls_port, tls);
        exchange(&mut stream, request, buf);
        assert_eq!(buf, SMALL_BODY);
        stream.conn.send_close_notify();
        let _ = stream.flush();
    };
    let (mut buf_d, mut buf_p) = (Vec::new(), Vec::new());
    let (d, p) = alternate(
        config.tls_requests / 10,
        config.tls_requests,
        || one(Route::Direct, &mut buf_d),
        || one(Route::Tunnel(proxy), &mut buf_p),
    );
    let rate = |t: &Times| t.0.len() as f64 / (t.total() / 1e9);
    let (direct_rate, tunnel_rate) = (rate(&d), rate(&p));
    let mut report = Report::new(
        "egress proxy: TLS requests, a new connection each, through a tunnel",
        ["workload", "direct", "through a tunnel", "tunnel ÷ direct"],
    );
    report.row([
        format!(
            "connect, TLS handshake, GET of {} bytes, one at a time: requests/s",
            SMALL_BODY.len()
        ),
        format!("{direct_rate:.0}/s"),
        format!("{tunnel_rate:.0}/s"),
        format!("{:.2}×", tunnel_rate / direct_rate),
        "—".to_owned(),
        String::new(),
    ]);
    report.row([
        "latency per request, p50 (p99)".to_owned(),
        format!("{} ({})", format_ns(d.p50()), format_ns(d.p99())),
        format!("{} ({})", format_ns(p.p50()), format_ns(p.p99())),
        format!("+{}", format_ns(p.p50() - d.p50())),
        "—".to_owned(),
        String::new(),
    ]);
    report.note(format!(
        "{} requests per subject, alternating, after {} each as warm-up; every request is a \
         new TCP connection and a full TLS 1.3 handshake (no session resumption), and through \
         the proxy also a CONNECT and its answer. This row is the tunnel's figure: no target \
         is set for it.",
        config.tls_requests,
        config.tls_requests / 10,
    ));
    report
}

fn read_tls_rate(
    config: &Config,
    fx: &Fixture,
    server: &TlsServer,
    tls: &Arc<rustls::ClientConfig>,
) -> Report {
    let reading = Route::Tunnel(fx.reading.local_addr());
    let port = server.port;
    let auth = format!("authorization: Bearer {}", fx.placeholder);
    let request = |path: &str, close: bool| {
        let connection = if close { "connection: close\r\n" } else { "" };
        format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n{auth}\r\n{connection}\r\n")
    };
    let one = |route, request: &[u8], buf: &mut Vec<u8>| {
        let mut stream = tls_connect(route, port, tls);
        exchange(&mut stream, request, buf);
        assert_eq!(buf, SMALL_BODY);
        stream.conn.send_close_notify();
        let _ = stream.flush();
    };

    // Once: directly the server sees the placeholder; through the reading
    // proxy, the value in its place.
    let check = request("/check", true);
    let mut buf = Vec::new();
    one(Route::Direct, check.as_bytes(), &mut buf);
    assert_eq!(
        server.take_checked(),
        Some(format!("Bearer {}", fx.placeholder)),
        "directly, the server sees the placeholder"
    );
    one(reading, check.as_bytes(), &mut buf);
    assert_eq!(
        server.take_checked().as_deref(),
        Some(format!("Bearer {SECRET_VALUE}").as_str()),
        "through the reading proxy, the server sees the secret's value"
    );

    // A new TLS connection per request.
    let fresh = request("/small", true);
    let (mut buf_d, mut buf_p) = (Vec::new(), Vec::new());
    let (d_new, p_new) = alternate(
        config.tls_requests / 10,
        config.tls_requests,
        || one(Route::Direct, fresh.as_bytes(), &mut buf_d),
        || one(reading, fresh.as_bytes(), &mut buf_p),
    );

    // One keep-alive TLS connection each, opened before the runs.
    let kept = request("/small", false);
    let mut direct = tls_connect(Route::Direct, port, tls);
    let mut proxied = tls_connect(reading, port, tls);
    let (d_kept, p_kept) = alternate(
        config.keepalive_requests / 10,
        config.keepalive_requests,
        || {
            exchange(&mut direct, kept.as_bytes(), &mut buf_d);
            assert_eq!(buf_d, SMALL_BODY);
        },
        || {
            exchange(&mut proxied, kept.as_bytes(), &mut buf_p);
            assert_eq!(buf_p, SMALL_BODY);
        },
    );
    for stream in [&mut direct, &mut proxied] {
        stream.conn.send_close_notify();
        let _ = stream.flush();
    }

    let rate = |t: &Times| t.0.len() as f64 / (t.total() / 1e9);
    let mut report = Report::new(
        "egress proxy: read (intercepted) TLS requests, a secret bound to the host",
        ["workload", "direct", "read by the proxy", "read ÷ direct"],
    );
    for (what, d, p) in [
        (
            "a new connection each: connect, TLS handshake, GET",
            &d_new,
            &p_new,
        ),
        ("one keep-alive TLS connection: GET", &d_kept, &p_kept),
    ] {
        let (direct_rate, read_rate) = (rate(d), rate(p));
        let ratio = read_rate / direct_rate;
        report.row([
            format!(
                "{what} of {} bytes, one at a time: requests/s",
                SMALL_BODY.len()
            ),
            format!("{direct_rate:.0}/s"),
            format!("{read_rate:.0}/s"),
            format!("{ratio:.2}×"),
            format!("≥ {READ_TARGET:.2}×"),
            verdict(ratio >= READ_TARGET),
        ]);
        report.row([
            "latency per request, p50 (p99)".to_owned(),
            format!("{} ({})", format_ns(d.p50()), format_ns(d.p99())),
            format!("{} ({})", format_ns(p.p50()), format_ns(p.p99())),
            format!("+{}", format_ns(p.p50() - d.p50())),
            "—".to_owned(),
            String::new(),
        ]);
    }
    report.note(format!(
        "Every request carries the secret's placeholder in `authorization`; the server was \
         checked once to receive the real value through the proxy (and the placeholder \
         directly). Through the proxy, the client sends CONNECT localhost:{port}, and the proxy \
         ends its TLS with a certificate for localhost signed by its authority (which the \
         client trusts), puts the value in place of the placeholder and submits the request \
         to the HttpFs; its executor sends it over its own verified TLS connection to the \
         server, pooled and kept alive. A new connection each: {} requests per subject after \
         {} as warm-up, each a new TCP connection and a full TLS 1.3 handshake with the server \
         or the proxy (no session resumption), and through the proxy also the CONNECT. \
         Keep-alive: {} requests per subject after {} as warm-up, on one TLS connection opened \
         before. The runs alternate.",
        config.tls_requests,
        config.tls_requests / 10,
        config.keepalive_requests,
        config.keepalive_requests / 10,
    ));
    report
}

fn main() {
    let config = Config::from_args();
    let servers = runtime(1);
    let http_port = http_server(&servers);
    let server = tls_server(&servers);
    let fx = fixture(http_port, server.port, &server.cert);
    let tls = client_config(&[server.cert.clone(), fx.authority.clone()]);
    let started = Instant::now();

    plain_get(&config, &fx, http_port).print();
    tunnel_throughput(&config, &fx, server.port, &tls).print();
    tls_rate(&config, &fx, server.port, &tls).print();
    read_tls_rate(&config, &fx, &server, &tls).print();

    let mut footer = String::new();
    let _ = write!(
        footer,
        "Measured in {:.1} s{}; the proxies recorded {} requests and {} tunnels so far. All \
         servers, the proxies and the executor (one shared runtime, 2 worker threads) and \
         the clients share this machine's {} CPUs.",
        started.elapsed().as_secs_f64(),
        if config.quick { " (quick run)" } else { "" },
        fx.requests.load(Ordering::Relaxed),
        fx.tunnels.load(Ordering::Relaxed),
        std::thread::available_parallelism().map_or(0, usize::from),
    );
    println!("{footer}");
}
