//! `WebNamespace`: a namespace whose mounts a page can change, and the plain data it answers with.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use oanix_caps::{CapRecord, EgressPolicy, HttpFs, HttpStatus, RecordLog};
use oanix_prims::{MapFs, MemFs};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, TaskStatus};
use oanix_vfs::{
    FileKind, FileService, FsError, Metadata, MountFlags, Namespace, OpenFlags, Result, path,
    read_to_end, write_all,
};
use serde::Serialize;

/// How many capability records each `HttpFs` mount keeps for the page to show.
const RECORDS_KEPT: usize = 500;

/// The kind of service mounted at a path, as the mount table names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// An in-memory read-write file system ([`MemFs`]).
    MemFs,
    /// An immutable file system built from given files ([`MapFs`]).
    MapFs,
    /// A task: spec, status and result ([`TaskFs`]).
    TaskFs,
    /// Logs: stdout, stderr and events ([`LogsFs`]).
    LogsFs,
    /// The HTTP capability ([`HttpFs`]).
    HttpFs,
}

impl MountKind {
    /// The name the mount table prints (`memfs`, `taskfs`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MemFs => "memfs",
            Self::MapFs => "mapfs",
            Self::TaskFs => "taskfs",
            Self::LogsFs => "logsfs",
            Self::HttpFs => "httpfs",
        }
    }
}

impl fmt::Display for MountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The service behind one mount, kept so that the host side of each service stays reachable.
#[derive(Clone)]
enum Mounted {
    Mem(MemFs),
    Map(MapFs),
    Task(TaskFs),
    Logs(LogsFs),
    Http(Arc<HttpFs>, RecordLog),
}

impl Mounted {
    fn kind(&self) -> MountKind {
        match self {
            Self::Mem(_) => MountKind::MemFs,
            Self::Map(_) => MountKind::MapFs,
            Self::Task(_) => MountKind::TaskFs,
            Self::Logs(_) => MountKind::LogsFs,
            Self::Http(..) => MountKind::HttpFs,
        }
    }

    fn service(&self) -> Arc<dyn FileService> {
        match self {
            Self::Mem(fs) => Arc::new(fs.clone()),
            Self::Map(fs) => Arc::new(fs.clone()),
            Self::Task(fs) => Arc::new(fs.clone()),
            Self::Logs(fs) => Arc::new(fs.clone()),
            Self::Http(fs, _) => Arc::clone(fs) as Arc<dyn FileService>,
        }
    }
}

/// One mount: where, and what kind of service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountInfo {
    /// The mount point (canonical: `/cap/http`).
    pub path: String,
    /// The kind of service.
    pub kind: MountKind,
}

/// One entry of a directory listing, as the page's tree shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryInfo {
    /// The entry's name.
    pub name: String,
    /// Its full path in the namespace.
    pub path: String,
    /// `true` for a directory.
    pub dir: bool,
    /// Its size in bytes (0 for directories).
    pub size: u64,
    /// The kind of service mounted at this path, when it is a mount point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mount: Option<MountKind>,
}

/// The metadata of a path, as the page's viewer shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatInfo {
    /// The path, canonical.
    pub path: String,
    /// `true` for a directory.
    pub dir: bool,
    /// The size in bytes.
    pub size: u64,
    /// Whether it cannot be written.
    pub readonly: bool,
    /// Last modification, in milliseconds since the Unix epoch, when the service keeps times.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modified_ms: Option<u64>,
    /// The mount point that serves this path and the kind of service there, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_by: Option<MountInfo>,
}

/// A namespace that can be changed after it was built: the state behind the Namespace Explorer.
///
/// An [`oanix_vfs::Namespace`] is immutable once built. A page wants to add and remove mounts
/// while it runs, so `WebNamespace` keeps the list of mounts, rebuilds the namespace (a cheap
/// operation: no service is copied) whenever the list changes, and keeps each service's host
/// side (the task's lifecycle, the logs' API, the HTTP queue) reachable by mount point.
///
/// Every file operation goes through the namespace, so it sees exactly what an agent would,
/// errors included; errors are [`FsError`]s naming namespace paths.
///
/// ```
/// use oanix_web::WebNamespace;
///
/// let mut ns = WebNamespace::new();
/// ns.mount_memfs("/tmp")?;
/// ns.mkdir("/tmp/notes")?;
/// ns.write("/tmp/notes/a.txt", b"hello")?;
/// assert_eq!(ns.read("/tmp/notes/a.txt")?, b"hello");
/// assert_eq!(ns.mount_table(), "mount /tmp memfs\n");
/// assert_eq!(ns.read("/tmp/b").unwrap_err().to_string(), "not found: /tmp/b");
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Clone, Default)]
pub struct WebNamespace {
    mounts: Vec<(String, Mounted)>,
    ns: Namespace,
}

