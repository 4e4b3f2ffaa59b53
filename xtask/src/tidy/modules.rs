//! Module circles: within a crate, no chain of `use` edges between files leads back to its start.
//!
//! A module is a file. File A *uses* file B when A names a path that resolves into B: a `use`
//! declaration (`use crate::b::X;`, grouped `use crate::{a::X, b::Y};`, `use super::b;`,
//! `use self::b::X;`, or a child module by its bare name), or such a path written in code
//! (`crate::b::f()`). A path resolves to the longest prefix of it that is a module; when the rest
//! starts with a name that module imports, it resolves on through that import to where the item
//! is defined, so `crate::FsError` with `pub use error::FsError;` at the root leads to
//! `error.rs`. A re-export (`pub use`, `pub(crate) use`, …) is not an edge by itself, unless
//! the module's own code uses the name too: it is how a module passes on another's item, and
//! whoever names it is taken to the item's own module. A parent declaring `mod child;` is not
//! an edge either. Only paths are read: a method called on a value, or a trait implemented for
//! a type of another module, leaves no path and so no edge.
//!
//! Files are found the way the compiler finds them: from each crate root under `src/`
//! (`lib.rs`, `main.rs`, `bin/*.rs`), through `mod name;` declarations. Comments, strings and
//! character literals are left out before anything is read, and `$crate` paths in macros are
//! skipped (they name the crate the macro is used in).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::Path;

use super::source::rust_files;
use super::workspace_metadata;
use crate::process;

/// How many circles are reported per crate before the rest is summarised.
const MAX_CIRCLES: usize = 100;

/// A token of Rust source, once comments, strings and character literals are gone.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A word: an identifier or a keyword (`r#` left off raw identifiers).
    Ident(String),
    /// `::`.
    PathSep,
    /// Any other character outside whitespace.
    Punct(char),
}

/// A token and the line it is on (from 1).
#[derive(Debug, Clone)]
struct Token {
    /// The token.
    tok: Tok,
    /// Its line.
    line: usize,
}

/// Splits `text` into tokens, leaving out comments, string and character literals and
/// lifetimes, and counting lines.
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let at = |k: usize| chars.get(k).copied();
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while let Some(c) = at(i) {
        match c {
            '\n' => {
                line += 1;
                i += 1;
            }
            c if c.is_whitespace() => i += 1,
            '/' if at(i + 1) == Some('/') => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => i = skip_block_comment(&chars, i, &mut line),
            '"' => i = skip_string(&chars, i + 1, &mut line),
            '\'' => i = skip_quote(&chars, i, &mut line),
            c if c.is_ascii_digit() => {
                while at(i).is_some_and(is_word) {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_some_and(is_word) {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let raw_string_follows = || {
                    let mut k = i;
                    while at(k) == Some('#') {
                        k += 1;
                    }
                    at(k) == Some('"')
                };
                match (word.as_str(), at(i)) {
                    ("b" | "c", Some('"')) => i = skip_string(&chars, i + 1, &mut line),
                    ("b", Some('\'')) => i = skip_quote(&chars, i, &mut line),
                    ("r" | "br" | "cr", Some('"' | '#')) if raw_string_follows() => {
                        i = skip_raw_string(&chars, i, &mut line);
                    }
                    ("r", Some('#'))
                        if at(i + 1).is_some_and(|c| c.is_alphabetic() || c == '_') =>
                    {
                        let start = i + 1;
                        i = start;
                        while at(i).is_some_and(is_word) {
                            i += 1;
                        }
                        out.push(Token {
                            tok: Tok::Ident(chars[start..i].iter().collect()),
                            line,
                        });
                    }
                    _ => out.push(Token {
                        tok: Tok::Ident(word),
                        line,
                    }),
                }
            }
            ':' if at(i + 1) == Some(':') => {
                out.push(Token {
                    tok: Tok::PathSep,
                    line,
                });
                i += 2;
            }
            c => {
                out.push(Token {
                    tok: Tok::Punct(c),
                    line,
                });
                i += 1;
            }
        }
    }
    out
}

/// Skips a (nested) block comment starting at `i`; returns the index after it.
fn skip_block_comment(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    let mut depth = 0usize;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('/', Some('*')) => {
                depth += 1;
                i += 2;
            }
            ('*', Some('/')) => {
                depth -= 1;
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            (c, _) => {
                if c == '\n' {
                    *line += 1;
                }
                i += 1;
            }
        }
    }
    i
}

