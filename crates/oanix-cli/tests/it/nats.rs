//! `oanix batch --nats` and `oanix worker` against a real NATS server
//! with JetStream (Debian's `nats-server`, started here on a free port):
//! jobs over several workers, a worker killed mid-job, a job that ends
//! every worker that takes it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

/// A NATS server with JetStream on loopback, stopped when dropped.
type Nats = server::Server;

#[path = "../support/nats_server.rs"]
mod server;

/// `nats-server`, which CI must have.
fn nats_server() -> Option<PathBuf> {
    let found = server::find();
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "nats-server is not installed: `.ci/run` installs Debian's nats-server"
        );
        eprintln!("note: nats-server is not installed, the JetStream tests did not run");
    }
    found
}

fn start_nats(program: &Path, store: &Path) -> Nats {
    start_nats_on(program, store, server::free_port())
}

fn start_nats_on(program: &Path, store: &Path, port: u16) -> Nats {
    start_nats_at(program, store, "127.0.0.1", port)
}

/// A server listening on `addr` (`0.0.0.0`: every interface, for a worker
/// in another network namespace).
fn start_nats_at(program: &Path, store: &Path, addr: &str, port: u16) -> Nats {
    server::start(program, store, addr, port)
}

/// A worker process, its stderr lines sent to `lines`.
struct WorkerProc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl WorkerProc {
    fn start(url: &str, name: &str, dir: &Path, extra: &[&str]) -> Self {
        Self::start_under(&[], url, name, dir, extra)
    }

    /// A worker started through `prefix` (`ip netns exec NS`).
    fn start_under(prefix: &[&str], url: &str, name: &str, dir: &Path, extra: &[&str]) -> Self {
        let mut command = match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(env!("CARGO_BIN_EXE_oanix"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_oanix")),
        };
        let mut child = command
            .args(["worker", "--nats", url, "--name", name, "--cache"])
            .arg(dir.join(format!("cache-{name}")))
            .args(extra)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel();
        let err = child.stderr.take().unwrap();
        let who = name.to_owned();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                // Shown with the test's output when it fails.
                eprintln!("[worker {who}] {line}");
                let _ = tx.send(line);
            }
        });
        Self { child, lines }
    }

    /// Waits for a line containing `needle`.
    fn wait_for(&self, needle: &str) -> String {
        self.wait_within(needle, Duration::from_secs(30))
    }

    /// Waits up to `patience` for a line containing `needle`.
    fn wait_within(&self, needle: &str, patience: Duration) -> String {
        let deadline = Instant::now() + patience;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("no {needle:?} from the worker: {e}"),
            }
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

/// The samples at `url` as `[name, labels as JSON, value]`, parsed by the
/// official Python client's parser (`OANIX_PROM_PYTHON`, set by `.ci/run`).
fn scrape(url: &str) -> Option<Vec<Value>> {
    let Some(python) = std::env::var_os("OANIX_PROM_PYTHON").filter(|p| !p.is_empty()) else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "prometheus-client is not installed: `.ci/run` installs it and sets OANIX_PROM_PYTHON"
        );
        eprintln!("note: OANIX_PROM_PYTHON is not set, the metrics were not parsed");
        return None;
    };
    let script = r#"
import json, sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(sys.argv[1]).read().decode()
out = []
for family in text_string_to_metric_families(text):
    for s in family.samples:
        out.append([s.name, json.dumps(s.labels, sort_keys=True), s.value])
print(json.dumps(out))
"#;
    let out = Command::new(python)
        .args(["-c", script, url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::text(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// A WASI module that counts to `n` (about a second per 10⁹ on this
/// machine) and writes its result.
fn module(dir: &Path, n: u64) -> PathBuf {
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "task/result.json")
  (data (i32.const 1100) "{{\"counted\": true}}")
  (data (i32.const 1200) "counted\n")
  (func (export "_start")
    (local $i i64)
    (loop $l
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $l (i64.lt_u (local.get $i) (i64.const {n}))))
    (drop (call $open (i32.const 3) (i32.const 1) (i32.const 1024)
      (i32.const 16) (i32.const 9) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 32)))
    (i32.store (i32.const 0) (i32.const 1100))
    (i32.store (i32.const 4) (i32.const 17))
    (drop (call $fd_write (i32.load (i32.const 32)) (i32.const 0) (i32.const 1) (i32.const 16)))
    (i32.store (i32.const 0) (i32.const 1200))
    (i32.store (i32.const 4) (i32.const 8))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))"#
    );
    let path = dir.join(format!("count-{n}.wasm"));
    std::fs::write(&path, wat::parse_str(&wat).unwrap()).unwrap();
    let manifest = dir.join(format!("count-{n}.toml"));
    std::fs::write(
        &manifest,
        format!(
            "[task]\nid = \"count\"\n\n[agent]\nmodule = \"{}\"\n",
            path.file_name().unwrap().to_string_lossy()
        ),
    )
    .unwrap();
    manifest
}

