//! Tests of `WebNamespace` on the host: the same code the page runs, without a browser.

use oanix_caps::{HttpResponse, Outcome};
use oanix_services::TaskState;
use oanix_vfs::FsErrorKind;

use super::*;

fn explorer() -> WebNamespace {
    let mut ns = WebNamespace::new();
    ns.mount_memfs("/tmp").unwrap();
    ns.mount_mapfs("/docs", [("/readme.md", "# hi\n"), ("/guide/a.txt", "a")])
        .unwrap();
    ns
}

#[test]
fn mounts_show_in_the_table_and_the_tree() {
    let mut ns = explorer();
    ns.mount_logsfs("/logs").unwrap();
    assert_eq!(
        ns.mount_table(),
        "mount /tmp memfs\nmount /docs mapfs\nmount /logs logsfs\n"
    );
    let root = ns.readdir("/").unwrap();
    let names: Vec<_> = root.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["docs", "logs", "tmp"]);
    assert!(root.iter().all(|e| e.dir));
    assert_eq!(root[0].mount, Some(MountKind::MapFs));
    assert_eq!(root[0].path, "/docs");
    let docs = ns.readdir("/docs").unwrap();
    assert_eq!(docs[1].name, "readme.md");
    assert_eq!((docs[1].dir, docs[1].size, docs[1].mount), (false, 5, None));
}

#[test]
fn nested_mount_points_are_marked_below_synthetic_directories() {
    let mut ns = WebNamespace::new();
    ns.mount_httpfs("/cap/http", EgressPolicy::deny_all())
        .unwrap();
    let cap = ns.readdir("/cap").unwrap();
    assert_eq!(cap.len(), 1);
    assert_eq!(cap[0].mount, Some(MountKind::HttpFs));
    assert_eq!(ns.readdir("/").unwrap()[0].mount, None);
    let stat = ns.stat("/cap/http/status").unwrap();
    assert_eq!(
        stat.served_by,
        Some(MountInfo {
            path: "/cap/http".into(),
            kind: MountKind::HttpFs
        })
    );
    assert_eq!(ns.stat("/cap").unwrap().served_by, None);
}

#[test]
fn files_are_created_read_renamed_and_removed() {
    let ns = explorer();
    ns.mkdir("/tmp/notes").unwrap();
    ns.write("/tmp/notes/a.txt", b"first").unwrap();
    ns.write("/tmp/notes/a.txt", b"hello").unwrap();
    ns.append("/tmp/notes/a.txt", b", world").unwrap();
    assert_eq!(ns.read("/tmp/notes/a.txt").unwrap(), b"hello, world");
    let stat = ns.stat("/tmp/notes/a.txt").unwrap();
    assert_eq!((stat.dir, stat.size, stat.readonly), (false, 12, false));
    assert!(stat.modified_ms.is_some());
    assert_eq!(
        ns.create("/tmp/notes/a.txt").unwrap_err().to_string(),
        "already exists: /tmp/notes/a.txt"
    );
    ns.create("/tmp/notes/empty").unwrap();
    assert_eq!(ns.read("/tmp/notes/empty").unwrap(), b"");
    ns.remove("/tmp/notes/empty").unwrap();
    ns.rename("/tmp/notes/a.txt", "/tmp/notes/b.txt").unwrap();
    assert_eq!(ns.readdir("/tmp/notes").unwrap()[0].name, "b.txt");
    ns.remove("/tmp/notes/b.txt").unwrap();
    ns.remove("/tmp/notes").unwrap();
    assert!(ns.readdir("/tmp").unwrap().is_empty());
}

#[test]
fn errors_carry_the_namespace_path() {
    let ns = explorer();
    let err = |r: Result<()>| r.unwrap_err().to_string();
    assert_eq!(err(ns.mkdir("/tmp/x/y")), "not found: /tmp/x/y");
    ns.mkdir("/tmp/x").unwrap();
    assert_eq!(err(ns.mkdir("/tmp/x")), "already exists: /tmp/x");
    assert_eq!(
        err(ns.write("/docs/readme.md", b"no")),
        "read-only: /docs/readme.md"
    );
    assert_eq!(ns.read("/nope").unwrap_err().kind(), FsErrorKind::NotFound);
    assert_eq!(
        err(ns.rename("/tmp/x", "/docs/x")),
        "cross-device: /tmp/x -> /docs/x"
    );
    assert_eq!(
        ns.read("/tmp/../..").unwrap_err().kind(),
        FsErrorKind::Escape
    );
}

#[test]
fn remounting_replaces_and_unmounting_removes() {
    let mut ns = explorer();
    ns.write("/tmp/a", b"x").unwrap();
    ns.mount_memfs("/tmp").unwrap();
    assert!(ns.readdir("/tmp").unwrap().is_empty());
    assert_eq!(ns.mounts().len(), 2);
    ns.unmount("/tmp/").unwrap();
    assert_eq!(ns.mount_table(), "mount /docs mapfs\n");
    assert_eq!(
        ns.unmount("/tmp").unwrap_err().to_string(),
        "not found: /tmp"
    );
    assert_eq!(ns.mount_at("/docs"), Some(MountKind::MapFs));
}

