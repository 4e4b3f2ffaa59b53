//! Peers for the tests, all on 127.0.0.1: an HTTP server that misbehaves on
//! purpose, WebSocket servers with fault modes, a record channel, and waits
//! bounded by timeouts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use oanix_caps::{CapRecord, EgressPolicy, RecordSink};
use oanix_exec::{ExecutorConfig, RetryPolicy};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;

/// Long enough for anything that should happen; a failing test ends here.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// A configuration with short timeouts and fast retries for tests.
pub(crate) fn fast_config() -> oanix_exec::ExecutorConfigBuilder {
    ExecutorConfig::builder()
        .http_timeout(Duration::from_secs(5))
        .http_retry(RetryPolicy::exponential(2, Duration::from_millis(10)).without_jitter())
        .connect_timeout(Duration::from_secs(2))
        .ws_connect_timeout(Duration::from_secs(2))
        .shutdown_grace(Duration::from_millis(500))
        .tls_webpki_roots(false)
}

/// A policy allowing plain HTTP and WS to 127.0.0.1 on `port`.
pub(crate) fn local_policy(port: u16) -> EgressPolicy {
    EgressPolicy::allow_hosts(["127.0.0.1"])
        .schemes(["http", "ws"])
        .ports([port])
        .allow_loopback(true)
        .build()
        .unwrap()
}

/// A record sink whose records can be waited for.
pub(crate) fn record_channel() -> (RecordSink, Records) {
    let (tx, rx) = channel::<CapRecord>();
    let tx = Mutex::new(tx);
    let sink: RecordSink = Arc::new(move |r: &CapRecord| {
        let _ = tx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(r.clone());
    });
    (
        sink,
        Records {
            rx,
            seen: std::cell::RefCell::new(Vec::new()),
        },
    )
}

/// The records of a sink, in order, waited for one at a time.
pub(crate) struct Records {
    rx: Receiver<CapRecord>,
    seen: std::cell::RefCell<Vec<CapRecord>>,
}

/// Waits for a record satisfying `want` that no earlier call returned,
/// returning it; panics after [`PATIENCE`] with the records seen.
pub(crate) fn expect_record(records: &Records, want: impl Fn(&CapRecord) -> bool) -> CapRecord {
    let mut seen = records.seen.borrow_mut();
    if let Some(i) = seen.iter().position(&want) {
        return seen.remove(i);
    }
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match records.rx.recv_timeout(left) {
            Ok(r) if want(&r) => return r,
            Ok(r) => seen.push(r),
            Err(_) => panic!(
                "no matching record; saw:\n{}",
                seen.iter()
                    .map(CapRecord::to_json_line)
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        }
    }
}

/// Waits until `cond` holds, re-checking whenever `listen` gives a listener
/// that fires (and at least every 50 ms, for conditions no listener covers).
pub(crate) fn wait_until(
    mut listen: impl FnMut() -> oanix_caps::EventListener,
    mut cond: impl FnMut() -> bool,
) {
    use oanix_caps::Listener;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let l = listen();
        if cond() {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "condition not met within {PATIENCE:?}");
        let _ = l.wait_timeout(left.min(Duration::from_millis(50)));
    }
}

/// An HTTP/1.1 server that misbehaves on purpose, by path:
///
/// | path | behaviour |
/// |---|---|
/// | `/hello` | 200 `hello`, keep-alive |
/// | `/echo` | 200 with the request body, and the request's headers as `x-seen-*` |
/// | `/binary` | 200 with three non-UTF-8 bytes |
/// | `/hang` | reads the request, never answers |
/// | `/slow-body` | announces 100 bytes, sends one every 100 ms |
/// | `/early-close` | announces 100 bytes, sends 10, closes |
/// | `/loop-a`, `/loop-b` | redirect to each other |
/// | `/redirect` | redirect to `/hello` |
/// | `/metadata` | redirect to `http://169.254.169.254:{port}/latest/meta-data/` |
/// | `/fullwidth` | the same redirect, the address in full-width digits and stops (UTF-8) |
/// | `/not-utf8` | a redirect whose location holds a byte that is not UTF-8 |
/// | `/big` | announces 2 000 000 bytes |
/// | `/big-chunked` | streams 2 MB chunked, no length |
/// | `/flaky` | 503 twice (per server), then 200 `recovered` |
pub(crate) struct RawServer {
    pub(crate) port: u16,
    pub(crate) connections: Arc<AtomicUsize>,
    pub(crate) requests: Arc<Mutex<Vec<String>>>,
    hangs: Receiver<String>,
}

