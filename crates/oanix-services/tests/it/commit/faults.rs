//! Failure injection on a real directory: each mutating call of a commit
//! fails in turn (alone, then with every later call, so that undoing fails
//! too); the directory is as it was, or exactly as the error says.

use oanix_prims::{CommitError, CowFs};
use oanix_services::WorkspaceFs;
use oanix_vfs::{FileService, write_file};

use super::scripted::Scripted;
use super::tree::{Project, commit_names, expected, snapshot, view, without};

/// The agent's work: every kind of change at once.
fn edits(cow: &CowFs) {
    write_file(cow, "/README.md", "# changed\n").unwrap();
    cow.mkdir("/docs").unwrap();
    cow.mkdir("/docs/guide").unwrap();
    write_file(cow, "/docs/guide/intro.md", "# intro\n").unwrap();
    cow.remove("/src/util/deep/x.rs").unwrap();
    cow.remove("/src/util/deep").unwrap();
    write_file(cow, "/src/util/deep", "now a file\n").unwrap();
    cow.remove("/obsolete.txt").unwrap();
    cow.mkdir("/obsolete.txt").unwrap();
    write_file(cow, "/obsolete.txt/kept", "kept\n").unwrap();
    cow.rename("/src/main.rs", "/src/lib.rs").unwrap();
}

fn scenario() -> (Project, CowFs) {
    let project = Project::new();
    let cow = CowFs::new(WorkspaceFs::readonly(project.root()).unwrap());
    edits(&cow);
    (project, cow)
}

#[test]
fn every_failure_leaves_the_directory_as_it_was_or_as_reported() {
    let n = {
        let (project, cow) = scenario();
        let target = Scripted::new(WorkspaceFs::new(project.root()).unwrap());
        let expected_view = view(&cow);
        cow.commit(&target).unwrap();
        assert_eq!(snapshot(&project.root()), expected_view);
        target.calls()
    };
    let mut rollbacks_failed = 0;
    for k in 1..=n {
        for from_k_on in [false, true] {
            let (project, cow) = scenario();
            let root = project.root();
            let (before, shown) = (snapshot(&root), view(&cow));
            let target = Scripted::new(WorkspaceFs::new(&root).unwrap())
                .failing(move |c| c == k || (from_k_on && c > k));
            let result = cow.commit(&target);
            let after = snapshot(&root);
            let case = format!("call {k} of {n} failing (and every later one: {from_k_on})");
            match result {
                Ok(report) => {
                    assert!(!report.leftovers.is_empty(), "{case}");
                    assert_eq!(without(&after, &report.leftovers), shown, "{case}");
                }
                Err(CommitError::Fs {
                    applied,
                    missing,
                    leftovers,
                    error,
                    rollback,
                    ..
                }) => {
                    if !from_k_on {
                        assert!(
                            rollback.is_none() && leftovers.is_empty(),
                            "{case}: {error}"
                        );
                        assert_eq!(after, before, "{case}: rolled back");
                        assert!(commit_names(&root).is_empty(), "{case}");
                    }
                    if rollback.is_some() {
                        rollbacks_failed += 1;
                    }
                    for l in &leftovers {
                        assert!(after.contains_key(l), "{case}: {l} reported, not there");
                    }
                    assert_eq!(
                        without(&after, &leftovers),
                        expected(&before, &shown, &applied, &missing),
                        "{case}: {error}, {rollback:?}"
                    );
                }
                Err(other) => panic!("{case}: {other}"),
            }
        }
    }
    assert!(
        rollbacks_failed > 0,
        "some case exercises a failed rollback"
    );
}
