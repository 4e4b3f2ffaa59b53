//! The checks of the fixed-names contract: services whose set of files is
//! fixed (the task, the logs, computed files), run on a service holding a
//! fixture.

use oanix_vfs::{FileService, FsErrorKind, OpenFlags, path};

use crate::check::{ReadOnlyCheck, StatSizes};
use crate::fixture::Fixture;
use crate::read_only::{
    MISSING, Picks, handles_read_and_seek, ids_are_stable_and_distinct, lookup_errors,
    malformed_paths_change_nothing, open_directories, picks, read_handles_refuse_writes,
    readdir_the_fixture, reads_the_fixture, report, stat_the_fixture,
};
use crate::tree::Node;
use crate::writable::expect_kind;

/// The checks for a service that reports exact sizes.
pub(crate) const EXACT: &[ReadOnlyCheck] = &[
    ReadOnlyCheck::new("reads_the_fixture", reads_the_fixture),
    ReadOnlyCheck::new("stat_the_fixture", stat_the_fixture),
    ReadOnlyCheck::new("readdir_the_fixture", readdir_the_fixture),
    ReadOnlyCheck::new("listings_agree_with_stat", listings_agree_with_stat),
    ReadOnlyCheck::new("open_directories", open_directories),
    ReadOnlyCheck::new("lookup_errors", lookup_errors),
    ReadOnlyCheck::new("handles_read_and_seek", handles_read_and_seek),
    ReadOnlyCheck::new("read_handles_refuse_writes", read_handles_refuse_writes),
    ReadOnlyCheck::new("access_agrees_with_stat", access_agrees_with_stat),
    ReadOnlyCheck::new("creating_is_refused", creating_is_refused),
    ReadOnlyCheck::new("mkdir_is_refused", mkdir_is_refused),
    ReadOnlyCheck::new("remove_is_refused", remove_is_refused),
    ReadOnlyCheck::new("rename_is_refused", rename_is_refused),
    ReadOnlyCheck::new(
        "malformed_paths_change_nothing",
        malformed_paths_change_nothing,
    ),
    ReadOnlyCheck::new("ids_are_stable_and_distinct", ids_are_stable_and_distinct),
    ReadOnlyCheck::new("error_messages_name_the_path", error_messages_name_the_path),
];

/// The checks for a service whose files are streams of unknown size: the
/// same, with sizes of 0 expected from `stat` and listings.
pub(crate) const UNKNOWN: &[ReadOnlyCheck] = &[
    ReadOnlyCheck::new("reads_the_fixture", reads_the_fixture),
    ReadOnlyCheck::new("stat_kinds_and_zero_sizes", stat_kinds_and_zero_sizes),
    ReadOnlyCheck::new("readdir_names_and_kinds", readdir_names_and_kinds),
    ReadOnlyCheck::new("listings_agree_with_stat", listings_agree_with_stat),
    ReadOnlyCheck::new("open_directories", open_directories),
    ReadOnlyCheck::new("lookup_errors", lookup_errors),
    ReadOnlyCheck::new("handles_read_and_seek", handles_read_and_seek),
    ReadOnlyCheck::new("read_handles_refuse_writes", read_handles_refuse_writes),
    ReadOnlyCheck::new("access_agrees_with_stat", access_agrees_with_stat),
    ReadOnlyCheck::new("creating_is_refused", creating_is_refused),
    ReadOnlyCheck::new("mkdir_is_refused", mkdir_is_refused),
    ReadOnlyCheck::new("remove_is_refused", remove_is_refused),
    ReadOnlyCheck::new("rename_is_refused", rename_is_refused),
    ReadOnlyCheck::new(
        "malformed_paths_change_nothing",
        malformed_paths_change_nothing,
    ),
    ReadOnlyCheck::new("ids_are_stable_and_distinct", ids_are_stable_and_distinct),
    ReadOnlyCheck::new("error_messages_name_the_path", error_messages_name_the_path),
];

pub(crate) fn checks(sizes: StatSizes) -> &'static [ReadOnlyCheck] {
    match sizes {
        StatSizes::Exact => EXACT,
        StatSizes::Unknown => UNKNOWN,
    }
}

fn refused(
    failures: &mut Vec<String>,
    what: impl FnOnce() -> String,
    r: oanix_vfs::Result<impl Sized>,
) {
    expect_kind(failures, what, r, FsErrorKind::PermissionDenied);
}

