//! WorkspaceFs and real links on disk: links are reported, never followed
//! on the host, and resolved by the namespace (absolute targets at the
//! namespace's root, `..` clamped there); the link operations make real
//! links; a directory swapped for a link to `/` never lets a read out.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{MetadataExt as _, symlink};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use oanix_prims::MemFs;
use oanix_services::WorkspaceFs;
use oanix_vfs::links::Follow;
use oanix_vfs::{
    FileKind, FileService, FsError, FsErrorKind, Namespace, OpenFlags, read_file, read_to_string,
    write_file,
};

const OTHER: &str = "the other mount's file";
const NS_PASSWD: &str = "root:x:0:0:the namespace's passwd";
const SECRET: &[u8] = b"outside the workspace: 0b5e11d2";

/// A workspace directory and, beside it, a secret no lookup may reach.
struct Arena {
    _tmp: tempfile::TempDir,
    ws: PathBuf,
    secret: PathBuf,
}

impl Arena {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().join("ws");
        std::fs::create_dir(&ws).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let secret = outside.join("secret.txt");
        std::fs::write(&secret, SECRET).unwrap();
        Self {
            _tmp: tmp,
            ws,
            secret,
        }
    }

    fn at(&self, rel: &str) -> PathBuf {
        self.ws.join(rel)
    }

    fn write(&self, rel: &str, data: &str) {
        let p = self.at(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(p, data).unwrap();
    }

    fn link(&self, target: impl AsRef<Path>, rel: &str) {
        let p = self.at(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        symlink(target, p).unwrap();
    }

    fn ws(&self) -> WorkspaceFs {
        WorkspaceFs::new(&self.ws).unwrap()
    }

    /// The workspace at `/workspace`, a MemFs at `/other` holding `file`,
    /// and, when `etc`, a MemFs at `/etc` holding a `passwd` of its own.
    fn namespace(&self, etc: bool) -> Namespace {
        let other = MemFs::new();
        write_file(&other, "/file", OTHER).unwrap();
        other.mkdir("/dir").unwrap();
        write_file(&other, "/dir/inner", OTHER).unwrap();
        let mut b = Namespace::builder()
            .mount("/workspace", self.ws())
            .mount("/other", other);
        if etc {
            let etc = MemFs::new();
            write_file(&etc, "/passwd", NS_PASSWD).unwrap();
            b = b.mount("/etc", etc);
        }
        b.build()
    }
}

/// What the host's `/etc/passwd` holds, if there is one.
fn host_passwd() -> Option<Vec<u8>> {
    std::fs::read("/etc/passwd").ok().filter(|d| !d.is_empty())
}

fn kind(r: Result<impl Sized, FsError>) -> Result<(), FsErrorKind> {
    r.map(|_| ()).map_err(|e| e.kind())
}

#[test]
fn links_made_on_disk_resolve_in_the_namespace_not_on_the_host() {
    let arena = Arena::new();
    arena.link("/other/file", "l");
    arena.link("/other/dir", "d");
    arena.link("/other", "o");
    let ns = arena.namespace(false);
    assert_eq!(read_to_string(&ns, "/workspace/l").unwrap(), OTHER);
    assert_eq!(read_to_string(&ns, "/workspace/d/inner").unwrap(), OTHER);
    assert_eq!(
        read_to_string(&ns, "/workspace/o/dir/inner").unwrap(),
        OTHER
    );
    let names: Vec<String> = ns
        .readdir("/workspace/o")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["dir", "file"]);
    // `stat` follows, `lstat` and `readlink` describe the link.
    let md = ns.stat("/workspace/l").unwrap();
    assert_eq!((md.kind, md.size), (FileKind::File, OTHER.len() as u64));
    let md = ns.lstat("/workspace/l").unwrap();
    assert_eq!(md.kind, FileKind::Symlink);
    assert_eq!(md.size, "/other/file".len() as u64);
    assert_eq!(ns.readlink("/workspace/l").unwrap(), "/other/file");
    // Writing through the link writes the other mount's file.
    write_file(&ns, "/workspace/l", "changed through the link").unwrap();
    assert_eq!(
        read_to_string(&ns, "/other/file").unwrap(),
        "changed through the link"
    );
    // The link on disk is untouched, and nothing was written beside it.
    assert_eq!(
        std::fs::read_link(arena.at("l")).unwrap(),
        Path::new("/other/file")
    );
    let on_disk: Vec<String> = std::fs::read_dir(&arena.ws)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(on_disk, ["d", "l", "o"]);
}

