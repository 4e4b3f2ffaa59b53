//! `WorkspaceOverlay`: a private, reviewable, copy-on-write view of a real
//! project, whose changes the host can diff, commit or discard.

use std::path::Path;
use std::sync::Arc;

use oanix_prims::{Change, CommitError, CommitReport, CowFs};
use oanix_vfs::path;
use oanix_vfs::{
    BytesHandle, DirEntry, FileHandle, FileKind, FileService, FsError, Metadata, OpenFlags, Result,
    Timestamp, check_open_flags,
};

use crate::workspace::WorkspaceFs;

/// The read-only file listing the changes, as JSON.
pub const CHANGES_FILE: &str = "/.changes";
/// The read-only file holding the changes as a unified diff.
pub const DIFF_FILE: &str = "/.diff";

/// A copy-on-write view of a real directory.
///
/// The agent reads the project and writes freely; nothing reaches the
/// directory until the host [commits](Self::commit). Built from a read-only
/// [`WorkspaceFs`] (the overlay's base, so the agent's view is escape-proof)
/// and a writable one on the same directory (used only by `commit`).
///
/// For the host: [`changes`](Self::changes) (added, modified, deleted, with
/// sizes), [`diff`](Self::diff) (a unified diff of text files),
/// [`commit`](Self::commit) (all or nothing: refused, with nothing
/// applied, if the directory changed on disk where the agent's changes go
/// since the agent read it — a file or directory modified, deleted, created
/// or replaced by a link —, and undone if applying fails part-way) and
/// [`discard`](Self::discard).
///
/// For the agent, two read-only files at the root of the view:
/// `/.changes` (the changes as a JSON array) and `/.diff` (the diff). They
/// hide files of the same names in the project.
///
/// ```
/// use oanix_services::WorkspaceOverlay;
/// use oanix_vfs::{read_to_string, write_file};
///
/// let dir = std::env::temp_dir().join(format!("oanix-overlay-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// std::fs::write(dir.join("README"), "old\n").unwrap();
///
/// let ws = WorkspaceOverlay::new(&dir)?;
/// write_file(&ws, "/README", "new\n")?;
/// assert_eq!(std::fs::read_to_string(dir.join("README")).unwrap(), "old\n");
/// assert!(ws.diff()?.contains("-old\n+new\n"));
/// assert!(read_to_string(&ws, "/.changes")?.contains("\"modified\""));
/// ws.commit().unwrap();
/// assert_eq!(std::fs::read_to_string(dir.join("README")).unwrap(), "new\n");
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct WorkspaceOverlay {
    cow: CowFs,
    target: Arc<WorkspaceFs>,
}

impl WorkspaceOverlay {
    /// An overlay of the directory at `root`.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        Self::from_workspace(WorkspaceFs::new(root)?)
    }

    /// An overlay of the directory at `root` whose in-memory layer (what
    /// the agent writes) holds at most `bytes` (see
    /// [`MemLimits::capacity`](oanix_prims::MemLimits::capacity)): past it,
    /// writes fail with `NoSpace`.
    pub fn with_capacity(root: impl AsRef<Path>, bytes: u64) -> Result<Self> {
        let target = WorkspaceFs::new(root)?;
        let base = target.readonly_view()?;
        let upper = oanix_prims::MemFs::with_limits(oanix_prims::MemLimits::capacity(bytes));
        Ok(Self {
            cow: CowFs::with_upper(Arc::new(base), upper),
            target: Arc::new(target),
        })
    }

    /// An overlay of an open, writable workspace (which only `commit`
    /// uses); the overlay reads through a read-only handle on the same
    /// directory.
    pub fn from_workspace(target: WorkspaceFs) -> Result<Self> {
        let base = target.readonly_view()?;
        Ok(Self {
            cow: CowFs::new(base),
            target: Arc::new(target),
        })
    }

    /// The overlay itself.
    pub fn cow(&self) -> &CowFs {
        &self.cow
    }

    /// What the agent changed, sorted by path.
    pub fn changes(&self) -> Result<Vec<Change>> {
        self.cow.changes()
    }

    /// The changes as a unified diff.
    pub fn diff(&self) -> Result<String> {
        self.cow.diff()
    }

    /// Applies the changes to the directory, all or nothing (see
    /// [`CowFs::commit`] for the checks, the order and the limits); on
    /// success the overlay is emptied, since the directory now shows what it
    /// showed.
    ///
    /// # Errors
    ///
    /// [`CommitError::Conflicts`] when the directory changed since the
    /// agent read it (nothing is applied, the overlay keeps the work);
    /// [`CommitError::Fs`] when an operation on the directory failed: what
    /// was done is undone, and the error says exactly what remains if
    /// undoing failed too.
    #[allow(
        clippy::result_large_err,
        reason = "returned once per commit; a flat variant is simpler to match"
    )]
    pub fn commit(&self) -> std::result::Result<CommitReport, CommitError> {
        let report = self.cow.commit(self.target.as_ref())?;
        self.cow.discard();
        Ok(report)
    }

    /// Throws the changes away; the directory was never touched.
    pub fn discard(&self) {
        self.cow.discard();
    }

    fn virtual_content(&self, p: &str) -> Result<Vec<u8>> {
        if p == CHANGES_FILE {
            let changes = self.cow.changes()?;
            let mut json =
                serde_json::to_vec_pretty(&changes).map_err(|e| FsError::io(p, e.to_string()))?;
            json.push(b'\n');
            Ok(json)
        } else {
            Ok(self.cow.diff()?.into_bytes())
        }
    }
}