impl fmt::Debug for WebNamespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebNamespace")
            .field("mounts", &self.mounts())
            .finish()
    }
}

impl WebNamespace {
    /// An empty namespace: only the root, which holds nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// The namespace as it stands now (cheap to clone; later mounts do not change it).
    pub fn namespace(&self) -> &Namespace {
        &self.ns
    }

    /// Mounts a new, empty [`MemFs`] at `at` (replacing what was mounted there).
    pub fn mount_memfs(&mut self, at: &str) -> Result<MemFs> {
        let fs = MemFs::new();
        self.mount(at, Mounted::Mem(fs.clone()))?;
        Ok(fs)
    }

    /// Mounts a read-only [`MapFs`] holding `files` (path → content) at `at`.
    ///
    /// A malformed file path, or a path that is both a file and a directory, is an error and
    /// mounts nothing.
    pub fn mount_mapfs<I, P, D>(&mut self, at: &str, files: I) -> Result<MapFs>
    where
        I: IntoIterator<Item = (P, D)>,
        P: AsRef<str>,
        D: Into<Vec<u8>>,
    {
        let mut builder = MapFs::builder();
        for (file, data) in files {
            builder = builder.file(file.as_ref(), data.into());
        }
        let fs = builder.try_build()?;
        self.mount(at, Mounted::Map(fs.clone()))?;
        Ok(fs)
    }

    /// Mounts a [`TaskFs`] for `spec` at `at`.
    pub fn mount_taskfs(&mut self, at: &str, spec: TaskSpec) -> Result<TaskFs> {
        let fs = TaskFs::new(spec, TaskMeta::default());
        self.mount(at, Mounted::Task(fs.clone()))?;
        Ok(fs)
    }

    /// Mounts a new [`LogsFs`] at `at`.
    pub fn mount_logsfs(&mut self, at: &str) -> Result<LogsFs> {
        let fs = LogsFs::new();
        self.mount(at, Mounted::Logs(fs.clone()))?;
        Ok(fs)
    }

    /// Mounts an [`HttpFs`] with `policy` at `at`; its capability records are kept for
    /// [`http_records`](Self::http_records). (An `EgressPolicy` is valid by construction: a
    /// malformed host pattern or header never becomes one.)
    pub fn mount_httpfs(&mut self, at: &str, policy: EgressPolicy) -> Result<Arc<HttpFs>> {
        let log = RecordLog::new(RECORDS_KEPT);
        let fs = Arc::new(
            HttpFs::builder()
                .policy(policy)
                .record_sink(log.sink())
                .build(),
        );
        self.mount(at, Mounted::Http(Arc::clone(&fs), log))?;
        Ok(fs)
    }

    /// Removes the mount at `at`. Open handles on its service keep working.
    pub fn unmount(&mut self, at: &str) -> Result<()> {
        let at = path::normalize(at)?;
        let before = self.mounts.len();
        self.mounts.retain(|(p, _)| *p != *at);
        if self.mounts.len() == before {
            return Err(FsError::not_found(at.into_owned()));
        }
        self.rebuild()
    }

    fn mount(&mut self, at: &str, service: Mounted) -> Result<()> {
        let at = path::normalize(at)?.into_owned();
        match self.mounts.iter_mut().find(|(p, _)| *p == at) {
            Some(slot) => slot.1 = service,
            None => self.mounts.push((at, service)),
        }
        self.rebuild()
    }

