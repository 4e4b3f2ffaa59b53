//! The primitive file systems against the reference model, with proptest:
//! without links, and with them (each service in `links::Follow`, which the
//! model's own resolution of links checks too).

use oanix_conformance::model::{ModelFs, OpSpace, run_ops};
use oanix_conformance::{Fixture, LinkSupport, tree_of};
use oanix_prims::{CowFs, MemFs};
use oanix_vfs::links::Follow;
use proptest::prelude::*;

use crate::conformance::map_fs;

/// Content named from the same alphabet as the generated paths, so that the
/// ops meet it: files at several depths, a non-empty and an empty directory.
fn fixture() -> Fixture {
    Fixture::new()
        .file("/a/b", "ab")
        .dir("/a/c")
        .file("/b", "bee")
        .file("/c/a/b", "cab")
        .file("/c/c", "")
}

/// [`fixture`] with links among its names: to a file, to a directory,
/// absolute, with `..`, dangling, and one to itself.
pub(crate) fn fixture_with_links() -> Fixture {
    fixture()
        .symlink("/a/a", "b")
        .symlink("/c/b", "../a")
        .symlink("/a/c/c", "/c/a")
        .symlink("/c/a/a", "missing")
        .symlink("/c/a/c", "c")
}

/// Ops of every kind, link ops included.
pub(crate) fn with_links() -> OpSpace {
    OpSpace::default().links(LinkSupport::SymlinksAndHardLinks)
}

/// 256 cases, or as many as `PROPTEST_CASES` says for a longer run; no
/// file of failures kept.
pub(crate) fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256);
    ProptestConfig {
        cases,
        // A failure prints its shortest case; nothing is written to the tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn memfs_agrees_with_the_model(ops in OpSpace::default().ops(40)) {
        run_ops(&MemFs::new(), &mut ModelFs::new(), &ops);
    }

    #[test]
    fn populated_memfs_agrees_with_the_model(ops in OpSpace::default().ops(40)) {
        let fixture = fixture();
        let fs = MemFs::new();
        fixture.populate(&fs).unwrap();
        run_ops(&fs, &mut ModelFs::from_fixture(&fixture), &ops);
    }

    #[test]
    fn cowfs_over_memfs_agrees_with_the_model(ops in OpSpace::default().ops(40)) {
        let fixture = fixture();
        let base = MemFs::new();
        fixture.populate(&base).unwrap();
        let cow = CowFs::new(base.clone());
        run_ops(&cow, &mut ModelFs::from_fixture(&fixture), &ops);
        prop_assert_eq!(tree_of(&base), fixture.tree().clone(), "the base is untouched");
        cow.discard();
        prop_assert_eq!(tree_of(&cow), fixture.tree().clone(), "discard shows the base again");
    }

    #[test]
    fn cowfs_over_mapfs_agrees_with_the_model(ops in OpSpace::default().ops(40)) {
        let fixture = fixture();
        let cow = CowFs::new(map_fs(&fixture));
        run_ops(&cow, &mut ModelFs::from_fixture(&fixture), &ops);
    }

    #[test]
    fn memfs_with_links_agrees_with_the_model(ops in with_links().ops(40)) {
        run_ops(&Follow(MemFs::new()), &mut ModelFs::new(), &ops);
    }

    #[test]
    fn memfs_holding_links_agrees_with_the_model(ops in with_links().ops(40)) {
        let fixture = fixture_with_links();
        let fs = MemFs::new();
        fixture.populate(&fs).unwrap();
        run_ops(&Follow(fs), &mut ModelFs::from_fixture(&fixture), &ops);
    }

    #[test]
    fn cowfs_over_memfs_with_links_agrees_with_the_model(ops in with_links().ops(40)) {
        let fixture = fixture_with_links();
        let base = MemFs::new();
        fixture.populate(&base).unwrap();
        let cow = CowFs::new(base.clone());
        run_ops(&Follow(&cow), &mut ModelFs::from_fixture(&fixture), &ops);
        prop_assert_eq!(tree_of(&base), fixture.tree().clone(), "the base is untouched");
        cow.discard();
        prop_assert_eq!(tree_of(&cow), fixture.tree().clone(), "discard shows the base again");
    }

    #[test]
    fn cowfs_over_mapfs_with_links_agrees_with_the_model(ops in with_links().ops(40)) {
        let fixture = fixture_with_links();
        let cow = CowFs::new(map_fs(&fixture));
        run_ops(&Follow(cow), &mut ModelFs::from_fixture(&fixture), &ops);
    }
}
