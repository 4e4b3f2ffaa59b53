//! Frozen trees: `MemFs::freeze` and `CowFs::freeze`, and the file systems
//! started from them, against the reference model. Any ops, a freeze, more
//! ops in the parent, then a start from the frozen copy and ops in it: the
//! child sees exactly the frozen state plus its own changes, the parent
//! only its own, and the frozen copy never changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use oanix_conformance::model::{ModelFs, run_ops};
use oanix_conformance::tree_of;
use oanix_prims::{CowFs, DecodeError, FORMAT_VERSION, FrozenEntry, FrozenTree, MemFs, MemLimits};
use oanix_vfs::links::Follow;
use oanix_vfs::{FileService, FsErrorKind, OpenFlags, read_file, read_to_string, write_file};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

use crate::conformance::map_fs;
use crate::model::{config, fixture_with_links, with_links};

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_memfs_started_from_a_freeze_sees_it_and_its_own_changes(
        before in with_links().ops(25),
        parent_after in with_links().ops(15),
        child_after in with_links().ops(15),
    ) {
        let fs = MemFs::new();
        let mut model = ModelFs::new();
        run_ops(&Follow(&fs), &mut model, &before);
        let frozen = fs.freeze();
        let at_freeze = model.clone();

        run_ops(&Follow(&fs), &mut model, &parent_after);
        let child = MemFs::from_frozen(&frozen).unwrap();
        let mut child_model = at_freeze.clone();
        run_ops(&Follow(&child), &mut child_model, &child_after);

        // The parent kept only its own changes; the frozen copy none.
        run_ops(&Follow(&fs), &mut model, &[]);
        run_ops(&Follow(MemFs::from_frozen(&frozen).unwrap()), &mut at_freeze.clone(), &[]);
        // Encoded and decoded, the frozen copy is equal to itself and
        // starts the same file system.
        let decoded = FrozenTree::decode(&frozen.encode()).unwrap();
        prop_assert_eq!(&decoded, &frozen);
        run_ops(&Follow(MemFs::from_frozen(&decoded).unwrap()), &mut at_freeze.clone(), &[]);
        // Frozen again, the child's state is equal to the child's tree.
        let again = MemFs::from_frozen(&child.freeze()).unwrap();
        prop_assert_eq!(tree_of(&again), tree_of(&child));
        prop_assert_eq!(child.freeze(), again.freeze());
    }

    #[test]
    fn a_cowfs_started_from_a_freeze_keeps_its_changes_relative_to_the_base(
        before in with_links().ops(25),
        parent_after in with_links().ops(15),
        child_after in with_links().ops(15),
    ) {
        let fixture = fixture_with_links();
        let base: Arc<dyn FileService> = Arc::new(map_fs(&fixture));
        let cow = CowFs::from_arc(Arc::clone(&base));
        let mut model = ModelFs::from_fixture(&fixture);
        run_ops(&Follow(&cow), &mut model, &before);
        let frozen = cow.freeze();
        let at_freeze = model.clone();

        run_ops(&Follow(&cow), &mut model, &parent_after);
        let child = CowFs::from_frozen(Arc::clone(&base), &frozen, MemLimits::default()).unwrap();
        let mut child_model = at_freeze.clone();
        run_ops(&Follow(&child), &mut child_model, &child_after);
        run_ops(&Follow(&cow), &mut model, &[]);

        // What the child reports changed is what one overlay given the same
        // ops reports.
        let reference = CowFs::from_arc(Arc::clone(&base));
        let mut reference_model = ModelFs::from_fixture(&fixture);
        run_ops(&Follow(&reference), &mut reference_model, &before);
        run_ops(&Follow(&reference), &mut reference_model, &child_after);
        prop_assert_eq!(child.changes().unwrap(), reference.changes().unwrap());
        prop_assert_eq!(tree_of(&base), fixture.tree().clone(), "the base is untouched");
    }
}

#[test]
fn a_freeze_shares_bytes_until_a_write_copies_them() {
    let fs = MemFs::new();
    write_file(&fs, "/big", vec![7u8; 1 << 20]).unwrap();
    let frozen = fs.freeze();
    assert_eq!((frozen.len(), frozen.bytes()), (1, 1 << 20));
    // Writing the parent copies its bytes; the frozen copy keeps the old.
    let mut h = fs.open("/big", OpenFlags::read_write()).unwrap();
    h.write_at(b"new", 0).unwrap();
    let child = MemFs::from_frozen(&frozen).unwrap();
    assert_eq!(&read_file(&child, "/big").unwrap()[..3], &[7, 7, 7]);
    assert_eq!(&read_file(&fs, "/big").unwrap()[..3], b"new");
    // A handle opened before the freeze writes only its own file system.
    let mut early = child.open("/big", OpenFlags::read_write()).unwrap();
    let frozen_child = child.freeze();
    early.write_at(b"late", 0).unwrap();
    let grandchild = MemFs::from_frozen(&frozen_child).unwrap();
    assert_eq!(&read_file(&grandchild, "/big").unwrap()[..4], &[7, 7, 7, 7]);
    assert_eq!(&read_file(&child, "/big").unwrap()[..4], b"late");
}

