//! Snapshots of environments: forks see the snapshot and their own changes
//! only, the parent is untouched, stores keep what they say, capabilities
//! start fresh.

use std::collections::BTreeMap;

use oanix_caps::{EgressPolicy, HttpFs, HttpRequest};
use oanix_env::{EnvBuilder, EnvError, EnvPlan, EnvSnapshot, OanixEnv};
use oanix_prims::{FuncFs, MemFs};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, TaskState, WorkspaceOverlay};
use oanix_store::Store;
use oanix_vfs::{FileService, read_to_string, write_file};
use proptest::prelude::*;

fn task() -> TaskFs {
    TaskFs::new(
        TaskSpec {
            id: "t-1".into(),
            task_type: "fix".into(),
            description: "d".into(),
            input: serde_json::Value::Null,
        },
        TaskMeta::default(),
    )
}

fn env_with_memory() -> OanixEnv {
    EnvBuilder::new()
        .mount("/task", task())
        .mount("/logs", LogsFs::new())
        .mount("/workspace", MemFs::new())
        .mount("/tmp", MemFs::new())
        .build()
        .expect("build")
}

/// The files of `/workspace` and `/tmp` as the namespace shows them.
fn files(env: &OanixEnv) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for root in ["/workspace", "/tmp"] {
        for entry in oanix_vfs::walk(env.namespace(), root) {
            let entry = entry.expect("walk");
            if entry.kind.is_file() {
                out.insert(
                    entry.path.clone(),
                    oanix_vfs::read_file(env.namespace(), &entry.path).expect("read"),
                );
            }
        }
    }
    out
}

/// An operation on the model and on an environment.
#[derive(Debug, Clone)]
enum Op {
    Write(u8, u8),
    Remove(u8),
}

fn path(i: u8) -> String {
    let root = if i.is_multiple_of(2) {
        "/workspace"
    } else {
        "/tmp"
    };
    format!("{root}/f{}", i % 6)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), any::<u8>()).prop_map(|(p, v)| Op::Write(p, v)),
        any::<u8>().prop_map(Op::Remove),
    ]
}

