//! Symbolic and hard links in MemFs, on its own (through `links::Follow`)
//! and in namespaces, where a link's target is resolved across mounts.

use oanix_prims::MemFs;
use oanix_vfs::links::{Follow, MAX_HOPS};
use oanix_vfs::{
    FileKind, FileService, FsError, FsErrorKind as K, Namespace, OpenFlags, read_to_string,
    remove_all, write_file,
};

fn kind<T>(r: oanix_vfs::Result<T>) -> K {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.kind(),
    }
}

#[test]
fn a_service_reports_links_and_never_follows_them_itself() {
    let fs = MemFs::new();
    fs.mkdir("/d").unwrap();
    write_file(&fs, "/d/f", "data").unwrap();
    fs.symlink("d", "/l").unwrap();
    assert_eq!(
        fs.stat("/l/f").unwrap_err(),
        FsError::Symlink {
            path: "/l".into(),
            target: "d".into(),
            rest: "f".into()
        }
    );
    assert_eq!(
        fs.open("/l", OpenFlags::read_only()).err(),
        Some(FsError::Symlink {
            path: "/l".into(),
            target: "d".into(),
            rest: String::new()
        })
    );
    // Operations on the link itself answer for the link.
    let md = fs.lstat("/l").unwrap();
    assert_eq!((md.kind, md.size), (FileKind::Symlink, 1));
    assert_eq!(fs.readlink("/l").unwrap(), "d");
    assert_eq!(kind(fs.readlink("/d/f")), K::InvalidInput);
    assert_eq!(kind(fs.readlink("/nope")), K::NotFound);
}

#[test]
fn follow_resolves_relative_absolute_and_dotdot_targets() {
    let fs = Follow(MemFs::new());
    fs.mkdir("/a").unwrap();
    fs.mkdir("/a/b").unwrap();
    write_file(&fs, "/a/b/file", "here").unwrap();
    fs.symlink("b/file", "/a/rel").unwrap();
    fs.symlink("/a/b/file", "/abs").unwrap();
    fs.symlink("../a/b", "/a/up").unwrap();
    fs.symlink("../../../../a/b/file", "/a/b/high").unwrap();
    for p in ["/a/rel", "/abs", "/a/up/file", "/a/b/high", "/a/up/high"] {
        assert_eq!(read_to_string(&fs, p).unwrap(), "here", "{p}");
    }
    assert_eq!(fs.stat("/a/up").unwrap().kind, FileKind::Directory);
    assert_eq!(fs.lstat("/a/up").unwrap().kind, FileKind::Symlink);
    let listing = fs.readdir("/a").unwrap();
    let kinds: Vec<_> = listing.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("b", FileKind::Directory),
            ("rel", FileKind::Symlink),
            ("up", FileKind::Symlink)
        ]
    );
    assert_eq!(
        fs.readdir("/a/up").unwrap().len(),
        fs.readdir("/a/b").unwrap().len()
    );
}

#[test]
fn dangling_links_loops_and_nofollow() {
    let fs = Follow(MemFs::new());
    fs.symlink("missing", "/dangling").unwrap();
    assert_eq!(kind(fs.stat("/dangling")), K::NotFound);
    assert_eq!(fs.lstat("/dangling").unwrap().kind, FileKind::Symlink);
    // Creating through a dangling link creates its target.
    write_file(&fs, "/dangling", "made").unwrap();
    assert_eq!(read_to_string(&fs, "/missing").unwrap(), "made");
    // ...but create_new refuses the link's name.
    let exclusive = OpenFlags::write_only().with_create_new(true);
    assert_eq!(kind(fs.open("/dangling", exclusive)), K::AlreadyExists);
    // Loops end in Loop.
    fs.symlink("b", "/a").unwrap();
    fs.symlink("a", "/b").unwrap();
    assert_eq!(kind(fs.stat("/a")), K::Loop);
    assert_eq!(kind(fs.open("/a/x", OpenFlags::read_only())), K::Loop);
    fs.symlink("self/x", "/self").unwrap();
    assert_eq!(kind(fs.stat("/self")), K::Loop);
    // nofollow refuses a link as the last component only.
    let nofollow = OpenFlags::read_only().with_nofollow(true);
    assert_eq!(kind(fs.open("/dangling", nofollow)), K::Loop);
    fs.mkdir("/dir").unwrap();
    write_file(&fs, "/dir/f", "f").unwrap();
    fs.symlink("dir", "/dl").unwrap();
    assert!(fs.open("/dl/f", nofollow).is_ok(), "parents are followed");
    // A chain of MAX_HOPS links resolves; one more is a loop.
    let mut prev = "/dir/f".to_owned();
    for i in 0..MAX_HOPS {
        let name = format!("/chain{i}");
        fs.symlink(&prev, &name).unwrap();
        prev = name;
    }
    assert_eq!(read_to_string(&fs, &prev).unwrap(), "f");
    fs.symlink(&prev, "/chain_over").unwrap();
    assert_eq!(kind(fs.stat("/chain_over")), K::Loop);
}

