//! Escape and abuse through the mounted namespace: each asserts what the
//! agent saw and that nothing outside changed.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use oanix_native::{Exit, NativeRun};
use oanix_services::LogStream;

use crate::require;
use crate::support::{Fixture, manifest, output};

/// Runs `script` and returns (exit, stdout, stderr).
fn run(fx: &Fixture, script: &str, extra: &str) -> (Exit, String, String) {
    let agent = format!("command = [\"sh\", \"-c\", {script:?}]");
    let env = fx.env(&manifest(&agent, extra));
    let outcome = NativeRun::new(&env).run().unwrap();
    (
        outcome.exit,
        output(&env, LogStream::Stdout),
        output(&env, LogStream::Stderr),
    )
}

#[test]
fn host_files_outside_the_namespace_cannot_be_read() {
    let marker = std::env::temp_dir().join(format!("oanix-native-secret-{}", std::process::id()));
    std::fs::write(&marker, "host secret").unwrap();
    let fx = Fixture::new(&[]);
    // A link planted in the real workspace before the run: followed inside
    // the sandbox, it resolves against the sandbox's root.
    std::os::unix::fs::symlink("/etc", fx.workspace().join("etc-link")).unwrap();
    std::os::unix::fs::symlink(&marker, fx.workspace().join("secret-link")).unwrap();
    let script = format!(
        r#"for p in /root /etc/shadow /etc/passwd /proc/1/root/etc/shadow \
  /proc/self/root/../../etc/shadow /proc/self/cwd/../../etc/shadow \
  {marker} /proc/1/root{marker} etc-link/shadow secret-link; do
  if cat "$p" >/dev/null 2>&1 || ls "$p/" >/dev/null 2>&1; then echo "READ $p"; fi
done
ln -s ../../../../../../etc/shadow up && cat up 2>/dev/null && echo "READ up"
ls / | tr '\n' ' '
"#,
        marker = marker.display()
    );
    let (exit, out, _) = run(&fx, &script, "");
    assert_eq!(exit, Exit::Code(0), "{out}");
    assert!(!out.contains("READ"), "{out}");
    assert!(!out.contains("host secret"), "{out}");
    // The root holds the namespace, the system paths and /proc, /dev only.
    for name in ["task", "logs", "tmp", "workspace", "usr", "proc", "dev"] {
        assert!(
            out.split(' ').any(|n| n == name),
            "{name} missing from {out}"
        );
    }
    assert!(!out.split(' ').any(|n| n == "root" || n == "home"), "{out}");
    std::fs::remove_file(&marker).unwrap();
}

#[test]
fn system_paths_are_read_only_and_privileged_calls_fail() {
    let fx = Fixture::new(&[]);
    let probe = "/usr/oanix-native-probe";
    let script = format!(
        r#"touch {probe} 2>/dev/null && echo "WROTE usr"
rm -f /bin/sh 2>/dev/null && echo "REMOVED sh"
echo x > /etc/ssl/certs/x 2>/dev/null && echo "WROTE certs"
mkdir /newdir 2>/dev/null && echo "MADE /newdir"
unshare -U true 2>/dev/null && echo "UNSHARED"
mount -t tmpfs none /tmp 2>/dev/null && echo "MOUNTED"
echo done
"#
    );
    let (exit, out, _) = run(&fx, &script, "");
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(out, "done\n");
    assert!(!std::path::Path::new(probe).exists());
    assert!(std::path::Path::new("/bin/sh").exists());
}

#[test]
fn the_hosts_loopback_is_out_of_reach() {
    require!("python3");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let reached = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&reached);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let canary = std::thread::spawn(move || {
        while !stopped.load(Ordering::SeqCst) {
            if listener.accept().is_ok() {
                flag.store(true, Ordering::SeqCst);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let fx = Fixture::new(&[]);
    let script = format!(
        "python3 -c 'import socket\ntry:\n  socket.create_connection((\"127.0.0.1\", {port}), timeout=2); print(\"CONNECTED\")\nexcept OSError as e:\n  print(\"refused\", e.errno)'"
    );
    let (exit, out, err) = run(&fx, &script, "");
    stop.store(true, Ordering::SeqCst);
    canary.join().unwrap();
    assert_eq!(exit, Exit::Code(0), "{err}");
    assert!(out.starts_with("refused"), "{out}");
    assert!(
        !reached.load(Ordering::SeqCst),
        "the canary saw a connection"
    );
}

#[test]
fn filling_tmp_or_the_workspace_layer_answers_enospc() {
    let fx = Fixture::new(&[("keep.txt", "kept\n")]);
    let script = r#"dd if=/dev/zero of=/tmp/fill bs=1M count=64 2>&1 | grep -o "No space left on device" | head -1
i=0; while [ $i -lt 64 ]; do
  msg=$(dd if=/dev/zero of=/workspace/big$i bs=1M count=1 2>&1) || { echo "full at $i"; echo "$msg" | grep -o "No space left on device" | head -1; break; }
  i=$((i+1))
done
cat keep.txt
"#;
    let (exit, out, err) = run(&fx, script, "tmp_mb = 4\noverlay_mb = 8");
    assert_eq!(exit, Exit::Code(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[0], "No space left on device");
    let full: u32 = lines[1].strip_prefix("full at ").unwrap().parse().unwrap();
    assert!(full <= 8, "{out}");
    assert_eq!(lines[2], "No space left on device");
    assert_eq!(lines[3], "kept", "what was there is still there");
    // Nothing reached the real directory.
    let names: Vec<_> = std::fs::read_dir(fx.workspace())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names, ["keep.txt"]);
}

#[test]
fn a_fork_bomb_is_bounded_and_a_daemon_dies_with_the_run() {
    let fx = Fixture::new(&[]);
    // The process limit of the whole sandbox stops the bomb; the run ends.
    let (exit, _, _) = run(
        &fx,
        "bomb() { bomb | bomb & }; bomb; sleep 1; echo survived",
        "\n[sandbox]\nprocesses = 32\n",
    );
    assert!(matches!(exit, Exit::Code(_)), "{exit:?}");
    // A grandchild that leaves the session outlives neither the timeout nor
    // the run, and cannot write after it.
    let mark = format!("{}.{}", 4000 + std::process::id() % 1000, 17);
    let script =
        format!("(setsid sh -c 'sleep {mark}; echo late > /workspace/late' &); sleep {mark}");
    let agent = format!("command = [\"sh\", \"-c\", {script:?}]");
    let env = fx.env(&manifest(&agent, ""));
    let outcome = NativeRun::new(&env)
        .timeout(Duration::from_millis(500))
        .run()
        .unwrap();
    assert_eq!(outcome.exit, Exit::TimedOut);
    let alive = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .any(|cmd| String::from_utf8_lossy(&cmd).contains(&mark));
    assert!(!alive, "a process of the run is still alive");
    assert!(!fx.workspace().join("late").exists());
}
