//! `LogsFs`: what an agent printed and the structured events of its run.

use std::collections::VecDeque;
use std::fmt;
use std::io::SeekFrom;
use std::sync::{Arc, Condvar, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use oanix_prims::{Access, FixedDir, FixedNode, FixedTree};
use oanix_vfs::{
    DirEntry, DirHandle, FileHandle, FileService, FsError, Metadata, OpenFlags, Timestamp,
    deadline, seek_position,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

type FsResult<T> = oanix_vfs::Result<T>;

/// One of the three files of a [`LogsFs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogStream {
    /// `stdout.log`: what the agent printed.
    Stdout,
    /// `stderr.log`: what the agent printed as errors.
    Stderr,
    /// `events.jsonl`: structured events, one JSON object per line.
    Events,
}

impl LogStream {
    /// The three streams, in the order of their file names.
    pub const ALL: [Self; 3] = [Self::Events, Self::Stderr, Self::Stdout];

    /// The file's name (`"stdout.log"`...).
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Stdout => "stdout.log",
            Self::Stderr => "stderr.log",
            Self::Events => "events.jsonl",
        }
    }

    /// The file's path in the service (`"/stdout.log"`...).
    pub fn path(self) -> &'static str {
        match self {
            Self::Stdout => "/stdout.log",
            Self::Stderr => "/stderr.log",
            Self::Events => "/events.jsonl",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Events => 0,
            Self::Stderr => 1,
            Self::Stdout => 2,
        }
    }
}

/// How important an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Detail for whoever debugs the agent.
    Debug,
    /// The normal course of things.
    Info,
    /// Something worth a look.
    Warn,
    /// Something went wrong.
    Error,
}

impl LogLevel {
    /// The level's name as written in `events.jsonl` (`"info"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who logged an event. Agents cannot claim to be the host: the `source` of
/// a line an agent writes is always `agent`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EventSource {
    /// The host, through the [`LogsFs`] API (this includes the service's own
    /// "output dropped" markers).
    Host,
    /// The agent, by writing to `events.jsonl`.
    Agent,
}

/// A structured event: one line of `events.jsonl`.
///
/// ```
/// use oanix_services::{LogEvent, LogLevel};
///
/// let e = LogEvent::with_data(LogLevel::Debug, "config loaded", serde_json::json!({"timeout": 300}));
/// let line = serde_json::to_string(&e)?;
/// assert!(line.contains(r#""level":"debug","source":"host","message":"config loaded""#));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogEvent {
    /// When it happened.
    pub timestamp: Timestamp,
    /// How important it is.
    pub level: LogLevel,
    /// Who logged it.
    pub source: EventSource,
    /// What happened, in words.
    pub message: String,
    /// Structured details, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl LogEvent {
    /// An event of the host, now.
    pub fn new(level: LogLevel, message: impl Into<String>) -> Self {
        Self {
            timestamp: Timestamp::now(),
            level,
            source: EventSource::Host,
            message: message.into(),
            data: None,
        }
    }

    /// An event of the host with structured details, now.
    pub fn with_data(level: LogLevel, message: impl Into<String>, data: Value) -> Self {
        Self {
            data: Some(data),
            ..Self::new(level, message)
        }
    }

    /// Sets the time of the event.
    #[must_use]
    pub fn at(mut self, timestamp: Timestamp) -> Self {
        self.timestamp = timestamp;
        self
    }

    /// Sets who logged the event (a host relaying an agent's events).
    #[must_use]
    pub fn from_source(mut self, source: EventSource) -> Self {
        self.source = source;
        self
    }
}

/// A line as an agent may write it to `events.jsonl`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentLine {
    #[serde(default)]
    timestamp: Option<Timestamp>,
    level: LogLevel,
    message: String,
    #[serde(default)]
    data: Option<Value>,
}

