//! Snapshots of the services: `TaskFs` and `LogsFs` as plain data and
//! back, and forks of a `WorkspaceOverlay` that share the directory and
//! keep their changes apart.

use oanix_prims::{ChangeKind, MemLimits};
use oanix_services::{
    LogStream, LogsFs, LogsSnapshot, TaskFs, TaskMeta, TaskSnapshot, TaskSpec, TaskState,
    WorkspaceOverlay,
};
use oanix_vfs::{FileService, FsErrorKind, read_to_string, write_file};
use serde_json::json;

fn task() -> TaskFs {
    TaskFs::builder(TaskSpec {
        id: "t-7".into(),
        task_type: "fix".into(),
        description: "make the test pass".into(),
        input: json!({"file": "src/lib.rs"}),
    })
    .meta(TaskMeta::default().with_tag("bench"))
    .max_result_bytes(4096)
    .build()
}

#[test]
fn a_task_started_from_its_snapshot_holds_the_same_and_is_pending() {
    let task = task();
    task.set_running().unwrap();
    write_file(&task, "/result.json", r#"{"passed": 3}"#).unwrap();
    let snap = task.snapshot();
    assert_eq!(snap.status.state, TaskState::Running);

    // Through JSON and back: what a saved snapshot holds.
    let text = serde_json::to_string(&snap).unwrap();
    let back: TaskSnapshot = serde_json::from_str(&text).unwrap();
    assert_eq!(back, snap);

    let again = TaskFs::from_snapshot(&back);
    assert_eq!(again.state(), TaskState::Pending);
    assert_eq!(again.spec(), task.spec());
    assert_eq!(again.meta(), task.meta());
    assert_eq!(again.result().unwrap(), Some(json!({"passed": 3})));
    assert_eq!(
        read_to_string(&again, "/spec.json").unwrap(),
        read_to_string(&task, "/spec.json").unwrap()
    );
    // The limit came along; the two tasks are apart.
    let e = write_file(&again, "/result.json", vec![b' '; 5000]).unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::TooLarge);
    write_file(&again, "/result.json", "{}").unwrap();
    assert_eq!(task.result().unwrap(), Some(json!({"passed": 3})));
    again.set_running().unwrap();
    assert_eq!(task.state(), TaskState::Running);
}

#[test]
fn logs_started_from_their_snapshot_hold_the_same_and_go_on_apart() {
    let logs = LogsFs::builder().max_bytes(64).build();
    logs.write_stdout("out 1\n");
    logs.write_stderr("err 1\n");
    logs.info("started");
    logs.write_stdout(vec![b'x'; 100]);
    let snap = logs.snapshot();
    assert!(snap.stdout.full && snap.stdout.dropped > 0);
    let back: LogsSnapshot = serde_json::from_slice(&serde_json::to_vec(&snap).unwrap()).unwrap();
    assert_eq!(back, snap);

    let again = LogsFs::from_snapshot(&back);
    for stream in LogStream::ALL {
        assert_eq!(again.contents(stream), logs.contents(stream), "{stream:?}");
    }
    assert_eq!(again.events(), logs.events());
    assert_eq!(again.max_bytes(), 64);
    again.write_stderr("err 2\n");
    assert_eq!(
        read_to_string(&again, "/stderr.log").unwrap(),
        "err 1\nerr 2\n"
    );
    assert_eq!(read_to_string(&logs, "/stderr.log").unwrap(), "err 1\n");
}

#[test]
fn forks_of_a_workspace_share_the_directory_and_keep_their_changes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "base\n").unwrap();
    std::fs::write(dir.path().join("gone.txt"), "old\n").unwrap();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    write_file(&ws, "/a.txt", "parent\n").unwrap();
    ws.remove("/gone.txt").unwrap();
    let frozen = ws.freeze();

    let forks: Vec<WorkspaceOverlay> = (0..3)
        .map(|_| ws.fork_from(&frozen, MemLimits::default()).unwrap())
        .collect();
    for (i, fork) in forks.iter().enumerate() {
        write_file(fork, "/mine.txt", format!("fork {i}\n")).unwrap();
    }
    write_file(&ws, "/a.txt", "parent again\n").unwrap();
    for (i, fork) in forks.iter().enumerate() {
        assert_eq!(read_to_string(fork, "/a.txt").unwrap(), "parent\n");
        assert_eq!(
            read_to_string(fork, "/mine.txt").unwrap(),
            format!("fork {i}\n")
        );
        assert_eq!(
            fork.stat("/gone.txt").unwrap_err().kind(),
            FsErrorKind::NotFound
        );
        let kinds: Vec<(String, ChangeKind)> = fork
            .changes()
            .unwrap()
            .into_iter()
            .map(|c| (c.path, c.kind))
            .collect();
        assert_eq!(
            kinds,
            vec![
                ("/a.txt".to_owned(), ChangeKind::Modified),
                ("/gone.txt".to_owned(), ChangeKind::Deleted),
                ("/mine.txt".to_owned(), ChangeKind::Added),
            ]
        );
    }
    assert_eq!(
        ws.stat("/mine.txt").unwrap_err().kind(),
        FsErrorKind::NotFound
    );
    // The directory itself was never written.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("a.txt")).unwrap(),
        "base\n"
    );
    assert!(dir.path().join("gone.txt").exists());
    // A fork commits its own changes to the directory.
    forks[1].commit().unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mine.txt")).unwrap(),
        "fork 1\n"
    );
    assert!(!dir.path().join("gone.txt").exists());
}
