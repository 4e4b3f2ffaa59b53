//! The `FileService` conformance suite and reference model, shared by the
//! tests of every OANIX file service.
//!
//! The [`FileService`] contract (see `oanix_vfs::service`) says which error
//! every operation gives in which case, and in which order the rules apply.
//! Every service in the project keeps it, so every service is tested against
//! the same checks, written once, here. This is a test kit: it is only ever a
//! dev-dependency, and its functions panic on the first thing they find wrong.
//!
//! # What is in it
//!
//! - [`check_writable`]: some sixty named checks of the writable contract,
//!   each run on a fresh, empty service. Files and handles (create, read,
//!   write, append, truncate, seek, `read_at`/`write_at`, `set_len`), the open
//!   flags and their errors, directories, removal, POSIX renames, unlinked
//!   open files, file ids, and malformed paths, which must fail with the
//!   right error for every operation and change nothing.
//! - [`check_read_only`]: the read-only contract, on a service pre-populated
//!   with a known [`Fixture`]: everything reads as the fixture says (its
//!   symbolic links too, listed and read as links and followed as the model
//!   follows them), and every operation that would change something fails
//!   with `ReadOnly` and changes nothing (`symlink` and `link` may answer
//!   `Unsupported` instead, on a service without links).
//! - [`check_links`]: the links part of the contract, for the level of
//!   [`LinkSupport`] a service declares, each check on a fresh, empty service
//!   that follows links (a service in `oanix_vfs::links::Follow`, or a
//!   `Namespace`): making and reading links, `lstat`, following in parents
//!   and as the last component, relative, absolute and `..` targets,
//!   dangling links, loops and chains of [`MAX_HOPS`](oanix_vfs::links::MAX_HOPS),
//!   `nofollow`, `create_new`, trailing slashes, `remove`, `rename`, `mkdir`
//!   and `remove_all` acting on the link, and hard links (one file, two
//!   names, `nlink`); a service without some kind of links must answer as
//!   the trait's defaults do.
//! - [`check_link_reports`]: that a bare service (not in `Follow`) reports
//!   the links its lookups meet as `FsError::Symlink`, with the right link,
//!   target and rest, and never follows one itself.
//! - [`check_fixed_names`]: the contract of a service whose set of names
//!   is fixed (`TaskFs`, `LogsFs`, `FuncFs`, the capability services), on a
//!   service holding a known [`Fixture`]: everything reads and lists as the
//!   fixture says (sizes exact or, for streams, 0: [`StatSizes`]), `stat`'s
//!   read-only flag is what opening to write finds, and every change of the
//!   names keeps the contract's errors for missing paths and answers
//!   `PermissionDenied` where it would succeed.
//! - [`check_malformed_paths`]: the malformed-path checks alone, for a
//!   service that already holds content of its own (a `Namespace` of several
//!   mounts).
//! - [`model`]: [`ModelFs`](model::ModelFs), the contract implemented in the
//!   most obvious way (a sorted map from path to node), an [`Op`](model::Op)
//!   language, proptest strategies for sequences of ops, and
//!   [`run_ops`](model::run_ops), which applies a sequence to a service and to
//!   the model and asserts that they agree at every step and at the end. The
//!   model knows about mount points, so it also describes a `Namespace`, and
//!   resolves links on its own, so it also checks the resolver of
//!   `oanix_vfs::links`.
//! - [`Tree`] and [`tree_of`]: a whole tree (paths, kinds, file contents and
//!   link targets) as seen through a service, the unit of "nothing changed".
//!
//! Checks compare error *kinds* ([`FsErrorKind`](oanix_vfs::FsErrorKind)):
//! the contract fixes the kind, and services word their messages as they
//! like, as long as the message names the path (which a few checks
//! spot-check).
//!
//! # Using it
//!
//! From another crate's integration tests, with `oanix-conformance` as a
//! dev-dependency:
//!
//! ```no_run
//! use oanix_conformance::{Fixture, LinkSupport, check_links, check_read_only, check_writable};
//! use oanix_conformance::model::{ModelFs, OpSpace, run_ops};
//! use oanix_vfs::links::Follow;
//! use proptest::prelude::*;
//! # use oanix_vfs::{FileService, Namespace};
//! # fn my_fs() -> Namespace { Namespace::default() }
//! # fn my_read_only_fs(_fixture: &Fixture) -> Namespace { Namespace::default() }
//!
//! #[test]
//! fn my_fs_is_conformant() {
//!     // `my_fs` makes a fresh, empty service.
//!     check_writable(my_fs);
//! }
//!
//! #[test]
//! fn my_fs_keeps_links() {
//!     check_links(|| Follow(my_fs()), LinkSupport::SymlinksAndHardLinks);
//! }
//!
//! #[test]
//! fn my_read_only_fs_is_conformant() {
//!     let fixture = Fixture::standard();
//!     check_read_only(&my_read_only_fs(&fixture), &fixture);
//! }
//!
//! proptest! {
//!     #[test]
//!     fn my_fs_agrees_with_the_model(ops in OpSpace::default().ops(40)) {
//!         run_ops(&my_fs(), &mut ModelFs::new(), &ops);
//!     }
//!
//!     #[test]
//!     fn my_fs_with_links_agrees_with_the_model(
//!         ops in OpSpace::default().links(LinkSupport::SymlinksAndHardLinks).ops(40)
//!     ) {
//!         run_ops(&Follow(my_fs()), &mut ModelFs::new(), &ops);
//!     }
//! }
//! ```
//!
//! A failing [`check_writable`] runs every check anyway and then panics with
//! the list of the checks that failed, each with its name and what it found,
//! so one run shows everything a new service gets wrong (as do the other
//! `check_*` functions). Single checks can be run by name through
//! [`writable_checks`], [`link_checks`] and the other lists.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a test kit: panicking on what it finds wrong is its purpose"
)]

