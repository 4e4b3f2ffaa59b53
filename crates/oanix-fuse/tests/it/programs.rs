//! Real programs on an agent's namespace: a shell, `cat`, `echo`, `ls`,
//! `mv`, `ln`, `tail -f`, and `git`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use oanix_caps::{EgressPolicy, HttpFs, HttpResponse};
use oanix_fuse::MountOptions;
use oanix_prims::MemFs;
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec};
use oanix_vfs::{Namespace, read_to_string};

use crate::support::Mounted;

/// How long a test waits for a program before failing (never a sleep: a
/// bound on a wait that normally ends at once).
const PATIENCE: Duration = Duration::from_secs(60);

struct Agent {
    task: Arc<TaskFs>,
    logs: Arc<LogsFs>,
    http: Arc<HttpFs>,
    workspace: Arc<MemFs>,
    m: Mounted,
}

fn agent() -> Agent {
    let spec = TaskSpec {
        id: "task-7".to_owned(),
        task_type: "bugfix".to_owned(),
        description: "fix it".to_owned(),
        input: serde_json::json!({"repo": "demo"}),
    };
    let task = Arc::new(TaskFs::new(spec, TaskMeta::default()));
    let logs = Arc::new(LogsFs::new());
    let policy = EgressPolicy::allow_hosts(["api.example.com"])
        .build()
        .unwrap();
    let http = Arc::new(HttpFs::builder().policy(policy).build());
    let workspace = Arc::new(MemFs::new());
    let ns = Namespace::builder()
        .mount("/task", task.clone())
        .mount("/logs", logs.clone())
        .mount("/cap/http", http.clone())
        .mount("/workspace", workspace.clone())
        .mount("/tmp", MemFs::new())
        .build();
    let m = Mounted::new(ns, MountOptions::agent());
    Agent {
        task,
        logs,
        http,
        workspace,
        m,
    }
}

#[test]
fn a_shell_reads_the_task_and_sees_the_hosts_changes_at_once() {
    let a = agent();
    let spec = a.m.sh("cat task/spec.json");
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["id"], "task-7");
    assert!(a.m.sh("cat task/status").contains("pending"));
    a.task.set_running().unwrap();
    assert!(
        a.m.sh("cat task/status").contains("running"),
        "a live file is never stale"
    );
    a.m.sh(r#"echo '{"fixed": true}' > task/result.json"#);
    let result = read_to_string(&*a.task, "/result.json").unwrap();
    assert_eq!(result.trim(), r#"{"fixed": true}"#);
    let listing = a.m.sh("ls task");
    assert!(
        listing.contains("spec.json") && listing.contains("status"),
        "{listing}"
    );
}

#[test]
fn a_capability_request_from_a_shell_gets_its_id_and_its_blocking_answer() {
    let a = agent();
    // One message per write; the id read back on the same descriptor.
    let id = a.m.sh(
        r#"exec 3<>cap/http/request; echo '{"url": "https://api.example.com/items"}' >&3; cat <&3"#,
    );
    assert_eq!(id.trim(), "req-1");
    // A refused request fails that write, with the service's errno.
    let refused =
        a.m.sh_output(r#"echo '{"url": "https://evil.example.org/"}' > cap/http/request"#);
    assert!(!refused.status.success());
    // The answer blocks its reader only.
    let root = a.m.root().to_path_buf();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let out = Command::new("cat")
            .arg("cap/http/responses/req-1.json")
            .current_dir(root)
            .output();
        let _ = tx.send(out);
    });
    let pending = a.m.sh("ls cap/http/pending");
    assert_eq!(pending.trim(), "req-1.json");
    assert!(a.m.sh("cat task/spec.json").contains("task-7"));
    let work = a.http.take_pending_batch(8);
    assert_eq!(work.len(), 1);
    assert_eq!(work[0].url.as_str(), "https://api.example.com/items");
    a.http
        .complete_request(HttpResponse::new(&work[0].id, 200).with_body("the answer"))
        .unwrap();
    let out = rx
        .recv_timeout(PATIENCE)
        .expect("cat ends once the answer is there")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resp: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(resp["status"], 200);
    assert_eq!(resp["body"], "the answer");
}

