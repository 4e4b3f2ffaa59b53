//! A native run: the namespace mounted, the sandbox built over it, the
//! command run with its output in the logs, the mount gone.

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use oanix_env::{AgentSpec, OanixEnv, SandboxSpec};
use oanix_fuse::{FuseMount, MountOptions};
use oanix_sandbox::{Command, Exit, Identity, Limits, Sandbox, TOOL_PATHS};
use oanix_services::{LogEvent, LogLevel, LogsFs};
use oanix_vfs::FileService;

use crate::error::{NativeError, Result};
use crate::rootfs::{self, TRUST_DIR};

/// How a native run ended, and what it noticed on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NativeOutcome {
    /// How the command ended.
    pub exit: Exit,
    /// From the start of the command to the end of its last process.
    pub duration: Duration,
    /// What did not stop the run but should be known (limits not applied,
    /// a mount that did not come down cleanly).
    pub notes: Vec<String>,
}

impl NativeOutcome {
    /// The exit code as a shell reports it: the code, `128 + signal` for a
    /// signal, 124 for the timeout.
    pub fn shell_code(&self) -> i32 {
        match self.exit {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
            _ => 124,
        }
    }
}

/// Sends one stream of the command into the environment's logs.
struct LogSink {
    logs: LogsFs,
    stderr: bool,
}

