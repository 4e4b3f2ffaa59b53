//! The live namespace: what a guest reads is the namespace at that moment,
//! what it writes lands at once, capability files work mid-run, and a
//! blocking capability read ends with the run's timeout.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oanix_caps::{EgressPolicy, HttpFs, HttpResponse, Listener as _};
use oanix_prims::{CowFs, FuncFs, MapFs, MemFs};
use oanix_services::LogsFs;
use oanix_vfs::{FsError, Namespace, deadline, read_to_string, write_file};
use oanix_wasi::{RunConfig, TrapKind};

use crate::guests::{guest, runtime};

/// `/ctl`: `signal` delivers each write to the host; a read of `gate` blocks
/// until the host lets the guest go (at most until the thread's deadline).
fn control() -> (FuncFs, Receiver<String>, Sender<()>) {
    let (signal_tx, signal_rx) = mpsc::channel::<String>();
    let (gate_tx, gate_rx) = mpsc::channel::<()>();
    let signal_tx = Mutex::new(signal_tx);
    let gate_rx = Mutex::new(gate_rx);
    let ctl = FuncFs::builder()
        .write_only("/signal", move |msg| {
            let text = String::from_utf8_lossy(msg).into_owned();
            signal_tx
                .lock()
                .unwrap()
                .send(text)
                .map_err(|_| FsError::io("/signal", "the host is gone"))
        })
        .read_only("/gate", move || {
            let wait = deadline::bound(Duration::from_secs(30));
            gate_rx
                .lock()
                .unwrap()
                .recv_timeout(wait)
                .map(|()| b"go".to_vec())
                .map_err(|_| FsError::timed_out("/gate"))
        })
        .build();
    (ctl, signal_rx, gate_tx)
}

#[test]
fn the_guest_sees_host_changes_and_the_host_sees_guest_writes_during_the_run() {
    let data = MemFs::new();
    write_file(&data, "/value", "one").unwrap();
    let logs = LogsFs::new();
    let (ctl, signals, gate) = control();
    let ns = Namespace::builder()
        .mount("/data", data.clone())
        .mount("/ctl", ctl)
        .mount("/logs", logs.clone())
        .build();

    let host = std::thread::spawn(move || {
        let mut seen = Vec::new();
        // First signal: the guest has read the value once (and printed it).
        assert_eq!(signals.recv().unwrap(), "change it");
        seen.push(read_to_string(&logs, "/stdout.log").unwrap());
        write_file(&data, "/value", "two").unwrap();
        gate.send(()).unwrap();
        // Second signal: the guest's write is already in the namespace.
        assert_eq!(signals.recv().unwrap(), "look at /data/out");
        seen.push(read_to_string(&data, "/out").unwrap());
        gate.send(()).unwrap();
        seen
    });
    let config = RunConfig::new().arg0("live.wasm").arg("watch");
    let r = runtime().run_bytes(&guest("live"), &ns, &config).unwrap();
    let seen = host.join().unwrap();
    assert!(r.success(), "{:?} {}", r.trap, r.stderr_text());
    assert_eq!(r.stdout_text(), "before: one\nafter: two\n");
    assert_eq!(
        seen[0], "before: one\n",
        "stdout reaches /logs/stdout.log live"
    );
    assert_eq!(seen[1], "written by the guest");
}

fn http_ns(http: &HttpFs) -> Namespace {
    Namespace::builder()
        .mount("/cap/http", http.clone())
        .mount("/tmp", MemFs::new())
        .build()
}

/// A policy that lets requests to `api.example.com` through.
fn example_policy() -> EgressPolicy {
    EgressPolicy::allow_hosts(["api.example.com"])
        .build()
        .unwrap()
}

