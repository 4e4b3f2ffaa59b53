//! What a sandbox is made of: its builder, limits and identity, the command it runs and the
//! outcome it reports. Plain data, validated once by [`SandboxBuilder::build`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Result, SandboxError};

/// Host paths that hold the tools most programs need, bound read-only by
/// [`SandboxBuilder::tool_paths`] where they exist.
///
/// `/bin`, `/lib`, `/lib64` and `/sbin` are often symbolic links into `/usr` (a merged
/// `/usr`); a bind follows the link, so the sandbox sees a directory there.
pub const TOOL_PATHS: &[&str] = &[
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/alternatives",
    "/etc/ssl/certs",
];

/// The `PATH` a sandbox's command gets unless [`SandboxBuilder::env`] sets another.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The hostname inside the sandbox unless [`SandboxBuilder::hostname`] sets another.
pub const DEFAULT_HOSTNAME: &str = "sandbox";

/// The timeout unless [`SandboxBuilder::timeout`] or [`SandboxBuilder::no_timeout`] says
/// otherwise: ten minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The sandbox paths the sandbox mounts itself and no bind may use.
const RESERVED: &[&str] = &["proc", "dev"];

/// Who the sandbox's processes are, inside the sandbox and on the host.
///
/// The sandbox's user namespace maps exactly one user and one group: `uid`/`gid` inside are
/// `host_uid`/`host_gid` outside. Everything else appears inside as the overflow id (65534)
/// and cannot be become. Files the command creates in its root belong to `host_uid` on the
/// host, and the root must let that user in.
///
/// The default ([`Identity::for_caller`]) runs the command as uid and gid 1000 inside. On the
/// host it is the caller's own user, except when the caller is root: then it is `nobody`
/// (65534). A sandbox mapped to host root would hold no capability either, but the kernel
/// exempts host root from the process limit (`RLIMIT_NPROC`), so a fork bomb would be bounded
/// only by a cgroup, and files the command could reach would be root's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// The user id inside the sandbox.
    pub uid: u32,
    /// The group id inside the sandbox.
    pub gid: u32,
    /// The host user id the sandbox's user is.
    pub host_uid: u32,
    /// The host group id the sandbox's group is.
    pub host_gid: u32,
}

impl Identity {
    /// The user and group id inside the sandbox by default.
    pub const SANDBOX_ID: u32 = 1000;
    /// The host's `nobody` user and `nogroup` group, the default host identity for a caller
    /// that is root.
    pub const NOBODY: u32 = 65534;

    /// The default identity for the calling process (see the type's documentation).
    pub fn for_caller() -> Self {
        let (uid, gid) = caller_ids();
        let (host_uid, host_gid) = if uid == 0 {
            (Self::NOBODY, Self::NOBODY)
        } else {
            (uid, gid)
        };
        Self {
            uid: Self::SANDBOX_ID,
            gid: Self::SANDBOX_ID,
            host_uid,
            host_gid,
        }
    }

    /// The sandbox's ids (1000 inside by default) as the given host user and group.
    pub fn host(host_uid: u32, host_gid: u32) -> Self {
        Self {
            uid: Self::SANDBOX_ID,
            gid: Self::SANDBOX_ID,
            host_uid,
            host_gid,
        }
    }
}

/// The calling process's effective user and group ids.
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
fn caller_ids() -> (u32, u32) {
    crate::sys::effective_ids()
}

/// The calling process's effective user and group ids (unknown where the sandbox does not
/// run: `nobody`).
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
fn caller_ids() -> (u32, u32) {
    (Identity::NOBODY, Identity::NOBODY)
}

