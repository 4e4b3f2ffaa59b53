//! Union directories: before, after, replace, and where new files go.

use oanix_prims::MemFs;
use oanix_vfs::{
    FileService, FsErrorKind as K, MountFlags, Namespace, OpenFlags, exists, read_to_string,
    write_file,
};

use super::{kind, names};

/// Two services with a name in common (`x`, of different sizes), one of
/// their own each, and a directory `d` in both.
fn two() -> (MemFs, MemFs) {
    let (a, b) = (MemFs::new(), MemFs::new());
    write_file(&a, "/x", "a-x").unwrap();
    write_file(&a, "/only-a", "a").unwrap();
    a.mkdir("/d").unwrap();
    write_file(&a, "/d/in-a", "a").unwrap();
    a.mkdir("/a-dir").unwrap();
    write_file(&b, "/x", "b-x!!").unwrap();
    write_file(&b, "/only-b", "b").unwrap();
    b.mkdir("/d").unwrap();
    write_file(&b, "/d/in-b", "b").unwrap();
    (a, b)
}

fn union(a: &MemFs, b: &MemFs, flags: MountFlags) -> Namespace {
    Namespace::builder()
        .mount("/u", a.clone())
        .mount_with("/u", b.clone(), flags)
        .build()
}

#[test]
fn before_searches_the_new_member_first() {
    let (a, b) = two();
    let ns = union(&a, &b, MountFlags::before());
    assert_eq!(read_to_string(&ns, "/u/x").unwrap(), "b-x!!");
    assert_eq!(read_to_string(&ns, "/u/only-a").unwrap(), "a");
    assert_eq!(read_to_string(&ns, "/u/only-b").unwrap(), "b");
    assert_eq!(ns.stat("/u/x").unwrap().size, 5);
    assert_eq!(ns.mount_points(), [("/u".to_owned(), 2)]);
}

#[test]
fn after_searches_the_new_member_last() {
    let (a, b) = two();
    let ns = union(&a, &b, MountFlags::after());
    assert_eq!(read_to_string(&ns, "/u/x").unwrap(), "a-x");
    assert_eq!(read_to_string(&ns, "/u/only-b").unwrap(), "b");
}

#[test]
fn replace_drops_the_old_members() {
    let (a, b) = two();
    let ns = union(&a, &b, MountFlags::replace());
    assert_eq!(read_to_string(&ns, "/u/x").unwrap(), "b-x!!");
    assert_eq!(kind(ns.stat("/u/only-a")), K::NotFound);
    assert_eq!(names(&ns, "/u"), ["d", "only-b", "x"]);
    assert_eq!(ns.mount_points(), [("/u".to_owned(), 1)]);
}

#[test]
fn readdir_merges_the_members_first_one_winning() {
    let (a, b) = two();
    for (flags, x_size) in [(MountFlags::before(), 5), (MountFlags::after(), 3)] {
        let ns = union(&a, &b, flags);
        let entries = ns.readdir("/u").unwrap();
        let listed: Vec<(&str, u64)> = entries.iter().map(|e| (e.name.as_str(), e.size)).collect();
        assert_eq!(
            listed,
            [
                ("a-dir", 0),
                ("d", 0),
                ("only-a", 1),
                ("only-b", 1),
                ("x", x_size)
            ],
            "{flags:?}"
        );
        assert_eq!(
            names(&ns, "/u/d"),
            ["in-a", "in-b"],
            "directories merge too"
        );
    }
}

#[test]
fn new_files_go_to_the_create_member() {
    let (a, b) = two();
    for flags in [MountFlags::before().create(), MountFlags::after().create()] {
        let ns = union(&a, &b, flags);
        write_file(&ns, "/u/new", "new").unwrap();
        ns.mkdir("/u/newdir").unwrap();
        write_file(&ns, "/u/d/new", "in d").unwrap();
        assert!(exists(&b, "/new") && exists(&b, "/newdir") && exists(&b, "/d/new"));
        assert!(!exists(&a, "/new") && !exists(&a, "/newdir") && !exists(&a, "/d/new"));
        // The create member has no /a-dir: nowhere to put a file in it.
        assert_eq!(kind(write_file(&ns, "/u/a-dir/f", "f")), K::NotFound);
        for p in ["/new", "/newdir", "/d/new"] {
            oanix_vfs::remove_all(&b, p).unwrap();
        }
    }
}

