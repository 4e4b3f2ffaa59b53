//! TaskFs: the lifecycle (every legal and illegal transition), what an agent
//! may do through the file interface (directly and through a `Namespace`),
//! `result.json`, and waiting for the end.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed expectation is a failed test"
)]

use std::io::SeekFrom;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use oanix_services::{ServiceError, TaskFs, TaskMeta, TaskSpec, TaskState, TaskStatus};
use oanix_vfs::{
    FileService, FsError, FsErrorKind, Namespace, OpenFlags, deadline, read_file, read_to_string,
    write_file,
};
use serde_json::json;

fn spec() -> TaskSpec {
    TaskSpec {
        id: "review-001".into(),
        task_type: "code-review".into(),
        description: "Review the authentication module".into(),
        input: json!({"files": ["src/auth.rs"]}),
    }
}

fn task() -> TaskFs {
    TaskFs::new(
        spec(),
        TaskMeta::default()
            .with_tag("urgent")
            .with_timeout_secs(300)
            .with_extra("repo", json!("auth-service")),
    )
}

fn status_json(fs: &dyn FileService, path: &str) -> serde_json::Value {
    serde_json::from_str(&read_to_string(fs, path).unwrap()).unwrap()
}

// ------------------------------------------------------------------ lifecycle

/// The three operations, by the state each one asks for.
fn apply(task: &TaskFs, to: TaskState) -> Result<(), ServiceError> {
    match to {
        TaskState::Pending => panic!("no operation leads back to pending"),
        TaskState::Running => task.set_running(),
        TaskState::Completed => task.set_completed(),
        TaskState::Failed => task.set_failed("it broke"),
    }
}

/// A task brought to `state` through legal transitions.
fn task_in(state: TaskState) -> TaskFs {
    let t = task();
    match state {
        TaskState::Pending => {}
        TaskState::Running => t.set_running().unwrap(),
        TaskState::Completed => {
            t.set_running().unwrap();
            t.set_completed().unwrap();
        }
        TaskState::Failed => {
            t.set_running().unwrap();
            t.set_failed("first failure").unwrap();
        }
    }
    assert_eq!(t.state(), state);
    t
}

#[test]
fn a_task_starts_pending() {
    let t = task();
    let status = t.status();
    assert_eq!(status.state, TaskState::Pending);
    assert!(!t.is_finished());
    assert_eq!((status.started_at, status.finished_at), (None, None));
    assert_eq!(status.error, None);
    assert_eq!(Some(status.updated_at), t.meta().created_at);
}

#[test]
fn running_then_completed() {
    let t = task();
    t.set_running().unwrap();
    let running = t.status();
    assert_eq!(running.state, TaskState::Running);
    assert!(running.started_at.is_some());
    assert!(!t.is_finished());

    t.set_completed().unwrap();
    let done = t.status();
    assert_eq!(done.state, TaskState::Completed);
    assert!(t.is_finished() && done.is_finished());
    assert_eq!(done.started_at, running.started_at);
    assert!(done.finished_at >= done.started_at);
    assert_eq!(done.updated_at, done.finished_at.unwrap());
    assert_eq!(done.error, None);
}

#[test]
fn running_then_failed_keeps_the_reason() {
    let t = task();
    t.set_running().unwrap();
    t.set_failed("compilation error in src/auth.rs").unwrap();
    let status = t.status();
    assert_eq!(status.state, TaskState::Failed);
    assert!(t.is_finished());
    assert!(status.started_at.is_some() && status.finished_at.is_some());
    assert_eq!(
        status.error.as_deref(),
        Some("compilation error in src/auth.rs")
    );
}

#[test]
fn a_pending_task_can_fail_before_it_runs() {
    let t = task();
    t.set_failed("the workspace could not be prepared").unwrap();
    let status = t.status();
    assert_eq!(status.state, TaskState::Failed);
    assert_eq!(status.started_at, None);
    assert!(status.finished_at.is_some());
}