/// Resource limits of a sandbox's command and everything it starts.
///
/// The rlimits always apply (the kernel counts them per process, except `processes`, counted
/// for the sandbox's user in its own user namespace, which makes it a bound on the whole
/// sandbox). The cgroup limits apply when a delegated cgroup v2 subtree is available; where
/// none is, they are skipped with a note in the [`Outcome`].
///
/// ```
/// use oanix_sandbox::Limits;
/// let limits = Limits { processes: 64, ..Limits::default() };
/// assert_eq!(limits.open_files, 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Virtual address space of each process, in bytes (`RLIMIT_AS`). Default 8 GiB: some
    /// runtimes reserve far more than they use.
    pub address_space: u64,
    /// Processes (and threads) of the sandbox's user, init included (`RLIMIT_NPROC`).
    /// Default 512.
    pub processes: u64,
    /// CPU time of each process, rounded up to whole seconds (`RLIMIT_CPU`). Default ten
    /// minutes.
    pub cpu_time: Duration,
    /// Largest file a process may write, in bytes (`RLIMIT_FSIZE`). Default 4 GiB.
    pub file_size: u64,
    /// Open file descriptors of each process (`RLIMIT_NOFILE`); at least 3. Default 1024.
    pub open_files: u64,
    /// Limits for the whole tree through cgroup v2, where available.
    pub cgroup: CgroupLimits,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            address_space: 8 << 30,
            processes: 512,
            cpu_time: Duration::from_secs(600),
            file_size: 4 << 30,
            open_files: 1024,
            cgroup: CgroupLimits::default(),
        }
    }
}

/// Limits on the whole process tree through a cgroup v2 leaf the sandbox creates for each
/// run. `None` leaves that controller alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupLimits {
    /// `memory.max` in bytes. Default 4 GiB.
    pub memory: Option<u64>,
    /// `pids.max`. Default 512.
    pub pids: Option<u64>,
    /// CPU bandwidth in thousandths of one CPU (`cpu.max`; 1000 is one whole CPU). Default
    /// none.
    pub cpu_millis: Option<u32>,
}

impl Default for CgroupLimits {
    fn default() -> Self {
        Self {
            memory: Some(4 << 30),
            pids: Some(512),
            cpu_millis: None,
        }
    }
}

impl CgroupLimits {
    /// No cgroup limits at all (nothing is created, nothing is noted).
    pub fn none() -> Self {
        Self {
            memory: None,
            pids: None,
            cpu_millis: None,
        }
    }

    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        self.memory.is_some() || self.pids.is_some() || self.cpu_millis.is_some()
    }
}

/// A host path bound read-only into the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bind {
    /// The host path (symbolic links in it are followed).
    pub(crate) host: PathBuf,
    /// The sandbox path, canonical (`/a/b`).
    pub(crate) sandbox: String,
    /// Whether a missing host path is an error (else the bind is skipped).
    pub(crate) required: bool,
}

/// Builds a [`Sandbox`]; every problem is reported by [`build`](Self::build).
///
/// ```no_run
/// use oanix_sandbox::{Command, Sandbox};
/// let sandbox = Sandbox::builder()
///     .root("/srv/agent-root")
///     .tool_paths()
///     .env("HOME", "/workspace")
///     .cwd("/workspace")
///     .build()?;
/// let outcome = sandbox.run(Command::new("sh").arg("-c").arg("echo hi").stdout(std::io::stdout()))?;
/// assert!(outcome.exit.is_success());
/// # Ok::<(), oanix_sandbox::SandboxError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    root: Option<PathBuf>,
    binds: Vec<(PathBuf, String, bool)>,
    env: BTreeMap<OsString, Option<OsString>>,
    cwd: String,
    hostname: String,
    identity: Option<Identity>,
    limits: Limits,
    timeout: Option<Duration>,
}

impl Default for SandboxBuilder {
    fn default() -> Self {
        Self {
            root: None,
            binds: Vec::new(),
            env: BTreeMap::new(),
            cwd: "/".to_owned(),
            hostname: DEFAULT_HOSTNAME.to_owned(),
            identity: None,
            limits: Limits::default(),
            timeout: Some(DEFAULT_TIMEOUT),
        }
    }
}

