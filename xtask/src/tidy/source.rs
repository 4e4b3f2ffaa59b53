//! Source-file rules: a `//!` opening line in every `.rs` file, no ignored or panic-expecting tests.

use std::fs;
use std::path::{Path, PathBuf};

use crate::process;

/// The test attribute that hides a test. Built in pieces so this file does not match itself.
const IGNORE_ATTR: &str = concat!("#[", "ignore");

/// The test attribute that expects a panic. Built in pieces so this file does not match itself.
const SHOULD_PANIC_ATTR: &str = concat!("#[", "should_", "panic");

/// Every `.rs` file under `dir`, sorted, skipping `target` and hidden directories.
pub(super) fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            fs::read_dir(&dir).unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
        for entry in entries {
            let entry = entry.unwrap_or_else(|err| panic!("cannot list {}: {err}", dir.display()));
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let file_type = entry
                .file_type()
                .unwrap_or_else(|err| panic!("cannot stat {}: {err}", path.display()));
            if file_type.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    pending.push(path);
                }
            } else if file_type.is_file() && name.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// Problems with one file's text: a missing `//!` first line, forbidden test attributes.
fn source_problems(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !text.starts_with("//!") {
        problems.push("does not start with a `//!` line saying what the file holds".to_owned());
    }
    for (index, line) in text.lines().enumerate() {
        for (needle, advice) in [
            (IGNORE_ATTR, "tests are not ignored; fix or delete the test"),
            (
                SHOULD_PANIC_ATTR,
                "tests do not expect panics; assert on the returned error",
            ),
        ] {
            if contains_attribute(line, needle) {
                problems.push(format!("line {}: `{needle}]`: {advice}", index + 1));
            }
        }
    }
    problems
}

/// Whether `line` holds the attribute `needle` (`#[name`) as a whole name, so that a longer
/// attribute merely starting with the same letters does not count.
fn contains_attribute(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(start, _)| {
        line[start + needle.len()..]
            .chars()
            .next()
            .is_none_or(|next| !(next.is_alphanumeric() || next == '_'))
    })
}

#[test]
fn every_rust_file_follows_the_source_rules() {
    let root = process::workspace_root();
    let files = rust_files(&root);
    assert!(
        !files.is_empty(),
        "no .rs files found under {}",
        root.display()
    );
    let mut report = Vec::new();
    for path in files {
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        let shown = path.strip_prefix(&root).unwrap_or(&path).display();
        for problem in source_problems(&text) {
            report.push(format!("{shown}: {problem}"));
        }
    }
    assert!(
        report.is_empty(),
        "source rules broken:\n{}",
        report.join("\n")
    );
}

#[test]
fn source_rules_reject_bad_files() {
    assert!(source_problems("//! Fine.\nfn main() {}\n").is_empty());
    assert_eq!(source_problems("fn main() {}\n").len(), 1);
    assert_eq!(source_problems("").len(), 1);
    assert_eq!(source_problems("/// Item doc, not a file doc.\n").len(), 1);

    let ignored = format!("//! Tests.\n#[test]\n{IGNORE_ATTR}]\nfn slow() {{}}\n");
    assert_eq!(
        source_problems(&ignored),
        vec![format!(
            "line 3: `{IGNORE_ATTR}]`: tests are not ignored; fix or delete the test"
        )]
    );
    let ignored_with_reason = format!("//! Tests.\n{IGNORE_ATTR} = \"slow\"]\n");
    assert_eq!(source_problems(&ignored_with_reason).len(), 1);
    let panicking = format!("//! Tests.\n{SHOULD_PANIC_ATTR}(expected = \"boom\")]\n");
    assert_eq!(source_problems(&panicking).len(), 1);
}

#[test]
fn longer_attribute_names_are_not_mistaken_for_forbidden_ones() {
    assert!(!contains_attribute(
        &format!("{IGNORE_ATTR}_case]"),
        IGNORE_ATTR
    ));
    assert!(contains_attribute(
        &format!("  {IGNORE_ATTR}]"),
        IGNORE_ATTR
    ));
    assert!(contains_attribute(IGNORE_ATTR, IGNORE_ATTR));
}
