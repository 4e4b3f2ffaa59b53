//! `oanix snapshot`, `snapshots`, `run --from` and `compare`: snapshots
//! saved by one process and used by others.

use crate::{oanix, text};
use std::path::{Path, PathBuf};

/// A guest that writes each `(path, body)` (relative to the namespace's
/// root) and exits with `code`.
fn writer(dir: &Path, name: &str, files: &[(&str, &str)], code: u32) -> PathBuf {
    let mut data = String::new();
    let mut body = String::new();
    for (i, (path, text)) in files.iter().enumerate() {
        let (p, t) = (1024 + i * 512, 1024 + i * 512 + 256);
        data.push_str(&format!(
            "(data (i32.const {p}) \"{path}\")\n(data (i32.const {t}) \"{text}\")\n"
        ));
        body.push_str(&format!(
            r#"
            (local.set $err (call $open (i32.const 3) (i32.const 1) (i32.const {p})
              (i32.const {plen}) (i32.const 9) (i64.const -1) (i64.const -1)
              (i32.const 0) (i32.const 32)))
            (if (local.get $err) (then (call $exit (i32.add (i32.const 100) (local.get $err)))))
            (i32.store (i32.const 0) (i32.const {t}))
            (i32.store (i32.const 4) (i32.const {tlen}))
            (drop (call $fd_write (i32.load (i32.const 32)) (i32.const 0) (i32.const 1) (i32.const 16)))"#,
            plen = path.len(),
            // What the guest writes: the text without its WAT escapes.
            tlen = text.replace("\\\"", "\"").len()
        ));
    }
    let wat = format!(
        r#"(module
          (import "wasi_snapshot_preview1" "path_open"
            (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write"
            (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          {data}
          (func (export "_start")
            (local $err i32)
            {body}
            (call $exit (i32.const {code}))))"#
    );
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(&wat).unwrap()).unwrap();
    path
}

#[test]
fn agents_compared_from_one_snapshot_saved_by_another_process() {
    let d = tempfile::tempdir().unwrap();
    let project = d.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("notes.txt"), "old notes").unwrap();
    let prep = writer(
        d.path(),
        "prep.wasm",
        &[
            ("workspace/notes.txt", "prepared"),
            ("task/result.json", r#"{\"step\":\"prep\"}"#),
        ],
        0,
    );
    // 1. One process runs the preparing agent and saves what it left.
    let out = oanix(
        &[
            "snapshot",
            "--run",
            "-o",
            "store/base.snap",
            "--workspace",
            "project",
            prep.to_str().unwrap(),
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("store/base.snap"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(project.join("notes.txt")).unwrap(),
        "old notes",
        "a snapshot applies nothing"
    );
    // 2. Another lists and verifies it.
    let out = oanix(&["snapshots", "store", "--verify", "--json"], d.path());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["snapshots"][0]["name"], "base");
    assert_eq!(listed["verified"], true);
    // 3. Another starts from it through a manifest.
    std::fs::write(d.path().join("from.toml"), "from = \"store/base.snap\"\n").unwrap();
    let out = oanix(&["cat", "from.toml", "/workspace/notes.txt"], d.path());
    assert_eq!(text(&out.stdout), "prepared", "{}", text(&out.stderr));
    // 4. Two agents from the same snapshot, side by side.
    let a = writer(
        d.path(),
        "a.wasm",
        &[
            ("workspace/notes.txt", "by a"),
            ("task/result.json", r#"{\"agent\":\"a\"}"#),
        ],
        0,
    );
    let b = writer(
        d.path(),
        "b.wasm",
        &[
            ("workspace/b.txt", "by b"),
            ("task/result.json", r#"{\"agent\":\"b\"}"#),
        ],
        3,
    );
    let out = oanix(
        &[
            "compare",
            "--from",
            "store/base.snap",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--json",
        ],
        d.path(),
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "b failed: {}",
        text(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let agents = report["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    let (ra, rb) = (&agents[0], &agents[1]);
    assert_ne!(ra["env"], rb["env"]);
    assert_eq!(ra["result"]["agent"], "a");
    assert_eq!(rb["result"]["agent"], "b");
    assert_eq!(ra["status"], "succeeded");
    assert_eq!(rb["status"], "failed");
    assert_eq!(ra["exit_code"], 0);
    assert_eq!(rb["exit_code"], 3);
    let (da, db) = (ra["diff"].as_str().unwrap(), rb["diff"].as_str().unwrap());
    assert!(da.contains("+by a") && !da.contains("by b"), "{da}");
    assert!(db.contains("+by b") && db.contains("+prepared"), "{db}");
    assert_eq!(
        std::fs::read_to_string(project.join("notes.txt")).unwrap(),
        "old notes",
        "a comparison applies nothing"
    );
    // The text form: a table and each agent's diff.
    let out = oanix(
        &[
            "compare",
            "--from",
            "store/base.snap",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
        ],
        d.path(),
    );
    let shown = text(&out.stdout);
    assert!(shown.contains("| agent | status |"), "{shown}");
    assert!(
        shown.contains("+by a") && shown.contains("+by b"),
        "{shown}"
    );
    // 5. A damaged snapshot is refused with one clear line.
    let pack = std::fs::read_dir(d.path().join("store/packs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&pack).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();
    let out = oanix(
        &["compare", "--from", "store/base.snap", a.to_str().unwrap()],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("checksum mismatch") && err.contains("base"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn run_from_a_snapshot_keeps_its_task_and_bad_arguments_are_named() {
    let d = tempfile::tempdir().unwrap();
    let prep = writer(
        d.path(),
        "prep.wasm",
        &[("tmp/kept.txt", "kept across processes")],
        0,
    );
    let out = oanix(
        &[
            "snapshot",
            "--run",
            "-o",
            "s/one.snap",
            prep.to_str().unwrap(),
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let check = writer(d.path(), "check.wasm", &[("task/result.json", "{}")], 0);
    let out = oanix(
        &[
            "run",
            "--from",
            "s/one.snap",
            check.to_str().unwrap(),
            "--json",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"]["state"], "completed");
    // The snapshot's /tmp came along.
    std::fs::write(d.path().join("m.toml"), "from = \"s/one.snap\"\n").unwrap();
    let out = oanix(&["cat", "m.toml", "/tmp/kept.txt"], d.path());
    assert_eq!(text(&out.stdout), "kept across processes");
    for (args, needle) in [
        (vec!["run", "--from", "s/none.snap", "check.wasm"], "none"),
        (
            vec!["snapshot", "-o", "s/bad name.snap"],
            "invalid snapshot name",
        ),
        (
            vec!["compare", "--from", "s/one.snap", "nothing.txt"],
            "nothing.txt",
        ),
        (vec!["snapshots", "missing-dir"], "missing-dir"),
    ] {
        let out = oanix(&args, d.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn compare_runs_a_native_agent_beside_a_wasi_one() {
    let d = tempfile::tempdir().unwrap();
    let project = d.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    std::fs::write(project.join("notes.txt"), "old notes").unwrap();
    let out = oanix(
        &[
            "snapshot",
            "-o",
            "snaps/base.snap",
            "--workspace",
            "project",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    std::fs::write(
        d.path().join("native.toml"),
        r#"[agent]
command = ["sh", "-c", "echo by-native > /workspace/n.txt; echo '{\"agent\":\"native\"}' > /task/result.json"]
"#,
    )
    .unwrap();
    let a = writer(
        d.path(),
        "a.wasm",
        &[("task/result.json", r#"{\"agent\":\"a\"}"#)],
        0,
    );
    let out = oanix(
        &[
            "compare",
            "--from",
            "snaps/base.snap",
            "native.toml",
            a.to_str().unwrap(),
            "--json",
        ],
        d.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let native = &report["agents"][0];
    assert_eq!(native["status"], "succeeded", "{native}");
    assert_eq!(native["result"]["agent"], "native");
    assert!(
        native["diff"].as_str().unwrap().contains("+by-native"),
        "{native}"
    );
    assert_eq!(report["agents"][1]["result"]["agent"], "a");
    assert!(
        !project.join("n.txt").exists(),
        "a comparison applies nothing"
    );
}
