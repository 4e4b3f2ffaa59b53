//! Reviewing a `CowFs`: its changes as a unified diff (committing them is in
//! `commit.rs`).

use std::fmt::Write as _;

use oanix_vfs::{FileKind, FileService, read_file};

use super::{ChangeKind, CowFs};

fn is_text(data: &[u8]) -> Option<&str> {
    if data.contains(&0) {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// How a symbolic link holding `target` shows in a diff: one line, the
/// target as it is, or quoted (Rust's escapes) if it holds a control
/// character (a newline would break the line).
fn link_line(target: &str) -> Vec<u8> {
    if target.chars().any(char::is_control) {
        format!("symlink -> {target:?}\n").into_bytes()
    } else {
        format!("symlink -> {target}\n").into_bytes()
    }
}

/// The word for an entry of `kind` in the `new …`/`deleted …` headers.
fn noun(kind: Option<FileKind>) -> &'static str {
    match kind {
        Some(FileKind::Symlink) => "symlink",
        _ => "file",
    }
}

impl CowFs {
    /// The changes as a unified diff (`diff --git` style, paths relative to
    /// the root): text files line by line, binary files named only.
    /// Directories appear through the files in them. A symbolic link shows
    /// as a one-line text, `symlink -> TARGET` (the target quoted with
    /// Rust's escapes if it holds a control character): an added link
    /// under a `new symlink` header, a deleted one under `deleted symlink`,
    /// a retargeted one as that line changed, and a link replaced by a file
    /// (or a file by a link) as the line against the file's content.
    pub fn diff(&self) -> oanix_vfs::Result<String> {
        let mut out = String::new();
        for change in self.changes()? {
            let was = change.before.map(|b| b.kind);
            let is = change.after.map(|a| a.kind);
            let shown = |k: Option<FileKind>| matches!(k, Some(FileKind::File | FileKind::Symlink));
            let (was_shown, is_shown) = (shown(was), shown(is));
            if !was_shown && !is_shown {
                continue;
            }
            let name = change.path.trim_start_matches('/');
            let base = self.inner.base.as_ref();
            let old = match was {
                Some(FileKind::File) => read_file(base, &change.path)?,
                Some(FileKind::Symlink) => link_line(&base.readlink(&change.path)?),
                _ => Vec::new(),
            };
            let new = match is {
                Some(FileKind::File) => read_file(self, &change.path)?,
                Some(FileKind::Symlink) => link_line(&self.inner.upper.readlink(&change.path)?),
                _ => Vec::new(),
            };
            let (a, b) = (
                if was_shown {
                    format!("a/{name}")
                } else {
                    "/dev/null".to_owned()
                },
                if is_shown {
                    format!("b/{name}")
                } else {
                    "/dev/null".to_owned()
                },
            );
            let _ = writeln!(out, "diff --git a/{name} b/{name}");
            match change.kind {
                ChangeKind::Added => {
                    let _ = writeln!(out, "new {}", noun(is));
                }
                ChangeKind::Deleted => {
                    let _ = writeln!(out, "deleted {}", noun(was));
                }
                ChangeKind::Modified => {}
            }
            match (is_text(&old), is_text(&new)) {
                (Some(o), Some(n)) => {
                    let diff = similar::TextDiff::from_lines(o, n);
                    let text = diff
                        .unified_diff()
                        .context_radius(3)
                        .header(&a, &b)
                        .to_string();
                    out.push_str(&text);
                    if !text.is_empty() && !text.ends_with('\n') {
                        out.push('\n');
                    }
                }
                _ => {
                    let _ = writeln!(out, "Binary files {a} and {b} differ");
                }
            }
        }
        Ok(out)
    }
}
