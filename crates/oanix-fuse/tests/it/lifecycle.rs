//! A mount's life: unmounted on drop (and on panic), stale mounts of a
//! killed host cleaned up, clear errors, and what the host changes seen.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use oanix_fuse::{CachePolicy, FuseError, FuseMount, MountOptions};
use oanix_prims::MemFs;
use oanix_vfs::{FileService, Namespace, write_file};

use crate::support::{Mounted, require_fuse};

/// Whether `dir` is a mount point in this process's mount table.
fn is_mounted(dir: &Path) -> bool {
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let dir = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let dir = dir.to_str().unwrap();
    table
        .lines()
        .any(|l| l.split_whitespace().nth(4) == Some(dir))
}

fn is_empty_dir(dir: &Path) -> bool {
    fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn dropping_the_mount_unmounts_it() {
    require_fuse();
    let dir = tempfile::tempdir().unwrap();
    let mount = FuseMount::mount(MemFs::new(), dir.path(), MountOptions::new()).unwrap();
    fs::write(dir.path().join("f"), "x").unwrap();
    assert!(is_mounted(dir.path()));
    assert_eq!(mount.mountpoint(), fs::canonicalize(dir.path()).unwrap());
    drop(mount);
    assert!(!is_mounted(dir.path()));
    assert!(is_empty_dir(dir.path()), "the directory is as it was");
}

#[test]
fn a_panic_unmounts_too() {
    require_fuse();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let outcome = std::panic::catch_unwind(move || {
        let _mount = FuseMount::mount(MemFs::new(), &path, MountOptions::new()).unwrap();
        fs::write(path.join("f"), "x").unwrap();
        panic!("the host fails while the mount is up");
    });
    assert!(outcome.is_err());
    assert!(!is_mounted(dir.path()));
    assert!(is_empty_dir(dir.path()));
}

#[test]
fn unmount_waits_for_the_session_and_lets_the_service_go() {
    require_fuse();
    let dir = tempfile::tempdir().unwrap();
    let mem = Arc::new(MemFs::new());
    let shared: Arc<dyn FileService> = mem.clone();
    let mount = FuseMount::mount_shared(shared, dir.path(), MountOptions::new()).unwrap();
    fs::write(dir.path().join("kept"), "by the service").unwrap();
    mount.unmount().unwrap();
    assert!(!is_mounted(dir.path()));
    assert_eq!(
        Arc::strong_count(&mem),
        1,
        "nothing of the mount holds the service"
    );
    assert_eq!(
        oanix_vfs::read_to_string(&*mem, "/kept").unwrap(),
        "by the service"
    );
}

/// The environment variable that makes this test binary the killed host.
const CHILD: &str = "OANIX_FUSE_TEST_KILLED_HOST";

/// What the killed host prints once its mount is up.
const READY: &str = "oanix-fuse-host-mounted";

/// Starts this test binary as a host that mounts on `dir`, and waits until
/// its mount is up.
fn spawn_host(dir: &Path) -> std::process::Child {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "lifecycle::a_killed_host_leaves_a_dead_mount_that_the_next_start_cleans_up",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ready = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|l| l.ends_with(READY));
    assert!(ready, "the host process mounted");
    child
}

#[test]
fn a_killed_host_leaves_a_dead_mount_that_the_next_start_cleans_up() {
    require_fuse();
    if let Some(dir) = std::env::var_os(CHILD) {
        // The host that will be killed: mount, say so, wait for the end.
        let mount = FuseMount::mount(MemFs::new(), &dir, MountOptions::new()).unwrap();
        fs::write(Path::new(&dir).join("f"), "x").unwrap();
        // On its own line's end (the harness may have begun the line).
        writeln!(std::io::stdout(), "{READY}").unwrap();
        std::io::stdout().flush().unwrap();
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        drop(mount);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut host = spawn_host(dir.path());
    host.kill().unwrap();
    host.wait().unwrap();
    let e = fs::metadata(dir.path()).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTCONN), "a dead mount: {e}");
    assert!(FuseMount::cleanup_stale(dir.path()).unwrap());
    assert!(is_empty_dir(dir.path()));
    assert!(
        !FuseMount::cleanup_stale(dir.path()).unwrap(),
        "nothing left"
    );
    // Killed again; this time the next mount cleans up by itself.
    let mut host = spawn_host(dir.path());
    host.kill().unwrap();
    host.wait().unwrap();
    let mount = FuseMount::mount(MemFs::new(), dir.path(), MountOptions::new()).unwrap();
    assert!(
        is_empty_dir(dir.path()),
        "a fresh file system, not the dead one"
    );
    drop(mount);
    assert!(!is_mounted(dir.path()));
}

