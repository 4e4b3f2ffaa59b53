//! Bad input: malformed paths, for every operation and in the builder.

use oanix_conformance::{check_malformed_paths, malformed_paths, tree_of};
use oanix_prims::{CowFs, MemFs};
use oanix_vfs::{FileService, FsErrorKind as K, MountFlags, Namespace, OpenFlags, write_file};

use super::kind;

fn busy_namespace() -> Namespace {
    let ns = Namespace::builder()
        .mount("/", MemFs::new())
        .mount("/a", MemFs::new())
        .mount("/b", CowFs::new(MemFs::new()))
        .mount("/a/n", MemFs::new())
        .mount("/u", MemFs::new())
        .mount_with("/u", MemFs::new(), MountFlags::after().create())
        .mount("/cap/http", MemFs::new())
        .bind("/a", "/alias")
        .build();
    for p in ["/f", "/a/f", "/b/f", "/a/n/f", "/u/f", "/cap/http/f"] {
        write_file(&ns, p, p).unwrap();
    }
    ns.mkdir("/a/d").unwrap();
    ns
}

#[test]
fn malformed_paths_change_nothing_in_a_namespace() {
    check_malformed_paths(&busy_namespace());
}

#[test]
fn malformed_paths_change_nothing_without_a_root_mount() {
    let ns = Namespace::builder()
        .mount("/cap/http", MemFs::new())
        .build();
    write_file(&ns, "/cap/http/f", "f").unwrap();
    check_malformed_paths(&ns);
}

#[test]
fn invalid_flags_are_refused_everywhere() {
    let ns = busy_namespace();
    let before = tree_of(&ns);
    let bad_flags = [
        OpenFlags::read_only().with_truncate(true),
        OpenFlags::directory().with_write(true),
        OpenFlags::directory().with_create(true),
    ];
    for p in [
        "/", "/f", "/a", "/a/new", "/cap", "/cap/new", "/u/new", "/alias/f", "/nope/x",
    ] {
        for flags in bad_flags {
            assert_eq!(
                kind(ns.open(p, flags)),
                K::InvalidInput,
                "open({p:?}, {flags:?})"
            );
        }
    }
    assert_eq!(tree_of(&ns), before);
}

#[test]
fn the_builder_refuses_entries_with_bad_paths() {
    for (bad, want) in malformed_paths() {
        let e = Namespace::builder()
            .mount("/ok", MemFs::new())
            .mount(&bad, MemFs::new())
            .try_build()
            .unwrap_err();
        assert_eq!(e.kind(), want, "mount at {bad:?}");
        // `build` is for literal paths: a bad one is a program error.
        let built = std::panic::catch_unwind(|| {
            Namespace::builder()
                .mount("/ok", MemFs::new())
                .mount(&bad, MemFs::new())
                .build()
        });
        let message = built
            .err()
            .and_then(|p| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        assert!(
            message.contains("invalid namespace") && message.contains("try_build"),
            "build with a mount at {bad:?}: {message:?}"
        );
        let e = Namespace::builder()
            .mount("/ok", MemFs::new())
            .bind("/ok", &bad)
            .try_build()
            .unwrap_err();
        assert_eq!(e.kind(), want, "bind to {bad:?}");
    }
}

#[test]
fn resolve_of_a_bad_path_is_none() {
    let ns = busy_namespace();
    for (bad, _) in malformed_paths() {
        assert!(ns.resolve(&bad).is_none(), "{bad:?}");
    }
}

#[test]
fn set_times_checks_the_path_first() {
    let ns = busy_namespace();
    for (bad, want) in malformed_paths() {
        assert_eq!(kind(ns.set_times(&bad, None, None)), want, "{bad:?}");
    }
}
