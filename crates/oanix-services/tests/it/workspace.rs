//! WorkspaceFs: the conformance suite on a real directory, and the
//! adversarial suite — every attack paired with a positive control, a canary
//! outside the workspace checked after every case, each run on the bare
//! workspace (which reports links), on the workspace following its own
//! links, and on a namespace holding it.

use std::collections::BTreeSet;
use std::os::unix::fs::{OpenOptionsExt as _, symlink};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use oanix_conformance::{Fixture, check_read_only, check_writable};
use oanix_prims::CowFs;
use oanix_services::WorkspaceFs;
use oanix_vfs::links::Follow;
use oanix_vfs::{
    FileService, FsError, FsErrorKind, Namespace, OpenFlags, read_file, read_to_string, write_file,
};

// ---------------------------------------------------------------- conformance

/// Fresh, empty directories below one temporary root, for `check_writable`.
struct Dirs {
    root: tempfile::TempDir,
    next: AtomicUsize,
}

impl Dirs {
    fn new() -> Self {
        Self {
            root: tempfile::tempdir().unwrap(),
            next: AtomicUsize::new(0),
        }
    }
    fn fresh(&self) -> PathBuf {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let dir = self.root.path().join(format!("ws{n}"));
        std::fs::create_dir(&dir).unwrap();
        dir
    }
}

#[test]
fn workspacefs_is_writable() {
    let dirs = Dirs::new();
    check_writable(|| WorkspaceFs::new(dirs.fresh()).unwrap());
}

#[test]
fn cowfs_over_readonly_workspacefs_is_writable() {
    let dirs = Dirs::new();
    check_writable(|| CowFs::new(WorkspaceFs::readonly(dirs.fresh()).unwrap()));
}

#[test]
fn readonly_workspacefs_is_read_only() {
    let dirs = Dirs::new();
    let dir = dirs.fresh();
    let fixture = Fixture::standard();
    fixture.populate(&WorkspaceFs::new(&dir).unwrap()).unwrap();
    check_read_only(&WorkspaceFs::readonly(&dir).unwrap(), &fixture);
}

#[test]
fn cowfs_over_workspacefs_leaves_the_directory_untouched() {
    let dirs = Dirs::new();
    let dir = dirs.fresh();
    std::fs::write(dir.join("kept.txt"), "original").unwrap();
    let cow = CowFs::new(WorkspaceFs::readonly(&dir).unwrap());
    write_file(&cow, "/kept.txt", "changed").unwrap();
    write_file(&cow, "/new.txt", "new").unwrap();
    cow.remove("/kept.txt").unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("kept.txt")).unwrap(),
        "original"
    );
    assert!(!dir.join("new.txt").exists());
    assert_eq!(cow.changes().unwrap().len(), 2);
}

// ------------------------------------------------------------------- arena

const SECRET: &[u8] = b"the canary's secret: 7f3a9c2e";

/// A temporary root holding the workspace and, beside it, the canary: a
/// secret file and an empty directory that no case may read, change or add to.
struct Arena {
    _root: tempfile::TempDir,
    root: PathBuf,
    ws: PathBuf,
    outside: PathBuf,
}