#[test]
fn missing_pieces_get_one_clear_line() {
    require_fuse();
    FuseMount::check_available().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope");
    let e = FuseMount::mount(MemFs::new(), &missing, MountOptions::new()).unwrap_err();
    assert!(matches!(e, FuseError::MountpointMissing { .. }));
    assert_eq!(
        e.to_string(),
        format!(
            "mountpoint {} does not exist: create the directory first",
            missing.display()
        )
    );
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    let e = FuseMount::mount(MemFs::new(), &file, MountOptions::new()).unwrap_err();
    assert!(
        matches!(e, FuseError::MountpointNotADirectory { .. }),
        "{e}"
    );
    let e = FuseMount::mount(MemFs::new(), dir.path(), MountOptions::new().threads(0)).unwrap_err();
    assert!(
        e.to_string().starts_with("invalid mount option `threads`"),
        "{e}"
    );
    assert!(!is_mounted(dir.path()));
    for e in [
        FuseError::NoDevice,
        FuseError::FuseDisabled,
        FuseError::UnsupportedPlatform { os: "macos" },
    ] {
        let text = e.to_string();
        assert!(!text.contains('\n') && !text.ends_with('.'), "{text}");
    }
    assert!(FuseError::NoDevice.to_string().contains("modprobe fuse"));
}

#[test]
fn the_hosts_changes_are_never_hidden_by_the_kernels_cache() {
    let live = Arc::new(MemFs::new());
    let fixed = Arc::new(MemFs::new());
    write_file(&*live, "/f", "aaaa").unwrap();
    write_file(&*fixed, "/f", "aaaa").unwrap();
    let ns = Namespace::builder()
        .mount("/writable", live.clone())
        .mount("/immutable", fixed.clone())
        .build();
    let m = Mounted::new(
        ns,
        MountOptions::new().policy("/immutable", CachePolicy::Immutable),
    );
    // Writable (the default): a host's change shows at the next read, even
    // on a descriptor opened before it.
    let open = fs::File::open(m.p("writable/f")).unwrap();
    let mut buf = [0; 4];
    open.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"aaaa");
    write_file(&*live, "/f", "bbbb").unwrap();
    open.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"bbbb");
    assert_eq!(fs::read_to_string(m.p("writable/f")).unwrap(), "bbbb");
    write_file(&*live, "/new", "created by the host").unwrap();
    assert_eq!(
        fs::read_to_string(m.p("writable/new")).unwrap(),
        "created by the host"
    );
    // Immutable: attributes are cached until the host says what it changed.
    let size = |m: &Mounted| fs::metadata(m.p("immutable/f")).unwrap().len();
    assert_eq!(size(&m), 4);
    write_file(&*fixed, "/f", "a longer text").unwrap();
    assert_eq!(
        size(&m),
        4,
        "immutable attributes are served from the cache"
    );
    m.mount().invalidate("/immutable/f").unwrap();
    assert_eq!(size(&m), 13);
    assert_eq!(
        fs::read_to_string(m.p("immutable/f")).unwrap(),
        "a longer text"
    );
    // A name the host adds to a cached listing shows after invalidating it.
    let _ = fs::read_dir(m.p("immutable")).unwrap().count();
    write_file(&*fixed, "/g", "new").unwrap();
    m.mount().invalidate("/immutable/g").unwrap();
    let names: Vec<_> = fs::read_dir(m.p("immutable"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    m.mount().invalidate("/").unwrap();
    assert!(m.mount().invalidate("no\0pe").is_err());
}