#[test]
fn every_illegal_transition_is_refused_and_changes_nothing() {
    use TaskState::*;
    let legal = [
        (Pending, Running),
        (Running, Completed),
        (Running, Failed),
        (Pending, Failed),
    ];
    let mut refused = 0;
    for from in [Pending, Running, Completed, Failed] {
        for to in [Running, Completed, Failed] {
            if legal.contains(&(from, to)) {
                let t = task_in(from);
                apply(&t, to).unwrap();
                assert_eq!(t.state(), to);
                continue;
            }
            let t = task_in(from);
            let before = t.status();
            let err = apply(&t, to).unwrap_err();
            assert_eq!(
                err,
                ServiceError::IllegalTransition {
                    path: "/status".into(),
                    from: from.to_string(),
                    to: to.to_string(),
                },
                "{from} -> {to}"
            );
            assert_eq!(
                err.to_string(),
                format!("illegal transition of /status: {from} -> {to}")
            );
            assert_eq!(FsError::from(err).kind(), FsErrorKind::PermissionDenied);
            assert_eq!(t.status(), before, "{from} -> {to} changed the status");
            refused += 1;
        }
    }
    // pending->completed, running->running, and three from each finished state.
    assert_eq!(refused, 8);
}

#[test]
fn a_failure_reason_is_not_overwritten() {
    let t = task_in(TaskState::Failed);
    assert!(t.set_failed("second failure").is_err());
    assert_eq!(t.status().error.as_deref(), Some("first failure"));
}

// ------------------------------------------------------- the agent's view

#[test]
fn the_agent_reads_spec_meta_and_status() {
    let t = task();
    let spec_back: TaskSpec =
        serde_json::from_slice(&read_file(&t, "/spec.json").unwrap()).unwrap();
    assert_eq!(spec_back, spec());
    let meta_back: TaskMeta =
        serde_json::from_slice(&read_file(&t, "/meta.json").unwrap()).unwrap();
    assert_eq!(&meta_back, t.meta());
    assert_eq!(meta_back.tags, ["urgent"]);
    assert_eq!(meta_back.timeout_secs, Some(300));
    assert_eq!(meta_back.extra["repo"], "auth-service");

    let status: TaskStatus = serde_json::from_slice(&read_file(&t, "/status").unwrap()).unwrap();
    assert_eq!(status, t.status());
    assert_eq!(status_json(&t, "/status")["state"], "pending");
    t.set_running().unwrap();
    assert_eq!(status_json(&t, "/status")["state"], "running");
    t.set_failed("out of time").unwrap();
    let json = status_json(&t, "/status");
    assert_eq!(json["state"], "failed");
    assert_eq!(json["error"], "out of time");
}

#[test]
fn an_open_status_handle_reads_the_moment_it_was_opened() {
    let t = task();
    let mut h = t.open("/status", OpenFlags::read_only()).unwrap();
    let size = h.stat().unwrap().size;
    t.set_running().unwrap();
    let mut text = Vec::new();
    oanix_vfs::read_to_end(h.as_mut(), &mut text).unwrap();
    assert_eq!(text.len() as u64, size);
    assert!(String::from_utf8(text).unwrap().contains("\"pending\""));
    assert!(
        read_to_string(&t, "/status")
            .unwrap()
            .contains("\"running\"")
    );
}

