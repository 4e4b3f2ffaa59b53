//! The host side of a run: the state a guest's calls work on (descriptor
//! table, arguments, environment, standard streams) and the
//! `wasi_snapshot_preview1` imports over it.

pub(crate) mod abi;
mod call;
mod errno;
mod fdtable;
mod imports;
mod poll;

use std::sync::OnceLock;
use std::time::Instant;

use oanix_vfs::{FileHandle, FileService, FsError, Namespace, OpenFlags};
use wasmtime::Memory;

use crate::config::{RunConfig, Stdin};
use crate::limits::Limiter;

pub(crate) use fdtable::FdTable;
pub(crate) use imports::add_to_linker;

/// A trap raised by a host call: the guest asked to exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit(pub(crate) u32);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit with code {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// A trap raised by a host call: the run's deadline passed while the guest
/// was in (or entering) a host call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DeadlineReached;

impl std::fmt::Display for DeadlineReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the run's deadline passed during a host call")
    }
}

impl std::error::Error for DeadlineReached {}

/// The point monotonic clocks count from, shared by every run of the process.
pub(crate) fn monotonic_anchor() -> Instant {
    static ANCHOR: OnceLock<Instant> = OnceLock::new();
    *ANCHOR.get_or_init(Instant::now)
}

/// Captured output of one standard stream: bounded in memory, and copied as
/// it comes to a live log file when one is open.
pub(crate) struct OutStream {
    pub(crate) data: Vec<u8>,
    limit: usize,
    pub(crate) truncated: bool,
    live: Option<Box<dyn FileHandle>>,
}

impl OutStream {
    fn new(limit: usize, live: Option<Box<dyn FileHandle>>) -> Self {
        Self {
            data: Vec::new(),
            limit,
            truncated: false,
            live,
        }
    }

    /// Takes `bytes`: keeps what fits, copies all of it to the live log.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let room = self.limit.saturating_sub(self.data.len());
        if bytes.len() > room {
            self.truncated = true;
        }
        self.data.extend_from_slice(&bytes[..bytes.len().min(room)]);
        if let Some(live) = &mut self.live {
            // The log is a copy for observers; the guest's write has
            // succeeded whatever it does (LogsFs bounds itself).
            if live.write(bytes).is_err() {
                self.live = None;
            }
        }
    }
}

/// Where stdin reads come from.
pub(crate) enum StdinSource {
    Empty,
    Bytes {
        data: std::sync::Arc<[u8]>,
        pos: usize,
    },
    Handle(Box<dyn FileHandle>),
}

impl StdinSource {
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> Result<usize, FsError> {
        match self {
            Self::Empty => Ok(0),
            Self::Bytes { data, pos } => {
                let rest = data.get(*pos..).unwrap_or_default();
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
            Self::Handle(h) => h.read(buf),
        }
    }

    /// How many bytes a read would find at once, when known.
    pub(crate) fn ready_bytes(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Bytes { data, pos } => data.len().saturating_sub(*pos) as u64,
            Self::Handle(h) => h.stat().map(|m| m.size).unwrap_or(0),
        }
    }
}

/// The store data of one run.
pub(crate) struct Host {
    pub(crate) ns: Namespace,
    pub(crate) fds: FdTable,
    /// `argv`, each NUL-terminated.
    pub(crate) args: Vec<Vec<u8>>,
    /// `KEY=VALUE`, each NUL-terminated.
    pub(crate) env: Vec<Vec<u8>>,
    pub(crate) stdin: StdinSource,
    pub(crate) stdout: OutStream,
    pub(crate) stderr: OutStream,
    pub(crate) memory: Option<Memory>,
    pub(crate) limiter: Limiter,
    pub(crate) deadline: Option<Instant>,
    pub(crate) started: Instant,
    /// The most bytes one read or write call moves.
    pub(crate) max_io: usize,
}

/// Why a run could not be set up.
#[derive(Debug)]
pub(crate) enum SetupError {
    Stdin(String, FsError),
    Preopen(String, FsError),
}

impl Host {
    /// The state for a run of `config` in `ns`.
    pub(crate) fn new(
        ns: &Namespace,
        config: &RunConfig,
        max_memory: usize,
    ) -> Result<Self, SetupError> {
        let nul = |s: &str| {
            let mut v = Vec::with_capacity(s.len() + 1);
            v.extend_from_slice(s.as_bytes());
            v.push(0);
            v
        };
        let args = config.argv().into_iter().map(nul).collect();
        let env = config
            .env
            .iter()
            .map(|(k, v)| nul(&format!("{k}={v}")))
            .collect();
        let stdin = match &config.stdin {
            Stdin::Empty => StdinSource::Empty,
            Stdin::Bytes(data) => StdinSource::Bytes {
                data: data.clone(),
                pos: 0,
            },
            Stdin::File(path) => StdinSource::Handle(
                ns.open(path, OpenFlags::read_only())
                    .map_err(|e| SetupError::Stdin(path.clone(), e))?,
            ),
        };
        let (out_live, err_live) = if config.live_logs {
            (
                live_log(ns, "/logs/stdout.log"),
                live_log(ns, "/logs/stderr.log"),
            )
        } else {
            (None, None)
        };
        let mut fds = FdTable::with_stdio(config.max_descriptors);
        for (guest, ns_path) in &config.preopens {
            fds.preopen(ns, guest, ns_path)
                .map_err(|e| SetupError::Preopen(ns_path.clone(), e))?;
        }
        Ok(Self {
            ns: ns.clone(),
            fds,
            args,
            env,
            stdin,
            stdout: OutStream::new(config.stdout_limit, out_live),
            stderr: OutStream::new(config.stderr_limit, err_live),
            memory: None,
            limiter: Limiter::new(config.memory_limit.min(max_memory), config.table_limit),
            // A timeout too large to add to the clock is no timeout at all.
            deadline: config.timeout.and_then(|t| Instant::now().checked_add(t)),
            started: Instant::now(),
            max_io: config.max_io_bytes,
        })
    }
}

/// The log file at `path` opened for appending, when `/logs` is a LogsFs.
fn live_log(ns: &Namespace, path: &str) -> Option<Box<dyn FileHandle>> {
    let (service, inner) = ns.resolve("/logs")?;
    if inner != "/" || service.fs_type() != "logsfs" {
        return None;
    }
    ns.open(path, OpenFlags::append_create()).ok()
}