impl Arena {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let ws = root.join("ws");
        let outside = root.join("outside");
        std::fs::create_dir(&ws).unwrap();
        std::fs::create_dir(&outside).unwrap();
        std::fs::create_dir(outside.join("empty")).unwrap();
        std::fs::write(outside.join("secret.txt"), SECRET).unwrap();
        // Positive controls: real content and links that stay inside.
        std::fs::create_dir(ws.join("sub")).unwrap();
        std::fs::write(ws.join("sub/file.txt"), "inside").unwrap();
        symlink("sub", ws.join("inner_dir")).unwrap();
        symlink("sub/file.txt", ws.join("inner_file")).unwrap();
        symlink("../sub/file.txt", ws.join("sub/up_and_back")).unwrap();
        symlink("inner_dir/file.txt", ws.join("chained_inside")).unwrap();
        // Attacks planted by the host.
        symlink(&outside, ws.join("abs")).unwrap();
        symlink("../outside", ws.join("rel")).unwrap();
        symlink("../outside/secret.txt", ws.join("rel_file")).unwrap();
        symlink("chain2", ws.join("chain1")).unwrap();
        symlink("../outside", ws.join("chain2")).unwrap();
        symlink("../outside/created_by_agent", ws.join("dangling")).unwrap();
        symlink("../outside/", ws.join("trailing_slash")).unwrap();
        symlink("../outside/empty/..", ws.join("trailing_dotdot")).unwrap();
        symlink("sub/../../outside", ws.join("through_sub")).unwrap();
        symlink("loop2", ws.join("loop1")).unwrap();
        symlink("loop1", ws.join("loop2")).unwrap();
        symlink("self_loop", ws.join("self_loop")).unwrap();
        symlink("/proc/self/root", ws.join("proc_root")).unwrap();
        symlink("/proc/self/cwd", ws.join("proc_cwd")).unwrap();
        symlink("/", ws.join("slash")).unwrap();
        symlink("../../../../../../../../", ws.join("deep_up")).unwrap();
        symlink("../../outside/secret.txt", ws.join("sub/nested_out")).unwrap();
        // Looks like an escape, but from `sub` it lands inside (and dangles).
        symlink("../outside/secret.txt", ws.join("sub/fake_out")).unwrap();
        Self {
            _root: tmp,
            root,
            ws,
            outside,
        }
    }

    /// Panics if anything outside the workspace changed.
    fn check_canary(&self, case: &str) {
        let secret = std::fs::read(self.outside.join("secret.txt"))
            .unwrap_or_else(|e| panic!("{case}: the secret is gone: {e}"));
        assert_eq!(secret, SECRET, "{case}: the secret changed");
        let names: BTreeSet<String> = std::fs::read_dir(&self.outside)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let expected: BTreeSet<String> = ["empty", "secret.txt"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(names, expected, "{case}: something was added outside");
        assert_eq!(
            std::fs::read_dir(self.outside.join("empty"))
                .unwrap()
                .count(),
            0,
            "{case}: the empty directory outside is not empty"
        );
        let top: BTreeSet<String> = std::fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        let allowed = ["outside", "ws", "ws-moved"];
        assert!(
            top.iter().all(|n| allowed.contains(&n.as_str())),
            "{case}: something was added beside the workspace: {top:?}"
        );
    }
}