#[test]
fn changes_act_on_the_link_not_its_target() {
    let fs = Follow(MemFs::new());
    fs.mkdir("/d").unwrap();
    write_file(&fs, "/d/f", "keep").unwrap();
    fs.symlink("d", "/l").unwrap();
    assert_eq!(kind(fs.mkdir("/l")), K::AlreadyExists);
    assert_eq!(kind(fs.symlink("x", "/l")), K::AlreadyExists);
    fs.rename("/l", "/m").unwrap();
    assert_eq!(fs.readlink("/m").unwrap(), "d");
    assert_eq!(kind(fs.lstat("/l")), K::NotFound);
    // Trailing slashes: the link must lead to a directory and is followed.
    assert_eq!(fs.stat("/m/").unwrap().kind, FileKind::Directory);
    fs.symlink("d/f", "/lf").unwrap();
    assert_eq!(kind(fs.stat("/lf/")), K::NotADirectory);
    // remove and rename of a link written with a trailing slash, as Linux.
    assert_eq!(kind(fs.remove("/m/")), K::NotADirectory);
    assert_eq!(kind(fs.rename("/m/", "/n")), K::NotADirectory);
    // remove_all of a link removes the link only.
    remove_all(&fs, "/m").unwrap();
    assert_eq!(read_to_string(&fs, "/d/f").unwrap(), "keep");
    fs.remove("/lf").unwrap();
    assert!(fs.stat("/d/f").is_ok());
    // Bad targets.
    assert_eq!(kind(fs.symlink("", "/e")), K::InvalidPath);
    assert_eq!(kind(fs.symlink("t", "/missing/e")), K::NotFound);
    assert_eq!(kind(fs.symlink("t", "/new/")), K::NotFound);
}

#[test]
fn hard_links_share_one_file() {
    let fs = Follow(MemFs::new());
    write_file(&fs, "/a", "one").unwrap();
    fs.link("/a", "/b").unwrap();
    let (a, b) = (fs.stat("/a").unwrap(), fs.stat("/b").unwrap());
    assert_eq!((a.id, a.nlink), (b.id, 2));
    write_file(&fs, "/b", "two").unwrap();
    assert_eq!(read_to_string(&fs, "/a").unwrap(), "two");
    fs.remove("/a").unwrap();
    assert_eq!(fs.stat("/b").unwrap().nlink, 1);
    assert_eq!(read_to_string(&fs, "/b").unwrap(), "two");
    fs.mkdir("/d").unwrap();
    assert_eq!(kind(fs.link("/d", "/e")), K::PermissionDenied);
    assert_eq!(kind(fs.link("/b", "/d")), K::AlreadyExists);
    assert_eq!(kind(fs.link("/nope", "/x")), K::NotFound);
    // Renaming one name over the other leaves both, as POSIX does.
    fs.link("/b", "/c").unwrap();
    fs.rename("/b", "/c").unwrap();
    assert_eq!(fs.stat("/b").unwrap().nlink, 2);
    // Replacing a name by rename drops one name.
    write_file(&fs, "/other", "o").unwrap();
    fs.rename("/other", "/c").unwrap();
    assert_eq!(fs.stat("/b").unwrap().nlink, 1);
}

