//! `oanix run -- CMD` and native manifests: real programs in the sandbox
//! over the environment, through the command.

use std::path::Path;
use std::process::{Command, Output};

fn oanix(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oanix"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn run_dash_dash_runs_a_native_command_and_reviews_its_workspace() {
    let d = tempfile::tempdir().unwrap();
    let ws = d.path().join("project");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("notes.txt"), "old notes\n").unwrap();
    let script = "grep -q '\"id\": \"run\"' /task/spec.json && echo out; \
                  echo new notes > notes.txt; echo err >&2; \
                  echo '{\"done\": 1}' > /task/result.json; exit 5";
    let out = oanix(
        &[
            "run",
            "--workspace",
            ws.to_str().unwrap(),
            "--apply",
            "--",
            "sh",
            "-c",
            script,
        ],
        d.path(),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert_eq!(text(&out.stdout), "out\n");
    assert!(err.contains("err\n"), "{err}");
    assert!(err.contains("M /notes.txt"), "{err}");
    assert!(err.contains("applied 1 change"), "{err}");
    assert!(err.contains("status: completed (exit code 5)"), "{err}");
    assert!(err.contains(r#"result: {"done":1}"#), "{err}");
    assert_eq!(
        std::fs::read_to_string(ws.join("notes.txt")).unwrap(),
        "new notes\n"
    );
}

#[test]
fn a_native_manifest_runs_with_json_and_in_a_batch() {
    let d = tempfile::tempdir().unwrap();
    let ws = d.path().join("project");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("data.txt"), "3 4\n").unwrap();
    let manifest = d.path().join("agent.toml");
    std::fs::write(
        &manifest,
        r#"
[task]
id = "sum"
description = "add the numbers in data.txt"

[agent]
command = ["sh", "-c", "read a b < data.txt; echo $((a + b)) > sum.txt; echo \"{\\\"sum\\\": $((a + b))}\" > /task/result.json; echo summed"]

[[mount]]
path = "/workspace"
kind = "workspace"
host = "project"

[sandbox]
processes = 64
"#,
    )
    .unwrap();
    let out = oanix(
        &["--json", "run", manifest.to_str().unwrap(), "--discard"],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["exit_code"], 0);
    assert_eq!(report["stdout"], "summed\n");
    assert_eq!(report["result"]["sum"], 7);
    assert_eq!(report["workspace"]["changes"][0]["path"], "/sum.txt");
    assert_eq!(report["workspace"]["applied"], false);
    assert!(!ws.join("sum.txt").exists());
    let out = oanix(
        &[
            "--json",
            "batch",
            manifest.to_str().unwrap(),
            "--jobs",
            "4",
            "--concurrency",
            "2",
        ],
        d.path(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["done"], 4, "{summary}");
    assert!(
        !ws.join("sum.txt").exists(),
        "batch jobs keep their changes to themselves"
    );
}

#[test]
fn native_timeouts_and_errors_give_their_codes_and_one_line() {
    let d = tempfile::tempdir().unwrap();
    let out = oanix(&["run", "--timeout", "0.3", "--", "sleep", "30"], d.path());
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("out of time"),
        "{}",
        text(&out.stderr)
    );
    let out = oanix(&["run", "--", "sh", "-c", "kill -TERM $$"], d.path());
    assert_eq!(out.status.code(), Some(128 + 15), "{}", text(&out.stderr));
    let out = oanix(&["run", "--", "no-such-program-oanix"], d.path());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.starts_with("oanix: error: ") && err.contains("no-such-program-oanix"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let out = oanix(&["run"], d.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("nothing to run"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_native_demo_agent_runs_its_flow() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let before = std::fs::read_dir(examples.join("demo-project"))
        .unwrap()
        .count();
    let out = oanix(
        &["--json", "run", "native-demo.toml", "--discard"],
        &examples,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stdout = report["stdout"].as_str().unwrap();
    assert!(
        stdout.starts_with("hello from Python, inside an OANIX namespace\n"),
        "{stdout}"
    );
    assert!(stdout.contains("workspace: 2 files"), "{stdout}");
    assert_eq!(report["result"]["status"], "done");
    assert_eq!(report["result"]["lines"], 8);
    assert_eq!(report["workspace"]["changes"][0]["path"], "/SUMMARY.md");
    assert_eq!(report["workspace"]["applied"], false);
    let after = std::fs::read_dir(examples.join("demo-project"))
        .unwrap()
        .count();
    assert_eq!(before, after, "the demo project is left as it was");
}