impl Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stderr {
            self.logs.write_stderr(buf);
        } else {
            self.logs.write_stdout(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A native command to run in an environment: the agent's by default, with
/// further arguments, variables and a timeout of this run.
///
/// [`run`](Self::run) drives the environment's lifecycle as
/// `OanixEnv::run_wasi` does; [`execute`](Self::execute) leaves it alone,
/// for schedulers that run several jobs in one environment.
#[derive(Debug, Clone)]
pub struct NativeRun {
    env: OanixEnv,
    command: Vec<String>,
    args: Vec<String>,
    vars: Vec<(String, String)>,
    timeout: Option<Duration>,
}

impl NativeRun {
    /// The agent of `env` (its `command`, `args`, `env` and `sandbox`).
    pub fn new(env: &OanixEnv) -> Self {
        let agent = env.agent();
        Self {
            env: env.clone(),
            command: agent.command.clone(),
            args: agent.args.clone(),
            vars: Vec::new(),
            timeout: None,
        }
    }

    /// Runs `command` (program and arguments) instead of the agent's, in
    /// the agent's sandbox; the agent's own arguments are dropped.
    #[must_use]
    pub fn command(mut self, command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.command = command.into_iter().map(Into::into).collect();
        self.args.clear();
        self
    }

    /// Appends arguments.
    #[must_use]
    pub fn args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable of this run (over the agent's and the
    /// sandbox's).
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.push((key.into(), value.into()));
        self
    }

    /// The wall-clock limit of this run (default: the environment's, else
    /// the sandbox's ten minutes).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Runs the command and drives the environment's lifecycle: `Running`
    /// while it runs (it must be `Created`), then `Completed` with its exit
    /// code, or `Failed` when it was killed by a signal, ran out of time or
    /// could not start (the reason in the status and the logs).
    pub fn run(self) -> Result<NativeOutcome> {
        let env = self.env.clone();
        let prepared = match self.prepare() {
            Ok(p) => p,
            Err(e) => {
                env.set_failed(e.to_string())?;
                return Err(e);
            }
        };
        env.set_running()?;
        match prepared.run() {
            Ok(outcome) => {
                match outcome.exit {
                    Exit::Code(code) => env.set_completed(code)?,
                    Exit::Signal(signal) => env.set_failed(format!(
                        "the agent was killed by signal {signal} ({})",
                        signal_name(signal)
                    ))?,
                    _ => env.set_failed(format!(
                        "the agent ran out of time after {:.1} s; its processes were killed",
                        outcome.duration.as_secs_f64()
                    ))?,
                }
                Ok(outcome)
            }
            Err(e) => {
                env.set_failed(e.to_string())?;
                Err(e)
            }
        }
    }

    /// Runs the command without touching the environment's lifecycle. Its
    /// output still goes to `/logs`, and the end of the run is logged.
    pub fn execute(self) -> Result<NativeOutcome> {
        self.prepare()?.run()
    }

    /// Everything but the run: the command, the sandbox's configuration
    /// and the root.
    fn prepare(self) -> Result<Prepared> {
        if self.command.is_empty() {
            return Err(NativeError::NoCommand);
        }
        let agent = self.env.agent();
        let identity = Identity::for_caller();
        let binds = binds(&agent.sandbox);
        let points: Vec<String> = binds.iter().map(|(_, inside)| inside.clone()).collect();
        // The egress proxy, with the secrets and (for them) the authority
        // the sandbox trusts, at /etc/oanix.
        let proxy = match self.env.http() {
            Some(http) => Some(proxy_for(http, &agent.sandbox)?),
            None => None,
        };
        let trust = proxy.as_ref().and_then(|p| p.ca_pem()).map(trust_files);
        let root = rootfs::with_mount_points(self.env.namespace(), &points, trust.clone())?;
        let cwd = match &agent.sandbox.cwd {
            Some(cwd) => cwd.clone(),
            None if root.stat("/workspace").is_ok_and(|m| m.is_dir()) => "/workspace".into(),
            None => "/".into(),
        };
        let mut vars = variables(&self.env, agent, &self.vars);
        if let Some(proxy) = &proxy {
            for (key, placeholder) in proxy.placeholders() {
                vars.retain(|(k, _)| *k != key);
                vars.push((key, placeholder));
            }
        }
        if trust.is_some() {
            for key in [
                "SSL_CERT_FILE",
                "REQUESTS_CA_BUNDLE",
                "CURL_CA_BUNDLE",
                "GIT_SSL_CAINFO",
                "PIP_CERT",
            ] {
                vars.push((key.to_owned(), format!("{TRUST_DIR}/ca-bundle.pem")));
            }
            vars.push((
                "NODE_EXTRA_CA_CERTS".to_owned(),
                format!("{TRUST_DIR}/ca.pem"),
            ));
        }
        let limits = limits(&agent.sandbox)?;
        let timeout = self.timeout.or(self.env.limits().timeout);
        let mut argv: Vec<OsString> = self.command.iter().map(OsString::from).collect();
        argv.extend(self.args.iter().map(OsString::from));
        Ok(Prepared {
            env: self.env.clone(),
            proxy: proxy.map(|p| p.proxy),
            root,
            argv,
            binds,
            vars,
            cwd,
            hostname: agent.sandbox.hostname.clone(),
            identity,
            limits,
            timeout,
        })
    }
}

/// The binds of a sandbox: (host path, sandbox path), the same path inside.
fn binds(spec: &SandboxSpec) -> Vec<(PathBuf, String)> {
    let system: Vec<PathBuf> = match &spec.system_paths {
        Some(paths) => paths.clone(),
        None => TOOL_PATHS
            .iter()
            .map(PathBuf::from)
            .filter(|p| p.exists())
            .collect(),
    };
    let mut all: Vec<(PathBuf, String)> = Vec::new();
    for host in system.into_iter().chain(spec.extra_paths.iter().cloned()) {
        let inside = host.to_string_lossy().into_owned();
        if !all.iter().any(|(_, at)| *at == inside) {
            all.push((host, inside));
        }
    }
    all
}

/// The port of the egress proxy on the sandbox's loopback.
pub const PROXY_PORT: u16 = 3128;

/// The host's bundle of trusted certificates, if it has one where Debian
/// keeps it.
const HOST_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The proxy of a run and the placeholders it gives the agent.
struct RunProxy {
    proxy: oanix_proxy::Proxy,
    placeholders: Vec<(String, String)>,
}

impl RunProxy {
    fn ca_pem(&self) -> Option<&str> {
        self.proxy.ca_pem()
    }

    /// (variable, placeholder) for each secret.
    fn placeholders(&self) -> Vec<(String, String)> {
        self.placeholders.clone()
    }
}

/// The proxy over `http` with the sandbox's secrets.
fn proxy_for(http: &oanix_caps::HttpFs, spec: &SandboxSpec) -> Result<RunProxy> {
    let mut secrets = Vec::with_capacity(spec.secrets.len());
    let mut placeholders = Vec::with_capacity(spec.secrets.len());
    for s in &spec.secrets {
        let hosts = s
            .hosts
            .iter()
            .map(|h| oanix_caps::HostPattern::new(h))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| NativeError::InvalidSandbox {
                key: "secrets",
                message: format!("secret {}: {e}", s.name),
            })?;
        let secret =
            oanix_proxy::Secret::new(&s.name, hosts, oanix_caps::SecretValue::new(&s.value))?;
        placeholders.push((s.env.clone(), secret.placeholder().to_owned()));
        secrets.push(secret);
    }
    let proxy = oanix_proxy::Proxy::new(http.clone()).with_secrets(secrets)?;
    Ok(RunProxy {
        proxy,
        placeholders,
    })
}

/// The trust files for an authority: its certificate, and the host's
/// bundle with it.
fn trust_files(ca: &str) -> oanix_prims::MapFs {
    let mut bundle = std::fs::read(HOST_BUNDLE).unwrap_or_default();
    if !bundle.is_empty() && !bundle.ends_with(b"\n") {
        bundle.push(b'\n');
    }
    bundle.extend_from_slice(ca.as_bytes());
    oanix_prims::MapFs::builder()
        .file("/ca.pem", ca.as_bytes().to_vec())
        .file("/ca-bundle.pem", bundle)
        .build()
}

/// The command's environment: the defaults (and the proxy's variables when
/// the environment has an HTTP capability), then the agent's, the
/// sandbox's and the run's variables, later ones winning.
fn variables(env: &OanixEnv, agent: &AgentSpec, run: &[(String, String)]) -> Vec<(String, String)> {
    let defaults = [
        ("HOME", "/tmp".to_owned()),
        ("TMPDIR", "/tmp".to_owned()),
        ("LANG", "C.UTF-8".to_owned()),
        ("OANIX_ENV", env.id().to_string()),
    ];
    let mut vars: Vec<(String, String)> = defaults
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
    if env.http().is_some() {
        let url = format!("http://127.0.0.1:{PROXY_PORT}");
        for key in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
            vars.push((key.to_owned(), url.clone()));
        }
        for key in ["NO_PROXY", "no_proxy"] {
            vars.push((key.to_owned(), "localhost,127.0.0.1,::1".to_owned()));
        }
    }
    for (k, v) in agent.env.iter().chain(&agent.sandbox.env).chain(run) {
        vars.retain(|(key, _)| key != k);
        vars.push((k.clone(), v.clone()));
    }
    vars
}

