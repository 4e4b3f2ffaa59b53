//! Mount resolution, synthetic directories, mount points, devices, errors
//! and nested namespaces.

use std::collections::HashSet;

use oanix_prims::MemFs;
use oanix_vfs::{
    FileKind, FileService, FsErrorKind as K, Namespace, OpenFlags, exists, read_to_string,
    write_file,
};

use super::{error, kind, names};

#[test]
fn longest_prefix_wins_on_component_boundaries() {
    let (root, tools, core) = (MemFs::new(), MemFs::new(), MemFs::new());
    let ns = Namespace::builder()
        .mount("/", root.clone())
        .mount("/tools", tools.clone())
        .mount("/tools/core", core.clone())
        .build();
    write_file(&ns, "/tools/core/x", "core").unwrap();
    write_file(&ns, "/tools/y", "tools").unwrap();
    write_file(&ns, "/toolsx", "root").unwrap();
    write_file(&ns, "/tools/corex", "tools too").unwrap();
    assert_eq!(read_to_string(&core, "/x").unwrap(), "core");
    assert_eq!(read_to_string(&tools, "/y").unwrap(), "tools");
    assert_eq!(read_to_string(&tools, "/corex").unwrap(), "tools too");
    assert_eq!(read_to_string(&root, "/toolsx").unwrap(), "root");
    assert!(
        !exists(&tools, "/core"),
        "the inner mount point is not a directory of /tools"
    );
    assert_eq!(names(&ns, "/"), ["tools", "toolsx"]);
    assert_eq!(names(&ns, "/tools"), ["core", "corex", "y"]);
    assert_eq!(names(&ns, "/tools/core"), ["x"]);
}

#[test]
fn the_order_of_mounts_does_not_change_resolution() {
    let (tools, core) = (MemFs::new(), MemFs::new());
    let ns = Namespace::builder()
        .mount("/tools/core", core.clone())
        .mount("/tools", tools.clone())
        .build();
    write_file(&ns, "/tools/core/x", "core").unwrap();
    write_file(&ns, "/tools/y", "tools").unwrap();
    assert_eq!(names(&core, "/"), ["x"]);
    assert_eq!(names(&tools, "/"), ["y"]);
    let points: Vec<String> = ns.mount_points().into_iter().map(|(p, _)| p).collect();
    assert_eq!(points, ["/tools/core", "/tools"], "longest first");
}

#[test]
fn mount_paths_are_normalised() {
    let fs = MemFs::new();
    let ns = Namespace::builder()
        .mount("tools/./core/", fs.clone())
        .build();
    write_file(&ns, "/tools/core/x", "x").unwrap();
    assert_eq!(names(&fs, "/"), ["x"]);
    assert_eq!(ns.mount_table(), "mount /tools/core memfs\n");
}

#[test]
fn synthetic_directories_list_mount_points() {
    let ns = Namespace::builder()
        .mount("/cap/http", MemFs::new())
        .mount("/cap/ws", MemFs::new())
        .mount("/task", MemFs::new())
        .build();
    assert_eq!(names(&ns, "/"), ["cap", "task"]);
    let entries = ns.readdir("/cap").unwrap();
    let listed: Vec<(&str, FileKind)> = entries.iter().map(|e| (e.name.as_str(), e.kind)).collect();
    assert_eq!(
        listed,
        [("http", FileKind::Directory), ("ws", FileKind::Directory)]
    );
    let md = ns.stat("/cap").unwrap();
    assert!(md.is_dir() && md.readonly, "a synthetic directory: {md:?}");
    assert!(ns.stat("/").unwrap().is_dir());
    assert_eq!(ns.stat("/cap/").unwrap(), md);
    // Its id is stable, and the one its parent lists.
    let listed_id = ns.readdir("/").unwrap()[0].id;
    assert_eq!(listed_id, md.id);
    assert_ne!(md.id, ns.stat("/").unwrap().id);

    let mut h = ns.open("/cap", OpenFlags::read_only()).unwrap();
    assert_eq!(kind(h.read(&mut [0; 4])), K::IsADirectory);
    assert!(h.stat().unwrap().is_dir());
    drop(ns.open("/cap", OpenFlags::directory()).unwrap());
    assert_eq!(
        kind(ns.open("/cap", OpenFlags::write_only())),
        K::IsADirectory
    );
    assert_eq!(
        kind(ns.open("/cap", OpenFlags::create_truncate())),
        K::IsADirectory
    );
    let create_new = OpenFlags::write_only().with_create_new(true);
    assert_eq!(kind(ns.open("/cap", create_new)), K::AlreadyExists);
    assert_eq!(kind(ns.stat("/cap/nope")), K::NotFound);
    assert_eq!(kind(ns.readdir("/cap/nope")), K::NotFound);
    assert_eq!(
        kind(ns.open("/cap/nope", OpenFlags::read_only())),
        K::NotFound
    );
}