/// The attack paths: every way out we know, through paths and planted links.
fn attacks() -> Vec<String> {
    let mut v: Vec<String> = [
        "/../outside/secret.txt",
        "../outside/secret.txt",
        "/sub/../../outside/secret.txt",
        "/./../outside",
        "//..//outside//secret.txt",
        "/sub/./../../outside/empty",
        "/..",
        "/abs",
        "/abs/secret.txt",
        "/abs/empty",
        "/abs/new_file",
        "/rel",
        "/rel/",
        "/rel/.",
        "/rel/secret.txt",
        "/rel/secret.txt/",
        "/rel/secret.txt/.",
        "/rel/empty/x",
        "/rel_file",
        "/chain1",
        "/chain1/secret.txt",
        "/dangling",
        "/trailing_slash",
        "/trailing_slash/secret.txt",
        "/trailing_dotdot",
        "/trailing_dotdot/secret.txt",
        "/through_sub/secret.txt",
        "/loop1",
        "/loop1/x",
        "/self_loop",
        "/proc_root",
        "/proc_root/etc/passwd",
        "/proc_cwd",
        "/slash/etc/passwd",
        "/deep_up/etc/passwd",
        "/sub/nested_out",
        "/a\0b",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push(format!("/{}", "x".repeat(300)));
    v.push(format!("/rel/{}", "x".repeat(300)));
    v
}

/// Every operation an agent has, on `p` (and on `p` paired with an inside
/// path, `inside`, for both ends of rename and link). Returns what was
/// read, if anything.
fn every_operation(
    fs: &dyn FileService,
    p: &str,
    inside: &str,
) -> Vec<(String, Result<Vec<u8>, FsErrorKind>)> {
    let mut out = Vec::new();
    let mut record = |name: &str, r: Result<Vec<u8>, FsErrorKind>| out.push((name.to_owned(), r));
    let read_all = |flags: OpenFlags| -> Result<Vec<u8>, FsErrorKind> {
        let mut h = fs.open(p, flags).map_err(|e| e.kind())?;
        let mut buf = vec![0u8; 4096];
        let n = h.read(&mut buf).unwrap_or(0);
        buf.truncate(n);
        Ok(buf)
    };
    record("open read", read_all(OpenFlags::read_only()));
    record("open read dir", read_all(OpenFlags::directory()));
    for (name, flags) in [
        ("open write", OpenFlags::write_only()),
        ("open read-write", OpenFlags::read_write()),
        ("open create", OpenFlags::read_write().with_create(true)),
        (
            "open create_new",
            OpenFlags::write_only().with_create_new(true),
        ),
        ("open truncate", OpenFlags::create_truncate()),
        ("open append", OpenFlags::append_create()),
    ] {
        let r = fs.open(p, flags).map_err(|e| e.kind()).map(|mut h| {
            let _ = h.write(b"pwned");
            let _ = h.set_len(1);
            let mut buf = vec![0u8; 4096];
            let n = h.read_at(&mut buf, 0).unwrap_or(0);
            buf.truncate(n);
            buf
        });
        record(name, r);
    }
    record(
        "stat",
        fs.stat(p)
            .map(|m| m.size.to_string().into_bytes())
            .map_err(|e| e.kind()),
    );
    record(
        "readdir",
        fs.readdir(p)
            .map(|es| {
                es.into_iter()
                    .map(|e| e.name)
                    .collect::<Vec<_>>()
                    .join(",")
                    .into_bytes()
            })
            .map_err(|e| e.kind()),
    );
    record(
        "mkdir",
        fs.mkdir(p).map(|()| Vec::new()).map_err(|e| e.kind()),
    );
    record(
        "remove",
        fs.remove(p).map(|()| Vec::new()).map_err(|e| e.kind()),
    );
    record(
        "lstat",
        fs.lstat(p)
            .map(|m| m.size.to_string().into_bytes())
            .map_err(|e| e.kind()),
    );
    record(
        "readlink",
        fs.readlink(p).map(String::into_bytes).map_err(|e| e.kind()),
    );
    let control = format!("{inside}/sub/file.txt");
    record(
        "link from",
        fs.link(p, &format!("{inside}/linked_here"))
            .map(|()| Vec::new())
            .map_err(|e| e.kind()),
    );
    record(
        "link to",
        fs.link(&control, p)
            .map(|()| Vec::new())
            .map_err(|e| e.kind()),
    );
    record(
        "symlink at",
        fs.symlink("/", p)
            .map(|()| Vec::new())
            .map_err(|e| e.kind()),
    );
    record(
        "rename to",
        fs.rename(&control, p)
            .map(|()| Vec::new())
            .map_err(|e| e.kind()),
    );
    record(
        "rename from",
        fs.rename(p, &format!("{inside}/renamed_here"))
            .map(|()| Vec::new())
            .map_err(|e| e.kind()),
    );
    record(
        "set_times",
        fs.set_times(p, None, Some(oanix_vfs::Timestamp(1)))
            .map(|()| Vec::new())
            .map_err(|e| e.kind()),
    );
    out
}

/// The three ways an agent meets the workspace: bare (links reported, not
/// followed), following its own links (its root as `/`), and mounted in a
/// namespace at `/workspace` beside other mounts.
fn views(ws: &std::path::Path) -> Vec<(&'static str, Box<dyn FileService>, &'static str)> {
    let decoys = oanix_prims::MemFs::new();
    write_file(&decoys, "/passwd", "the namespace's passwd").unwrap();
    let ns = Namespace::builder()
        .mount("/workspace", WorkspaceFs::new(ws).unwrap())
        .mount("/etc", decoys)
        .build();
    vec![
        ("bare", Box::new(WorkspaceFs::new(ws).unwrap()), ""),
        (
            "followed",
            Box::new(Follow(WorkspaceFs::new(ws).unwrap())),
            "",
        ),
        ("namespace", Box::new(ns), "/workspace"),
    ]
}

/// `attack` below `prefix` (a relative attack stays relative to it).
fn under(prefix: &str, attack: &str) -> String {
    if prefix.is_empty() {
        attack.to_owned()
    } else if attack.starts_with('/') {
        format!("{prefix}{attack}")
    } else {
        format!("{prefix}/{attack}")
    }
}

#[test]
fn no_attack_escapes_bare_followed_or_in_a_namespace() {
    for attack in attacks() {
        for view in ["bare", "followed", "namespace"] {
            // Each case starts from the same planted state.
            let arena = Arena::new();
            let (_, fs, prefix) = views(&arena.ws)
                .into_iter()
                .find(|(name, _, _)| *name == view)
                .unwrap();
            let case = format!("{view} {attack}");
            let results = every_operation(fs.as_ref(), &under(prefix, &attack), prefix);
            arena.check_canary(&case);
            for (op, result) in &results {
                if let Ok(data) = result {
                    assert!(
                        !data.windows(SECRET.len()).any(|w| w == SECRET),
                        "{case}: {op} returned the secret"
                    );
                }
            }
        }
    }
}

#[test]
fn outward_links_are_reported_bare_and_lead_nowhere_when_followed() {
    let arena = Arena::new();
    let fs = WorkspaceFs::new(&arena.ws).unwrap();
    let followed = Follow(WorkspaceFs::new(&arena.ws).unwrap());
    for (p, link, target) in [
        ("/abs", "/abs", arena.outside.to_string_lossy().into_owned()),
        (
            "/abs/secret.txt",
            "/abs",
            arena.outside.to_string_lossy().into_owned(),
        ),
        ("/rel/secret.txt", "/rel", "../outside".to_owned()),
        ("/rel_file", "/rel_file", "../outside/secret.txt".to_owned()),
        ("/chain1/secret.txt", "/chain1", "chain2".to_owned()),
        (
            "/trailing_slash/secret.txt",
            "/trailing_slash",
            "../outside/".to_owned(),
        ),
        (
            "/trailing_dotdot/secret.txt",
            "/trailing_dotdot",
            "../outside/empty/..".to_owned(),
        ),
        (
            "/through_sub/secret.txt",
            "/through_sub",
            "sub/../../outside".to_owned(),
        ),
        (
            "/proc_root/etc/passwd",
            "/proc_root",
            "/proc/self/root".to_owned(),
        ),
        ("/slash/etc/passwd", "/slash", "/".to_owned()),
        (
            "/deep_up/etc/passwd",
            "/deep_up",
            "../../../../../../../../".to_owned(),
        ),
        (
            "/sub/nested_out",
            "/sub/nested_out",
            "../../outside/secret.txt".to_owned(),
        ),
    ] {
        // Bare: the first link on the way, for the namespace to follow.
        match fs.stat(p).unwrap_err() {
            FsError::Symlink {
                path, target: t, ..
            } => assert_eq!((path.as_str(), t.as_str()), (link, target.as_str()), "{p}"),
            e => panic!("stat {p}: {e}"),
        }
        let e = fs.open(p, OpenFlags::read_only()).err().unwrap();
        assert_eq!(e.kind(), FsErrorKind::Symlink, "open {p}: {e}");
        // Followed: resolved beneath the workspace's own root, where none of
        // these exists.
        let e = followed.stat(p).unwrap_err();
        assert!(
            matches!(e.kind(), FsErrorKind::NotFound | FsErrorKind::Loop),
            "followed stat {p}: {e}"
        );
        let e = followed.open(p, OpenFlags::read_only()).err().unwrap();
        assert!(
            matches!(e.kind(), FsErrorKind::NotFound | FsErrorKind::Loop),
            "followed open {p}: {e}"
        );
    }
    // `..` above the root in a path is an escape, naming the virtual path.
    let e = fs.stat("/../outside/secret.txt").unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::Escape);
    let host = arena.root.to_string_lossy().into_owned();
    assert!(!e.to_string().contains(&host), "{e}");
    // The look-alike that stays inside is an ordinary dangling link.
    assert_eq!(
        followed.stat("/sub/fake_out").unwrap_err().kind(),
        FsErrorKind::NotFound
    );
    // Creating through a dangling outward link creates nothing outside.
    let e = followed
        .open("/dangling", OpenFlags::create_truncate())
        .err()
        .unwrap();
    assert_eq!(
        e.kind(),
        FsErrorKind::NotFound,
        "create through /dangling: {e}"
    );
    arena.check_canary("outward links");
}

