//! What a run is given ([`RunConfig`], [`Stdin`]) and what it gives back
//! ([`RunResult`], [`Trap`], [`TrapKind`]).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Where a guest's standard input comes from.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Stdin {
    /// Nothing: the first read answers end of file.
    #[default]
    Empty,
    /// These bytes.
    Bytes(Arc<[u8]>),
    /// A file of the namespace, opened for reading when the run starts and
    /// read live (a capability file or a log being written works too).
    File(String),
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("Empty"),
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

/// The default of [`RunConfig::max_descriptors`].
pub const DEFAULT_MAX_DESCRIPTORS: usize = 1024;
/// The default of [`RunConfig::max_io_bytes`].
pub const DEFAULT_MAX_IO_BYTES: usize = 16 << 20;

/// How to run one guest: its arguments and environment, its standard input,
/// the directories it is given and its limits.
///
/// Nothing from the host leaks in: the guest sees the arguments and
/// variables set here and no others. The defaults are those of an untrusted
/// guest: a 30-second wall-clock limit, 256 MiB of linear memory, 1 MiB of
/// captured stdout and of stderr, 1,024 descriptors, 16 MiB moved per I/O
/// call, the namespace root preopened as `/`.
///
/// ```
/// use std::time::Duration;
/// use oanix_wasi::RunConfig;
///
/// let config = RunConfig::new()
///     .arg0("agent.wasm")
///     .args(["--fast", "input.txt"])
///     .env("LANG", "C")
///     .stdin_bytes("hello")
///     .timeout(Duration::from_secs(5))
///     .fuel(10_000_000)
///     .memory_limit(64 << 20);
/// assert_eq!(config.argv(), ["agent.wasm", "--fast", "input.txt"]);
/// ```
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub(crate) arg0: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) stdin: Stdin,
    pub(crate) timeout: Option<Duration>,
    pub(crate) fuel: Option<u64>,
    pub(crate) memory_limit: usize,
    pub(crate) table_limit: usize,
    pub(crate) stdout_limit: usize,
    pub(crate) stderr_limit: usize,
    pub(crate) max_descriptors: usize,
    pub(crate) max_io_bytes: usize,
    pub(crate) preopens: Vec<(String, String)>,
    pub(crate) live_logs: bool,
    pub(crate) stop: Option<Arc<AtomicBool>>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            arg0: "main.wasm".to_owned(),
            args: Vec::new(),
            env: Vec::new(),
            stdin: Stdin::Empty,
            timeout: Some(Duration::from_secs(30)),
            fuel: None,
            memory_limit: 256 << 20,
            table_limit: 100_000,
            stdout_limit: 1 << 20,
            stderr_limit: 1 << 20,
            max_descriptors: DEFAULT_MAX_DESCRIPTORS,
            max_io_bytes: DEFAULT_MAX_IO_BYTES,
            preopens: vec![("/".to_owned(), "/".to_owned())],
            live_logs: true,
            stop: None,
        }
    }
}

impl RunConfig {
    /// The defaults (see the type's docs).
    pub fn new() -> Self {
        Self::default()
    }

    /// The program name the guest sees as `argv[0]` (default `main.wasm`).
    #[must_use]
    pub fn arg0(mut self, name: impl Into<String>) -> Self {
        self.arg0 = name.into();
        self
    }

