//! `TaskFs`: the task an agent is given, its status and its result.

use std::fmt;
use std::io::SeekFrom;
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use oanix_prims::{Access, FixedDir, FixedFile, FixedNode, FixedTree};
use oanix_vfs::deadline::{self, Instant};
use oanix_vfs::{
    BytesHandle, DirEntry, DirHandle, FileHandle, FileService, FsError, Metadata, OpenFlags,
    Timestamp, seek_position,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, ServiceError};

type FsResult<T> = oanix_vfs::Result<T>;

/// What an agent is asked to do: served as `/spec.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The task's identifier, unique where the host needs it to be.
    pub id: String,
    /// The kind of task (`"code-review"`, `"bugfix"`...), for the agent to
    /// pick its approach.
    pub task_type: String,
    /// What to do, in words.
    pub description: String,
    /// The task's input, in whatever shape its type calls for.
    #[serde(default)]
    pub input: Value,
}

/// Facts about a task that are not the task itself: served as `/meta.json`.
///
/// `TaskFs` fills in `created_at` with the current time when it is `None`.
///
/// ```
/// use oanix_services::TaskMeta;
///
/// let meta = TaskMeta::default().with_tag("nightly").with_timeout_secs(300);
/// assert_eq!(meta.tags, ["nightly"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TaskMeta {
    /// Free-form labels (`"urgent"`, `"benchmark"`...).
    pub tags: Vec<String>,
    /// How long the agent is given, in seconds, if limited. Informative for
    /// the agent; the host enforces it.
    pub timeout_secs: Option<u64>,
    /// When the task was created.
    pub created_at: Option<Timestamp>,
    /// Anything else the host wants the agent to know.
    pub extra: serde_json::Map<String, Value>,
}

impl TaskMeta {
    /// Adds a tag.
    #[must_use]
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// Sets the timeout, in seconds.
    #[must_use]
    pub fn with_timeout_secs(mut self, secs: u64) -> Self {
        self.timeout_secs = Some(secs);
        self
    }

    /// Sets the creation time.
    #[must_use]
    pub fn with_created_at(mut self, at: Timestamp) -> Self {
        self.created_at = Some(at);
        self
    }

    /// Adds an entry to [`extra`](Self::extra).
    #[must_use]
    pub fn with_extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

/// Where a task is in its lifecycle.
///
/// ```text
/// pending ──set_running──▶ running ──set_completed──▶ completed
///    │                        │
///    └──────set_failed────────┴────set_failed───────▶ failed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Created, not started.
    Pending,
    /// The agent is working on it.
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
}

impl TaskState {
    /// The state's name as it appears in `/status` (`"pending"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }

    /// Whether the task is over (completed or failed).
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed)
    }

    /// Whether the lifecycle allows going from `self` to `to`.
    pub fn can_become(self, to: Self) -> bool {
        matches!(
            (self, to),
            (Self::Pending, Self::Running)
                | (Self::Running, Self::Completed)
                | (Self::Pending | Self::Running, Self::Failed)
        )
    }
}

