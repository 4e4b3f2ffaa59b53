//! WorkspaceOverlay: reviewable changes of a real directory — changes, diff,
//! commit (refusing to clobber), discard, the agent's view (exactly the
//! project) and the separate review service.

use std::path::Path;

use oanix_prims::{ChangeKind, CommitError};
use oanix_services::WorkspaceOverlay;
use oanix_vfs::{FileService, FsErrorKind, Namespace, OpenFlags, read_to_string, write_file};

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::create_dir_all(p.join("src/util")).unwrap();
    std::fs::write(p.join("src/main.rs"), "fn main() {\n    old();\n}\n").unwrap();
    std::fs::write(p.join("src/util/mod.rs"), "pub fn helper() {}\n").unwrap();
    std::fs::write(p.join("README.md"), "# demo\n").unwrap();
    std::fs::write(p.join("obsolete.txt"), "remove me\n").unwrap();
    std::fs::write(p.join("logo.bin"), [0u8, 1, 2, 3, 255]).unwrap();
    dir
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap()
}

/// Everything below `dir`, with contents, for "nothing changed" checks.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if e.file_type().unwrap().is_dir() {
                out.push((format!("{rel}/"), Vec::new()));
                stack.push(p);
            } else {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

/// The agent's work: modify, add (in a new directory), delete, binary edit.
fn agent_edits(ws: &WorkspaceOverlay) {
    write_file(ws, "/src/main.rs", "fn main() {\n    new();\n}\n").unwrap();
    ws.mkdir("/docs").unwrap();
    write_file(ws, "/docs/guide.md", "# guide\n").unwrap();
    ws.remove("/obsolete.txt").unwrap();
    write_file(ws, "/logo.bin", [9u8, 9, 9]).unwrap();
}

#[test]
fn changes_list_what_the_agent_did_with_sizes() {
    let dir = project();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    let before = snapshot(dir.path());
    agent_edits(&ws);
    assert_eq!(snapshot(dir.path()), before, "the directory is untouched");
    let changes = ws.changes().unwrap();
    let summary: Vec<(&str, ChangeKind)> =
        changes.iter().map(|c| (c.path.as_str(), c.kind)).collect();
    assert_eq!(
        summary,
        [
            ("/docs", ChangeKind::Added),
            ("/docs/guide.md", ChangeKind::Added),
            ("/logo.bin", ChangeKind::Modified),
            ("/obsolete.txt", ChangeKind::Deleted),
            ("/src/main.rs", ChangeKind::Modified),
        ]
    );
    let logo = changes.iter().find(|c| c.path == "/logo.bin").unwrap();
    assert_eq!(
        (logo.before.unwrap().size, logo.after.unwrap().size),
        (5, 3)
    );
    // Writing back the same bytes is not a change.
    write_file(&ws, "/README.md", "# demo\n").unwrap();
    assert_eq!(ws.changes().unwrap().len(), 5);
}

#[test]
fn diff_is_a_unified_diff_of_text_and_names_binaries() {
    let dir = project();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    agent_edits(&ws);
    let diff = ws.diff().unwrap();
    assert!(
        diff.contains("diff --git a/src/main.rs b/src/main.rs\n"),
        "{diff}"
    );
    assert!(
        diff.contains("--- a/src/main.rs\n+++ b/src/main.rs\n"),
        "{diff}"
    );
    assert!(diff.contains("-    old();\n+    new();\n"), "{diff}");
    assert!(
        diff.contains("--- /dev/null\n+++ b/docs/guide.md\n"),
        "{diff}"
    );
    assert!(diff.contains("+# guide\n"), "{diff}");
    assert!(
        diff.contains("--- a/obsolete.txt\n+++ /dev/null\n"),
        "{diff}"
    );
    assert!(diff.contains("-remove me\n"), "{diff}");
    assert!(
        diff.contains("Binary files a/logo.bin and b/logo.bin differ\n"),
        "{diff}"
    );
}

#[test]
fn commit_applies_everything_and_empties_the_overlay() {
    let dir = project();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    agent_edits(&ws);
    let report = ws.commit().unwrap();
    assert_eq!(report.applied.len(), 5);
    let p = dir.path();
    assert_eq!(read(&p.join("src/main.rs")), "fn main() {\n    new();\n}\n");
    assert_eq!(read(&p.join("docs/guide.md")), "# guide\n");
    assert!(!p.join("obsolete.txt").exists());
    assert_eq!(std::fs::read(p.join("logo.bin")).unwrap(), [9, 9, 9]);
    assert_eq!(read(&p.join("README.md")), "# demo\n");
    // No temporary files are left behind.
    assert!(
        snapshot(p)
            .iter()
            .all(|(name, _)| !name.contains("oanix-commit")),
        "{:?}",
        snapshot(p)
    );
    // The overlay now shows the directory as it is.
    assert!(ws.changes().unwrap().is_empty());
    assert_eq!(read_to_string(&ws, "/docs/guide.md").unwrap(), "# guide\n");
}

#[test]
fn commit_refuses_to_clobber_and_applies_nothing() {
    // Modified by the agent and by someone else on disk.
    let dir = project();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    agent_edits(&ws);
    std::fs::write(dir.path().join("src/main.rs"), "fn main() { theirs(); }\n").unwrap();
    let before = snapshot(dir.path());
    match ws.commit() {
        Err(CommitError::Conflicts(conflicts)) => {
            assert_eq!(conflicts.len(), 1, "{conflicts:?}");
            assert_eq!(conflicts[0].path, "/src/main.rs");
            assert!(conflicts[0].reason.contains("changed"), "{conflicts:?}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(snapshot(dir.path()), before, "nothing was applied");
    assert_eq!(ws.changes().unwrap().len(), 5, "the overlay keeps the work");
}

#[test]
fn commit_conflicts_for_deleted_and_added_paths_too() {
    let dir = project();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    agent_edits(&ws);
    // Deleted by the agent, changed on disk; added by the agent, created on disk.
    std::fs::write(dir.path().join("obsolete.txt"), "still needed\n").unwrap();
    std::fs::create_dir(dir.path().join("docs")).unwrap();
    std::fs::write(dir.path().join("docs/guide.md"), "theirs\n").unwrap();
    let err = ws.commit().unwrap_err();
    let CommitError::Conflicts(conflicts) = &err else {
        panic!("expected conflicts, got {err}");
    };
    let paths: Vec<&str> = conflicts.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/docs/guide.md", "/obsolete.txt"], "{err}");
    assert!(err.to_string().contains("/obsolete.txt"), "{err}");
    assert_eq!(read(&dir.path().join("obsolete.txt")), "still needed\n");
}

#[test]
fn a_file_the_agent_only_read_does_not_conflict() {
    let dir = project();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    assert!(read_to_string(&ws, "/README.md").unwrap().contains("demo"));
    write_file(&ws, "/src/main.rs", "fn main() {}\n").unwrap();
    std::fs::write(dir.path().join("README.md"), "# edited by the host\n").unwrap();
    ws.commit().unwrap();
    assert_eq!(
        read(&dir.path().join("README.md")),
        "# edited by the host\n"
    );
    assert_eq!(read(&dir.path().join("src/main.rs")), "fn main() {}\n");
}

#[test]
fn discard_leaves_the_directory_untouched() {
    let dir = project();
    let before = snapshot(dir.path());
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    agent_edits(&ws);
    ws.discard();
    assert!(ws.changes().unwrap().is_empty());
    assert_eq!(snapshot(dir.path()), before);
    assert_eq!(
        read_to_string(&ws, "/src/main.rs").unwrap(),
        "fn main() {\n    old();\n}\n"
    );
}

/// A listing: each name, whether it is a directory, and its size (0 for
/// directories).
type Listing = Vec<(String, bool, u64)>;

/// The names of the overlay's root with kinds and sizes, and the same
/// read from the directory itself.
fn root_listings(ws: &WorkspaceOverlay, dir: &Path) -> (Listing, Listing) {
    let overlay = ws
        .readdir("/")
        .unwrap()
        .into_iter()
        .map(|e| {
            let is_dir = e.is_dir();
            let size = if is_dir { 0 } else { e.size };
            (e.name, is_dir, size)
        })
        .collect();
    let mut host: Listing = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let md = e.metadata().unwrap();
            let size = if md.is_dir() { 0 } else { md.len() };
            (e.file_name().into_string().unwrap(), md.is_dir(), size)
        })
        .collect();
    host.sort();
    (overlay, host)
}

#[test]
fn the_agent_sees_exactly_the_project() {
    let dir = project();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    let (overlay, host) = root_listings(&ws, dir.path());
    assert_eq!(overlay, host);
    // Changes do not add names of their own either.
    agent_edits(&ws);
    let names: Vec<String> = ws
        .readdir("/")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["README.md", "docs", "logo.bin", "src"]);
}

#[test]
fn project_files_named_like_review_files_are_the_projects() {
    const CHANGES: &str = "the project's own changelog\n";
    const DIFF: &str = "a patch kept in the project, longer\n";
    let dir = project();
    std::fs::write(dir.path().join(".changes"), CHANGES).unwrap();
    std::fs::write(dir.path().join(".diff"), DIFF).unwrap();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    let ns = Namespace::builder().mount("/workspace", ws.clone()).build();
    agent_edits(&ws);
    for (name, content) in [(".changes", CHANGES), (".diff", DIFF)] {
        let p = format!("/workspace/{name}");
        assert_eq!(read_to_string(&ns, &p).unwrap(), content);
        let md = ns.stat(&p).unwrap();
        assert_eq!((md.size, md.readonly), (content.len() as u64, false), "{p}");
    }
    let (overlay, host) = root_listings(&ws, dir.path());
    let edited: Listing = vec![
        (".changes".into(), false, CHANGES.len() as u64),
        (".diff".into(), false, DIFF.len() as u64),
        ("README.md".into(), false, 7),
        ("docs".into(), true, 0),
        ("logo.bin".into(), false, 3),
        ("src".into(), true, 0),
    ];
    assert_eq!(overlay, edited);
    assert!(
        host.iter().any(|(n, _, _)| n == "obsolete.txt"),
        "the directory is untouched"
    );
    // They are ordinary files of the project: the agent may change them.
    write_file(&ns, "/workspace/.diff", "rewritten\n").unwrap();
    ns.remove("/workspace/.changes").unwrap();
    let changed: Vec<String> = ws.changes().unwrap().into_iter().map(|c| c.path).collect();
    assert_eq!(
        changed,
        [
            "/.changes",
            "/.diff",
            "/docs",
            "/docs/guide.md",
            "/logo.bin",
            "/obsolete.txt",
            "/src/main.rs"
        ]
    );
}

#[test]
fn the_review_service_shows_the_changes_outside_the_workspace() {
    let dir = project();
    let ws = WorkspaceOverlay::new(dir.path()).unwrap();
    let ns = Namespace::builder()
        .mount("/workspace", ws.clone())
        .mount("/review", ws.review_fs())
        .build();
    assert_eq!(read_to_string(&ns, "/review/changes.json").unwrap(), "[]\n");
    agent_edits(&ws);
    let listing = read_to_string(&ns, "/review/changes.json").unwrap();
    let parsed: serde_json::Value = serde_json::from_str(&listing).unwrap();
    assert_eq!(parsed.as_array().unwrap().len(), 5);
    assert_eq!(parsed[4]["path"], "/src/main.rs");
    assert_eq!(parsed[4]["kind"], "modified");
    assert_eq!(
        read_to_string(&ns, "/review/diff").unwrap(),
        ws.diff().unwrap()
    );
    let names: Vec<String> = ns
        .readdir("/review")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(names, ["changes.json", "diff"]);
    // A computed file: its size is unknown until read, and stat says 0.
    let md = ns.stat("/review/diff").unwrap();
    assert_eq!((md.size, md.readonly), (0, true));
    for flags in [
        OpenFlags::write_only(),
        OpenFlags::create_truncate(),
        OpenFlags::append_create(),
    ] {
        let e = ns.open("/review/changes.json", flags).err().unwrap();
        assert_eq!(e.kind(), FsErrorKind::ReadOnly);
        assert_eq!(e.path(), "/review/changes.json");
    }
    assert_eq!(
        ns.remove("/review/diff").unwrap_err().kind(),
        FsErrorKind::PermissionDenied
    );
    assert_eq!(
        ns.stat("/review/changes.json/x").unwrap_err().kind(),
        FsErrorKind::NotADirectory
    );
    // Reading the review changes nothing.
    assert_eq!(ws.changes().unwrap().len(), 5);
}
