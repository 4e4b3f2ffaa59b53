//! The checks of the read-only contract, run on a service holding a fixture.

use std::io::SeekFrom;

use oanix_vfs::links::Follow;
use oanix_vfs::{FileKind, FileService, FsErrorKind, OpenFlags, path, read_file};

use crate::check::ReadOnlyCheck;
use crate::fixture::Fixture;
use crate::model::{ModelFs, Op, perform};
use crate::tree::Node;
use crate::writable::{expect_kind, malformed_paths, short, try_everything};

pub(crate) const CHECKS: &[ReadOnlyCheck] = &[
    ReadOnlyCheck::new("reads_the_fixture", reads_the_fixture),
    ReadOnlyCheck::new("stat_the_fixture", stat_the_fixture),
    ReadOnlyCheck::new("files_are_marked_read_only", files_are_marked_read_only),
    ReadOnlyCheck::new("readdir_the_fixture", readdir_the_fixture),
    ReadOnlyCheck::new("open_directories", open_directories),
    ReadOnlyCheck::new("lookup_errors", lookup_errors),
    ReadOnlyCheck::new("handles_read_and_seek", handles_read_and_seek),
    ReadOnlyCheck::new("read_handles_refuse_writes", read_handles_refuse_writes),
    ReadOnlyCheck::new(
        "opening_to_modify_is_read_only",
        opening_to_modify_is_read_only,
    ),
    ReadOnlyCheck::new("mkdir_is_read_only", mkdir_is_read_only),
    ReadOnlyCheck::new("remove_is_read_only", remove_is_read_only),
    ReadOnlyCheck::new("rename_is_read_only", rename_is_read_only),
    ReadOnlyCheck::new("links_are_read_only", links_are_read_only),
    ReadOnlyCheck::new(
        "lstat_and_readlink_of_the_fixture",
        lstat_and_readlink_of_the_fixture,
    ),
    ReadOnlyCheck::new(
        "links_of_the_fixture_are_followed",
        links_of_the_fixture_are_followed,
    ),
    ReadOnlyCheck::new(
        "malformed_paths_change_nothing",
        malformed_paths_change_nothing,
    ),
    ReadOnlyCheck::new("ids_are_stable_and_distinct", ids_are_stable_and_distinct),
    ReadOnlyCheck::new("error_messages_name_the_path", error_messages_name_the_path),
];

/// A path the fixture does not hold.
pub(crate) const MISSING: &str = "/oanix-conformance-missing";

/// The paths the checks work on, picked from the fixture.
pub(crate) struct Picks<'a> {
    /// A file.
    pub(crate) file: &'a str,
    /// A directory, non-empty if the fixture has one; the root if the
    /// fixture has no directory.
    pub(crate) dir: &'a str,
    /// Every path of the fixture that a check may try to modify (its links
    /// included).
    pub(crate) all: Vec<&'a str>,
}

pub(crate) fn picks(fixture: &Fixture) -> Picks<'_> {
    assert!(
        fixture.tree().get(MISSING).is_none(),
        "the fixture may not hold {MISSING}"
    );
    let file = fixture.files().next().map(|(p, _)| p).expect("a file");
    let dir = fixture
        .dirs()
        .find(|d| fixture.children(d).next().is_some())
        .or_else(|| fixture.dirs().next())
        .unwrap_or("/");
    Picks {
        file,
        dir,
        all: fixture
            .tree()
            .iter()
            .map(|(p, _)| p)
            .chain(fixture.links().map(|(p, _)| p))
            .collect(),
    }
}

/// Records whether a modifying operation was refused with `ReadOnly`.
fn refused(
    failures: &mut Vec<String>,
    what: impl FnOnce() -> String,
    r: oanix_vfs::Result<impl Sized>,
) {
    expect_kind(failures, what, r, FsErrorKind::ReadOnly);
}

