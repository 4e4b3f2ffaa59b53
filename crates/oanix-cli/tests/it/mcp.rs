//! `oanix mcp` driven by independent MCP clients: the official Python SDK
//! (`mcp` from PyPI, over stdio and streamable HTTP, in both the
//! handshake-era and the 2026-07-28 protocol) and rmcp's Rust client.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use rmcp::ServiceExt as _;
use rmcp::model::{CallToolRequestParams, ClientConfig, ProtocolVersion};
use rmcp::transport::TokioChildProcess;
use serde_json::{Value, json};

/// A WASI module that prints a line and writes `/workspace/out.txt`.
const HELLO_WAT: &str = r#"(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "hello from wasi\n")
  (data (i32.const 1100) "workspace/out.txt")
  (data (i32.const 1200) "written by wasi")
  (func (export "_start")
    (local $err i32)
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
    (local.set $err (call $open (i32.const 3) (i32.const 1) (i32.const 1100)
      (i32.const 17) (i32.const 9) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 32)))
    (if (local.get $err) (then (call $exit (i32.add (i32.const 100) (local.get $err)))))
    (i32.store (i32.const 0) (i32.const 1200))
    (i32.store (i32.const 4) (i32.const 15))
    (drop (call $fd_write (i32.load (i32.const 32)) (i32.const 0) (i32.const 1) (i32.const 16)))
    (call $exit (i32.const 0))))"#;

/// A plain HTTP server on loopback answering every request with one line.
fn http_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let body = "hello over http\n";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// A directory with a project, a WASI module in it and the manifest of an
/// environment over them; gives the manifest's path and the HTTP port.
fn fixture(dir: &Path) -> (PathBuf, u16) {
    let project = dir.join("project");
    std::fs::create_dir_all(project.join("src")).unwrap();
    std::fs::write(project.join("README.md"), "# demo\nhello from the host\n").unwrap();
    std::fs::write(project.join("src/lib.rs"), "pub fn f() {}\n").unwrap();
    std::fs::write(
        project.join("hello.wasm"),
        wat::parse_str(HELLO_WAT).unwrap(),
    )
    .unwrap();
    let port = http_server();
    let manifest = dir.join("demo.toml");
    std::fs::write(
        &manifest,
        format!(
            r#"
[task]
id = "mcp-demo"
description = "answer through MCP"

[[mount]]
path = "/workspace"
kind = "workspace"
host = "project"

[capabilities.http]
allow_hosts = ["127.0.0.1"]
schemes = ["http"]
ports = [{port}]
allow_loopback = true

[checkpoints]
max = 4
"#
        ),
    )
    .unwrap();
    (manifest, port)
}

/// The Python with the MCP SDK: `OANIX_MCP_PYTHON` (set by `.ci/run`).
fn python() -> Option<PathBuf> {
    let found = std::env::var_os("OANIX_MCP_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the MCP Python SDK is not installed: `.ci/run` installs it (pip install mcp==2.3.0) \
             and sets OANIX_MCP_PYTHON to its python"
        );
        eprintln!("note: OANIX_MCP_PYTHON is not set, the Python SDK did not run");
    }
    found
}

