//! The lifecycle of an environment, and the services it wires.

use oanix_caps::{EgressPolicy, HttpFs};
use oanix_env::{EnvBuilder, EnvError, EnvStatus};
use oanix_prims::MemFs;
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, TaskState};
use oanix_vfs::{read_to_string, write_file};

fn task() -> TaskFs {
    TaskFs::new(
        TaskSpec {
            id: "t-1".into(),
            task_type: "test".into(),
            description: "a test task".into(),
            input: serde_json::json!({}),
        },
        TaskMeta::default(),
    )
}

#[test]
fn legal_transitions_and_the_task_follows() {
    let t = task();
    let env = EnvBuilder::new()
        .mount("/task", t.clone())
        .mount("/tmp", MemFs::new())
        .build()
        .unwrap();
    assert_eq!(env.status(), EnvStatus::Created);
    assert!(!env.is_finished());
    env.set_running().unwrap();
    assert_eq!(t.state(), TaskState::Running);
    env.set_completed(0).unwrap();
    assert_eq!(env.status(), EnvStatus::Completed { exit_code: 0 });
    assert!(env.is_finished());
    assert_eq!(t.state(), TaskState::Completed);

    // A non-zero exit completes the environment and fails the task.
    let t = task();
    let env = EnvBuilder::new().mount("/task", t.clone()).build().unwrap();
    env.set_running().unwrap();
    env.set_completed(3).unwrap();
    assert_eq!(env.status(), EnvStatus::Completed { exit_code: 3 });
    assert_eq!(t.state(), TaskState::Failed);

    // Failing before starting is allowed.
    let env = EnvBuilder::new().build().unwrap();
    env.set_failed("no agent").unwrap();
    assert_eq!(
        env.status(),
        EnvStatus::Failed {
            error: "no agent".into()
        }
    );
}

#[test]
fn illegal_transitions_are_errors_and_change_nothing() {
    let env = EnvBuilder::new().build().unwrap();
    let e = env.set_completed(0).unwrap_err();
    assert!(matches!(e, EnvError::IllegalTransition { .. }), "{e}");
    assert!(e.to_string().contains("created -> completed"), "{e}");
    assert_eq!(env.status(), EnvStatus::Created);
    env.set_running().unwrap();
    assert!(env.set_running().is_err());
    env.set_completed(0).unwrap();
    for r in [
        env.set_running(),
        env.set_completed(1),
        env.set_failed("late"),
    ] {
        assert!(matches!(r, Err(EnvError::IllegalTransition { .. })));
    }
    assert_eq!(env.status(), EnvStatus::Completed { exit_code: 0 });
}

#[test]
fn wait_finished_is_woken_by_another_thread() {
    let env = EnvBuilder::new().build().unwrap();
    env.set_running().unwrap();
    let other = env.clone();
    let waiter =
        std::thread::spawn(move || other.wait_finished(std::time::Duration::from_secs(30)));
    env.set_completed(7).unwrap();
    assert_eq!(
        waiter.join().unwrap(),
        EnvStatus::Completed { exit_code: 7 }
    );
    // And it gives up at its timeout.
    let idle = EnvBuilder::new().build().unwrap();
    assert_eq!(
        idle.wait_finished(std::time::Duration::from_millis(20)),
        EnvStatus::Created
    );
}

#[test]
fn capability_records_go_to_the_event_log() {
    let logs = LogsFs::new();
    let env = EnvBuilder::new()
        .mount("/logs", logs.clone())
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
    let ns = env.namespace();
    write_file(
        ns,
        "/cap/http/request",
        r#"{"method": "GET", "url": "https://api.example.com/v1/items"}"#,
    )
    .unwrap();
    // A refused request is recorded too, with its outcome.
    assert!(
        write_file(
            ns,
            "/cap/http/request",
            r#"{"method": "GET", "url": "https://evil.example.net/"}"#,
        )
        .is_err()
    );
    let events = read_to_string(ns, "/logs/events.jsonl").unwrap();
    let lines: Vec<serde_json::Value> = events
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let http: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|e| e["data"]["capability"] == "http")
        .collect();
    assert!(
        http.iter().any(|e| e["data"]["target"]
            .as_str()
            .unwrap_or("")
            .contains("api.example.com")
            && e["data"]["outcome"] == "queued"),
        "{events}"
    );
    assert!(
        http.iter().any(|e| e["data"]["target"]
            .as_str()
            .unwrap_or("")
            .contains("evil.example.net")
            && e["data"]["outcome"] == "refused"),
        "{events}"
    );
}

#[test]
fn the_namespace_prints_as_a_mount_table() {
    let env = EnvBuilder::new()
        .mount("/task", task())
        .mount("/logs", LogsFs::new())
        .mount("/tmp", MemFs::new())
        .bind("/tmp", "/scratch")
        .build()
        .unwrap();
    assert_eq!(
        env.mount_table(),
        "mount /task taskfs\nmount /logs logsfs\nmount /tmp memfs\nbind /tmp /scratch\n"
    );
    assert!(env.task().is_some() && env.logs().is_some() && env.http().is_none());
    // Ids are unique.
    assert_ne!(env.id(), EnvBuilder::new().build().unwrap().id());
    // An invalid mount path is an error, not a silently missing mount.
    assert!(
        EnvBuilder::new()
            .mount("/a\0", MemFs::new())
            .build()
            .is_err()
    );
}

#[cfg(feature = "executor")]
#[test]
fn attached_executors_carry_out_requests_and_stop_with_the_environment() {
    use oanix_vfs::{FileService, OpenFlags};
    use std::io::{Read as _, Write as _};

    // A one-shot HTTP server on loopback.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = s.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
            .unwrap();
    });
    let logs = LogsFs::new();
    let env = EnvBuilder::new()
        .mount("/logs", logs.clone())
        .mount(
            "/cap/http",
            HttpFs::builder()
                .policy(
                    EgressPolicy::allow_hosts(["127.0.0.1"])
                        .schemes(["http"])
                        .ports([port])
                        .allow_loopback(true)
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .executors(oanix_exec::ExecutorConfig::default())
        .build()
        .unwrap();
    let ns = env.namespace();
    let mut h = ns
        .open("/cap/http/request", OpenFlags::read_write())
        .unwrap();
    h.write(format!(r#"{{"method": "GET", "url": "http://127.0.0.1:{port}/x"}}"#).as_bytes())
        .unwrap();
    let mut id = String::new();
    let mut buf = [0u8; 64];
    let n = h.read(&mut buf).unwrap();
    id.push_str(std::str::from_utf8(&buf[..n]).unwrap().trim());
    let response = read_to_string(ns, &format!("/cap/http/responses/{id}.json")).unwrap();
    let response: serde_json::Value = serde_json::from_str(&response).unwrap();
    assert_eq!(response["status"], 200, "{response}");
    server.join().unwrap();
    env.set_running().unwrap();
    env.set_completed(0).unwrap();
    let events = read_to_string(ns, "/logs/events.jsonl").unwrap();
    assert!(events.contains("\"outcome\":\"ok\""), "{events}");
}