impl SandboxBuilder {
    /// The host directory that becomes the sandbox's `/` (required). It is used as it is:
    /// the sandbox's own mount points (`/proc`, `/dev`, each bind's target) are created in it
    /// where missing, so a root that cannot be written must already hold them.
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = Some(dir.into());
        self
    }

    /// Binds `host_path` read-only at the same path inside; a missing host path is an error.
    pub fn ro_bind(self, host_path: impl Into<PathBuf>) -> Self {
        let host = host_path.into();
        let inside = host.to_string_lossy().into_owned();
        self.push_bind(host, inside, true)
    }

    /// Binds `host_path` read-only at the same path inside if it exists.
    pub fn ro_bind_if_exists(self, host_path: impl Into<PathBuf>) -> Self {
        let host = host_path.into();
        let inside = host.to_string_lossy().into_owned();
        self.push_bind(host, inside, false)
    }

    /// Binds `host_path` read-only at `sandbox_path`; a missing host path is an error.
    pub fn ro_bind_to(self, host_path: impl Into<PathBuf>, sandbox_path: &str) -> Self {
        self.push_bind(host_path.into(), sandbox_path.to_owned(), true)
    }

    /// Binds each of [`TOOL_PATHS`] that exists on the host, read-only.
    pub fn tool_paths(self) -> Self {
        TOOL_PATHS
            .iter()
            .fold(self, |builder, path| builder.ro_bind_if_exists(path))
    }

    fn push_bind(mut self, host: PathBuf, inside: String, required: bool) -> Self {
        self.binds.push((host, inside, required));
        self
    }

    /// Sets an environment variable of the command. The environment starts empty but for
    /// `PATH` ([`DEFAULT_PATH`]); nothing of the caller's is passed.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.insert(key.into(), Some(value.into()));
        self
    }

    /// Removes an environment variable (`PATH` included).
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.insert(key.into(), None);
        self
    }

    /// The command's working directory, a sandbox path (default `/`).
    pub fn cwd(mut self, path: &str) -> Self {
        path.clone_into(&mut self.cwd);
        self
    }

    /// The hostname inside the sandbox (default [`DEFAULT_HOSTNAME`]).
    pub fn hostname(mut self, name: &str) -> Self {
        name.clone_into(&mut self.hostname);
        self
    }

    /// Who the sandbox's processes are (default [`Identity::for_caller`]).
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The resource limits (default [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Kills the whole process tree once a run has taken this long (default
    /// [`DEFAULT_TIMEOUT`]); the outcome is then [`Exit::TimedOut`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Lets a run take as long as it takes.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Checks everything and makes the sandbox.
    ///
    /// # Errors
    ///
    /// [`SandboxError::InvalidConfig`] for a malformed path, variable, hostname or limit;
    /// [`SandboxError::Root`] when the root is missing or not a directory;
    /// [`SandboxError::SystemPathMissing`] for a required bind whose host path does not exist;
    /// [`SandboxError::Unsupported`] off Linux or on a CPU the system call filter does not
    /// know.
    pub fn build(self) -> Result<Sandbox> {
        check_platform()?;
        let root = self
            .root
            .ok_or_else(|| SandboxError::InvalidConfig("no root directory was given".into()))?;
        check_host_path(&root, "the root")?;
        match std::fs::metadata(&root) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(SandboxError::Root {
                    path: root,
                    reason: "not a directory".into(),
                });
            }
            Err(error) => {
                return Err(SandboxError::Root {
                    path: root,
                    reason: crate::error::describe_io(&error),
                });
            }
        }
        let mut binds: Vec<Bind> = Vec::new();
        for (host, inside, required) in self.binds {
            check_host_path(&host, "a bind's host path")?;
            let sandbox = sandbox_path(&inside)?;
            let first = sandbox.trim_start_matches('/').split('/').next();
            if sandbox == "/" || first.is_some_and(|name| RESERVED.contains(&name)) {
                return Err(SandboxError::InvalidConfig(format!(
                    "cannot bind at {sandbox}: the sandbox mounts /, /proc and /dev itself"
                )));
            }
            if binds.iter().any(|bind| bind.sandbox == sandbox) {
                return Err(SandboxError::InvalidConfig(format!(
                    "two binds at {sandbox}"
                )));
            }
            match std::fs::metadata(&host) {
                Ok(_) => binds.push(Bind {
                    host,
                    sandbox,
                    required,
                }),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                    if required {
                        return Err(SandboxError::SystemPathMissing { path: host });
                    }
                }
                Err(error) => {
                    return Err(SandboxError::InvalidConfig(format!(
                        "system path {}: {}",
                        host.display(),
                        crate::error::describe_io(&error)
                    )));
                }
            }
        }
        // Parents before children, so that a bind inside another lands on top of it.
        binds.sort_by_key(|bind| bind.sandbox.matches('/').count());
        let mut env: BTreeMap<OsString, OsString> = BTreeMap::new();
        env.insert("PATH".into(), DEFAULT_PATH.into());
        for (key, value) in self.env {
            check_env(&key, value.as_ref())?;
            match value {
                Some(value) => env.insert(key, value),
                None => env.remove(&key),
            };
        }
        let cwd = sandbox_path(&self.cwd)?;
        if self.hostname.is_empty() || self.hostname.len() > 64 || self.hostname.contains('\0') {
            return Err(SandboxError::InvalidConfig(format!(
                "hostname {:?} must have 1 to 64 bytes and no NUL",
                self.hostname
            )));
        }
        check_limits(&self.limits)?;
        if self.timeout == Some(Duration::ZERO) {
            return Err(SandboxError::InvalidConfig(
                "the timeout must be longer than zero".into(),
            ));
        }
        Ok(Sandbox {
            root,
            binds,
            env: env.into_iter().collect(),
            cwd,
            hostname: self.hostname,
            identity: self.identity.unwrap_or_else(Identity::for_caller),
            limits: self.limits,
            timeout: self.timeout,
        })
    }
}