pub(crate) fn report(failures: Vec<String>) {
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub(crate) fn reads_the_fixture(fs: &dyn FileService, fixture: &Fixture) {
    for (p, data) in fixture.files() {
        let got = ok!(read_file(fs, p));
        assert!(
            got == data,
            "{p} reads \"{}\", the fixture says \"{}\"",
            got.escape_ascii(),
            data.escape_ascii()
        );
    }
}

pub(crate) fn stat_the_fixture(fs: &dyn FileService, fixture: &Fixture) {
    assert!(ok!(fs.stat("/")).is_dir(), "the root is a directory");
    for (p, node) in fixture.tree().iter() {
        let md = ok!(fs.stat(p));
        assert_eq!(md.kind, node.kind(), "stat({p:?}).kind");
        if let Node::File(data) = node {
            assert_eq!(md.size, data.len() as u64, "stat({p:?}).size");
        }
    }
}

fn files_are_marked_read_only(fs: &dyn FileService, fixture: &Fixture) {
    for (p, _) in fixture.files() {
        assert!(
            ok!(fs.stat(p)).readonly,
            "stat({p:?}).readonly is false in a read-only service"
        );
    }
}

pub(crate) fn readdir_the_fixture(fs: &dyn FileService, fixture: &Fixture) {
    for dir in std::iter::once("/").chain(fixture.dirs()) {
        let got: Vec<(String, FileKind, u64)> = ok!(fs.readdir(dir))
            .into_iter()
            .map(|e| {
                let size = if e.is_dir() { 0 } else { e.size };
                (e.name, e.kind, size)
            })
            .collect();
        let mut want: Vec<(String, FileKind, u64)> = fixture
            .children(dir)
            .map(|(name, node)| {
                let size = match node {
                    Node::File(data) => data.len() as u64,
                    Node::Dir => 0,
                };
                (name.to_owned(), node.kind(), size)
            })
            .collect();
        // Links list as links, with their targets' lengths.
        want.extend(fixture.links().filter_map(|(p, target)| {
            let (parent, name) = path::split(p)?;
            (parent == dir).then(|| (name.to_owned(), FileKind::Symlink, target.len() as u64))
        }));
        want.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(got, want, "readdir({dir:?})");
    }
}

pub(crate) fn open_directories(fs: &dyn FileService, fixture: &Fixture) {
    for dir in std::iter::once("/").chain(fixture.dirs()) {
        for flags in [OpenFlags::read_only(), OpenFlags::directory()] {
            let mut h = ok!(fs.open(dir, flags));
            err!(h.read(&mut [0; 4]), IsADirectory);
            assert!(
                ok!(h.stat()).is_dir(),
                "a handle on {dir} stats as a directory"
            );
        }
        let slash = format!("{}/", dir.trim_end_matches('/'));
        drop(ok!(fs.open(&slash, OpenFlags::read_only())));
    }
}

pub(crate) fn lookup_errors(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, .. } = picks(fixture);
    err!(fs.stat(MISSING), NotFound);
    err!(fs.readdir(MISSING), NotFound);
    err!(fs.open(MISSING, OpenFlags::read_only()), NotFound);
    err!(fs.open(MISSING, OpenFlags::directory()), NotFound);
    let below_missing = format!("{MISSING}/x");
    err!(fs.stat(&below_missing), NotFound);
    err!(fs.open(file, OpenFlags::directory()), NotADirectory);
    let slash = format!("{file}/");
    err!(fs.open(&slash, OpenFlags::read_only()), NotADirectory);
    err!(fs.stat(&slash), NotADirectory);
    err!(fs.readdir(&slash), NotADirectory);
    err!(fs.readdir(file), NotADirectory);
    let below_file = format!("{file}/x");
    err!(fs.stat(&below_file), NotADirectory);
    err!(fs.open(&below_file, OpenFlags::read_only()), NotADirectory);
}

pub(crate) fn handles_read_and_seek(fs: &dyn FileService, fixture: &Fixture) {
    for (p, data) in fixture.files() {
        let mut h = ok!(fs.open(p, OpenFlags::read_only()));
        let len = data.len() as u64;
        assert_eq!(ok!(h.seek(SeekFrom::End(0))), len, "seek to the end of {p}");
        assert_eq!(ok!(h.read(&mut [0; 4])), 0, "a read at the end of {p}");
        err!(
            h.seek(SeekFrom::End(-(data.len() as i64) - 1)),
            InvalidInput
        );
        if let Some(&last) = data.last() {
            assert_eq!(ok!(h.seek(SeekFrom::End(-1))), len - 1);
            let mut one = [0u8; 1];
            assert_eq!(ok!(h.read(&mut one)), 1);
            assert_eq!(one[0], last, "the last byte of {p}");
            let mut first = [0u8; 1];
            assert_eq!(ok!(h.read_at(&mut first, 0)), 1);
            assert_eq!(first[0], data[0], "read_at(0) of {p}");
            assert_eq!(
                ok!(h.seek(SeekFrom::Current(0))),
                len,
                "read_at keeps the position"
            );
        }
        let md = ok!(h.stat());
        assert!(
            md.is_file() && md.size == len,
            "the handle of {p} stats {md:?}"
        );
    }
}