/// `oanix --json batch MANIFEST --nats URL ARGS...`, its report.
fn batch(url: &str, manifest: &Path, dir: &Path, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .arg("--json")
        .arg("batch")
        .arg(manifest)
        .args(["--nats", url])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let text = crate::text(&out.stdout);
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("{e}: {text}\n{}", crate::text(&out.stderr)))
}

#[test]
fn a_batch_over_two_workers_has_one_result_per_job() {
    let Some(program) = nats_server() else { return };
    let d = tempfile::tempdir().unwrap();
    let nats = start_nats(&program, &d.path().join("js"));
    let manifest = module(d.path(), 1000);
    let a = WorkerProc::start(&nats.url, "a", d.path(), &["--metrics", "127.0.0.1:0"]);
    let b = WorkerProc::start(&nats.url, "b", d.path(), &[]);
    a.wait_for("taking jobs");
    let metrics_url = a.wait_for("metrics on ").replace("metrics on ", "");
    b.wait_for("taking jobs");
    let report = batch(
        &nats.url,
        &manifest,
        d.path(),
        &["--jobs", "30", "--batch-id", "two"],
    );
    assert_eq!(report["completed"], 30, "{report}");
    let results = report["results"].as_array().unwrap();
    let mut ids: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 30);
    for r in results {
        assert_eq!(r["exit_code"], 0, "{r}");
        assert_eq!(r["attempt"], 1, "{r}");
        assert_eq!(r["result"], serde_json::json!({ "counted": true }), "{r}");
        assert_eq!(r["stdout_head"], "counted\n");
        assert!(["a", "b"].contains(&r["worker"].as_str().unwrap()), "{r}");
    }
    // The worker's metrics, read by Prometheus's own parser.
    let ran_by_a = results.iter().filter(|r| r["worker"] == "a").count() as f64;
    if let Some(samples) = scrape(&metrics_url) {
        let value = |name: &str, labels: &str| {
            samples
                .iter()
                .find(|s| s[0] == name && s[1] == labels)
                .and_then(|s| s[2].as_f64())
                .unwrap_or_else(|| panic!("no {name} {labels} in {samples:?}"))
        };
        assert_eq!(
            value("oanix_worker_jobs_total", r#"{"state": "ran"}"#),
            ran_by_a
        );
        assert_eq!(
            value("oanix_worker_environment_starts_total", "{}"),
            ran_by_a
        );
        assert_eq!(
            value("oanix_worker_job_duration_seconds_count", "{}"),
            ran_by_a
        );
        assert_eq!(
            value("oanix_worker_queue_depth", r#"{"band": "high"}"#),
            0.0
        );
    }
    // The same batch again: the stream drops the duplicates, every result is
    // there already, nothing runs twice.
    // Its metrics are served while it lingers, and read by the same parser.
    let mut again = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .arg("--json")
        .arg("batch")
        .arg(&manifest)
        .args(["--nats", &nats.url, "--jobs", "30", "--batch-id", "two"])
        .args(["--metrics", "127.0.0.1:0", "--metrics-linger", "3"])
        .current_dir(d.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(again.stderr.take().unwrap()).lines();
    let batch_metrics = loop {
        let line = lines.next().expect("the batch's metrics address").unwrap();
        if let Some(url) = line.strip_prefix("metrics on ") {
            break url.to_owned();
        }
    };
    // Until every result is counted (the second batch finds them all written).
    let deadline = Instant::now() + Duration::from_secs(10);
    while let Some(samples) = scrape(&batch_metrics) {
        let get = |labels: &str| {
            samples
                .iter()
                .find(|s| s[0] == "oanix_batch_jobs" && s[1] == labels)
                .and_then(|s| s[2].as_f64())
        };
        if get(r#"{"state": "completed"}"#) == Some(30.0) {
            assert_eq!(get(r#"{"state": "pending"}"#), Some(0.0));
            let count = samples
                .iter()
                .find(|s| s[0] == "oanix_batch_submit_to_result_seconds_count")
                .and_then(|s| s[2].as_f64());
            assert_eq!(count, Some(30.0), "{samples:?}");
            break;
        }
        assert!(Instant::now() < deadline, "{samples:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = again.wait_with_output().unwrap();
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["completed"], 30, "{again}");
    assert_eq!(again["results"], report["results"]);
    assert!(a.stop().success());
    assert!(b.stop().success());
}

#[test]
fn a_batch_survives_a_restart_of_the_server() {
    let Some(program) = nats_server() else { return };
    let d = tempfile::tempdir().unwrap();
    let store = d.path().join("js");
    let mut nats = start_nats(&program, &store);
    let port: u16 = nats.url.rsplit(':').next().unwrap().parse().unwrap();
    let manifest = module(d.path(), 150_000_000);
    let args = ["--ack-wait", "1"];
    let a = WorkerProc::start(&nats.url, "a", d.path(), &args);
    let b = WorkerProc::start(&nats.url, "b", d.path(), &args);
    a.wait_for("taking jobs");
    b.wait_for("taking jobs");
    let (url, m, dir) = (nats.url.clone(), manifest.clone(), d.path().to_path_buf());
    let submitted = std::thread::spawn(move || {
        batch(&url, &m, &dir, &["--jobs", "40", "--batch-id", "restart"])
    });
    a.wait_for("ran restart.");
    // The server goes down mid-batch and comes back on its store.
    drop(nats);
    std::thread::sleep(Duration::from_millis(500));
    nats = start_nats_on(&program, &store, port);
    let report = submitted.join().unwrap();
    assert_eq!(report["completed"], 40, "{report}");
    let results = report["results"].as_array().unwrap();
    let mut ids: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 40, "{report}");
    assert!(results.iter().all(|r| r["exit_code"] == 0), "{report}");
    assert!(a.stop().success());
    assert!(b.stop().success());
    drop(nats);
}

#[test]
fn a_job_whose_worker_is_killed_is_run_again_and_has_one_result() {
    let Some(program) = nats_server() else { return };
    let d = tempfile::tempdir().unwrap();
    let nats = start_nats(&program, &d.path().join("js"));
    let manifest = module(d.path(), 3_000_000_000);
    let first = WorkerProc::start(&nats.url, "first", d.path(), &["--ack-wait", "1"]);
    first.wait_for("taking jobs");
    let (url, m, dir) = (nats.url.clone(), manifest.clone(), d.path().to_path_buf());
    let submitted =
        std::thread::spawn(move || batch(&url, &m, &dir, &["--jobs", "1", "--batch-id", "kill"]));
    first.wait_for("took kill.0 (delivery 1)");
    std::thread::sleep(Duration::from_millis(300));
    first.kill();
    let second = WorkerProc::start(&nats.url, "second", d.path(), &["--ack-wait", "1"]);
    second.wait_for("took kill.0 (delivery 2)");
    let report = submitted.join().unwrap();
    assert_eq!(report["completed"], 1, "{report}");
    let r = &report["results"][0];
    assert_eq!(r["worker"], "second", "{r}");
    assert_eq!(r["attempt"], 2, "{r}");
    assert_eq!(r["exit_code"], 0, "{r}");
    assert!(second.stop().success());
}

#[test]
fn a_job_that_ends_every_worker_is_parked_with_its_reason() {
    let Some(program) = nats_server() else { return };
    let d = tempfile::tempdir().unwrap();
    let nats = start_nats(&program, &d.path().join("js"));
    let manifest = module(d.path(), 30_000_000_000);
    let args = ["--ack-wait", "1", "--max-attempts", "2"];
    let (url, m, dir) = (nats.url.clone(), manifest.clone(), d.path().to_path_buf());
    let submitted =
        std::thread::spawn(move || batch(&url, &m, &dir, &["--jobs", "1", "--batch-id", "poison"]));
    // Each worker that takes it dies with it.
    for attempt in 1..=2 {
        let w = WorkerProc::start(&nats.url, &format!("w{attempt}"), d.path(), &args);
        w.wait_for(&format!("took poison.0 (delivery {attempt})"));
        w.kill();
    }
    let last = WorkerProc::start(&nats.url, "last", d.path(), &args);
    last.wait_for("poison.0: parked");
    let report = submitted.join().unwrap();
    assert_eq!(report["parked"], 1, "{report}");
    let r = &report["results"][0];
    assert_eq!(r["state"], "parked");
    assert!(
        r["error"]
            .as_str()
            .unwrap()
            .contains("parked after 2 deliveries without a result"),
        "{r}"
    );
    assert!(last.stop().success());
}

/// A server, a manifest of jobs that count for five minutes (only a
/// cancellation ends them soon) and one worker taking jobs.
fn long_jobs() -> Option<(tempfile::TempDir, Nats, PathBuf, WorkerProc)> {
    let program = nats_server()?;
    let d = tempfile::tempdir().unwrap();
    let nats = start_nats(&program, &d.path().join("js"));
    let manifest = module(d.path(), 300_000_000_000);
    let w = WorkerProc::start(&nats.url, "w", d.path(), &[]);
    w.wait_for("taking jobs");
    Some((d, nats, manifest, w))
}

#[test]
fn a_stopped_batch_cancels_its_jobs_and_the_running_one_stops() {
    let Some((d, nats, manifest, w)) = long_jobs() else {
        return;
    };
    let submitted = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .arg("--json")
        .arg("batch")
        .arg(&manifest)
        .args(["--nats", &nats.url, "--jobs", "3", "--batch-id", "stop"])
        .current_dir(d.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    w.wait_for("took stop.0 (delivery 1)");
    let interrupted = Command::new("kill")
        .args(["-INT", &submitted.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    // The running job is stopped, the two others are never started.
    w.wait_for("stop.0: cancelled, stopped");
    let out = submitted.wait_with_output().unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", crate::text(&out.stderr)));
    assert_eq!(report["cancelled"], 3, "{report}");
    assert_eq!(out.status.code(), Some(1), "{report}");
    for r in report["results"].as_array().unwrap() {
        assert_eq!(r["state"], "cancelled", "{r}");
        assert_eq!(r["error"], "the batch was stopped", "{r}");
    }
    for n in 1..3 {
        w.wait_for(&format!("stop.{n}: done already, acknowledged"));
    }
    // `oanix cancel` on jobs that have a result changes nothing.
    let out = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .args(["--json", "cancel", "--nats", &nats.url, "stop.0-2"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::text(&out.stderr));
    let told: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(told, serde_json::json!({ "named": 3, "cancelled": 0 }));
    let bad = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .args(["cancel", "--nats", &nats.url, "stop.2-1"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(crate::text(&bad.stderr).contains("the range ends before it starts"));
    assert!(w.stop().success());
}

#[test]
fn oanix_cancel_stops_a_job_another_batch_is_waiting_for() {
    let Some((d, nats, manifest, w)) = long_jobs() else {
        return;
    };
    let (url, m, dir) = (nats.url.clone(), manifest.clone(), d.path().to_path_buf());
    let submitted =
        std::thread::spawn(move || batch(&url, &m, &dir, &["--jobs", "1", "--batch-id", "c"]));
    w.wait_for("took c.0 (delivery 1)");
    let out = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .args([
            "cancel",
            "--nats",
            &nats.url,
            "--reason",
            "not needed",
            "c.0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::text(&out.stderr));
    assert!(crate::text(&out.stdout).contains("1 of 1 jobs cancelled"));
    w.wait_for("c.0: cancelled, stopped");
    let report = submitted.join().unwrap();
    assert_eq!(report["cancelled"], 1, "{report}");
    assert_eq!(report["results"][0]["error"], "not needed");
    assert!(w.stop().success());
}

/// A network namespace joined to this one by a veth pair (`10.231.N.1` on
/// this side, `.2` inside), deleted when dropped.
struct NetNs {
    name: String,
    outer: String,
    host: String,
}

impl NetNs {
    /// `None` (with a note) where namespaces cannot be made: not root, no
    /// `ip`. In CI they must be.
    fn new() -> Option<Self> {
        let id = std::process::id();
        let n = id % 250 + 1;
        let ns = Self {
            name: format!("oanix-part-{id}"),
            outer: format!("oxh{}", id % 1_000_000),
            host: format!("10.231.{n}.1"),
        };
        let inner = format!("oxn{}", id % 1_000_000);
        let made = ns.ip(&["netns", "add", &ns.name])
            && ns.ip(&[
                "link", "add", &ns.outer, "type", "veth", "peer", "name", &inner,
            ])
            && ns.ip(&["link", "set", &inner, "netns", &ns.name])
            && ns.ip(&["addr", "add", &format!("{}/30", ns.host), "dev", &ns.outer])
            && ns.ip(&["link", "set", &ns.outer, "up"])
            && ns.inside(&[
                "ip",
                "addr",
                "add",
                &format!("10.231.{n}.2/30"),
                "dev",
                &inner,
            ])
            && ns.inside(&["ip", "link", "set", &inner, "up"])
            && ns.inside(&["ip", "link", "set", "lo", "up"]);
        if !made {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "a network namespace with a veth pair could not be made (CI runs as root with iproute2)"
            );
            eprintln!(
                "note: no network namespace (not root, or no `ip`): the partition test did not run"
            );
            return None;
        }
        Some(ns)
    }

    fn ip(&self, args: &[&str]) -> bool {
        Command::new("ip")
            .args(args)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn inside(&self, args: &[&str]) -> bool {
        let mut all = vec!["netns", "exec", &self.name];
        all.extend_from_slice(args);
        self.ip(&all)
    }

    /// Cuts (`false`) or restores (`true`) the link.
    fn link(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        assert!(
            self.ip(&["link", "set", &self.outer, state]),
            "ip link set {state}"
        );
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        // The veth pair goes with the namespace.
        self.ip(&["netns", "del", &self.name]);
        self.ip(&["link", "del", &self.outer]);
    }
}

#[test]
fn a_worker_cut_off_from_the_server_loses_its_job_and_its_late_result_is_dropped() {
    let Some(program) = nats_server() else { return };
    let Some(ns) = NetNs::new() else { return };
    let d = tempfile::tempdir().unwrap();
    let port = server::free_port();
    let nats = start_nats_at(&program, &d.path().join("js"), "0.0.0.0", port);
    // About three seconds of counting.
    let manifest = module(d.path(), 3_000_000_000);
    let args = ["--ack-wait", "2"];
    let cut = WorkerProc::start_under(
        &["ip", "netns", "exec", &ns.name],
        &format!("nats://{}:{port}", ns.host),
        "cut",
        d.path(),
        &args,
    );
    cut.wait_for("taking jobs");
    let (url, m, dir) = (nats.url.clone(), manifest.clone(), d.path().to_path_buf());
    let submitted =
        std::thread::spawn(move || batch(&url, &m, &dir, &["--jobs", "1", "--batch-id", "part"]));
    cut.wait_for("took part.0 (delivery 1)");
    ns.link(false);
    // Its progress acks no longer arrive: after the ack wait the job goes
    // to a worker that can reach the server.
    let other = WorkerProc::start(&nats.url, "other", d.path(), &args);
    other.wait_for("took part.0 (delivery 2)");
    let report = submitted.join().unwrap();
    assert_eq!(report["completed"], 1, "{report}");
    let r = &report["results"][0];
    assert_eq!(r["worker"], "other", "{r}");
    assert_eq!(r["attempt"], 2, "{r}");
    // Back on the network, the cut-off worker's result comes too late.
    ns.link(true);
    cut.wait_within(
        "part.0: another delivery's result came first; this one was dropped",
        Duration::from_secs(90),
    );
    let again = batch(
        &nats.url,
        &manifest,
        d.path(),
        &["--jobs", "1", "--batch-id", "part"],
    );
    assert_eq!(again["results"], report["results"]);
    assert!(cut.stop().success());
    assert!(other.stop().success());
    drop(nats);
}

/// An OTLP/HTTP collector on loopback: the JSON bodies POSTed to
/// `/v1/traces`, answered with an empty success.
struct Collector {
    url: String,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl Collector {
    fn start() -> Self {
        use std::io::{Read as _, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = std::sync::Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let kept = std::sync::Arc::clone(&kept);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut stream = stream;
                    // One request after another on the connection.
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        let mut length = 0;
                        loop {
                            let mut header = String::new();
                            reader.read_line(&mut header).unwrap();
                            let header = header.trim_end();
                            if header.is_empty() {
                                break;
                            }
                            if let Some((k, v)) = header.split_once(':')
                                && k.eq_ignore_ascii_case("content-length")
                            {
                                length = v.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        assert!(line.starts_with("POST /v1/traces "), "{line}");
                        kept.lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).unwrap());
                        let reply = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                        stream.write_all(reply.as_bytes()).unwrap();
                    }
                });
            }
        });
        Self { url, bodies }
    }

    /// Every span received: `(service, span)`.
    fn spans(&self) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for body in self.bodies.lock().unwrap().iter() {
            for rs in body["resourceSpans"].as_array().into_iter().flatten() {
                let service = rs["resource"]["attributes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|a| a["key"] == "service.name")
                    .and_then(|a| a["value"]["stringValue"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                    for span in ss["spans"].as_array().into_iter().flatten() {
                        out.push((service.clone(), span.clone()));
                    }
                }
            }
        }
        out
    }
}

/// The string attribute `key` of an OTLP span.
fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a Value> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)
        .map(|a| &a["value"])
}

#[test]
fn one_trace_runs_from_the_submission_through_the_workers_to_the_results() {
    let Some(program) = nats_server() else { return };
    let d = tempfile::tempdir().unwrap();
    let nats = start_nats(&program, &d.path().join("js"));
    let manifest = module(d.path(), 1000);
    let collector = Collector::start();
    // The exporter reads the standard variables; both processes export.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .args(["worker", "--nats", &nats.url, "--name", "traced", "--cache"])
        .arg(d.path().join("cache"))
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url)
        .current_dir(d.path())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(worker.stderr.take().unwrap()).lines();
    assert!(
        lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("taking jobs"))
    );
    std::thread::spawn(move || for _ in lines {});
    let out = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .arg("--json")
        .arg("batch")
        .arg(&manifest)
        .args(["--nats", &nats.url, "--jobs", "3", "--batch-id", "traced"])
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.url)
        .current_dir(d.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", crate::text(&out.stderr));
    // A stopped worker sends the spans it has not sent yet.
    Command::new("kill")
        .arg(worker.id().to_string())
        .status()
        .unwrap();
    assert!(worker.wait().unwrap().success());
    let spans = collector.spans();
    let named = |service: &str, name: &str| -> Vec<&Value> {
        spans
            .iter()
            .filter(|(s, span)| s == service && span["name"] == name)
            .map(|(_, span)| span)
            .collect()
    };
    let batch = named("oanix-batch", "oanix.batch");
    assert_eq!(batch.len(), 1, "{spans:?}");
    let trace = batch[0]["traceId"].as_str().unwrap();
    let submit = named("oanix-batch", "oanix.submit");
    assert_eq!(submit.len(), 1, "{spans:?}");
    assert_eq!(submit[0]["traceId"], trace);
    assert_eq!(submit[0]["parentSpanId"], batch[0]["spanId"]);
    let follow = named("oanix-batch", "oanix.follow");
    assert_eq!(follow.len(), 1, "{spans:?}");
    assert_eq!(follow[0]["parentSpanId"], batch[0]["spanId"]);
    // Each run in the worker process is a child of the submission, and
    // each result a child of its run.
    let runs = named("oanix-worker", "oanix.job.run");
    let mut jobs: Vec<&str> = runs
        .iter()
        .map(|r| {
            attribute(r, "job")
                .and_then(|v| v["stringValue"].as_str())
                .unwrap()
        })
        .collect();
    jobs.sort_unstable();
    assert_eq!(jobs, ["traced.0", "traced.1", "traced.2"], "{runs:?}");
    for run in &runs {
        assert_eq!(run["traceId"], trace, "{run}");
        assert_eq!(run["parentSpanId"], submit[0]["spanId"], "{run}");
        assert_eq!(
            attribute(run, "state").and_then(|v| v["stringValue"].as_str()),
            Some("completed"),
            "{run}"
        );
    }
    let results = named("oanix-worker", "oanix.job.result");
    assert_eq!(results.len(), 3, "{spans:?}");
    for result in results {
        assert_eq!(result["traceId"], trace);
        assert!(
            runs.iter().any(|r| r["spanId"] == result["parentSpanId"]),
            "{result}"
        );
        assert_eq!(
            attribute(result, "outcome").and_then(|v| v["stringValue"].as_str()),
            Some("written"),
            "{result}"
        );
    }
}
