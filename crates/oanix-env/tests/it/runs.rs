//! Running WASI agents in an environment: the status follows the run, the
//! output lands in `/logs`, and a guest's capability request is recorded.

use std::time::Duration;

use oanix_caps::{EgressPolicy, HttpFs};
use oanix_env::{EnvBuilder, EnvLimits, EnvStatus};
use oanix_prims::MemFs;
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, TaskState};
use oanix_vfs::read_to_string;

/// A guest that prints `text` to stdout and exits with `code`.
fn printer(text: &str, code: u32) -> Vec<u8> {
    let wat = format!(
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write"
            (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (data (i32.const 64) "{text}")
          (func (export "_start")
            (i32.store (i32.const 0) (i32.const 64))
            (i32.store (i32.const 4) (i32.const {len}))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
            (call $exit (i32.const {code}))))"#,
        len = text.len()
    );
    wat::parse_str(wat).unwrap()
}

/// A guest that writes `body` to `path` (relative to the root preopen) and exits 0.
fn writer(path: &str, body: &str) -> Vec<u8> {
    let wat = format!(
        r#"(module
          (import "wasi_snapshot_preview1" "path_open"
            (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write"
            (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (data (i32.const 256) "{path}")
          (data (i32.const 512) "{body}")
          (func (export "_start")
            (local $err i32)
            ;; path_open(3, follow, path, len, oflags 0, all rights, all rights, 0, &fd at 32)
            (local.set $err (call $open (i32.const 3) (i32.const 1) (i32.const 256)
              (i32.const {path_len}) (i32.const 0) (i64.const -1) (i64.const -1)
              (i32.const 0) (i32.const 32)))
            (if (local.get $err) (then (call $exit (i32.add (i32.const 100) (local.get $err)))))
            (i32.store (i32.const 0) (i32.const 512))
            (i32.store (i32.const 4) (i32.const {body_len}))
            (local.set $err (call $fd_write (i32.load (i32.const 32)) (i32.const 0) (i32.const 1) (i32.const 16)))
            (if (local.get $err) (then (call $exit (i32.add (i32.const 200) (local.get $err)))))
            (call $exit (i32.const 0))))"#,
        path_len = path.len(),
        body_len = body.len(),
        body = body.replace('"', "\\\"")
    );
    wat::parse_str(wat).unwrap()
}

fn spin() -> Vec<u8> {
    wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#,
    )
    .unwrap()
}

fn task() -> TaskFs {
    TaskFs::new(
        TaskSpec {
            id: "run-1".into(),
            task_type: "test".into(),
            description: "run".into(),
            input: serde_json::Value::Null,
        },
        TaskMeta::default(),
    )
}

#[test]
fn a_run_completes_the_environment_and_its_output_is_in_the_logs() {
    let t = task();
    let env = EnvBuilder::new()
        .mount("/task", t.clone())
        .mount("/logs", LogsFs::new())
        .mount("/tmp", MemFs::new())
        .build()
        .unwrap();
    let result = env
        .run_wasi(&printer("hello from the guest", 0), env.run_config())
        .unwrap();
    assert_eq!(result.exit_code, Some(0));
    assert_eq!(result.stdout, b"hello from the guest");
    assert_eq!(env.status(), EnvStatus::Completed { exit_code: 0 });
    assert_eq!(t.state(), TaskState::Completed);
    assert_eq!(
        read_to_string(env.namespace(), "/logs/stdout.log").unwrap(),
        "hello from the guest"
    );
    let events = read_to_string(env.namespace(), "/logs/events.jsonl").unwrap();
    assert!(events.contains("run finished"), "{events}");
}

#[test]
fn an_exit_code_and_a_trap_are_reflected_in_the_status() {
    let env = EnvBuilder::new().build().unwrap();
    let r = env.run_wasi(&printer("x", 3), env.run_config()).unwrap();
    assert_eq!(r.exit_code, Some(3));
    assert_eq!(env.status(), EnvStatus::Completed { exit_code: 3 });

    let env = EnvBuilder::new()
        .limits(EnvLimits {
            timeout: Some(Duration::from_millis(200)),
            ..EnvLimits::default()
        })
        .build()
        .unwrap();
    let r = env.run_wasi(&spin(), env.run_config()).unwrap();
    assert!(r.trap.is_some());
    match env.status() {
        EnvStatus::Failed { error } => assert!(error.contains("timeout"), "{error}"),
        other => panic!("expected a failure, got {other}"),
    }
    // A finished environment does not run again.
    assert!(env.run_wasi(&printer("x", 0), env.run_config()).is_err());
}

#[test]
fn a_guest_http_request_is_recorded_in_the_event_log_with_its_outcome() {
    let env = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount(
            "/cap/http",
            HttpFs::builder()
                .policy(
                    EgressPolicy::allow_hosts(["api.example.com"])
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .build()
        .unwrap();
    let request = r#"{'method': 'POST', 'url': 'https://api.example.com/jobs', 'body': 'hi'}"#
        .replace('\'', "\"");
    let r = env
        .run_wasi(&writer("cap/http/request", &request), env.run_config())
        .unwrap();
    assert_eq!(
        r.exit_code,
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&r.stderr)
    );
    let http = env.http().unwrap();
    assert!(http.has_pending(), "the guest's request is queued");
    let events = read_to_string(env.namespace(), "/logs/events.jsonl").unwrap();
    let recorded = events
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .any(|e| {
            e["data"]["capability"] == "http"
                && e["data"]["target"] == "https://api.example.com/jobs"
                && e["data"]["outcome"] == "queued"
        });
    assert!(recorded, "{events}");
}