    /// Builds the namespace again from the list; on an error the previous one stays.
    fn rebuild(&mut self) -> Result<()> {
        let mut builder = Namespace::builder();
        for (at, mounted) in &self.mounts {
            builder = builder.mount_shared(
                at,
                mounted.kind().as_str(),
                mounted.service(),
                MountFlags::replace(),
            );
        }
        self.ns = builder.try_build()?;
        Ok(())
    }

    /// The mounts, in the order they were made.
    pub fn mounts(&self) -> Vec<MountInfo> {
        self.mounts
            .iter()
            .map(|(path, m)| MountInfo {
                path: path.clone(),
                kind: m.kind(),
            })
            .collect()
    }

    /// The kind of service mounted exactly at `at`, if any.
    pub fn mount_at(&self, at: &str) -> Option<MountKind> {
        let at = path::normalize(at).ok()?;
        self.mounts
            .iter()
            .find(|(p, _)| *p == *at)
            .map(|(_, m)| m.kind())
    }

    /// The mount serving `path` (the longest mount point above or at it), if any.
    fn served_by(&self, path: &str) -> Option<MountInfo> {
        self.mounts
            .iter()
            .filter(|(p, _)| path::starts_with(path, p))
            .max_by_key(|(p, _)| p.len())
            .map(|(p, m)| MountInfo {
                path: p.clone(),
                kind: m.kind(),
            })
    }

    /// The mount table, as replayable text (`mount /tmp memfs`, one line per mount).
    pub fn mount_table(&self) -> String {
        self.ns.mount_table()
    }

    /// Lists a directory, sorted by name, marking mount points.
    pub fn readdir(&self, dir: &str) -> Result<Vec<EntryInfo>> {
        let dir = path::normalize(dir)?;
        let entries = self.ns.readdir(&dir)?;
        Ok(entries
            .into_iter()
            .map(|e| {
                let full = path::join(&dir, &e.name);
                let mount = self.mount_at(&full);
                EntryInfo {
                    dir: e.kind == FileKind::Directory,
                    size: e.size,
                    mount,
                    name: e.name,
                    path: full,
                }
            })
            .collect())
    }

    /// The metadata of a path.
    pub fn stat(&self, path: &str) -> Result<StatInfo> {
        let path = path::normalize(path)?;
        let meta: Metadata = self.ns.stat(&path)?;
        Ok(StatInfo {
            served_by: self.served_by(&path),
            path: path.into_owned(),
            dir: meta.is_dir(),
            size: meta.size,
            readonly: meta.readonly,
            modified_ms: meta.modified.map(|t| t.as_nanos() / 1_000_000),
        })
    }

    /// The whole content of a file. Never waits: a capability response that has not arrived
    /// is a `WouldBlock` error.
    pub fn read(&self, path: &str) -> Result<Vec<u8>> {
        let flags = OpenFlags {
            nonblocking: true,
            ..OpenFlags::read_only()
        };
        let mut handle = self.ns.open(path, flags)?;
        let mut out = Vec::new();
        read_to_end(handle.as_mut(), &mut out)?;
        Ok(out)
    }

    /// Replaces the content of a file, creating it if needed, in one write call (so a
    /// capability file receives it as one message).
    pub fn write(&self, path: &str, data: &[u8]) -> Result<()> {
        let mut handle = self.ns.open(path, OpenFlags::create_truncate())?;
        write_all(handle.as_mut(), path, data)
    }

    /// Creates an empty file; `AlreadyExists` if the path exists.
    pub fn create(&self, path: &str) -> Result<()> {
        let flags = OpenFlags {
            create_new: true,
            ..OpenFlags::write_only()
        };
        self.ns.open(path, flags).map(drop)
    }

    /// Appends to a file, creating it if needed.
    pub fn append(&self, path: &str, data: &[u8]) -> Result<()> {
        let mut handle = self.ns.open(path, OpenFlags::append_create())?;
        write_all(handle.as_mut(), path, data)
    }

    /// Writes one message to a capability file and reads back what the same handle then
    /// says: the id a request was given (`req-1`), as Plan 9's `clone` files do.
    pub fn send(&self, path: &str, message: &[u8]) -> Result<String> {
        let flags = OpenFlags {
            nonblocking: true,
            ..OpenFlags::read_write()
        };
        let mut handle = self.ns.open(path, flags)?;
        write_all(handle.as_mut(), path, message)?;
        let mut answer = Vec::new();
        read_to_end(handle.as_mut(), &mut answer)?;
        Ok(String::from_utf8_lossy(&answer).trim().to_owned())
    }