/// Refuses platforms the sandbox cannot run on, before anything else is checked.
fn check_platform() -> Result<()> {
    if cfg!(not(target_os = "linux")) {
        return Err(SandboxError::Unsupported(
            "oanix-sandbox runs only on Linux".into(),
        ));
    }
    if cfg!(not(any(target_arch = "x86_64", target_arch = "aarch64"))) {
        return Err(SandboxError::Unsupported(format!(
            "the system call filter knows x86_64 and aarch64, not {}",
            std::env::consts::ARCH
        )));
    }
    Ok(())
}

/// A host path must be absolute and free of NUL bytes.
fn check_host_path(path: &Path, what: &str) -> Result<()> {
    if !path.is_absolute() {
        return Err(SandboxError::InvalidConfig(format!(
            "{what} {} is not an absolute path",
            path.display()
        )));
    }
    if path.to_string_lossy().contains('\0') {
        return Err(SandboxError::InvalidConfig(format!(
            "{what} {} contains a NUL byte",
            path.display()
        )));
    }
    Ok(())
}

/// Canonicalises a sandbox path: absolute, no `..`, no NUL; `.` and empty components dropped.
pub(crate) fn sandbox_path(text: &str) -> Result<String> {
    if !text.starts_with('/') {
        return Err(SandboxError::InvalidConfig(format!(
            "sandbox path {text:?} is not absolute"
        )));
    }
    if text.contains('\0') {
        return Err(SandboxError::InvalidConfig(format!(
            "sandbox path {text:?} contains a NUL byte"
        )));
    }
    let mut out = String::new();
    for part in text.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(SandboxError::InvalidConfig(format!(
                    "sandbox path {text:?} contains `..`"
                )));
            }
            name => {
                out.push('/');
                out.push_str(name);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// An environment variable's name must be non-empty without `=` or NUL; its value without NUL.
fn check_env(key: &OsString, value: Option<&OsString>) -> Result<()> {
    let name = key.to_string_lossy();
    if name.is_empty() || name.contains('=') || name.contains('\0') {
        return Err(SandboxError::InvalidConfig(format!(
            "environment variable name {name:?} must be non-empty without `=` or NUL"
        )));
    }
    if value.is_some_and(|value| value.to_string_lossy().contains('\0')) {
        return Err(SandboxError::InvalidConfig(format!(
            "environment variable {name} has a NUL byte in its value"
        )));
    }
    Ok(())
}

/// Limits that would stop every command from starting are refused.
fn check_limits(limits: &Limits) -> Result<()> {
    let problem = if limits.open_files < 3 {
        Some("open_files must be at least 3 (for stdin, stdout and stderr)")
    } else if limits.processes == 0 {
        Some("processes must be at least 1")
    } else if limits.address_space < 1 << 20 {
        Some("address_space must be at least 1 MiB")
    } else if limits.cpu_time.is_zero() {
        Some("cpu_time must be longer than zero")
    } else if limits.cgroup.pids == Some(0) {
        Some("cgroup.pids must be at least 1")
    } else if limits.cgroup.cpu_millis == Some(0) {
        Some("cgroup.cpu_millis must be at least 1")
    } else {
        None
    };
    match problem {
        Some(text) => Err(SandboxError::InvalidConfig(text.into())),
        None => Ok(()),
    }
}

/// A validated sandbox: a root, read-only binds, an environment, limits and a timeout.
/// [`run`](Sandbox::run) starts a command in a fresh set of namespaces each time; nothing
/// of one run survives into the next but what the command wrote into its root.
#[derive(Debug, Clone)]
pub struct Sandbox {
    pub(crate) root: PathBuf,
    pub(crate) binds: Vec<Bind>,
    pub(crate) env: Vec<(OsString, OsString)>,
    pub(crate) cwd: String,
    pub(crate) hostname: String,
    pub(crate) identity: Identity,
    pub(crate) limits: Limits,
    pub(crate) timeout: Option<Duration>,
}

impl Sandbox {
    /// Starts a [`SandboxBuilder`].
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder::default()
    }

    /// The host directory that is the sandbox's root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The identity the sandbox's processes run as.
    pub fn identity(&self) -> Identity {
        self.identity
    }

    /// The `PATH` the command gets, if any.
    pub(crate) fn path_var(&self) -> Option<&OsString> {
        self.env
            .iter()
            .find(|(key, _)| key == "PATH")
            .map(|(_, value)| value)
    }
}