/// The sandbox's limits from the spec's, checked.
fn limits(spec: &SandboxSpec) -> Result<Limits> {
    let mut limits = Limits::default();
    let mb = |key: &'static str, n: u64| {
        n.checked_mul(1 << 20).ok_or(NativeError::InvalidSandbox {
            key,
            message: format!("{n} MiB is too large"),
        })
    };
    if let Some(n) = spec.processes {
        limits.processes = n;
        limits.cgroup.pids = Some(n);
    }
    if let Some(n) = spec.address_space_mb {
        limits.address_space = mb("address_space_mb", n)?;
    }
    if let Some(n) = spec.cpu_secs {
        limits.cpu_time = Duration::from_secs(n);
    }
    if let Some(n) = spec.file_size_mb {
        limits.file_size = mb("file_size_mb", n)?;
    }
    if let Some(n) = spec.open_files {
        limits.open_files = n;
    }
    if let Some(n) = spec.memory_mb {
        limits.cgroup.memory = Some(mb("memory_mb", n)?);
    }
    Ok(limits)
}

/// The usual name of a signal, for messages.
fn signal_name(signal: i32) -> &'static str {
    match signal {
        1 => "SIGHUP",
        2 => "SIGINT",
        6 => "SIGABRT",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        31 => "SIGSYS",
        _ => "a signal",
    }
}

/// A run ready to start.
struct Prepared {
    env: OanixEnv,
    proxy: Option<oanix_proxy::Proxy>,
    root: oanix_vfs::Namespace,
    argv: Vec<OsString>,
    binds: Vec<(PathBuf, String)>,
    vars: Vec<(String, String)>,
    cwd: String,
    hostname: Option<String>,
    identity: Identity,
    limits: Limits,
    timeout: Option<Duration>,
}

impl Prepared {
    /// Mounts the root, runs the command in the sandbox, unmounts.
    fn run(self) -> Result<NativeOutcome> {
        let dir = rootfs::runtime_dir()?;
        let cleaned = rootfs::cleanup_stale(&dir);
        let mountpoint = rootfs::mount_point(&dir, &self.env.id().to_string())?;
        let result = self.run_at(&mountpoint, cleaned);
        // Fails only if the mount is still there, which `run_at` reported.
        let _ = std::fs::remove_dir(&mountpoint);
        result
    }