impl RawServer {
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let flaky = Arc::new(AtomicUsize::new(0));
        let (hang_tx, hangs) = channel();
        {
            let connections = Arc::clone(&connections);
            let requests = Arc::clone(&requests);
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    connections.fetch_add(1, Ordering::SeqCst);
                    let requests = Arc::clone(&requests);
                    let flaky = Arc::clone(&flaky);
                    let hang_tx = hang_tx.clone();
                    std::thread::spawn(move || {
                        let _ = serve_raw(conn, port, &requests, &flaky, &hang_tx);
                    });
                }
            });
        }
        Self {
            port,
            connections,
            requests,
            hangs,
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// How many requests for `path` arrived.
    pub(crate) fn count(&self, path: &str) -> usize {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }

    /// Waits until a request is hanging on `/hang`.
    pub(crate) fn wait_hang(&self) {
        self.hangs.recv_timeout(PATIENCE).expect("no request hung");
    }
}

fn serve_raw(
    conn: TcpStream,
    port: u16,
    requests: &Mutex<Vec<String>>,
    flaky: &AtomicUsize,
    hang_tx: &Sender<String>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
        let mut len = 0usize;
        let mut seen = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h)?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                let n = n.trim().to_ascii_lowercase();
                if n == "content-length" {
                    len = v.trim().parse().unwrap_or(0);
                }
                seen.push((n, v.trim().to_owned()));
            }
        }
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        requests.lock().unwrap().push(path.clone());
        let simple = |out: &mut TcpStream, status: &str, extra: &str, body: &[u8]| {
            let head = format!(
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\n{extra}\r\n",
                body.len()
            );
            out.write_all(head.as_bytes())?;
            out.write_all(body)
        };
        match path.as_str() {
            "/hello" => simple(&mut out, "200 OK", "", b"hello")?,
            "/echo" => {
                let extra: String = seen
                    .iter()
                    .filter(|(n, _)| n != "content-length" && n != "host")
                    .map(|(n, v)| format!("x-seen-{n}: {v}\r\n"))
                    .collect();
                simple(&mut out, "200 OK", &extra, &body)?;
            }
            "/binary" => simple(&mut out, "200 OK", "", &[0xff, 0x00, 0xfe])?,
            "/hang" => {
                let _ = hang_tx.send(path.clone());
                // The behaviour under test: never answer.
                loop {
                    std::thread::park();
                }
            }
            "/slow-body" => {
                out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n")?;
                for _ in 0..100 {
                    out.write_all(b"x")?;
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            "/early-close" => {
                out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")?;
                return Ok(());
            }
            "/loop-a" => simple(&mut out, "302 Found", "location: /loop-b\r\n", b"")?,
            "/loop-b" => simple(&mut out, "302 Found", "location: /loop-a\r\n", b"")?,
            "/redirect" => simple(&mut out, "302 Found", "location: /hello\r\n", b"")?,
            "/metadata" => {
                let loc = format!("location: http://169.254.169.254:{port}/latest/meta-data/\r\n");
                simple(&mut out, "302 Found", &loc, b"")?;
            }
            "/fullwidth" => {
                let loc = format!(
                    "location: http://\u{ff11}\u{ff16}\u{ff19}\u{ff0e}\u{ff12}\u{ff15}\u{ff14}\u{ff0e}\u{ff11}\u{ff16}\u{ff19}\u{ff0e}\u{ff12}\u{ff15}\u{ff14}:{port}/latest/\r\n"
                );
                simple(&mut out, "302 Found", &loc, b"")?;
            }
            "/not-utf8" => {
                out.write_all(
                    b"HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /h\xffllo\r\n\r\n",
                )?;
            }
            "/big" => {
                out.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2000000\r\n\r\n")?;
                let chunk = vec![b'a'; 64 << 10];
                for _ in 0..31 {
                    out.write_all(&chunk)?;
                }
                return Ok(());
            }
            "/big-chunked" => {
                out.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")?;
                let chunk = vec![b'a'; 64 << 10];
                for _ in 0..32 {
                    out.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                    out.write_all(&chunk)?;
                    out.write_all(b"\r\n")?;
                }
                out.write_all(b"0\r\n\r\n")?;
            }
            "/flaky" => {
                if flaky.fetch_add(1, Ordering::SeqCst) < 2 {
                    simple(&mut out, "503 Service Unavailable", "", b"busy")?;
                } else {
                    simple(&mut out, "200 OK", "", b"recovered")?;
                }
            }
            _ => simple(&mut out, "404 Not Found", "", b"")?,
        }
    }
}

