//! One test per way a commit used to stop half-way, clobber a host change or
//! refuse a good change; each fails on the commit that had the bug.

use std::os::unix::fs::symlink;

use oanix_prims::{CommitError, CowFs};
use oanix_services::{WorkspaceFs, WorkspaceOverlay};
use oanix_vfs::{FileService, write_file};

use super::scripted::Scripted;
use super::tree::{Entry, Project, Snapshot, commit_names, shape, snapshot, view};

/// The conflicts of a commit that must have found some.
fn conflicts<T: std::fmt::Debug>(result: Result<T, CommitError>) -> Vec<(String, String)> {
    match result {
        Err(CommitError::Conflicts(c)) => c.into_iter().map(|c| (c.path, c.reason)).collect(),
        other => panic!("expected conflicts, got {other:?}"),
    }
}

/// Asserts that `found` names `path` with a reason containing `reason`.
fn assert_names(found: &[(String, String)], path: &str, reason: &str) {
    assert!(
        found.iter().any(|(p, r)| p == path && r.contains(reason)),
        "expected a conflict at {path} ({reason}), got {found:?}"
    );
}

/// Asserts that the project is as `before` and the sentinel untouched.
fn assert_unchanged(project: &Project, before: &Snapshot, outside: &Snapshot) {
    assert_eq!(&snapshot(&project.root()), before, "nothing was applied");
    assert_eq!(
        &snapshot(&project.outside()),
        outside,
        "the sentinel is untouched"
    );
}

/// Bug 1: a stat of an added path that failed with anything but `NotFound`
/// (here `Escape`: its parent became a link out of the root) counted as
/// "absent", and the commit stopped after applying the deletion.
#[test]
fn an_added_path_that_cannot_be_checked_is_a_conflict() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    ws.remove("/obsolete.txt").unwrap();
    write_file(&ws, "/src/util/new.rs", "// new\n").unwrap();
    let root = project.root();
    std::fs::rename(root.join("src/util"), project.outside().join("util")).unwrap();
    symlink(project.outside().join("util"), root.join("src/util")).unwrap();
    let (before, outside) = (snapshot(&root), snapshot(&project.outside()));
    let found = conflicts(ws.commit());
    assert_names(&found, "/src/util/new.rs", "cannot be checked");
    assert_unchanged(&project, &before, &outside);
}

/// Bug 2: a file replaced on the host by a link to itself (moved aside)
/// looked unchanged through `stat`.
#[test]
fn a_file_replaced_by_a_link_is_a_conflict() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    write_file(&ws, "/src/main.rs", "fn main() { new(); }\n").unwrap();
    let src = project.root().join("src");
    std::fs::rename(src.join("main.rs"), src.join("main.rs.real")).unwrap();
    symlink("main.rs.real", src.join("main.rs")).unwrap();
    let (before, outside) = (snapshot(&project.root()), snapshot(&project.outside()));
    let found = conflicts(ws.commit());
    assert_names(&found, "/src/main.rs", "changed in the target");
    assert_unchanged(&project, &before, &outside);
}

/// Bug 2: a parent directory replaced by a link inside the root (to the
/// same directory, moved): the commit wrote through the link.
#[test]
fn a_parent_replaced_by_a_link_inside_is_a_conflict() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    write_file(&ws, "/src/util/mod.rs", "pub mod other;\n").unwrap();
    let src = project.root().join("src");
    std::fs::rename(src.join("util"), src.join("util2")).unwrap();
    symlink("util2", src.join("util")).unwrap();
    let (before, outside) = (snapshot(&project.root()), snapshot(&project.outside()));
    let found = conflicts(ws.commit());
    assert_names(&found, "/src/util", "replaced in the target");
    assert_unchanged(&project, &before, &outside);
}

/// Bug 2: a parent directory replaced by a link out of the root, below which
/// the agent added a file: the commit applied the deletion, then stopped.
#[test]
fn a_parent_replaced_by_a_link_outside_is_a_conflict() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    ws.remove("/obsolete.txt").unwrap();
    write_file(&ws, "/src/util/mod.rs", "pub mod other;\n").unwrap();
    write_file(&ws, "/src/util/other.rs", "// other\n").unwrap();
    let root = project.root();
    std::fs::rename(root.join("src/util"), project.outside().join("util")).unwrap();
    symlink("../../outside/util", root.join("src/util")).unwrap();
    let (before, outside) = (snapshot(&root), snapshot(&project.outside()));
    let found = conflicts(ws.commit());
    assert_names(&found, "/src/util", "replaced in the target");
    assert_unchanged(&project, &before, &outside);
}

/// Bug 2: a directory the agent deleted, re-created on the host as a link to
/// the same directory moved: the commit deleted the files through the link.
#[test]
fn a_deleted_directory_recreated_as_a_link_is_a_conflict() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    ws.remove("/src/util/deep/x.rs").unwrap();
    ws.remove("/src/util/deep").unwrap();
    ws.remove("/src/util/mod.rs").unwrap();
    ws.remove("/src/util").unwrap();
    let src = project.root().join("src");
    std::fs::rename(src.join("util"), src.join("util2")).unwrap();
    symlink("util2", src.join("util")).unwrap();
    let (before, outside) = (snapshot(&project.root()), snapshot(&project.outside()));
    let found = conflicts(ws.commit());
    assert_names(&found, "/src/util", "changed in the target");
    assert_unchanged(&project, &before, &outside);
}