fn stat_kinds_and_zero_sizes(fs: &dyn FileService, fixture: &Fixture) {
    assert!(ok!(fs.stat("/")).is_dir(), "the root is a directory");
    for (p, node) in fixture.tree().iter() {
        let md = ok!(fs.stat(p));
        assert_eq!(md.kind, node.kind(), "stat({p:?}).kind");
        if let Node::File(_) = node {
            assert_eq!(md.size, 0, "stat({p:?}).size of a file of unknown size");
        }
    }
}

fn readdir_names_and_kinds(fs: &dyn FileService, fixture: &Fixture) {
    for dir in std::iter::once("/").chain(fixture.dirs()) {
        let got: Vec<(String, oanix_vfs::FileKind, u64)> = ok!(fs.readdir(dir))
            .into_iter()
            .map(|e| (e.name, e.kind, e.size))
            .collect();
        let want: Vec<(String, oanix_vfs::FileKind, u64)> = fixture
            .children(dir)
            .map(|(name, node)| (name.to_owned(), node.kind(), 0))
            .collect();
        assert_eq!(got, want, "readdir({dir:?})");
    }
}

/// Every entry of every listing says what `stat` of its path says (kind,
/// id and, for files, size).
fn listings_agree_with_stat(fs: &dyn FileService, _fixture: &Fixture) {
    let mut failures = Vec::new();
    let mut dirs = vec!["/".to_owned()];
    while let Some(dir) = dirs.pop() {
        for e in ok!(fs.readdir(&dir)) {
            let p = path::join(&dir, &e.name);
            let md = ok!(fs.stat(&p));
            let size = if e.is_dir() { 0 } else { e.size };
            let stat_size = if md.is_dir() { 0 } else { md.size };
            if (e.kind, e.id, size) != (md.kind, md.id, stat_size) {
                failures.push(format!(
                    "readdir({dir:?}) lists {:?} as {:?} (id {}, size {size}), stat({p:?}) says {:?} (id {}, size {stat_size})",
                    e.name, e.kind, e.id, md.kind, md.id
                ));
            }
            if e.is_dir() {
                dirs.push(p);
            }
        }
    }
    report(failures);
}

/// A file `stat` reports read-only refuses to be opened for writing with
/// `ReadOnly`; any other opens for writing (nothing is written).
fn access_agrees_with_stat(fs: &dyn FileService, fixture: &Fixture) {
    let mut failures = Vec::new();
    for (p, _) in fixture.files() {
        let readonly = ok!(fs.stat(p)).readonly;
        for flags in [
            OpenFlags::write_only(),
            OpenFlags::read_write(),
            OpenFlags::default().with_append(true),
        ] {
            match (fs.open(p, flags), readonly) {
                (Ok(h), false) => {
                    if ok!(h.stat()).readonly {
                        failures.push(format!("a handle on {p} opened to write stats read-only"));
                    }
                }
                (Err(e), true) if e.kind() == FsErrorKind::ReadOnly => {}
                (Ok(_), true) => failures.push(format!(
                    "open({p:?}, {flags:?}) succeeded, but stat says it is read-only"
                )),
                (Err(e), _) => failures.push(format!(
                    "open({p:?}, {flags:?}) gave {e}; stat says readonly: {readonly}"
                )),
            }
        }
    }
    report(failures);
}

fn creating_is_refused(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, dir, .. } = picks(fixture);
    let new_in_dir = path::join(dir, "oanix-conformance-new");
    let mut failures = Vec::new();
    let creating = [
        OpenFlags::create_truncate(),
        OpenFlags::write_only().with_create(true),
        OpenFlags::append_create(),
        OpenFlags::write_only().with_create_new(true),
        OpenFlags::read_only().with_create(true),
    ];
    for p in [MISSING, new_in_dir.as_str()] {
        for flags in creating {
            refused(
                &mut failures,
                || format!("open({p:?}, {flags:?})"),
                fs.open(p, flags),
            );
        }
    }
    let below_missing = format!("{MISSING}/x");
    let below_file = format!("{file}/x");
    for (p, want) in [
        (below_missing.as_str(), FsErrorKind::NotFound),
        (below_file.as_str(), FsErrorKind::NotADirectory),
    ] {
        for flags in creating {
            expect_kind(
                &mut failures,
                || format!("open({p:?}, {flags:?})"),
                fs.open(p, flags),
                want,
            );
        }
    }
    for p in ["/", dir, file] {
        expect_kind(
            &mut failures,
            || format!("open({p:?}, create_new)"),
            fs.open(p, OpenFlags::write_only().with_create_new(true)),
            FsErrorKind::AlreadyExists,
        );
    }
    for p in ["/", dir] {
        for flags in [OpenFlags::write_only(), OpenFlags::create_truncate()] {
            expect_kind(
                &mut failures,
                || format!("open({p:?}, {flags:?})"),
                fs.open(p, flags),
                FsErrorKind::IsADirectory,
            );
        }
    }
    report(failures);
}

