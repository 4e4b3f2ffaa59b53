//! A host racing commits: one thread keeps swapping entries of the real
//! directory for links (out of the root, and back into it) and back, while
//! overlays are committed over and over. Nothing outside the root is ever
//! touched, nothing panics, every result is a success, a conflict or a
//! reported failure, and no temporary or backup is left behind unreported
//! (checked after each conflict, which leaves none of its own).

use std::collections::BTreeSet;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use oanix_prims::CommitError;
use oanix_services::WorkspaceOverlay;
use oanix_vfs::{FileService, write_file};

use super::tree::{Project, commit_names, snapshot};

/// Swaps `name` between a real entry and a link to `link_to`, keeping the
/// real entry at `.host-<name>` meanwhile. Errors are the race: ignored.
fn swap(root: &Path, name: &str, link_to: &Path) {
    let (p, stash) = (root.join(name), root.join(format!(".host-{name}")));
    match std::fs::symlink_metadata(&p) {
        Ok(md) if md.file_type().is_symlink() => {
            let _ = std::fs::remove_file(&p);
            let _ = std::fs::rename(&stash, &p);
        }
        Ok(_) => {
            if std::fs::rename(&p, &stash).is_ok() {
                let _ = symlink(link_to, &p);
            }
        }
        Err(_) => {
            let _ = std::fs::rename(&stash, &p);
        }
    }
}

fn base_name(p: &str) -> String {
    p.rsplit('/').next().unwrap_or(p).to_owned()
}

/// The commit names (last components) found below `root`.
fn temp_names(root: &Path) -> BTreeSet<String> {
    commit_names(root)
        .into_iter()
        .filter_map(|p| p.rsplit('/').next().map(str::to_owned))
        .collect()
}

#[test]
fn commits_racing_a_host_never_leave_the_root() {
    let project = Project::new();
    let root = project.root();
    let outside = project.outside();
    std::fs::create_dir(outside.join("dir")).unwrap();
    std::fs::write(outside.join("dir/z"), "z\n").unwrap();
    std::fs::write(root.join("f2"), "two\n").unwrap();
    std::fs::create_dir(root.join("d2")).unwrap();
    std::fs::write(root.join("d2/y"), "y\n").unwrap();
    let sentinel = snapshot(&outside);
    let stop = Arc::new(AtomicBool::new(false));
    let racer = {
        let (stop, root, outside) = (stop.clone(), root.clone(), outside.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                swap(&root, "README.md", &outside.join("secret.txt"));
                swap(&root.join("src"), "util", &outside.join("dir"));
                swap(&root, "f2", Path::new(".host-f2"));
                swap(&root, "d2", Path::new(".host-d2"));
                swaps += 1;
            }
            swaps
        })
    };
    let (mut ok, mut conflicts, mut failures) = (0, 0, 0);
    // The temporaries and backups that commits said they left behind.
    let mut reported: BTreeSet<String> = BTreeSet::new();
    for i in 0..300 {
        let ws = WorkspaceOverlay::new(&root).unwrap();
        let _ = write_file(&ws, "/README.md", format!("# round {i}\n"));
        let _ = write_file(&ws, &format!("/src/util/new{i}.rs"), "// new\n");
        let _ = write_file(&ws, "/src/util/mod.rs", format!("// round {i}\n"));
        let _ = write_file(&ws, "/d2/y", format!("y{i}\n"));
        let _ = ws.remove("/f2");
        let _ = write_file(&ws, "/f2", format!("two {i}\n"));
        let _ = ws.mkdir(&format!("/n{i}"));
        let _ = write_file(&ws, &format!("/n{i}/f"), "f\n");
        match ws.commit() {
            Ok(report) => {
                reported.extend(report.leftovers.iter().map(|l| base_name(l)));
                ok += 1;
            }
            Err(CommitError::Conflicts(c)) => {
                assert!(!c.is_empty());
                let unreported: Vec<String> =
                    temp_names(&root).difference(&reported).cloned().collect();
                assert!(unreported.is_empty(), "{unreported:?} left behind ({c:?})");
                conflicts += 1;
            }
            Err(CommitError::Fs { leftovers, .. }) => {
                reported.extend(leftovers.iter().map(|l| base_name(l)));
                failures += 1;
            }
            Err(other) => panic!("{other}"),
        }
        assert_eq!(
            snapshot(&outside),
            sentinel,
            "round {i}: the sentinel is untouched"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer.join().unwrap();
    assert!(swaps > 0);
    assert_eq!(snapshot(&outside), sentinel, "the sentinel is untouched");
    let around: Vec<String> = std::fs::read_dir(project.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(
        around.len(),
        2,
        "nothing is created beside the root: {around:?}"
    );
    assert_eq!(
        ok + conflicts + failures,
        300,
        "{ok} ok, {conflicts} conflicts, {failures} failures"
    );
}