/// The logs service: an agent's standard output and error, and the
/// structured events of its run. Mounted at `/logs` by convention.
///
/// | file | content |
/// |---|---|
/// | `stdout.log` | what the agent (or the host on its behalf) printed |
/// | `stderr.log` | the same, for errors |
/// | `events.jsonl` | [`LogEvent`]s, one JSON object per line |
///
/// **Append-only.** Every write appends, whatever the handle's position or
/// the offset given (`write_at` included), and leaves the position at the
/// end. Logs cannot be shortened: `set_len` answers `PermissionDenied`, and
/// opening with `truncate` is accepted and ignored, so that an agent
/// creating its log file the usual way (`File::create`) keeps working.
/// Reads, `seek` and `stat` behave as on any file and see output as soon as
/// it is written; `stat` and listings report each file's size as a read
/// returns it at that moment. The set of files is fixed (an
/// [`oanix_prims::FixedTree`]): creating a file, `mkdir` of a new name,
/// removing and renaming answer `PermissionDenied`, after the contract's
/// errors for missing paths (`NotFound`, `NotADirectory`, `AlreadyExists`).
///
/// **Events written by the agent** are checked, each write as one message
/// made of whole lines (a final line without `\n` counts as whole; blank
/// lines are skipped). Every line must be a JSON object with `level`
/// (`debug`, `info`, `warn`, `error`) and `message`, and may have
/// `timestamp` (nanoseconds since the Unix epoch; the time of the write if
/// missing) and `data` (any JSON). A write with a malformed line fails with
/// `InvalidInput` naming the line (counted within the write) and what is
/// wrong, and logs nothing: a write is all or nothing, and nothing logged
/// before is touched. Events are stored in one canonical form, with
/// `"source": "agent"`.
///
/// **Bounded.** Each file holds at most
/// [`max_bytes`](LogsFsBuilder::max_bytes). A write that does not fit whole
/// is dropped, and from then on the file is full: later output to it is
/// dropped too, so the file always holds a clean beginning of the output,
/// never output with holes in it. The first drop of each file logs one
/// warning event, `output dropped: N bytes written to stdout.log past its
/// limit of M bytes...` (with `file`, `dropped_bytes` and `limit_bytes` in
/// its data), appended even if `events.jsonl` is full (so at most three
/// markers ever); [`dropped_bytes`](Self::dropped_bytes) counts everything
/// dropped since. A dropped write still reports all its bytes as written,
/// as `/dev/null` would: running out of log space must not fail the agent.
///
/// **Live.** [`follow`](Self::follow) and [`follow_events`](Self::follow_events)
/// return followers that block (without polling) until output arrives.
///
/// Cloning a `LogsFs` gives another handle on the same logs, so the host can
/// keep one and mount the other (`Arc<LogsFs>` works as well).
///
/// ```
/// use std::time::Duration;
/// use oanix_services::{LogLevel, LogStream, LogsFs};
/// use oanix_vfs::{Namespace, append_file, read_to_string};
///
/// let logs = LogsFs::new();
/// let ns = Namespace::builder().mount("/logs", logs.clone()).build();
/// let mut watch = logs.follow_events();
///
/// logs.info("task started");
/// append_file(&ns, "/logs/stdout.log", "hello\n")?;
/// append_file(&ns, "/logs/events.jsonl", r#"{"level": "warn", "message": "slow disk"}"#)?;
///
/// assert_eq!(read_to_string(&ns, "/logs/stdout.log")?, "hello\n");
/// assert_eq!(watch.next_timeout(Duration::from_secs(1)).unwrap().message, "task started");
/// let agent = watch.next_timeout(Duration::from_secs(1)).unwrap();
/// assert_eq!((agent.level, agent.message.as_str()), (LogLevel::Warn, "slow disk"));
/// assert_eq!(logs.events().len(), 2);
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Clone)]
pub struct LogsFs {
    inner: Arc<Inner>,
}

struct Inner {
    /// Indexed by [`LogStream::index`].
    streams: [Stream; 3],
    max_bytes: u64,
    created: Timestamp,
}

#[derive(Default)]
struct Stream {
    state: Mutex<StreamState>,
    /// Signalled whenever the file grows.
    grew: Condvar,
}

#[derive(Default)]
struct StreamState {
    data: Vec<u8>,
    dropped: u64,
    full: bool,
    modified: Option<Timestamp>,
    /// Followers waiting for the file to grow. Appends signal only when
    /// there are some: a signal is a system call, dearer than the append.
    waiters: usize,
}

