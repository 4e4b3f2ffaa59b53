//! The Autobahn fuzzing-server cases of sections 1 to 10 (kosoku's
//! `fuzzingserver`) against an echo agent that uses only the `/cap/ws`
//! files: every case must end OK, NON-STRICT or INFORMATIONAL.
//!
//! kosoku is found through `OANIX_KOSOKU` (the program's path) or as
//! `kosoku` on `PATH`. Without it the test fails when `CI=true` and
//! otherwise says it did not run.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use oanix_caps::{EgressPolicy, WsFs, WsLimits};
use oanix_exec::{ExecutorConfig, ExecutorManager};
use oanix_vfs::{FileService, FsErrorKind, Namespace, OpenFlags, read_to_end};
use serde_json::Value;

/// The name the agent reports to the fuzzing server.
const AGENT: &str = "oanix";

/// The largest message of the suite (cases 9.1.6 and 9.2.6): 16 MiB.
const MAX_MESSAGE: usize = 16 << 20;

/// Case patterns left out of the run. Sections 12 and 13 are
/// permessage-deflate, which the connector does not negotiate; there are
/// no sections 8 and 11.
const EXCLUDED: &[&str] = &["12.*", "13.*"];

/// How long one case may take, the 16 MiB ones included.
const CASE_PATIENCE: Duration = Duration::from_secs(180);

/// kosoku's `fuzzingserver`, bound to an ephemeral port on 127.0.0.1.
struct Kosoku {
    child: Child,
    port: u16,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl Kosoku {
    fn start(program: &Path, outdir: &Path) -> Self {
        let mut command = Command::new(program);
        command
            .arg("--mode")
            .arg("fuzzingserver")
            .arg("--outdir")
            .arg(outdir);
        for pattern in EXCLUDED {
            command.arg("--exclude").arg(pattern);
        }
        let mut child = command
            .arg("127.0.0.1:0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut out = child.stdout.take().unwrap();
        let stdout = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        });
        let err = child.stderr.take().unwrap();
        let (port_tx, port_rx) = channel();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let mut lines = BufReader::new(err);
            let mut line = String::new();
            while lines.read_line(&mut line).unwrap_or(0) > 0 {
                if let Some(rest) = line.trim().strip_prefix("fuzzingserver listening on ws://") {
                    let port = rest.rsplit(':').next().and_then(|p| p.parse::<u16>().ok());
                    let _ = port_tx.send(port);
                }
                text.push_str(&line);
                line.clear();
            }
            text
        });
        let port = match port_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(port)) => port,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "kosoku did not say where it listens ({other:?}): {}",
                    stderr.join().unwrap_or_default()
                );
            }
        };
        Self {
            child,
            port,
            stdout,
            stderr,
        }
    }

    /// Waits for kosoku to end after the run and gives its output.
    fn finish(mut self) -> String {
        let (tx, rx) = channel();
        let waiter = std::thread::spawn(move || {
            let status = self.child.wait();
            let _ = tx.send(());
            (status, self.child)
        });
        if rx.recv_timeout(Duration::from_secs(120)).is_err() {
            panic!("kosoku did not end after the run");
        }
        let (status, _child) = waiter.join().unwrap();
        let status = status.unwrap();
        let out = self.stdout.join().unwrap_or_default();
        let err = self.stderr.join().unwrap_or_default();
        format!("kosoku ({status}):\n{out}{err}")
    }
}

/// Where kosoku is, or `None` when it is not installed.
fn kosoku_program() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OANIX_KOSOKU").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("kosoku"))
        .find(|candidate| candidate.is_file())
}

/// The echo agent: files only, through a namespace with `/cap/ws`.
struct Agent {
    ns: Namespace,
    base: String,
}

impl Agent {
    /// Opens `path` on the fuzzing server and gives the connection id.
    fn open(&self, path: &str) -> String {
        let mut h = self
            .ns
            .open("/cap/ws/control", OpenFlags::read_write())
            .unwrap();
        let request = serde_json::json!({ "url": format!("{}{path}", self.base) }).to_string();
        h.write(request.as_bytes()).unwrap();
        let mut id = Vec::new();
        read_to_end(h.as_mut(), &mut id).unwrap();
        String::from_utf8(id).unwrap()
    }

