//! Namespaces are file services: the conformance suite, run on a few.

use oanix_conformance::{Fixture, check_read_only, check_writable};
use oanix_prims::{CowFs, MapFs, MemFs};
use oanix_vfs::{FileService, MountFlags, Namespace};

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
    let mut b = MapFs::builder();
    for (p, data) in fixture.files() {
        b = b.file(p, data.to_vec());
    }
    for d in fixture.dirs() {
        b = b.dir(d);
    }
    let ns = Namespace::builder().mount("/", b.build()).build();
    check_read_only(&ns, &fixture);
}
