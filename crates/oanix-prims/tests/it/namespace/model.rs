//! Namespaces of several mounts against the reference model, with proptest,
//! without links and with them (the model resolves links across mounts on
//! its own).

use oanix_conformance::model::{ModelFs, OpSpace, run_ops};
use oanix_conformance::{Fixture, LinkSupport};
use oanix_prims::{CowFs, MemFs};
use oanix_vfs::Namespace;
use proptest::prelude::*;

const MOUNTS: [&str; 4] = ["/", "/a", "/b", "/a/n"];

/// A MemFs at `/`, `/a` and `/a/n`, and a CowFs over `base` at `/b`.
fn namespace(base: MemFs) -> Namespace {
    Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/a", MemFs::new())
        .mount("/b", CowFs::new(base))
        .mount("/a/n", MemFs::new())
        .build()
}

/// MemFs at every mount point.
fn memfs_namespace() -> Namespace {
    Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/a", MemFs::new())
        .mount("/b", MemFs::new())
        .mount("/a/n", MemFs::new())
        .build()
}

/// [`space`] with the link ops.
fn with_links() -> OpSpace {
    space().links(LinkSupport::SymlinksAndHardLinks)
}

/// The paths the ops are made of: mount points (`a`, `b`, `n`) are among them.
fn space() -> OpSpace {
    OpSpace::new(["a", "b", "n"])
}

/// 256 cases, or as many as `PROPTEST_CASES` says for a longer run; no
/// file of failures kept.
fn config() -> ProptestConfig {
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
    fn namespace_agrees_with_the_model(ops in space().ops(40)) {
        let mut model = ModelFs::new().with_mounts(MOUNTS);
        run_ops(&namespace(MemFs::new()), &mut model, &ops);
    }

    #[test]
    fn namespace_over_content_agrees_with_the_model(ops in space().ops(40)) {
        // The CowFs at /b starts with content; the model sees it at /b.
        let base = Fixture::new().file("/a", "ba").file("/n/a", "bna").dir("/n/b");
        let seen = Fixture::new().file("/b/a", "ba").file("/b/n/a", "bna").dir("/b/n/b");
        let fs = MemFs::new();
        base.populate(&fs).unwrap();
        let mut model = ModelFs::from_fixture(&seen).with_mounts(MOUNTS);
        run_ops(&namespace(fs), &mut model, &ops);
    }

    #[test]
    fn nested_namespace_agrees_with_the_model(ops in space().ops(40)) {
        let outer = Namespace::builder().mount("/", namespace(MemFs::new())).build();
        let mut model = ModelFs::new().with_mounts(MOUNTS);
        run_ops(&outer, &mut model, &ops);
    }

    #[test]
    fn namespace_of_memfs_with_links_agrees_with_the_model(ops in with_links().ops(40)) {
        let mut model = ModelFs::new().with_mounts(MOUNTS);
        run_ops(&memfs_namespace(), &mut model, &ops);
    }

    #[test]
    fn namespace_with_links_agrees_with_the_model(ops in with_links().ops(40)) {
        let mut model = ModelFs::new().with_mounts(MOUNTS);
        run_ops(&namespace(MemFs::new()), &mut model, &ops);
    }

    #[test]
    fn namespace_over_links_agrees_with_the_model(ops in with_links().ops(40)) {
        // Links planted in the services, leading across mounts.
        let root = Fixture::new().symlink("/n", "a/n").symlink("/bb", "/b/n");
        let a = Fixture::new().dir("/b").symlink("/b/a", "../../b");
        let base = Fixture::new().file("/a", "ba").symlink("/n", "../a/n");
        let seen = Fixture::new()
            .symlink("/n", "a/n")
            .symlink("/bb", "/b/n")
            .dir("/a/b")
            .symlink("/a/b/a", "../../b")
            .file("/b/a", "ba")
            .symlink("/b/n", "../a/n");
        let (root_fs, a_fs, base_fs) = (MemFs::new(), MemFs::new(), MemFs::new());
        root.populate(&root_fs).unwrap();
        a.populate(&a_fs).unwrap();
        base.populate(&base_fs).unwrap();
        let ns = Namespace::builder()
            .mount("/", root_fs)
            .mount("/a", a_fs)
            .mount("/b", CowFs::new(base_fs))
            .mount("/a/n", MemFs::new())
            .build();
        let mut model = ModelFs::from_fixture(&seen).with_mounts(MOUNTS);
        run_ops(&ns, &mut model, &ops);
    }
}