#[test]
fn nothing_can_be_made_in_a_synthetic_directory() {
    let http = MemFs::new();
    let ns = Namespace::builder()
        .mount("/cap/http", http.clone())
        .build();
    write_file(&ns, "/cap/http/f", "f").unwrap();
    let before = oanix_conformance::tree_of(&ns);
    assert_eq!(kind(ns.mkdir("/cap")), K::AlreadyExists);
    assert_eq!(kind(ns.mkdir("/cap/new")), K::PermissionDenied);
    assert_eq!(kind(ns.mkdir("/new")), K::PermissionDenied);
    assert_eq!(
        kind(ns.open("/cap/new", OpenFlags::create_truncate())),
        K::PermissionDenied
    );
    assert_eq!(
        kind(ns.open("/new", OpenFlags::append_create())),
        K::PermissionDenied
    );
    assert_eq!(kind(ns.remove("/cap")), K::PermissionDenied);
    assert_eq!(kind(ns.remove("/cap/http")), K::PermissionDenied);
    assert_eq!(kind(ns.remove("/")), K::PermissionDenied);
    assert_eq!(kind(ns.rename("/cap", "/x")), K::PermissionDenied);
    assert_eq!(kind(ns.rename("/cap/http", "/cap/x")), K::PermissionDenied);
    assert_eq!(
        kind(ns.rename("/cap/http/f", "/cap/f")),
        K::PermissionDenied
    );
    assert_eq!(kind(ns.rename("/cap/http/f", "/cap")), K::PermissionDenied);
    assert_eq!(oanix_conformance::tree_of(&ns), before);
}

#[test]
fn mount_points_cannot_be_removed_or_renamed() {
    let ns = Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/m", MemFs::new())
        .build();
    write_file(&ns, "/x", "x").unwrap();
    write_file(&ns, "/m/f", "f").unwrap();
    let before = oanix_conformance::tree_of(&ns);
    assert_eq!(kind(ns.remove("/m")), K::PermissionDenied);
    assert_eq!(kind(ns.remove("/m/")), K::PermissionDenied);
    assert_eq!(kind(ns.rename("/m", "/n")), K::PermissionDenied);
    assert_eq!(kind(ns.rename("/x", "/m")), K::PermissionDenied);
    // Mount points come before existence.
    assert_eq!(kind(ns.rename("/missing", "/m")), K::PermissionDenied);
    assert_eq!(kind(ns.mkdir("/m")), K::AlreadyExists);
    assert_eq!(oanix_conformance::tree_of(&ns), before);
    assert!(ns.stat("/m").unwrap().is_dir());
    ns.rename("/m/f", "/m/g").unwrap();
    assert_eq!(names(&ns, "/m"), ["g"]);
}

#[test]
fn a_mount_point_hides_what_the_parent_service_has_there() {
    let root = MemFs::new();
    root.mkdir("/m").unwrap();
    write_file(&root, "/m/old", "old").unwrap();
    write_file(&root, "/f", "a file").unwrap();
    let ns = Namespace::builder()
        .mount("/", root.clone())
        .mount("/m", MemFs::new())
        .mount("/f", MemFs::new())
        .build();
    assert!(names(&ns, "/m").is_empty());
    assert_eq!(kind(ns.stat("/m/old")), K::NotFound);
    // The mount point at /f is a directory, whatever the root service has.
    let root_entries = ns.readdir("/").unwrap();
    let f = root_entries.iter().find(|e| e.name == "f").unwrap();
    assert_eq!((f.kind, f.size), (FileKind::Directory, 0));
    assert!(ns.stat("/f").unwrap().is_dir());
    assert_eq!(
        read_to_string(&root, "/m/old").unwrap(),
        "old",
        "hidden, not removed"
    );
}

