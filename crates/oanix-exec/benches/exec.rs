//! Benchmark: the executors against the same clients used directly, side by
//! side in one run, every peer on 127.0.0.1.
//!
//! - HTTP: a request written to `/cap/http/request` and its response read
//!   from the response file, against the same request sent with the hyper
//!   client, to the same local server: latency (median, p99) and
//!   throughput with 32 requests in flight.
//! - WebSocket: an echo round trip through WsFs against tokio-tungstenite
//!   used directly; one-way throughput of 100-byte messages.
//! - Nostr: NIP-01 publish → `OK` through NostrFs and the relay connector
//!   against a raw WebSocket client, to the same in-process relay.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "a benchmark binary: failures abort it, results are printed"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use oanix_bench::{Stats, Table};
use oanix_caps::{
    Body, EgressPolicy, HttpFs, HttpLimits, Listener, NostrFs, NostrLimits, WsFs, WsLimits,
};
use oanix_exec::{ExecutorConfig, ExecutorManager};
use oanix_vfs::{FileService, OpenFlags, read_to_end};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;
use tokio_tungstenite::tungstenite::Message;

fn runtime(threads: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap()
}

fn quick() -> bool {
    std::env::var_os("OANIX_BENCH_QUICK").is_some_and(|v| v != "0")
}

/// A minimal keep-alive HTTP/1.1 server answering every request with
/// `hello`; the same for both subjects.
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
                    // Answer every complete request head (bodies are empty).
                    while let Some(end) = buf[..have].windows(4).position(|w| w == b"\r\n\r\n") {
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello";
                        if tcp.write_all(reply).await.is_err() {
                            return;
                        }
                        buf.copy_within(end + 4..have, 0);
                        have -= end + 4;
                    }
                }
            });
        }
    });
    port
}

fn policy(port: u16) -> EgressPolicy {
    EgressPolicy::allow_hosts(["127.0.0.1"])
        .schemes(["http", "ws"])
        .ports([port])
        .allow_loopback(true)
        .build()
        .unwrap()
}