/// Skips the rest of a string literal whose opening quote is before `i`.
fn skip_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    while let Some(&c) = chars.get(i) {
        match c {
            '"' => return i + 1,
            '\\' => {
                if chars.get(i + 1) == Some(&'\n') {
                    *line += 1;
                }
                i += 2;
            }
            '\n' => {
                *line += 1;
                i += 1;
            }
            _ => i += 1,
        }
    }
    i
}

/// Skips a raw string whose `#`s or opening quote start at `i`.
fn skip_raw_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    let mut hashes = 0;
    while chars.get(i) == Some(&'#') {
        hashes += 1;
        i += 1;
    }
    i += 1; // The opening quote.
    while let Some(&c) = chars.get(i) {
        if c == '\n' {
            *line += 1;
        }
        i += 1;
        if c == '"' && (0..hashes).all(|k| chars.get(i + k) == Some(&'#')) {
            return i + hashes;
        }
    }
    i
}

/// Skips a character literal or a lifetime (or label) whose quote is at `i`.
fn skip_quote(chars: &[char], i: usize, line: &mut usize) -> usize {
    if chars.get(i + 1) == Some(&'\\') {
        // An escape: `'\n'`, `'\''`, `'\u{1F600}'`.
        let mut k = i + 3;
        while chars.get(k).is_some_and(|&c| c != '\'' && c != '\n') {
            k += 1;
        }
        return k + 1;
    }
    if chars.get(i + 2) == Some(&'\'') {
        if chars.get(i + 1) == Some(&'\n') {
            *line += 1;
        }
        return i + 3;
    }
    let mut k = i + 1;
    while chars
        .get(k)
        .is_some_and(|&c| c.is_alphanumeric() || c == '_')
    {
        k += 1;
    }
    k
}

/// A path named by a file: where, and in which (inline) module of it.
#[derive(Debug, Clone)]
struct PathRef {
    /// The inline modules around it, below the file's own module.
    within: Vec<String>,
    /// The path as written (a leading `::` kept as its own segment).
    segments: Vec<String>,
    /// The line it ends on.
    line: usize,
}

/// A name brought into a module by a `use` declaration.
#[derive(Debug, Clone)]
struct Import {
    /// The inline modules around the declaration.
    within: Vec<String>,
    /// The name it is known by in the module.
    name: String,
    /// The path it stands for, as written.
    segments: Vec<String>,
}

/// What one file says about modules.
#[derive(Debug, Default)]
struct FileFacts {
    /// `mod name;` declarations: the inline modules around each, and its name.
    declared: Vec<(Vec<String>, String)>,
    /// Inline `mod name { … }` modules, as paths below the file's module.
    inline: Vec<Vec<String>>,
    /// The paths that are edges: in private `use` declarations and in code.
    edges: Vec<PathRef>,
    /// Every name a `use` declaration brings in, re-exports included.
    imports: Vec<Import>,
}

/// A re-export waiting to know whether the file's own code uses its name.
#[derive(Debug)]
struct Reexport {
    /// The name it is known by.
    name: String,
    /// The path, where it was written.
    path: PathRef,
}

/// One leaf of a `use` tree.
#[derive(Debug)]
struct Leaf {
    /// The full path.
    segments: Vec<String>,
    /// The name it is imported as (`None` for a glob or `as _`).
    name: Option<String>,
    /// The line of its last word.
    line: usize,
}