fn apply(env: &OanixEnv, model: &mut BTreeMap<String, Vec<u8>>, op: &Op) {
    match op {
        Op::Write(p, v) => {
            let data = vec![*v; usize::from(*v % 9)];
            write_file(env.namespace(), &path(*p), &data).expect("write");
            model.insert(path(*p), data);
        }
        Op::Remove(p) => {
            let existed = model.remove(&path(*p)).is_some();
            let removed = env.namespace().remove(&path(*p)).is_ok();
            assert_eq!(existed, removed);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Operations, a snapshot, more operations, forks, operations in each
    /// fork: each fork sees the snapshot and its own changes, the parent its
    /// own, and the snapshot saved and loaded is the snapshot.
    #[test]
    fn forks_see_the_snapshot_and_their_own_changes(
        before in proptest::collection::vec(op(), 0..20),
        after in proptest::collection::vec(op(), 0..10),
        children in proptest::collection::vec(proptest::collection::vec(op(), 0..10), 1..4),
    ) {
        let parent = env_with_memory();
        let mut model = BTreeMap::new();
        for o in &before {
            apply(&parent, &mut model, o);
        }
        let snap = parent.snapshot().expect("snapshot");
        let at_snapshot = model.clone();
        for o in &after {
            apply(&parent, &mut model, o);
        }
        let forks = snap.fork(children.len()).expect("fork");
        for (fork, ops) in forks.iter().zip(&children) {
            prop_assert_ne!(fork.id(), parent.id());
            let mut m = at_snapshot.clone();
            for o in ops {
                apply(fork, &mut m, o);
            }
            prop_assert_eq!(files(fork), m);
        }
        prop_assert_eq!(files(&parent), model);
        // Saved and loaded, it is equal.
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        snap.save(&store, "p").expect("save");
        let loaded = EnvSnapshot::load(&store, "p").expect("load");
        prop_assert_eq!(loaded.to_content().expect("content"), snap.to_content().expect("content"));
        let restored = loaded.restore().expect("restore");
        prop_assert_eq!(files(&restored), at_snapshot);
    }
}

#[test]
fn a_fork_runs_the_same_task_again_with_its_result_kept() {
    let parent = env_with_memory();
    parent.set_running().expect("running");
    write_file(parent.namespace(), "/task/result.json", r#"{"step":1}"#).expect("result");
    let snap = parent.snapshot().expect("snapshot");
    assert_eq!(snap.task().expect("task").status.state, TaskState::Running);
    parent.set_completed(0).expect("completed");
    let fork = snap.restore().expect("restore");
    let task = fork.task().expect("task");
    assert_eq!(task.state(), TaskState::Pending);
    assert_eq!(
        task.result().expect("result"),
        Some(serde_json::json!({"step": 1}))
    );
    fork.set_running().expect("a fork runs");
    fork.set_completed(0).expect("and completes");
    let events = read_to_string(fork.namespace(), "/logs/events.jsonl").expect("events");
    assert!(
        events.contains("environment started from a snapshot"),
        "{events}"
    );
    assert!(events.contains(&parent.id().to_string()), "{events}");
}

#[test]
fn forks_of_a_workspace_overlay_share_the_directory_and_never_write_it() {
    let host = tempfile::tempdir().expect("host");
    std::fs::write(host.path().join("README"), "original\n").expect("file");
    let overlay = WorkspaceOverlay::new(host.path()).expect("overlay");
    let parent = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/workspace", overlay)
        .build()
        .expect("build");
    write_file(parent.namespace(), "/workspace/README", "parent\n").expect("write");
    let snap = parent.snapshot().expect("snapshot");
    let forks = snap.fork(2).expect("fork");
    write_file(forks[0].namespace(), "/workspace/README", "child 0\n").expect("write");
    forks[1]
        .namespace()
        .remove("/workspace/README")
        .expect("remove");
    assert_eq!(
        read_to_string(parent.namespace(), "/workspace/README").expect("parent"),
        "parent\n"
    );
    assert_eq!(
        read_to_string(forks[0].namespace(), "/workspace/README").expect("child 0"),
        "child 0\n"
    );
    assert!(!oanix_vfs::exists(
        forks[1].namespace(),
        "/workspace/README"
    ));
    assert_eq!(
        std::fs::read_to_string(host.path().join("README")).expect("host"),
        "original\n"
    );
    // Each fork's review shows the parent's change and its own.
    let diff = forks[0]
        .workspace()
        .expect("workspace")
        .diff()
        .expect("diff");
    assert!(diff.contains("+child 0"), "{diff}");
    // Saved, loaded in a store and restored: the same.
    let store_dir = tempfile::tempdir().expect("store");
    let file = store_dir.path().join("ws.snap");
    snap.save_file(&file).expect("save");
    let again = EnvSnapshot::load_file(&file)
        .expect("load")
        .restore()
        .expect("restore");
    assert_eq!(
        read_to_string(again.namespace(), "/workspace/README").expect("restored"),
        "parent\n"
    );
}

#[test]
fn capabilities_start_fresh_under_the_same_policy() {
    let http = HttpFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["api.example.com"])
                .build()
                .expect("policy"),
        )
        .build();
    let parent = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/cap/http", http.clone())
        .build()
        .expect("build");
    http.submit_request(HttpRequest::get("https://api.example.com/x"));
    assert_eq!(http.queued_ids().len(), 1);
    let snap = parent.snapshot().expect("snapshot");
    let fork = snap.restore().expect("restore");
    let forked = fork.http().expect("http");
    assert!(
        forked.queued_ids().is_empty(),
        "a fork has no pending request"
    );
    assert!(
        forked
            .policy()
            .check_url("https://api.example.com/y")
            .is_ok()
    );
    assert!(
        forked
            .policy()
            .check_url("https://other.example.com/")
            .is_err()
    );
    // A WebSocket connection open in the parent is not open in a fork.
    let ws = oanix_caps::WsFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["ws.example.com"])
                .build()
                .expect("policy"),
        )
        .build();
    let with_ws = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/cap/ws", ws.clone())
        .build()
        .expect("build");
    let id = ws
        .open_connection("wss://ws.example.com/feed")
        .expect("open");
    ws.set_connected(&id).expect("connected");
    let forked_ws = with_ws
        .snapshot()
        .expect("snapshot")
        .restore()
        .expect("restore");
    let fws = forked_ws.ws().expect("ws");
    assert!(fws.connecting_connections().is_empty());
    assert!(
        !oanix_vfs::exists(forked_ws.namespace(), &format!("/cap/ws/conns/{id}/status")),
        "the parent's connection is not in the fork"
    );
    assert!(oanix_vfs::exists(
        with_ws.namespace(),
        &format!("/cap/ws/conns/{id}/status")
    ));
    assert!(fws.policy().check_ws("wss://ws.example.com/other").is_ok());
    // A store keeps no capability.
    let content = snap.to_content().expect("content");
    assert!(content.mount("/cap/http").is_none());
    assert!(content.mount("/logs").is_some());
}