fn http_bench() -> Table {
    let server_rt = runtime(1);
    let port = http_server(&server_rt);
    let url = format!("http://127.0.0.1:{port}/hello");
    let n = if quick() { 500 } else { 5000 };
    let rounds = if quick() { 10 } else { 40 };

    // Direct: hyper's pooled client on a runtime of its own.
    let client_rt = runtime(1);
    let client: Client<HttpConnector, Empty<Bytes>> = {
        let _guard = client_rt.enter();
        Client::builder(TokioExecutor::new()).build_http()
    };
    let uri: hyper::Uri = url.parse().unwrap();
    let mut direct_one = || {
        let body = client_rt.block_on(async {
            let r = client.get(uri.clone()).await.unwrap();
            r.into_body().collect().await.unwrap().to_bytes()
        });
        black_box(body);
    };

    // Through the files (and the API), with the HttpExecutor.
    let http = HttpFs::builder()
        .policy(policy(port))
        .limits(HttpLimits::default().max_responses(64).max_pending(64))
        .build();
    let threads = std::env::var("OANIX_BENCH_EXEC_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(1);
    let mut m =
        ExecutorManager::new(ExecutorConfig::builder().worker_threads(threads).build()).unwrap();
    m.attach_http(&http);
    m.start().unwrap();
    let request = format!(r#"{{"url": "{url}"}}"#);
    let mut buf = Vec::with_capacity(4096);
    let mut files_one = || {
        let mut h = http.open("/request", OpenFlags::read_write()).unwrap();
        h.write(request.as_bytes()).unwrap();
        buf.clear();
        read_to_end(h.as_mut(), &mut buf).unwrap();
        let id = String::from_utf8(buf.clone()).unwrap();
        let path = format!("/responses/{id}.json");
        let mut r = http.open(&path, OpenFlags::read_only()).unwrap();
        buf.clear();
        read_to_end(r.as_mut(), &mut buf).unwrap();
        black_box(&buf);
        http.remove(&path).unwrap();
    };
    let mut api_one = || {
        let id = http.try_submit(oanix_caps::HttpRequest::get(&url)).unwrap();
        black_box(http.wait_response(&id, Duration::from_secs(30)).unwrap());
        http.remove_response(&id);
    };
    let stats = interleaved(n, &mut [&mut files_one, &mut api_one, &mut direct_one]);
    let (files, api, direct) = (stats[0], stats[1], stats[2]);

    let mut direct_32 = || {
        client_rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..32 {
                let c = client.clone();
                let u = uri.clone();
                set.spawn(async move {
                    let r = c.get(u).await.unwrap();
                    r.into_body().collect().await.unwrap().to_bytes()
                });
            }
            while let Some(r) = set.join_next().await {
                black_box(r.unwrap());
            }
        });
    };
    let mut files_32 = || {
        let mut ids = Vec::with_capacity(32);
        for _ in 0..32 {
            let mut h = http.open("/request", OpenFlags::read_write()).unwrap();
            h.write(request.as_bytes()).unwrap();
            let mut b = Vec::new();
            read_to_end(h.as_mut(), &mut b).unwrap();
            ids.push(String::from_utf8(b).unwrap());
        }
        for id in ids {
            let path = format!("/responses/{id}.json");
            let mut r = http.open(&path, OpenFlags::read_only()).unwrap();
            let mut b = Vec::new();
            read_to_end(r.as_mut(), &mut b).unwrap();
            black_box(&b);
            http.remove(&path).unwrap();
        }
    };
    let rates = throughput_interleaved(rounds, 32, &mut [&mut files_32, &mut direct_32]);
    let (files_tp, direct_tp) = (rates[0], rates[1]);
    m.shutdown().unwrap();

    let mut table = Table::new(
        "HTTP GET to a local server: through HttpFs files and the HttpExecutor against hyper's client used directly (median per request, p99 in parentheses)",
        &[
            "HttpFs files + HttpExecutor",
            "HttpFs API + HttpExecutor",
            "hyper-util client",
        ],
    );
    table.row(
        "one request, response read",
        vec![Some(files), Some(api), Some(direct)],
    );
    table.note(format!(
        "Added latency (median): {:.1} µs through the files, {:.1} µs through the API (target ≤ 20 µs). Throughput with 32 requests in flight: {:.0} against {:.0} requests/s, {:.0} % of direct (target ≥ 50 %).",
        (files.median_ns - direct.median_ns) / 1e3,
        (api.median_ns - direct.median_ns) / 1e3,
        files_tp,
        direct_tp,
        100.0 * files_tp / direct_tp
    ));
    table
}

/// Times every call of every subject on its own, the subjects taking turns
/// in slices of 50 calls so that bursts of load on a shared machine fall on
/// all of them alike; after a warm-up of a tenth as many calls each.
fn interleaved(n: usize, subjects: &mut [&mut dyn FnMut()]) -> Vec<Stats> {
    for s in subjects.iter_mut() {
        for _ in 0..(n / 10).max(1) {
            s();
        }
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(n); subjects.len()];
    let mut done = 0;
    while done < n {
        let k = 50.min(n - done);
        for (i, s) in subjects.iter_mut().enumerate() {
            for _ in 0..k {
                let t = Instant::now();
                s();
                times[i].push(t.elapsed().as_nanos() as f64);
            }
        }
        done += k;
    }
    times
        .into_iter()
        .map(|mut v| {
            v.sort_by(f64::total_cmp);
            let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
            Stats {
                median_ns: at(0.5),
                p99_ns: at(0.99),
                ops: v.len() as u64,
            }
        })
        .collect()
}