#[test]
fn hard_links_stay_one_file_and_identifiers_are_kept() {
    let fs = MemFs::new();
    fs.mkdir("/d").unwrap();
    write_file(&fs, "/d/one", "x").unwrap();
    fs.link("/d/one", "/two").unwrap();
    fs.symlink("d/one", "/ln").unwrap();
    let child = MemFs::from_frozen(&fs.freeze()).unwrap();
    assert_eq!(child.stat("/two").unwrap().nlink, 2);
    assert_eq!(
        child.stat("/d/one").unwrap().id,
        fs.stat("/d/one").unwrap().id
    );
    assert_eq!(child.readlink("/ln").unwrap(), "d/one");
    write_file(&child, "/two", "shared").unwrap();
    assert_eq!(read_to_string(&child, "/d/one").unwrap(), "shared");
    assert_eq!(read_to_string(&fs, "/d/one").unwrap(), "x");
    // New entries get identifiers no frozen entry has.
    write_file(&child, "/new", "").unwrap();
    let ids: Vec<u64> = ["/d", "/d/one", "/ln"]
        .iter()
        .map(|p| child.lstat(p).unwrap().id)
        .collect();
    assert!(!ids.contains(&child.stat("/new").unwrap().id));
}

#[test]
fn entries_are_listed_parents_first_in_name_order() {
    let fs = MemFs::new();
    fs.mkdir("/b").unwrap();
    write_file(&fs, "/b/z", "z").unwrap();
    write_file(&fs, "/a", "a").unwrap();
    fs.symlink("a", "/c").unwrap();
    let frozen = fs.freeze();
    let listed: Vec<(String, FrozenEntry<'_>)> = frozen
        .entries_iter()
        .into_iter()
        .map(|(p, _, e)| (p, e))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("/a".to_owned(), FrozenEntry::File(b"a")),
            ("/b".to_owned(), FrozenEntry::Dir),
            ("/b/z".to_owned(), FrozenEntry::File(b"z")),
            ("/c".to_owned(), FrozenEntry::Symlink("a")),
        ]
    );
    assert!(FrozenTree::empty().is_empty());
    assert_ne!(frozen, FrozenTree::empty());
}

#[test]
fn a_start_beyond_the_limits_is_refused() {
    let fs = MemFs::new();
    write_file(&fs, "/f", vec![0u8; 4096]).unwrap();
    let frozen = fs.freeze();
    let small = MemLimits {
        capacity: 1024,
        ..MemLimits::default()
    };
    let e = MemFs::from_frozen_with_limits(&frozen, small).unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::NoSpace);
    let few = MemLimits {
        max_entries: 0,
        ..MemLimits::default()
    };
    let e = MemFs::from_frozen_with_limits(&frozen, few).unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::NoSpace);
    let narrow = MemLimits {
        max_file_size: 100,
        ..MemLimits::default()
    };
    let e = MemFs::from_frozen_with_limits(&frozen, narrow).unwrap_err();
    assert_eq!(e.kind(), FsErrorKind::TooLarge);
}

/// A start from a frozen tree builds its index at its first use: until
/// then it counts its bytes and freezes back to the same tree, and the
/// first uses, from many threads at once, all see the whole tree.
#[test]
fn a_start_is_built_at_its_first_use_once() {
    let fs = MemFs::new();
    for i in 0..200 {
        write_file(&fs, &format!("/f{i}"), format!("{i}")).unwrap();
    }
    fs.link("/f7", "/seven").unwrap();
    let frozen = fs.freeze();
    let child = MemFs::from_frozen(&frozen).unwrap();
    assert_eq!(child.used_bytes(), frozen.bytes());
    assert_eq!(
        child.freeze(),
        frozen,
        "an untouched start freezes back to its tree"
    );
    let child = Arc::new(child);
    let readers: Vec<_> = (0..8)
        .map(|t| {
            let c = Arc::clone(&child);
            std::thread::spawn(move || {
                for i in (t..200).step_by(8) {
                    assert_eq!(
                        read_to_string(&*c, &format!("/f{i}")).unwrap(),
                        format!("{i}")
                    );
                }
                c.readdir("/").unwrap().len()
            })
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), 201);
    }
    write_file(&*child, "/seven", "changed").unwrap();
    assert_eq!(read_to_string(&*child, "/f7").unwrap(), "changed");
    assert_eq!(read_to_string(&fs, "/f7").unwrap(), "7");
    assert_ne!(child.freeze(), frozen);
}