/// Locks `m`, going on after a panic elsewhere: the state is only ever
/// changed by appends that cannot panic halfway, so it stays consistent.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Serialises events as lines of `events.jsonl`.
fn push_lines(out: &mut Vec<u8>, events: &[LogEvent]) {
    for event in events {
        let start = out.len();
        // `LogEvent` always serialises (its JSON values have string keys);
        // a failure leaves out that one event rather than half a line.
        if serde_json::to_writer(&mut *out, event).is_ok() {
            out.push(b'\n');
        } else {
            out.truncate(start);
        }
    }
}

/// Parses the lines of `events.jsonl` as stored (always well formed).
fn stored_events(data: &[u8]) -> impl Iterator<Item = LogEvent> + '_ {
    data.split(|b| *b == b'\n')
        .filter(|line| !line.is_empty())
        .filter_map(|line| serde_json::from_slice(line).ok())
}

/// What is wrong, without serde_json's position (the caller gives it).
fn describe(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&suffix) {
        Some(what) if e.is_syntax() || e.is_eof() => format!("{what} (at column {})", e.column()),
        Some(what) => what.to_owned(),
        None => text,
    }
}

/// Checks the lines an agent wrote to `events.jsonl`; every line must be
/// good for any of them to be logged.
fn parse_agent_lines(data: &[u8]) -> Result<Vec<LogEvent>, String> {
    let now = Timestamp::now();
    let mut events = Vec::new();
    for (index, line) in data.split(|b| *b == b'\n').enumerate() {
        let n = index + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = std::str::from_utf8(line).map_err(|e| {
            format!(
                "line {n} of this write: not valid UTF-8 (at byte {})",
                e.valid_up_to()
            )
        })?;
        if !text.trim_start().starts_with('{') {
            return Err(format!(
                "line {n} of this write: expected a JSON object, one event per line"
            ));
        }
        let parsed: AgentLine = serde_json::from_str(text)
            .map_err(|e| format!("line {n} of this write: {}", describe(&e)))?;
        events.push(LogEvent {
            timestamp: parsed.timestamp.unwrap_or(now),
            level: parsed.level,
            source: EventSource::Agent,
            message: parsed.message,
            data: parsed.data,
        });
    }
    Ok(events)
}

/// The names of the service, declared once for every `LogsFs`: each file's
/// value is its stream, what a path is parsed into.
fn tree() -> &'static FixedTree<LogStream> {
    static TREE: LazyLock<FixedTree<LogStream>> = LazyLock::new(|| {
        LogStream::ALL
            .iter()
            .fold(FixedTree::builder(), |b, &s| {
                b.file(s.path(), s, Access::Writable)
            })
            .build()
    });
    &TREE
}

impl Inner {
    fn stream(&self, stream: LogStream) -> &Stream {
        &self.streams[stream.index()]
    }

    /// Appends `bytes` to `stream` whole, or drops them if they do not fit;
    /// returns the size of the file afterwards.
    fn append(&self, stream: LogStream, bytes: &[u8]) -> u64 {
        let s = self.stream(stream);
        let mut state = lock(&s.state);
        if bytes.is_empty() {
            return state.data.len() as u64;
        }
        let fits = !state.full
            && (state.data.len() as u64)
                .checked_add(bytes.len() as u64)
                .is_some_and(|end| end <= self.max_bytes);
        if fits {
            state.data.extend_from_slice(bytes);
            state.modified = Some(Timestamp::now());
            let len = state.data.len() as u64;
            let wake = state.waiters > 0;
            drop(state);
            if wake {
                s.grew.notify_all();
            }
            return len;
        }
        let first = !state.full;
        state.full = true;
        state.dropped = state.dropped.saturating_add(bytes.len() as u64);
        let len = state.data.len() as u64;
        drop(state);
        if first {
            self.mark_overflow(stream, bytes.len());
        }
        len
    }