    /// The next message of `id` as (is it text, payload), or `None` once
    /// the connection has ended.
    fn next_message(&self, id: &str, deadline: Instant) -> Option<(bool, Vec<u8>)> {
        let path = format!("/cap/ws/conns/{id}/in");
        loop {
            let mut h = self.ns.open(&path, OpenFlags::read_only()).unwrap();
            let mut data = Vec::new();
            match read_to_end(h.as_mut(), &mut data) {
                Ok(_) => return parse_message(&data),
                Err(e) if e.kind() == FsErrorKind::TimedOut => {
                    assert!(Instant::now() < deadline, "{path}: no end in sight");
                }
                Err(e) => panic!("{path}: {e}"),
            }
        }
    }

    /// Sends one message on `id`; a connection already gone is not an
    /// error here (its end is read from `in`).
    fn send(&self, id: &str, text: bool, payload: &[u8]) {
        let file = if text { "out" } else { "out.bin" };
        let path = format!("/cap/ws/conns/{id}/{file}");
        let Ok(mut h) = self.ns.open(&path, OpenFlags::write_only()) else {
            return;
        };
        if let Ok(n) = h.write(payload) {
            assert_eq!(n, payload.len(), "{path}: a message is one write");
        }
    }

    /// Echoes every message of a connection until it ends; gives the
    /// messages received.
    fn echo(&self, path: &str) -> Vec<(bool, Vec<u8>)> {
        let id = self.open(path);
        let deadline = Instant::now() + CASE_PATIENCE;
        let mut seen = Vec::new();
        while let Some((text, payload)) = self.next_message(&id, deadline) {
            self.send(&id, text, &payload);
            if seen.len() < 4 {
                seen.push((text, payload));
            }
        }
        seen
    }
}

/// Splits what a read of `in` gave into (is it text, payload); nothing at
/// all is the end of the connection.
fn parse_message(data: &[u8]) -> Option<(bool, Vec<u8>)> {
    if data.is_empty() {
        return None;
    }
    let newline = data
        .iter()
        .position(|&b| b == b'\n')
        .expect("a message header");
    let header = std::str::from_utf8(&data[..newline]).unwrap();
    let (kind, len) = header.split_once(' ').expect("`kind len`");
    let len: usize = len.parse().unwrap();
    let payload = data[newline + 1..].to_vec();
    assert_eq!(payload.len(), len, "the header's length: {header}");
    match kind {
        "text" => Some((true, payload)),
        "binary" => Some((false, payload)),
        other => panic!("unknown message kind {other:?}"),
    }
}

/// One case's verdicts from kosoku's report.
#[derive(Debug)]
struct Verdict {
    behavior: String,
    behavior_close: String,
    reason: String,
}

fn acceptable(verdict: &str) -> bool {
    matches!(verdict, "OK" | "NON-STRICT" | "INFORMATIONAL")
}

/// Reads `index.json` and the failing cases' own reports.
fn read_report(outdir: &Path) -> BTreeMap<String, Verdict> {
    let index: Value =
        serde_json::from_slice(&std::fs::read(outdir.join("index.json")).unwrap()).unwrap();
    let cases = index[AGENT].as_object().expect("the agent's cases");
    let mut verdicts = BTreeMap::new();
    for (case, entry) in cases {
        let behavior = entry["behavior"].as_str().unwrap_or("?").to_owned();
        let behavior_close = entry["behaviorClose"].as_str().unwrap_or("?").to_owned();
        let mut reason = String::new();
        if !(acceptable(&behavior) && acceptable(&behavior_close)) {
            let file = outdir.join(entry["reportfile"].as_str().unwrap_or_default());
            if let Ok(bytes) = std::fs::read(file) {
                let detail: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                reason = format!(
                    "{} / {} (close sent {} {:?}, received {} {:?})",
                    detail["result"].as_str().unwrap_or_default(),
                    detail["resultClose"].as_str().unwrap_or_default(),
                    detail["localCloseCode"],
                    detail["localCloseReason"].as_str().unwrap_or_default(),
                    detail["remoteCloseCode"],
                    detail["remoteCloseReason"].as_str().unwrap_or_default(),
                );
            }
        }
        verdicts.insert(
            case.clone(),
            Verdict {
                behavior,
                behavior_close,
                reason,
            },
        );
    }
    verdicts
}