/// Unwraps a `Result`, panicking with the expression and the error.
macro_rules! ok {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => panic!("`{}` failed: {e}", stringify!($e)),
        }
    };
}

/// Asserts that a `Result` is an error of the given `FsErrorKind` variant and
/// returns the error.
macro_rules! err {
    ($e:expr, $kind:ident) => {
        match $e {
            Ok(_) => panic!(
                "`{}` succeeded; expected {:?}",
                stringify!($e),
                oanix_vfs::FsErrorKind::$kind
            ),
            Err(e) => {
                assert_eq!(
                    e.kind(),
                    oanix_vfs::FsErrorKind::$kind,
                    "`{}` gave the wrong error: {e}",
                    stringify!($e)
                );
                e
            }
        }
    };
}

mod check;
mod fixed;
mod fixture;
mod links;
pub mod model;
mod read_only;
mod tree;
mod writable;

use std::panic::{AssertUnwindSafe, catch_unwind};

use oanix_vfs::FileService;

pub use check::{Check, LinkSupport, ReadOnlyCheck, StatSizes};
pub use fixture::Fixture;
pub use tree::{Node, Tree, tree_of};

/// The checks [`check_writable`] runs, each expecting a fresh, empty service.
pub fn writable_checks() -> &'static [Check] {
    writable::CHECKS
}

/// The checks [`check_read_only`] runs, each expecting a service holding
/// exactly its fixture.
pub fn read_only_checks() -> &'static [ReadOnlyCheck] {
    read_only::CHECKS
}

/// Runs every check of the writable contract, each on a fresh, empty service
/// made by `make`, and panics listing the checks that failed.
///
/// `make` may return the service itself or a box of it; a `Namespace` with a
/// writable service mounted at `/` is a writable service too.
pub fn check_writable<S, F>(make: F)
where
    S: FileService,
    F: Fn() -> S,
{
    let mut report = Report::default();
    for check in writable_checks() {
        let fs = make();
        report.run(check.name, || (check.run)(&fs));
    }
    report.finish("writable");
}

/// The checks [`check_links`] runs for a service keeping `support`, each
/// expecting a fresh, empty service that follows links.
pub fn link_checks(support: LinkSupport) -> &'static [Check] {
    links::checks(support)
}

/// Runs every check of the links part of the contract for a service keeping
/// `support`, each on a fresh, empty service made by `make`, and panics
/// listing the checks that failed.
///
/// The service must follow links: a `Namespace` (with the service mounted),
/// or a service on its own in [`Follow`](oanix_vfs::links::Follow). With
/// [`LinkSupport::None`] it checks that `symlink` and `link` answer
/// `Unsupported`, `readlink` `InvalidInput`, and `lstat` as `stat`; with
/// [`LinkSupport::Symlinks`], every check of symbolic links and that `link`
/// answers `Unsupported` whatever it is given.
///
/// ```no_run
/// use oanix_conformance::{LinkSupport, check_links};
/// use oanix_vfs::links::Follow;
/// # fn my_fs() -> oanix_vfs::Namespace { oanix_vfs::Namespace::default() }
///
/// check_links(|| Follow(my_fs()), LinkSupport::SymlinksAndHardLinks);
/// ```
pub fn check_links<S, F>(make: F, support: LinkSupport)
where
    S: FileService,
    F: Fn() -> S,
{
    let mut report = Report::default();
    for check in link_checks(support) {
        let fs = make();
        report.run(check.name, || (check.run)(&fs));
    }
    report.finish("links");
}

/// The checks [`check_link_reports`] runs, each expecting a fresh, empty,
/// bare service with symbolic links.
pub fn link_report_checks() -> &'static [Check] {
    links::REPORTS
}

/// Runs the checks that a bare service with symbolic links (on its own, not
/// in `Follow` nor in a `Namespace`, which follow links for it) reports
/// every link its lookups meet, where the contract says they are followed,
/// as `FsError::Symlink` (the link's path, its target verbatim, and the rest
/// of the path), acts on a link itself where the contract says so, and
/// never follows one; each check on a fresh, empty service made by `make`.
/// Panics listing the checks that failed.
pub fn check_link_reports<S, F>(make: F)
where
    S: FileService,
    F: Fn() -> S,
{
    let mut report = Report::default();
    for check in link_report_checks() {
        let fs = make();
        report.run(check.name, || (check.run)(&fs));
    }
    report.finish("link reports");
}

