//! Benchmark: how long a sandbox takes to start and finish `/bin/true`, beside bubblewrap
//! (`bwrap`, with the same read-only binds, its own `/proc` and `/dev`, every namespace) and
//! `unshare -Urmpf --mount-proc` (namespaces and `/proc` only), measured in the same run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark setup and report"
)]

use std::path::Path;
use std::process::{Command as HostCommand, Stdio};

use oanix_bench::{Stats, Table, format_ns, measure_each};
use oanix_sandbox::{Command, Identity, Sandbox, TOOL_PATHS};

/// Runs per subject.
const RUNS: usize = 200;

/// The p50 the sandbox's start should stay under.
const TARGET_MS: f64 = 10.0;

/// Whether `program` can be started.
fn available(program: &str, arg: &str) -> bool {
    HostCommand::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// bwrap's arguments for the same view: each tool path bound read-only, or re-created as
/// the symbolic link it is on the host.
fn bwrap_args() -> Vec<String> {
    let mut args: Vec<String> = ["--unshare-all", "--die-with-parent", "--new-session"]
        .map(str::to_owned)
        .to_vec();
    for path in TOOL_PATHS {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            continue;
        };
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(path).unwrap();
            args.extend([
                "--symlink".into(),
                target.display().to_string(),
                (*path).to_owned(),
            ]);
        } else {
            args.extend(["--ro-bind".into(), (*path).to_owned(), (*path).to_owned()]);
        }
    }
    args.extend(["--proc", "/proc", "--dev", "/dev", "/bin/true"].map(str::to_owned));
    args
}

fn run_host(program: &str, args: &[String]) {
    let status = HostCommand::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "{program} failed: {status}");
}

fn main() {
    let root = tempfile::tempdir().unwrap();
    let identity = Identity::for_caller();
    std::os::unix::fs::chown(
        root.path(),
        Some(identity.host_uid),
        Some(identity.host_gid),
    )
    .unwrap();
    let sandbox = Sandbox::builder()
        .root(root.path())
        .tool_paths()
        .build()
        .unwrap();
    let ours = measure_each(RUNS, |_| {
        let outcome = sandbox.run(Command::new("/bin/true")).unwrap();
        assert!(outcome.exit.is_success());
    });
    let bwrap: Option<Stats> = available("bwrap", "--version").then(|| {
        let args = bwrap_args();
        measure_each(RUNS, |_| run_host("bwrap", &args))
    });
    let unshare_args: Vec<String> = ["-Urmpf", "--mount-proc", "/bin/true"]
        .map(str::to_owned)
        .to_vec();
    let unshare: Option<Stats> = (available("unshare", "--version")
        && Path::new("/bin/true").exists())
    .then(|| measure_each(RUNS, |_| run_host("unshare", &unshare_args)));

    let mut table = Table::new(
        "sandbox start: run /bin/true and wait for the end",
        &["oanix-sandbox", "bwrap", "unshare -Urmpf"],
    );
    table.row("start /bin/true", vec![Some(ours), bwrap, unshare]);
    let p50_ms = ours.median_ns / 1e6;
    table.note(format!(
        "Target: p50 ≤ {TARGET_MS} ms for oanix-sandbox; measured {} ({}).",
        format_ns(ours.median_ns),
        if p50_ms <= TARGET_MS { "met" } else { "missed" }
    ));
    table.note(
        "oanix-sandbox and bwrap both build user, mount, PID, IPC, UTS, network (and, for \
         oanix-sandbox, cgroup) namespaces with the same read-only binds, a new /proc and a \
         minimal /dev; oanix-sandbox also drops capabilities, installs its seccomp filter and \
         sets rlimits. unshare only makes the namespaces and mounts /proc.",
    );
    if bwrap.is_none() {
        table.note("bwrap is not installed: its column is empty.");
    }
    table.print();
}
