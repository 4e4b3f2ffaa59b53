//! Real tools in `/workspace`: `git`, `python3` through `/cap/http`
//! against a local server, `rg`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use oanix_native::{Exit, NativeRun};
use oanix_services::LogStream;

use crate::require;
use crate::support::{Fixture, manifest, output};

/// Runs `script` with `sh -c` in an environment over `fx`'s workspace;
/// returns stdout, after checking that it exited with 0.
fn sh(fx: &Fixture, script: &str, extra: &str) -> (oanix_env::OanixEnv, String) {
    let agent = format!("command = [\"sh\", \"-c\", {script:?}]");
    let env = fx.env(&manifest(&agent, extra));
    let outcome = NativeRun::new(&env).run().unwrap();
    let stdout = output(&env, LogStream::Stdout);
    let stderr = output(&env, LogStream::Stderr);
    assert_eq!(
        outcome.exit,
        Exit::Code(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    (env, stdout)
}

#[test]
fn git_init_add_commit_status_and_diff_in_the_workspace() {
    require!("git");
    let fx = Fixture::new(&[("src/lib.rs", "fn main() {}\n"), ("README", "hello\n")]);
    let script = r#"set -e
export GIT_AUTHOR_NAME=agent GIT_AUTHOR_EMAIL=agent@example.com
export GIT_COMMITTER_NAME=agent GIT_COMMITTER_EMAIL=agent@example.com
git init -q -b main .
git add -A
git commit -q -m first
echo "fn main() { println!(\"hi\"); }" > src/lib.rs
git mv README README.md
ln -s README.md link
echo "--- status"
git status --porcelain
echo "--- diff"
git diff --stat
git add -A
git commit -q -m second
echo "--- log"
git log --oneline | wc -l
git status --porcelain | wc -l
git fsck --no-progress 2>&1 | grep -c error || true
"#;
    let (env, out) = sh(&fx, script, "");
    assert!(out.contains(" M src/lib.rs"), "{out}");
    assert!(
        out.contains("R  README -> README.md") || out.contains("RM README -> README.md"),
        "{out}"
    );
    assert!(out.contains("?? link"), "{out}");
    assert!(out.contains("src/lib.rs | 2 +-"), "{out}");
    let log = out.split("--- log\n").nth(1).unwrap();
    assert_eq!(
        log, "2\n0\n0\n",
        "two commits, a clean tree, no fsck errors"
    );
    // The repository is in the copy-on-write layer, and a real one: the
    // host commits it and git on the host reads it.
    let ws = fx.workspace();
    assert!(!ws.join(".git").exists());
    env.workspace().unwrap().commit().unwrap();
    let host = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "log", "--format=%s"])
        .current_dir(&ws)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&host.stdout), "second\nfirst\n");
    assert_eq!(
        std::fs::read_link(ws.join("link")).unwrap().to_str(),
        Some("README.md")
    );
}

#[test]
fn ripgrep_searches_the_workspace() {
    require!("rg");
    let mut files: Vec<(String, String)> = (0..200)
        .map(|i| (format!("dir{}/f{i}.txt", i % 10), format!("line {i}\n")))
        .collect();
    files.push(("dir3/needle.txt".into(), "a needle here\n".into()));
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    let fx = Fixture::new(&refs);
    let (_, out) = sh(&fx, "rg -l needle; rg -c line | wc -l", "");
    assert_eq!(out, "dir3/needle.txt\n200\n");
}