#[test]
fn the_agent_cannot_rewrite_spec_meta_or_status() {
    let t = task();
    let flag_sets = [
        OpenFlags::write_only(),
        OpenFlags::read_write(),
        OpenFlags::create_truncate(),
        OpenFlags::append_create(),
        OpenFlags::read_only().with_create(true),
    ];
    for path in ["/spec.json", "/meta.json", "/status"] {
        let before = read_file(&t, path).unwrap();
        for flags in flag_sets {
            let err = t.open(path, flags).err().unwrap();
            assert_eq!(err, FsError::read_only(path), "{path} {flags:?}");
        }
        assert!(t.stat(path).unwrap().readonly);
        // A read handle refuses writes too.
        let mut h = t.open(path, OpenFlags::read_only()).unwrap();
        assert_eq!(h.write(b"x").unwrap_err().kind(), FsErrorKind::BadHandle);
        assert_eq!(
            h.write_at(b"x", 0).unwrap_err().kind(),
            FsErrorKind::BadHandle
        );
        assert_eq!(h.set_len(0).unwrap_err().kind(), FsErrorKind::BadHandle);
        assert_eq!(read_file(&t, path).unwrap(), before);
    }
    assert_eq!(t.state(), TaskState::Pending);
}

#[test]
fn the_file_set_is_fixed() {
    let t = task();
    let fixed = |e: FsError| {
        assert_eq!(e.kind(), FsErrorKind::PermissionDenied, "{e}");
        assert!(e.to_string().contains("fixed"), "{e}");
    };
    fixed(
        t.open("/new.json", OpenFlags::create_truncate())
            .err()
            .unwrap(),
    );
    fixed(t.mkdir("/dir").unwrap_err());
    fixed(t.remove("/result.json").unwrap_err());
    fixed(t.remove("/status").unwrap_err());
    fixed(t.rename("/result.json", "/answer.json").unwrap_err());
    fixed(t.rename("/status", "/spec.json").unwrap_err());
    assert_eq!(
        t.open(
            "/result.json",
            OpenFlags::write_only().with_create_new(true)
        )
        .err()
        .unwrap()
        .kind(),
        FsErrorKind::AlreadyExists
    );
    assert_eq!(t.stat("/nope").unwrap_err(), FsError::not_found("/nope"));
    assert_eq!(
        t.stat("/status/x").unwrap_err(),
        FsError::not_a_directory("/status/x")
    );
    assert_eq!(
        t.open("/spec.json/", OpenFlags::read_only())
            .err()
            .unwrap()
            .kind(),
        FsErrorKind::NotADirectory
    );
    assert_eq!(
        t.open("/", OpenFlags::write_only()).err().unwrap().kind(),
        FsErrorKind::IsADirectory
    );
    assert_eq!(t.stat("/../x").unwrap_err().kind(), FsErrorKind::Escape);
    assert_eq!(
        t.readdir("/status").unwrap_err().kind(),
        FsErrorKind::NotADirectory
    );
}

#[test]
fn readdir_is_sorted_and_agrees_with_stat() {
    let t = task();
    write_file(&t, "/result.json", "{}").unwrap();
    let entries = t.readdir("/").unwrap();
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["meta.json", "result.json", "spec.json", "status"]);
    for e in &entries {
        let path = format!("/{}", e.name);
        let md = t.stat(&path).unwrap();
        assert!(md.is_file());
        assert_eq!(md.size, e.size, "{path}");
        assert_eq!(md.id, e.id, "{path}");
        assert_eq!(
            read_file(&t, &path).unwrap().len() as u64,
            md.size,
            "{path}"
        );
        assert!(md.created.is_some() && md.modified.is_some());
    }
    assert!(t.stat("/").unwrap().is_dir());
    assert_eq!(t.fs_type(), "taskfs");
}

#[test]
fn through_a_namespace_errors_name_the_namespace_path() {
    let t = Arc::new(task());
    let ns = Namespace::builder()
        .mount("/task", Arc::clone(&t))
        .mount("/tmp", oanix_prims::MemFs::new())
        .build();
    assert_eq!(ns.mount_table(), "mount /task taskfs\nmount /tmp memfs\n");
    assert!(
        read_to_string(&ns, "/task/spec.json")
            .unwrap()
            .contains("review-001")
    );
    assert_eq!(
        write_file(&ns, "/task/status", "completed").unwrap_err(),
        FsError::read_only("/task/status")
    );
    assert_eq!(
        write_file(&ns, "/task/spec.json", "{}").unwrap_err(),
        FsError::read_only("/task/spec.json")
    );
    let e = ns.remove("/task/spec.json").unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::PermissionDenied);
    assert_eq!(e.path(), "/task/spec.json");

    write_file(&ns, "/task/result.json", r#"{"issues": ["weak hash"]}"#).unwrap();
    assert_eq!(t.result().unwrap(), Some(json!({"issues": ["weak hash"]})));
    let names: Vec<_> = ns
        .readdir("/task")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["meta.json", "result.json", "spec.json", "status"]);
}