#[test]
fn a_namespace_resolves_links_across_mounts_and_from_its_root() {
    let (root, task, work) = (MemFs::new(), MemFs::new(), MemFs::new());
    write_file(&task, "/spec.json", "{}").unwrap();
    root.mkdir("/etc").unwrap();
    write_file(&root, "/etc/hosts", "ns hosts").unwrap();
    let ns = Namespace::builder()
        .mount("/", root.clone())
        .mount("/task", task.clone())
        .mount("/workspace", work.clone())
        .build();
    // Links made through the namespace land in the service that holds them.
    ns.symlink("/task/spec.json", "/workspace/spec").unwrap();
    ns.symlink("../task", "/workspace/t").unwrap();
    ns.symlink("../../../../etc/hosts", "/workspace/hosts")
        .unwrap();
    assert_eq!(work.readlink("/spec").unwrap(), "/task/spec.json");
    assert_eq!(read_to_string(&ns, "/workspace/spec").unwrap(), "{}");
    assert_eq!(read_to_string(&ns, "/workspace/t/spec.json").unwrap(), "{}");
    // `..` never climbs above the namespace's root.
    assert_eq!(read_to_string(&ns, "/workspace/hosts").unwrap(), "ns hosts");
    // Writes through a link go to the target's service.
    write_file(&ns, "/workspace/t/result.json", "ok").unwrap();
    assert_eq!(read_to_string(&task, "/result.json").unwrap(), "ok");
    // Errors name the namespace paths.
    ns.symlink("/nowhere/x", "/workspace/broken").unwrap();
    assert_eq!(
        ns.stat("/workspace/broken").unwrap_err(),
        FsError::not_found("/nowhere/x")
    );
    // A link to a mount point is a directory; renames through links that
    // change mounts are cross-device.
    assert_eq!(ns.stat("/workspace/t").unwrap().kind, FileKind::Directory);
    assert_eq!(
        kind(ns.rename("/workspace/t/spec.json", "/workspace/moved")),
        K::CrossDevice
    );
    assert_eq!(
        kind(ns.link("/workspace/t/spec.json", "/workspace/hard")),
        K::CrossDevice
    );
    // Mount points and synthetic directories cannot be replaced by links.
    assert_eq!(kind(ns.symlink("x", "/task")), K::AlreadyExists);
    assert_eq!(kind(ns.readlink("/task")), K::InvalidInput);
    // Hard links within one mount.
    ns.link("/task/spec.json", "/task/spec2.json").unwrap();
    assert_eq!(ns.stat("/task/spec2.json").unwrap().nlink, 2);
}

#[test]
fn services_without_links_answer_the_defaults() {
    let ns = Namespace::builder()
        .mount("/m", oanix_prims::MapFs::builder().file("/f", "x").build())
        .build();
    assert_eq!(kind(ns.readlink("/m/f")), K::InvalidInput);
    assert_eq!(kind(ns.readlink("/m/none")), K::NotFound);
}

#[test]
fn mapfs_serves_declared_links_read_only() {
    let fs = oanix_prims::MapFs::builder()
        .file("/bin/tool", "#!tool")
        .symlink("/node_modules/.bin/tool", "../../bin/tool")
        .symlink("/latest", "bin")
        .build();
    assert_eq!(
        fs.readlink("/node_modules/.bin/tool").unwrap(),
        "../../bin/tool"
    );
    let listing: Vec<_> = fs
        .readdir("/")
        .unwrap()
        .into_iter()
        .map(|e| (e.name, e.kind))
        .collect();
    assert_eq!(
        listing,
        [
            ("bin".to_owned(), FileKind::Directory),
            ("latest".to_owned(), FileKind::Symlink),
            ("node_modules".to_owned(), FileKind::Directory)
        ]
    );
    assert!(matches!(
        fs.stat("/latest/tool"),
        Err(FsError::Symlink { .. })
    ));
    let ns = Namespace::builder().mount("/", fs.clone()).build();
    assert_eq!(
        read_to_string(&ns, "/node_modules/.bin/tool").unwrap(),
        "#!tool"
    );
    assert_eq!(read_to_string(&ns, "/latest/tool").unwrap(), "#!tool");
    assert!(ns.lstat("/latest").unwrap().readonly);
    assert_eq!(kind(ns.symlink("bin", "/other")), K::ReadOnly);
    assert_eq!(kind(ns.remove("/latest")), K::ReadOnly);
    assert_eq!(
        kind(ns.open("/latest", OpenFlags::read_only().with_nofollow(true))),
        K::Loop
    );
    // Bad declarations are named by try_build.
    let clash = oanix_prims::MapFs::builder()
        .file("/a/b", "x")
        .symlink("/a", "elsewhere")
        .try_build();
    assert_eq!(kind(clash), K::InvalidInput);
    let empty = oanix_prims::MapFs::builder().symlink("/l", "").try_build();
    assert_eq!(kind(empty), K::InvalidPath);
}
