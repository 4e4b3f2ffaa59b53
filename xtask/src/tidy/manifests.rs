//! Manifest rules: every library crate inherits the workspace lints and has a description.

use std::fs;

use super::workspace_metadata;

/// Workspace members exempt from the manifest rules: tooling, not part of OANIX itself.
const EXEMPT: &[&str] = &["xtask"];

/// Problems with one member's manifest, given its `description` and the text of its `Cargo.toml`.
fn manifest_problems(description: Option<&str>, manifest: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if description.is_none_or(|text| text.trim().is_empty()) {
        problems.push("has no `description` in [package]".to_owned());
    }
    match manifest.parse::<toml::Table>() {
        Ok(table) => {
            let inherits = table
                .get("lints")
                .and_then(|lints| lints.get("workspace"))
                .and_then(toml::Value::as_bool)
                == Some(true);
            if !inherits {
                problems.push("does not have `[lints] workspace = true`".to_owned());
            }
        }
        Err(err) => problems.push(format!("Cargo.toml does not parse: {err}")),
    }
    problems
}

#[test]
fn every_member_inherits_lints_and_has_a_description() {
    let mut report = Vec::new();
    for package in workspace_metadata().packages {
        if EXEMPT.contains(&package.name.as_str()) {
            continue;
        }
        let manifest = fs::read_to_string(&package.manifest_path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", package.manifest_path.display()));
        for problem in manifest_problems(package.description.as_deref(), &manifest) {
            report.push(format!("{}: {problem}", package.name));
        }
    }
    assert!(
        report.is_empty(),
        "manifest rules broken:\n{}",
        report.join("\n")
    );
}

#[test]
fn manifest_rules_reject_bad_manifests() {
    let good = "[package]\nname = \"a\"\n\n[lints]\nworkspace = true\n";
    assert!(manifest_problems(Some("A crate"), good).is_empty());
    assert!(manifest_problems(Some("A crate"), "lints.workspace = true\n").is_empty());

    assert_eq!(
        manifest_problems(None, good),
        ["has no `description` in [package]"]
    );
    assert_eq!(
        manifest_problems(Some("  "), good),
        ["has no `description` in [package]"]
    );
    assert_eq!(
        manifest_problems(Some("A crate"), "[package]\nname = \"a\"\n"),
        ["does not have `[lints] workspace = true`"]
    );
    assert_eq!(
        manifest_problems(Some("A crate"), "[lints]\nworkspace = false\n"),
        ["does not have `[lints] workspace = true`"]
    );
    assert_eq!(manifest_problems(Some("A crate"), "[lints\n").len(), 1);
}