/// Reads a `use` tree starting at `*j` (after `use` or inside braces), below `prefix`.
fn use_tree(tokens: &[Token], j: &mut usize, mut prefix: Vec<String>, out: &mut Vec<Leaf>) {
    let tok = |k: usize| tokens.get(k).map(|t| &t.tok);
    if tok(*j) == Some(&Tok::PathSep) {
        if prefix.is_empty() {
            prefix.push("::".to_owned());
        }
        *j += 1;
    }
    loop {
        let line = tokens.get(*j).map_or(0, |t| t.line);
        match tok(*j) {
            Some(Tok::Ident(word)) => {
                let word = word.clone();
                *j += 1;
                if tok(*j) == Some(&Tok::PathSep) {
                    prefix.push(word);
                    *j += 1;
                    continue;
                }
                let (segments, mut name) = if word == "self" && !prefix.is_empty() {
                    let name = prefix.last().cloned();
                    (prefix, name)
                } else {
                    prefix.push(word.clone());
                    (prefix, Some(word))
                };
                if tok(*j) == Some(&Tok::Ident("as".to_owned())) {
                    name = match tok(*j + 1) {
                        Some(Tok::Ident(alias)) if alias != "_" => Some(alias.clone()),
                        _ => None,
                    };
                    *j += 2;
                }
                out.push(Leaf {
                    segments,
                    name,
                    line,
                });
                return;
            }
            Some(Tok::Punct('*')) => {
                *j += 1;
                out.push(Leaf {
                    segments: prefix,
                    name: None,
                    line,
                });
                return;
            }
            Some(Tok::Punct('{')) => {
                *j += 1;
                loop {
                    match tok(*j) {
                        Some(Tok::Punct('}')) => {
                            *j += 1;
                            return;
                        }
                        Some(Tok::Punct(',')) => *j += 1,
                        None | Some(Tok::Punct(';')) => return,
                        Some(_) => {
                            let before = *j;
                            use_tree(tokens, j, prefix.clone(), out);
                            if *j == before {
                                *j += 1;
                            }
                        }
                    }
                }
            }
            _ => return,
        }
    }
}

/// Whether the `use` at `i` is a re-export (`pub use`, `pub(crate) use`, …).
fn is_reexport(tokens: &[Token], i: usize) -> bool {
    let Some(before) = i.checked_sub(1).map(|k| &tokens[k].tok) else {
        return false;
    };
    match before {
        Tok::Ident(word) => word == "pub",
        Tok::Punct(')') => {
            let mut k = i - 1;
            while k > 0 && tokens[k].tok != Tok::Punct('(') {
                k -= 1;
            }
            k > 0 && tokens[k - 1].tok == Tok::Ident("pub".to_owned())
        }
        _ => false,
    }
}