    /// Logs that `stream` overflowed. The marker goes in even when
    /// `events.jsonl` is full: there is at most one per file.
    fn mark_overflow(&self, stream: LogStream, dropped: usize) {
        let file = stream.file_name();
        let limit = self.max_bytes;
        let marker = LogEvent::with_data(
            LogLevel::Warn,
            format!(
                "output dropped: {dropped} bytes written to {file} past its limit of {limit} bytes; \
                 later output to {file} is dropped too"
            ),
            serde_json::json!({"file": file, "dropped_bytes": dropped, "limit_bytes": limit}),
        );
        let mut line = Vec::new();
        push_lines(&mut line, std::slice::from_ref(&marker));
        let s = self.stream(LogStream::Events);
        let mut state = lock(&s.state);
        state.data.extend_from_slice(&line);
        state.modified = Some(marker.timestamp);
        let wake = state.waiters > 0;
        drop(state);
        if wake {
            s.grew.notify_all();
        }
    }

    fn metadata(&self, stream: LogStream, id: u64) -> Metadata {
        let state = lock(&self.stream(stream).state);
        let modified = state.modified.unwrap_or(self.created);
        Metadata::file(id, state.data.len() as u64).with_times(self.created, modified, modified)
    }

    fn dir_metadata(&self, dir: FixedDir<'_, LogStream>) -> Metadata {
        dir.metadata()
            .with_times(self.created, self.created, self.created)
    }
}

/// Builds a [`LogsFs`]; see [`LogsFs::builder`].
#[derive(Debug, Clone)]
pub struct LogsFsBuilder {
    max_bytes: u64,
}

impl LogsFsBuilder {
    /// Sets the largest size of each file, in bytes (default:
    /// [`LogsFs::DEFAULT_MAX_BYTES`]).
    #[must_use]
    pub fn max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// Builds the service, with three empty files.
    pub fn build(self) -> LogsFs {
        LogsFs {
            inner: Arc::new(Inner {
                streams: Default::default(),
                max_bytes: self.max_bytes,
                created: Timestamp::now(),
            }),
        }
    }
}

impl Default for LogsFs {
    fn default() -> Self {
        Self::new()
    }
}

/// One file of a [`LogsSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogFileSnapshot {
    /// Its bytes.
    pub data: Vec<u8>,
    /// Bytes refused because the file was full.
    pub dropped: u64,
    /// Whether it had reached its limit.
    pub full: bool,
    /// When it last grew.
    pub modified: Option<Timestamp>,
}

/// What a [`LogsFs`] held at one moment ([`LogsFs::snapshot`]): its three
/// files, as plain data (serialisable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LogsSnapshot {
    /// `stdout.log`.
    pub stdout: LogFileSnapshot,
    /// `stderr.log`.
    pub stderr: LogFileSnapshot,
    /// `events.jsonl`.
    pub events: LogFileSnapshot,
    /// The largest size of each file, in bytes.
    pub max_bytes: u64,
}

impl LogsFs {
    /// What the three files hold now, at one moment across them (every
    /// append waits while they are copied).
    pub fn snapshot(&self) -> LogsSnapshot {
        // Locked in index order, as everywhere more than one is.
        let [ev, err, out] = &self.inner.streams;
        let (ev, err, out) = (lock(&ev.state), lock(&err.state), lock(&out.state));
        let file = |s: &StreamState| LogFileSnapshot {
            data: s.data.clone(),
            dropped: s.dropped,
            full: s.full,
            modified: s.modified,
        };
        LogsSnapshot {
            stdout: file(&out),
            stderr: file(&err),
            events: file(&ev),
            max_bytes: self.inner.max_bytes,
        }
    }

    /// A logs service holding what `snapshot` holds, with its limit; what
    /// is appended from now on follows. `events.jsonl` is taken as it is
    /// (a snapshot of this service always holds whole lines).
    pub fn from_snapshot(snapshot: &LogsSnapshot) -> Self {
        let logs = Self::builder().max_bytes(snapshot.max_bytes).build();
        for (which, file) in [
            (LogStream::Stdout, &snapshot.stdout),
            (LogStream::Stderr, &snapshot.stderr),
            (LogStream::Events, &snapshot.events),
        ] {
            let mut state = lock(&logs.inner.streams[which.index()].state);
            state.data.clone_from(&file.data);
            state.dropped = file.dropped;
            state.full = file.full;
            state.modified = file.modified;
        }
        logs
    }
}

impl LogsFs {
    /// The default of [`LogsFsBuilder::max_bytes`]: 16 MiB per file.
    pub const DEFAULT_MAX_BYTES: u64 = 16 << 20;

