//! The seed's flow with a shell agent: read the task, edit the
//! copy-on-write workspace, print, answer; the host reviews and commits.

use oanix_env::EnvStatus;
use oanix_native::{Exit, NativeRun};
use oanix_services::LogStream;

use crate::support::{Fixture, manifest, output};

const AGENT: &str = r#"command = ["sh", "-c", """
set -e
test "$(pwd)" = /workspace
spec=$(cat /task/spec.json)
echo "task: $spec"
file=$(sed -n 's/.*"file": *"\\([^"]*\\)".*/\\1/p' /task/spec.json)
sed -i 's/hello/good morning/' "$file"
echo "new file" > added.txt
rm obsolete.txt
echo "edited $file" >&2
printf '{"ok": true, "file": "%s"}' "$file" > /task/result.json
"""]"#;

#[test]
fn a_shell_agent_does_the_seed_flow_and_the_host_commits() {
    let fx = Fixture::new(&[("greet.txt", "hello world\n"), ("obsolete.txt", "old\n")]);
    let env = fx.env(&manifest(AGENT, ""));
    let outcome = NativeRun::new(&env).run().unwrap();
    let stdout = output(&env, LogStream::Stdout);
    let stderr = output(&env, LogStream::Stderr);
    assert_eq!(
        outcome.exit,
        Exit::Code(0),
        "stdout {stdout}\nstderr {stderr}"
    );
    assert!(
        stdout.contains(r#""id":"fix-1""#) || stdout.contains(r#""id": "fix-1""#),
        "{stdout}"
    );
    assert_eq!(stderr, "edited greet.txt\n");
    assert_eq!(env.status(), EnvStatus::Completed { exit_code: 0 });
    let task = env.task().unwrap();
    assert_eq!(
        task.result().unwrap(),
        Some(serde_json::json!({"ok": true, "file": "greet.txt"}))
    );
    // Nothing reached the real directory yet.
    let ws = fx.workspace();
    assert_eq!(
        std::fs::read_to_string(ws.join("greet.txt")).unwrap(),
        "hello world\n"
    );
    assert!(ws.join("obsolete.txt").exists());
    assert!(!ws.join("added.txt").exists());
    // The host reviews the changes and commits them.
    let review = env.workspace().unwrap();
    let mut changed: Vec<String> = review
        .changes()
        .unwrap()
        .into_iter()
        .map(|c| c.path)
        .collect();
    changed.sort();
    assert_eq!(changed, ["/added.txt", "/greet.txt", "/obsolete.txt"]);
    assert!(review.diff().unwrap().contains("+good morning world"));
    review.commit().unwrap();
    assert_eq!(
        std::fs::read_to_string(ws.join("greet.txt")).unwrap(),
        "good morning world\n"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("added.txt")).unwrap(),
        "new file\n"
    );
    assert!(!ws.join("obsolete.txt").exists());
    // The end of the run is in the events, with its exit code.
    let events = output(&env, LogStream::Events);
    assert!(events.contains("native run finished"), "{events}");
    // No mount is left behind.
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&format!("oanix-{}", env.id())), "{mounts}");
}

#[test]
fn exit_codes_signals_and_timeouts_reach_the_status() {
    let fx = Fixture::new(&[]);
    let env = fx.env(&manifest(r#"command = ["sh", "-c", "exit 7"]"#, ""));
    let outcome = NativeRun::new(&env).run().unwrap();
    assert_eq!(outcome.exit, Exit::Code(7));
    assert_eq!(env.status(), EnvStatus::Completed { exit_code: 7 });
    assert!(
        env.task()
            .unwrap()
            .status()
            .error
            .unwrap()
            .contains("code 7")
    );

    let env = fx.env(&manifest(r#"command = ["sh", "-c", "kill -9 $$"]"#, ""));
    let outcome = NativeRun::new(&env).run().unwrap();
    assert_eq!(outcome.exit, Exit::Signal(9));
    assert_eq!(outcome.shell_code(), 137);
    match env.status() {
        EnvStatus::Failed { error } => assert!(error.contains("SIGKILL"), "{error}"),
        other => panic!("{other:?}"),
    }

    let env = fx.env(&manifest(r#"command = ["sleep", "30"]"#, ""));
    let outcome = NativeRun::new(&env)
        .timeout(std::time::Duration::from_millis(300))
        .run()
        .unwrap();
    assert_eq!(outcome.exit, Exit::TimedOut);
    match env.status() {
        EnvStatus::Failed { error } => assert!(error.contains("out of time"), "{error}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn output_reaches_the_logs_while_the_agent_runs() {
    let fx = Fixture::new(&[]);
    // The agent reads its own log back through the mount while it runs.
    let env = fx.env(&manifest(
        r#"command = ["sh", "-c", "echo first; sleep 0.3; grep -c first /logs/stdout.log >&2"]"#,
        "",
    ));
    let outcome = NativeRun::new(&env).run().unwrap();
    assert_eq!(outcome.exit, Exit::Code(0));
    assert_eq!(output(&env, LogStream::Stderr), "1\n");
}

/// Not a test by itself: with `OANIX_NATIVE_CHILD` set, starts a long run
/// for `a_killed_hosts_dead_mount_is_removed_by_the_next_run` to kill.
#[test]
fn child_process_for_the_stale_mount_test() {
    let Some(dir) = std::env::var_os("OANIX_NATIVE_CHILD") else {
        return;
    };
    let fx = Fixture::new(&[]);
    let env = fx.env(&manifest(
        r#"command = ["sh", "-c", "echo started; sleep 600"]"#,
        "",
    ));
    // Written whole, then renamed: the reader never sees a part of it.
    let dir = std::path::Path::new(&dir);
    std::fs::write(dir.join("env.part"), env.id().to_string()).unwrap();
    std::fs::rename(dir.join("env.part"), dir.join("env")).unwrap();
    let _ = NativeRun::new(&env).run();
}

#[test]
fn a_killed_hosts_dead_mount_is_removed_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "flow::child_process_for_the_stale_mount_test",
            "--test-threads=1",
        ])
        .env("OANIX_NATIVE_CHILD", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the child's namespace is mounted.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let env_id = loop {
        let mounted = std::fs::read_to_string(dir.path().join("env"))
            .ok()
            .filter(|id| {
                std::fs::read_to_string("/proc/self/mountinfo")
                    .unwrap()
                    .contains(&format!("oanix-{id}"))
            });
        if let Some(id) = mounted {
            break id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child never mounted"
        );
        std::thread::yield_now();
    };
    let child_pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        mountinfo.contains(&format!("oanix-{env_id}")),
        "the dead mount is there"
    );
    // The kernel ends the connection once every process holding the FUSE
    // device has gone (a sandbox init cloned just before the kill may hold
    // it a moment longer): wait, bounded, until the mount answers ENOTCONN.
    let point = mountinfo
        .lines()
        .find(|l| l.contains(&format!("oanix-{env_id}")))
        .and_then(|l| l.split(' ').nth(4))
        .unwrap()
        .to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // (Or another test's run has removed it already: ENOENT.)
    while !matches!(
        std::fs::metadata(&point)
            .err()
            .and_then(|e| e.raw_os_error()),
        Some(libc::ENOTCONN | libc::ENOENT)
    ) {
        assert!(
            std::time::Instant::now() < deadline,
            "the mount never died: {:?}",
            std::fs::metadata(&point).map(|m| m.len())
        );
        std::thread::yield_now();
    }
    // The next run removes it before it mounts its own.
    let fx = Fixture::new(&[]);
    let env = fx.env(&manifest(r#"command = ["true"]"#, ""));
    let outcome = NativeRun::new(&env).run().unwrap();
    assert!(outcome.exit.is_success());
    // (Another test's run may have been the one to remove it, and noted it.)
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&format!("oanix-{env_id}")),
        "child {child_pid}, me {}: {mountinfo}",
        std::process::id()
    );
}