// -------------------------------------------------------------- result.json

#[test]
fn result_json_written_in_pieces_is_checked_on_flush() {
    let t = task();
    let mut h = t
        .open("/result.json", OpenFlags::create_truncate())
        .unwrap();
    h.write(br#"{"verdict": "#).unwrap();
    // Half a document is fine until the agent says it is done.
    assert!(matches!(t.result(), Err(ServiceError::InvalidData { .. })));
    h.write(br#""approve"}"#).unwrap();
    h.flush().unwrap();
    assert_eq!(t.result().unwrap(), Some(json!({"verdict": "approve"})));
}

#[test]
fn invalid_result_json_is_reported_to_the_agent_and_the_host() {
    let t = task();
    let err = write_file(&t, "/result.json", "{\"verdict\": approve}").unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::InvalidInput);
    assert_eq!(err.path(), "/result.json");
    let text = err.to_string();
    assert!(
        text.contains("not valid JSON") && text.contains("line 1 column 13"),
        "{text}"
    );
    // The bytes are kept; the host learns what is wrong.
    assert_eq!(t.result_bytes(), b"{\"verdict\": approve}");
    match t.result() {
        Err(ServiceError::InvalidData { path, message }) => {
            assert_eq!(path, "/result.json");
            assert!(message.contains("expected value"), "{message}");
        }
        other => panic!("expected invalid data, got {other:?}"),
    }
    // Writing it again, correctly, fixes it.
    write_file(&t, "/result.json", r#"{"verdict": "approve"}"#).unwrap();
    assert_eq!(t.result().unwrap(), Some(json!({"verdict": "approve"})));
}

#[test]
fn result_json_is_an_ordinary_file() {
    let t = task();
    assert_eq!(t.result().unwrap(), None);
    let mut h = t.open("/result.json", OpenFlags::read_write()).unwrap();
    assert_eq!(h.write(b"[1, 2, 3]").unwrap(), 9);
    assert_eq!(h.write_at(b"9", 1).unwrap(), 1);
    assert_eq!(h.seek(SeekFrom::Current(0)).unwrap(), 9);
    let mut buf = [0u8; 4];
    assert_eq!(h.read_at(&mut buf, 0).unwrap(), 4);
    assert_eq!(&buf, b"[9, ");
    assert_eq!(h.seek(SeekFrom::End(-2)).unwrap(), 7);
    assert_eq!(h.read(&mut buf).unwrap(), 2);
    assert_eq!(&buf[..2], b"3]");
    assert_eq!(h.stat().unwrap().size, 9);
    h.flush().unwrap();
    assert_eq!(t.result().unwrap(), Some(json!([9, 2, 3])));

    h.set_len(0).unwrap();
    assert_eq!(t.result().unwrap(), None);
    h.write_at(b"7", 3).unwrap();
    assert_eq!(t.result_bytes(), &[0, 0, 0, b'7']);
    assert_eq!(
        h.seek(SeekFrom::Current(-100)).unwrap_err().kind(),
        FsErrorKind::InvalidInput
    );

    // Append handles write at the end; read-only handles do not write.
    write_file(&t, "/result.json", "[1").unwrap_err();
    oanix_vfs::append_file(&t, "/result.json", "]").unwrap();
    assert_eq!(t.result().unwrap(), Some(json!([1])));
    let mut r = t.open("/result.json", OpenFlags::read_only()).unwrap();
    assert_eq!(r.write(b"x").unwrap_err().kind(), FsErrorKind::BadHandle);
    let mut w = t.open("/result.json", OpenFlags::write_only()).unwrap();
    assert_eq!(w.read(&mut buf).unwrap_err().kind(), FsErrorKind::BadHandle);
    // A handle that did not write does not judge the content.
    write_file(&t, "/result.json", "oops").unwrap_err();
    r.flush().unwrap();
}

#[test]
fn result_json_is_bounded() {
    let t = TaskFs::builder(spec()).max_result_bytes(16).build();
    write_file(&t, "/result.json", "\"0123456789012\"").unwrap();
    let err = write_file(&t, "/result.json", "\"01234567890123456\"").unwrap_err();
    assert_eq!(err, FsError::too_large("/result.json", 16));
    let mut h = t.open("/result.json", OpenFlags::write_only()).unwrap();
    assert_eq!(
        h.write_at(b"x", 16).unwrap_err().kind(),
        FsErrorKind::TooLarge
    );
    assert_eq!(h.set_len(17).unwrap_err().kind(), FsErrorKind::TooLarge);
    assert_eq!(
        h.write_at(b"x", u64::MAX).unwrap_err().kind(),
        FsErrorKind::TooLarge
    );
    h.set_len(16).unwrap();
}

// ---------------------------------------------------------------- waiting

#[test]
fn wait_finished_is_woken_by_another_thread() {
    let t = task();
    t.set_running().unwrap();
    let ready = Arc::new(Barrier::new(2));
    let waiter = {
        let (t, ready) = (t.clone(), Arc::clone(&ready));
        thread::spawn(move || {
            ready.wait();
            t.wait_finished(Duration::from_secs(30))
        })
    };
    ready.wait();
    t.set_completed().unwrap();
    let status = waiter.join().unwrap().unwrap();
    assert_eq!(status.state, TaskState::Completed);
}

#[test]
fn several_waiters_all_see_the_failure() {
    let t = Arc::new(task());
    let ready = Arc::new(Barrier::new(4));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let (t, ready) = (Arc::clone(&t), Arc::clone(&ready));
            thread::spawn(move || {
                ready.wait();
                t.wait_finished(Duration::from_secs(30))
            })
        })
        .collect();
    ready.wait();
    t.set_failed("cancelled").unwrap();
    for w in waiters {
        let status = w.join().unwrap().unwrap();
        assert_eq!(status.state, TaskState::Failed);
        assert_eq!(status.error.as_deref(), Some("cancelled"));
    }
}

