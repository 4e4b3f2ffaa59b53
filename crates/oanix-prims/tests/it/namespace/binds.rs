//! Binds: a path of the namespace made visible at a second place.

use oanix_prims::MemFs;
use oanix_vfs::{
    FileService, FsErrorKind as K, MountFlags, Namespace, OpenFlags, exists, read_to_string,
    write_file,
};

use super::{error, kind, names};

fn aliased() -> (MemFs, Namespace) {
    let m = MemFs::new();
    m.mkdir("/d").unwrap();
    write_file(&m, "/d/orig", "orig").unwrap();
    let ns = Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/m", m.clone())
        .bind("/m/d", "/alias")
        .build();
    (m, ns)
}

#[test]
fn writes_through_a_bind_land_at_the_original() {
    let (m, ns) = aliased();
    assert_eq!(read_to_string(&ns, "/alias/orig").unwrap(), "orig");
    write_file(&ns, "/alias/f", "via alias").unwrap();
    assert_eq!(read_to_string(&ns, "/m/d/f").unwrap(), "via alias");
    assert_eq!(read_to_string(&m, "/d/f").unwrap(), "via alias");
    ns.mkdir("/alias/sub").unwrap();
    assert!(m.stat("/d/sub").unwrap().is_dir());
    ns.rename("/alias/f", "/alias/sub/g").unwrap();
    assert_eq!(read_to_string(&m, "/d/sub/g").unwrap(), "via alias");
    ns.remove("/alias/sub/g").unwrap();
    assert!(!exists(&m, "/d/sub/g"));
    write_file(&ns, "/m/d/back", "the other way").unwrap();
    assert_eq!(read_to_string(&ns, "/alias/back").unwrap(), "the other way");
    assert_eq!(names(&ns, "/alias"), names(&ns, "/m/d"));
    assert_eq!(names(&ns, "/"), ["alias", "m"]);
}

#[test]
fn handles_through_a_bind_share_the_file() {
    let (_, ns) = aliased();
    let mut w = ns.open("/alias/orig", OpenFlags::write_only()).unwrap();
    let mut r = ns.open("/m/d/orig", OpenFlags::read_only()).unwrap();
    w.write_at(b"ORIG", 0).unwrap();
    let mut buf = [0; 4];
    r.read_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"ORIG");
}

#[test]
fn a_bind_is_a_mount_point() {
    let (_, ns) = aliased();
    assert_eq!(kind(ns.remove("/alias")), K::PermissionDenied);
    assert_eq!(kind(ns.rename("/alias", "/x")), K::PermissionDenied);
    assert_eq!(kind(ns.rename("/alias/orig", "/m/d/moved")), K::CrossDevice);
    assert_eq!(kind(ns.mkdir("/alias")), K::AlreadyExists);
    let (svc, inner) = ns.resolve("/alias/orig").unwrap();
    assert_eq!((svc.fs_type(), inner.as_str()), ("bind", "/orig"));
}

#[test]
fn errors_through_a_bind_name_the_alias() {
    let (_, ns) = aliased();
    let e = ns.stat("/alias/nope").unwrap_err();
    assert_eq!((e.kind(), e.path()), (K::NotFound, "/alias/nope"));
    let e = error(ns.open("/alias/orig/x", OpenFlags::read_only()));
    assert_eq!((e.kind(), e.path()), (K::NotADirectory, "/alias/orig/x"));
    let e = ns.readdir("/alias/orig").unwrap_err();
    assert_eq!(e.path(), "/alias/orig");
    let mut h = ns.open("/alias/orig", OpenFlags::read_only()).unwrap();
    let e = h.write(b"x").unwrap_err();
    assert_eq!((e.kind(), e.path()), (K::BadHandle, "/alias/orig"));
    let e = h.seek(std::io::SeekFrom::Current(-1)).unwrap_err();
    assert_eq!(e.path(), "/alias/orig");
}

#[test]
fn a_bind_sees_the_namespace_as_it_stood() {
    let (first, second) = (MemFs::new(), MemFs::new());
    write_file(&first, "/f", "first").unwrap();
    write_file(&second, "/f", "second").unwrap();
    let ns = Namespace::builder()
        .mount("/m", first)
        .bind("/m", "/old")
        .mount("/m", second)
        .build();
    assert_eq!(read_to_string(&ns, "/old/f").unwrap(), "first");
    assert_eq!(read_to_string(&ns, "/m/f").unwrap(), "second");
}

#[test]
fn a_file_can_be_bound() {
    let m = MemFs::new();
    write_file(&m, "/f", "file").unwrap();
    let ns = Namespace::builder()
        .mount("/m", m.clone())
        .bind("/m/f", "/g")
        .build();
    assert_eq!(read_to_string(&ns, "/g").unwrap(), "file");
    assert!(ns.stat("/g").unwrap().is_file());
    let mut h = ns.open("/g", OpenFlags::write_only()).unwrap();
    h.write_at(b"F", 0).unwrap();
    assert_eq!(read_to_string(&m, "/f").unwrap(), "File");
}

#[test]
fn a_bind_can_join_a_union() {
    let (bin, extra) = (MemFs::new(), MemFs::new());
    write_file(&bin, "/ls", "ls").unwrap();
    write_file(&extra, "/cc", "cc").unwrap();
    write_file(&extra, "/ls", "extra ls").unwrap();
    let ns = Namespace::builder()
        .mount("/bin", bin)
        .mount("/extra", extra.clone())
        .bind_with("/extra", "/bin", MountFlags::after().create())
        .build();
    assert_eq!(names(&ns, "/bin"), ["cc", "ls"]);
    assert_eq!(read_to_string(&ns, "/bin/ls").unwrap(), "ls");
    write_file(&ns, "/bin/new", "new").unwrap();
    assert!(exists(&extra, "/new"), "the bound member accepts new files");
}