    /// A logs service with the default limits.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts building a logs service.
    pub fn builder() -> LogsFsBuilder {
        LogsFsBuilder {
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }

    /// The largest size of each file, in bytes.
    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    /// Appends to `stdout.log`.
    pub fn write_stdout(&self, data: impl AsRef<[u8]>) {
        self.inner.append(LogStream::Stdout, data.as_ref());
    }

    /// Appends to `stderr.log`.
    pub fn write_stderr(&self, data: impl AsRef<[u8]>) {
        self.inner.append(LogStream::Stderr, data.as_ref());
    }

    /// Appends an event to `events.jsonl`.
    pub fn log_event(&self, event: LogEvent) {
        let mut line = Vec::with_capacity(128);
        push_lines(&mut line, std::slice::from_ref(&event));
        self.inner.append(LogStream::Events, &line);
    }

    /// Logs a `debug` event.
    pub fn debug(&self, message: impl Into<String>) {
        self.log_event(LogEvent::new(LogLevel::Debug, message));
    }

    /// Logs an `info` event.
    pub fn info(&self, message: impl Into<String>) {
        self.log_event(LogEvent::new(LogLevel::Info, message));
    }

    /// Logs a `warn` event.
    pub fn warn(&self, message: impl Into<String>) {
        self.log_event(LogEvent::new(LogLevel::Warn, message));
    }

    /// Logs an `error` event.
    pub fn error(&self, message: impl Into<String>) {
        self.log_event(LogEvent::new(LogLevel::Error, message));
    }

    /// The whole content of a file, as it is now.
    pub fn contents(&self, stream: LogStream) -> Vec<u8> {
        lock(&self.inner.stream(stream).state).data.clone()
    }

    /// Every event logged so far, in order.
    pub fn events(&self) -> Vec<LogEvent> {
        let state = lock(&self.inner.stream(LogStream::Events).state);
        stored_events(&state.data).collect()
    }

    /// The size of a file, in bytes.
    pub fn size(&self, stream: LogStream) -> u64 {
        lock(&self.inner.stream(stream).state).data.len() as u64
    }

    /// How many bytes of output to a file were dropped because it was full.
    pub fn dropped_bytes(&self, stream: LogStream) -> u64 {
        lock(&self.inner.stream(stream).state).dropped
    }

    /// Follows a file from its beginning: the follower first returns what is
    /// already there, then waits for more.
    pub fn follow(&self, stream: LogStream) -> Follower {
        self.follow_from(stream, 0)
    }

    /// Follows a file from byte `offset` (`self.size(stream)` to see only
    /// what comes next).
    pub fn follow_from(&self, stream: LogStream, offset: u64) -> Follower {
        Follower {
            inner: Arc::clone(&self.inner),
            stream,
            offset: usize::try_from(offset).unwrap_or(usize::MAX),
        }
    }

    /// Follows the events from the first one, parsed.
    pub fn follow_events(&self) -> EventFollower {
        EventFollower {
            bytes: self.follow(LogStream::Events),
            pending: VecDeque::new(),
        }
    }
}

impl fmt::Debug for LogsFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("LogsFs");
        for stream in LogStream::ALL {
            d.field(stream.file_name(), &self.size(stream));
        }
        d.field("max_bytes", &self.inner.max_bytes).finish()
    }
}

/// Follows one file of a [`LogsFs`] as it grows; see [`LogsFs::follow`].
pub struct Follower {
    inner: Arc<Inner>,
    stream: LogStream,
    offset: usize,
}

impl Follower {
    /// Returns everything written to the file since the last call (at least
    /// one byte), waiting up to `timeout` (cut short by the calling thread's
    /// [`deadline`]) for it; `None` if nothing came.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        let s = self.inner.stream(self.stream);
        let offset = self.offset;
        let mut state = lock(&s.state);
        let wait = deadline::bound(timeout);
        if state.data.len() <= offset && !wait.is_zero() {
            state.waiters += 1;
            state = s
                .grew
                .wait_timeout_while(state, wait, |st| st.data.len() <= offset)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiters -= 1;
        }
        let chunk = state.data.get(offset..).filter(|c| !c.is_empty())?.to_vec();
        self.offset = state.data.len();
        Some(chunk)
    }

    /// What is new, without waiting.
    pub fn try_next(&mut self) -> Option<Vec<u8>> {
        self.next_timeout(Duration::ZERO)
    }

    /// The offset in the file up to which output was returned.
    pub fn offset(&self) -> u64 {
        self.offset as u64
    }

    /// The file followed.
    pub fn stream(&self) -> LogStream {
        self.stream
    }
}

