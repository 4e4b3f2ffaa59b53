//! Namespaces are file services: the conformance suite, run on a few, with
//! the links part of it (a namespace follows the links of what it mounts).

use oanix_conformance::{
    Fixture, LinkSupport, check_links, check_read_only, check_writable, tree_of,
};
use oanix_prims::{CowFs, MapFs, MemFs};
use oanix_vfs::{FileKind, FileService, MountFlags, Namespace, read_to_string, write_file};

use crate::conformance::{NoHardLinks, NoLinks, fixture_with_links, map_fs};

#[test]
fn namespace_over_memfs_is_writable() {
    check_writable(|| Namespace::builder().mount("/", MemFs::new()).build());
}

#[test]
fn namespace_over_cowfs_is_writable() {
    check_writable(|| {
        Namespace::builder()
            .mount("/", CowFs::new(MapFs::empty()))
            .build()
    });
}

#[test]
fn nested_namespace_is_writable() {
    check_writable(|| {
        let inner = Namespace::builder().mount("/", MemFs::new()).build();
        Namespace::builder().mount("/", inner).build()
    });
}

#[test]
fn bound_directory_is_writable() {
    check_writable(|| {
        let fs = MemFs::new();
        fs.mkdir("/sub").unwrap();
        Namespace::builder()
            .mount("/", fs)
            .bind("/sub", "/")
            .build()
    });
}

#[test]
fn union_with_a_create_member_is_writable() {
    check_writable(|| {
        Namespace::builder()
            .mount("/", MemFs::new())
            .mount_with("/", MemFs::new(), MountFlags::before().create())
            .build()
    });
}

#[test]
fn namespace_over_mapfs_is_read_only() {
    let fixture = Fixture::standard();
    let ns = Namespace::builder().mount("/", map_fs(&fixture)).build();
    check_read_only(&ns, &fixture);
}

#[test]
fn namespace_over_mapfs_with_links_is_read_only() {
    let fixture = fixture_with_links();
    let ns = Namespace::builder().mount("/", map_fs(&fixture)).build();
    check_read_only(&ns, &fixture);
}

#[test]
fn namespace_over_memfs_keeps_links() {
    check_links(
        || Namespace::builder().mount("/", MemFs::new()).build(),
        LinkSupport::SymlinksAndHardLinks,
    );
}

#[test]
fn namespace_over_cowfs_keeps_links() {
    check_links(
        || {
            Namespace::builder()
                .mount("/", CowFs::new(MemFs::new()))
                .build()
        },
        LinkSupport::SymlinksAndHardLinks,
    );
}

#[test]
fn nested_namespace_keeps_links() {
    check_links(
        || {
            let inner = Namespace::builder().mount("/", MemFs::new()).build();
            Namespace::builder().mount("/", inner).build()
        },
        LinkSupport::SymlinksAndHardLinks,
    );
}

#[test]
fn namespace_over_services_without_links_answers_the_defaults() {
    check_links(
        || Namespace::builder().mount("/", NoLinks::default()).build(),
        LinkSupport::None,
    );
    check_links(
        || {
            Namespace::builder()
                .mount("/", NoHardLinks::default())
                .build()
        },
        LinkSupport::Symlinks,
    );
}

#[test]
fn links_made_in_one_mount_lead_into_another() {
    // The suite on a namespace of one mount, run here across two: a link in
    // /m resolves from the namespace's root, whichever mount holds it.
    let (root, m) = (MemFs::new(), MemFs::new());
    let ns = Namespace::builder()
        .mount("/", root.clone())
        .mount("/m", m.clone())
        .build();
    ns.mkdir("/d").unwrap();
    write_file(&ns, "/d/f", "root's").unwrap();
    write_file(&ns, "/m/g", "m's").unwrap();
    ns.symlink("/d/f", "/m/abs").unwrap();
    ns.symlink("../d", "/m/rel").unwrap();
    ns.symlink("../../../m/g", "/d/up").unwrap();
    ns.symlink("m", "/lm").unwrap();
    assert_eq!(read_to_string(&ns, "/m/abs").unwrap(), "root's");
    assert_eq!(read_to_string(&ns, "/m/rel/f").unwrap(), "root's");
    assert_eq!(read_to_string(&ns, "/d/up").unwrap(), "m's");
    assert_eq!(read_to_string(&ns, "/lm/rel/up").unwrap(), "m's");
    // The links live in the services that hold their names.
    assert_eq!(m.readlink("/abs").unwrap(), "/d/f");
    assert_eq!(root.readlink("/d/up").unwrap(), "../../../m/g");
    assert_eq!(ns.lstat("/lm").unwrap().kind, FileKind::Symlink);
    assert_eq!(ns.stat("/lm").unwrap().kind, FileKind::Directory);
    // Creating through a link creates in the target's mount.
    write_file(&ns, "/lm/new", "new").unwrap();
    assert_eq!(read_to_string(&m, "/new").unwrap(), "new");
    let tree = tree_of(&ns);
    assert_eq!(tree.link("/m/rel"), Some("../d"));
    assert_eq!(tree.links().count(), 4);
}