#[test]
fn positive_controls_links_that_stay_inside_work() {
    let arena = Arena::new();
    let fs = Follow(WorkspaceFs::new(&arena.ws).unwrap());
    assert_eq!(read_to_string(&fs, "/sub/file.txt").unwrap(), "inside");
    assert_eq!(read_to_string(&fs, "/inner_file").unwrap(), "inside");
    assert_eq!(
        read_to_string(&fs, "/inner_dir/file.txt").unwrap(),
        "inside"
    );
    assert_eq!(read_to_string(&fs, "/sub/up_and_back").unwrap(), "inside");
    assert_eq!(read_to_string(&fs, "/chained_inside").unwrap(), "inside");
    assert!(fs.stat("/inner_dir").unwrap().is_dir());
    write_file(&fs, "/inner_dir/written.txt", "via link").unwrap();
    assert_eq!(
        std::fs::read_to_string(arena.ws.join("sub/written.txt")).unwrap(),
        "via link"
    );
    // `..` inside the workspace is fine as long as it stays inside.
    assert_eq!(
        read_to_string(&fs, "/sub/../sub/file.txt").unwrap(),
        "inside"
    );
    // Listings show links as links.
    let entries = fs.readdir("/").unwrap();
    let kind = |n: &str| entries.iter().find(|e| e.name == n).unwrap().kind;
    assert_eq!(kind("inner_dir"), oanix_vfs::FileKind::Symlink);
    assert_eq!(kind("inner_file"), oanix_vfs::FileKind::Symlink);
    assert_eq!(kind("rel"), oanix_vfs::FileKind::Symlink);
    assert_eq!(kind("sub"), oanix_vfs::FileKind::Directory);
    // Removing an outward link removes the link, not what it points to.
    fs.remove("/rel").unwrap();
    assert!(!arena.ws.join("rel").exists() && arena.outside.exists());
    arena.check_canary("positive controls");
}