/// How a test WebSocket server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsMode {
    /// Echoes every message, text as text, binary as binary.
    Echo,
    /// Completes the handshake, then never reads: pings go unanswered.
    Silent,
    /// The first connection drops (no close frame) after its first
    /// message; later ones echo.
    DropFirst,
    /// Sends one 4096-byte binary message after the handshake.
    Big,
    /// Answers the first message with a close frame (code 1000).
    CloseAfterFirst,
}

/// What a test WebSocket server saw.
#[derive(Debug, Default)]
pub(crate) struct WsStats {
    pub(crate) connections: AtomicUsize,
    pub(crate) close_codes: Mutex<Vec<u16>>,
    pub(crate) messages: AtomicUsize,
}

/// A tokio-tungstenite server on 127.0.0.1 with its own runtime.
pub(crate) struct WsServer {
    pub(crate) port: u16,
    pub(crate) stats: Arc<WsStats>,
    _rt: Runtime,
}

impl WsServer {
    pub(crate) fn start(mode: WsMode) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(WsStats::default());
        let s = Arc::clone(&stats);
        rt.spawn(async move {
            let mut parked = Vec::new();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let n = s.connections.fetch_add(1, Ordering::SeqCst);
                let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
                    continue;
                };
                if mode == WsMode::Silent {
                    parked.push(ws);
                    continue;
                }
                let s = Arc::clone(&s);
                tokio::spawn(async move {
                    let mut ws = ws;
                    if mode == WsMode::Big {
                        let _ = ws.send(Message::binary(vec![7u8; 4096])).await;
                    }
                    while let Some(Ok(m)) = ws.next().await {
                        match m {
                            Message::Text(_) | Message::Binary(_) => {
                                s.messages.fetch_add(1, Ordering::SeqCst);
                                if mode == WsMode::DropFirst && n == 0 {
                                    return; // dropped: no close frame
                                }
                                if mode == WsMode::CloseAfterFirst {
                                    let _ = ws.close(None).await;
                                    continue;
                                }
                                if ws.send(m).await.is_err() {
                                    return;
                                }
                            }
                            Message::Close(f) => {
                                s.close_codes
                                    .lock()
                                    .unwrap()
                                    .push(f.map_or(1005, |f| u16::from(f.code)));
                            }
                            _ => {}
                        }
                    }
                });
            }
        });
        Self {
            port,
            stats,
            _rt: rt,
        }
    }

    pub(crate) fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.port)
    }

    /// Waits until the server has seen a close frame, and returns its codes.
    pub(crate) fn wait_close(&self) -> Vec<u16> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let codes = self.stats.close_codes.lock().unwrap().clone();
            if !codes.is_empty() {
                return codes;
            }
            assert!(Instant::now() < deadline, "no close frame arrived");
            std::thread::yield_now();
        }
    }
}