/// Reads what a file's tokens say about modules.
fn scan(tokens: &[Token]) -> FileFacts {
    let tok = |k: usize| tokens.get(k).map(|t| &t.tok);
    let ident = |k: usize| match tok(k) {
        Some(Tok::Ident(word)) => Some(word.as_str()),
        _ => None,
    };
    let mut facts = FileFacts::default();
    // Re-exports, and the words of the code outside `use` declarations: a re-export whose name
    // the code uses is an edge like any other `use`.
    let mut reexports = Vec::new();
    let mut words = BTreeSet::new();
    // The inline modules we are in, each with the brace depth inside it.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let within = || {
            inline
                .iter()
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>()
        };
        match &tokens[i].tok {
            Tok::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Tok::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Tok::Ident(word) if word == "mod" && ident(i + 1).is_some() => {
                let name = ident(i + 1).unwrap_or_default().to_owned();
                match tok(i + 2) {
                    Some(Tok::Punct(';')) => {
                        facts.declared.push((within(), name));
                        i += 3;
                    }
                    Some(Tok::Punct('{')) => {
                        let mut path = within();
                        path.push(name.clone());
                        facts.inline.push(path);
                        depth += 1;
                        inline.push((name, depth));
                        i += 3;
                    }
                    _ => i += 1,
                }
            }
            Tok::Ident(word)
                if word == "use"
                    && tok(i + 1) != Some(&Tok::Punct('<'))
                    && i.checked_sub(1).map(|k| &tokens[k].tok) != Some(&Tok::Punct('+')) =>
            {
                let reexport = is_reexport(tokens, i);
                let mut j = i + 1;
                let mut leaves = Vec::new();
                use_tree(tokens, &mut j, Vec::new(), &mut leaves);
                while tok(j).is_some_and(|t| *t != Tok::Punct(';')) {
                    j += 1;
                }
                let within = within();
                for leaf in leaves {
                    let path = PathRef {
                        within: within.clone(),
                        segments: leaf.segments,
                        line: leaf.line,
                    };
                    if let Some(name) = leaf.name {
                        facts.imports.push(Import {
                            within: within.clone(),
                            name: name.clone(),
                            segments: path.segments.clone(),
                        });
                        if reexport {
                            reexports.push(Reexport { name, path });
                            continue;
                        }
                    }
                    if !reexport {
                        facts.edges.push(path);
                    }
                }
                i = j + 1;
            }
            Tok::Ident(_)
                if tok(i + 1) == Some(&Tok::PathSep)
                    && !i.checked_sub(1).is_some_and(|k| {
                        matches!(tokens[k].tok, Tok::PathSep | Tok::Punct('$'))
                    }) =>
            {
                let mut segments = Vec::new();
                let mut j = i;
                while let Some(word) = ident(j) {
                    segments.push(word.to_owned());
                    if tok(j + 1) == Some(&Tok::PathSep) && ident(j + 2).is_some() {
                        j += 2;
                    } else {
                        break;
                    }
                }
                words.extend(segments.iter().cloned());
                facts.edges.push(PathRef {
                    within: within(),
                    segments,
                    line: tokens[j].line,
                });
                i = j + 1;
            }
            Tok::Ident(word) => {
                words.insert(word.clone());
                i += 1;
            }
            _ => i += 1,
        }
    }
    facts.edges.extend(
        reexports
            .into_iter()
            .filter(|reexport| words.contains(&reexport.name))
            .map(|reexport| reexport.path),
    );
    facts
}

/// One crate target's module tree: every module (file or inline) and the file it is in, and
/// every import by module and name.
#[derive(Debug, Default)]
struct Tree {
    /// Module path (below `crate`) → the file that holds it.
    modules: HashMap<Vec<String>, String>,
    /// (module path, imported name) → the path as written in that module's `use`.
    imports: HashMap<(Vec<String>, String), Vec<String>>,
    /// The files of the tree, with the module path of each.
    files: Vec<(String, Vec<String>)>,
}

impl Tree {
    /// The absolute module path `segments` names when written in module `context`, or `None`
    /// when it leads outside the crate.
    fn absolute(&self, context: &[String], segments: &[String]) -> Option<Vec<String>> {
        let first = segments.first()?;
        match first.as_str() {
            "::" => None,
            "crate" => Some(segments[1..].to_vec()),
            "self" | "super" => {
                let mut base = context.to_vec();
                let mut k = usize::from(first == "self");
                while segments.get(k).is_some_and(|s| s == "super") {
                    base.pop()?;
                    k += 1;
                }
                base.extend_from_slice(&segments[k..]);
                Some(base)
            }
            name => {
                let mut child = context.to_vec();
                child.push(name.to_owned());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                child.extend_from_slice(&segments[1..]);
                Some(child)
            }
        }
    }

    /// The file that defines what the absolute path `path` names.
    fn file_of(&self, mut path: Vec<String>) -> &str {
        // Each step follows one import; a chain longer than this is a loop of re-exports.
        for _ in 0..16 {
            let mut len = path.len();
            while !self.modules.contains_key(&path[..len]) {
                len -= 1;
            }
            let module = path[..len].to_vec();
            let next = path.get(len).and_then(|name| {
                let segments = self.imports.get(&(module.clone(), name.clone()))?;
                self.absolute(&module, segments)
            });
            match next {
                Some(mut next) => {
                    next.extend_from_slice(&path[len + 1..]);
                    path = next;
                }
                None => return &self.modules[&module],
            }
        }
        &self.modules[&Vec::new()]
    }
}

