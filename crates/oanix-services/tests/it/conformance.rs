//! The conformance suite on the services of this crate that the other test
//! modules do not already run it on (`WorkspaceFs`, read-write and
//! read-only, and `CowFs` over it are in `workspace.rs`): `TaskFs` and
//! `LogsFs` (fixed names), `WorkspaceOverlay` (writable) and its review
//! service (fixed names, computed files); and, for `TaskFs` and `LogsFs`,
//! that every size they report is what a read returns, in every state.
//!
//! The links part of the suite and the reference model with links, on
//! `WorkspaceFs` (read-write, read-only holding links, `CowFs` over it, in a
//! namespace) and `WorkspaceOverlay`: each in `links::Follow`, and bare
//! for the checks that a service reports the links it meets.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use oanix_conformance::model::{ModelFs, OpSpace, run_ops};
use oanix_conformance::{
    Fixture, LinkSupport, StatSizes, check_fixed_names, check_link_reports, check_links,
    check_read_only, check_writable,
};
use oanix_prims::CowFs;
use oanix_services::{
    LogEvent, LogLevel, LogStream, LogsFs, TaskFs, TaskMeta, TaskSpec, WorkspaceFs,
    WorkspaceOverlay,
};
use oanix_vfs::links::Follow;
use oanix_vfs::{FileService, Namespace, OpenFlags, Timestamp, append_file, read_file, write_file};
use proptest::prelude::*;
use serde_json::json;

fn spec() -> TaskSpec {
    TaskSpec {
        id: "conf-1".into(),
        task_type: "check".into(),
        description: "keep the contract — ünïcödé included".into(),
        input: json!({"files": ["a", "b"], "n": 3}),
    }
}

/// Pretty JSON and a newline, as the task's files are written.
fn pretty<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap();
    out.push(b'\n');
    out
}

/// What `task` should hold, computed from its host-side API.
fn task_fixture(task: &TaskFs) -> Fixture {
    Fixture::new()
        .file("/spec.json", pretty(task.spec()))
        .file("/meta.json", pretty(task.meta()))
        .file("/status", pretty(&task.status()))
        .file("/result.json", task.result_bytes())
}

// The task's names are fixed and `result.json` is its only writable file, so
// neither the read-only contract (a writable file) nor the writable one (no
// file can be created, and the service is never empty) fits: it keeps the
// fixed-names contract.
#[test]
fn taskfs_keeps_the_fixed_names_contract_in_every_state() {
    let task = TaskFs::new(
        spec(),
        TaskMeta::default()
            .with_tag("t")
            .with_extra("k", json!("v")),
    );
    check_fixed_names(&task, &task_fixture(&task), StatSizes::Exact);
    task.set_running().unwrap();
    write_file(&task, "/result.json", r#"{"ok": true}"#).unwrap();
    check_fixed_names(&task, &task_fixture(&task), StatSizes::Exact);
    task.set_failed("ran out of time — après 3 essais").unwrap();
    check_fixed_names(&task, &task_fixture(&task), StatSizes::Exact);
}

/// What `logs` should hold, as it was written through the API.
fn logs_fixture(stdout: &[u8], stderr: &[u8], events: &[LogEvent]) -> Fixture {
    let mut lines = Vec::new();
    for e in events {
        serde_json::to_writer(&mut lines, e).unwrap();
        lines.push(b'\n');
    }
    Fixture::new()
        .file("/events.jsonl", lines)
        .file("/stderr.log", stderr)
        .file("/stdout.log", stdout)
}

// The logs' names are fixed and every file takes (appending) writes: the
// fixed-names contract, as for the task.
#[test]
fn logsfs_keeps_the_fixed_names_contract() {
    let logs = LogsFs::new();
    check_fixed_names(&logs, &logs_fixture(b"", b"", &[]), StatSizes::Exact);
    let event =
        LogEvent::with_data(LogLevel::Warn, "slow — très", json!({"ms": 900})).at(Timestamp(42));
    logs.write_stdout("hello\n");
    logs.write_stderr([0u8, 255, 10]);
    logs.log_event(event.clone());
    check_fixed_names(
        &logs,
        &logs_fixture(b"hello\n", &[0, 255, 10], &[event]),
        StatSizes::Exact,
    );
}

/// Checks, for every file of `fs`'s root, that `stat`, the listing, a fresh
/// handle's `stat` and its end all give the length a read returns; returns
/// how many files it checked.
fn assert_sizes_tell_the_truth(fs: &dyn FileService) -> usize {
    let mut checked = 0;
    for entry in fs.readdir("/").unwrap() {
        let p = format!("/{}", entry.name);
        let len = read_file(fs, &p).unwrap().len() as u64;
        assert_eq!(entry.size, len, "the listing's size of {p}");
        assert_eq!(fs.stat(&p).unwrap().size, len, "stat({p:?}).size");
        let mut h = fs.open(&p, OpenFlags::read_only()).unwrap();
        assert_eq!(h.stat().unwrap().size, len, "a handle's stat of {p}");
        assert_eq!(h.seek(SeekFrom::End(0)).unwrap(), len, "the end of {p}");
        checked += 1;
    }
    checked
}

#[test]
fn taskfs_sizes_are_what_reads_return() {
    let task = TaskFs::new(spec(), TaskMeta::default().with_timeout_secs(5));
    assert_eq!(assert_sizes_tell_the_truth(&task), 4);
    task.set_running().unwrap();
    assert_sizes_tell_the_truth(&task);
    // Half a result (not JSON yet), then a whole one.
    let mut h = task.open("/result.json", OpenFlags::write_only()).unwrap();
    h.write(b"{\"answer\": ").unwrap();
    assert_sizes_tell_the_truth(&task);
    h.write("\"ça va\"}".as_bytes()).unwrap();
    drop(h);
    assert_sizes_tell_the_truth(&task);
    task.set_failed("a reason with ünïcödé, longer than none")
        .unwrap();
    assert_sizes_tell_the_truth(&task);
    let other = TaskFs::new(spec(), TaskMeta::default());
    other.set_running().unwrap();
    other.set_completed().unwrap();
    assert_sizes_tell_the_truth(&other);
}

#[test]
fn logsfs_sizes_are_what_reads_return() {
    let logs = LogsFs::builder().max_bytes(64).build();
    assert_eq!(assert_sizes_tell_the_truth(&logs), 3);
    logs.write_stdout("out\n");
    append_file(&logs, "/stderr.log", "err — ü\n").unwrap();
    append_file(
        &logs,
        "/events.jsonl",
        r#"{"level": "info", "message": "m", "timestamp": 1}"#,
    )
    .unwrap();
    assert_sizes_tell_the_truth(&logs);
    // Past the limit: the write is dropped and a marker event logged.
    logs.write_stdout(vec![b'x'; 100]);
    assert!(logs.dropped_bytes(LogStream::Stdout) > 0);
    assert_sizes_tell_the_truth(&logs);
}

/// Fresh, empty directories below one temporary root.
struct Dirs {
    root: tempfile::TempDir,
    next: AtomicUsize,
}

impl Dirs {
    fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
            next: AtomicUsize::new(0),
        }
    }
    fn fresh(&self) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.root.path().join(format!("ws{n}"));
        std::fs::create_dir(&dir).unwrap();
        dir
    }
}