/// Case ids in numeric order (1.2.10 after 1.2.9).
fn case_order(case: &str) -> Vec<u32> {
    case.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[test]
fn autobahn_fuzzing_server_cases_pass_over_the_files() {
    let Some(program) = kosoku_program() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "kosoku is not installed: `pip install kosoku==0.1.0` (.ci/run installs it) \
             or set OANIX_KOSOKU to the program"
        );
        println!("note: kosoku is not installed, the Autobahn cases did not run");
        return;
    };
    let outdir = tempfile::tempdir().unwrap();
    let server = Kosoku::start(&program, outdir.path());

    let max = u64::try_from(MAX_MESSAGE).unwrap();
    let policy = EgressPolicy::allow_hosts(["127.0.0.1"])
        .schemes(["ws"])
        .ports([server.port])
        .allow_loopback(true)
        .max_request_body(max)
        .max_response_body(max)
        .build()
        .unwrap();
    let ws = Arc::new(
        WsFs::builder()
            .policy(policy)
            .limits(WsLimits::default().wait(Duration::from_secs(10)))
            .build(),
    );
    let config = ExecutorConfig::builder()
        .ws_max_message(MAX_MESSAGE)
        .ws_max_frame(MAX_MESSAGE)
        .ws_max_write_buffer(MAX_MESSAGE)
        .shutdown_grace(Duration::from_millis(500))
        .tls_webpki_roots(false)
        .build();
    let mut executors = ExecutorManager::new(config).unwrap();
    executors.attach_ws(Arc::clone(&ws));
    executors.start().unwrap();
    let agent = Agent {
        ns: Namespace::builder()
            .mount("/cap/ws", Arc::clone(&ws))
            .build(),
        base: format!("ws://127.0.0.1:{}", server.port),
    };

    let count = agent.echo("/getCaseCount");
    let count: usize = match count.first() {
        Some((true, text)) => std::str::from_utf8(text).unwrap().trim().parse().unwrap(),
        other => panic!("no case count: {other:?}"),
    };
    assert!(count > 200, "only {count} cases");
    for case in 1..=count {
        let started = Instant::now();
        agent.echo(&format!("/runCase?case={case}&agent={AGENT}"));
        println!("case {case}/{count}: {:?}", started.elapsed());
    }
    agent.echo(&format!("/updateReports?agent={AGENT}"));
    executors.shutdown().unwrap();
    let output = server.finish();
    println!("{output}");

    let verdicts = read_report(outdir.path());
    assert_eq!(verdicts.len(), count, "cases in the report");
    let mut totals: BTreeMap<String, usize> = BTreeMap::new();
    let mut failed: Vec<(&String, &Verdict)> = Vec::new();
    let mut notable: Vec<String> = Vec::new();
    for (case, verdict) in &verdicts {
        *totals.entry(verdict.behavior.clone()).or_default() += 1;
        if verdict.behavior != "OK" || verdict.behavior_close != "OK" {
            notable.push(format!(
                "{case} {}/{}",
                verdict.behavior, verdict.behavior_close
            ));
        }
        if !(acceptable(&verdict.behavior) && acceptable(&verdict.behavior_close)) {
            failed.push((case, verdict));
        }
    }
    failed.sort_by_key(|(case, _)| case_order(case));
    println!("Autobahn: {count} cases, {totals:?}, excluded {EXCLUDED:?}");
    println!("not plain OK: {}", notable.join(", "));
    let failures: Vec<String> = failed
        .iter()
        .map(|(case, v)| {
            format!(
                "{case}: {} / {}: {}",
                v.behavior, v.behavior_close, v.reason
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} Autobahn cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