#[test]
fn renames_between_mounts_are_cross_device() {
    let ns = Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/a", MemFs::new())
        .mount("/a/n", MemFs::new())
        .build();
    write_file(&ns, "/f", "f").unwrap();
    write_file(&ns, "/a/g", "g").unwrap();
    let before = oanix_conformance::tree_of(&ns);
    let e = ns.rename("/f", "/a/f").unwrap_err();
    assert_eq!(e.kind(), K::CrossDevice);
    assert_eq!(e.to_string(), "cross-device: /f -> /a/f");
    assert_eq!(kind(ns.rename("/a/g", "/a/n/g")), K::CrossDevice);
    assert_eq!(kind(ns.rename("/a/g", "/f")), K::CrossDevice);
    // Cross-device comes before the service's own rules (here, NotFound).
    assert_eq!(kind(ns.rename("/missing", "/a/x")), K::CrossDevice);
    assert_eq!(oanix_conformance::tree_of(&ns), before);
}

#[test]
fn errors_name_namespace_paths() {
    let ns = Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/m", MemFs::new())
        .mount("/m/deep/er", MemFs::new())
        .build();
    ns.mkdir("/m/d").unwrap();
    write_file(&ns, "/m/d/f", "f").unwrap();
    write_file(&ns, "/m/deep/er/x", "x").unwrap();
    let e = ns.stat("/m/nope").unwrap_err();
    assert_eq!((e.kind(), e.path()), (K::NotFound, "/m/nope"));
    assert_eq!(e.to_string(), "not found: /m/nope");
    let e = error(ns.open("/m/d", OpenFlags::write_only()));
    assert_eq!(e.path(), "/m/d");
    let e = ns.remove("/m/d").unwrap_err();
    assert_eq!((e.kind(), e.path()), (K::NotEmpty, "/m/d"));
    let e = ns.readdir("/m/deep/er/x").unwrap_err();
    assert_eq!((e.kind(), e.path()), (K::NotADirectory, "/m/deep/er/x"));
    let e = ns.mkdir("/m/deep/er/x/y").unwrap_err();
    assert!(e.path().starts_with("/m/deep/er/x"), "{e}");
    // Errors of handles too.
    let mut h = ns.open("/m/d/f", OpenFlags::read_only()).unwrap();
    let e = h.write(b"x").unwrap_err();
    assert_eq!((e.kind(), e.path()), (K::BadHandle, "/m/d/f"));
    let e = h.seek(std::io::SeekFrom::Current(-1)).unwrap_err();
    assert_eq!(e.path(), "/m/d/f");
    let mut h = ns.open("/m/deep/er/x", OpenFlags::write_only()).unwrap();
    let e = h.read(&mut [0; 1]).unwrap_err();
    assert_eq!(e.path(), "/m/deep/er/x");
    // A file at the root of a mount.
    let e = error(ns.open("/m/deep/er", OpenFlags::write_only()));
    assert_eq!((e.kind(), e.path()), (K::IsADirectory, "/m/deep/er"));
}

