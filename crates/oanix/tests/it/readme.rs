//! The README's example, compiled and run as written.

use oanix::*;

#[test]
fn readme_example_runs() -> Result<()> {
    // The project as shipped, overlaid so the agent's writes never reach it.
    let project = MapFs::builder()
        .file("/src/main.rs", b"fn main() {}\n")
        .build();
    let workspace = CowFs::new(project.clone());

    let ns = Namespace::builder()
        .mount("/workspace", workspace.clone())
        .mount("/tmp", MemFs::new())
        .build();

    // The agent sees files, and only these.
    write_file(&ns, "/workspace/src/main.rs", "fn main() {}\n// hi\n")?;
    write_file(&ns, "/tmp/notes", "done")?;
    assert!(ns.stat("/home").is_err());

    // The host reviews what changed; the original is untouched.
    for change in workspace.changes()? {
        println!("{:?} {}", change.kind, change.path); // Modified /src/main.rs
    }
    print!("{}", ns.mount_table()); // mount /workspace cowfs / mount /tmp memfs

    let changes = workspace.changes()?;
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].path, "/src/main.rs");
    assert_eq!(changes[0].kind, ChangeKind::Modified);
    assert_eq!(read_to_string(&project, "/src/main.rs")?, "fn main() {}\n");
    assert_eq!(
        ns.mount_table(),
        "mount /workspace cowfs\nmount /tmp memfs\n"
    );
    Ok(())
}

#[test]
fn readme_keeps_the_same_example() {
    // The README shows this test's code; keep them in step.
    let readme = include_str!("../../../../README.md");
    let this = include_str!("readme.rs");
    for line in readme
        .lines()
        .skip_while(|l| !l.starts_with("```rust"))
        .skip(1)
        .take_while(|l| !l.starts_with("```"))
        .filter(|l| !l.trim().is_empty() && !l.starts_with("use "))
    {
        assert!(
            this.contains(line.trim()),
            "README line not in the test: {line}"
        );
    }
}
