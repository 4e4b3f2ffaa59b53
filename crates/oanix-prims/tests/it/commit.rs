//! `CowFs::commit` into a `MemFs`: random overlays commit to exactly what
//! they show, and a failure of any one mutating call of the target — or of
//! every call from one on — leaves the target as it was, or as the error
//! says it is.

use std::sync::atomic::{AtomicUsize, Ordering};

use oanix_conformance::model::{Op, OpSpace, perform};
use oanix_conformance::{Fixture, Tree, tree_of};
use oanix_prims::{Change, CommitError, CowFs, MemFs};
use oanix_vfs::{
    DirEntry, FileHandle, FileService, FsError, Metadata, OpenFlags, Result, Timestamp, path,
    write_file,
};
use proptest::prelude::*;

/// Forwards to a `MemFs`, failing the mutating calls (open for writing or
/// creating, mkdir, remove, rename, set_times; counted from 1) that `fails`
/// picks.
struct Faulty {
    inner: MemFs,
    calls: AtomicUsize,
    fails: Box<dyn Fn(usize) -> bool + Send + Sync>,
}

impl Faulty {
    fn new(inner: MemFs, fails: impl Fn(usize) -> bool + Send + Sync + 'static) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            fails: Box::new(fails),
        }
    }

    fn mutating(&self, path: &str) -> Result<()> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if (self.fails)(n) {
            return Err(FsError::io(path, format!("injected failure of call {n}")));
        }
        Ok(())
    }
}

impl FileService for Faulty {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        if flags.mutates() {
            self.mutating(path)?;
        }
        self.inner.open(path, flags)
    }
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.inner.readdir(path)
    }
    fn stat(&self, path: &str) -> Result<Metadata> {
        self.inner.stat(path)
    }
    fn mkdir(&self, path: &str) -> Result<()> {
        self.mutating(path)?;
        self.inner.mkdir(path)
    }
    fn remove(&self, path: &str) -> Result<()> {
        self.mutating(path)?;
        self.inner.remove(path)
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.mutating(from)?;
        self.inner.rename(from, to)
    }
    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        self.mutating(path)?;
        self.inner.set_times(path, accessed, modified)
    }
}

/// Files at several depths, a non-empty and an empty directory, named from
/// the op space's alphabet.
fn fixture() -> Fixture {
    Fixture::new()
        .file("/a/b", "ab")
        .dir("/a/c")
        .file("/a/c/a", "aca")
        .file("/b", "bee")
        .file("/c/a/b", "cab")
        .file("/c/c", "")
        .dir("/c/b")
}

/// A base populated with the fixture, and an overlay of it after `ops`.
fn scenario(ops: &[Op]) -> (MemFs, CowFs) {
    let base = MemFs::new();
    fixture().populate(&base).unwrap();
    let cow = CowFs::new(base.clone());
    for op in ops {
        let _ = perform(&cow, op);
    }
    (base, cow)
}

/// Every kind of change at once: modified, added in new directories,
/// deleted trees, a directory replaced by a file and a file by a
/// directory, a directory renamed.
fn rich_ops(cow: &CowFs) {
    write_file(cow, "/b", "bee 2").unwrap();
    cow.mkdir("/n").unwrap();
    cow.mkdir("/n/m").unwrap();
    write_file(cow, "/n/m/f", "new").unwrap();
    cow.remove("/a/c/a").unwrap();
    cow.remove("/a/c").unwrap();
    cow.remove("/c/c").unwrap();
    cow.mkdir("/c/c").unwrap();
    write_file(cow, "/c/c/x", "x").unwrap();
    cow.remove("/a/b").unwrap();
    cow.remove("/a").unwrap();
    write_file(cow, "/a", "now a file").unwrap();
    cow.rename("/c/a", "/moved").unwrap();
    cow.remove("/c/b").unwrap();
}

fn rich_scenario() -> (MemFs, CowFs) {
    let (base, cow) = scenario(&[]);
    rich_ops(&cow);
    (base, cow)
}

fn is_commit_name(p: &str) -> bool {
    path::file_name(p).is_some_and(|n| n.starts_with(".oanix-"))
}

/// `tree` without the entries at or below any of `paths`.
fn without(tree: &Tree, paths: &[String]) -> Tree {
    let mut out = Tree::new();
    for (p, node) in tree.iter() {
        if !paths.iter().any(|l| path::starts_with(p, l)) {
            out.insert(p, node.clone());
        }
    }
    out
}

/// What the target must be when the changes `applied` are in effect and the
/// paths `missing` are gone: `before`, changed accordingly (new content
/// taken from the overlay's `view`).
fn expected(before: &Tree, view: &Tree, applied: &[Change], missing: &[String]) -> Tree {
    let mut gone: Vec<String> = missing.to_vec();
    let mut put: Vec<&str> = Vec::new();
    for c in applied {
        if c.after.is_none() {
            gone.push(c.path.clone());
        } else {
            put.push(&c.path);
        }
    }
    let mut out = without(before, &gone);
    for p in put {
        let node = view
            .get(p)
            .unwrap_or_else(|| panic!("{p} is applied but not in the view"));
        out.insert(p, node.clone());
    }
    out
}