impl fmt::Display for TaskState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status of a task: served as `/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskStatus {
    /// The lifecycle state.
    pub state: TaskState,
    /// When the task started running.
    pub started_at: Option<Timestamp>,
    /// When the task completed or failed.
    pub finished_at: Option<Timestamp>,
    /// When the status last changed (the creation time while pending).
    pub updated_at: Timestamp,
    /// Why the task failed.
    pub error: Option<String>,
}

impl TaskStatus {
    fn pending(at: Timestamp) -> Self {
        Self {
            state: TaskState::Pending,
            started_at: None,
            finished_at: None,
            updated_at: at,
            error: None,
        }
    }

    /// Whether the task is over (completed or failed).
    pub fn is_finished(&self) -> bool {
        self.state.is_finished()
    }
}

/// What a [`TaskFs`] held at one moment ([`TaskFs::snapshot`]), as plain
/// data (serialisable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskSnapshot {
    /// The task's specification.
    pub spec: TaskSpec,
    /// Its metadata.
    pub meta: TaskMeta,
    /// Its status when the snapshot was taken.
    pub status: TaskStatus,
    /// The bytes of `result.json`.
    pub result: Vec<u8>,
    /// When `result.json` was last written.
    pub result_modified: Option<Timestamp>,
    /// The largest `result.json` the agent may write.
    pub max_result_bytes: u64,
}

impl TaskSnapshot {
    /// The same task pending again, from `at`: the specification, metadata
    /// and result kept, the status a new one's (what a fork of an
    /// environment starts from: a new run of the same task).
    #[must_use]
    pub fn restarted(&self, at: Timestamp) -> Self {
        Self {
            status: TaskStatus::pending(at),
            ..self.clone()
        }
    }
}

/// The task service: what an agent is asked to do, where it stands, and
/// what it answered. Mounted at `/task` by convention.
///
/// | file | agent | content |
/// |---|---|---|
/// | `spec.json` | read | the [`TaskSpec`] |
/// | `meta.json` | read | the [`TaskMeta`] |
/// | `status` | read | the [`TaskStatus`], as of the moment the file is opened |
/// | `result.json` | read, write | the agent's answer, empty until it writes one |
///
/// All are JSON (pretty-printed, ending with a newline); times are
/// nanoseconds since the Unix epoch.
///
/// **What the agent may do.** `spec.json`, `meta.json` and `status` are
/// read-only: opening them to write answers `ReadOnly` (and `stat` reports
/// them read-only), because the host alone decides the task and its status.
/// `result.json` is an ordinary file (positional writes, append, truncation)
/// of at most [`max_result_bytes`](TaskFsBuilder::max_result_bytes); writing
/// past that answers `TooLarge`. The set of files is fixed (an
/// [`oanix_prims::FixedTree`]): creating a file, `mkdir` of a new name,
/// removing and renaming answer `PermissionDenied`, after the contract's
/// errors for missing paths (`NotFound`, `NotADirectory`, `AlreadyExists`).
///
/// **Sizes are true.** `stat`, listings and handles report each file's size
/// as a read returns it at that moment: `status` is rendered for its
/// `stat` as for its reads, and a handle on it keeps the snapshot it was
/// opened with (its size included).
///
/// **The result must be JSON**, but since an agent may write it in pieces,
/// writes are not checked one by one. Flushing a handle that wrote checks
/// the whole file and answers `InvalidInput` naming the problem (the bytes
/// are kept, so the agent can fix them); `write_file` flushes, so an agent
/// using it learns at once. The host reads the answer with
/// [`result`](Self::result), which names the problem too.
///
/// **The lifecycle** is driven by the host: `pending → running →
/// completed | failed`, and a task may also fail before it ran (its
/// environment could not be built, it timed out in a queue). Any other
/// change is a [`ServiceError::IllegalTransition`]. A host waits for the end
/// with [`wait_finished`](Self::wait_finished), without polling.
///
/// Cloning a `TaskFs` gives another handle on the same task, so the host
/// can keep one and mount the other (`Arc<TaskFs>` works as well).
///
/// ```
/// use std::time::Duration;
/// use oanix_services::{TaskFs, TaskMeta, TaskSpec, TaskState};
/// use oanix_vfs::{FsErrorKind, Namespace, read_to_string, write_file};
///
/// let task = TaskFs::new(
///     TaskSpec {
///         id: "review-001".into(),
///         task_type: "code-review".into(),
///         description: "Review the authentication module".into(),
///         input: serde_json::json!({"files": ["src/auth.rs"]}),
///     },
///     TaskMeta::default().with_timeout_secs(300),
/// );
/// let ns = Namespace::builder().mount("/task", task.clone()).build();
///
/// task.set_running()?;
/// // The agent reads its task and answers...
/// assert!(read_to_string(&ns, "/task/spec.json")?.contains("review-001"));
/// write_file(&ns, "/task/result.json", r#"{"issues": 2}"#)?;
/// // ...and cannot touch its status.
/// let denied = write_file(&ns, "/task/status", "completed").unwrap_err();
/// assert_eq!(denied.kind(), FsErrorKind::ReadOnly);
///
/// task.set_completed()?;
/// let status = task.wait_finished(Duration::from_secs(1))?;
/// assert_eq!(status.state, TaskState::Completed);
/// assert_eq!(task.result()?, Some(serde_json::json!({"issues": 2})));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TaskFs {
    inner: Arc<Inner>,
}