#[test]
fn without_a_create_member_nothing_new_can_be_made() {
    let (a, b) = two();
    let ns = union(&a, &b, MountFlags::before());
    let e = write_file(&ns, "/u/new", "new").unwrap_err();
    assert_eq!((e.kind(), e.path()), (K::PermissionDenied, "/u/new"));
    assert_eq!(kind(ns.mkdir("/u/newdir")), K::PermissionDenied);
    assert_eq!(
        kind(ns.open("/u/new", OpenFlags::append_create())),
        K::PermissionDenied
    );
    // Existing files stay writable, in the member that has them.
    write_file(&ns, "/u/x", "changed").unwrap();
    assert_eq!(read_to_string(&b, "/x").unwrap(), "changed");
    assert_eq!(read_to_string(&a, "/x").unwrap(), "a-x");
    assert_eq!(kind(ns.mkdir("/u/only-a")), K::AlreadyExists);
}

#[test]
fn renames_stay_within_one_member() {
    let (a, b) = two();
    let ns = union(&a, &b, MountFlags::before().create());
    ns.rename("/u/only-a", "/u/renamed-a").unwrap();
    assert!(exists(&a, "/renamed-a") && !exists(&a, "/only-a"));
    assert_eq!(kind(ns.rename("/u/renamed-a", "/u/only-b")), K::CrossDevice);
    assert_eq!(kind(ns.rename("/u/only-b", "/u/d/in-a")), K::CrossDevice);
    assert!(exists(&a, "/renamed-a") && exists(&b, "/only-b"));
}

#[test]
fn removing_uncovers_the_next_member() {
    let (a, b) = two();
    let ns = union(&a, &b, MountFlags::before());
    ns.remove("/u/x").unwrap();
    assert!(!exists(&b, "/x"));
    assert_eq!(read_to_string(&ns, "/u/x").unwrap(), "a-x");
    ns.remove("/u/x").unwrap();
    assert_eq!(kind(ns.stat("/u/x")), K::NotFound);
}

#[test]
fn members_have_their_own_devices() {
    let (a, b) = two();
    let ns = union(&a, &b, MountFlags::before());
    let (da, db) = (
        ns.stat("/u/only-a").unwrap().device,
        ns.stat("/u/only-b").unwrap().device,
    );
    assert_ne!(da, db);
    let h = ns.open("/u/only-a", OpenFlags::read_only()).unwrap();
    assert_eq!(h.stat().unwrap().device, da);
}

#[test]
fn a_union_over_a_covered_path_keeps_what_was_there() {
    let (root, tools) = (MemFs::new(), MemFs::new());
    root.mkdir("/bin").unwrap();
    write_file(&root, "/bin/ls", "root ls").unwrap();
    write_file(&tools, "/ls", "tools ls").unwrap();
    write_file(&tools, "/cc", "tools cc").unwrap();
    let after = Namespace::builder()
        .mount("/", root.clone())
        .mount_with("/bin", tools.clone(), MountFlags::after())
        .build();
    assert_eq!(read_to_string(&after, "/bin/ls").unwrap(), "root ls");
    assert_eq!(read_to_string(&after, "/bin/cc").unwrap(), "tools cc");
    assert_eq!(names(&after, "/bin"), ["cc", "ls"]);
    assert_eq!(after.mount_points()[0], ("/bin".to_owned(), 2));
    let before = Namespace::builder()
        .mount("/", root)
        .mount_with("/bin", tools, MountFlags::before())
        .build();
    assert_eq!(read_to_string(&before, "/bin/ls").unwrap(), "tools ls");
}

#[test]
fn a_union_where_nothing_was_is_a_plain_mount() {
    let a = MemFs::new();
    let ns = Namespace::builder()
        .mount_with("/u", a.clone(), MountFlags::after())
        .build();
    write_file(&ns, "/u/f", "f").unwrap();
    assert!(exists(&a, "/f"), "a single member always accepts new files");
    assert_eq!(ns.mount_points(), [("/u".to_owned(), 1)]);
}