/// Operations per second of each subject (each call does `per_call`
/// operations), the subjects taking turns for `rounds` calls each, five
/// times; the median of the five rates.
fn throughput_interleaved(
    rounds: usize,
    per_call: usize,
    subjects: &mut [&mut dyn FnMut()],
) -> Vec<f64> {
    let mut rates: Vec<Vec<f64>> = vec![Vec::new(); subjects.len()];
    for s in subjects.iter_mut() {
        s();
    }
    for _ in 0..5 {
        for (i, s) in subjects.iter_mut().enumerate() {
            let start = Instant::now();
            for _ in 0..rounds {
                s();
            }
            rates[i].push((rounds * per_call) as f64 / start.elapsed().as_secs_f64());
        }
    }
    rates
        .into_iter()
        .map(|mut r| {
            r.sort_by(f64::total_cmp);
            r[r.len() / 2]
        })
        .collect()
}

/// An echo server, or a counting sink when `count` is set.
fn ws_server(rt: &Runtime, count: Option<Arc<AtomicU64>>) -> u16 {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let count = count.clone();
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                while let Some(Ok(m)) = ws.next().await {
                    if !(m.is_text() || m.is_binary()) {
                        continue;
                    }
                    match &count {
                        Some(c) => {
                            c.fetch_add(1, Ordering::Relaxed);
                        }
                        None => {
                            if ws.send(m).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    port
}

fn ws_bench() -> Table {
    let server_rt = runtime(1);
    let echo_port = ws_server(&server_rt, None);
    let count = Arc::new(AtomicU64::new(0));
    let sink_port = ws_server(&server_rt, Some(Arc::clone(&count)));
    let n = if quick() { 500 } else { 3000 };
    let burst: u64 = if quick() { 100_000 } else { 1_000_000 };
    let payload = "x".repeat(100);

    // Direct tokio-tungstenite.
    let client_rt = runtime(1);
    let connect = |port: u16| {
        client_rt.block_on(async {
            let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap();
            tcp.set_nodelay(true).unwrap();
            let (ws, _) = tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/"), tcp)
                .await
                .unwrap();
            ws
        })
    };
    let mut ws = connect(echo_port);
    let mut sink_ws = connect(sink_port);

    // Through WsFs and the WsConnector.
    let ports = [echo_port, sink_port];
    let wsfs = WsFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["127.0.0.1"])
                .schemes(["ws"])
                .ports(ports)
                .allow_loopback(true)
                .build()
                .unwrap(),
        )
        .limits(WsLimits::default().max_outbox(1 << 16))
        .build();
    let mut m = ExecutorManager::new(ExecutorConfig::builder().worker_threads(1).build()).unwrap();
    m.attach_ws(&wsfs);
    m.start().unwrap();
    let echo_id = wsfs
        .open_connection(&format!("ws://127.0.0.1:{echo_port}/"))
        .unwrap();
    let sink_id = wsfs
        .open_connection(&format!("ws://127.0.0.1:{sink_port}/"))
        .unwrap();
    loop {
        let l = wsfs.message_listener();
        if wsfs.connection_state(&sink_id) == Some(oanix_caps::WsState::Open) {
            break;
        }
        let _ = l.wait_timeout(Duration::from_secs(10));
    }
    let out_path = format!("/conns/{echo_id}/out");
    let in_path = format!("/conns/{echo_id}/in");
    let mut out = wsfs.open(&out_path, OpenFlags::write_only()).unwrap();
    let mut input = wsfs.open(&in_path, OpenFlags::read_only()).unwrap();
    let mut buf = Vec::with_capacity(256);
    let mut files_one = || {
        out.write(payload.as_bytes()).unwrap();
        buf.clear();
        read_to_end(input.as_mut(), &mut buf).unwrap();
        black_box(&buf);
    };
    let mut direct_one = || {
        client_rt.block_on(async {
            ws.send(Message::text(payload.clone())).await.unwrap();
            black_box(ws.next().await.unwrap().unwrap());
        });
    };
    let stats = interleaved(n, &mut [&mut files_one, &mut direct_one]);
    let (files_rt, direct_rt) = (stats[0], stats[1]);

    // One way: bursts of 100-byte messages, counted by the server; the
    // subjects take turns, three bursts each, the best rate kept.
    let mut files_rate: f64 = 0.0;
    let mut direct_rate: f64 = 0.0;
    for _ in 0..3 {
        count.store(0, Ordering::SeqCst);
        let start = Instant::now();
        let mut sent = 0;
        while sent < burst {
            match wsfs.send_message(&sink_id, Body::Text(payload.clone())) {
                Ok(()) => sent += 1,
                Err(_) => std::thread::yield_now(),
            }
        }
        wait_count(&count, burst);
        files_rate = files_rate.max(burst as f64 / start.elapsed().as_secs_f64());

        count.store(0, Ordering::SeqCst);
        let start = Instant::now();
        client_rt.block_on(async {
            for _ in 0..burst {
                sink_ws.feed(Message::text(payload.clone())).await.unwrap();
            }
            sink_ws.flush().await.unwrap();
        });
        wait_count(&count, burst);
        direct_rate = direct_rate.max(burst as f64 / start.elapsed().as_secs_f64());
    }
    m.shutdown().unwrap();

    let mut table = Table::new(
        "WebSocket echo of 100 bytes to a local server: through WsFs files and the WsConnector against tokio-tungstenite used directly (median per round trip, p99 in parentheses)",
        &["WsFs files + WsConnector", "tokio-tungstenite"],
    );
    table.row("echo round trip", vec![Some(files_rt), Some(direct_rt)]);
    table.note(format!(
        "Round trip through WsFs / direct: {:.2}× (target ≤ 2×). One-way throughput of 100-byte messages: {:.0} messages/s through WsFs (`send_message`, target ≥ 1 000 000), {:.0} direct, {:.0} % of direct.",
        files_rt.median_ns / direct_rt.median_ns,
        files_rate,
        direct_rate,
        100.0 * files_rate / direct_rate
    ));
    table
}

fn wait_count(count: &AtomicU64, want: u64) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while count.load(Ordering::Relaxed) < want {
        assert!(
            Instant::now() < deadline,
            "the server did not receive everything"
        );
        std::thread::yield_now();
    }
}