    /// Creates a directory (its parent must exist).
    pub fn mkdir(&self, path: &str) -> Result<()> {
        self.ns.mkdir(path)
    }

    /// Removes a file or an empty directory.
    pub fn remove(&self, path: &str) -> Result<()> {
        self.ns.remove(path)
    }

    /// Renames a file or directory within one mount.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.ns.rename(from, to)
    }

    fn mounted(&self, at: &str, want: MountKind) -> Result<&Mounted> {
        let at = path::normalize(at)?;
        match self.mounts.iter().find(|(p, _)| *p == *at) {
            Some((_, m)) if m.kind() == want => Ok(m),
            Some((_, m)) => Err(FsError::invalid_input(
                at.into_owned(),
                format!("expected a {want} mount, found {}", m.kind()),
            )),
            None => Err(FsError::invalid_input(
                at.into_owned(),
                format!("no {want} is mounted here"),
            )),
        }
    }

    /// The [`TaskFs`] mounted at `at`, for its host side (`set_running`, `set_completed`...).
    pub fn task(&self, at: &str) -> Result<TaskFs> {
        match self.mounted(at, MountKind::TaskFs)? {
            Mounted::Task(fs) => Ok(fs.clone()),
            _ => Err(FsError::invalid_input(at, "expected a taskfs mount")),
        }
    }

    /// The task's status at `at`.
    pub fn task_status(&self, at: &str) -> Result<TaskStatus> {
        Ok(self.task(at)?.status())
    }

    /// The [`LogsFs`] mounted at `at`, for its host side (`info`, `contents`...).
    pub fn logs(&self, at: &str) -> Result<LogsFs> {
        match self.mounted(at, MountKind::LogsFs)? {
            Mounted::Logs(fs) => Ok(fs.clone()),
            _ => Err(FsError::invalid_input(at, "expected a logsfs mount")),
        }
    }

    /// The [`HttpFs`] mounted at `at`, for an executor.
    pub fn http(&self, at: &str) -> Result<Arc<HttpFs>> {
        match self.mounted(at, MountKind::HttpFs)? {
            Mounted::Http(fs, _) => Ok(Arc::clone(fs)),
            _ => Err(FsError::invalid_input(at, "expected an httpfs mount")),
        }
    }

    /// The counters of the [`HttpFs`] at `at`.
    pub fn http_status(&self, at: &str) -> Result<HttpStatus> {
        Ok(self.http(at)?.status())
    }

    /// The capability records of the [`HttpFs`] at `at`, oldest first (requests, refusals,
    /// responses and failures; never a header value).
    pub fn http_records(&self, at: &str) -> Result<Vec<CapRecord>> {
        match self.mounted(at, MountKind::HttpFs)? {
            Mounted::Http(_, log) => Ok(log.records()),
            _ => Err(FsError::invalid_input(at, "expected an httpfs mount")),
        }
    }
}

/// Reads `files` given as a JSON object (`{"/path": "content"}`) for
/// [`WebNamespace::mount_mapfs`].
pub fn files_from_json(at: &str, json: &str) -> Result<BTreeMap<String, String>> {
    serde_json::from_str(json).map_err(|e| {
        FsError::invalid_input(
            at,
            format!("files: expected a JSON object of path to text ({e})"),
        )
    })
}

/// Reads a [`TaskSpec`] given as JSON (`{"id", "task_type", "description", "input"}`).
pub fn task_spec_from_json(at: &str, json: &str) -> Result<TaskSpec> {
    serde_json::from_str(json).map_err(|e| {
        FsError::invalid_input(
            at,
            format!(
                "task spec: expected {{\"id\", \"task_type\", \"description\", \"input\"}} ({e})"
            ),
        )
    })
}

/// Reads an [`EgressPolicy`] given as JSON (its fields, all optional; `{}` refuses everything).
pub fn policy_from_json(at: &str, json: &str) -> Result<EgressPolicy> {
    serde_json::from_str(json)
        .map_err(|e| FsError::invalid_input(at, format!("egress policy: {e}")))
}

#[cfg(test)]
mod tests;