    /// Appends one argument.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    #[must_use]
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (the last setting of a name wins).
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.env.retain(|(k, _)| *k != key);
        self.env.push((key, value.into()));
        self
    }

    /// Standard input from bytes.
    #[must_use]
    pub fn stdin_bytes(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.stdin = Stdin::Bytes(Arc::from(bytes.as_ref()));
        self
    }

    /// Standard input from a file of the namespace.
    #[must_use]
    pub fn stdin_file(mut self, path: impl Into<String>) -> Self {
        self.stdin = Stdin::File(path.into());
        self
    }

    /// Standard input, in general.
    #[must_use]
    pub fn stdin(mut self, stdin: Stdin) -> Self {
        self.stdin = stdin;
        self
    }

    /// The wall-clock limit: the guest is stopped when it is reached, and a
    /// blocking file call it made ends then too.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// A flag that stops the run when it is set (by another thread): the
    /// guest's code is interrupted at the runtime's next epoch tick and the
    /// run ends with [`TrapKind::Cancelled`]. A host call the guest is
    /// blocked in is not interrupted by it (the timeout still ends one).
    #[must_use]
    pub fn stop_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.stop = Some(flag);
        self
    }

    /// No wall-clock limit (for trusted guests only).
    #[must_use]
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// A fuel budget: the guest is stopped once it has executed about this
    /// many WebAssembly instructions. Needs a runtime with fuel metering (the
    /// default).
    #[must_use]
    pub fn fuel(mut self, fuel: u64) -> Self {
        self.fuel = Some(fuel);
        self
    }

    /// The largest linear memory the guest may have, in bytes; growth past
    /// it fails (and a run that then traps is reported as
    /// [`TrapKind::MemoryLimit`]). Capped by the runtime's own maximum.
    #[must_use]
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    /// The largest number of elements a table of the guest may have.
    #[must_use]
    pub fn table_limit(mut self, elements: usize) -> Self {
        self.table_limit = elements;
        self
    }

    /// How many bytes of stdout are kept in [`RunResult::stdout`]; the rest
    /// is dropped (the guest's writes still succeed).
    #[must_use]
    pub fn stdout_limit(mut self, bytes: usize) -> Self {
        self.stdout_limit = bytes;
        self
    }

    /// How many bytes of stderr are kept in [`RunResult::stderr`].
    #[must_use]
    pub fn stderr_limit(mut self, bytes: usize) -> Self {
        self.stderr_limit = bytes;
        self
    }

    /// The most descriptors the guest may have open at once, the standard
    /// streams and preopens included (default 1,024): one more open fails
    /// with `EMFILE`. (Real host descriptors are also bounded across every
    /// guest of the process, by the workspace's budget: `ENFILE`.)
    #[must_use]
    pub fn max_descriptors(mut self, n: usize) -> Self {
        self.max_descriptors = n;
        self
    }

    /// The most bytes one `fd_read`, `fd_pread`, `fd_write` or `fd_pwrite`
    /// moves (default 16 MiB). A call asking for more moves this much and
    /// reports it, a short read or write that POSIX allows and libc loops
    /// on; a list of buffers is gathered into one host buffer of at most
    /// this size, so that a capability file still gets one message per call.
    #[must_use]
    pub fn max_io_bytes(mut self, bytes: usize) -> Self {
        self.max_io_bytes = bytes.max(1);
        self
    }

    /// Also preopens the namespace directory `ns_path` under the name
    /// `guest_name` (the namespace root is preopened as `/` by default).
    #[must_use]
    pub fn preopen(mut self, guest_name: impl Into<String>, ns_path: impl Into<String>) -> Self {
        self.preopens.push((guest_name.into(), ns_path.into()));
        self
    }

    /// Removes every preopen, the default root included.
    #[must_use]
    pub fn clear_preopens(mut self) -> Self {
        self.preopens.clear();
        self
    }

    /// Whether stdout and stderr are also appended, as they are written, to
    /// `/logs/stdout.log` and `/logs/stderr.log` when a LogsFs is mounted at
    /// `/logs` (default: yes).
    #[must_use]
    pub fn live_logs(mut self, on: bool) -> Self {
        self.live_logs = on;
        self
    }

    /// The wall-clock limit (`None`: none).
    pub fn timeout_value(&self) -> Option<Duration> {
        self.timeout
    }

    /// The linear memory limit, in bytes.
    pub fn memory_limit_value(&self) -> usize {
        self.memory_limit
    }

    /// The guest's `argv`: the program name, then the arguments.
    pub fn argv(&self) -> Vec<&str> {
        std::iter::once(self.arg0.as_str())
            .chain(self.args.iter().map(String::as_str))
            .collect()
    }
}

/// Why a run was stopped before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TrapKind {
    /// The wall-clock limit was reached.
    Timeout,
    /// The fuel budget was used up.
    OutOfFuel,
    /// The guest needed more memory (or table space) than it was allowed.
    MemoryLimit,
    /// The guest's call stack exceeded the WebAssembly stack limit.
    StackOverflow,
    /// The run was stopped through its [`RunConfig::stop_flag`].
    Cancelled,
    /// Any other trap: `unreachable` (a Rust panic with `abort`), an
    /// out-of-bounds access, a division by zero...
    Guest,
}

impl fmt::Display for TrapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Timeout => "timeout",
            Self::OutOfFuel => "out of fuel",
            Self::MemoryLimit => "memory limit",
            Self::StackOverflow => "stack overflow",
            Self::Cancelled => "cancelled",
            Self::Guest => "guest trap",
        })
    }
}

/// A trap that ended a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    /// What kind of trap.
    pub kind: TrapKind,
    /// The runtime's description, with the guest's backtrace when known.
    pub message: String,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.message)
    }
}

/// What a run gives back.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RunResult {
    /// The guest's exit code (`proc_exit`, or 0 when `_start` returned);
    /// `None` when a trap ended the run.
    pub exit_code: Option<u32>,
    /// The trap that ended the run, if one did.
    pub trap: Option<Trap>,
    /// What the guest wrote to stdout (at most the configured limit).
    pub stdout: Vec<u8>,
    /// What the guest wrote to stderr (at most the configured limit).
    pub stderr: Vec<u8>,
    /// Whether stdout went past its limit (the excess was dropped).
    pub stdout_truncated: bool,
    /// Whether stderr went past its limit.
    pub stderr_truncated: bool,
    /// How long the run took, instantiation included.
    pub duration: Duration,
    /// The fuel consumed, when a budget was set.
    pub fuel_consumed: Option<u64>,
}

impl RunResult {
    /// Whether the guest ended by itself with exit code 0.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// The stdout as text (invalid UTF-8 replaced).
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// The stderr as text (invalid UTF-8 replaced).
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// The exit status a process running this guest would have: the exit
    /// code (its low 8 bits), or 134 after a trap, as for an aborted process.
    pub fn process_exit_code(&self) -> i32 {
        match self.exit_code {
            Some(code) => i32::from((code & 0xff) as u8),
            None => 134,
        }
    }
}