/// The program to run, its arguments, where its output goes, and the TCP ports the caller
/// serves on the sandbox's loopback.
///
/// Standard input is `/dev/null`. Standard output and error are streamed to the sinks while
/// the command runs, from two threads, each chunk written as it arrives and flushed.
pub struct Command {
    pub(crate) argv: Vec<OsString>,
    pub(crate) stdout: Box<dyn Write + Send>,
    pub(crate) stderr: Box<dyn Write + Send>,
    pub(crate) listeners: Vec<Listener>,
}

/// What serves a port of the sandbox's loopback: called once with the listening socket.
pub(crate) type Handler = Box<dyn FnOnce(TcpListener) + Send + 'static>;

/// A port the caller serves inside the sandbox, and its handler.
pub(crate) struct Listener {
    /// The port on the sandbox's `127.0.0.1`.
    pub(crate) port: u16,
    /// What gets the listening socket.
    pub(crate) handler: Handler,
}

/// Ports must be distinct and non-zero.
pub(crate) fn check_ports(ports: &[u16]) -> Result<()> {
    for (k, port) in ports.iter().enumerate() {
        if *port == 0 {
            return Err(SandboxError::InvalidConfig(
                "cannot listen on port 0 inside the sandbox: give a port from 1 to 65535".into(),
            ));
        }
        if ports.get(..k).is_some_and(|before| before.contains(port)) {
            return Err(SandboxError::InvalidConfig(format!(
                "port {port} is given to listen on twice"
            )));
        }
    }
    Ok(())
}

impl Command {
    /// A command running `program`: a path inside the sandbox, or a name looked up on the
    /// sandbox's `PATH`. Its output is discarded unless sinks are given.
    pub fn new(program: impl Into<OsString>) -> Self {
        Self {
            argv: vec![program.into()],
            stdout: Box::new(std::io::sink()),
            stderr: Box::new(std::io::sink()),
            listeners: Vec::new(),
        }
    }

