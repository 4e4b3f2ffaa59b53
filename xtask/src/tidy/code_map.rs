//! The code map: the crate table in `docs/ARCHITECTURE.md` says what the manifests say.
//!
//! The fenced block under `## Code map` has one line per workspace crate:
//!
//! ```text
//! oanix-exec         the executors: the real network I/O   → vfs, caps
//! oanix-env          an agent's environment                → vfs, prims, caps, exec?, wasi
//! ```
//!
//! The first word is the crate; after `→` come the workspace crates it depends on (normal
//! dependencies, not dev-dependencies), separated by commas, `oanix-` left off if one likes;
//! `name?` marks an optional dependency (behind a feature) and `—` stands for none. What lies
//! between is a description and is not checked. Lines without `→` (a header, a legend) are
//! not read. Each crate's line comes below the lines of the crates it depends on, so the map
//! reads from the core up.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use super::workspace_metadata;
use crate::process;

/// The file that holds the code map, from the workspace root.
const DOC: &str = "docs/ARCHITECTURE.md";

/// The heading the code map's block sits under.
const HEADING: &str = "## Code map";

/// What stands for "no dependencies" after the arrow.
const NONE: &[&str] = &["—", "-", "nothing"];

/// A workspace crate and its normal dependencies on other workspace crates.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CrateDeps {
    /// The package name.
    name: String,
    /// Each workspace crate it depends on → whether only optionally (behind a feature).
    deps: BTreeMap<String, bool>,
}

/// One crate's line in the map.
#[derive(Debug)]
struct MapLine {
    /// The line number in the document.
    line: usize,
    /// The crate as written.
    name: String,
    /// The dependencies as written, each with whether it is marked optional.
    deps: Vec<(String, bool)>,
}

/// The lines of the fenced block under [`HEADING`], each with its line number.
fn code_map_block(doc: &str) -> Result<Vec<(usize, &str)>, String> {
    let mut lines = doc.lines().enumerate().map(|(k, text)| (k + 1, text));
    if !lines.any(|(_, text)| text.trim_end() == HEADING) {
        return Err(format!("{DOC} has no `{HEADING}` heading"));
    }
    let mut block = Vec::new();
    let mut open = false;
    for (number, text) in lines {
        if !open && text.starts_with("## ") {
            break;
        }
        if text.trim_start().starts_with("```") {
            if open {
                return Ok(block);
            }
            open = true;
        } else if open {
            block.push((number, text));
        }
    }
    Err(format!(
        "{DOC} has no fenced block (```) under `{HEADING}`, before the next section"
    ))
}

/// Reads the crate lines of the block; problems with the form of a line go to `problems`.
fn parse_map(block: &[(usize, &str)], problems: &mut Vec<String>) -> Vec<MapLine> {
    let mut out = Vec::new();
    for &(line, text) in block {
        let Some((left, right)) = text.split_once('→') else {
            continue;
        };
        let Some(name) = left.split_whitespace().next() else {
            problems.push(format!("{DOC}:{line}: no crate name before `→`"));
            continue;
        };
        let right = right.trim();
        let mut deps = Vec::new();
        if !NONE.contains(&right) {
            for word in right.split(',').map(str::trim) {
                let (dep, optional) = match word.strip_suffix('?') {
                    Some(dep) => (dep, true),
                    None => (word, false),
                };
                let plain = !dep.is_empty()
                    && dep
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                if plain {
                    deps.push((dep.to_owned(), optional));
                } else {
                    problems.push(format!(
                        "{DOC}:{line}: `{word}` is not a crate name (after `→`, write crate names \
                         separated by commas, `name?` for an optional one, or `—` for none)"
                    ));
                }
            }
        }
        out.push(MapLine {
            line,
            name: name.to_owned(),
            deps,
        });
    }
    out
}

/// The workspace crate `word` names: itself if it is one, else with `oanix-` in front.
fn full_name(word: &str, crates: &[CrateDeps]) -> String {
    if crates.iter().any(|c| c.name == word) {
        word.to_owned()
    } else {
        format!("oanix-{word}")
    }
}