fn mkdir_is_refused(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, dir, .. } = picks(fixture);
    let new_in_dir = path::join(dir, "oanix-conformance-new");
    let below_missing = format!("{MISSING}/x");
    let below_file = format!("{file}/x");
    let mut failures = Vec::new();
    for p in [MISSING, new_in_dir.as_str()] {
        refused(&mut failures, || format!("mkdir({p:?})"), fs.mkdir(p));
    }
    for (p, want) in [
        ("/", FsErrorKind::AlreadyExists),
        (dir, FsErrorKind::AlreadyExists),
        (file, FsErrorKind::AlreadyExists),
        (below_missing.as_str(), FsErrorKind::NotFound),
        (below_file.as_str(), FsErrorKind::NotADirectory),
    ] {
        expect_kind(&mut failures, || format!("mkdir({p:?})"), fs.mkdir(p), want);
    }
    report(failures);
}

fn remove_is_refused(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, all, .. } = picks(fixture);
    let mut failures = Vec::new();
    for p in std::iter::once("/").chain(all) {
        refused(&mut failures, || format!("remove({p:?})"), fs.remove(p));
    }
    let slash = format!("{file}/");
    for (p, want) in [
        (MISSING, FsErrorKind::NotFound),
        (slash.as_str(), FsErrorKind::NotADirectory),
    ] {
        expect_kind(
            &mut failures,
            || format!("remove({p:?})"),
            fs.remove(p),
            want,
        );
    }
    report(failures);
}

fn rename_is_refused(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, dir, all } = picks(fixture);
    let new_in_dir = path::join(dir, "oanix-conformance-new");
    let below_missing = format!("{MISSING}/x");
    let mut failures = Vec::new();
    for p in &all {
        refused(
            &mut failures,
            || format!("rename({p:?}, {MISSING:?})"),
            fs.rename(p, MISSING),
        );
        // The same name: nothing happens, as the contract says.
        if let Err(e) = fs.rename(p, p) {
            failures.push(format!("rename({p:?}, {p:?}) gave {e}, expected nothing"));
        }
    }
    refused(
        &mut failures,
        || format!("rename({file:?}, {new_in_dir:?})"),
        fs.rename(file, &new_in_dir),
    );
    if let Some((other, _)) = fixture.files().find(|(p, _)| *p != file) {
        refused(
            &mut failures,
            || format!("rename({file:?}, {other:?})"),
            fs.rename(file, other),
        );
    }
    for (from, to) in [("/", MISSING), (file, "/")] {
        refused(
            &mut failures,
            || format!("rename({from:?}, {to:?})"),
            fs.rename(from, to),
        );
    }
    for (from, to, want) in [
        (MISSING, file, FsErrorKind::NotFound),
        (file, below_missing.as_str(), FsErrorKind::NotFound),
    ] {
        expect_kind(
            &mut failures,
            || format!("rename({from:?}, {to:?})"),
            fs.rename(from, to),
            want,
        );
    }
    // A directory over a file: only when the file is not inside it (that
    // would be a move into itself, rule 3).
    if dir != "/" && !path::starts_with(file, dir) {
        for (from, to, want) in [
            (file, dir, FsErrorKind::IsADirectory),
            (dir, file, FsErrorKind::NotADirectory),
        ] {
            expect_kind(
                &mut failures,
                || format!("rename({from:?}, {to:?})"),
                fs.rename(from, to),
                want,
            );
        }
        let inside = path::join(dir, "oanix-conformance-inside");
        expect_kind(
            &mut failures,
            || format!("rename({dir:?}, {inside:?})"),
            fs.rename(dir, &inside),
            FsErrorKind::InvalidInput,
        );
    }
    report(failures);
}

fn error_messages_name_the_path(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, .. } = picks(fixture);
    let names_path = |e: oanix_vfs::FsError, path: &str| {
        let msg = e.to_string();
        assert!(
            msg.contains(path),
            "the message `{msg}` does not name {path}"
        );
    };
    names_path(err!(fs.stat(MISSING), NotFound), MISSING);
    names_path(
        err!(
            fs.open(MISSING, OpenFlags::create_truncate()),
            PermissionDenied
        ),
        MISSING,
    );
    names_path(err!(fs.mkdir(MISSING), PermissionDenied), MISSING);
    names_path(err!(fs.remove(file), PermissionDenied), file);
}
