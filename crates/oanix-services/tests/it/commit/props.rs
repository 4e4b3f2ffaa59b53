//! Property: random base trees, random agent work in the overlay, random
//! host changes to the real directory afterwards; a commit either makes the
//! directory show exactly what the overlay showed, or is a conflict and
//! leaves the directory exactly as the host left it.

use std::os::unix::fs::symlink;
use std::path::Path;

use oanix_conformance::Fixture;
use oanix_conformance::model::{Op, OpSpace, perform};
use oanix_prims::CommitError;
use oanix_services::{WorkspaceFs, WorkspaceOverlay};
use proptest::prelude::*;

use super::tree::{Entry, Project, commit_names, shape, snapshot, view};

/// A change the host makes to the real directory behind the overlay's back.
#[derive(Debug, Clone)]
enum HostOp {
    /// A regular file replaced by a link out of the root (or a dangling one).
    FileToLink { path: String, dangling: bool },
    /// A directory replaced by a link out of the root.
    DirToLink { path: String },
    /// A new file in a directory.
    AddFile { dir: String, name: String },
    /// A file (or link) deleted.
    DeleteFile { path: String },
    /// A file appended to (so that its size changes).
    ModifyFile { path: String, data: Vec<u8> },
}

fn rel(root: &Path, p: &str) -> std::path::PathBuf {
    root.join(p.trim_start_matches('/'))
}

/// Applies `op` to the directory if it fits what is there; whether it did.
fn apply_host(op: &HostOp, root: &Path, outside: &Path) -> bool {
    // Never the root itself.
    let md = |p: &str| {
        (p != "/")
            .then(|| std::fs::symlink_metadata(rel(root, p)).ok())
            .flatten()
    };
    match op {
        HostOp::FileToLink { path, dangling } => {
            if !md(path).is_some_and(|m| m.is_file()) {
                return false;
            }
            let to = if *dangling {
                outside.join("missing")
            } else {
                outside.join("secret.txt")
            };
            std::fs::remove_file(rel(root, path)).unwrap();
            symlink(to, rel(root, path)).unwrap();
        }
        HostOp::DirToLink { path } => {
            if !md(path).is_some_and(|m| m.is_dir()) {
                return false;
            }
            std::fs::remove_dir_all(rel(root, path)).unwrap();
            symlink(outside, rel(root, path)).unwrap();
        }
        HostOp::AddFile { dir, name } => {
            let p = format!("{}/{name}", dir.trim_end_matches('/'));
            let dir_ok = dir == "/" || md(dir).is_some_and(|m| m.is_dir());
            if !dir_ok || md(&p).is_some() {
                return false;
            }
            std::fs::write(rel(root, &p), "added by the host").unwrap();
        }
        HostOp::DeleteFile { path } => {
            if md(path).is_none_or(|m| m.is_dir()) {
                return false;
            }
            std::fs::remove_file(rel(root, path)).unwrap();
        }
        HostOp::ModifyFile { path, data } => {
            if !md(path).is_some_and(|m| m.is_file()) {
                return false;
            }
            let mut old = std::fs::read(rel(root, path)).unwrap();
            old.extend_from_slice(data);
            std::fs::write(rel(root, path), old).unwrap();
        }
    }
    true
}

fn host_op() -> BoxedStrategy<HostOp> {
    let space = OpSpace::default();
    let p = || space.canonical_path();
    let name = proptest::sample::select(vec!["a", "b", "c", "h"]).prop_map(str::to_owned);
    prop_oneof![
        (p(), any::<bool>()).prop_map(|(path, dangling)| HostOp::FileToLink { path, dangling }),
        p().prop_map(|path| HostOp::DirToLink { path }),
        (p(), name).prop_map(|(dir, name)| HostOp::AddFile { dir, name }),
        p().prop_map(|path| HostOp::DeleteFile { path }),
        (p(), proptest::collection::vec(b'a'..=b'z', 1..4))
            .prop_map(|(path, data)| HostOp::ModifyFile { path, data }),
    ]
    .boxed()
}

fn fixture() -> Fixture {
    Fixture::new()
        .file("/a/b", "ab")
        .file("/a/c/a", "aca")
        .dir("/a/c/b")
        .file("/b", "bee")
        .file("/c/a/b", "cab")
        .file("/c/c", "")
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

fn run_case(base_ops: &[Op], agent_ops: &[Op], host_ops: &[HostOp]) -> Result<(), TestCaseError> {
    let project = Project::empty();
    let root = project.root();
    {
        let ws = WorkspaceFs::new(&root).unwrap();
        fixture().populate(&ws).unwrap();
        for op in base_ops {
            let _ = perform(&ws, op);
        }
    }
    let ws = WorkspaceOverlay::new(&root).unwrap();
    for op in agent_ops {
        let _ = perform(&ws, op);
    }
    let mut host_changed = false;
    for op in host_ops {
        host_changed |= apply_host(op, &root, &project.outside());
    }
    let shown = view(&ws);
    let host_left = snapshot(&root);
    match ws.commit() {
        Ok(report) => {
            prop_assert!(report.leftovers.is_empty(), "{:?}", report.leftovers);
            let now = snapshot(&root);
            prop_assert_eq!(
                &shape(&now),
                &shown,
                "the directory shows what the overlay showed"
            );
            // The host's links are left as they were.
            for (p, e) in &now {
                if let Entry::Link(_) = e {
                    prop_assert_eq!(host_left.get(p), Some(e));
                }
            }
            prop_assert!(commit_names(&root).is_empty(), "{:?}", commit_names(&root));
        }
        Err(CommitError::Conflicts(conflicts)) => {
            prop_assert!(
                host_changed,
                "a conflict with no host change: {:?}",
                conflicts
            );
            prop_assert_eq!(
                &snapshot(&root),
                &host_left,
                "nothing applied: {:?}",
                conflicts
            );
        }
        Err(other) => prop_assert!(false, "{}", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_commit_is_all_or_nothing_whatever_the_host_did(
        base_ops in OpSpace::default().ops(12),
        agent_ops in OpSpace::default().ops(25),
        host_ops in proptest::collection::vec(host_op(), 0..4),
    ) {
        run_case(&base_ops, &agent_ops, &host_ops)?;
    }
}