#[test]
fn wait_finished_returns_at_once_when_already_finished() {
    let t = task_in(TaskState::Completed);
    assert_eq!(
        t.wait_finished(Duration::ZERO).unwrap().state,
        TaskState::Completed
    );
}

#[test]
fn wait_finished_times_out() {
    let t = task_in(TaskState::Running);
    let timeout = Duration::from_millis(20);
    match t.wait_finished(timeout) {
        Err(ServiceError::TimedOut { path, waited }) => {
            assert_eq!(path, "/status");
            assert!(waited >= timeout, "{waited:?}");
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    let err = t.wait_finished(Duration::ZERO).unwrap_err();
    assert_eq!(FsError::from(err).kind(), FsErrorKind::TimedOut);
    assert_eq!(t.state(), TaskState::Running);
}

#[test]
fn wait_finished_ends_with_the_callers_deadline() {
    let t = task_in(TaskState::Pending);
    let start = Instant::now();
    let soon = deadline::Instant::now() + Duration::from_millis(20);
    let outcome = deadline::scoped(soon, || t.wait_finished(Duration::from_secs(600)));
    match outcome {
        Err(ServiceError::TimedOut { waited, .. }) => {
            assert!(waited < Duration::from_secs(600));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(start.elapsed() < Duration::from_secs(600));
}
