//! Abuse of resources: each one is bounded, and the whole tree is gone when the run ends.

use std::time::Duration;

use oanix_sandbox::{Exit, Limits};

use crate::support::{Root, python, sh};

#[test]
fn a_fork_bomb_is_bounded_by_the_process_limit() {
    let root = Root::new();
    let sandbox = root
        .builder()
        .limits(Limits {
            processes: 32,
            ..Limits::default()
        })
        .build()
        .unwrap();
    // Children wait on a pipe that closes only when the parent is gone.
    let ran = python(
        &sandbox,
        r#"
import os
r, w = os.pipe()
n = 0
while n <= 10000:
    try:
        pid = os.fork()
    except OSError as e:
        print(n, e.errno)
        break
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os._exit(0)
    n += 1
"#,
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    let (count, errno) = ran.stdout.trim().split_once(' ').unwrap();
    let count: u64 = count.parse().unwrap();
    // init and python count too.
    assert!(count <= 30, "{count} forks succeeded");
    assert!(count > 0);
    assert_eq!(errno, "11", "EAGAIN");
    assert_eq!(root.processes(), Vec::<u32>::new());
}

#[test]
fn a_shell_fork_bomb_ends_with_its_sandbox() {
    let root = Root::new();
    let sandbox = root
        .builder()
        .limits(Limits {
            processes: 64,
            ..Limits::default()
        })
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let ran = sh(&sandbox, "bomb() { bomb | bomb & }; bomb; wait");
    assert!(
        matches!(ran.outcome.exit, Exit::TimedOut | Exit::Code(_)),
        "{:?}",
        ran.outcome
    );
    assert_eq!(root.processes(), Vec::<u32>::new());
}

#[test]
fn a_memory_bomb_is_bounded_by_the_address_space_limit() {
    let root = Root::new();
    let sandbox = root
        .builder()
        .limits(Limits {
            address_space: 256 << 20,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let ran = python(
        &sandbox,
        r#"
chunks = []
try:
    while True:
        chunks.append(bytearray(16 << 20))
except MemoryError:
    print("bounded at", len(chunks) * 16, "MiB")
"#,
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    let mib: u64 = ran
        .stdout
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    assert!(mib < 256, "{}", ran.stdout);
}

/// A Python program that starts a daemon (fork, setsid, fork) which tells its pid through a
/// pipe and then sleeps; `then` runs after the daemon has spoken.
fn daemonise(then: &str) -> String {
    let program = r#"
import os, sys, time
r, w = os.pipe()
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.write(w, str(os.getpid()).encode())
        os.close(w)
        time.sleep(1000)
    os._exit(0)
os.close(w)
print("daemon", os.read(r, 32).decode(), flush=True)
"#;
    format!("{program}{then}\n")
}

#[test]
fn a_daemon_is_killed_when_the_timeout_kills_the_tree() {
    let root = Root::new();
    let sandbox = root
        .builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let ran = python(&sandbox, &daemonise("time.sleep(1000)"));
    assert_eq!(ran.outcome.exit, Exit::TimedOut);
    assert!(ran.stdout.starts_with("daemon "), "{}", ran.stdout);
    assert_eq!(root.processes(), Vec::<u32>::new());
}

#[test]
fn a_daemon_outliving_its_command_is_killed_with_the_sandbox() {
    let root = Root::new();
    let ran = python(&root.sandbox(), &daemonise("sys.exit(4)"));
    // The daemon still held stdout: the run ended anyway, so it was killed.
    assert_eq!(ran.outcome.exit, Exit::Code(4));
    assert!(ran.stdout.starts_with("daemon "), "{}", ran.stdout);
    assert_eq!(root.processes(), Vec::<u32>::new());
}

#[test]
fn cpu_time_file_size_and_open_files_are_limited() {
    let root = Root::new();
    let sandbox = root
        .builder()
        .limits(Limits {
            cpu_time: Duration::from_secs(1),
            file_size: 1 << 20,
            open_files: 16,
            ..Limits::default()
        })
        .build()
        .unwrap();
    let spin = sh(&sandbox, "while :; do :; done");
    assert!(
        matches!(spin.outcome.exit, Exit::Signal(24 | 9)),
        "{:?}",
        spin.outcome
    );
    let write = sh(&sandbox, "exec head -c 2000000 /dev/zero > /workspace/big");
    assert_eq!(write.outcome.exit, Exit::Signal(25), "SIGXFSZ");
    let size = std::fs::metadata(root.path().join("workspace/big"))
        .unwrap()
        .len();
    assert!(size <= 1 << 20, "{size}");
    let files = python(
        &sandbox,
        r#"
import os
fds = []
try:
    while True:
        fds.append(os.open("/dev/null", os.O_RDONLY))
except OSError as e:
    print(len(fds), e.errno)
"#,
    );
    let (count, errno) = files.stdout.trim().split_once(' ').unwrap();
    assert!(count.parse::<u32>().unwrap() < 16, "{}", files.stdout);
    assert_eq!(errno, "24", "EMFILE");
}