/// A writer writes `i` to `/a`, then `i` to `/b`, for rising `i`; every
/// freeze meanwhile sees a point in time: `/b` is `/a` or one behind it,
/// never ahead (the freeze reads `/a` first).
#[test]
fn a_freeze_is_one_point_in_time_while_a_writer_runs() {
    let fs = MemFs::new();
    write_file(&fs, "/a", "0").unwrap();
    write_file(&fs, "/b", "0").unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (fs, stop) = (fs.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut a = fs.open("/a", OpenFlags::read_write()).unwrap();
            let mut b = fs.open("/b", OpenFlags::read_write()).unwrap();
            let mut i: u64 = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let text = format!("{i:020}");
                a.write_at(text.as_bytes(), 0).unwrap();
                b.write_at(text.as_bytes(), 0).unwrap();
            }
            i
        })
    };
    let read = |tree: &FrozenTree, p: &str| -> u64 {
        let child = MemFs::from_frozen(tree).unwrap();
        read_to_string(&child, p).unwrap().trim().parse().unwrap()
    };
    for _ in 0..2000 {
        let frozen = fs.freeze();
        let (a, b) = (read(&frozen, "/a"), read(&frozen, "/b"));
        assert!(a == b || a == b + 1, "a freeze saw /a = {a} and /b = {b}");
    }
    stop.store(true, Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);
}

fn sample() -> FrozenTree {
    let fs = MemFs::new();
    fs.mkdir("/src").unwrap();
    write_file(&fs, "/src/main.rs", "fn main() {}\n").unwrap();
    fs.link("/src/main.rs", "/main.rs").unwrap();
    fs.symlink("src", "/code").unwrap();
    write_file(&fs, "/empty", "").unwrap();
    fs.freeze()
}

#[test]
fn encoded_trees_come_back_equal_with_their_links() {
    let frozen = sample();
    let decoded = FrozenTree::decode(&frozen.encode()).unwrap();
    assert_eq!(decoded, frozen);
    assert_eq!(
        (decoded.len(), decoded.bytes()),
        (frozen.len(), frozen.bytes())
    );
    let fs = MemFs::from_frozen(&decoded).unwrap();
    assert_eq!(fs.stat("/main.rs").unwrap().nlink, 2);
    write_file(&fs, "/main.rs", "changed").unwrap();
    assert_eq!(read_to_string(&fs, "/src/main.rs").unwrap(), "changed");
    assert_eq!(fs.readlink("/code").unwrap(), "src");
    assert_eq!(
        FrozenTree::decode(&FrozenTree::empty().encode()).unwrap(),
        FrozenTree::empty()
    );
}

#[test]
fn every_flipped_byte_and_every_cut_is_refused_clearly() {
    let bytes = sample().encode();
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x40;
        let e = FrozenTree::decode(&bad).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::Checksum | DecodeError::BadMagic | DecodeError::Version { .. }
            ),
            "byte {i} flipped: {e}"
        );
    }
    for len in 0..bytes.len() {
        let e = FrozenTree::decode(&bytes[..len]).unwrap_err();
        assert!(
            matches!(e, DecodeError::TooShort { .. } | DecodeError::Checksum),
            "cut at {len}: {e}"
        );
    }
    let mut other = bytes.clone();
    other[8..12].copy_from_slice(&(FORMAT_VERSION + 1).to_le_bytes());
    let e = FrozenTree::decode(&other).unwrap_err();
    assert_eq!(
        e,
        DecodeError::Version {
            found: FORMAT_VERSION + 1
        }
    );
    assert!(e.to_string().contains("version 2"), "{e}");
}

/// Bytes with a valid checksum over `body` (as a faulty writer makes).
fn sealed(mut body: Vec<u8>) -> Vec<u8> {
    let sum = Sha256::digest(&body);
    body.extend_from_slice(&sum);
    body
}

fn entry(kind: u8, path: &str, payload: &[u8]) -> Vec<u8> {
    let mut e = vec![kind];
    e.extend_from_slice(&(path.len() as u32).to_le_bytes());
    e.extend_from_slice(path.as_bytes());
    e.extend_from_slice(&[0; 32]);
    e.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    e.extend_from_slice(payload);
    e
}

