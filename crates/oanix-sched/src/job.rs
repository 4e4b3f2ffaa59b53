//! Jobs: what to run, where, how urgently, and what came of it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a job runs.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobKind {
    /// A shell command. OANIX never runs host commands itself: a
    /// [`JobRunner`] the user supplies decides what this means.
    Script {
        /// The command line.
        command: String,
    },
    /// A WASI module run in the environment's namespace (the built-in
    /// runner does this).
    Wasi {
        /// The module.
        module: WasmSource,
        /// Arguments after `argv[0]`.
        args: Vec<String>,
    },
    /// A native command run in a Linux sandbox whose root is the
    /// environment's namespace (the built-in runner does this with the
    /// `native` feature).
    Native {
        /// The program and its arguments; empty for the environment's own
        /// agent command (`[agent] command`).
        command: Vec<String>,
    },
    /// Anything else, for a user-supplied runner.
    Custom {
        /// What kind of custom job.
        name: String,
        /// Its parameters.
        payload: serde_json::Value,
    },
}

/// Where a WASI job's module comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum WasmSource {
    /// Bytes in memory (shared, so many jobs can name one module cheaply).
    Bytes(Arc<[u8]>),
    /// A file on the host, read when the job runs.
    File(PathBuf),
}

impl JobKind {
    /// A shell-command job (run by a user-supplied runner).
    pub fn script(command: impl Into<String>) -> Self {
        Self::Script {
            command: command.into(),
        }
    }

    /// A WASI job over module bytes.
    pub fn wasi(
        module: impl Into<Arc<[u8]>>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self::Wasi {
            module: WasmSource::Bytes(module.into()),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// A WASI job over a module file.
    pub fn wasi_file(
        path: impl Into<PathBuf>,
        args: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self::Wasi {
            module: WasmSource::File(path.into()),
            args: args.into_iter().map(Into::into).collect(),
        }
    }

    /// A native job: `command` (program and arguments) in the environment's
    /// sandbox, or the environment's agent command when `command` is empty.
    pub fn native(command: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::Native {
            command: command.into_iter().map(Into::into).collect(),
        }
    }

    /// A custom job.
    pub fn custom(name: impl Into<String>, payload: serde_json::Value) -> Self {
        Self::Custom {
            name: name.into(),
            payload,
        }
    }

    /// The kind's name: `script`, `wasi`, `native` or `custom`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Script { .. } => "script",
            Self::Wasi { .. } => "wasi",
            Self::Native { .. } => "native",
            Self::Custom { .. } => "custom",
        }
    }
}

/// A job to run in a registered environment.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The job's id (fresh for every `new`).
    pub id: Uuid,
    /// The environment it runs in.
    pub env_id: Uuid,
    /// What it runs.
    pub kind: JobKind,
    /// Higher runs first; equal priorities run in submission order.
    pub priority: i32,
    /// Environment variables for the run.
    pub env: Vec<(String, String)>,
    /// How long it may run.
    pub timeout: Option<Duration>,
    /// Free-form labels.
    pub tags: Vec<String>,
}

impl JobSpec {
    /// A job of `kind` in environment `env_id`, priority 0.
    pub fn new(env_id: Uuid, kind: JobKind) -> Self {
        Self {
            id: Uuid::new_v4(),
            env_id,
            kind,
            priority: 0,
            env: Vec::new(),
            timeout: None,
            tags: Vec::new(),
        }
    }

    /// Sets the priority (higher runs first).
    #[must_use]
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Adds an environment variable.
    #[must_use]
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Sets the timeout, in seconds.
    #[must_use]
    pub fn with_timeout(self, secs: u64) -> Self {
        self.with_timeout_duration(Duration::from_secs(secs))
    }

    /// Sets the timeout.
    #[must_use]
    pub fn with_timeout_duration(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Adds a tag.
    #[must_use]
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobOutcome {
    /// It ran to the end with exit code 0.
    Succeeded,
    /// It ran to the end with another exit code, or reported an error.
    Failed,
    /// It ran past its timeout.
    TimedOut,
    /// It was cancelled.
    Cancelled,
}

/// What came of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobResult {
    /// The job.
    pub job_id: Uuid,
    /// Its environment.
    pub env_id: Uuid,
    /// How it ended.
    pub outcome: JobOutcome,
    /// Its exit code, when it ran to the end.
    pub exit_code: Option<i32>,
    /// How long it ran (zero if it never started).
    pub duration: Duration,
    /// What went wrong, if anything.
    pub error: Option<String>,
}

/// Tells a running job that it should stop (cancelled or timed out).
/// Runners check it at convenient points, or wait on it; WASI runs are also
/// bounded by their own timeout.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<CancelState>);

#[derive(Debug, Default)]
struct CancelState {
    cancelled: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
}

impl CancelToken {
    /// A token not yet cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the job to stop, waking whoever waits on the token.
    pub fn cancel(&self) {
        let _guard = self.0.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.wake.notify_all();
    }

