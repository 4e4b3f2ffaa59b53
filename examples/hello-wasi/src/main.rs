//! hello-wasi: an agent in a few lines. It reads its task, looks at the
//! workspace, takes notes in `/tmp`, prints what it does and writes its
//! result — all through ordinary file calls, which the OANIX runtime serves
//! from the namespace it runs in.

use std::fs;
use std::io::Write as _;
use std::path::Path;

/// Lists `dir` recursively: (path, size) of every file, in name order.
fn walk(dir: &Path, out: &mut Vec<(String, u64)>) -> std::io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let md = entry.metadata()?;
        if md.is_dir() {
            walk(&path, out)?;
        } else {
            out.push((path.display().to_string(), md.len()));
        }
    }
    Ok(())
}

/// The value of a string field in a flat JSON object (enough for a task's
/// `description`; a real agent would use a JSON parser).
fn field<'a>(json: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("\"{name}\"");
    let rest = &json[json.find(&key)? + key.len()..];
    let rest = &rest[rest.find('"')? + 1..];
    Some(&rest[..rest.find('"')?])
}

/// Escapes a string for JSON.
fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' => vec!['\\', '"'],
            '\\' => vec!['\\', '\\'],
            '\n' => vec!['\\', 'n'],
            c if (c as u32) < 0x20 => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect()
}

fn main() -> std::io::Result<()> {
    println!("hello from WASI, inside an OANIX namespace");

    let spec = fs::read_to_string("/task/spec.json")?;
    let task = field(&spec, "description").unwrap_or("(no description)");
    println!("task: {task}");

    let mut files = Vec::new();
    walk(Path::new("/workspace"), &mut files)?;
    println!("workspace: {} files", files.len());
    let mut lines = 0;
    for (path, size) in &files {
        let text = fs::read_to_string(path).unwrap_or_default();
        lines += text.lines().count();
        println!("  {path} ({size} bytes, {} lines)", text.lines().count());
    }

    fs::create_dir_all("/tmp/notes")?;
    let mut notes = fs::File::create("/tmp/notes/summary.txt")?;
    writeln!(notes, "{} files, {lines} lines", files.len())?;
    drop(notes);
    let summary = fs::read_to_string("/tmp/notes/summary.txt")?;
    println!("notes: {}", summary.trim_end());

    let listed: Vec<String> = files
        .iter()
        .map(|(p, s)| format!("{{\"path\":\"{}\",\"bytes\":{s}}}", escape(p)))
        .collect();
    let result = format!(
        "{{\"status\":\"done\",\"task\":\"{}\",\"files\":[{}],\"lines\":{lines}}}",
        escape(task),
        listed.join(",")
    );
    fs::write("/task/result.json", result)?;
    eprintln!("hello-wasi: result written to /task/result.json");
    Ok(())
}