/// The directory `mod name;` declarations in `file` look in (below `src/`-relative paths).
fn child_dir(file: &str, is_root: bool) -> String {
    let (dir, name) = file.rsplit_once('/').unwrap_or(("", file));
    if is_root || name == "mod.rs" {
        dir.to_owned()
    } else {
        format!("{dir}/{}", name.trim_end_matches(".rs"))
    }
}

/// Builds the module tree of the crate root `root`, scanning files into `facts` as found.
fn module_tree(
    root: &str,
    files: &BTreeMap<String, String>,
    facts: &mut HashMap<String, FileFacts>,
) -> Tree {
    let mut tree = Tree::default();
    let mut pending = vec![(root.to_owned(), Vec::<String>::new())];
    while let Some((file, module)) = pending.pop() {
        if tree.files.iter().any(|(seen, _)| *seen == file) {
            continue;
        }
        let Some(text) = files.get(&file) else {
            continue;
        };
        let file_facts = facts
            .entry(file.clone())
            .or_insert_with(|| scan(&tokenize(text)));
        tree.modules.insert(module.clone(), file.clone());
        for inline in &file_facts.inline {
            tree.modules
                .insert([module.clone(), inline.clone()].concat(), file.clone());
        }
        for import in &file_facts.imports {
            let context = [module.clone(), import.within.clone()].concat();
            tree.imports
                .insert((context, import.name.clone()), import.segments.clone());
        }
        let dir = child_dir(&file, file == root);
        for (within, name) in &file_facts.declared {
            let base = if within.is_empty() {
                dir.clone()
            } else {
                format!("{dir}/{}", within.join("/"))
            };
            let child_module = [module.clone(), within.clone(), vec![name.clone()]].concat();
            for candidate in [format!("{base}/{name}.rs"), format!("{base}/{name}/mod.rs")] {
                if files.contains_key(&candidate) {
                    pending.push((candidate, child_module.clone()));
                    break;
                }
            }
        }
        tree.files.push((file, module));
    }
    tree
}

/// The crate roots among `files`: `src/lib.rs`, `src/main.rs`, `src/bin/*.rs`, `src/bin/*/main.rs`.
fn crate_roots(files: &BTreeMap<String, String>) -> Vec<&str> {
    files
        .keys()
        .map(String::as_str)
        .filter(|file| {
            let bin = file.strip_prefix("src/bin/");
            matches!(*file, "src/lib.rs" | "src/main.rs")
                || bin.is_some_and(|rest| !rest.contains('/') || rest.ends_with("/main.rs"))
        })
        .collect()
}

/// An edge between two files and where it is first seen.
#[derive(Debug, Clone)]
struct Evidence {
    /// The line in the using file.
    line: usize,
    /// The path as written there.
    path: String,
}

/// Every circle among the modules of one crate, one message each, naming the files.
///
/// `files` maps each `.rs` file's path relative to the crate directory (`src/lib.rs`) to its
/// text; `crate_dir` is put before each path in messages (`crates/oanix-wasi/`).
fn module_circles(crate_dir: &str, files: &BTreeMap<String, String>) -> Vec<String> {
    let mut facts = HashMap::new();
    let mut edges: BTreeMap<String, BTreeMap<String, Evidence>> = BTreeMap::new();
    for root in crate_roots(files) {
        let tree = module_tree(root, files, &mut facts);
        for (file, module) in &tree.files {
            for path_ref in &facts[file].edges {
                let context = [module.clone(), path_ref.within.clone()].concat();
                let Some(absolute) = tree.absolute(&context, &path_ref.segments) else {
                    continue;
                };
                let target = tree.file_of(absolute);
                if target == file {
                    continue;
                }
                edges
                    .entry(file.clone())
                    .or_default()
                    .entry(target.to_owned())
                    .or_insert_with(|| Evidence {
                        line: path_ref.line,
                        path: path_ref.segments.join("::"),
                    });
            }
        }
    }
    let graph: BTreeMap<&str, BTreeSet<&str>> = edges
        .iter()
        .map(|(from, to)| (from.as_str(), to.keys().map(String::as_str).collect()))
        .collect();
    let circles = elementary_circles(&graph, MAX_CIRCLES + 1);
    let mut report: Vec<String> = circles
        .iter()
        .take(MAX_CIRCLES)
        .map(|circle| {
            let mut text = String::new();
            for (k, file) in circle.iter().enumerate() {
                let next = circle[(k + 1) % circle.len()];
                let evidence = &edges[*file][next];
                text.push_str(&format!(
                    "{crate_dir}{file} (line {}: {}) → ",
                    evidence.line, evidence.path
                ));
            }
            text.push_str(&format!("{crate_dir}{}", circle[0]));
            text
        })
        .collect();
    if circles.len() > MAX_CIRCLES {
        report.push(format!(
            "{crate_dir}: more than {MAX_CIRCLES} circles; break the ones above first"
        ));
    }
    report
}