    /// Whether the job was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Waits until the token is cancelled or `timeout` passes; returns
    /// whether it was cancelled.
    pub fn wait(&self, timeout: Duration) -> bool {
        let start = oanix_vfs::deadline::Instant::now();
        let mut guard = self.0.lock.lock().unwrap_or_else(PoisonError::into_inner);
        while !self.is_cancelled() {
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return false;
            }
            guard = self
                .0
                .wake
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }
}

/// Why a job did not run to an exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobFailure {
    /// It ran out of time.
    TimedOut,
    /// Anything else, said in words.
    Error(String),
}

impl From<String> for JobFailure {
    fn from(message: String) -> Self {
        Self::Error(message)
    }
}

impl From<&str> for JobFailure {
    fn from(message: &str) -> Self {
        Self::Error(message.to_owned())
    }
}

/// What a runner reports: the exit code, or why there is none.
pub type RunOutcome = Result<i32, JobFailure>;

/// Runs jobs. The scheduler calls it on its worker threads; implement it
/// to run script or custom jobs, or to run WASI jobs your own way.
pub trait JobRunner: Send + Sync {
    /// Runs `job` in `env`; `cancel` says when to stop.
    fn run(&self, env: &oanix_env::OanixEnv, job: &JobSpec, cancel: &CancelToken) -> RunOutcome;
}

impl<F> JobRunner for F
where
    F: Fn(&oanix_env::OanixEnv, &JobSpec, &CancelToken) -> RunOutcome + Send + Sync,
{
    fn run(&self, env: &oanix_env::OanixEnv, job: &JobSpec, cancel: &CancelToken) -> RunOutcome {
        self(env, job, cancel)
    }
}

/// The built-in runner: WASI jobs run in the environment's namespace (with
/// the job's timeout and environment variables, and the environment's
/// limits); with the `native` feature, native jobs run in a sandbox whose
/// root is that namespace (`oanix-native`, with the environment's
/// `[sandbox]`); other kinds go to `fallback` when there is one, and fail
/// otherwise — OANIX never runs host commands outside a sandbox.
pub struct WasiRunner {
    fallback: Option<Arc<dyn JobRunner>>,
}

impl std::fmt::Debug for WasiRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WasiRunner")
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl WasiRunner {
    /// WASI jobs only.
    pub fn new() -> Self {
        Self { fallback: None }
    }

    /// WASI jobs here, everything else through `fallback`.
    pub fn with_fallback(fallback: Arc<dyn JobRunner>) -> Self {
        Self {
            fallback: Some(fallback),
        }
    }
}

impl Default for WasiRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl JobRunner for WasiRunner {
    fn run(&self, env: &oanix_env::OanixEnv, job: &JobSpec, cancel: &CancelToken) -> RunOutcome {
        #[cfg(feature = "native")]
        if let JobKind::Native { command } = &job.kind {
            return run_native(env, job, command);
        }
        let JobKind::Wasi { module, args } = &job.kind else {
            return match &self.fallback {
                Some(runner) => runner.run(env, job, cancel),
                None => Err(format!("no runner for {} jobs", job.kind.name()).into()),
            };
        };
        let bytes: Arc<[u8]> = match module {
            WasmSource::Bytes(b) => Arc::clone(b),
            WasmSource::File(path) => std::fs::read(path)
                .map_err(|e| JobFailure::Error(format!("cannot read {}: {e}", path.display())))?
                .into(),
        };
        // The environment's limits and agent arguments, then the job's.
        let mut config = env.run_config().args(args.iter().cloned());
        for (k, v) in &job.env {
            config = config.env(k, v);
        }
        if let Some(t) = job.timeout {
            config = config.timeout(t);
        }
        let result = env
            .execute_wasi(&bytes, &config)
            .map_err(|e| JobFailure::Error(e.to_string()))?;
        if let Some(trap) = result.trap {
            return Err(if trap.kind == oanix_wasi::TrapKind::Timeout {
                JobFailure::TimedOut
            } else {
                JobFailure::Error(trap.to_string())
            });
        }
        Ok(result
            .exit_code
            .map_or(0, |c| i32::try_from(c).unwrap_or(i32::MAX)))
    }
}

/// Runs a native job through `oanix-native`, without touching the
/// environment's lifecycle (the scheduler reports the job).
#[cfg(feature = "native")]
fn run_native(env: &oanix_env::OanixEnv, job: &JobSpec, command: &[String]) -> RunOutcome {
    let mut run = oanix_native::NativeRun::new(env);
    if !command.is_empty() {
        run = run.command(command.iter().cloned());
    }
    for (k, v) in &job.env {
        run = run.env(k, v);
    }
    if let Some(t) = job.timeout {
        run = run.timeout(t);
    }
    let outcome = run
        .execute()
        .map_err(|e| JobFailure::Error(e.to_string()))?;
    match outcome.exit {
        oanix_native::Exit::Code(code) => Ok(code),
        oanix_native::Exit::Signal(signal) => {
            Err(JobFailure::Error(format!("killed by signal {signal}")))
        }
        _ => Err(JobFailure::TimedOut),
    }
}
