//! `oanix run`, `ns`, `ls`, `cat` and `batch`, with guests written in WAT.

use crate::{oanix, text};
use std::path::{Path, PathBuf};

fn module(dir: &Path, name: &str, wat: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, wat::parse_str(wat).unwrap()).unwrap();
    path
}

/// Prints `text` and exits with `code`.
fn printer(dir: &Path, text: &str, code: u32) -> PathBuf {
    module(
        dir,
        "printer.wasm",
        &format!(
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
        ),
    )
}

/// Overwrites `workspace/notes.txt` with `new notes`.
fn editor(dir: &Path) -> PathBuf {
    let path = "workspace/notes.txt";
    let body = "new notes";
    module(
        dir,
        "editor.wasm",
        &format!(
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
                ;; O_CREAT | O_TRUNC
                (local.set $err (call $open (i32.const 3) (i32.const 1) (i32.const 256)
                  (i32.const {plen}) (i32.const 9) (i64.const -1) (i64.const -1)
                  (i32.const 0) (i32.const 32)))
                (if (local.get $err) (then (call $exit (i32.add (i32.const 100) (local.get $err)))))
                (i32.store (i32.const 0) (i32.const 512))
                (i32.store (i32.const 4) (i32.const {blen}))
                (drop (call $fd_write (i32.load (i32.const 32)) (i32.const 0) (i32.const 1) (i32.const 16)))
                (call $exit (i32.const 0))))"#,
            plen = path.len(),
            blen = body.len()
        ),
    )
}

fn spin(dir: &Path) -> PathBuf {
    module(
        dir,
        "spin.wasm",
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#,
    )
}

fn project(dir: &Path) -> PathBuf {
    let ws = dir.join("project");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "old notes").unwrap();
    ws
}

#[test]
fn run_streams_output_and_exits_with_the_agent_code() {
    let d = tempfile::tempdir().unwrap();
    let m = printer(d.path(), "hello from the agent", 3);
    let out = oanix(&["run", m.to_str().unwrap()], d.path());
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "hello from the agent");
    assert!(
        text(&out.stderr).contains("status: completed (exit code 3)"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn run_json_reports_everything_in_one_object() {
    let d = tempfile::tempdir().unwrap();
    let m = printer(d.path(), "json please", 0);
    let out = oanix(&["--json", "run", m.to_str().unwrap()], d.path());
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["status"]["state"], "completed");
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["stdout"], "json please");
}