/// Runs every check of the read-only contract on `fs`, which must hold
/// exactly `fixture` (see [`Fixture`] for what a fixture needs), and panics
/// listing the checks that failed.
///
/// Every check also asserts that the tree is still exactly the fixture after
/// it ran. A fixture may hold symbolic links (of a service that keeps them);
/// `fs` may report them or follow them, the checks that follow them do it
/// through [`Follow`](oanix_vfs::links::Follow).
pub fn check_read_only(fs: &dyn FileService, fixture: &Fixture) {
    assert!(
        fixture.files().next().is_some() && fixture.dirs().next().is_some(),
        "the fixture needs at least one file and one directory"
    );
    let mut report = Report::default();
    for check in read_only_checks() {
        report.run(check.name, || {
            (check.run)(fs, fixture);
            assert_eq!(
                tree_of(fs),
                *fixture.tree(),
                "the tree is no longer the fixture"
            );
        });
    }
    report.finish("read-only");
}

/// The checks [`check_fixed_names`] runs for services reporting `sizes`.
pub fn fixed_names_checks(sizes: StatSizes) -> &'static [ReadOnlyCheck] {
    fixed::checks(sizes)
}

/// Runs every check of the fixed-names contract on `fs`, which must hold
/// exactly `fixture` (at least one file; every file readable), and panics
/// listing the checks that failed.
///
/// The contract of a service whose set of files is fixed when it is made:
/// the [`FileService`] contract, in its order, for everything but changes
/// of the names, and for those — creating a file, `mkdir` of a new name,
/// `remove`, `rename` — the contract's errors (`NotFound` for a missing
/// path or parent, `NotADirectory` below a file, `AlreadyExists`, the
/// mismatched kinds of `rename`...) wherever they apply, and
/// `PermissionDenied` where the change would otherwise happen. Files may be
/// writable; the checks open them for writing but never write, and every
/// check also asserts that the tree is still exactly the fixture after it
/// ran.
pub fn check_fixed_names(fs: &dyn FileService, fixture: &Fixture, sizes: StatSizes) {
    assert!(
        fixture.files().next().is_some(),
        "the fixture needs at least one file"
    );
    let mut report = Report::default();
    for check in fixed_names_checks(sizes) {
        report.run(check.name, || {
            (check.run)(fs, fixture);
            assert_eq!(
                tree_of(fs),
                *fixture.tree(),
                "the tree is no longer the fixture"
            );
        });
    }
    report.finish("fixed-names");
}

/// Malformed paths, each with the error kind every operation must give it:
/// empty, NUL bytes, `..` above the root, over-long names and paths.
pub fn malformed_paths() -> Vec<(String, oanix_vfs::FsErrorKind)> {
    writable::malformed_paths()
}

/// Checks that every operation (`stat`, `readdir`, `mkdir`, `remove`, `open`
/// with every kind of flags, `rename` from and to) given any of the
/// [`malformed_paths`] fails with the right error kind and changes nothing,
/// whatever `fs` holds; panics listing every failure.
///
/// [`check_writable`] and [`check_read_only`] include this; it is here on its
/// own for services with content of their own, like a `Namespace` of
/// several mounts.
pub fn check_malformed_paths<F: FileService + ?Sized>(fs: &F) {
    let fs: &dyn FileService = &fs;
    let before = tree_of(fs);
    let file = before
        .iter()
        .find(|(_, n)| matches!(n, Node::File(_)))
        .map_or("/missing-file", |(p, _)| p);
    let dir = before
        .iter()
        .find(|(_, n)| matches!(n, Node::Dir))
        .map_or("/", |(p, _)| p);
    let mut failures = Vec::new();
    for (bad, want) in malformed_paths() {
        failures.extend(writable::try_everything(fs, &bad, want, file, dir));
        let now = tree_of(fs);
        if now != before {
            let bad = writable::short(&bad);
            failures.push(format!("operations on {bad} changed the tree: {now:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Collects the failures of a run of checks.
#[derive(Default)]
struct Report {
    total: usize,
    failures: Vec<(&'static str, String)>,
}

impl Report {
    fn run(&mut self, name: &'static str, f: impl FnOnce()) {
        self.total += 1;
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "(a panic without a message)".to_owned());
            self.failures.push((name, message));
        }
    }

    fn finish(self, contract: &str) {
        if self.failures.is_empty() {
            return;
        }
        let mut out = format!(
            "{} of {} {contract} conformance checks failed:",
            self.failures.len(),
            self.total
        );
        for (name, message) in &self.failures {
            out.push_str("\n- ");
            out.push_str(name);
            out.push_str(": ");
            out.push_str(&message.replace('\n', "\n    "));
        }
        panic!("{out}");
    }
}