/// How the map writes a dependency: without the `oanix-` prefix.
fn short_name(name: &str) -> &str {
    name.strip_prefix("oanix-").unwrap_or(name)
}

/// Every way the code map in `doc` differs from `crates`, one message each.
fn code_map_differences(doc: &str, crates: &[CrateDeps]) -> Vec<String> {
    let block = match code_map_block(doc) {
        Ok(block) => block,
        Err(problem) => return vec![problem],
    };
    let mut problems = Vec::new();
    let lines = parse_map(&block, &mut problems);
    // Crate → its line, for those whose name is a workspace crate.
    let mut placed: BTreeMap<String, &MapLine> = BTreeMap::new();
    for entry in &lines {
        let name = full_name(&entry.name, crates);
        if !crates.iter().any(|c| c.name == name) {
            problems.push(format!(
                "{DOC}:{}: `{}` is not a workspace crate; remove the line or fix the name",
                entry.line, entry.name
            ));
        } else if let Some(first) = placed.get(&name) {
            problems.push(format!(
                "{DOC}:{}: {name} has a line already (line {}); keep one",
                entry.line, first.line
            ));
        } else {
            placed.insert(name, entry);
        }
    }
    for krate in crates {
        let Some(entry) = placed.get(&krate.name) else {
            problems.push(format!(
                "{DOC}: {} has no line in the code map; add `{} … → {}`",
                krate.name,
                krate.name,
                written_deps(&krate.deps)
            ));
            continue;
        };
        let mut written: BTreeMap<String, bool> = BTreeMap::new();
        for (dep, optional) in &entry.deps {
            let dep = full_name(dep, crates);
            if written.insert(dep.clone(), *optional).is_some() {
                problems.push(format!(
                    "{DOC}:{}: {} lists {dep} twice",
                    entry.line, krate.name
                ));
            }
        }
        let at = format!("{DOC}:{}: {}", entry.line, krate.name);
        for (dep, optional) in &krate.deps {
            match written.get(dep) {
                None => problems.push(format!(
                    "{at} depends on {dep} (in its Cargo.toml), which the code map leaves out"
                )),
                Some(marked) if marked != optional => problems.push(if *optional {
                    format!(
                        "{at} depends on {dep} only behind a feature; write `{}?`",
                        short_name(dep)
                    )
                } else {
                    format!(
                        "{at} always depends on {dep}; write `{}` without `?`",
                        short_name(dep)
                    )
                }),
                Some(_) => {}
            }
        }
        for dep in written.keys() {
            if !krate.deps.contains_key(dep) {
                problems.push(format!(
                    "{at}: the code map says it depends on {dep}, its Cargo.toml does not"
                ));
            } else if placed.get(dep).is_some_and(|below| below.line > entry.line) {
                problems.push(format!(
                    "{at} depends on {dep}, whose line comes later; put every crate below the \
                     crates it depends on"
                ));
            }
        }
    }
    problems
}

/// The dependencies as the map writes them.
fn written_deps(deps: &BTreeMap<String, bool>) -> String {
    if deps.is_empty() {
        return "—".to_owned();
    }
    let words: Vec<String> = deps
        .iter()
        .map(|(dep, optional)| format!("{}{}", short_name(dep), if *optional { "?" } else { "" }))
        .collect();
    words.join(", ")
}