struct Inner {
    spec: TaskSpec,
    meta: TaskMeta,
    created: Timestamp,
    /// `spec.json` and `meta.json`, rendered on first use.
    spec_json: OnceLock<Arc<[u8]>>,
    meta_json: OnceLock<Arc<[u8]>>,
    status: Mutex<TaskStatus>,
    /// Signalled when the task finishes.
    finished: Condvar,
    result: Mutex<ResultFile>,
    max_result_bytes: u64,
}

#[derive(Default)]
struct ResultFile {
    data: Vec<u8>,
    modified: Option<Timestamp>,
}

/// Builds a [`TaskFs`]; see [`TaskFs::builder`].
#[derive(Debug, Clone)]
pub struct TaskFsBuilder {
    spec: TaskSpec,
    meta: TaskMeta,
    max_result_bytes: u64,
}

impl TaskFsBuilder {
    /// Sets the task's metadata (default: [`TaskMeta::default`]).
    #[must_use]
    pub fn meta(mut self, meta: TaskMeta) -> Self {
        self.meta = meta;
        self
    }

    /// Sets the largest `result.json` the agent may write, in bytes
    /// (default: [`TaskFs::DEFAULT_MAX_RESULT_BYTES`]).
    #[must_use]
    pub fn max_result_bytes(mut self, bytes: u64) -> Self {
        self.max_result_bytes = bytes;
        self
    }

    /// Builds the service, in the `pending` state.
    pub fn build(self) -> TaskFs {
        let created = self.meta.created_at.unwrap_or_else(Timestamp::now);
        let mut meta = self.meta;
        meta.created_at = Some(created);
        TaskFs {
            inner: Arc::new(Inner {
                spec: self.spec,
                meta,
                created,
                spec_json: OnceLock::new(),
                meta_json: OnceLock::new(),
                status: Mutex::new(TaskStatus::pending(created)),
                finished: Condvar::new(),
                result: Mutex::new(ResultFile::default()),
                max_result_bytes: self.max_result_bytes,
            }),
        }
    }
}

/// The files of the service: what a path is parsed into, once, by the
/// service's [`FixedTree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Node {
    Spec,
    Meta,
    Status,
    Result,
}

const STATUS_PATH: &str = "/status";
const RESULT_PATH: &str = "/result.json";

/// Every file of the service, with who may write it.
const FILES: [(Node, Access); 4] = [
    (Node::Spec, Access::ReadOnly),
    (Node::Meta, Access::ReadOnly),
    (Node::Status, Access::ReadOnly),
    (Node::Result, Access::Writable),
];

impl Node {
    fn path(self) -> &'static str {
        match self {
            Self::Meta => "/meta.json",
            Self::Result => RESULT_PATH,
            Self::Spec => "/spec.json",
            Self::Status => STATUS_PATH,
        }
    }
}

/// The names of the service, declared once for every `TaskFs`.
fn tree() -> &'static FixedTree<Node> {
    static TREE: LazyLock<FixedTree<Node>> = LazyLock::new(|| {
        FILES
            .iter()
            .fold(FixedTree::builder(), |b, &(node, access)| {
                b.file(node.path(), node, access)
            })
            .build()
    });
    &TREE
}