#[test]
fn a_timeout_stops_the_agent() {
    let d = tempfile::tempdir().unwrap();
    let m = spin(d.path());
    let out = oanix(&["run", m.to_str().unwrap(), "--timeout", "0.3"], d.path());
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("failed"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn cow_with_apply_changes_the_directory() {
    let d = tempfile::tempdir().unwrap();
    let ws = project(d.path());
    let m = editor(d.path());
    let out = oanix(
        &[
            "run",
            m.to_str().unwrap(),
            "--workspace",
            ws.to_str().unwrap(),
            "--cow",
            "--apply",
        ],
        d.path(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("M /notes.txt (9 -> 9 bytes)"), "{err}");
    assert!(err.contains("applied 1 change"), "{err}");
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "new notes"
    );
}

#[test]
fn cow_with_discard_leaves_the_directory_untouched() {
    let d = tempfile::tempdir().unwrap();
    let ws = project(d.path());
    let m = editor(d.path());
    let out = oanix(
        &[
            "run",
            m.to_str().unwrap(),
            "--workspace",
            ws.to_str().unwrap(),
            "--cow",
            "--discard",
        ],
        d.path(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("M /notes.txt"), "{err}");
    assert!(err.contains("discarded"), "{err}");
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "old notes"
    );
    // Without --apply or --discard, and no terminal to ask on, nothing is applied.
    let out = oanix(
        &[
            "run",
            m.to_str().unwrap(),
            "--workspace",
            ws.to_str().unwrap(),
            "--cow",
        ],
        d.path(),
    );
    assert!(
        text(&out.stderr).contains("not applied"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "old notes"
    );
}

#[test]
fn a_read_only_workspace_refuses_the_agent_write() {
    let d = tempfile::tempdir().unwrap();
    let ws = project(d.path());
    let m = editor(d.path());
    let out = oanix(
        &[
            "run",
            m.to_str().unwrap(),
            "--workspace",
            ws.to_str().unwrap(),
            "--ro",
        ],
        d.path(),
    );
    // The guest exits with 100 + errno when path_open fails.
    let code = out.status.code().unwrap();
    assert!(code > 100, "exit {code}: {}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "old notes"
    );
}

fn manifest(d: &Path, agent: &Path) -> PathBuf {
    project(d);
    let path = d.join("env.toml");
    std::fs::write(
        &path,
        format!(
            "[task]\nid = \"m-1\"\ndescription = \"look\"\n\n[agent]\nmodule = \"{}\"\n\n\
             [[mount]]\npath = \"/workspace\"\nkind = \"workspace\"\nhost = \"project\"\nmode = \"ro\"\n",
            agent.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    path
}

#[test]
fn ns_ls_and_cat_look_inside_a_manifest() {
    let d = tempfile::tempdir().unwrap();
    let agent = printer(d.path(), "x", 0);
    let m = manifest(d.path(), &agent);
    let out = oanix(&["ns", m.to_str().unwrap()], d.path());
    assert_eq!(
        text(&out.stdout),
        "mount /task taskfs\nmount /logs logsfs\nmount /tmp memfs\nmount /workspace workspacefs\n"
    );
    let out = oanix(&["ls", m.to_str().unwrap(), "/"], d.path());
    let listing = text(&out.stdout);
    for name in ["logs/", "task/", "tmp/", "workspace/"] {
        assert!(listing.contains(name), "{listing}");
    }
    let out = oanix(
        &["cat", m.to_str().unwrap(), "/workspace/notes.txt"],
        d.path(),
    );
    assert_eq!(text(&out.stdout), "old notes");
    let out = oanix(&["cat", m.to_str().unwrap(), "/task/spec.json"], d.path());
    assert!(text(&out.stdout).contains("\"m-1\""));
    let out = oanix(
        &["--json", "ls", m.to_str().unwrap(), "/workspace"],
        d.path(),
    );
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entries[0]["name"], "notes.txt");
}

#[test]
fn errors_are_one_line_with_a_non_zero_exit() {
    let d = tempfile::tempdir().unwrap();
    let out = oanix(&["run", "missing.wasm"], d.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("oanix: error: missing.wasm is not a file"),
        "{err}"
    );

    let bad = d.path().join("bad.toml");
    std::fs::write(&bad, "[limits]\nfuel = \"lots\"\n").unwrap();
    let out = oanix(&["ns", bad.to_str().unwrap()], d.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("line 2"), "{err}");

    let agent = printer(d.path(), "x", 0);
    let m = manifest(d.path(), &agent);
    let out = oanix(&["cat", m.to_str().unwrap(), "/nope"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not found: /nope"),
        "{}",
        text(&out.stderr)
    );

    let out = oanix(
        &["run", agent.to_str().unwrap(), "--cap", "ftp=example.com"],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown capability"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn batch_runs_every_job_and_summarises() {
    let d = tempfile::tempdir().unwrap();
    let agent = printer(d.path(), "batch", 0);
    let m = manifest(d.path(), &agent);
    let out = oanix(
        &[
            "--json",
            "batch",
            m.to_str().unwrap(),
            "--jobs",
            "12",
            "--concurrency",
            "2",
        ],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["done"], 12);
    assert_eq!(summary["failed"], 0);
    assert!(summary["p99_ms"].as_f64().unwrap() >= summary["p50_ms"].as_f64().unwrap());
    let out = oanix(&["batch", m.to_str().unwrap(), "--jobs", "3"], d.path());
    assert!(
        text(&out.stdout).contains("| 3 | 3 | 0 | 0 |"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_workspace_is_copy_on_write_by_default() {
    let d = tempfile::tempdir().unwrap();
    let ws = project(d.path());
    let m = editor(d.path());
    let out = oanix(
        &[
            "run",
            m.to_str().unwrap(),
            "--workspace",
            ws.to_str().unwrap(),
        ],
        d.path(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("M /notes.txt") && err.contains("not applied"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "old notes"
    );
    // The JSON report carries the review: the changes and the diff.
    let out = oanix(
        &[
            "--json",
            "run",
            m.to_str().unwrap(),
            "--workspace",
            ws.to_str().unwrap(),
            "--discard",
        ],
        d.path(),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["workspace"]["changes"][0]["path"], "/notes.txt");
    assert_eq!(report["workspace"]["applied"], false);
    let diff = report["workspace"]["diff"].as_str().unwrap();
    assert!(
        diff.contains("-old notes") && diff.contains("+new notes"),
        "{diff}"
    );
}

#[test]
fn read_write_is_an_explicit_choice() {
    for flags in [&["--rw"][..], &["--workspace-mode", "rw"][..]] {
        let d = tempfile::tempdir().unwrap();
        let ws = project(d.path());
        let m = editor(d.path());
        let mut args = vec![
            "run",
            m.to_str().unwrap(),
            "--workspace",
            ws.to_str().unwrap(),
        ];
        args.extend_from_slice(flags);
        let out = oanix(&args, d.path());
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{flags:?}: {err}");
        assert!(!err.contains("workspace changes"), "{err}");
        assert_eq!(
            std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
            "new notes"
        );
    }
    // Two modes at once, or a mode without a workspace, are refused.
    let d = tempfile::tempdir().unwrap();
    let ws = project(d.path());
    let m = editor(d.path());
    let out = oanix(
        &[
            "run",
            m.to_str().unwrap(),
            "--workspace",
            ws.to_str().unwrap(),
            "--rw",
            "--ro",
        ],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let out = oanix(&["run", m.to_str().unwrap(), "--rw"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("need --workspace"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "old notes"
    );
}

#[test]
fn a_manifest_workspace_without_a_mode_is_copy_on_write_and_flags_name_their_errors() {
    let d = tempfile::tempdir().unwrap();
    project(d.path());
    let agent = editor(d.path());
    let path = d.path().join("cow.toml");
    std::fs::write(
        &path,
        format!(
            "[agent]\nmodule = \"{}\"\n\n[[mount]]\npath = \"/workspace\"\nkind = \"workspace\"\nhost = \"project\"\n",
            agent.file_name().unwrap().to_str().unwrap()
        ),
    )
    .unwrap();
    let out = oanix(&["ns", path.to_str().unwrap()], d.path());
    assert!(
        text(&out.stdout).contains("mount /workspace overlay"),
        "{}",
        text(&out.stdout)
    );
    // The agent's workspace is exactly the project.
    let out = oanix(
        &["--json", "ls", path.to_str().unwrap(), "/workspace"],
        d.path(),
    );
    let entries: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["notes.txt"]);
    let out = oanix(&["run", path.to_str().unwrap(), "--apply"], d.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(d.path().join("project/notes.txt")).unwrap(),
        "new notes"
    );

    // A flag's bad value is named by the flag.
    let out = oanix(
        &[
            "run",
            agent.to_str().unwrap(),
            "--cap",
            "http=api.*.example",
        ],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("oanix: error: --cap http=api.*.example: "),
        "{err}"
    );
    let out = oanix(
        &["run", agent.to_str().unwrap(), "--workspace", "absent"],
        d.path(),
    );
    let err = text(&out.stderr);
    assert!(
        err.starts_with("oanix: error: --workspace absent: ") && err.contains("not a directory"),
        "{err}"
    );
    let out = oanix(&["run", agent.to_str().unwrap(), "--timeout=-1"], d.path());
    assert!(
        text(&out.stderr).contains("--timeout -1: expected a positive number of seconds"),
        "{}",
        text(&out.stderr)
    );
}