#[test]
fn a_mount_whose_state_cannot_be_taken_is_named() {
    let env = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/ctl", FuncFs::builder().build())
        .build()
        .expect("build");
    let err = env.snapshot().expect_err("a FuncFs");
    assert!(
        matches!(err, EnvError::Snapshot { ref path, .. } if path == "/ctl"),
        "{err}"
    );
}

#[test]
fn a_manifest_starts_from_a_snapshot_file() {
    let parent = env_with_memory();
    write_file(parent.namespace(), "/workspace/kept.txt", "kept").expect("write");
    let dir = tempfile::tempdir().expect("dir");
    parent
        .snapshot()
        .expect("snapshot")
        .save_file(dir.path().join("snaps/base.snap"))
        .expect("save");
    let text =
        "from = \"snaps/base.snap\"\n[capabilities.http]\nallow_hosts = [\"api.example.com\"]\n";
    let plan = EnvPlan::from_manifest(text, "m.toml", dir.path()).expect("plan");
    let env = plan.builder().expect("builder").build().expect("build");
    assert_eq!(
        read_to_string(env.namespace(), "/workspace/kept.txt").expect("read"),
        "kept"
    );
    assert!(env.http().is_some());
    assert_eq!(env.task().expect("task").spec().id, "t-1");
    // A missing snapshot is named with the key it was written at.
    let text = "from = \"snaps/none.snap\"\n";
    let err = EnvPlan::from_manifest(text, "m.toml", dir.path())
        .expect("plan")
        .builder()
        .expect_err("missing");
    let msg = err.to_string();
    assert!(msg.contains("from") && msg.contains("none"), "{msg}");
}

#[test]
fn an_agent_asks_for_checkpoints_as_files_and_forks_are_the_hosts_decision() {
    use oanix_env::CheckpointPolicy;
    use oanix_vfs::FsErrorKind;
    let store = tempfile::tempdir().expect("store");
    let mut policy = CheckpointPolicy::default();
    policy.max = 2;
    policy.store = Some(store.path().to_owned());
    let env = EnvBuilder::new()
        .mount("/task", task())
        .mount("/logs", LogsFs::new())
        .mount("/workspace", MemFs::new())
        .checkpoints(policy)
        .build()
        .expect("build");
    let ns = env.namespace();
    write_file(ns, "/workspace/a.txt", "one").expect("write");
    write_file(ns, "/env/ctl", "checkpoint first\n").expect("checkpoint");
    write_file(ns, "/workspace/a.txt", "two").expect("write");
    let listed = read_to_string(ns, "/env/checkpoints").expect("list");
    assert!(listed.contains("\"name\":\"first\""), "{listed}");
    // Forking is refused by this policy, and nothing is recorded.
    let err = write_file(ns, "/env/ctl", "fork first 2").expect_err("refused");
    assert_eq!(err.kind(), FsErrorKind::PermissionDenied, "{err}");
    assert!(env.take_fork_requests().is_empty());
    // Bad commands and names are clear errors.
    for bad in ["checkpoint", "checkpoint ../up", "explode now"] {
        let err = write_file(ns, "/env/ctl", bad).expect_err(bad);
        assert_eq!(err.kind(), FsErrorKind::InvalidInput, "{bad}: {err}");
    }
    write_file(ns, "/env/ctl", "checkpoint second").expect("second");
    let packs = || {
        std::fs::read_dir(store.path().join("packs"))
            .expect("packs")
            .count()
    };
    let after_second = packs();
    for i in 0..3 {
        // Taking one name again keeps no pack only the replaced one used.
        write_file(ns, "/workspace/a.txt", format!("round {i}")).expect("write");
        write_file(ns, "/env/ctl", "checkpoint second").expect("again");
        assert_eq!(packs(), after_second, "round {i}");
    }
    let err = write_file(ns, "/env/ctl", "checkpoint third").expect_err("full");
    assert_eq!(err.kind(), FsErrorKind::NoSpace, "{err}");
    // The host forks the first checkpoint: it sees the state then.
    let first = env.checkpoints().remove(0);
    assert_eq!(first.name, "first");
    let fork = first.snapshot.restore().expect("restore");
    assert_eq!(
        read_to_string(fork.namespace(), "/workspace/a.txt").expect("read"),
        "one"
    );
    assert!(
        oanix_vfs::exists(fork.namespace(), "/env/ctl"),
        "a fork keeps the policy"
    );
    // It was saved in the store as it was taken.
    let saved = first.saved.expect("saved");
    let loaded = EnvSnapshot::load_file(&saved)
        .expect("load")
        .restore()
        .expect("restore");
    assert_eq!(
        read_to_string(loaded.namespace(), "/workspace/a.txt").expect("read"),
        "one"
    );
    let events = read_to_string(ns, "/logs/events.jsonl").expect("events");
    assert!(events.contains("checkpoint first taken") && events.contains("fork of first refused"));
}