/// Locks `m`, going on after a panic elsewhere: every update of the state
/// below is a single assignment, so a poisoned lock still holds a
/// consistent value.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Pretty JSON with a final newline.
fn render<T: Serialize>(value: &T) -> Arc<[u8]> {
    // Serialising these types cannot fail (their maps have string keys);
    // should it ever, the file says so rather than being empty.
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_else(|e| {
        serde_json::to_vec(&serde_json::json!({ "error": e.to_string() })).unwrap_or_default()
    });
    out.push(b'\n');
    out.into()
}

fn invalid_result(e: &serde_json::Error) -> String {
    format!("not valid JSON: {e}")
}

impl TaskFs {
    /// The default of [`TaskFsBuilder::max_result_bytes`]: 16 MiB.
    pub const DEFAULT_MAX_RESULT_BYTES: u64 = 16 << 20;

    /// A task service for `spec` and `meta`, in the `pending` state.
    pub fn new(spec: TaskSpec, meta: TaskMeta) -> Self {
        Self::builder(spec).meta(meta).build()
    }

    /// Starts building a task service for `spec`.
    pub fn builder(spec: TaskSpec) -> TaskFsBuilder {
        TaskFsBuilder {
            spec,
            meta: TaskMeta::default(),
            max_result_bytes: Self::DEFAULT_MAX_RESULT_BYTES,
        }
    }

    /// The task's specification.
    pub fn spec(&self) -> &TaskSpec {
        &self.inner.spec
    }

    /// The task's metadata (with `created_at` filled in).
    pub fn meta(&self) -> &TaskMeta {
        &self.inner.meta
    }

    /// The current status.
    pub fn status(&self) -> TaskStatus {
        lock(&self.inner.status).clone()
    }

    /// The current lifecycle state.
    pub fn state(&self) -> TaskState {
        lock(&self.inner.status).state
    }

    /// Whether the task completed or failed.
    pub fn is_finished(&self) -> bool {
        self.state().is_finished()
    }

    /// `pending → running`.
    pub fn set_running(&self) -> Result<()> {
        self.transition(TaskState::Running, None)
    }

    /// `running → completed`.
    pub fn set_completed(&self) -> Result<()> {
        self.transition(TaskState::Completed, None)
    }

    /// `running → failed` or `pending → failed`, with the reason.
    pub fn set_failed(&self, error: impl Into<String>) -> Result<()> {
        self.transition(TaskState::Failed, Some(error.into()))
    }

    fn transition(&self, to: TaskState, error: Option<String>) -> Result<()> {
        let mut status = lock(&self.inner.status);
        if !status.state.can_become(to) {
            return Err(ServiceError::IllegalTransition {
                path: STATUS_PATH.to_owned(),
                from: status.state.to_string(),
                to: to.to_string(),
            });
        }
        let now = Timestamp::now().max(status.updated_at);
        status.state = to;
        status.updated_at = now;
        if to == TaskState::Running {
            status.started_at = Some(now);
        }
        if to.is_finished() {
            status.finished_at = Some(now);
            status.error = error;
            drop(status);
            self.inner.finished.notify_all();
        }
        Ok(())
    }

    /// Waits until the task completed or failed, for at most `timeout` (cut
    /// short by the calling thread's [`deadline`]), and returns its final
    /// status; [`ServiceError::TimedOut`] if it is still going on.
    pub fn wait_finished(&self, timeout: Duration) -> Result<TaskStatus> {
        let start = Instant::now();
        let wait = deadline::bound(timeout);
        let status = lock(&self.inner.status);
        let (status, _) = self
            .inner
            .finished
            .wait_timeout_while(status, wait, |s| !s.is_finished())
            .unwrap_or_else(PoisonError::into_inner);
        if status.is_finished() {
            Ok(status.clone())
        } else {
            Err(ServiceError::TimedOut {
                path: STATUS_PATH.to_owned(),
                waited: start.elapsed(),
            })
        }
    }

