//! Reviewing a `CowFs`: its changes as a unified diff, and committing them to
//! a target, file by file, without clobbering what changed there meanwhile.

use std::fmt::Write as _;

use oanix_vfs::path;
use oanix_vfs::{FileKind, FileService, FsError, FsErrorKind, Metadata, OpenFlags, read_file};

use super::{Change, ChangeKind, CowFs};

/// A change that cannot be committed because the target changed since the
/// overlay read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The path, in the overlay and the target.
    pub path: String,
    /// What happened to it in the target.
    pub reason: String,
}

/// What a successful [`CowFs::commit`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitReport {
    /// The changes applied, in the order they were applied.
    pub applied: Vec<Change>,
}

/// Why a commit did not (fully) happen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// Paths changed in the target since the overlay read them; nothing was
    /// applied.
    #[error("{} conflicting path(s), nothing committed: {}", .0.len(), summary(.0))]
    Conflicts(Vec<Conflict>),
    /// Applying a change failed; the changes before it were applied (each
    /// file completely or not at all), the others were not.
    #[error("commit stopped at {error} after applying {} change(s)", .applied.len())]
    Fs {
        /// The changes applied before the failure.
        applied: Vec<Change>,
        /// The failure.
        error: FsError,
    },
}

fn summary(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| format!("{} ({})", c.path, c.reason))
        .collect::<Vec<_>>()
        .join(", ")
}

impl From<FsError> for CommitError {
    fn from(error: FsError) -> Self {
        Self::Fs {
            applied: Vec::new(),
            error,
        }
    }
}

/// Whether two metadata describe the same version of a file.
fn same_version(a: &Metadata, b: &Metadata) -> bool {
    a.kind == b.kind && a.size == b.size && a.id == b.id && a.modified == b.modified
}

fn is_text(data: &[u8]) -> Option<&str> {
    if data.contains(&0) {
        return None;
    }
    std::str::from_utf8(data).ok()
}

fn depth(p: &str) -> usize {
    path::components(p).count()
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

    /// Applies the changes to `target` — normally the writable directory
    /// this overlay's base reads from.
    ///
    /// Before anything is written, every changed path is checked against
    /// the target: a path the overlay modified or deleted must still be the
    /// version the overlay started from ([`origin`](Self::origin): same kind,
    /// size, file id and modification time), and a path it added must not
    /// have appeared there. Any mismatch is a [`Conflict`] and nothing is
    /// applied. Then deletions go first (deepest first), new directories
    /// next, then files; each file is written to a temporary name beside it
    /// and renamed into place, so a reader of the target sees the old file
    /// or the new one, never a mix.
    ///
    /// The overlay itself is left as it is; call [`discard`](Self::discard)
    /// when its base now shows what it showed.
    pub fn commit(&self, target: &dyn FileService) -> Result<CommitReport, CommitError> {
        let changes = self.changes()?;
        let mut conflicts = Vec::new();
        for change in &changes {
            if let Some(reason) = self.conflict(target, change) {
                conflicts.push(Conflict {
                    path: change.path.clone(),
                    reason,
                });
            }
        }
        if !conflicts.is_empty() {
            return Err(CommitError::Conflicts(conflicts));
        }
        let mut removals: Vec<&Change> = changes
            .iter()
            .filter(|c| {
                c.kind == ChangeKind::Deleted
                    || (c.kind == ChangeKind::Modified
                        && c.before.map(|b| b.kind) != c.after.map(|a| a.kind))
            })
            .collect();
        removals.sort_by_key(|c| std::cmp::Reverse(depth(&c.path)));
        let mut additions: Vec<&Change> = changes.iter().filter(|c| c.after.is_some()).collect();
        // Directories before the files in them; parents before children.
        additions.sort_by_key(|c| {
            (
                c.after.is_some_and(|a| a.kind == FileKind::File),
                depth(&c.path),
            )
        });
        let mut applied = Vec::new();
        for change in removals {
            let kind = change.before.map(|b| b.kind);
            let result = match target.remove(&change.path) {
                Err(e) if e.kind() == FsErrorKind::NotFound => Ok(()),
                other => other,
            };
            if let Err(error) = result {
                return Err(CommitError::Fs { applied, error });
            }
            if change.kind == ChangeKind::Deleted || kind == Some(FileKind::File) {
                applied.push(change.clone());
            }
        }
        for (n, change) in additions.into_iter().enumerate() {
            let result = match change.after.map(|a| a.kind) {
                Some(FileKind::Directory) => match target.mkdir(&change.path) {
                    Err(e) if e.kind() == FsErrorKind::AlreadyExists => Ok(()),
                    other => other,
                },
                _ => self.write_into(target, change, n),
            };
            if let Err(error) = result {
                return Err(CommitError::Fs { applied, error });
            }
            if !applied.contains(change) {
                applied.push(change.clone());
            }
        }
        Ok(CommitReport { applied })
    }

    /// Why `change` cannot be applied to `target`, if it cannot.
    fn conflict(&self, target: &dyn FileService, change: &Change) -> Option<String> {
        let now = target.stat(&change.path);
        match change.before {
            None => match (now, change.after.map(|a| a.kind)) {
                (Ok(md), Some(FileKind::Directory)) if md.is_dir() => None,
                (Ok(_), _) => Some("created in the target meanwhile".to_owned()),
                (Err(_), _) => None,
            },
            Some(before) => {
                // The version the overlay started from. Without one, the
                // overlay never saw the base's file here: it appeared after
                // the overlay made its own.
                let Some(origin) = self.origin(&change.path) else {
                    let both_dirs = before.kind == FileKind::Directory
                        && change.after.is_some_and(|a| a.kind == FileKind::Directory);
                    return (!both_dirs).then(|| "created in the target meanwhile".to_owned());
                };
                match now {
                    Err(e) if e.kind() == FsErrorKind::NotFound => {
                        if change.kind == ChangeKind::Deleted {
                            None
                        } else {
                            Some("deleted in the target meanwhile".to_owned())
                        }
                    }
                    Err(e) => Some(format!("cannot be checked: {e}")),
                    Ok(md) if md.is_dir() && origin.is_dir() => None,
                    Ok(md) if same_version(&md, &origin) => None,
                    Ok(_) => Some("changed in the target since the overlay read it".to_owned()),
                }
            }
        }
    }

    /// Writes the overlay's file at `change.path` into `target`: all of it
    /// to a temporary name, then renamed over the old one.
    fn write_into(
        &self,
        target: &dyn FileService,
        change: &Change,
        n: usize,
    ) -> oanix_vfs::Result<()> {
        let data = read_file(self, &change.path)?;
        let (parent, name) =
            path::split(&change.path).ok_or_else(|| FsError::is_a_directory(&change.path))?;
        let tmp = path::join(
            parent,
            &format!(".{name}.oanix-commit-{}-{n}", std::process::id()),
        );
        let written = (|| {
            let mut h = target.open(&tmp, OpenFlags::write_only().with_create_new(true))?;
            oanix_vfs::write_all(h.as_mut(), &tmp, &data)?;
            h.flush()?;
            drop(h);
            // Last look before replacing: the check above may be stale.
            if let Some(reason) = self.conflict(target, change) {
                return Err(FsError::permission_denied(&change.path, reason));
            }
            target.rename(&tmp, &change.path)
        })();
        if written.is_err() {
            let _ = target.remove(&tmp);
        }
        written
    }
}
