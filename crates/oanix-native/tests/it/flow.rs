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
