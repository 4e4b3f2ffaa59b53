//! Benchmark: a tool call's round trip through `oanix mcp` — reading a
//! 1 KiB file — over stdio (the command as a child process, driven by
//! rmcp's client) and over streamable HTTP (one keep-alive connection on
//! loopback), against the same read through the library API in the same
//! run. The difference is what MCP adds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark setup and report"
)]

use std::io::BufRead as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use oanix_bench::{Stats, Table, measure};
use oanix_env::EnvPlan;
use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

const ROUND_TRIPS: usize = 2000;

fn manifest(dir: &Path) -> std::path::PathBuf {
    let project = dir.join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("one-kib.txt"), "x".repeat(1024)).unwrap();
    let path = dir.join("bench.toml");
    std::fs::write(
        &path,
        "[task]\nid = \"bench\"\n\n[[mount]]\npath = \"/workspace\"\nkind = \"workspace\"\nhost = \"project\"\n",
    )
    .unwrap();
    path
}

fn read_args() -> CallToolRequestParams {
    let Value::Object(args) = json!({ "path": "/workspace/one-kib.txt" }) else {
        unreachable!()
    };
    CallToolRequestParams::new("read_file").with_arguments(args)
}

/// The read through the library: the environment the manifest describes,
/// `read_file` on its namespace.
fn library(manifest: &Path) -> Stats {
    let env = EnvPlan::from_manifest_file(manifest)
        .unwrap()
        .builder()
        .unwrap()
        .build()
        .unwrap();
    measure(|_| {
        let bytes = oanix_vfs::read_file(env.namespace(), "/workspace/one-kib.txt").unwrap();
        assert_eq!(bytes.len(), 1024);
    })
}

/// Times `n` round trips of `call` (after `n / 10` to warm up), each on its
/// own, inside the client's runtime.
async fn timed<F: std::future::Future<Output = ()>>(
    n: usize,
    mut call: impl FnMut(u64) -> F,
) -> Stats {
    let n = if std::env::var_os("OANIX_BENCH_QUICK").is_some_and(|v| v != "0") {
        (n / 10).max(10)
    } else {
        n
    };
    for i in 0..(n / 10) as u64 {
        call(i).await;
    }
    let mut times = Vec::with_capacity(n);
    for i in 0..n as u64 {
        let start = Instant::now();
        call(i).await;
        times.push(start.elapsed().as_nanos() as f64);
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Stats {
        median_ns: at(0.5),
        p99_ns: at(0.99),
        ops: n as u64,
    }
}

/// Round trips over stdio to a child `oanix mcp`.
fn stdio(rt: &tokio::runtime::Runtime, manifest: &Path) -> Stats {
    rt.block_on(async {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_oanix"));
        command.arg("mcp").arg(manifest).arg("--discard");
        command.stderr(Stdio::null());
        let transport = TokioChildProcess::new(command).unwrap();
        let client = ClientConfig::default()
            .with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE)
            .serve(transport)
            .await
            .unwrap();
        let stats = timed(ROUND_TRIPS, |_| async {
            let r = client.call_tool(read_args()).await.unwrap();
            assert_eq!(r.is_error, Some(false));
        })
        .await;
        client.cancel().await.unwrap();
        stats
    })
}

/// One JSON-RPC message posted in the session; gives the response's
/// session id and its JSON-RPC answer (from JSON or the SSE stream).
async fn post(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    addr: &str,
    session: Option<&str>,
    message: &Value,
) -> (Option<String>, Option<Value>) {
    let mut request = Request::post(format!("http://{addr}/mcp"))
        .header("host", addr)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(s) = session {
        request = request.header("mcp-session-id", s);
    }
    let request = request
        .body(Full::new(Bytes::from(message.to_string())))
        .unwrap();
    sender.ready().await.unwrap();
    let response = sender.send_request(request).await.unwrap();
    let id = response
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body);
    let answer = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .chain(std::iter::once(text.as_ref()))
        .find_map(|d| {
            serde_json::from_str::<Value>(d.trim())
                .ok()
                .filter(|v| v.get("id").is_some())
        });
    (id, answer)
}

/// Round trips over streamable HTTP to a child `oanix mcp --http`.
fn http(rt: &tokio::runtime::Runtime, manifest: &Path) -> Stats {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_oanix"))
        .arg("mcp")
        .arg(manifest)
        .args(["--discard", "--http", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    let stats = rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        let init = json!({ "jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": { "name": "bench", "version": "1" } } });
        let (session, _) = post(&mut sender, &addr, None, &init).await;
        let session = session.expect("a session id");
        let initialized = json!({ "jsonrpc": "2.0", "method": "notifications/initialized" });
        post(&mut sender, &addr, Some(&session), &initialized).await;
        let sender = tokio::sync::Mutex::new(sender);
        timed(ROUND_TRIPS, |i| {
            let (sender, addr, session) = (&sender, &addr, &session);
            async move {
                let call = json!({ "jsonrpc": "2.0", "id": i + 1, "method": "tools/call", "params": {
                    "name": "read_file", "arguments": { "path": "/workspace/one-kib.txt" } } });
                let (_, answer) = post(&mut *sender.lock().await, addr, Some(session), &call).await;
                let answer = answer.expect("an answer");
                assert_eq!(answer["result"]["isError"], false, "{answer}");
            }
        })
        .await
    });
    // SIGTERM: the command ends the environment and exits.
    let _ = std::process::Command::new("kill")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    stats
}

/// The floor under any stdio transport: a line of the size of a tool call
/// written to a child `cat` and read back, through the same kind of pipes.
fn pipe_echo(rt: &tokio::runtime::Runtime) -> Stats {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    rt.block_on(async {
        let mut child = tokio::process::Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let input = child.stdin.take().unwrap();
        let output = tokio::io::BufReader::new(child.stdout.take().unwrap());
        let line = format!(
            "{}\n",
            json!({ "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": { "name": "read_file", "arguments": { "path": "/workspace/one-kib.txt" } } })
        );
        let pipes = tokio::sync::Mutex::new((input, output, String::new()));
        let stats = timed(ROUND_TRIPS, |_| {
            let (pipes, line) = (&pipes, &line);
            async move {
                let mut guard = pipes.lock().await;
                let (input, output, back) = &mut *guard;
                input.write_all(line.as_bytes()).await.unwrap();
                back.clear();
                output.read_line(back).await.unwrap();
            }
        })
        .await;
        drop(pipes);
        let _ = child.wait().await;
        stats
    })
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest(dir.path());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let lib = library(&manifest);
    let over_stdio = stdio(&rt, &manifest);
    let over_http = http(&rt, &manifest);
    let echo = pipe_echo(&rt);
    let mut table = Table::new(
        "oanix-mcp: a tool call's round trip (read_file of 1 KiB)",
        &[
            "MCP over stdio",
            "MCP over streamable HTTP",
            "library API",
            "pipe echo (cat)",
        ],
    );
    table.row(
        "read a 1 KiB file",
        vec![Some(over_stdio), Some(over_http), Some(lib), None],
    );
    table.row(
        "a line to a child and back",
        vec![None, None, None, Some(echo)],
    );
    table.note(format!(
        "added by MCP, p50: {:.1} µs over stdio, {:.1} µs over streamable HTTP \
         (the child `oanix mcp` process, a client in this one; {ROUND_TRIPS} calls each); \
         of the stdio figure, {:.1} µs is the pipe round trip itself (a line to `cat` and back)",
        (over_stdio.median_ns - lib.median_ns) / 1e3,
        (over_http.median_ns - lib.median_ns) / 1e3,
        echo.median_ns / 1e3
    ));
    table.print();
}
