//! Reviewing a `CowFs`: its changes as a unified diff (committing them is in
//! `commit.rs`).

use std::fmt::Write as _;

use oanix_vfs::{FileKind, read_file};

use super::{ChangeKind, CowFs};

fn is_text(data: &[u8]) -> Option<&str> {
    if data.contains(&0) {
        return None;
    }
    std::str::from_utf8(data).ok()
}

impl CowFs {
    /// The changes as a unified diff (`diff --git` style, paths relative to
    /// the root): text files line by line, binary files named only.
    /// Directories appear through the files in them.
    pub fn diff(&self) -> oanix_vfs::Result<String> {
        let mut out = String::new();
        for change in self.changes()? {
            let was_file = change.before.is_some_and(|b| b.kind == FileKind::File);
            let is_file = change.after.is_some_and(|a| a.kind == FileKind::File);
            if !was_file && !is_file {
                continue;
            }
            let name = change.path.trim_start_matches('/');
            let old = if was_file {
                read_file(self.inner.base.as_ref(), &change.path)?
            } else {
                Vec::new()
            };
            let new = if is_file {
                read_file(self, &change.path)?
            } else {
                Vec::new()
            };
            let (a, b) = (
                if was_file {
                    format!("a/{name}")
                } else {
                    "/dev/null".to_owned()
                },
                if is_file {
                    format!("b/{name}")
                } else {
                    "/dev/null".to_owned()
                },
            );
            let _ = writeln!(out, "diff --git a/{name} b/{name}");
            match change.kind {
                ChangeKind::Added => out.push_str("new file\n"),
                ChangeKind::Deleted => out.push_str("deleted file\n"),
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
