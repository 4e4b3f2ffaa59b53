//! Saved and loaded, a snapshot is what it was; snapshots share bytes;
//! pruning keeps the newest and collects the rest.

use oanix_prims::MemFs;
use oanix_store::{MountState, SnapshotContent, Store, StoreError, StoredMount};
use oanix_vfs::MountFlags;
use proptest::prelude::*;

use crate::{put, sample};

#[test]
fn every_kind_of_mount_comes_back_equal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = tempfile::tempdir().expect("host");
    std::fs::write(host.path().join("base.txt"), "base").expect("host file");
    let store = Store::open(dir.path()).expect("store");
    let content = sample(host.path(), "one");
    let report = store.save("first", &content).expect("save");
    assert_eq!(report.shared, 0);
    assert!(report.bytes_written >= 300_000);
    let loaded = store.load("first").expect("load");
    assert_eq!(loaded, content);
    // Another process's view: a new handle on the same directory.
    let (again, name) = Store::locate(store.path_of("first")).expect("locate");
    assert_eq!(name, "first");
    assert_eq!(again.load(&name).expect("load again"), content);
    // Hard links stay one file.
    let MountState::Memory { tree, .. } = &loaded.mount("/tmp").expect("tmp").state else {
        panic!("not a memory mount");
    };
    let fs = MemFs::from_frozen(tree).expect("restore");
    oanix_vfs::write_file(&fs, "/hard.txt", "changed").expect("write");
    assert_eq!(
        oanix_vfs::read_to_string(&fs, "/a/b.txt").expect("read"),
        "changed"
    );
}

#[test]
fn a_second_snapshot_writes_only_what_changed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = tempfile::tempdir().expect("host");
    let store = Store::open(dir.path()).expect("store");
    let first = sample(host.path(), "same");
    store.save("a", &first).expect("save a");
    let report = store.save("b", &first).expect("save b");
    assert_eq!(report.bytes_written, 0, "nothing new: {report:?}");
    assert_eq!(report.shared, report.blobs);
    let second = sample(host.path(), "other");
    let report = store.save("c", &second).expect("save c");
    // The 300 000-byte file is the same in both: not written again.
    assert!(report.shared >= 1);
    assert!(report.bytes_written < 1000, "{report:?}");
    assert_eq!(store.load("c").expect("load c"), second);
}

#[test]
fn opening_reads_the_manifest_and_one_file_reads_one_blob() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = tempfile::tempdir().expect("host");
    let store = Store::open(dir.path()).expect("store");
    store.save("s", &sample(host.path(), "x")).expect("save");
    let snap = store.open_snapshot("s").expect("open");
    let info = snap.info();
    assert_eq!(info.name, "s");
    assert_eq!(info.source, "env-1");
    assert_eq!(info.files, 4, "{info:?}");
    assert_eq!(
        snap.read_file("/tmp", "/hard.txt").expect("read"),
        Some(b"bytes of b x".to_vec())
    );
    assert_eq!(
        snap.read_file("/workspace", "/new.txt").expect("read"),
        Some(b"x".to_vec())
    );
    assert_eq!(snap.read_file("/tmp", "/missing").expect("read"), None);
    assert_eq!(store.list().expect("list").len(), 1);
}

#[test]
fn prune_keeps_the_newest_and_collects_their_packs_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = tempfile::tempdir().expect("host");
    let store = Store::open(dir.path()).expect("store");
    for i in 0..4 {
        let mem = MemFs::new();
        put(&mem, "/only.bin", &vec![i as u8; 10_000]);
        let content = SnapshotContent::new(
            "env",
            vec![StoredMount::new(
                "/m",
                MountFlags::replace(),
                MountState::Memory {
                    tree: mem.freeze(),
                    capacity: 1 << 20,
                },
            )],
        );
        store.save(&format!("s{i}"), &content).expect("save");
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let packs = || {
        std::fs::read_dir(dir.path().join("packs"))
            .expect("packs")
            .count()
    };
    assert_eq!(packs(), 4);
    let report = store.prune(2).expect("prune");
    assert_eq!(report.removed, vec!["s0".to_owned(), "s1".to_owned()]);
    assert_eq!(report.gc.packs_removed, 2);
    assert_eq!(packs(), 2);
    for name in ["s2", "s3"] {
        store
            .open_snapshot(name)
            .expect("kept")
            .verify()
            .expect("verifies");
    }
    assert!(matches!(store.load("s0"), Err(StoreError::NotFound { .. })));
    let gc = store.remove("s2").expect("remove");
    assert_eq!(gc.packs_removed, 1);
    let _ = host;
}