/// Bug 2: a file the host adds in a directory the agent deleted, before the
/// commit starts.
#[test]
fn a_file_added_in_a_deleted_directory_is_a_conflict() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    ws.remove("/src/util/deep/x.rs").unwrap();
    ws.remove("/src/util/deep").unwrap();
    write_file(&ws, "/README.md", "# changed\n").unwrap();
    std::fs::write(project.root().join("src/util/deep/late.rs"), "// theirs\n").unwrap();
    let (before, outside) = (snapshot(&project.root()), snapshot(&project.outside()));
    let found = conflicts(ws.commit());
    assert_names(
        &found,
        "/src/util/deep/late.rs",
        "created in the target meanwhile",
    );
    assert_unchanged(&project, &before, &outside);
}

/// Bug 2: the same, the file added while the commit runs — just before its
/// first change to the directory (with only deletions to make, or with a
/// file to write first): the commit deleted the files, then stopped at the
/// directory.
#[test]
fn a_file_added_in_a_deleted_directory_during_the_commit_is_a_conflict() {
    for also_write in [false, true] {
        let project = Project::new();
        let root = project.root();
        let cow = CowFs::new(WorkspaceFs::readonly(&root).unwrap());
        cow.remove("/src/util/deep/x.rs").unwrap();
        cow.remove("/src/util/deep").unwrap();
        if also_write {
            write_file(&cow, "/README.md", "# changed\n").unwrap();
        }
        let late = root.join("src/util/deep/late.rs");
        let mut expected = snapshot(&root);
        expected.insert(
            "/src/util/deep/late.rs".to_owned(),
            Entry::File(b"// theirs\n".to_vec()),
        );
        let target = Scripted::new(WorkspaceFs::new(&root).unwrap()).before_call(1, move || {
            std::fs::write(late, "// theirs\n").unwrap();
        });
        let found = conflicts(cow.commit(&target));
        assert_names(&found, "/src/util/deep/late.rs", "created in the target");
        assert_eq!(
            snapshot(&root),
            expected,
            "nothing was applied ({also_write})"
        );
    }
}

/// Bug 3: the temporary name was built from the file's, and a legal name of
/// 250 bytes (or 255) made it too long after another change was applied.
#[test]
fn files_with_the_longest_names_commit() {
    for len in [250, 255] {
        let project = Project::new();
        let long = "n".repeat(len);
        std::fs::write(project.root().join(&long), "old\n").unwrap();
        let ws = WorkspaceOverlay::new(project.root()).unwrap();
        write_file(&ws, "/a.txt", "first\n").unwrap();
        write_file(&ws, &format!("/{long}"), "new\n").unwrap();
        write_file(&ws, &format!("/src/{long}"), "added\n").unwrap();
        let expected = view(&ws);
        let report = ws.commit().unwrap();
        assert_eq!(report.applied.len(), 3);
        assert_eq!(snapshot(&project.root()), expected);
    }
}

/// Bug 4: a directory removed and replaced by a file; the commit deleted the
/// directory, then called its own deletion a conflict and stopped.
#[test]
fn a_directory_replaced_by_a_file_commits() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    ws.remove("/src/util/deep/x.rs").unwrap();
    ws.remove("/src/util/deep").unwrap();
    ws.remove("/src/util/mod.rs").unwrap();
    ws.remove("/src/util").unwrap();
    write_file(&ws, "/src/util", "now a file\n").unwrap();
    let expected = view(&ws);
    ws.commit().unwrap();
    assert_eq!(snapshot(&project.root()), expected);
    assert!(commit_names(&project.root()).is_empty());
}

/// Bug 5: a directory renamed away with a file made in its place: the
/// directories below it had no recorded origin, and counted as created on
/// the host meanwhile.
#[test]
fn a_renamed_directory_with_a_file_in_its_place_commits() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    ws.rename("/src/util", "/src/helpers").unwrap();
    write_file(&ws, "/src/util", "placeholder\n").unwrap();
    let expected = view(&ws);
    assert_eq!(
        expected.get("/src/helpers/deep/x.rs"),
        Some(&Entry::File(b"// x\n".to_vec()))
    );
    ws.commit().unwrap();
    assert_eq!(snapshot(&project.root()), expected);
    assert_eq!(shape(&snapshot(&project.root())), expected);
    assert!(commit_names(&project.root()).is_empty());
}

/// Found by the property test: a file the agent deleted, replaced on the
/// host by a link out of the root. `stat` cannot follow the link, so the
/// deletion went missing from the changes and the commit "succeeded" with
/// the link left where the overlay shows nothing.
#[test]
fn a_deleted_file_replaced_by_a_link_out_is_a_conflict() {
    let project = Project::new();
    let ws = WorkspaceOverlay::new(project.root()).unwrap();
    ws.remove("/obsolete.txt").unwrap();
    let p = project.root().join("obsolete.txt");
    std::fs::remove_file(&p).unwrap();
    symlink(project.outside().join("secret.txt"), &p).unwrap();
    let (before, outside) = (snapshot(&project.root()), snapshot(&project.outside()));
    let found = conflicts(ws.commit());
    assert_names(&found, "/obsolete.txt", "changed in the target");
    assert_unchanged(&project, &before, &outside);
}