fn with_entries(entries: &[Vec<u8>]) -> Vec<u8> {
    let mut body = b"OANIXFT\0".to_vec();
    body.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    body.extend_from_slice(&(entries.len() as u64).to_le_bytes());
    for e in entries {
        body.extend_from_slice(e);
    }
    sealed(body)
}

#[test]
fn malformed_entries_are_named_even_with_a_valid_checksum() {
    let cases: Vec<(Vec<Vec<u8>>, &str)> = vec![
        (
            vec![entry(1, "/a/b", b"x")],
            "its parent comes later or not at all",
        ),
        (
            vec![entry(1, "/a", b"x"), entry(1, "/a/b", b"")],
            "its parent is not a directory",
        ),
        (
            vec![entry(1, "/a", b""), entry(1, "/a", b"")],
            "listed twice",
        ),
        (vec![entry(1, "a", b"")], "not a canonical path"),
        (vec![entry(1, "/a/../b", b"")], "not a canonical path"),
        (vec![entry(9, "/a", b"")], "unknown kind 9"),
        (
            vec![entry(3, "/a", &5u64.to_le_bytes())],
            "which is no file",
        ),
        (vec![entry(2, "/a", &[0xff])], "not UTF-8"),
    ];
    for (entries, want) in cases {
        let e = FrozenTree::decode(&with_entries(&entries)).unwrap_err();
        assert!(
            matches!(e, DecodeError::Entry { .. }) && e.to_string().contains(want),
            "want {want:?}, got {e}"
        );
    }
    // A count larger than what follows.
    let mut body = b"OANIXFT\0".to_vec();
    body.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    body.extend_from_slice(&3u64.to_le_bytes());
    body.extend_from_slice(&entry(0, "/d", b""));
    let e = FrozenTree::decode(&sealed(body)).unwrap_err();
    assert!(e.to_string().starts_with("entry 1:"), "{e}");
    // Bytes left over after the last entry.
    let mut trailing = with_entries(&[entry(0, "/d", b"")]);
    let at = trailing.len() - 32;
    trailing.truncate(at);
    trailing.push(7);
    let e = FrozenTree::decode(&sealed(trailing)).unwrap_err();
    assert!(e.to_string().contains("after the last entry"), "{e}");
}

/// What a reader sees of a tree: each path, and a file's bytes or a
/// link's target.
fn seen(tree: &FrozenTree) -> Vec<(String, String)> {
    tree.items()
        .into_iter()
        .map(|i| (i.path, format!("{:?}", i.entry)))
        .collect()
}

/// Freezes taken one after another, with a few changes between them, reuse
/// what did not change: each is exactly the tree at its moment, and none
/// taken earlier changes afterwards.
#[test]
fn successive_freezes_are_each_their_moment() {
    let fs = MemFs::new();
    for d in 0..8 {
        fs.mkdir(&format!("/d{d}")).unwrap();
        for f in 0..8 {
            write_file(&fs, &format!("/d{d}/f{f}"), format!("{d}.{f}")).unwrap();
        }
    }
    fs.symlink("d0/f0", "/link").unwrap();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut kept: Vec<(FrozenTree, Vec<(String, String)>)> = Vec::new();
    for round in 0..40 {
        for _ in 0..(next() % 4) {
            let (d, f) = (next() % 8, next() % 10);
            let p = format!("/d{d}/f{f}");
            match next() % 5 {
                0 => {
                    let _ = fs.remove(&p);
                }
                1 => {
                    let _ = fs.rename(&p, &format!("/d{}/r{round}", next() % 8));
                }
                2 => {
                    let _ = fs.mkdir(&format!("/d{d}/sub{round}"));
                }
                _ => {
                    let _ = write_file(&fs, &p, format!("round {round}"));
                }
            }
        }
        let frozen = fs.freeze();
        let copy = MemFs::from_frozen(&frozen).unwrap();
        let expect = seen(&frozen);
        assert_eq!(seen(&copy.freeze()), expect, "round {round}");
        let walked: Vec<_> = oanix_vfs::walk(&fs, "/").map(Result::unwrap).collect();
        assert_eq!(walked.len(), expect.len(), "round {round}");
        for e in walked {
            if e.kind.is_file() {
                let bytes = read_file(&fs, &e.path).unwrap();
                let listed = expect
                    .iter()
                    .find(|(p, _)| *p == e.path)
                    .unwrap_or_else(|| panic!("round {round}: {} not frozen", e.path));
                assert_eq!(listed.1, format!("{:?}", FrozenEntry::File(&bytes)));
            }
        }
        kept.push((frozen, expect));
        for (i, (t, items)) in kept.iter().enumerate() {
            assert_eq!(&seen(t), items, "freeze {i} changed by round {round}");
        }
    }
}