#[test]
fn fifos_and_sockets_are_refused_not_waited_on() {
    let arena = Arena::new();
    let fifo = arena.ws.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let _listener = std::os::unix::net::UnixListener::bind(arena.ws.join("sock")).unwrap();
    let fs = WorkspaceFs::new(&arena.ws).unwrap();
    for p in ["/fifo", "/sock"] {
        for flags in [
            OpenFlags::read_only(),
            OpenFlags::write_only(),
            OpenFlags::append_create(),
        ] {
            let e = fs.open(p, flags).err().unwrap();
            assert_eq!(
                e.kind(),
                FsErrorKind::PermissionDenied,
                "{p} {flags:?}: {e}"
            );
        }
        // Still visible, as what they are.
        assert_eq!(fs.stat(p).unwrap().kind, oanix_vfs::FileKind::Other);
    }
    // Control: a regular file beside them opens.
    write_file(&fs, "/regular", "ok").unwrap();
    assert_eq!(read_file(&fs, "/regular").unwrap(), b"ok");
    arena.check_canary("fifo");
}

/// Waits (without sleeping) until the thread `tid` of this process is
/// blocked in `openat(2)`.
fn wait_until_blocked_in_open(tid: &str) {
    // The system call number of openat.
    let openat = if cfg!(target_arch = "aarch64") {
        "56"
    } else {
        "257"
    };
    let path = format!("/proc/self/task/{tid}/syscall");
    loop {
        let now = std::fs::read_to_string(&path).unwrap();
        if now.split_whitespace().next() == Some(openat) {
            return;
        }
        std::thread::yield_now();
    }
}