    /// Adds an argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.argv.push(arg.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.argv.extend(args.into_iter().map(Into::into));
        self
    }

    /// Where standard output goes.
    pub fn stdout(mut self, sink: impl Write + Send + 'static) -> Self {
        self.stdout = Box::new(sink);
        self
    }

    /// Where standard error goes.
    pub fn stderr(mut self, sink: impl Write + Send + 'static) -> Self {
        self.stderr = Box::new(sink);
        self
    }

    /// Serves TCP `port` on the sandbox's own `127.0.0.1` with `handler`.
    ///
    /// Before the command starts, the sandbox's init binds `127.0.0.1:port` in the sandbox's
    /// network namespace, listens, and hands the socket to the caller, which calls `handler`
    /// with it on a thread of its own (one per port, so a handler that blocks stops no
    /// other). Since the socket listens before the command starts, a connection the command
    /// makes to `127.0.0.1:port` is queued on it even if the handler has not accepted yet.
    /// Any number of ports may be given, each once; privileged ports (below 1024) work too,
    /// since the sandbox's user namespace owns its network namespace. The command cannot
    /// take the port: it is bound (without `SO_REUSEPORT`) before the command exists.
    ///
    /// Connections come only from inside the sandbox: the port is on the sandbox's loopback,
    /// which nothing on the host's network reaches (the host's own `127.0.0.1` is another
    /// interface). Streams the handler accepts are in the sandbox's network namespace; what
    /// the handler connects to itself is in the caller's.
    ///
    /// The listener keeps the sandbox's network namespace alive as long as it is open, and
    /// once the run is over nothing can connect to it any more. So the handler should stop
    /// accepting and drop the listener when the run ends: the caller arranges it after
    /// [`Sandbox::run`] returns, whatever it returned (a handler may have been called for a
    /// run that then failed to start its command). When `run` returns, every handler has
    /// been called (its thread started) or dropped. One way with `std` alone to stop a
    /// handler is to shut down a clone of its listener, which makes a blocked `accept` fail:
    ///
    /// ```no_run
    /// use std::io::Write;
    /// use std::net::{Shutdown, TcpStream};
    /// use std::os::fd::OwnedFd;
    /// use std::sync::mpsc;
    /// use oanix_sandbox::{Command, Sandbox};
    ///
    /// let sandbox = Sandbox::builder().root("/srv/agent-root").tool_paths().build()?;
    /// let (clone_tx, clones) = mpsc::channel();
    /// let command = Command::new("python3")
    ///     .args(["-c", "import socket; print(socket.create_connection(('127.0.0.1', 80)).recv(9))"])
    ///     .listen(80, move |listener| {
    ///         // A clone for the caller, to stop this loop with.
    ///         if let Ok(clone) = listener.try_clone() {
    ///             let _ = clone_tx.send(clone);
    ///         }
    ///         drop(clone_tx);
    ///         // Ends when the caller shuts the listener down: `accept` fails then.
    ///         for stream in listener.incoming() {
    ///             let Ok(mut stream) = stream else { break };
    ///             let _ = stream.write_all(b"hello\n");
    ///         }
    ///     });
    /// let outcome = sandbox.run(command);
    /// // Every handler has been called or dropped: each clone is here.
    /// for clone in clones {
    ///     let _ = TcpStream::from(OwnedFd::from(clone)).shutdown(Shutdown::Both);
    /// }
    /// outcome?;
    /// # Ok::<(), oanix_sandbox::SandboxError>(())
    /// ```
    ///
    /// A port given twice, or port 0, makes [`Sandbox::run`] fail with
    /// [`SandboxError::InvalidConfig`]; a port the sandbox cannot listen on fails the run
    /// with [`SandboxError::Setup`] naming it. In either case, and whenever the sandbox
    /// fails before the socket is handed over, the handler is dropped without being called.
    pub fn listen(mut self, port: u16, handler: impl FnOnce(TcpListener) + Send + 'static) -> Self {
        self.listeners.push(Listener {
            port,
            handler: Box::new(handler),
        });
        self
    }

    /// The program and its arguments.
    pub fn argv(&self) -> &[OsString] {
        &self.argv
    }

    /// The ports the caller serves inside the sandbox, in the order given.
    fn ports(&self) -> Vec<u16> {
        self.listeners
            .iter()
            .map(|listener| listener.port)
            .collect()
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Command")
            .field("argv", &self.argv)
            .field("ports", &self.ports())
            .finish_non_exhaustive()
    }
}

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// It was killed by this signal (an rlimit's `SIGXCPU` or `SIGKILL` included).
    Signal(i32),
    /// The timeout ran out and the whole process tree was killed.
    TimedOut,
}

impl Exit {
    /// Whether the command exited with code 0.
    pub fn is_success(self) -> bool {
        self == Self::Code(0)
    }
}