    /// What the task holds now — spec, meta, status and the bytes of
    /// `result.json` — as a value to keep, compare or serialise, from which
    /// [`from_snapshot`](Self::from_snapshot) starts a task again.
    pub fn snapshot(&self) -> TaskSnapshot {
        // The status first, then the result: a result read after a
        // `completed` status is the one it completed with.
        let status = self.status();
        let result = lock(&self.inner.result);
        TaskSnapshot {
            spec: self.inner.spec.clone(),
            meta: self.inner.meta.clone(),
            status,
            result: result.data.clone(),
            result_modified: result.modified,
            max_result_bytes: self.inner.max_result_bytes,
        }
    }

    /// A task started from `snapshot`: the same spec, meta, limit and
    /// `result.json`, in the `pending` state (whatever state the snapshot
    /// was taken in: a task started again has not run yet; the status it
    /// was taken with stays in the snapshot).
    pub fn from_snapshot(snapshot: &TaskSnapshot) -> Self {
        let task = Self::builder(snapshot.spec.clone())
            .meta(snapshot.meta.clone())
            .max_result_bytes(snapshot.max_result_bytes)
            .build();
        {
            let mut result = lock(&task.inner.result);
            result.data.clone_from(&snapshot.result);
            result.modified = snapshot.result_modified;
        }
        task
    }

    /// The bytes of `result.json` as they are now.
    pub fn result_bytes(&self) -> Vec<u8> {
        lock(&self.inner.result).data.clone()
    }

    /// The agent's answer: `None` while `result.json` is empty (or only
    /// whitespace), the parsed JSON otherwise, or
    /// [`ServiceError::InvalidData`] saying what is wrong with it.
    pub fn result(&self) -> Result<Option<Value>> {
        let result = lock(&self.inner.result);
        if result.data.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        serde_json::from_slice(&result.data)
            .map(Some)
            .map_err(|e| ServiceError::InvalidData {
                path: RESULT_PATH.to_owned(),
                message: invalid_result(&e),
            })
    }

    /// What a read of `node` returns now.
    fn content(&self, node: Node) -> Arc<[u8]> {
        let inner = &*self.inner;
        match node {
            Node::Spec => Arc::clone(inner.spec_json.get_or_init(|| render(&inner.spec))),
            Node::Meta => Arc::clone(inner.meta_json.get_or_init(|| render(&inner.meta))),
            Node::Status => render(&*lock(&inner.status)),
            Node::Result => Arc::from(lock(&inner.result).data.as_slice()),
        }
    }

    /// The content of a read-only file and its metadata, taken together
    /// (the size is the content's length).
    fn content_with_metadata(&self, file: FixedFile<'_, Node>) -> (Arc<[u8]>, Metadata) {
        let created = self.inner.created;
        let (data, modified) = match *file.value() {
            Node::Status => {
                let status = lock(&self.inner.status);
                (render(&*status), status.updated_at)
            }
            node => (self.content(node), created),
        };
        let metadata = file
            .metadata(data.len() as u64)
            .with_times(created, modified, modified);
        (data, metadata)
    }

    fn file_metadata(&self, file: FixedFile<'_, Node>) -> Metadata {
        match *file.value() {
            Node::Result => result_metadata(&self.inner, &lock(&self.inner.result), file.id()),
            _ => self.content_with_metadata(file).1,
        }
    }

    fn dir_metadata(&self, dir: FixedDir<'_, Node>) -> Metadata {
        let created = self.inner.created;
        dir.metadata().with_times(created, created, created)
    }
}

fn result_metadata(inner: &Inner, result: &ResultFile, id: u64) -> Metadata {
    let created = inner.created;
    let modified = result.modified.unwrap_or(created);
    Metadata::file(id, result.data.len() as u64).with_times(created, modified, modified)
}

impl fmt::Debug for TaskFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFs")
            .field("id", &self.inner.spec.id)
            .field("state", &self.state())
            .finish()
    }
}