/// The nodes `start` reaches in `graph` (itself included).
fn reachable<'a>(
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    start: &'a str,
) -> BTreeSet<&'a str> {
    let mut seen = BTreeSet::from([start]);
    let mut pending = vec![start];
    while let Some(node) = pending.pop() {
        for &next in graph.get(node).into_iter().flatten() {
            if seen.insert(next) {
                pending.push(next);
            }
        }
    }
    seen
}

/// The elementary circles of `graph` (each once, starting at its smallest node), at most `limit`.
fn elementary_circles<'a>(
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    limit: usize,
) -> Vec<Vec<&'a str>> {
    let reach: BTreeMap<&str, BTreeSet<&str>> = graph
        .keys()
        .map(|&node| (node, reachable(graph, node)))
        .collect();
    let mut found = Vec::new();
    for &start in graph.keys() {
        // Only nodes on a circle with `start` and after it, so each circle is found once.
        let component: BTreeSet<&str> = reach[start]
            .iter()
            .copied()
            .filter(|&node| node > start && reach.get(node).is_some_and(|r| r.contains(start)))
            .collect();
        let mut path = vec![start];
        walk_circles(graph, &component, &mut path, &mut found, limit);
        if found.len() >= limit {
            break;
        }
    }
    found
}

/// Extends `path` through `allowed` nodes, recording every way back to its first node.
fn walk_circles<'a>(
    graph: &BTreeMap<&'a str, BTreeSet<&'a str>>,
    allowed: &BTreeSet<&'a str>,
    path: &mut Vec<&'a str>,
    found: &mut Vec<Vec<&'a str>>,
    limit: usize,
) {
    let Some(&last) = path.last() else { return };
    for &next in graph.get(last).into_iter().flatten() {
        if found.len() >= limit {
            return;
        }
        if next == path[0] {
            found.push(path.clone());
        } else if allowed.contains(next) && !path.contains(&next) {
            path.push(next);
            walk_circles(graph, allowed, path, found, limit);
            path.pop();
        }
    }
}

#[test]
fn no_workspace_crate_has_module_circles() {
    let root = process::workspace_root();
    let mut report = Vec::new();
    for package in workspace_metadata().packages {
        let Some(dir) = package.manifest_path.parent() else {
            continue;
        };
        let src = dir.join("src");
        if !src.is_dir() {
            continue;
        }
        let files: BTreeMap<String, String> = rust_files(&src)
            .into_iter()
            .map(|path| {
                let text = fs::read_to_string(&path)
                    .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
                (relative(&path, dir), text)
            })
            .collect();
        let shown = relative(dir, &root);
        let prefix = if shown.is_empty() {
            String::new()
        } else {
            format!("{shown}/")
        };
        report.extend(module_circles(&prefix, &files));
    }
    assert!(
        report.is_empty(),
        "module circles (a module is a file; break each circle by moving what both sides need \
         into a module of its own that both use, or by turning the dependency around):\n{}",
        report.join("\n")
    );
}

