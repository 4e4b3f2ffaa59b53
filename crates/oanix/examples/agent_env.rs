//! The main job, run by host code: build an agent's namespace, let a
//! (simulated) agent do its task through files only, then review what it did.
//!
//! `cargo run -p oanix --example agent_env`

#![allow(clippy::print_stdout, reason = "an example prints what it shows")]

use std::sync::{Arc, Mutex};

use oanix::*;

/// What an agent does: everything through the namespace, nothing else.
fn agent(ns: &Namespace) -> Result<()> {
    let spec: serde_json::Value = serde_json::from_str(&read_to_string(ns, "/task/spec.json")?)
        .map_err(|e| FsError::invalid_input("/task/spec.json", e.to_string()))?;
    let file = spec["file"].as_str().unwrap_or("/workspace/src/main.rs");
    let source = read_to_string(ns, file)?;
    append_file(
        ns,
        "/logs/stdout.log",
        format!("read {file}: {} bytes\n", source.len()),
    )?;
    // The agent's change: a greeting instead of an empty main.
    let fixed = source.replace("fn main() {}", "fn main() {\n    println!(\"hello\");\n}");
    write_file(ns, file, fixed)?;
    write_file(ns, "/workspace/NOTES.md", "Added a greeting.\n")?;
    ns.remove("/workspace/old.txt")?;
    write_file(ns, "/tmp/scratch", "thinking...")?;
    write_file(ns, "/task/result", r#"{"status": "done", "changed": 3}"#)?;
    Ok(())
}

fn main() -> Result<()> {
    // The project as shipped: immutable, shared by every run.
    let project = MapFs::builder()
        .file("/src/main.rs", "fn main() {}\n")
        .file("/old.txt", "obsolete\n")
        .file("/Cargo.toml", "[package]\nname = \"demo\"\n")
        .build();
    let workspace = CowFs::new(project.clone());

    // The task: a spec to read, a result file the host learns about at once.
    let result = Arc::new(Mutex::new(None::<String>));
    let sink = Arc::clone(&result);
    let task = FuncFs::builder()
        .read_only("/spec.json", || {
            Ok(br#"{"id": "demo-1", "file": "/workspace/src/main.rs"}"#.to_vec())
        })
        .write_only("/result", move |msg| {
            let text = String::from_utf8_lossy(msg).into_owned();
            *sink
                .lock()
                .map_err(|_| FsError::io("/result", "lock poisoned"))? = Some(text);
            Ok(())
        })
        .build();

    let ns = Namespace::builder()
        .mount("/task", task)
        .mount("/workspace", workspace.clone())
        .mount("/logs", MemFs::new())
        .mount("/tmp", MemFs::new())
        .build();

    println!("# namespace\n{}", ns.mount_table());
    agent(&ns)?;

    println!("# the agent's view");
    for entry in walk(&ns, "/") {
        let entry = entry?;
        let kind = if entry.kind.is_dir() { "/" } else { "" };
        println!("{}{}{kind}", "  ".repeat(entry.depth - 1), entry.path);
    }
    println!(
        "\n# /logs/stdout.log\n{}",
        read_to_string(&ns, "/logs/stdout.log")?
    );
    let result = result
        .lock()
        .map_err(|_| FsError::io("/task/result", "lock poisoned"))?
        .clone();
    println!("# result\n{}\n", result.unwrap_or_default());
    println!("# changes to review (the project itself is untouched)");
    for change in workspace.changes()? {
        println!("{:>8} {}", format!("{:?}", change.kind), change.path);
    }
    assert_eq!(read_to_string(&project, "/src/main.rs")?, "fn main() {}\n");
    Ok(())
}