    fn run_at(&self, mountpoint: &std::path::Path, cleaned: usize) -> Result<NativeOutcome> {
        let own_uid = rustix::process::geteuid().as_raw();
        let options = MountOptions::agent()
            .owner(self.identity.host_uid, self.identity.host_gid)
            .allow_other(self.identity.host_uid != own_uid)
            .fs_name(format!("oanix-{}", self.env.id()));
        let mount = FuseMount::mount(self.root.clone(), mountpoint, options)?;
        let mut b = Sandbox::builder()
            .root(mount.mountpoint())
            .identity(self.identity)
            .cwd(&self.cwd)
            .limits(self.limits.clone());
        for (host, inside) in &self.binds {
            b = b.ro_bind_to(host, inside);
        }
        for (k, v) in &self.vars {
            b = b.env(k, v);
        }
        if let Some(h) = &self.hostname {
            b = b.hostname(h);
        }
        if let Some(t) = self.timeout {
            b = b.timeout(t);
        }
        let sandbox = b.build()?;
        let (stdout, stderr) = match self.env.logs() {
            Some(logs) => (
                Box::new(LogSink {
                    logs: logs.clone(),
                    stderr: false,
                }) as Box<dyn Write + Send>,
                Box::new(LogSink {
                    logs: logs.clone(),
                    stderr: true,
                }) as Box<dyn Write + Send>,
            ),
            None => (
                Box::new(std::io::sink()) as Box<dyn Write + Send>,
                Box::new(std::io::sink()) as Box<dyn Write + Send>,
            ),
        };
        let mut command = Command::new(self.argv[0].clone())
            .args(self.argv[1..].iter().cloned())
            .stdout(stdout)
            .stderr(stderr);
        // The egress proxy on the sandbox's own loopback, for an environment
        // with an HTTP capability: served here, under its policy.
        let (served_tx, served) = std::sync::mpsc::sync_channel(1);
        if let Some(proxy) = self.proxy.clone() {
            command = command.listen(PROXY_PORT, move |listener| {
                let _ = served_tx.send(proxy.serve(listener));
            });
        } else {
            drop(served_tx);
        }
        let outcome = sandbox.run(command);
        let mut notes = Vec::new();
        // Stops the proxy (dropping its handle): the sandbox is gone. A
        // handler never called drops its sender, which ends the wait at once.
        match served.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(handle)) => handle.shutdown(),
            Ok(Err(e)) => notes.push(format!("the egress proxy did not start: {e}")),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                notes.push("the egress proxy did not report its start".to_owned());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {}
        }
        if cleaned > 0 {
            notes.push(format!(
                "removed {cleaned} dead mount(s) left under {} by a killed process",
                mountpoint
                    .parent()
                    .map_or_else(String::new, |p| p.display().to_string())
            ));
        }
        if let Err(e) = mount.unmount() {
            notes.push(format!("unmounting the namespace: {e}"));
        }
        let outcome = outcome?;
        notes.extend(outcome.notes.iter().cloned());
        let outcome = NativeOutcome {
            exit: outcome.exit,
            duration: outcome.duration,
            notes,
        };
        self.log_end(&outcome);
        Ok(outcome)
    }

    /// Logs the end of the run in `events.jsonl`.
    fn log_end(&self, outcome: &NativeOutcome) {
        let Some(logs) = self.env.logs() else { return };
        let (code, signal, timed_out) = match outcome.exit {
            Exit::Code(c) => (Some(c), None, false),
            Exit::Signal(s) => (None, Some(s), false),
            _ => (None, None, true),
        };
        let data = serde_json::json!({
            "env": self.env.id().to_string(),
            "command": self.argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>(),
            "exit_code": code,
            "signal": signal,
            "timed_out": timed_out,
            "duration_ms": outcome.duration.as_secs_f64() * 1e3,
            "notes": outcome.notes,
        });
        let level = if outcome.exit.is_success() {
            LogLevel::Info
        } else {
            LogLevel::Warn
        };
        logs.log_event(LogEvent::with_data(level, "native run finished", data));
    }
}
