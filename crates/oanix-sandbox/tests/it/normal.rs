//! Ordinary runs: output, exit codes, signals, the environment, the working directory, tools.

use std::io::Write;
use std::sync::mpsc;
use std::time::Duration;

use oanix_sandbox::{Command, Exit, Sandbox};

use crate::support::{Capture, Root, python, run, sh};

#[test]
fn output_is_streamed_and_the_exit_code_reported() {
    let root = Root::new();
    let ran = sh(&root.sandbox(), "echo hi; echo err >&2; exit 3");
    assert_eq!(ran.outcome.exit, Exit::Code(3));
    assert_eq!(ran.stdout, "hi\n");
    assert_eq!(ran.stderr, "err\n");
}

/// A sink that tells the test when the first bytes arrive.
struct Signal {
    capture: Capture,
    first: Option<mpsc::Sender<()>>,
}

impl Write for Signal {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.capture.write_all(buf)?;
        if let Some(first) = self.first.take() {
            let _ = first.send(());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn output_arrives_while_the_command_still_runs() {
    let root = Root::new();
    let fifo = root.path().join("workspace/gate");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    std::os::unix::fs::chown(&fifo, Some(root.uid), Some(root.uid)).unwrap();
    let sandbox = root.sandbox();
    let (tx, rx) = mpsc::channel();
    let capture = Capture::default();
    let sink = Signal {
        capture: capture.clone(),
        first: Some(tx),
    };
    let runner = std::thread::spawn(move || {
        sandbox.run(
            Command::new("sh")
                .args([
                    "-c",
                    "echo ready; read line < /workspace/gate; echo got $line",
                ])
                .stdout(sink),
        )
    });
    // The command is blocked on the FIFO: its first line can only have come while it runs.
    rx.recv_timeout(Duration::from_secs(60)).unwrap();
    assert_eq!(capture.text(), "ready\n");
    std::fs::write(&fifo, "go\n").unwrap();
    let outcome = runner.join().unwrap().unwrap();
    assert_eq!(outcome.exit, Exit::Code(0));
    assert_eq!(capture.text(), "ready\ngot go\n");
}

#[test]
fn a_signal_death_is_reported() {
    let root = Root::new();
    let ran = sh(&root.sandbox(), "kill -SEGV $$");
    // SIGSEGV is 11 on every Linux architecture.
    assert_eq!(ran.outcome.exit, Exit::Signal(11));
    let ran = sh(&root.sandbox(), "kill -KILL $$");
    assert_eq!(ran.outcome.exit, Exit::Signal(9));
}

#[test]
fn python_runs_with_usr_bound() {
    let root = Root::new();
    let ran = python(
        &root.sandbox(),
        "import sys, json; print(json.dumps([sys.version_info[0], 6 * 7]))",
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    assert_eq!(ran.stdout, "[3, 42]\n");
}

#[test]
fn the_environment_is_exactly_what_was_given() {
    let root = Root::new();
    let sandbox = root
        .builder()
        .env("GREETING", "hello world")
        .build()
        .unwrap();
    // `env` prints the environment it was given, one variable a line.
    let ran = run(&sandbox, &["env"]).unwrap();
    let mut lines: Vec<&str> = ran.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(
        lines,
        ["GREETING=hello world", "PATH=/usr/local/bin:/usr/bin:/bin"]
    );
    let bare = run(&root.sandbox(), &["env"]).unwrap();
    assert_eq!(bare.stdout, "PATH=/usr/local/bin:/usr/bin:/bin\n");
    // There was something to leak: cargo gives the test process a rich environment.
    assert!(std::env::vars_os().count() > 2);
}

#[test]
fn the_working_directory_is_the_one_given() {
    let root = Root::new();
    let sandbox = root.builder().cwd("/workspace").build().unwrap();
    let ran = sh(&sandbox, "pwd; echo made > here.txt");
    assert_eq!(ran.stdout, "/workspace\n");
    assert_eq!(
        std::fs::read_to_string(root.path().join("workspace/here.txt")).unwrap(),
        "made\n"
    );
    let ran = sh(&root.sandbox(), "pwd");
    assert_eq!(ran.stdout, "/\n");
}

#[test]
fn the_command_runs_as_the_sandbox_user_without_capabilities() {
    let root = Root::new();
    let ran = sh(
        &root.sandbox(),
        "id -u; id -g; id -G; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status; hostname",
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(&lines[..3], ["1000", "1000", "1000"]);
    for cap in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let line = lines.iter().find(|l| l.starts_with(cap)).unwrap();
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("NoNewPrivs:") && l.ends_with('1'))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Seccomp:") && l.ends_with('2'))
    );
    assert_eq!(lines.last(), Some(&"sandbox"));
    // Files it makes belong to its host user.
    sh(&root.sandbox(), "touch /workspace/mine");
    let owner = std::os::unix::fs::MetadataExt::uid(
        &std::fs::metadata(root.path().join("workspace/mine")).unwrap(),
    );
    assert_eq!(owner, root.uid);
}

#[test]
fn proc_dev_and_the_network_are_the_sandbox_own() {
    let root = Root::new();
    let ran = sh(
        &root.sandbox(),
        "ls /dev | tr '\\n' ' '; echo; ls /proc | grep -cE '^[0-9]+$'; echo \"$$\"; \
         echo x > /dev/null && echo null-ok; head -c 4 /dev/urandom | wc -c; \
         cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '",
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(lines[0].trim(), "full null random tty urandom zero");
    // init, the shell, and the pipeline's processes: a handful, not the host's.
    let visible: u32 = lines[1].parse().unwrap();
    assert!(visible < 10, "{visible} processes visible");
    assert_eq!(lines[2], "2", "the command is PID 2");
    assert_eq!(lines[3], "null-ok");
    assert_eq!(lines[4], "4");
    assert_eq!(&lines[5..], ["lo"]);
}

#[test]
fn runs_are_independent_and_concurrent() {
    let root = Root::new();
    let sandbox = root.sandbox();
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let sandbox: Sandbox = sandbox.clone();
            std::thread::spawn(move || sh(&sandbox, &format!("echo run {k}; exit {k}")))
        })
        .collect();
    for (k, handle) in handles.into_iter().enumerate() {
        let ran = handle.join().unwrap();
        assert_eq!(ran.outcome.exit, Exit::Code(k as i32));
        assert_eq!(ran.stdout, format!("run {k}\n"));
    }
}

#[test]
fn git_and_node_run_under_the_default_limits() {
    let root = Root::new();
    let sandbox = root
        .builder()
        .cwd("/workspace")
        .env("HOME", "/workspace")
        .build()
        .unwrap();
    let ran = sh(
        &sandbox,
        "git init -q repo && cd repo && echo hi > a && git add a && \
         git -c user.name=a -c user.email=a@b commit -qm one && git log --format=%s",
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    assert_eq!(ran.stdout, "one\n");
    let ran = run(&sandbox, &["node", "-e", "console.log(6 * 7)"]).unwrap();
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    assert_eq!(ran.stdout, "42\n");
}