#[test]
fn bad_mapfs_and_json_inputs_mount_nothing() {
    let mut ns = WebNamespace::new();
    let clash = ns.mount_mapfs("/m", [("/a", "x"), ("/a/b", "y")]);
    assert!(clash.is_err());
    assert!(ns.mounts().is_empty());
    assert!(
        files_from_json("/m", "[1]")
            .unwrap_err()
            .to_string()
            .contains("JSON object")
    );
    assert!(task_spec_from_json("/task", "{}").is_err());
    assert!(policy_from_json("/cap/http", r#"{"schemes": 3}"#).is_err());
    // A malformed host pattern never becomes a policy, so nothing can mount it.
    let bad_pattern = policy_from_json("/cap/http", r#"{"hosts": ["*.*.x"]}"#).unwrap_err();
    assert!(bad_pattern.to_string().contains("*.*.x"), "{bad_pattern}");
    assert!(ns.mount_memfs("/a\0b").is_err());
    assert!(ns.mounts().is_empty());
}

#[test]
fn the_task_lifecycle_is_visible_in_files() {
    let mut ns = WebNamespace::new();
    let spec = task_spec_from_json(
        "/task",
        r#"{"id": "t1", "task_type": "demo", "description": "say hi"}"#,
    )
    .unwrap();
    ns.mount_taskfs("/task", spec).unwrap();
    assert!(
        String::from_utf8(ns.read("/task/spec.json").unwrap())
            .unwrap()
            .contains("t1")
    );
    ns.task("/task").unwrap().set_running().unwrap();
    assert_eq!(ns.task_status("/task").unwrap().state, TaskState::Running);
    assert!(
        String::from_utf8(ns.read("/task/status").unwrap())
            .unwrap()
            .contains("running")
    );
    ns.write("/task/result.json", br#"{"ok": true}"#).unwrap();
    ns.task("/task").unwrap().set_completed().unwrap();
    assert!(ns.task_status("/task").unwrap().is_finished());
    assert_eq!(
        ns.task("/tmp").unwrap_err().to_string(),
        "invalid input for /tmp: no taskfs is mounted here"
    );
}

#[test]
fn logs_written_by_an_agent_are_read_back() {
    let mut ns = WebNamespace::new();
    ns.mount_logsfs("/logs").unwrap();
    ns.append("/logs/stdout.log", b"one\n").unwrap();
    ns.append("/logs/stdout.log", b"two\n").unwrap();
    ns.logs("/logs").unwrap().info("host says hi");
    assert_eq!(ns.read("/logs/stdout.log").unwrap(), b"one\ntwo\n");
    assert!(
        String::from_utf8(ns.read("/logs/events.jsonl").unwrap())
            .unwrap()
            .contains("host says hi")
    );
    assert!(ns.logs("/nope").is_err());
}

#[test]
fn http_requests_queue_and_responses_arrive_as_files() {
    let mut ns = WebNamespace::new();
    let policy = policy_from_json(
        "/cap/http",
        r#"{"schemes": ["https"], "hosts": ["api.example.com"]}"#,
    )
    .unwrap();
    ns.mount_httpfs("/cap/http", policy).unwrap();
    let id = ns
        .send(
            "/cap/http/request",
            br#"{"url": "https://api.example.com/x"}"#,
        )
        .unwrap();
    assert_eq!(id, "req-1");
    // Not answered yet: the read does not wait.
    let early = ns.read("/cap/http/responses/req-1.json").unwrap_err();
    assert_eq!(early.kind(), FsErrorKind::WouldBlock);
    assert_eq!(ns.http_status("/cap/http").unwrap().queued, 1);

    let http = ns.http("/cap/http").unwrap();
    let pending = http.take_pending_batch(8);
    assert_eq!(pending.len(), 1);
    http.complete_request(HttpResponse::new("req-1", 200).with_body("pong"))
        .unwrap();
    let response = String::from_utf8(ns.read("/cap/http/responses/req-1.json").unwrap()).unwrap();
    assert!(response.contains("\"status\":200") || response.contains("\"status\": 200"));
    assert!(response.contains("pong"));

    let refused = ns
        .send(
            "/cap/http/request",
            br#"{"url": "https://evil.example.net/"}"#,
        )
        .unwrap_err();
    assert_eq!(refused.kind(), FsErrorKind::PermissionDenied);
    let records = ns.http_records("/cap/http").unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.outcome == Outcome::Ok && r.action == "response")
    );
    assert!(records.iter().any(|r| r.outcome != Outcome::Ok));
}