fn is_virtual(p: &str) -> bool {
    p == CHANGES_FILE || p == DIFF_FILE
}

fn virtual_meta(p: &str) -> Metadata {
    let id = if p == CHANGES_FILE {
        u64::MAX - 1
    } else {
        u64::MAX - 2
    };
    Metadata::file(id, 0).with_readonly(true)
}

impl FileService for WorkspaceOverlay {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if is_virtual(full) {
            check_open_flags(full, flags)?;
            if flags.mutates() {
                return Err(FsError::read_only(full));
            }
            if flags.directory || p.is_dir_syntax() {
                return Err(FsError::not_a_directory(full));
            }
            let data = self.virtual_content(full)?;
            return Ok(BytesHandle::boxed(full, data, virtual_meta(full)));
        }
        if path::parent(full).is_some_and(is_virtual) {
            return Err(FsError::not_a_directory(full));
        }
        self.cow.open(path, flags)
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        if is_virtual(p.as_str()) {
            return Err(FsError::not_a_directory(p.as_str()));
        }
        let mut entries = self.cow.readdir(path)?;
        if p.is_root() {
            entries.retain(|e| !is_virtual(&path::join("/", &e.name)));
            for v in [CHANGES_FILE, DIFF_FILE] {
                entries.push(DirEntry::new(
                    &v[1..],
                    FileKind::File,
                    0,
                    virtual_meta(v).id,
                ));
            }
            entries.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(entries)
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if is_virtual(full) {
            if p.is_dir_syntax() {
                return Err(FsError::not_a_directory(full));
            }
            return Ok(virtual_meta(full));
        }
        if path::parent(full).is_some_and(is_virtual) {
            return Err(FsError::not_a_directory(full));
        }
        self.cow.stat(path)
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        if is_virtual(p.as_str()) || path::parent(p.as_str()).is_some_and(is_virtual) {
            return self.stat(path);
        }
        self.cow.lstat(path)
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        if is_virtual(p.as_str()) {
            return Err(FsError::already_exists(p.as_str()));
        }
        self.cow.mkdir(path)
    }

    fn remove(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        if is_virtual(p.as_str()) {
            return Err(FsError::read_only(p.as_str()));
        }
        self.cow.remove(path)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (pf, pt) = (path::parse(from)?, path::parse(to)?);
        for p in [&pf, &pt] {
            if is_virtual(p.as_str()) {
                return Err(FsError::read_only(p.as_str()));
            }
        }
        self.cow.rename(from, to)
    }

    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        let p = path::parse(path)?;
        if is_virtual(p.as_str()) {
            return Err(FsError::read_only(p.as_str()));
        }
        self.cow.set_times(path, accessed, modified)
    }

    fn fs_type(&self) -> &'static str {
        "overlay"
    }

    fn as_any(&self) -> Option<&dyn std::any::Any> {
        Some(self)
    }
}