#[test]
fn the_code_map_matches_the_manifests() {
    let metadata = workspace_metadata();
    let members: BTreeSet<&str> = metadata.packages.iter().map(|p| p.name.as_str()).collect();
    let crates: Vec<CrateDeps> = metadata
        .packages
        .iter()
        .map(|package| {
            let mut deps: BTreeMap<String, bool> = BTreeMap::new();
            for dep in &package.dependencies {
                if dep.kind.is_none() && members.contains(dep.name.as_str()) {
                    // Optional only if optional in every table that names it.
                    let optional = deps.get(&dep.name).is_none_or(|o| *o) && dep.optional;
                    deps.insert(dep.name.clone(), optional);
                }
            }
            CrateDeps {
                name: package.name.clone(),
                deps,
            }
        })
        .collect();
    let path = process::workspace_root().join(DOC);
    let doc = fs::read_to_string(&path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    let differences = code_map_differences(&doc, &crates);
    assert!(
        differences.is_empty(),
        "the code map in {DOC} (the fenced block under `{HEADING}`) differs from the crates' \
         Cargo.toml; edit the block:\n{}",
        differences.join("\n")
    );
}

/// A made-up workspace: `low`, `mid` on `low`, `top` on both (`mid` behind a feature).
fn toy_crates() -> Vec<CrateDeps> {
    let deps = |list: &[(&str, bool)]| {
        list.iter()
            .map(|(name, optional)| ((*name).to_owned(), *optional))
            .collect()
    };
    vec![
        CrateDeps {
            name: "oanix-low".to_owned(),
            deps: deps(&[]),
        },
        CrateDeps {
            name: "oanix-mid".to_owned(),
            deps: deps(&[("oanix-low", false)]),
        },
        CrateDeps {
            name: "oanix".to_owned(),
            deps: deps(&[("oanix-low", false), ("oanix-mid", true)]),
        },
    ]
}

/// A document whose code map block holds `block`.
fn toy_doc(block: &str) -> String {
    format!("# Title\n\n## Code map\n\nText.\n\n```\ncrate  what  uses\n{block}```\n\n## Next\n")
}

#[test]
fn a_true_map_passes() {
    let doc = toy_doc(
        "oanix-low   the core       → —\n\
         oanix-mid   the middle     → low\n\
         oanix       the facade     → oanix-low, mid?\n\
         \n\
         x? : behind a feature\n",
    );
    assert_eq!(
        code_map_differences(&doc, &toy_crates()),
        Vec::<String>::new()
    );
}

#[test]
fn every_difference_is_named() {
    let doc = toy_doc(
        "oanix       the facade     → low, mid\n\
         oanix-mid   the middle     → —\n\
         oanix-low   the core       → mid, low\n\
         oanix-gone  no more        → low\n\
         oanix-mid   again          → low, the core\n",
    );
    assert_eq!(
        code_map_differences(&doc, &toy_crates()),
        [
            "docs/ARCHITECTURE.md:13: `the core` is not a crate name (after `→`, write crate names \
             separated by commas, `name?` for an optional one, or `—` for none)",
            "docs/ARCHITECTURE.md:12: `oanix-gone` is not a workspace crate; remove the line or fix the name",
            "docs/ARCHITECTURE.md:13: oanix-mid has a line already (line 10); keep one",
            "docs/ARCHITECTURE.md:11: oanix-low: the code map says it depends on oanix-low, its Cargo.toml does not",
            "docs/ARCHITECTURE.md:11: oanix-low: the code map says it depends on oanix-mid, its Cargo.toml does not",
            "docs/ARCHITECTURE.md:10: oanix-mid depends on oanix-low (in its Cargo.toml), which the code map leaves out",
            "docs/ARCHITECTURE.md:9: oanix depends on oanix-mid only behind a feature; write `mid?`",
            "docs/ARCHITECTURE.md:9: oanix depends on oanix-low, whose line comes later; put every crate below \
             the crates it depends on",
            "docs/ARCHITECTURE.md:9: oanix depends on oanix-mid, whose line comes later; put every crate below \
             the crates it depends on",
        ]
    );
}

#[test]
fn missing_crates_and_missing_blocks_are_named() {
    let doc = toy_doc("oanix-low  the core  → —\n");
    assert_eq!(
        code_map_differences(&doc, &toy_crates()),
        [
            "docs/ARCHITECTURE.md: oanix-mid has no line in the code map; add `oanix-mid … → low`",
            "docs/ARCHITECTURE.md: oanix has no line in the code map; add `oanix … → low, mid?`",
        ]
    );
    assert_eq!(
        code_map_differences(
            "# Title\n\n## Code map\n\nText.\n\n## Next\n```\n```\n",
            &[]
        ),
        [
            "docs/ARCHITECTURE.md has no fenced block (```) under `## Code map`, before the next section"
        ]
    );
    assert_eq!(
        code_map_differences("# Title\n", &[]),
        ["docs/ARCHITECTURE.md has no `## Code map` heading"]
    );
}