/// `path` relative to `base`, with `/` between components.
fn relative(path: &Path, base: &Path) -> String {
    let inner = path.strip_prefix(base).unwrap_or(path);
    inner
        .components()
        .map(|part| part.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// A made-up crate from `(path, text)` pairs.
fn toy(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(path, text)| ((*path).to_owned(), (*text).to_owned()))
        .collect()
}

#[test]
fn a_circle_through_use_crate_is_reported_with_its_files() {
    let files = toy(&[
        ("src/lib.rs", "//! Root.\nmod a;\nmod b;\n"),
        ("src/a.rs", "//! A.\nuse crate::b::B;\npub struct A;\n"),
        (
            "src/b.rs",
            "//! B.\n\nuse crate::{a::A, c};\npub struct B;\n",
        ),
    ]);
    assert_eq!(
        module_circles("crates/toy/", &files),
        [
            "crates/toy/src/a.rs (line 2: crate::b::B) → crates/toy/src/b.rs (line 3: crate::a::A) \
          → crates/toy/src/a.rs"
        ]
    );
}

#[test]
fn longer_circles_super_paths_and_code_paths_are_found() {
    let files = toy(&[
        ("src/lib.rs", "//! Root.\nmod host;\n"),
        (
            "src/host/mod.rs",
            "//! Host.\nmod imports;\nmod poll;\nmod abi;\n",
        ),
        (
            "src/host/imports.rs",
            "//! Imports.\nuse super::{abi::Mem, poll};\nfn f() { poll::run(); }\n",
        ),
        (
            "src/host/poll.rs",
            "//! Poll.\nfn g() { let _ = crate::host::abi::X; }\n",
        ),
        (
            "src/host/abi.rs",
            "//! Abi.\nfn h() -> super::imports::Cx { todo!() }\n",
        ),
    ]);
    let circles = module_circles("", &files);
    assert_eq!(
        circles,
        [
            "src/host/abi.rs (line 2: super::imports::Cx) → src/host/imports.rs (line 2: super::abi::Mem) \
             → src/host/abi.rs",
            "src/host/abi.rs (line 2: super::imports::Cx) → src/host/imports.rs (line 2: super::poll) \
             → src/host/poll.rs (line 2: crate::host::abi::X) → src/host/abi.rs",
        ]
    );
}

#[test]
fn parents_declaring_children_reexports_and_tests_are_not_circles() {
    let files = toy(&[
        (
            "src/lib.rs",
            "//! Root.\nmod error;\nmod ns;\npub use error::FsError;\npub use ns::{Ns, builder::Builder};\n",
        ),
        ("src/error.rs", "//! Errors.\npub struct FsError;\n"),
        (
            "src/ns/mod.rs",
            "//! Ns.\nmod builder;\nmod resolve;\npub use builder::Builder;\npub use resolve::Ns;\n",
        ),
        (
            "src/ns/resolve.rs",
            "//! Resolve.\nuse crate::FsError;\npub struct Ns;\n\
             #[cfg(test)]\nmod tests {\n    use super::*;\n    use crate::ns::Builder;\n}\n",
        ),
        (
            "src/ns/builder.rs",
            "//! Builder.\nuse super::resolve::Ns;\nuse crate::error::FsError;\npub struct Builder;\n",
        ),
    ]);
    // resolve.rs's tests use the builder: builder → resolve → builder is a circle, found
    // through the re-export in ns/mod.rs, not through the parents.
    assert_eq!(
        module_circles("", &files),
        [
            "src/ns/builder.rs (line 2: super::resolve::Ns) → src/ns/resolve.rs (line 7: crate::ns::Builder) \
          → src/ns/builder.rs"
        ]
    );
    let mut fixed = files.clone();
    fixed.insert(
        "src/ns/resolve.rs".to_owned(),
        "//! Resolve.\nuse crate::FsError;\npub struct Ns;\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n"
            .to_owned(),
    );
    assert_eq!(module_circles("", &fixed), Vec::<String>::new());
}

#[test]
fn a_reexport_the_module_itself_uses_is_an_edge() {
    let files = |parent: &str| {
        toy(&[
            ("src/lib.rs", "//! Root.\nmod host;\n"),
            ("src/host/mod.rs", parent),
            (
                "src/host/fds.rs",
                "//! Fds.\nuse super::Limit;\npub struct Table(Limit);\n",
            ),
        ])
    };
    let passed_on = "//! Host.\nmod fds;\npub(crate) use fds::Table;\npub struct Limit;\n";
    assert_eq!(module_circles("", &files(passed_on)), Vec::<String>::new());
    let used = "//! Host.\nmod fds;\npub(crate) use fds::Table;\npub struct Limit;\n\
                pub struct Host {\n    fds: Table,\n}\n";
    assert_eq!(
        module_circles("", &files(used)),
        [
            "src/host/fds.rs (line 2: super::Limit) → src/host/mod.rs (line 3: fds::Table) \
          → src/host/fds.rs"
        ]
    );
}

#[test]
fn comments_strings_and_macro_paths_are_not_edges() {
    let files = toy(&[
        (
            "src/lib.rs",
            "//! Root, see [`a`](crate::a).\nmod a;\nmod b;\n",
        ),
        (
            "src/a.rs",
            "//! A: [`crate::b::B`].\n/* use crate::b; */\nconst S: &str = \"crate::b::B\";\n\
             const R: &str = r#\"use crate::b;\"#;\nconst C: char = '\"';\nfn f<'a>(x: &'a str) {}\n\
             macro_rules! m { () => { $crate::b::B } }\nuse crate::b::B;\n",
        ),
        (
            "src/b.rs",
            "//! B.\n// crate::a::A\npub struct B;\nconst Q: char = '\\'';\n",
        ),
    ]);
    assert_eq!(module_circles("", &files), Vec::<String>::new());
    let mut circular = files.clone();
    circular.insert(
        "src/b.rs".to_owned(),
        "//! B.\npub struct B;\nconst Q: char = '\\'';\nfn g() { crate::a::f(\"\") }\n".to_owned(),
    );
    assert_eq!(
        module_circles("", &circular),
        ["src/a.rs (line 8: crate::b::B) → src/b.rs (line 4: crate::a::f) → src/a.rs"]
    );
}

#[test]
fn each_crate_root_is_its_own_tree() {
    // `crate::` in the binary names the binary's modules, not the library's.
    let files = toy(&[
        ("src/lib.rs", "//! Lib.\nmod a;\nmod b;\n"),
        ("src/a.rs", "//! A.\nuse crate::b::B;\n"),
        ("src/b.rs", "//! B.\npub struct B;\n"),
        ("src/main.rs", "//! Bin.\nmod b;\nmod c;\n"),
        ("src/c.rs", "//! C.\nuse crate::b::B;\n"),
        ("src/bin/tool.rs", "//! Tool.\nuse std::fmt;\n"),
    ]);
    assert_eq!(
        crate_roots(&files),
        ["src/bin/tool.rs", "src/lib.rs", "src/main.rs"]
    );
    assert_eq!(module_circles("", &files), Vec::<String>::new());
}

#[test]
fn the_tokenizer_skips_literals_and_counts_lines() {
    let tokens = tokenize(
        "a /* x\n/* y */ */ b\n\"s\\\"\n\" c r#\"q\"# 'x' 'l d b'\\n' r#type br\"z\" e::f",
    );
    let shown: Vec<(String, usize)> = tokens
        .iter()
        .map(|t| {
            let text = match &t.tok {
                Tok::Ident(word) => word.clone(),
                Tok::PathSep => "::".to_owned(),
                Tok::Punct(c) => c.to_string(),
            };
            (text, t.line)
        })
        .collect();
    let expected: Vec<(String, usize)> = [
        ("a", 1),
        ("b", 2),
        ("c", 4),
        ("d", 4),
        ("type", 4),
        ("e", 4),
        ("::", 4),
        ("f", 4),
    ]
    .iter()
    .map(|(word, line)| ((*word).to_owned(), *line))
    .collect();
    assert_eq!(shown, expected);
}