impl FileService for TaskFs {
    fn open(&self, path: &str, flags: OpenFlags) -> FsResult<Box<dyn FileHandle>> {
        let file = match tree().open(path, flags)? {
            FixedNode::Dir(dir) => {
                return Ok(DirHandle::boxed(dir.path(), self.dir_metadata(dir)));
            }
            FixedNode::File(file) => file,
        };
        match *file.value() {
            Node::Spec | Node::Meta | Node::Status => {
                let (data, metadata) = self.content_with_metadata(file);
                Ok(BytesHandle::boxed(file.path(), data, metadata))
            }
            Node::Result => {
                if flags.truncate {
                    let mut result = lock(&self.inner.result);
                    result.data.clear();
                    result.modified = Some(Timestamp::now());
                }
                Ok(Box::new(ResultHandle {
                    inner: Arc::clone(&self.inner),
                    id: file.id(),
                    pos: 0,
                    read: flags.can_read(),
                    write: flags.can_write(),
                    append: flags.append,
                    wrote: false,
                }))
            }
        }
    }

    fn readdir(&self, path: &str) -> FsResult<Vec<DirEntry>> {
        tree().readdir(path, |file| self.file_metadata(*file).size)
    }

    fn stat(&self, path: &str) -> FsResult<Metadata> {
        Ok(match tree().find(path)? {
            FixedNode::Dir(dir) => self.dir_metadata(dir),
            FixedNode::File(file) => self.file_metadata(file),
        })
    }

    fn mkdir(&self, path: &str) -> FsResult<()> {
        tree().mkdir(path)
    }

    fn remove(&self, path: &str) -> FsResult<()> {
        tree().remove(path)
    }

    fn rename(&self, from: &str, to: &str) -> FsResult<()> {
        tree().rename(from, to)
    }

    fn fs_type(&self) -> &'static str {
        "taskfs"
    }
}

/// A handle on `result.json`, which lives in the service: every handle sees
/// the others' writes at once.
struct ResultHandle {
    inner: Arc<Inner>,
    id: u64,
    pos: u64,
    read: bool,
    write: bool,
    append: bool,
    /// Whether this handle wrote, so that `flush` checks the JSON.
    wrote: bool,
}

impl ResultHandle {
    fn read_from(&self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        if !self.read {
            return Err(FsError::bad_handle(RESULT_PATH, "not opened for reading"));
        }
        let result = lock(&self.inner.result);
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|o| result.data.get(o..))
            .unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    /// Writes at `offset` (at the end when appending); returns where the
    /// write ended.
    fn write_to(&mut self, buf: &[u8], offset: u64) -> FsResult<u64> {
        if !self.write {
            return Err(FsError::bad_handle(RESULT_PATH, "not opened for writing"));
        }
        let mut result = lock(&self.inner.result);
        let start = if self.append {
            result.data.len() as u64
        } else {
            offset
        };
        if buf.is_empty() {
            return Ok(start);
        }
        let limit = self.inner.max_result_bytes;
        let end = start
            .checked_add(buf.len() as u64)
            .filter(|end| *end <= limit)
            .ok_or_else(|| FsError::too_large(RESULT_PATH, limit))?;
        let (Ok(start_at), Ok(end_at)) = (usize::try_from(start), usize::try_from(end)) else {
            return Err(FsError::too_large(RESULT_PATH, limit));
        };
        if result.data.len() < end_at {
            result.data.resize(end_at, 0);
        }
        result.data[start_at..end_at].copy_from_slice(buf);
        result.modified = Some(Timestamp::now());
        self.wrote = true;
        Ok(end)
    }
}