impl fmt::Debug for Follower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Follower")
            .field("stream", &self.stream)
            .field("offset", &self.offset)
            .finish()
    }
}

/// Follows the events of a [`LogsFs`] one by one; see
/// [`LogsFs::follow_events`].
#[derive(Debug)]
pub struct EventFollower {
    bytes: Follower,
    pending: VecDeque<LogEvent>,
}

impl EventFollower {
    /// The next event, waiting up to `timeout` (cut short by the calling
    /// thread's [`deadline`]) for it; `None` if none came.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<LogEvent> {
        if let Some(event) = self.pending.pop_front() {
            return Some(event);
        }
        // Events are appended as whole lines, so a chunk holds whole lines.
        let chunk = self.bytes.next_timeout(timeout)?;
        self.pending.extend(stored_events(&chunk));
        self.pending.pop_front()
    }

    /// The next event if there is one already, without waiting.
    pub fn try_next(&mut self) -> Option<LogEvent> {
        self.next_timeout(Duration::ZERO)
    }
}

impl FileService for LogsFs {
    fn open(&self, path: &str, flags: OpenFlags) -> FsResult<Box<dyn FileHandle>> {
        match tree().open(path, flags)? {
            FixedNode::Dir(dir) => Ok(DirHandle::boxed(dir.path(), self.inner.dir_metadata(dir))),
            // `truncate` is ignored: the logs are append-only.
            FixedNode::File(file) => Ok(Box::new(LogHandle {
                inner: Arc::clone(&self.inner),
                stream: *file.value(),
                id: file.id(),
                pos: 0,
                read: flags.can_read(),
                write: flags.can_write(),
            })),
        }
    }

    fn readdir(&self, path: &str) -> FsResult<Vec<DirEntry>> {
        tree().readdir(path, |file| self.size(*file.value()))
    }