/// What a run reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    /// How the command ended.
    pub exit: Exit,
    /// From the start of the run to the end of the last process in the sandbox.
    pub duration: Duration,
    /// Things the caller should know that did not stop the run: limits that could not be
    /// applied (cgroups on a host without a delegated cgroup v2 subtree), a sink that
    /// failed, a memory limit that was reached.
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_paths_are_canonical_or_refused() {
        let cases: &[(&str, Option<&str>)] = &[
            ("/", Some("/")),
            ("/usr", Some("/usr")),
            ("//usr//lib/", Some("/usr/lib")),
            ("/a/./b", Some("/a/b")),
            ("/a/../b", None),
            ("usr", None),
            ("", None),
            ("/a\0b", None),
        ];
        for (input, expected) in cases {
            let got = sandbox_path(input).ok();
            assert_eq!(got.as_deref(), *expected, "{input:?}");
        }
    }

    fn builder_in(dir: &Path) -> SandboxBuilder {
        Sandbox::builder().root(dir)
    }

    #[test]
    fn build_reports_each_problem() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let cases: Vec<(SandboxBuilder, &str)> = vec![
            (Sandbox::builder(), "no root directory was given"),
            (builder_in(&dir.path().join("missing")), "no such file"),
            (builder_in(&file), "not a directory"),
            (Sandbox::builder().root("relative"), "not an absolute path"),
            (
                builder_in(dir.path()).ro_bind("/nonexistent-oanix"),
                "system path /nonexistent-oanix does not exist on the host",
            ),
            (builder_in(dir.path()).ro_bind("usr"), "not an absolute"),
            (
                builder_in(dir.path()).ro_bind_to("/usr", "/proc/usr"),
                "mounts /, /proc and /dev itself",
            ),
            (builder_in(dir.path()).ro_bind_to("/usr", "/"), "itself"),
            (
                builder_in(dir.path())
                    .ro_bind("/usr")
                    .ro_bind_to("/usr", "/usr/"),
                "two binds at /usr",
            ),
            (builder_in(dir.path()).env("A=B", "1"), "without `=`"),
            (builder_in(dir.path()).env("", "1"), "non-empty"),
            (builder_in(dir.path()).env("A", "x\0y"), "NUL byte"),
            (builder_in(dir.path()).cwd("work"), "not absolute"),
            (builder_in(dir.path()).cwd("/a/../b"), "`..`"),
            (builder_in(dir.path()).hostname(""), "1 to 64 bytes"),
            (
                builder_in(dir.path()).limits(Limits {
                    open_files: 2,
                    ..Limits::default()
                }),
                "open_files",
            ),
            (
                builder_in(dir.path()).timeout(Duration::ZERO),
                "longer than zero",
            ),
        ];
        for (builder, expected) in cases {
            let error = builder.build().unwrap_err().to_string();
            assert!(error.contains(expected), "{error:?} lacks {expected:?}");
        }
    }

    #[test]
    fn build_orders_binds_and_sets_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = builder_in(dir.path())
            .ro_bind_to("/usr", "/a/b/c")
            .ro_bind_to("/usr", "/a")
            .ro_bind_if_exists("/nonexistent-oanix")
            .env("HOME", "/home")
            .env("GONE", "x")
            .env_remove("GONE")
            .build()
            .unwrap();
        let order: Vec<&str> = sandbox.binds.iter().map(|b| b.sandbox.as_str()).collect();
        assert_eq!(order, ["/a", "/a/b/c"]);
        assert_eq!(
            sandbox.env,
            [
                (OsString::from("HOME"), OsString::from("/home")),
                (OsString::from("PATH"), OsString::from(DEFAULT_PATH)),
            ]
        );
        let bare = builder_in(dir.path()).env_remove("PATH").build().unwrap();
        assert!(bare.env.is_empty());
        assert_eq!(bare.path_var(), None);
    }

    #[test]
    fn default_identity_is_never_host_root() {
        let identity = Identity::for_caller();
        assert_eq!(identity.uid, Identity::SANDBOX_ID);
        assert_ne!(identity.host_uid, 0);
        assert_ne!(identity.host_gid, 0);
    }

    #[test]
    fn exit_success_is_code_zero_only() {
        assert!(Exit::Code(0).is_success());
        assert!(!Exit::Code(1).is_success());
        assert!(!Exit::Signal(9).is_success());
        assert!(!Exit::TimedOut.is_success());
    }
}