pub(crate) fn read_handles_refuse_writes(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, .. } = picks(fixture);
    let mut h = ok!(fs.open(file, OpenFlags::read_only()));
    err!(h.write(b"x"), BadHandle);
    err!(h.write_at(b"x", 0), BadHandle);
}

fn opening_to_modify_is_read_only(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, dir, .. } = picks(fixture);
    let new_in_dir = path::join(dir, "oanix-conformance-new");
    let mut failures = Vec::new();
    for p in ["/", file, dir, MISSING, new_in_dir.as_str()] {
        for flags in [
            OpenFlags::write_only(),
            OpenFlags::read_write(),
            OpenFlags::default().with_append(true),
            OpenFlags::create_truncate(),
            OpenFlags::write_only().with_create(true),
            OpenFlags::append_create(),
            OpenFlags::write_only().with_create_new(true),
            OpenFlags::read_only().with_create(true),
            OpenFlags::write_only().with_truncate(true),
        ] {
            refused(
                &mut failures,
                || format!("open({p:?}, {flags:?})"),
                fs.open(p, flags),
            );
        }
    }
    // Rule 1 (bad flags) comes before rule 2 (read-only).
    expect_kind(
        &mut failures,
        || format!("open({file:?}, read + truncate)"),
        fs.open(file, OpenFlags::read_only().with_truncate(true)),
        FsErrorKind::InvalidInput,
    );
    report(failures);
}

fn mkdir_is_read_only(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, dir, .. } = picks(fixture);
    let new_in_dir = path::join(dir, "oanix-conformance-new");
    let mut failures = Vec::new();
    for p in [MISSING, new_in_dir.as_str(), dir, file, "/"] {
        refused(&mut failures, || format!("mkdir({p:?})"), fs.mkdir(p));
    }
    report(failures);
}

fn remove_is_read_only(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { all, .. } = picks(fixture);
    let mut failures = Vec::new();
    for p in all {
        refused(&mut failures, || format!("remove({p:?})"), fs.remove(p));
    }
    report(failures);
}

fn rename_is_read_only(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, dir, all } = picks(fixture);
    let new_in_dir = path::join(dir, "oanix-conformance-new");
    let mut failures = Vec::new();
    for p in &all {
        refused(
            &mut failures,
            || format!("rename({p:?}, {MISSING:?})"),
            fs.rename(p, MISSING),
        );
    }
    for (from, to) in [(file, new_in_dir.as_str()), (file, dir)] {
        refused(
            &mut failures,
            || format!("rename({from:?}, {to:?})"),
            fs.rename(from, to),
        );
    }
    if let Some((other, _)) = fixture.files().find(|(p, _)| *p != file) {
        refused(
            &mut failures,
            || format!("rename({file:?}, {other:?})"),
            fs.rename(file, other),
        );
    }
    report(failures);
}

/// Records whether every result is refused the same way, `ReadOnly` or (a
/// service without links) `Unsupported`.
fn refused_alike<T>(failures: &mut Vec<String>, results: Vec<(String, oanix_vfs::Result<T>)>) {
    let mut first: Option<FsErrorKind> = None;
    for (what, r) in results {
        match r {
            Ok(_) => failures.push(format!("{what} succeeded, expected ReadOnly")),
            Err(e) => {
                let kind = e.kind();
                if !matches!(kind, FsErrorKind::ReadOnly | FsErrorKind::Unsupported) {
                    failures.push(format!("{what} gave {e}, expected ReadOnly"));
                } else if *first.get_or_insert(kind) != kind {
                    failures.push(format!(
                        "{what} gave {e}, where the same operation gave {first:?} before"
                    ));
                }
            }
        }
    }
}

fn links_are_read_only(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, dir, .. } = picks(fixture);
    let new_in_dir = path::join(dir, "oanix-conformance-new");
    let mut failures = Vec::new();
    let symlinks = [MISSING, new_in_dir.as_str(), file, dir]
        .into_iter()
        .map(|p| (format!("symlink(\"t\", {p:?})"), fs.symlink("t", p)))
        .collect();
    refused_alike(&mut failures, symlinks);
    let links = [
        (file, MISSING),
        (file, new_in_dir.as_str()),
        (file, dir),
        (dir, MISSING),
    ]
    .into_iter()
    .map(|(from, to)| (format!("link({from:?}, {to:?})"), fs.link(from, to)))
    .collect();
    refused_alike(&mut failures, links);
    report(failures);
}