impl FileHandle for ResultHandle {
    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize> {
        let n = self.read_from(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> FsResult<usize> {
        self.pos = self.write_to(buf, self.pos)?;
        Ok(buf.len())
    }

    fn seek(&mut self, pos: SeekFrom) -> FsResult<u64> {
        let len = lock(&self.inner.result).data.len() as u64;
        self.pos = seek_position(RESULT_PATH, pos, self.pos, len)?;
        Ok(self.pos)
    }

    /// Checks that `result.json` holds JSON (or nothing), if this handle
    /// wrote to it.
    fn flush(&mut self) -> FsResult<()> {
        if !self.wrote {
            return Ok(());
        }
        let result = lock(&self.inner.result);
        if result.data.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        serde_json::from_slice::<serde::de::IgnoredAny>(&result.data)
            .map(|_| ())
            .map_err(|e| {
                FsError::invalid_input(
                    RESULT_PATH,
                    format!(
                        "{}; the bytes are kept, write the whole result again",
                        invalid_result(&e)
                    ),
                )
            })
    }

    fn stat(&self) -> FsResult<Metadata> {
        Ok(result_metadata(
            &self.inner,
            &lock(&self.inner.result),
            self.id,
        ))
    }

    fn set_len(&mut self, len: u64) -> FsResult<()> {
        if !self.write {
            return Err(FsError::bad_handle(RESULT_PATH, "not opened for writing"));
        }
        let limit = self.inner.max_result_bytes;
        let new_len = usize::try_from(len)
            .ok()
            .filter(|_| len <= limit)
            .ok_or_else(|| FsError::too_large(RESULT_PATH, limit))?;
        let mut result = lock(&self.inner.result);
        result.data.resize(new_len, 0);
        result.modified = Some(Timestamp::now());
        self.wrote = true;
        Ok(())
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        self.read_from(buf, offset)
    }

    fn write_at(&mut self, buf: &[u8], offset: u64) -> FsResult<usize> {
        self.write_to(buf, offset)?;
        Ok(buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> TaskSpec {
        TaskSpec {
            id: "t-1".into(),
            task_type: "test".into(),
            description: "a test task".into(),
            input: serde_json::json!({"n": 1}),
        }
    }

    #[test]
    fn the_transition_table_is_the_lifecycle() {
        use TaskState::*;
        let all = [Pending, Running, Completed, Failed];
        let legal = [
            (Pending, Running),
            (Running, Completed),
            (Running, Failed),
            (Pending, Failed),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn the_tree_declares_every_file_once() {
        let names: Vec<&str> = tree()
            .root()
            .children()
            .map(|n| match n {
                FixedNode::File(f) => f.name(),
                FixedNode::Dir(d) => d.path(),
            })
            .collect();
        assert_eq!(names, ["meta.json", "result.json", "spec.json", "status"]);
        for (node, access) in FILES {
            match tree().lookup(node.path()) {
                Ok(FixedNode::File(f)) => {
                    assert_eq!((*f.value(), f.access()), (node, access));
                }
                other => panic!("{} is {other:?}", node.path()),
            }
        }
        let strict = FILES
            .iter()
            .fold(FixedTree::builder(), |b, &(node, access)| {
                b.file(node.path(), node, access)
            })
            .try_build();
        assert_eq!(strict.map(|t| t.len()).ok(), Some(5));
    }

    #[test]
    fn meta_gets_a_creation_time_and_keeps_a_given_one() {
        let task = TaskFs::new(spec(), TaskMeta::default());
        assert!(task.meta().created_at.is_some());
        let at = Timestamp(42);
        let task = TaskFs::new(spec(), TaskMeta::default().with_created_at(at));
        assert_eq!(task.meta().created_at, Some(at));
        assert_eq!(task.status().updated_at, at);
    }

    #[test]
    fn status_renders_as_json_with_the_state_name() {
        let task = TaskFs::new(spec(), TaskMeta::default());
        task.set_failed("no workspace").unwrap();
        let json: Value = serde_json::from_slice(&task.content(Node::Status)).unwrap();
        assert_eq!(json["state"], "failed");
        assert_eq!(json["error"], "no workspace");
        assert!(json["started_at"].is_null());
        assert!(json["finished_at"].is_u64());
    }

    #[test]
    fn result_is_none_until_written() {
        let task = TaskFs::new(spec(), TaskMeta::default());
        assert_eq!(task.result(), Ok(None));
        assert!(task.result_bytes().is_empty());
    }
}