#[test]
fn where_the_policy_allows_it_an_agent_asks_for_forks() {
    use oanix_env::CheckpointPolicy;
    let mut policy = CheckpointPolicy::default();
    policy.allow_fork = true;
    let env = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .checkpoints(policy)
        .build()
        .expect("build");
    let ns = env.namespace();
    let err = write_file(ns, "/env/ctl", "fork none 2").expect_err("no such checkpoint");
    assert!(err.to_string().contains("none"), "{err}");
    write_file(ns, "/env/ctl", "checkpoint base\nfork base 3\n").expect("asked");
    let asked = env.take_fork_requests();
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].checkpoint.as_str(), asked[0].count), ("base", 3));
    assert!(env.take_fork_requests().is_empty(), "taken once");
    let err = write_file(ns, "/env/ctl", "fork base 1000").expect_err("too many");
    assert!(err.to_string().contains("1 to 64"), "{err}");
}

#[test]
fn a_manifest_names_its_checkpoint_policy() {
    let dir = tempfile::tempdir().expect("dir");
    let text = "[checkpoints]\nmax = 3\nallow_fork = true\nstore = \"snaps\"\n";
    let plan = EnvPlan::from_manifest(text, "m.toml", dir.path()).expect("plan");
    let policy = plan.checkpoints.clone().expect("policy");
    assert_eq!((policy.max, policy.allow_fork), (3, true));
    assert_eq!(
        policy.store.as_deref(),
        Some(dir.path().join("snaps").as_path())
    );
    let env = plan.builder().expect("builder").build().expect("build");
    write_file(env.namespace(), "/env/ctl", "checkpoint c1").expect("checkpoint");
    assert!(dir.path().join("snaps/c1.snap").is_file());
    let err = EnvPlan::from_manifest("[checkpoints]\nmax = 0\n", "m.toml", dir.path())
        .expect_err("max 0");
    let msg = err.to_string();
    assert!(
        msg.contains("checkpoints.max") && msg.contains("line 1"),
        "{msg}"
    );
}

/// A stored snapshot names host directories: restored, a read-only one
/// stays read-only, and a read-write one becomes an overlay of its own —
/// nothing restored from a store writes to the host directory.
#[test]
fn directories_restored_from_a_store_are_never_written() {
    use oanix_services::WorkspaceFs;
    use oanix_vfs::FsErrorKind;
    let rw = tempfile::tempdir().expect("rw");
    let ro = tempfile::tempdir().expect("ro");
    std::fs::write(rw.path().join("f"), "host").expect("file");
    std::fs::write(ro.path().join("f"), "host").expect("file");
    let env = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/rw", WorkspaceFs::new(rw.path()).expect("rw"))
        .mount("/ro", WorkspaceFs::readonly(ro.path()).expect("ro"))
        .build()
        .expect("build");
    let store = tempfile::tempdir().expect("store");
    let file = store.path().join("dirs.snap");
    env.snapshot()
        .expect("snapshot")
        .save_file(&file)
        .expect("save");
    let restored = EnvSnapshot::load_file(&file)
        .expect("load")
        .restore()
        .expect("restore");
    let ns = restored.namespace();
    write_file(ns, "/rw/f", "changed").expect("an overlay takes the write");
    assert_eq!(read_to_string(ns, "/rw/f").expect("read"), "changed");
    assert_eq!(
        std::fs::read_to_string(rw.path().join("f")).expect("host"),
        "host"
    );
    assert!(
        restored.workspace().is_some(),
        "the overlay is reviewed as a workspace"
    );
    let err = write_file(ns, "/ro/f", "changed").expect_err("read-only");
    assert_eq!(err.kind(), FsErrorKind::ReadOnly);
    assert_eq!(
        std::fs::read_to_string(ro.path().join("f")).expect("host"),
        "host"
    );
}