#[test]
fn bad_names_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("store");
    let content = SnapshotContent::new("env", Vec::new());
    for name in ["", ".hidden", "a/b", "../up", "sp ace", &"x".repeat(101)] {
        let err = store.save(name, &content).expect_err(name);
        assert!(matches!(err, StoreError::BadName { .. }), "{name}: {err}");
    }
    assert!(matches!(
        Store::locate(dir.path().join("file.txt")),
        Err(StoreError::BadName { .. })
    ));
}

/// A file-system operation of the property test.
#[derive(Debug, Clone)]
enum Op {
    Write(u8, Vec<u8>),
    Mkdir(u8),
    Remove(u8),
    Link(u8, u8),
    Symlink(u8, u8),
}

fn name(i: u8) -> String {
    match i % 4 {
        0 => format!("/f{}", i % 7),
        1 => format!("/d{}", i % 3),
        _ => format!("/d{}/f{}", i % 3, i % 5),
    }
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<u8>(), proptest::collection::vec(any::<u8>(), 0..64))
            .prop_map(|(p, d)| Op::Write(p, d)),
        any::<u8>().prop_map(Op::Mkdir),
        any::<u8>().prop_map(Op::Remove),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Link(a, b)),
        (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Op::Symlink(a, b)),
    ]
}

fn apply(fs: &MemFs, op: &Op) {
    use oanix_vfs::FileService;
    // Operations that the tree refuses (a parent missing, a name taken) are
    // part of the sequence: they change nothing.
    let _ = match op {
        Op::Write(p, d) => oanix_vfs::write_file(fs, &name(*p), d),
        Op::Mkdir(p) => fs.mkdir(&name(*p)),
        Op::Remove(p) => oanix_vfs::remove_all(fs, &name(*p)),
        Op::Link(a, b) => fs.link(&name(*a), &name(*b)),
        Op::Symlink(a, b) => fs.symlink(&name(*a), &name(*b)),
    };
}

/// What a reader sees of a tree, times left out (the two sides ran the
/// same operations at different moments).
fn shape(tree: &oanix_prims::FrozenTree) -> Vec<(String, String, Option<usize>)> {
    tree.items()
        .into_iter()
        .map(|i| (i.path, format!("{:?}", i.entry), i.same_as))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any tree, saved and loaded, is equal to the original, and a tree
    /// restored from the loaded one behaves as one restored from the
    /// original under further operations.
    #[test]
    fn saved_and_loaded_trees_are_equal(
        before in proptest::collection::vec(op(), 0..40),
        after in proptest::collection::vec(op(), 0..20),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("store");
        let fs = MemFs::new();
        for o in &before {
            apply(&fs, o);
        }
        let tree = fs.freeze();
        let content = SnapshotContent::new("p", vec![StoredMount::new(
            "/m",
            MountFlags::replace(),
            MountState::Memory { tree: tree.clone(), capacity: 1 << 20 },
        )]);
        store.save("p", &content).expect("save");
        let loaded = store.load("p").expect("load");
        prop_assert_eq!(&loaded, &content);
        let MountState::Memory { tree: back, .. } = &loaded.mounts[0].state else {
            panic!("memory");
        };
        let (a, b) = (MemFs::from_frozen(&tree).expect("a"), MemFs::from_frozen(back).expect("b"));
        for o in &after {
            apply(&a, o);
            apply(&b, o);
        }
        prop_assert_eq!(shape(&a.freeze()), shape(&b.freeze()));
    }
}
