//! The snapshot store against real files: round trips, sharing, pruning,
//! corruption and saves killed with SIGKILL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod corrupt;
mod crash;
mod roundtrip;

use oanix_prims::MemFs;
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec};
use oanix_store::{MountState, SnapshotContent, StoredMount};
use oanix_vfs::{FileService, MountFlags};

/// Writes `data` to `path` of `fs`, creating its parents.
pub fn put(fs: &dyn FileService, path: &str, data: &[u8]) {
    if let Some((parent, _)) = path.rsplit_once('/')
        && !parent.is_empty()
    {
        oanix_vfs::create_dir_all(fs, parent).expect("parents");
    }
    oanix_vfs::write_file(fs, path, data).expect("write");
}

/// A content of every kind: a task with a result, logs, a memory tree with
/// a hard and a symbolic link, and an overlay of `host` with a change.
pub fn sample(host: &std::path::Path, salt: &str) -> SnapshotContent {
    let task = TaskFs::new(
        TaskSpec {
            id: format!("t-{salt}"),
            task_type: "fix".into(),
            description: "make it pass".into(),
            input: serde_json::json!({"n": 1}),
        },
        TaskMeta::default(),
    );
    task.set_running().expect("running");
    put(
        &task,
        "/result.json",
        format!("{{\"salt\":\"{salt}\"}}").as_bytes(),
    );
    let logs = LogsFs::new();
    logs.write_stdout(format!("out {salt}\n"));
    logs.info(format!("event {salt}"));
    let mem = MemFs::new();
    put(&mem, "/a/b.txt", format!("bytes of b {salt}").as_bytes());
    put(&mem, "/big.bin", &vec![7u8; 300_000]);
    mem.link("/a/b.txt", "/hard.txt").expect("link");
    mem.symlink("a/b.txt", "/soft").expect("symlink");
    let overlay = oanix_services::WorkspaceOverlay::new(host).expect("overlay");
    put(&overlay, "/new.txt", salt.as_bytes());
    SnapshotContent::new(
        "env-1",
        vec![
            StoredMount::new(
                "/task",
                MountFlags::replace(),
                MountState::Task(task.snapshot()),
            ),
            StoredMount::new(
                "/logs",
                MountFlags::replace(),
                MountState::Logs(logs.snapshot()),
            ),
            StoredMount::new(
                "/tmp",
                MountFlags::replace(),
                MountState::Memory {
                    tree: mem.freeze(),
                    capacity: 1 << 20,
                },
            ),
            StoredMount::new(
                "/workspace",
                MountFlags::replace(),
                MountState::Overlay {
                    host: host.to_owned(),
                    frozen: overlay.freeze(),
                    capacity: 1 << 20,
                },
            ),
            StoredMount::new(
                "/data",
                MountFlags::replace(),
                MountState::Directory {
                    host: host.to_owned(),
                    writable: false,
                },
            ),
        ],
    )
    .with_note(serde_json::json!({"salt": salt}))
}
