//! `WorkspaceOverlay`: a private, reviewable, copy-on-write view of a real
//! project, whose changes the host can diff, commit or discard.

use std::path::Path;
use std::sync::Arc;

use oanix_prims::{Change, CommitError, CommitReport, CowFs, FrozenCow, FuncFs};
use oanix_vfs::{
    DirEntry, FileHandle, FileService, FsError, Metadata, OpenFlags, Result, Timestamp,
};

use crate::workspace::WorkspaceFs;

/// The file of [`WorkspaceOverlay::review_fs`] listing the changes, as a
/// JSON array.
pub const REVIEW_CHANGES_FILE: &str = "/changes.json";
/// The file of [`WorkspaceOverlay::review_fs`] holding the changes as a
/// unified diff.
pub const REVIEW_DIFF_FILE: &str = "/diff";

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
/// The agent's view is exactly the project (with its own changes): the
/// overlay adds no file of its own, so a project's own `.changes` or `.diff`
/// is what the agent sees under those names. A host that wants the agent
/// to see its changes mounts [`review_fs`](Self::review_fs), a separate
/// read-only service, somewhere outside the workspace.
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
/// let review = ws.review_fs();
/// assert!(read_to_string(&review, "/changes.json")?.contains("\"modified\""));
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

    /// An immutable copy of what the agent changed, at one point in time
    /// ([`CowFs::freeze`]); the directory is not copied.
    pub fn freeze(&self) -> FrozenCow {
        self.cow.freeze()
    }

    /// A new overlay of the same directory holding what `frozen` holds
    /// (see [`CowFs::from_frozen`]), its in-memory layer within `limits`:
    /// a fork. It shares the read-only view of the directory with `self`
    /// and commits to the same directory; what either changes from now on
    /// is its own.
    ///
    /// # Errors
    /// [`FsError::NoSpace`] if `frozen` does not fit
    /// in `limits`.
    pub fn fork_from(&self, frozen: &FrozenCow, limits: oanix_prims::MemLimits) -> Result<Self> {
        Ok(Self {
            cow: CowFs::from_frozen(Arc::clone(self.cow.base()), frozen, limits)?,
            target: Arc::clone(&self.target),
        })
    }

    /// The directory it overlays (and commits to).
    pub fn target(&self) -> &WorkspaceFs {
        &self.target
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

    /// A read-only service that shows the changes to whoever it is mounted
    /// for (by convention at `/review`, never inside the workspace):
    ///
    /// | file | content |
    /// |---|---|
    /// | `changes.json` ([`REVIEW_CHANGES_FILE`]) | [`changes`](Self::changes), as a pretty JSON array and a newline |
    /// | `diff` ([`REVIEW_DIFF_FILE`]) | [`diff`](Self::diff) |
    ///
    /// Each is computed when a handle first reads it, so it shows the
    /// changes of that moment. Like every computed file of a [`FuncFs`],
    /// its size is unknown until read: `stat` and listings report 0.
    pub fn review_fs(&self) -> FuncFs {
        let (for_changes, for_diff) = (self.cow.clone(), self.cow.clone());
        FuncFs::builder()
            .read_only(REVIEW_CHANGES_FILE, move || {
                let changes = for_changes.changes()?;
                let mut json = serde_json::to_vec_pretty(&changes)
                    .map_err(|e| FsError::io(REVIEW_CHANGES_FILE, e.to_string()))?;
                json.push(b'\n');
                Ok(json)
            })
            .read_only(REVIEW_DIFF_FILE, move || Ok(for_diff.diff()?.into_bytes()))
            .build()
    }
}

impl FileService for WorkspaceOverlay {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        self.cow.open(path, flags)
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.cow.readdir(path)
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        self.cow.stat(path)
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        self.cow.lstat(path)
    }

    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        self.cow.symlink(target, link)
    }

    fn readlink(&self, path: &str) -> Result<String> {
        self.cow.readlink(path)
    }

    fn link(&self, from: &str, to: &str) -> Result<()> {
        self.cow.link(from, to)
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        self.cow.mkdir(path)
    }

    fn remove(&self, path: &str) -> Result<()> {
        self.cow.remove(path)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.cow.rename(from, to)
    }

    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        self.cow.set_times(path, accessed, modified)
    }

    fn fs_type(&self) -> &'static str {
        "overlay"
    }
}