#[test]
fn the_bare_workspace_reports_links_and_never_follows_them() {
    let arena = Arena::new();
    arena.write("real/file.txt", "inside");
    arena.link("real", "dirlink");
    arena.link("real/file.txt", "filelink");
    let ws = arena.ws();
    // A link as a parent: reported with what follows it.
    assert_eq!(
        ws.stat("/dirlink/file.txt").unwrap_err(),
        FsError::Symlink {
            path: "/dirlink".into(),
            target: "real".into(),
            rest: "file.txt".into(),
        }
    );
    // As the last component of operations that follow it.
    for e in [
        ws.stat("/filelink").unwrap_err(),
        ws.open("/filelink", OpenFlags::read_only()).err().unwrap(),
        ws.open("/filelink", OpenFlags::create_truncate())
            .err()
            .unwrap(),
        ws.set_times("/filelink", None, Some(oanix_vfs::Timestamp(1)))
            .unwrap_err(),
    ] {
        assert_eq!(
            e,
            FsError::Symlink {
                path: "/filelink".into(),
                target: "real/file.txt".into(),
                rest: String::new(),
            }
        );
    }
    assert!(matches!(
        ws.readdir("/dirlink").unwrap_err(),
        FsError::Symlink { path, rest, .. } if path == "/dirlink" && rest.is_empty()
    ));
    // A trailing `/` follows the link, whatever the operation but remove
    // and rename (for which, as on Linux, the link is no directory).
    assert_eq!(
        ws.remove("/dirlink/").unwrap_err().kind(),
        FsErrorKind::NotADirectory
    );
    assert_eq!(
        ws.rename("/dirlink/", "/x").unwrap_err().kind(),
        FsErrorKind::NotADirectory
    );
    for e in [
        ws.lstat("/dirlink/").unwrap_err(),
        ws.readlink("/dirlink/").unwrap_err(),
        ws.mkdir("/dirlink/").unwrap_err(),
        ws.symlink("t", "/dirlink/").unwrap_err(),
        ws.link("/real/file.txt", "/dirlink/").unwrap_err(),
        ws.set_times("/dirlink/", None, None).unwrap_err(),
    ] {
        assert!(
            matches!(&e, FsError::Symlink { path, rest, .. } if path == "/dirlink" && rest == "/"),
            "{e:?}"
        );
    }
    // Deeper: the first link on the way is the one reported.
    arena.link("../dirlink", "real/back");
    assert!(matches!(
        ws.open("/dirlink/back/file.txt", OpenFlags::read_only()).err().unwrap(),
        FsError::Symlink { path, rest, .. } if path == "/dirlink" && rest == "back/file.txt"
    ));
    assert!(matches!(
        ws.stat("/real/back/file.txt").unwrap_err(),
        FsError::Symlink { path, target, rest }
            if path == "/real/back" && target == "../dirlink" && rest == "file.txt"
    ));
    // Operations on the link itself.
    let md = ws.lstat("/filelink").unwrap();
    assert_eq!(md.kind, FileKind::Symlink);
    assert_eq!(md.size, "real/file.txt".len() as u64);
    assert_eq!(ws.readlink("/filelink").unwrap(), "real/file.txt");
    assert_eq!(
        ws.readlink("/real/file.txt").unwrap_err().kind(),
        FsErrorKind::InvalidInput
    );
    assert_eq!(
        kind(ws.open("/filelink", OpenFlags::write_only().with_create_new(true))),
        Err(FsErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(ws.open("/filelink", OpenFlags::read_only().with_nofollow(true))),
        Err(FsErrorKind::Loop)
    );
    assert_eq!(
        ws.mkdir("/filelink").unwrap_err().kind(),
        FsErrorKind::AlreadyExists
    );
    let listing = ws.readdir("/").unwrap();
    let entry = |n: &str| listing.iter().find(|e| e.name == n).unwrap().clone();
    assert_eq!(entry("dirlink").kind, FileKind::Symlink);
    assert_eq!(entry("dirlink").size, 4);
    assert_eq!(entry("filelink").kind, FileKind::Symlink);
    assert_eq!(entry("real").kind, FileKind::Directory);
}

#[test]
fn relative_links_inside_the_workspace_work_as_on_the_host() {
    let arena = Arena::new();
    arena.write(
        "node_modules/typescript/bin/tsc",
        "#!/usr/bin/env node\ntsc",
    );
    arena.link("../typescript/bin/tsc", "node_modules/.bin/tsc");
    arena.write("venv/bin/python3", "python3 binary");
    arena.link("python3", "venv/bin/python");
    arena.link("python", "venv/bin/python3.12");
    arena.write("venv/lib/site.py", "site");
    arena.link("lib", "venv/lib64");
    let ns = arena.namespace(false);
    assert_eq!(
        read_to_string(&ns, "/workspace/node_modules/.bin/tsc").unwrap(),
        "#!/usr/bin/env node\ntsc"
    );
    assert_eq!(
        read_to_string(&ns, "/workspace/venv/bin/python3.12").unwrap(),
        "python3 binary"
    );
    assert_eq!(
        read_to_string(&ns, "/workspace/venv/lib64/site.py").unwrap(),
        "site"
    );
    let bin = ns.readdir("/workspace/node_modules/.bin").unwrap();
    assert_eq!(bin.len(), 1);
    assert_eq!(
        (bin[0].name.as_str(), bin[0].kind, bin[0].size),
        (
            "tsc",
            FileKind::Symlink,
            "../typescript/bin/tsc".len() as u64
        )
    );
    // Through the link, the file it leads to is written.
    write_file(&ns, "/workspace/venv/bin/python", "rewritten").unwrap();
    assert_eq!(
        std::fs::read_to_string(arena.at("venv/bin/python3")).unwrap(),
        "rewritten"
    );
    assert!(
        std::fs::symlink_metadata(arena.at("venv/bin/python"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A file created below a directory link lands in the directory.
    write_file(&ns, "/workspace/venv/lib64/new.py", "new").unwrap();
    assert_eq!(
        std::fs::read_to_string(arena.at("venv/lib/new.py")).unwrap(),
        "new"
    );
    // A workspace used on its own follows them the same way.
    let alone = Follow(arena.ws());
    assert_eq!(
        read_to_string(&alone, "/node_modules/.bin/tsc").unwrap(),
        "#!/usr/bin/env node\ntsc"
    );
}

#[test]
fn an_absolute_link_to_etc_passwd_reads_the_namespaces_never_the_hosts() {
    let arena = Arena::new();
    arena.link("/etc/passwd", "passwd");
    arena.link("/etc", "etc_dir");
    arena.link(&arena.secret, "secret");
    arena.link(arena.secret.parent().unwrap(), "outside");
    // No /etc in the namespace: not found.
    let ns = arena.namespace(false);
    for p in [
        "/workspace/passwd",
        "/workspace/etc_dir/passwd",
        "/workspace/secret",
        "/workspace/outside/secret.txt",
    ] {
        assert_eq!(kind(read_file(&ns, p)), Err(FsErrorKind::NotFound), "{p}");
        assert_eq!(kind(ns.stat(p)), Err(FsErrorKind::NotFound), "{p}");
    }
    // With one: its own passwd.
    let ns = arena.namespace(true);
    assert_eq!(read_to_string(&ns, "/workspace/passwd").unwrap(), NS_PASSWD);
    assert_eq!(
        read_to_string(&ns, "/workspace/etc_dir/passwd").unwrap(),
        NS_PASSWD
    );
    if let Some(host) = host_passwd() {
        assert_ne!(host, NS_PASSWD.as_bytes());
    }
    // A workspace on its own: its root is `/`.
    let alone = Follow(arena.ws());
    assert_eq!(
        kind(read_file(&alone, "/passwd")),
        Err(FsErrorKind::NotFound)
    );
    arena.write("etc/passwd", "the workspace's own etc/passwd");
    assert_eq!(
        read_to_string(&alone, "/passwd").unwrap(),
        "the workspace's own etc/passwd"
    );
    // Creating through the link creates in the namespace, not on the host.
    let ns = arena.namespace(true);
    write_file(&ns, "/workspace/etc_dir/new", "made in the namespace").unwrap();
    assert_eq!(
        read_to_string(&ns, "/etc/new").unwrap(),
        "made in the namespace"
    );
    assert!(!arena.at("etc/new").exists());
}

#[test]
fn dotdot_links_are_clamped_at_the_namespace_root() {
    let arena = Arena::new();
    arena.link("../../../../etc/passwd", "sub/up");
    arena.link("../../../../../../..", "sub/deep/to_root");
    arena.link("../../outside/secret.txt", "sub/near_out");
    let ns = arena.namespace(false);
    assert_eq!(
        kind(read_file(&ns, "/workspace/sub/up")),
        Err(FsErrorKind::NotFound)
    );
    assert_eq!(
        kind(read_file(&ns, "/workspace/sub/near_out")),
        Err(FsErrorKind::NotFound)
    );
    let ns = arena.namespace(true);
    assert_eq!(read_to_string(&ns, "/workspace/sub/up").unwrap(), NS_PASSWD);
    assert_eq!(
        read_to_string(&ns, "/workspace/sub/deep/to_root/etc/passwd").unwrap(),
        NS_PASSWD
    );
    assert_eq!(
        read_to_string(&ns, "/workspace/sub/deep/to_root/other/file").unwrap(),
        OTHER
    );
    // The workspace alone: clamped at its own root.
    let alone = Follow(arena.ws());
    assert_eq!(
        kind(read_file(&alone, "/sub/up")),
        Err(FsErrorKind::NotFound)
    );
    let names: Vec<String> = alone
        .readdir("/sub/deep/to_root")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["sub"]);
}

#[test]
fn loops_end_with_loop() {
    let arena = Arena::new();
    arena.link("b", "a");
    arena.link("a", "b");
    arena.link("self", "self");
    arena.link("../d", "d/up");
    let ns = arena.namespace(false);
    for p in ["/workspace/a", "/workspace/self", "/workspace/a/x"] {
        assert_eq!(kind(ns.stat(p)), Err(FsErrorKind::Loop), "{p}");
        assert_eq!(
            kind(ns.open(p, OpenFlags::read_only())),
            Err(FsErrorKind::Loop),
            "{p}"
        );
        assert_eq!(
            kind(ns.open(p, OpenFlags::create_truncate())),
            Err(FsErrorKind::Loop),
            "{p}"
        );
    }
    // A link to its own directory is no loop until followed 41 times.
    assert!(ns.stat("/workspace/d/up/up/up/up").unwrap().is_dir());
    let deep = format!("/workspace/d{}", "/up".repeat(41));
    assert_eq!(kind(ns.stat(&deep)), Err(FsErrorKind::Loop));
    // The links themselves are there.
    assert_eq!(ns.lstat("/workspace/a").unwrap().kind, FileKind::Symlink);
}

#[test]
fn nofollow_refuses_a_link_as_the_last_component_only() {
    let arena = Arena::new();
    arena.write("real/f", "data");
    arena.link("real", "dir");
    arena.link("real/f", "file");
    let ns = arena.namespace(false);
    let nofollow = OpenFlags::read_only().with_nofollow(true);
    assert_eq!(
        kind(ns.open("/workspace/file", nofollow)),
        Err(FsErrorKind::Loop)
    );
    assert_eq!(
        kind(ns.open(
            "/workspace/file",
            OpenFlags::create_truncate().with_nofollow(true)
        )),
        Err(FsErrorKind::Loop)
    );
    // Links among the parents are followed.
    let mut h = ns.open("/workspace/dir/f", nofollow).unwrap();
    let mut buf = [0u8; 16];
    let n = h.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"data");
    // Without it, the link is followed.
    assert_eq!(read_to_string(&ns, "/workspace/file").unwrap(), "data");
}

#[test]
fn hard_links_share_one_file() {
    let arena = Arena::new();
    arena.write("a", "shared");
    let ns = arena.namespace(false);
    ns.link("/workspace/a", "/workspace/b").unwrap();
    let (ma, mb) = (
        std::fs::metadata(arena.at("a")).unwrap(),
        std::fs::metadata(arena.at("b")).unwrap(),
    );
    assert_eq!((ma.ino(), ma.nlink()), (mb.ino(), 2));
    let (sa, sb) = (
        ns.stat("/workspace/a").unwrap(),
        ns.stat("/workspace/b").unwrap(),
    );
    assert_eq!((sa.id, sa.nlink), (sb.id, 2));
    assert_eq!(
        ns.open("/workspace/a", OpenFlags::read_only())
            .unwrap()
            .stat()
            .unwrap()
            .nlink,
        2
    );
    write_file(&ns, "/workspace/b", "written through b").unwrap();
    assert_eq!(
        read_to_string(&ns, "/workspace/a").unwrap(),
        "written through b"
    );
    ns.remove("/workspace/a").unwrap();
    assert_eq!(
        read_to_string(&ns, "/workspace/b").unwrap(),
        "written through b"
    );
    assert_eq!(ns.stat("/workspace/b").unwrap().nlink, 1);
    // The errors, in the contract's order.
    arena.write("dir/x", "x");
    assert_eq!(
        kind(ns.link("/workspace/dir", "/workspace/dir2")),
        Err(FsErrorKind::PermissionDenied)
    );
    assert_eq!(
        kind(ns.link("/workspace/missing", "/workspace/m2")),
        Err(FsErrorKind::NotFound)
    );
    assert_eq!(
        kind(ns.link("/workspace/b", "/workspace/dir/x")),
        Err(FsErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(ns.link("/workspace/b", "/workspace/nodir/x")),
        Err(FsErrorKind::NotFound)
    );
    assert_eq!(
        kind(ns.link("/workspace/b", "/other/b")),
        Err(FsErrorKind::CrossDevice)
    );
    // A symbolic link is linked itself, not followed.
    arena.link("b", "sym");
    ns.link("/workspace/sym", "/workspace/sym2").unwrap();
    assert!(
        std::fs::symlink_metadata(arena.at("sym2"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(ns.readlink("/workspace/sym2").unwrap(), "b");
    // Through a directory link, both names are followed.
    arena.link("dir", "dirlink");
    ns.link("/workspace/dirlink/x", "/workspace/dirlink/y")
        .unwrap();
    assert_eq!(std::fs::read_to_string(arena.at("dir/y")).unwrap(), "x");
}

#[test]
fn link_operations_make_real_links() {
    let arena = Arena::new();
    arena.write("target.txt", "target");
    std::fs::create_dir(arena.at("d")).unwrap();
    let ns = arena.namespace(false);
    ns.symlink("../target.txt", "/workspace/d/l").unwrap();
    ns.symlink("/other/file", "/workspace/abs").unwrap();
    ns.symlink("does/not/exist", "/workspace/dangling").unwrap();
    assert_eq!(
        std::fs::read_link(arena.at("d/l")).unwrap(),
        Path::new("../target.txt")
    );
    assert_eq!(
        std::fs::read_link(arena.at("abs")).unwrap(),
        Path::new("/other/file")
    );
    assert_eq!(read_to_string(&ns, "/workspace/d/l").unwrap(), "target");
    assert_eq!(read_to_string(&ns, "/workspace/abs").unwrap(), OTHER);
    // The errors.
    assert_eq!(
        kind(ns.symlink("x", "/workspace/target.txt")),
        Err(FsErrorKind::AlreadyExists)
    );
    assert_eq!(
        kind(ns.symlink("x", "/workspace/nodir/l")),
        Err(FsErrorKind::NotFound)
    );
    assert_eq!(
        kind(ns.symlink("x", "/workspace/target.txt/l")),
        Err(FsErrorKind::NotADirectory)
    );
    assert_eq!(
        kind(ns.symlink("", "/workspace/empty")),
        Err(FsErrorKind::InvalidPath)
    );
    // A dangling link: creating through it creates its target.
    std::fs::create_dir_all(arena.at("does/not")).unwrap();
    write_file(&ns, "/workspace/dangling", "made").unwrap();
    assert_eq!(
        std::fs::read_to_string(arena.at("does/not/exist")).unwrap(),
        "made"
    );
    // Rename moves the link itself; remove removes the link, not its target.
    ns.rename("/workspace/d/l", "/workspace/d/l2").unwrap();
    assert_eq!(
        std::fs::read_link(arena.at("d/l2")).unwrap(),
        Path::new("../target.txt")
    );
    assert!(!arena.at("d/l").exists());
    ns.remove("/workspace/d/l2").unwrap();
    assert!(std::fs::symlink_metadata(arena.at("d/l2")).is_err());
    assert_eq!(
        std::fs::read_to_string(arena.at("target.txt")).unwrap(),
        "target"
    );
    // A directory link is removed as a link too.
    ns.symlink("d", "/workspace/dl").unwrap();
    ns.remove("/workspace/dl").unwrap();
    assert!(arena.at("d").is_dir());
    // `remove_all` does not follow links.
    std::fs::create_dir(arena.at("tree")).unwrap();
    ns.symlink("../d", "/workspace/tree/to_d").unwrap();
    write_file(&ns, "/workspace/d/kept", "kept").unwrap();
    oanix_vfs::remove_all(&ns, "/workspace/tree").unwrap();
    assert_eq!(std::fs::read_to_string(arena.at("d/kept")).unwrap(), "kept");
}

#[test]
fn a_target_that_is_not_utf8_is_refused_naming_the_link() {
    let arena = Arena::new();
    arena.link(OsStr::from_bytes(b"caf\xe9"), "bad");
    std::fs::create_dir(arena.at("dir")).unwrap();
    arena.link(OsStr::from_bytes(b"\xff/x"), "dir/bad");
    let ws = arena.ws();
    let e = ws.readlink("/bad").unwrap_err();
    assert_eq!((e.kind(), e.path()), (FsErrorKind::InvalidInput, "/bad"));
    assert!(e.to_string().contains("not UTF-8"), "{e}");
    let ns = arena.namespace(false);
    let e = ns.stat("/workspace/bad").unwrap_err();
    assert_eq!(
        (e.kind(), e.path()),
        (FsErrorKind::InvalidInput, "/workspace/bad")
    );
    let e = ns.stat("/workspace/dir/bad/x").unwrap_err();
    assert_eq!(
        (e.kind(), e.path()),
        (FsErrorKind::InvalidInput, "/workspace/dir/bad")
    );
    // The link itself can still be described and removed.
    assert_eq!(ns.lstat("/workspace/bad").unwrap().kind, FileKind::Symlink);
    ns.remove("/workspace/bad").unwrap();
    assert!(std::fs::symlink_metadata(arena.at("bad")).is_err());
}

#[test]
fn a_read_only_workspace_refuses_link_changes_and_still_follows() {
    let arena = Arena::new();
    arena.write("f", "data");
    arena.link("f", "l");
    let ro = WorkspaceFs::readonly(&arena.ws).unwrap();
    assert_eq!(kind(ro.symlink("f", "/l2")), Err(FsErrorKind::ReadOnly));
    assert_eq!(kind(ro.link("/f", "/f2")), Err(FsErrorKind::ReadOnly));
    assert_eq!(kind(ro.remove("/l")), Err(FsErrorKind::ReadOnly));
    assert_eq!(kind(ro.rename("/l", "/l3")), Err(FsErrorKind::ReadOnly));
    assert_eq!(ro.readlink("/l").unwrap(), "f");
    assert_eq!(ro.lstat("/l").unwrap().kind, FileKind::Symlink);
    assert_eq!(read_to_string(&Follow(&ro), "/l").unwrap(), "data");
    assert!(!arena.at("l2").exists() && !arena.at("f2").exists());
}

/// Swaps `<ws>/d` between the real directory and a link to `to`, until
/// `stop`; counts the swaps. Each swap is one atomic exchange of `d` with
/// `<ws>/d_link` where the host has it (so that `d` is always there, a
/// directory or a link), else a rename, a new link and back.
fn swapper(
    ws: PathBuf,
    to: PathBuf,
    stop: Arc<AtomicBool>,
    swaps: Arc<AtomicUsize>,
) -> std::thread::JoinHandle<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    std::thread::spawn(move || {
        let (d, other) = (ws.join("d"), ws.join("d_link"));
        symlink(&to, &other).unwrap();
        let mut exchange = true;
        while !stop.load(Ordering::Relaxed) {
            if exchange && renameat_with(CWD, &d, CWD, &other, RenameFlags::EXCHANGE).is_err() {
                exchange = false;
                std::fs::remove_file(&other).unwrap();
            }
            if !exchange {
                std::fs::rename(&d, &other).unwrap();
                symlink(&to, &d).unwrap();
                std::thread::yield_now();
                std::fs::remove_file(&d).unwrap();
                std::fs::rename(&other, &d).unwrap();
            }
            swaps.fetch_add(1, Ordering::Relaxed);
        }
        // Leave the real directory at `d`.
        if std::fs::symlink_metadata(&d).is_ok_and(|m| m.file_type().is_symlink()) {
            renameat_with(CWD, &d, CWD, &other, RenameFlags::EXCHANGE).unwrap();
        }
    })
}

#[test]
fn a_directory_swapped_for_a_link_to_the_root_never_leaks_host_data() {
    let arena = Arena::new();
    const DECOY: &str = "the workspace's decoy";
    // Inside `d`, the same paths the host has below `/`.
    let secret_rel = arena
        .secret
        .strip_prefix("/")
        .unwrap()
        .to_string_lossy()
        .into_owned();
    arena.write(&format!("d/{secret_rel}"), DECOY);
    arena.write("d/etc/passwd", DECOY);
    let host = host_passwd();
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let racer = swapper(
        arena.ws.clone(),
        PathBuf::from("/"),
        Arc::clone(&stop),
        Arc::clone(&swaps),
    );
    let ns = arena.namespace(true);
    let ws = arena.ws();
    let paths = [
        format!("/workspace/d/{secret_rel}"),
        "/workspace/d/etc/passwd".to_owned(),
    ];
    let mut leaks = Vec::new();
    // What a read gave, when it is not one of the namespace's own files.
    let leak = |what: &str, data: &[u8]| -> Option<String> {
        let host_data = data.windows(SECRET.len()).any(|w| w == SECRET)
            || host.as_deref().is_some_and(|h| h == data);
        let known = data == DECOY.as_bytes() || data == NS_PASSWD.as_bytes();
        (host_data || !known).then(|| format!("{what}: {}", String::from_utf8_lossy(data)))
    };
    let mut rounds = 0usize;
    while rounds < 2_000 || swaps.load(Ordering::Relaxed) < 200 {
        for p in &paths {
            if let Ok(data) = read_file(&ns, p) {
                leaks.extend(leak(p, &data));
            }
            let bare = p.trim_start_matches("/workspace");
            if let Ok(data) = read_file(&ws, bare) {
                leaks.extend(leak(bare, &data));
            }
            if let Ok(mut h) = ns.open(p, OpenFlags::read_write()) {
                let mut buf = vec![0u8; 256];
                let n = h.read_at(&mut buf, 0).unwrap_or(0);
                if n > 0 {
                    leaks.extend(leak(p, &buf[..n]));
                }
            }
            if let Ok(entries) = ns.readdir("/workspace/d") {
                // The host's `/` holds `proc`; the directory never does.
                if entries.iter().any(|e| e.name == "proc") {
                    leaks.push("listed the host's root".to_owned());
                }
            }
        }
        rounds += 1;
    }
    stop.store(true, Ordering::Relaxed);
    racer.join().unwrap();
    assert!(leaks.is_empty(), "host data read: {leaks:?}");
    // Once the host stops, the workspace's own files read as they are.
    for p in &paths {
        assert_eq!(read_to_string(&ns, p).unwrap(), DECOY);
    }
    assert_eq!(std::fs::read(&arena.secret).unwrap(), SECRET);
}
