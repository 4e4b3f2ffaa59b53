//! The conformance suite, run on every primitive file system.

use oanix_conformance::{Fixture, StatSizes, check_fixed_names, check_read_only, check_writable};
use oanix_prims::{CowFs, FuncFs, MapFs, MemFs};

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

/// A `FuncFs` whose files compute the contents of `fixture`; with
/// `writable`, every file also takes writes (and ignores them).
fn func_fs(fixture: &Fixture, writable: bool) -> FuncFs {
    let mut b = FuncFs::builder();
    for (p, data) in fixture.files() {
        let data = data.to_vec();
        let read = move || Ok(data.clone());
        b = if writable {
            b.read_write(p, read, |_| Ok(()))
        } else {
            b.read_only(p, read)
        };
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

// `FuncFs` is not a read-only service (its files may take writes) and not a
// writable one (its names are fixed, its files computed): it keeps the
// fixed-names contract, with sizes unknown until read.
#[test]
fn funcfs_keeps_the_fixed_names_contract() {
    let fixture = Fixture::standard();
    check_fixed_names(&func_fs(&fixture, false), &fixture, StatSizes::Unknown);
    check_fixed_names(&func_fs(&fixture, true), &fixture, StatSizes::Unknown);
}

#[test]
fn funcfs_of_files_only_keeps_the_fixed_names_contract() {
    let fixture = Fixture::new().file("/status", "ok\n").file("/zero", "");
    check_fixed_names(&func_fs(&fixture, true), &fixture, StatSizes::Unknown);
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