#[test]
fn each_mount_has_its_own_device() {
    let shared = MemFs::new();
    let ns = Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/a", MemFs::new())
        .mount("/a/n", MemFs::new())
        .mount("/b", shared.clone())
        .mount("/c", shared)
        .build();
    for p in ["/f", "/a/f", "/a/n/f", "/b/f"] {
        write_file(&ns, p, p).unwrap();
    }
    write_file(&ns, "/a/g", "g").unwrap();
    let dev = |p: &str| ns.stat(p).unwrap().device;
    let devices: Vec<u64> = ["/f", "/a/f", "/a/n/f", "/b/f", "/c/f"].map(dev).to_vec();
    assert!(devices.iter().all(|d| *d != 0), "{devices:?}");
    let distinct: HashSet<u64> = devices.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        devices.len(),
        "one device per mount: {devices:?}"
    );
    assert_eq!(
        dev("/a/g"),
        dev("/a/f"),
        "one device for the files of a mount"
    );
    assert_eq!(
        dev("/a"),
        dev("/a/f"),
        "a mount point is on its mount's device"
    );
    let h = ns.open("/a/n/f", OpenFlags::read_only()).unwrap();
    assert_eq!(
        h.stat().unwrap().device,
        dev("/a/n/f"),
        "handles carry the device"
    );
    // (device, id) tells files apart even where the services' ids meet.
    let pairs: HashSet<(u64, u64)> = ["/f", "/a/f", "/a/n/f", "/b/f", "/a/g"]
        .iter()
        .map(|p| {
            let md = ns.stat(p).unwrap();
            (md.device, md.id)
        })
        .collect();
    assert_eq!(pairs.len(), 5);
}

#[test]
fn resolve_gives_the_service_and_the_inner_path() {
    let (tools, core) = (MemFs::new(), MemFs::new());
    let ns = Namespace::builder()
        .mount("/tools", tools.clone())
        .mount("/tools/core", core.clone())
        .build();
    let (svc, inner) = ns.resolve("/tools/core/bin/x").unwrap();
    assert_eq!(inner, "/bin/x");
    svc.mkdir("/bin").unwrap();
    assert!(
        core.stat("/bin").unwrap().is_dir(),
        "resolve found the /tools/core service"
    );
    let (svc, inner) = ns.resolve("tools/./y/").unwrap();
    assert_eq!(inner, "/y");
    write_file(svc, &inner, "y").unwrap();
    assert_eq!(read_to_string(&tools, "/y").unwrap(), "y");
    let (_, inner) = ns.resolve("/tools").unwrap();
    assert_eq!(inner, "/");
    assert!(ns.resolve("/toolsx").is_none());
    assert!(
        ns.resolve("/").is_none(),
        "no service at the synthetic root"
    );
    assert!(ns.resolve("/..").is_none());
}

#[test]
fn nested_namespaces() {
    let (x, y) = (MemFs::new(), MemFs::new());
    let inner = Namespace::builder()
        .mount("/x", x.clone())
        .mount("/y", y.clone())
        .build();
    let outer = Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/n", inner.clone())
        .build();
    write_file(&outer, "/n/x/f", "through two namespaces").unwrap();
    assert_eq!(read_to_string(&x, "/f").unwrap(), "through two namespaces");
    assert_eq!(
        read_to_string(&inner, "/x/f").unwrap(),
        "through two namespaces"
    );
    assert_eq!(names(&outer, "/n"), ["x", "y"]);
    assert_eq!(names(&outer, "/"), ["n"]);
    let e = outer.stat("/n/x/nope").unwrap_err();
    assert_eq!(e.path(), "/n/x/nope");
    assert_eq!(kind(outer.rename("/n/x/f", "/n/y/f")), K::CrossDevice);
    assert_eq!(kind(outer.remove("/n/x")), K::PermissionDenied);
    assert_eq!(kind(outer.mkdir("/n/z")), K::PermissionDenied);
    write_file(&outer, "/n/y/g", "g").unwrap();
    let (dx, dy) = (
        outer.stat("/n/x/f").unwrap().device,
        outer.stat("/n/y/g").unwrap().device,
    );
    assert_ne!(
        dx, dy,
        "inner mounts keep distinct devices seen from outside"
    );
    assert_ne!(dx, outer.stat("/").unwrap().device);
    let (svc, inner_path) = outer.resolve("/n/x/f").unwrap();
    assert_eq!((svc.fs_type(), inner_path.as_str()), ("ns", "/x/f"));
}

#[test]
fn an_empty_namespace() {
    let ns = Namespace::default();
    assert!(names(&ns, "/").is_empty());
    assert_eq!(kind(ns.stat("/x")), K::NotFound);
    assert_eq!(kind(ns.remove("/")), K::PermissionDenied);
    assert_eq!(ns.mount_table(), "");
    assert!(ns.stat("/").unwrap().is_dir());
}