/// Runs the Python driver over `transport` in `mode` and checks what the
/// command reported when the session ended.
fn python_drives(transport: &str, mode: &str) {
    let Some(python) = python() else { return };
    let d = tempfile::tempdir().unwrap();
    let (manifest, port) = fixture(d.path());
    let report = d.path().join("report.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/mcp/drive.py");
    let out = Command::new(python)
        .arg(&script)
        .args(["--oanix", env!("CARGO_BIN_EXE_oanix")])
        .arg("--manifest")
        .arg(&manifest)
        .args(["--transport", transport, "--mode", mode])
        .arg("--report")
        .arg(&report)
        .args(["--http-port", &port.to_string()])
        .current_dir(d.path())
        .output()
        .unwrap();
    let stdout = crate::text(&out.stdout);
    let stderr = crate::text(&out.stderr);
    assert!(out.status.success(), "driver failed:\n{stdout}\n{stderr}");
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["tools"], 15, "{seen}");
    assert!(seen["events"].as_u64().unwrap() >= 15, "{seen}");
    // The session's end completed the environment and reviewed the
    // workspace: the changes are listed, not applied.
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(
        report["status"],
        json!({ "state": "completed", "exit_code": 0 }),
        "{report}"
    );
    assert_eq!(
        report["result"],
        json!({ "answer": 42, "mode": mode }),
        "{report}"
    );
    let changes: Vec<&str> = report["workspace"]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["path"].as_str().unwrap())
        .collect();
    assert!(
        changes.contains(&"/PLAN.md") && changes.contains(&"/out.txt"),
        "{report}"
    );
    assert!(!changes.contains(&"/README.md"), "{report}");
    assert_eq!(report["workspace"]["applied"], false);
    let project = d.path().join("project");
    assert!(!project.join("PLAN.md").exists());
    assert_eq!(
        std::fs::read_to_string(project.join("README.md")).unwrap(),
        "# demo\nhello from the host\n"
    );
}

#[test]
fn python_sdk_drives_every_tool_over_stdio() {
    python_drives("stdio", "legacy");
}

#[test]
fn python_sdk_drives_every_tool_over_stdio_in_the_2026_protocol() {
    python_drives("stdio", "auto");
}

#[test]
fn python_sdk_drives_every_tool_over_streamable_http() {
    python_drives("http", "legacy");
}

#[test]
fn python_sdk_drives_every_tool_over_streamable_http_in_the_2026_protocol() {
    python_drives("http", "auto");
}

fn call(name: &'static str, args: Value) -> CallToolRequestParams {
    let Value::Object(args) = args else {
        panic!("arguments are an object")
    };
    CallToolRequestParams::new(name).with_arguments(args)
}

#[test]
fn rmcp_client_over_stdio_runs_native_commands_and_applies_changes() {
    let d = tempfile::tempdir().unwrap();
    let (manifest, _) = fixture(d.path());
    let report = d.path().join("report.json");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_oanix"));
        command
            .arg("mcp")
            .arg(&manifest)
            .arg("--apply")
            .arg("--report")
            .arg(&report)
            .current_dir(d.path());
        let transport = TokioChildProcess::new(command).unwrap();
        let info =
            ClientConfig::default().with_protocol_version(ProtocolVersion::LATEST_WITH_INITIALIZE);
        let client = info.serve(transport).await.unwrap();
        let written = client
            .call_tool(call(
                "write_file",
                json!({ "path": "/workspace/CHANGELOG.md", "content": "v1\n" }),
            ))
            .await
            .unwrap();
        assert_eq!(written.is_error, Some(false), "{written:?}");
        // A native command in the environment's sandbox, over its namespace.
        let ran = client
            .call_tool(call(
                "run",
                json!({ "command": ["sh", "-c", "cat /workspace/CHANGELOG.md; echo to-stderr >&2; exit 3"] }),
            ))
            .await
            .unwrap();
        let ran = ran.structured_content.expect("run gives its outcome");
        assert_eq!(ran["exit_code"], 3, "{ran}");
        assert_eq!(ran["stdout"], "v1\n", "{ran}");
        assert_eq!(ran["stderr"], "to-stderr\n", "{ran}");
        let result = client
            .call_tool(call("set_result", json!({ "result": "done" })))
            .await
            .unwrap();
        assert_eq!(result.is_error, Some(false), "{result:?}");
        // The client closes stdio: the session ends and the command
        // reviews the workspace (`--apply`) and exits.
        client.cancel().await.unwrap();
    });
    // The child is reaped by the transport; wait for the report it writes
    // last (whole: written beside and renamed).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !report.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(report["status"]["state"], "completed", "{report}");
    assert_eq!(report["result"], "done");
    assert_eq!(report["workspace"]["applied"], true, "{report}");
    assert_eq!(
        std::fs::read_to_string(d.path().join("project/CHANGELOG.md")).unwrap(),
        "v1\n"
    );
}