#[test]
fn a_refused_fifo_open_does_not_wake_a_blocked_writer() {
    let arena = Arena::new();
    let fifo = arena.ws.join("fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let fs = WorkspaceFs::new(&arena.ws).unwrap();
    // A host writer blocks in open(2) until a reader opens the FIFO.
    let host_reader = Arc::new(AtomicBool::new(false));
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let writer = {
        let fifo = fifo.clone();
        let host_reader = Arc::clone(&host_reader);
        std::thread::spawn(move || {
            let me = std::fs::read_link("/proc/thread-self").unwrap();
            let tid = me.file_name().unwrap().to_string_lossy().into_owned();
            tid_tx.send(tid).unwrap();
            let _w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            // Woken by whom? Only the host's own reader may have done it.
            host_reader.load(Ordering::SeqCst)
        })
    };
    let tid = tid_rx.recv().unwrap();
    wait_until_blocked_in_open(&tid);
    for flags in [OpenFlags::read_only(), OpenFlags::read_write()] {
        let e = fs.open("/fifo", flags).err().unwrap();
        assert_eq!(e.kind(), FsErrorKind::PermissionDenied, "{flags:?}: {e}");
    }
    // Still blocked: the refused opens touched nothing. Now the host opens
    // it for reading, which releases the writer.
    host_reader.store(true, Ordering::SeqCst);
    // (Non-blocking, so that it returns even when the writer is gone.)
    let _r = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .unwrap();
    assert!(
        writer.join().unwrap(),
        "the writer was woken by the workspace's refused open"
    );
    arena.check_canary("fifo writer");
}

#[test]
fn the_workspace_renamed_on_the_host_keeps_working_inside() {
    let arena = Arena::new();
    let fs = WorkspaceFs::new(&arena.ws).unwrap();
    let moved = arena.root.join("ws-moved");
    std::fs::rename(&arena.ws, &moved).unwrap();
    write_file(&fs, "/after_move.txt", "still inside").unwrap();
    assert_eq!(
        std::fs::read_to_string(moved.join("after_move.txt")).unwrap(),
        "still inside"
    );
    assert!(!arena.ws.exists(), "nothing may appear at the old path");
    assert_eq!(read_to_string(&fs, "/sub/file.txt").unwrap(), "inside");
    assert!(matches!(
        fs.stat("/rel/secret.txt").unwrap_err(),
        FsError::Symlink { path, target, .. } if path == "/rel" && target == "../outside"
    ));
    // A new directory at the old name is not the workspace.
    std::fs::create_dir(&arena.ws).unwrap();
    std::fs::write(arena.ws.join("decoy"), "decoy").unwrap();
    assert_eq!(fs.stat("/decoy").unwrap_err().kind(), FsErrorKind::NotFound);
    std::fs::remove_dir_all(&arena.ws).unwrap();
    arena.check_canary("renamed workspace");
}

#[test]
fn a_directory_swapped_for_an_outward_link_never_lets_the_agent_out() {
    let arena = Arena::new();
    let ws = arena.ws.clone();
    std::fs::create_dir(ws.join("d")).unwrap();
    std::fs::write(ws.join("d/secret.txt"), "decoy").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    const ITERATIONS: usize = 4_000;
    let swapper = {
        let (ws, stop) = (ws.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let (d, real, link_target) = (ws.join("d"), ws.join("d_real"), "../outside");
            let mut swaps = 0usize;
            while !stop.load(Ordering::Relaxed) {
                std::fs::rename(&d, &real).unwrap();
                symlink(link_target, &d).unwrap();
                std::thread::yield_now();
                std::fs::remove_file(&d).unwrap();
                std::fs::rename(&real, &d).unwrap();
                swaps += 1;
            }
            swaps
        })
    };
    let bare = WorkspaceFs::new(&ws).unwrap();
    let followed = Follow(WorkspaceFs::new(&ws).unwrap());
    let mut leaked = Vec::new();
    for i in 0..ITERATIONS {
        let fs: &dyn FileService = if i % 2 == 0 { &bare } else { &followed };
        if let Ok(data) = read_file(&fs, "/d/secret.txt")
            && data == SECRET
        {
            leaked.push(format!("read at iteration {i}"));
        }
        let _ = write_file(&fs, "/d/created_by_agent", "x");
        let _ = fs.remove("/d/created_by_agent");
        let _ = fs.mkdir("/d/newdir");
        let _ = fs.remove("/d/newdir");
        let _ = fs.open("/d/empty/x", OpenFlags::create_truncate());
        let _ = fs.rename("/d/secret.txt", "/d/renamed.txt");
        let _ = fs.rename("/d/renamed.txt", "/d/secret.txt");
        if let Ok(entries) = fs.readdir("/d")
            && entries.iter().any(|e| e.name == "empty")
        {
            leaked.push(format!("listed the outside at iteration {i}"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = swapper.join().unwrap();
    assert!(swaps > 0, "the swapper never ran");
    assert!(leaked.is_empty(), "escapes: {leaked:?}");
    arena.check_canary("swap race");
}

#[test]
fn read_only_workspace_refuses_every_change_even_through_links() {
    let arena = Arena::new();
    let fs = WorkspaceFs::readonly(&arena.ws).unwrap();
    for p in ["/sub/file.txt", "/inner_file", "/rel/secret.txt", "/new"] {
        assert_eq!(
            fs.symlink("/", p).unwrap_err().kind(),
            FsErrorKind::ReadOnly
        );
        assert_eq!(
            fs.link("/sub/file.txt", p).unwrap_err().kind(),
            FsErrorKind::ReadOnly
        );
        for flags in [
            OpenFlags::write_only(),
            OpenFlags::create_truncate(),
            OpenFlags::append_create(),
        ] {
            assert_eq!(
                fs.open(p, flags).err().unwrap().kind(),
                FsErrorKind::ReadOnly
            );
        }
        assert_eq!(fs.remove(p).unwrap_err().kind(), FsErrorKind::ReadOnly);
        assert_eq!(fs.mkdir(p).unwrap_err().kind(), FsErrorKind::ReadOnly);
        assert_eq!(
            fs.rename(p, "/x").unwrap_err().kind(),
            FsErrorKind::ReadOnly
        );
    }
    assert_eq!(
        read_to_string(&Follow(&fs), "/inner_file").unwrap(),
        "inside"
    );
    assert_eq!(
        std::fs::read_to_string(arena.ws.join("sub/file.txt")).unwrap(),
        "inside"
    );
    arena.check_canary("read-only");
}