fn nostr_bench() -> Table {
    use nostr_relay_builder::{LocalRelay, RelayBuilder};
    use oanix_caps::nostr_crate::event::{EventBuilder, FinalizeEvent, Kind};
    use oanix_caps::nostr_crate::key::Keys;

    // nostr-rs-relay when it is installed (`cargo xtask install-tools`), else
    // nostr-relay-builder's in-process relay.
    let relay_rt = runtime(1);
    let process = RelayProcess::start();
    let _local;
    let (url, relay_name) = match &process {
        Some(p) => (
            p.url.clone(),
            "nostr-rs-relay 0.8.12 (SQLite in a temporary directory)",
        ),
        None => {
            let (relay, url) = relay_rt.block_on(async {
                let relay = LocalRelay::new(RelayBuilder::default());
                relay.run().await.unwrap();
                let url = relay.url().await.to_string();
                (relay, url)
            });
            _local = relay;
            (url, "nostr-relay-builder's in-process relay")
        }
    };
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap();
    let n = if quick() { 50 } else { 500 };

    // Direct: a raw WebSocket client sending pre-signed events.
    let keys = Keys::generate();
    let client_rt = runtime(1);
    let mut ws = client_rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        tcp.set_nodelay(true).unwrap();
        let (ws, _) = tokio_tungstenite::client_async(url.clone(), tcp)
            .await
            .unwrap();
        ws
    });
    let mut i = 0u64;
    let mut direct_one = || {
        i += 1;
        let ev = EventBuilder::new(Kind::TextNote, format!("direct {i}"))
            .finalize(&keys)
            .unwrap();
        let text = serde_json::json!(["EVENT", ev]).to_string();
        client_rt.block_on(async {
            ws.send(Message::text(text)).await.unwrap();
            loop {
                let m = ws.next().await.unwrap().unwrap();
                if m.to_text().unwrap_or("").starts_with("[\"OK\"") {
                    break;
                }
            }
        });
    };

    // Through NostrFs and the relay connector.
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let tx = std::sync::Mutex::new(tx);
    let nostr = NostrFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["127.0.0.1"])
                .schemes(["ws"])
                .ports([port])
                .allow_loopback(true)
                .build()
                .unwrap(),
        )
        .relay(&url)
        .limits(NostrLimits::default().max_outbox(1 << 16))
        .record_sink(Arc::new(move |r: &oanix_caps::CapRecord| {
            if r.action == "publish" && r.outcome == oanix_caps::Outcome::Ok {
                let _ = tx.lock().unwrap().send(());
            }
        }))
        .generate()
        .unwrap();
    let config = ExecutorConfig::builder().worker_threads(1).build();
    let mut m = ExecutorManager::new(config).unwrap();
    m.attach_nostr(&nostr);
    m.start().unwrap();
    let mut j = 0u64;
    let mut files_one = || {
        j += 1;
        let mut h = nostr.open("/submit", OpenFlags::write_only()).unwrap();
        h.write(format!(r#"{{"kind": 1, "content": "through files {j}"}}"#).as_bytes())
            .unwrap();
        rx.recv_timeout(Duration::from_secs(30)).unwrap();
    };
    let stats = interleaved(n, &mut [&mut files_one, &mut direct_one]);
    let (files, direct) = (stats[0], stats[1]);
    m.shutdown().unwrap();

    let mut table = Table::new(
        "NIP-01 publish → OK with a local relay: NostrFs /submit and the relay connector against a raw WebSocket client (median per event, p99 in parentheses)",
        &[
            "NostrFs /submit + NostrRelayConnector",
            "tokio-tungstenite + nostr",
        ],
    );
    table.row("sign, publish, OK", vec![Some(files), Some(direct)]);
    table.note(format!(
        "Relay: {relay_name}. Both sign each event (secp256k1 Schnorr) before sending it; the relay verifies and stores it before answering OK."
    ));
    table
}

/// A nostr-rs-relay process on 127.0.0.1, if the binary can be found.
struct RelayProcess {
    child: std::process::Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl RelayProcess {
    fn start() -> Option<Self> {
        let mut dirs: Vec<std::path::PathBuf> = Vec::new();
        if let Some(root) = std::env::var_os("OANIX_TOOLS_ROOT") {
            dirs.push(std::path::PathBuf::from(root).join("bin"));
        }
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
        let binary = std::env::var_os("OANIX_NOSTR_RS_RELAY")
            .map(std::path::PathBuf::from)
            .or_else(|| {
                dirs.into_iter()
                    .map(|d| d.join("nostr-rs-relay"))
                    .find(|p| p.is_file())
            })?;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "[info]\nrelay_url = \"ws://127.0.0.1:{port}/\"\n\n[database]\ndata_directory = \"{}\"\n\n[network]\naddress = \"127.0.0.1\"\nport = {port}\n",
            dir.path().display()
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let child = std::process::Command::new(binary)
            .arg("--config")
            .arg(&config_path)
            .arg("--db")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "nostr-rs-relay did not start");
            std::thread::yield_now();
        }
        Some(Self {
            child,
            url: format!("ws://127.0.0.1:{port}"),
            _dir: dir,
        })
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn main() {
    let started = Instant::now();
    let only = std::env::var("OANIX_BENCH_ONLY").unwrap_or_default();
    let mut tables: Vec<Table> = Vec::new();
    if only.is_empty() || only == "http" {
        tables.push(http_bench());
    }
    if only.is_empty() || only == "ws" {
        tables.push(ws_bench());
    }
    if only.is_empty() || only == "nostr" {
        tables.push(nostr_bench());
    }
    for t in &tables {
        t.print();
    }
    println!("(benchmarks took {:.1} s)", started.elapsed().as_secs_f64());
}