/// How many mutating calls a commit of the scenario makes when none fails.
fn calls_of(make: &dyn Fn() -> (MemFs, CowFs)) -> usize {
    let (base, cow) = make();
    let target = Faulty::new(base, |_| false);
    cow.commit(&target).unwrap();
    target.calls.load(Ordering::SeqCst)
}

/// Fails each mutating call in turn (alone, then with every call after it):
/// the target must be as before, or exactly as the error says. Returns how
/// many cases left changes applied or paths missing (undoing failed).
fn check_every_failure(make: &dyn Fn() -> (MemFs, CowFs)) -> usize {
    let mut partial = 0;
    let n = calls_of(make);
    for k in 1..=n {
        for from_k_on in [false, true] {
            let (base, cow) = make();
            let before = tree_of(&base);
            let view = tree_of(&cow);
            let target = Faulty::new(base.clone(), move |c| c == k || (from_k_on && c > k));
            let result = cow.commit(&target);
            let after = tree_of(&base);
            let case = format!(
                "call {k} of {n} failing{}",
                if from_k_on {
                    " and every later one"
                } else {
                    ""
                }
            );
            match result {
                Ok(report) => {
                    // Only removing a backup failed: the commit is complete.
                    assert!(!report.leftovers.is_empty(), "{case}: ok without a failure");
                    for l in &report.leftovers {
                        assert!(after.get(l).is_some(), "{case}: {l} is reported, not there");
                    }
                    assert_eq!(without(&after, &report.leftovers), view, "{case}");
                }
                Err(CommitError::Fs {
                    applied,
                    missing,
                    leftovers,
                    rollback,
                    error,
                    ..
                }) => {
                    if !from_k_on {
                        assert!(rollback.is_none(), "{case}: {error}, {rollback:?}");
                        assert!(leftovers.is_empty(), "{case}: {leftovers:?}");
                        assert_eq!(after, before, "{case}: rolled back");
                    }
                    if rollback.is_none() {
                        assert!(applied.is_empty() && missing.is_empty(), "{case}");
                    }
                    if !applied.is_empty() || !missing.is_empty() {
                        partial += 1;
                    }
                    for l in &leftovers {
                        assert!(is_commit_name(l), "{case}: {l}");
                        assert!(after.get(l).is_some(), "{case}: {l} is reported, not there");
                    }
                    assert_eq!(
                        without(&after, &leftovers),
                        expected(&before, &view, &applied, &missing),
                        "{case}: {error}; rollback: {rollback:?}; applied {applied:?}; missing {missing:?}"
                    );
                }
                Err(other) => panic!("{case}: {other}"),
            }
        }
    }
    partial
}

#[test]
fn a_rich_commit_applies_everything() {
    let (base, cow) = rich_scenario();
    let view = tree_of(&cow);
    let changes = cow.changes().unwrap();
    let report = cow.commit(&base).unwrap();
    assert!(report.leftovers.is_empty());
    assert_eq!(report.applied.len(), changes.len());
    assert_eq!(tree_of(&base), view);
}

/// Found by the property test: a file replaced by a directory with content
/// (the content was skipped as if it had gone with the old file).
#[test]
fn a_file_replaced_by_a_directory_with_content_commits() {
    let ops = [
        Op::Rename {
            from: "/b".into(),
            to: "/c/a/a".into(),
        },
        Op::Rename {
            from: "/c".into(),
            to: "/b".into(),
        },
    ];
    let (base, cow) = scenario(&ops);
    let view = tree_of(&cow);
    assert!(view.get("/b/a/a").is_some());
    cow.commit(&base).unwrap();
    assert_eq!(tree_of(&base), view);
}

#[test]
fn every_failure_of_a_rich_commit_is_rolled_back_or_reported() {
    let partial = check_every_failure(&rich_scenario);
    assert!(partial > 0, "some case leaves part of the commit applied");
}

#[test]
fn a_conflict_found_after_staging_removes_the_temporaries() {
    let (base, cow) = rich_scenario();
    // Changed behind the overlay's back, after it read it.
    write_file(&base, "/b", "theirs").unwrap();
    let before = tree_of(&base);
    match cow.commit(&base) {
        Err(CommitError::Conflicts(c)) => {
            assert_eq!(c.len(), 1, "{c:?}");
            assert_eq!(c[0].path, "/b");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(tree_of(&base), before);
}

/// 64 cases, or as many as `PROPTEST_CASES` says.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_commit_makes_the_target_show_what_the_overlay_showed(ops in OpSpace::default().ops(30)) {
        let (base, cow) = scenario(&ops);
        let view = tree_of(&cow);
        let changes = cow.changes().unwrap();
        let report = cow.commit(&base).unwrap();
        prop_assert_eq!(report.applied.len(), changes.len());
        prop_assert!(report.leftovers.is_empty());
        prop_assert_eq!(tree_of(&base), view);
        cow.discard();
        prop_assert!(cow.changes().unwrap().is_empty());
    }

    #[test]
    fn every_failure_of_a_random_commit_is_rolled_back_or_reported(
        ops in OpSpace::default().ops(20)
    ) {
        let _partial = check_every_failure(&|| scenario(&ops));
    }
}