#[test]
fn tail_follows_a_log_as_the_host_writes_it() {
    let a = agent();
    a.logs.write_stdout("first line\n");
    let mut tail = Command::new("tail")
        .args(["-n", "+1", "-f", "logs/stdout.log"])
        .current_dir(a.m.root())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = tail.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let line = |rx: &mpsc::Receiver<std::io::Result<String>>| {
        rx.recv_timeout(PATIENCE)
            .expect("tail prints the line")
            .unwrap()
    };
    assert_eq!(line(&rx), "first line");
    a.logs.write_stdout("second line\n");
    assert_eq!(line(&rx), "second line");
    let _ = tail.kill();
    let _ = tail.wait();
    // The agent's own writes append, as for a WASI guest.
    a.m.sh("echo from the agent >> logs/stdout.log");
    let all = String::from_utf8(a.logs.contents(oanix_services::LogStream::Stdout)).unwrap();
    assert_eq!(all, "first line\nsecond line\nfrom the agent\n");
}

#[test]
fn everyday_commands_work_in_the_workspace() {
    let a = agent();
    let out = a.m.sh(
        "cd workspace && echo hello > a.txt && cat a.txt && mkdir -p d/e && mv a.txt d/e/b.txt \
         && ln -s e/b.txt d/link && cat d/link && cp d/e/b.txt copy.txt && ls -l d \
         && rm d/link && ls d && find . -type f | sort",
    );
    assert!(out.starts_with("hello\nhello\n"), "{out}");
    assert!(
        out.contains("link -> e/b.txt"),
        "ls -l shows the link: {out}"
    );
    assert!(out.ends_with("./copy.txt\n./d/e/b.txt\n"), "{out}");
    assert_eq!(
        read_to_string(&*a.workspace, "/d/e/b.txt").unwrap(),
        "hello\n",
        "the service holds what the shell wrote"
    );
    // The host's own write is seen at once.
    oanix_vfs::write_file(&*a.workspace, "/d/e/b.txt", "from the host\n").unwrap();
    assert_eq!(a.m.sh("cat workspace/d/e/b.txt"), "from the host\n");
    let missing = a.m.sh_output("cat workspace/nothing");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("No such file or directory"));
}

#[test]
fn git_works_in_the_workspace() {
    let a = agent();
    let home = tempfile::tempdir().unwrap();
    let git = |args: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("git {args}"))
            .current_dir(a.m.p("workspace"))
            .env("HOME", home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "agent")
            .env("GIT_AUTHOR_EMAIL", "agent@example.com")
            .env("GIT_COMMITTER_NAME", "agent")
            .env("GIT_COMMITTER_EMAIL", "agent@example.com")
            .output()
            .unwrap_or_else(|e| panic!("git must be installed for this test: {e}"));
        assert!(
            out.status.success(),
            "git {args} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    a.m.sh("cd workspace && printf 'one\\n' > a.txt && mkdir src && printf 'fn main() {}\\n' > src/main.rs && printf '#!/bin/sh\\n' > run.sh && chmod +x run.sh");
    git("init -q -b main");
    git("add .");
    git("commit -q -m first");
    assert_eq!(
        git("status --porcelain"),
        "",
        "a clean tree after the commit"
    );
    assert!(
        git("ls-files -s run.sh").starts_with("100755"),
        "the mode git set is kept"
    );
    a.m.sh("cd workspace && printf 'two\\n' >> a.txt");
    assert_eq!(git("status --porcelain"), " M a.txt\n");
    git("mv src/main.rs src/lib.rs");
    git("rm -q run.sh");
    git("commit -q -am second");
    assert_eq!(git("status --porcelain"), "");
    git("gc -q");
    git("fsck --no-progress");
    assert_eq!(git("log --oneline").lines().count(), 2);
    assert_eq!(git("show HEAD:a.txt"), "one\ntwo\n");
}
