//! Escape attempts: each one fails, and nothing outside the sandbox changes.

use std::net::TcpListener;
use std::os::unix::fs::symlink;

use oanix_sandbox::{Exit, SandboxError};

use crate::support::{Canary, Root, SECRET, host_mounts, python, sh, snapshot};

/// Runs `cat` on each path inside the sandbox; returns those that could be read.
fn readable(root: &Root, paths: &[String]) -> (Vec<String>, String) {
    let script: String = paths
        .iter()
        .map(|path| format!("if cat '{path}' >/dev/null 2>&1; then echo \"READ {path}\"; fi\n"))
        .collect();
    let ran = sh(
        &root.sandbox(),
        &format!("{script}cat {} 2>/dev/null; true", paths.join(" ")),
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    let read = ran
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("READ "))
        .map(str::to_owned)
        .collect();
    (read, ran.stdout)
}

#[test]
fn host_files_outside_the_binds_cannot_be_read() {
    let root = Root::new();
    let canary = Canary::new();
    let before = snapshot(canary.path());
    let secret = canary.path().join("secret").display().to_string();
    let paths: Vec<String> = [
        "/etc/shadow",
        "/etc/passwd",
        "/root/.bashrc",
        "/proc/1/root/etc/shadow",
        "/proc/self/root/etc/shadow",
        "/proc/self/root/../../etc/shadow",
        "/proc/self/cwd/../../../etc/shadow",
        "/proc/1/cwd/../etc/shadow",
        "/../../../etc/shadow",
        "/proc/1/environ",
        "/proc/1/mem",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .chain([
        secret.clone(),
        format!("/proc/self/root{secret}"),
        format!("/proc/1/root{secret}"),
    ])
    .collect();
    let (read, output) = readable(&root, &paths);
    assert!(read.is_empty(), "read from the sandbox: {read:?}");
    assert!(!output.contains(SECRET), "{output}");
    assert!(!output.contains("root:"), "{output}");
    let ran = sh(
        &root.sandbox(),
        "ls /; ls /root 2>&1; ls /proc/1/root/ 2>&1; echo end",
    );
    assert!(
        !ran.stdout
            .lines()
            .any(|l| l == "boot" || l == "home" || l == "var"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("No such file"), "{}", ran.stdout);
    assert!(ran.stdout.contains("Permission denied"), "{}", ran.stdout);
    assert_eq!(snapshot(canary.path()), before);
}

#[test]
fn symbolic_links_resolve_inside_the_sandbox() {
    let root = Root::new();
    let canary = Canary::new();
    let before = snapshot(canary.path());
    let secret = canary.path().join("secret");
    // Planted by someone on the host before the run...
    symlink(&secret, root.path().join("workspace/planted")).unwrap();
    symlink("../../../../../../..", root.path().join("workspace/up")).unwrap();
    symlink(canary.path(), root.path().join("workspace/dir")).unwrap();
    // ... and by the command itself during it.
    let script = format!(
        "ln -s /etc/shadow /workspace/mine; ln -s {secret} /workspace/mine2; \
         for p in /workspace/planted /workspace/up{secret} /workspace/dir/secret /workspace/mine \
         /workspace/mine2; do if cat \"$p\" 2>/dev/null; then echo \"READ $p\"; fi; done; \
         echo overwrite > /workspace/dir/secret 2>/dev/null && echo WROTE; \
         ls /workspace/up/; echo end",
        secret = secret.display()
    );
    let ran = sh(&root.sandbox(), &script);
    assert!(!ran.stdout.contains("READ"), "{}", ran.stdout);
    assert!(!ran.stdout.contains(SECRET), "{}", ran.stdout);
    assert!(!ran.stdout.contains("WROTE"), "{}", ran.stdout);
    // `..` from the root is the root: the listing is the sandbox's own.
    assert!(ran.stdout.contains("workspace"), "{}", ran.stdout);
    assert!(
        !ran.stdout.lines().any(|l| l == "boot" || l == "home"),
        "{}",
        ran.stdout
    );
    assert_eq!(snapshot(canary.path()), before);
}

#[test]
fn links_planted_at_mount_points_stop_the_run_and_change_nothing() {
    let canary = Canary::new();
    let before = snapshot(canary.path());
    let mounts = host_mounts();
    // Each is a mount point: of a tool path, of one inside /etc, of /proc, of /dev.
    for planted in ["usr", "etc", "proc", "dev"] {
        let root = Root::new();
        symlink(canary.path(), root.path().join(planted)).unwrap();
        let sandbox = root.sandbox();
        let error = crate::support::run(&sandbox, &["true"]).err().unwrap();
        let text = error.to_string();
        assert!(matches!(error, SandboxError::Setup { .. }), "{text}");
        assert!(text.contains("symbolic link is in the way"), "{text}");
        assert_eq!(snapshot(canary.path()), before, "planted at {planted}");
    }
    assert_eq!(host_mounts(), mounts);
}

#[test]
fn read_only_system_paths_cannot_be_written() {
    let root = Root::new();
    let probe = "/usr/oanix-sandbox-probe";
    let ran = sh(
        &root.sandbox(),
        &format!(
            "for p in {probe} /usr/bin/oanix-probe /bin/oanix-probe /etc/ssl/certs/oanix-probe \
             /dev/oanix-probe /proc/oanix-probe; do \
             if touch \"$p\" 2>/dev/null; then echo \"WROTE $p\"; fi; done; \
             if echo x >> /usr/bin/sh 2>/dev/null; then echo WROTE sh; fi; \
             if mkdir /usr/oanix-dir 2>/dev/null; then echo WROTE dir; fi; \
             if chmod 777 /usr/bin/env 2>/dev/null; then echo WROTE mode; fi; \
             touch /usr/x 2>&1; echo end"
        ),
    );
    assert!(!ran.stdout.contains("WROTE"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("Read-only file system"),
        "{}",
        ran.stdout
    );
    assert!(!std::path::Path::new(probe).exists());
    assert!(!std::path::Path::new("/usr/bin/oanix-probe").exists());
    assert!(!std::path::Path::new("/usr/oanix-dir").exists());
}

#[test]
fn mount_unshare_and_ptrace_are_refused() {
    let root = Root::new();
    let mounts = host_mounts();
    let ran = sh(
        &root.sandbox(),
        "mount -t tmpfs none /tmp 2>/dev/null && echo MOUNTED; \
         unshare -r true 2>/dev/null && echo UNSHARED; \
         unshare -m true 2>/dev/null && echo UNSHARED-M; \
         umount /proc 2>/dev/null && echo UMOUNTED; echo end",
    );
    assert_eq!(ran.stdout, "end\n");
    let ran = python(
        &root.sandbox(),
        "import ctypes, os\n\
         libc = ctypes.CDLL(None, use_errno=True)\n\
         def errno(ret):\n    return ctypes.get_errno() if ret != 0 else 0\n\
         print('mount', errno(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)))\n\
         print('umount', errno(libc.umount2(b'/proc', 2)))\n\
         print('unshare', errno(libc.unshare(0x10000000)))\n\
         print('unshare-net', errno(libc.unshare(0x40000000)))\n\
         print('chroot', errno(libc.chroot(b'/tmp')))\n\
         print('attach', errno(libc.ptrace(16, 1, 0, 0)))\n\
         print('traceme', errno(libc.ptrace(0, 0, 0, 0)))\n\
         print('keyctl', errno(libc.syscall(250, 0, 0, 0, 0)))\n\
         print('bpf', errno(libc.syscall(321, 0, 0, 0)))\n\
         pid = os.fork()\n\
         if pid == 0:\n    os._exit(7)\n\
         print('fork', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n",
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    let lines: Vec<&str> = ran.stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "mount 1",
            "umount 1",
            "unshare 1",
            "unshare-net 1",
            "chroot 1",
            "attach 1",
            "traceme 1",
            "keyctl 1",
            "bpf 1",
            "fork 7",
        ],
        "{}",
        ran.stderr
    );
    assert_eq!(host_mounts(), mounts);
}

#[test]
fn the_host_network_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = Root::new();
    let ran = python(
        &root.sandbox(),
        &format!(
            "import socket\n\
             for host, port in [('127.0.0.1', {port}), ('1.1.1.1', 80)]:\n    \
                 s = socket.socket()\n    s.settimeout(10)\n    \
                 try:\n        s.connect((host, port)); print('CONNECTED', host)\n    \
                 except OSError as e:\n        print('failed', host, e.errno)\n\
             try:\n    socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM); print('VSOCK')\n\
             except OSError as e:\n    print('vsock', e.errno)\n\
             print(sorted(name for _, name in socket.if_nameindex()))\n"
        ),
    );
    assert_eq!(ran.outcome.exit, Exit::Code(0), "{}", ran.stderr);
    assert_eq!(
        ran.stdout, "failed 127.0.0.1 111\nfailed 1.1.1.1 101\nvsock 97\n['lo']\n",
        "{}",
        ran.stderr
    );
    listener.set_nonblocking(true).unwrap();
    let accepted = listener.accept();
    assert!(
        matches!(&accepted, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the canary server was reached: {accepted:?}"
    );
}

#[test]
fn killing_everything_inside_reaches_nothing_outside() {
    let mut bystander = std::process::Command::new("sleep")
        .arg("1000")
        .spawn()
        .unwrap();
    let root = Root::new();
    let ran = sh(&root.sandbox(), "kill -KILL -1; echo survived");
    // The shell kills every process it may signal in the sandbox, itself included.
    assert!(
        matches!(ran.outcome.exit, Exit::Signal(9) | Exit::Code(0)),
        "{:?}",
        ran.outcome
    );
    assert!(
        bystander.try_wait().unwrap().is_none(),
        "a host process was killed"
    );
    bystander.kill().unwrap();
    bystander.wait().unwrap();
}