#[test]
fn a_capability_request_is_answered_within_the_same_run() {
    let http = HttpFs::builder().policy(example_policy()).build();
    let ns = http_ns(&http);
    let executor = {
        let http = http.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(30) {
                let listener = http.work_listener();
                if let Some(p) = http.take_pending_batch(1).into_iter().next() {
                    assert_eq!(p.url.as_str(), "https://api.example.com/ping");
                    http.complete_request(HttpResponse::new(p.id.clone(), 200).with_body("pong"))
                        .unwrap();
                    return p.id;
                }
                listener.wait_timeout(Duration::from_secs(1));
            }
            panic!("no request came");
        })
    };
    let config = RunConfig::new().arg0("live.wasm").arg("cap");
    let r = runtime().run_bytes(&guest("live"), &ns, &config).unwrap();
    let id = executor.join().unwrap();
    assert!(r.success(), "{:?} {}", r.trap, r.stderr_text());
    let out = r.stdout_text();
    assert!(out.starts_with(&format!("request {id}\n")), "{out}");
    assert!(
        out.contains("response ") && out.contains("pong") && out.contains("200"),
        "{out}"
    );
}

#[test]
fn a_blocking_capability_read_ends_with_the_runs_timeout() {
    let http = HttpFs::builder().policy(example_policy()).build();
    let config = RunConfig::new()
        .arg0("live.wasm")
        .arg("cap")
        .timeout(Duration::from_millis(300));
    let r = runtime()
        .run_bytes(&guest("live"), &http_ns(&http), &config)
        .unwrap();
    assert_eq!(
        r.trap.as_ref().map(|t| t.kind),
        Some(TrapKind::Timeout),
        "{r:?}"
    );
    assert!(r.duration < Duration::from_secs(10), "{:?}", r.duration);
    assert!(r.stdout_text().starts_with("request "));
}

#[test]
fn nonblocking_descriptors_do_not_wait_for_a_response() {
    let http = HttpFs::builder().policy(example_policy()).build();
    let config = RunConfig::new().arg0("live.wasm").arg("nonblock");
    let r = runtime()
        .run_bytes(&guest("live"), &http_ns(&http), &config)
        .unwrap();
    assert!(r.success(), "{:?} {}", r.trap, r.stderr_text());
    assert_eq!(r.stdout_text(), "would block twice\n");
    assert!(r.duration < Duration::from_secs(10));
}

#[test]
fn a_cow_workspace_leaves_its_base_untouched() {
    let base = MapFs::builder()
        .file("/a.txt", &b"original"[..])
        .file("/b.txt", &b"to delete"[..])
        .build();
    let cow = CowFs::new(base.clone());
    let ns = Namespace::builder()
        .mount("/workspace", cow.clone())
        .mount("/tmp", MemFs::new())
        .build();
    let config = RunConfig::new().arg0("live.wasm").arg("cow");
    let r = runtime().run_bytes(&guest("live"), &ns, &config).unwrap();
    assert!(r.success(), "{:?} {}", r.trap, r.stderr_text());
    assert_eq!(r.stdout_text(), "changed\n");
    assert_eq!(read_to_string(&base, "/a.txt").unwrap(), "original");
    assert_eq!(read_to_string(&base, "/b.txt").unwrap(), "to delete");
    let mut changes: Vec<String> = cow
        .changes()
        .unwrap()
        .into_iter()
        .map(|c| format!("{:?} {}", c.kind, c.path))
        .collect();
    changes.sort();
    assert_eq!(
        changes,
        ["Added /c.txt", "Deleted /b.txt", "Modified /a.txt"]
    );
}

#[test]
fn a_large_namespace_is_used_in_place() {
    // Nothing is copied: a namespace of 5,000 files runs the guest as one of
    // none would (checked here by the guest seeing a file added mid-way, and
    // by nothing of the big tree being touched — its files are never read).
    let big = MemFs::new();
    for i in 0..5000 {
        write_file(&big, &format!("/f{i}"), "x").unwrap();
    }
    let data = MemFs::new();
    write_file(&data, "/value", "v").unwrap();
    let (ctl, signals, gate) = control();
    let ns = Namespace::builder()
        .mount("/big", big)
        .mount("/data", data.clone())
        .mount("/ctl", ctl)
        .build();
    let shared = Arc::new(data);
    let host = std::thread::spawn(move || {
        signals.recv().unwrap();
        write_file(&*shared, "/value", "w").unwrap();
        gate.send(()).unwrap();
        signals.recv().unwrap();
        gate.send(()).unwrap();
    });
    let config = RunConfig::new().arg0("live.wasm").arg("watch");
    let r = runtime().run_bytes(&guest("live"), &ns, &config).unwrap();
    host.join().unwrap();
    assert_eq!(r.stdout_text(), "before: v\nafter: w\n");
}
