//! The conformance suite, run on every primitive file system.

use oanix_conformance::{Fixture, check_read_only, check_writable};
use oanix_prims::{CowFs, MapFs, MemFs};

/// A `MapFs` holding exactly `fixture`.
pub(crate) fn map_fs(fixture: &Fixture) -> MapFs {
    let mut b = MapFs::builder();
    for (p, data) in fixture.files() {
        b = b.file(p, data.to_vec());
    }
    for d in fixture.dirs() {
        b = b.dir(d);
    }
    b.build()
}

#[test]
fn memfs_is_writable() {
    check_writable(MemFs::new);
}

#[test]
fn cowfs_over_memfs_is_writable() {
    check_writable(|| CowFs::new(MemFs::new()));
}

#[test]
fn cowfs_over_mapfs_is_writable() {
    check_writable(|| CowFs::new(MapFs::empty()));
}

#[test]
fn cowfs_over_cowfs_is_writable() {
    check_writable(|| CowFs::new(CowFs::new(MapFs::empty())));
}

#[test]
fn mapfs_is_read_only() {
    let fixture = Fixture::standard();
    check_read_only(&map_fs(&fixture), &fixture);
}

#[test]
fn mapfs_with_an_odd_fixture_is_read_only() {
    let fixture = Fixture::new()
        .file("/deep/er/still/f", "deep")
        .file("/with space", "s")
        .file("/é", [0u8, 255, 10])
        .dir("/only/dirs/here");
    check_read_only(&map_fs(&fixture), &fixture);
}

#[test]
fn the_fixture_populates_a_memfs_exactly() {
    let fixture = Fixture::standard();
    let fs = MemFs::new();
    fixture.populate(&fs).unwrap();
    assert_eq!(oanix_conformance::tree_of(&fs), *fixture.tree());
    assert_eq!(
        oanix_conformance::tree_of(&map_fs(&fixture)),
        *fixture.tree()
    );
}