#[test]
fn workspace_overlay_is_writable() {
    let dirs = Dirs::new();
    check_writable(|| WorkspaceOverlay::new(dirs.fresh()).unwrap());
}

#[test]
fn workspace_overlay_with_a_capacity_is_writable() {
    let dirs = Dirs::new();
    check_writable(|| WorkspaceOverlay::with_capacity(dirs.fresh(), 64 << 20).unwrap());
}

// The review service is a `FuncFs`: fixed names, computed files whose size
// is unknown until read.
#[test]
fn the_review_service_keeps_the_fixed_names_contract() {
    let dirs = Dirs::new();
    let dir = dirs.fresh();
    std::fs::write(dir.join("a.txt"), "old\n").unwrap();
    let ws = WorkspaceOverlay::new(&dir).unwrap();
    write_file(&ws, "/a.txt", "new\n").unwrap();
    let fixture = Fixture::new()
        .file("/changes.json", pretty(&ws.changes().unwrap()))
        .file("/diff", ws.diff().unwrap());
    check_fixed_names(&ws.review_fs(), &fixture, StatSizes::Unknown);
}

// ------------------------------------------------------------------ links

const ALL_LINKS: LinkSupport = LinkSupport::SymlinksAndHardLinks;

#[test]
fn workspacefs_keeps_links() {
    let dirs = Dirs::new();
    check_links(
        || Follow(WorkspaceFs::new(dirs.fresh()).unwrap()),
        ALL_LINKS,
    );
}

#[test]
fn workspacefs_reports_links() {
    let dirs = Dirs::new();
    check_link_reports(|| WorkspaceFs::new(dirs.fresh()).unwrap());
}

#[test]
fn namespace_over_workspacefs_keeps_links() {
    let dirs = Dirs::new();
    check_links(
        || {
            Namespace::builder()
                .mount("/", WorkspaceFs::new(dirs.fresh()).unwrap())
                .build()
        },
        ALL_LINKS,
    );
}

#[test]
fn cowfs_over_readonly_workspacefs_keeps_links() {
    let dirs = Dirs::new();
    check_links(
        || Follow(CowFs::new(WorkspaceFs::readonly(dirs.fresh()).unwrap())),
        ALL_LINKS,
    );
}

#[test]
fn workspace_overlay_keeps_links() {
    let dirs = Dirs::new();
    check_links(
        || Follow(WorkspaceOverlay::new(dirs.fresh()).unwrap()),
        ALL_LINKS,
    );
}

#[test]
fn workspace_overlay_reports_links() {
    let dirs = Dirs::new();
    check_link_reports(|| WorkspaceOverlay::new(dirs.fresh()).unwrap());
}

/// Content with links of every sort (see the prims' fixture of the same
/// name): to files and directories, through parents, absolute, with `..`,
/// dangling and looping.
fn fixture_with_links() -> Fixture {
    Fixture::standard()
        .symlink("/to_a", "a.txt")
        .symlink("/to_dir", "dir")
        .symlink("/dir/up", "../a.txt")
        .symlink("/dir/sub/abs", "/dir/b.txt")
        .symlink("/empty/high", "../../../dir/sub")
        .symlink("/dangling", "missing")
        .symlink("/loop", "loop")
        .symlink("/via", "to_dir/sub/c.txt")
}

#[test]
fn readonly_workspacefs_holding_links_is_read_only() {
    let dirs = Dirs::new();
    let dir = dirs.fresh();
    let fixture = fixture_with_links();
    fixture.populate(&WorkspaceFs::new(&dir).unwrap()).unwrap();
    check_read_only(&WorkspaceFs::readonly(&dir).unwrap(), &fixture);
}

/// 64 cases (each a fresh directory on disk), or as many as
/// `PROPTEST_CASES` says; no file of failures kept.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn workspacefs_with_links_agrees_with_the_model(
        ops in OpSpace::default().links(ALL_LINKS).ops(30)
    ) {
        let dirs = Dirs::new();
        let ws = WorkspaceFs::new(dirs.fresh()).unwrap();
        run_ops(&Follow(ws), &mut ModelFs::new(), &ops);
    }
}