    fn stat(&self, path: &str) -> FsResult<Metadata> {
        Ok(match tree().find(path)? {
            FixedNode::Dir(dir) => self.inner.dir_metadata(dir),
            FixedNode::File(file) => self.inner.metadata(*file.value(), file.id()),
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
        "logsfs"
    }
}

/// A handle on one log file; writes append.
struct LogHandle {
    inner: Arc<Inner>,
    stream: LogStream,
    id: u64,
    pos: u64,
    read: bool,
    write: bool,
}

impl LogHandle {
    fn path(&self) -> &'static str {
        self.stream.path()
    }

    fn read_from(&self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        if !self.read {
            return Err(FsError::bad_handle(self.path(), "not opened for reading"));
        }
        let state = lock(&self.inner.stream(self.stream).state);
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|o| state.data.get(o..))
            .unwrap_or_default();
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    /// Appends one write; returns the size of the file afterwards.
    fn append(&self, buf: &[u8]) -> FsResult<u64> {
        if !self.write {
            return Err(FsError::bad_handle(self.path(), "not opened for writing"));
        }
        if self.stream != LogStream::Events {
            return Ok(self.inner.append(self.stream, buf));
        }
        let events = parse_agent_lines(buf).map_err(|what| {
            FsError::invalid_input(
                self.path(),
                format!(
                    "{what}; nothing from this write was logged (each line must be a JSON \
                     object with `level` and `message`, and may have `timestamp` and `data`)"
                ),
            )
        })?;
        let mut lines = Vec::with_capacity(buf.len() + 64 * events.len());
        push_lines(&mut lines, &events);
        Ok(self.inner.append(LogStream::Events, &lines))
    }
}

impl FileHandle for LogHandle {
    fn read(&mut self, buf: &mut [u8]) -> FsResult<usize> {
        let n = self.read_from(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> FsResult<usize> {
        self.pos = self.append(buf)?;
        Ok(buf.len())
    }

    fn seek(&mut self, pos: SeekFrom) -> FsResult<u64> {
        let len = lock(&self.inner.stream(self.stream).state).data.len() as u64;
        self.pos = seek_position(self.path(), pos, self.pos, len)?;
        Ok(self.pos)
    }

    fn stat(&self) -> FsResult<Metadata> {
        Ok(self.inner.metadata(self.stream, self.id))
    }

    fn set_len(&mut self, _len: u64) -> FsResult<()> {
        if !self.write {
            return Err(FsError::bad_handle(self.path(), "not opened for writing"));
        }
        Err(FsError::permission_denied(
            self.path(),
            "the logs are append-only and cannot be truncated",
        ))
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> FsResult<usize> {
        self.read_from(buf, offset)
    }

    fn write_at(&mut self, buf: &[u8], _offset: u64) -> FsResult<usize> {
        self.append(buf)?;
        Ok(buf.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(data: &str) -> String {
        parse_agent_lines(data.as_bytes()).unwrap_err()
    }

    #[test]
    fn agent_lines_are_parsed_with_defaults() {
        let events = parse_agent_lines(
            b"{\"level\":\"info\",\"message\":\"a\"}\r\n\n  \n{\"timestamp\":7,\"level\":\"error\",\"message\":\"b\",\"data\":[1]}",
        )
        .unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].source, EventSource::Agent);
        assert_eq!(events[1].timestamp, Timestamp(7));
        assert_eq!(events[1].data, Some(serde_json::json!([1])));
    }

    #[test]
    fn malformed_lines_are_named_with_what_is_wrong() {
        let ok = r#"{"level":"info","message":"fine"}"#;
        let cases = [
            (
                format!("{ok}\nnot json"),
                "line 2 of this write: expected a JSON object",
            ),
            (
                format!("{ok}\n{{\"level\":\"info\"}}"),
                "line 2 of this write: missing field `message`",
            ),
            (
                r#"{"level":"loud","message":"x"}"#.to_owned(),
                "line 1 of this write: unknown variant `loud`",
            ),
            (
                r#"{"level":"info","message":"x","source":"host"}"#.to_owned(),
                "unknown field `source`",
            ),
            (
                r#"{"level":"info","message":3}"#.to_owned(),
                "invalid type: integer `3`, expected a string",
            ),
            (
                r#"{"level":"info","message":"x""#.to_owned(),
                "EOF while parsing an object (at column",
            ),
            (
                r#"{"level":"info","message":"x","timestamp":-1}"#.to_owned(),
                "invalid value: integer `-1`",
            ),
        ];
        for (input, expected) in cases {
            let e = error_of(&input);
            assert!(e.contains(expected), "{input:?}: {e}");
        }
        let e = parse_agent_lines(b"{\"level\":\"info\",\"message\":\"\xff\"}").unwrap_err();
        assert!(e.contains("line 1 of this write: not valid UTF-8"), "{e}");
    }

    #[test]
    fn stored_events_round_trip() {
        let events = vec![
            LogEvent::new(LogLevel::Info, "one"),
            LogEvent::with_data(LogLevel::Debug, "two", serde_json::json!({"k": "v"})),
        ];
        let mut out = Vec::new();
        push_lines(&mut out, &events);
        assert_eq!(stored_events(&out).collect::<Vec<_>>(), events);
    }

    #[test]
    fn the_tree_parses_each_file_into_its_stream() {
        for s in LogStream::ALL {
            match tree().lookup(s.path()) {
                Ok(FixedNode::File(f)) => assert_eq!(*f.value(), s),
                other => panic!("{} is {other:?}", s.path()),
            }
            assert_eq!(LogStream::ALL[s.index()], s);
        }
        assert_eq!(
            tree()
                .lookup("/stdout.log/x")
                .map(|_| ())
                .map_err(|e| e.kind()),
            Err(oanix_vfs::FsErrorKind::NotADirectory)
        );
        let strict = LogStream::ALL
            .iter()
            .fold(FixedTree::builder(), |b, &s| {
                b.file(s.path(), s, Access::Writable)
            })
            .try_build();
        assert_eq!(strict.map(|t| t.len()).ok(), Some(4));
    }
}