fn lstat_and_readlink_of_the_fixture(fs: &dyn FileService, fixture: &Fixture) {
    let mut failures = Vec::new();
    for (p, node) in std::iter::once(("/", &Node::Dir)).chain(fixture.tree().iter()) {
        match (fs.lstat(p), fs.stat(p)) {
            (Ok(l), Ok(s)) => {
                if (l.kind, l.id) != (node.kind(), s.id)
                    || (node.kind().is_file() && l.size != s.size)
                {
                    failures.push(format!("lstat({p:?}) = {l:?}, stat says {s:?}"));
                }
            }
            (l, s) => failures.push(format!("lstat({p:?}) = {l:?}, stat({p:?}) = {s:?}")),
        }
        expect_kind(
            &mut failures,
            || format!("readlink({p:?})"),
            fs.readlink(p),
            FsErrorKind::InvalidInput,
        );
    }
    for (p, target) in fixture.links() {
        match fs.readlink(p) {
            Ok(t) if t == target => {}
            other => failures.push(format!("readlink({p:?}) = {other:?}, expected {target:?}")),
        }
        match fs.lstat(p) {
            Ok(md) if md.kind == FileKind::Symlink && md.size == target.len() as u64 => {}
            other => failures.push(format!(
                "lstat({p:?}) = {other:?}, expected a link of size {}",
                target.len()
            )),
        }
    }
    expect_kind(
        &mut failures,
        || format!("readlink({MISSING:?})"),
        fs.readlink(MISSING),
        FsErrorKind::NotFound,
    );
    expect_kind(
        &mut failures,
        || format!("lstat({MISSING:?})"),
        fs.lstat(MISSING),
        FsErrorKind::NotFound,
    );
    report(failures);
}

/// Everything read through the fixture's links (followed by
/// [`Follow`], which changes nothing for a service that follows links
/// itself) is what the reference model reads through them.
fn links_of_the_fixture_are_followed(fs: &dyn FileService, fixture: &Fixture) {
    let follow = Follow(fs);
    let mut model = ModelFs::from_fixture(fixture);
    let mut names: Vec<&str> = fixture
        .tree()
        .iter()
        .map(|(p, _)| p)
        .chain(fixture.links().map(|(p, _)| p))
        .filter_map(path::file_name)
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut failures = Vec::new();
    for (link, _) in fixture.links() {
        let mut paths = vec![link.to_owned(), format!("{link}/")];
        paths.extend(names.iter().map(|n| path::join(link, n)));
        for p in paths {
            for op in [
                Op::Stat { path: p.clone() },
                Op::Lstat { path: p.clone() },
                Op::Readlink { path: p.clone() },
                Op::Read { path: p.clone() },
                Op::Readdir { path: p.clone() },
            ] {
                let (got, want) = (perform(&follow, &op), model.apply(&op));
                if got != want {
                    failures.push(format!("`{op}` gave {got:?}, the model {want:?}"));
                }
            }
        }
    }
    report(failures);
}

pub(crate) fn malformed_paths_change_nothing(fs: &dyn FileService, fixture: &Fixture) {
    let Picks { file, dir, .. } = picks(fixture);
    let mut failures = Vec::new();
    for (bad, want) in malformed_paths() {
        failures.extend(try_everything(fs, &bad, want, file, dir));
        let now = crate::tree_of(fs);
        if now != *fixture.tree() {
            failures.push(format!(
                "operations on {} changed the tree: {now:?}",
                short(&bad)
            ));
        }
    }
    report(failures);
}

pub(crate) fn ids_are_stable_and_distinct(fs: &dyn FileService, fixture: &Fixture) {
    let paths: Vec<&str> = std::iter::once("/")
        .chain(fixture.tree().iter().map(|(p, _)| p))
        .collect();
    let ids: Vec<u64> = paths.iter().map(|p| ok!(fs.stat(p)).id).collect();
    for (i, a) in ids.iter().enumerate() {
        for (j, b) in ids.iter().enumerate().skip(i + 1) {
            assert_ne!(a, b, "{} and {} have the same id", paths[i], paths[j]);
        }
    }
    let again: Vec<u64> = paths.iter().map(|p| ok!(fs.stat(p)).id).collect();
    assert_eq!(ids, again, "ids are stable");
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
    names_path(err!(fs.open(file, OpenFlags::write_only()), ReadOnly), file);
    names_path(err!(fs.mkdir(MISSING), ReadOnly), MISSING);
    names_path(err!(fs.remove(file), ReadOnly), file);
}