/// A small HTTP/1.1 server on loopback answering every request with
/// `body`; it keeps the request lines it saw.
fn serve(body: &'static str) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            log.lock().unwrap().push(line.trim().to_owned());
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

#[test]
fn python_reads_the_task_and_calls_the_http_capability_through_the_files() {
    require!("python3");
    let (port, seen) = serve("hello from the host");
    let script = r#"import json, os
spec = json.load(open("/task/spec.json"))
url = spec["input"]["url"]
fd = os.open("/cap/http/request", os.O_RDWR)
os.write(fd, json.dumps({"url": url}).encode())
rid = os.read(fd, 64).decode().strip()
os.close(fd)
with open(f"/cap/http/responses/{rid}.json") as f:
    resp = json.load(f)
print(rid, resp["status"], resp["body"])
# A host the policy does not allow is refused at the write.
try:
    fd = os.open("/cap/http/request", os.O_RDWR)
    os.write(fd, json.dumps({"url": "http://example.com/"}).encode())
    print("not refused")
except OSError as e:
    print("refused", e.errno)
with open("/task/result.json", "w") as f:
    json.dump({"status": resp["status"], "body": resp["body"]}, f)
"#;
    let fx = Fixture::new(&[("agent.py", script)]);
    let manifest = format!(
        r#"
[task]
id = "fetch"
input = {{ url = "http://127.0.0.1:{port}/greeting" }}

[agent]
command = ["python3", "agent.py"]

[[mount]]
path = "/workspace"
kind = "workspace"
host = "project"

# The test's server is on the host's loopback: go through the proxy for it.
[sandbox]
env = {{ NO_PROXY = "", no_proxy = "" }}

[capabilities.http]
allow_hosts = ["127.0.0.1"]
schemes = ["http"]
ports = [{port}]
allow_loopback = true

[limits]
timeout_secs = 60
"#
    );
    let env = fx.env(&manifest);
    let outcome = NativeRun::new(&env).run().unwrap();
    let stdout = output(&env, LogStream::Stdout);
    let stderr = output(&env, LogStream::Stderr);
    assert_eq!(outcome.exit, Exit::Code(0), "{stdout}\n{stderr}");
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("req-1 200 hello from the host"));
    let refused = lines.next().unwrap();
    assert!(refused.starts_with("refused "), "{refused}");
    assert_eq!(seen.lock().unwrap().as_slice(), ["GET /greeting HTTP/1.1"]);
    assert_eq!(
        env.task().unwrap().result().unwrap(),
        Some(serde_json::json!({"status": 200, "body": "hello from the host"}))
    );
    // Both requests are in the records.
    let events = output(&env, LogStream::Events);
    assert!(events.contains("127.0.0.1"), "{events}");
    assert!(events.contains("example.com"), "{events}");
}

#[test]
fn tools_reach_allowed_hosts_through_the_egress_proxy_and_nothing_else() {
    require!("curl");
    require!("python3");
    let (port, seen) = serve("through the proxy");
    let script = format!(
        r#"curl -s -S http://127.0.0.1:{port}/by-curl; echo
curl -s http://example.com/ | head -c 200
python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:{port}/by-python").read().decode())'
python3 -c 'import socket
try:
    socket.create_connection(("127.0.0.1", {port}), timeout=2); print("DIRECT")
except OSError:
    print("no direct route")'
echo "$HTTPS_PROXY"
"#
    );
    let fx = Fixture::new(&[]);
    let manifest = format!(
        r#"
[agent]
command = ["sh", "-c", {script:?}]

# The test's server is on the host's loopback: go through the proxy for it.
[sandbox]
env = {{ NO_PROXY = "", no_proxy = "" }}

[capabilities.http]
allow_hosts = ["127.0.0.1"]
schemes = ["http"]
ports = [{port}]
allow_loopback = true

[limits]
timeout_secs = 60
"#
    );
    let env = fx.env(&manifest);
    let outcome = NativeRun::new(&env).run().unwrap();
    let stdout = output(&env, LogStream::Stdout);
    assert_eq!(
        outcome.exit,
        Exit::Code(0),
        "{stdout}\n{}",
        output(&env, LogStream::Stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "through the proxy", "{stdout}");
    assert!(
        lines[1].contains("refused by the egress policy"),
        "{stdout}"
    );
    assert_eq!(lines[2], "through the proxy", "{stdout}");
    assert_eq!(lines[3], "no direct route", "{stdout}");
    assert_eq!(lines[4], "http://127.0.0.1:3128");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen, ["GET /by-curl HTTP/1.1", "GET /by-python HTTP/1.1"]);
    let events = output(&env, LogStream::Events);
    assert!(
        events.contains("example.com"),
        "the refusal is recorded: {events}"
    );
}
