//! `OanixEnv` and `EnvBuilder`: an agent's world, built and wired.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use oanix_caps::{CapRecord, HttpFs, Outcome, RecordSink, WsFs};
use oanix_services::{LogEvent, LogLevel, LogsFs, TaskFs};
use oanix_vfs::deadline::{self, Instant};
use oanix_vfs::{BindMode, MountFlags, Namespace, NamespaceBuilder};
use oanix_wasi::{RunConfig, RunResult, WasiRuntime};
use uuid::Uuid;

use crate::capability::EnvCapability;
use crate::error::{EnvError, Result};
use crate::mount::{Mount, Roles};
use crate::recipe::{CheckpointPolicy, Op, Recipe};
use crate::review::WorkspaceReview;
use crate::status::EnvStatus;

/// The capacity of `/tmp` in environments made by a manifest or the
/// `oanix` command, unless `[limits] tmp_mb` says otherwise: 64 MiB.
pub const DEFAULT_TMP_BYTES: u64 = 64 << 20;
/// The capacity of a manifest's `memfs` mounts, unless `[limits] memfs_mb`
/// or the mount's `capacity_mb` says otherwise: 64 MiB.
pub const DEFAULT_MEMFS_BYTES: u64 = 64 << 20;
/// The capacity of the in-memory layer of a copy-on-write workspace (what
/// the agent changed), unless `[limits] overlay_mb` or the mount's
/// `capacity_mb` says otherwise: 256 MiB.
pub const DEFAULT_OVERLAY_BYTES: u64 = 256 << 20;

/// Limits applied to an environment: to every agent run in it, and to the
/// in-memory mounts that manifests and the `oanix` command make for it.
///
/// `None` means the default, which is always a bound: see
/// [`RunConfig`] for the run defaults and the `DEFAULT_*` constants for the
/// mounts. [`resolved`](Self::resolved) fills in the defaults, for reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EnvLimits {
    /// Wall-clock limit of a run.
    pub timeout: Option<Duration>,
    /// Largest linear memory of a guest, in bytes.
    pub memory_bytes: Option<usize>,
    /// Fuel budget of a run (about one unit per WebAssembly instruction).
    pub fuel: Option<u64>,
    /// Most descriptors a guest may hold open at once.
    pub descriptors: Option<usize>,
    /// Most bytes one read or write call of a guest moves.
    pub io_bytes: Option<usize>,
    /// Capacity of `/tmp`, in bytes.
    pub tmp_bytes: Option<u64>,
    /// Capacity of each `memfs` mount a manifest makes, in bytes.
    pub memfs_bytes: Option<u64>,
    /// Capacity of the in-memory layer of each copy-on-write workspace.
    pub overlay_bytes: Option<u64>,
}

impl EnvLimits {
    /// These limits with every default filled in (the timeout and fuel stay
    /// `None` when unset: no fuel limit, and the run's default timeout).
    pub fn resolved(&self) -> Self {
        let run = RunConfig::new();
        Self {
            timeout: self.timeout.or(run.timeout_value()),
            memory_bytes: Some(self.memory_bytes.unwrap_or(run.memory_limit_value())),
            fuel: self.fuel,
            descriptors: Some(
                self.descriptors
                    .unwrap_or(oanix_wasi::DEFAULT_MAX_DESCRIPTORS),
            ),
            io_bytes: Some(self.io_bytes.unwrap_or(oanix_wasi::DEFAULT_MAX_IO_BYTES)),
            tmp_bytes: Some(self.tmp_bytes.unwrap_or(DEFAULT_TMP_BYTES)),
            memfs_bytes: Some(self.memfs_bytes.unwrap_or(DEFAULT_MEMFS_BYTES)),
            overlay_bytes: Some(self.overlay_bytes.unwrap_or(DEFAULT_OVERLAY_BYTES)),
        }
    }

    /// The capacity of `/tmp`.
    pub fn tmp_capacity(&self) -> u64 {
        self.tmp_bytes.unwrap_or(DEFAULT_TMP_BYTES)
    }

    /// The capacity of a `memfs` mount.
    pub fn memfs_capacity(&self) -> u64 {
        self.memfs_bytes.unwrap_or(DEFAULT_MEMFS_BYTES)
    }

    /// The capacity of a copy-on-write workspace's in-memory layer.
    pub fn overlay_capacity(&self) -> u64 {
        self.overlay_bytes.unwrap_or(DEFAULT_OVERLAY_BYTES)
    }
}

/// The agent a manifest names: a WASI module or a native command, its
/// arguments and environment.
///
/// At most one of `module` and `command` is set. A native command runs in a
/// Linux sandbox whose root is the environment's namespace (the
/// `oanix-native` crate); `sandbox` says what that sandbox holds besides.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AgentSpec {
    /// The WASI module on the host.
    pub module: Option<PathBuf>,
    /// A native command: the program (a path inside the sandbox, or a name
    /// looked up on its `PATH`) and its first arguments. Empty when the
    /// agent is a module.
    pub command: Vec<String>,
    /// Arguments after `argv[0]` (for a command: after its own).
    pub args: Vec<String>,
    /// Environment variables (nothing from the host leaks in otherwise).
    pub env: Vec<(String, String)>,
    /// The sandbox of a native command.
    pub sandbox: SandboxSpec,
}

impl AgentSpec {
    /// Whether the agent is a native command.
    pub fn is_native(&self) -> bool {
        !self.command.is_empty()
    }
}

/// What the sandbox of a native agent holds besides the namespace: the
/// host's system paths for its tools, its environment and its limits (a
/// manifest's `[sandbox]`). `None` means the default of `oanix-sandbox`.
///
/// These are data: `oanix-native` checks and applies them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SandboxSpec {
    /// Host paths bound read-only at the same place inside. `None`: the
    /// usual tool paths that exist on the host (`/usr`, `/bin`, `/lib`,
    /// `/etc/ssl/certs`...).
    pub system_paths: Option<Vec<PathBuf>>,
    /// Further host paths bound read-only, on top of the default ones.
    pub extra_paths: Vec<PathBuf>,
    /// Environment variables for the command, over the agent's.
    pub env: Vec<(String, String)>,
    /// The working directory inside (default `/workspace` when mounted,
    /// else `/`).
    pub cwd: Option<String>,
    /// The hostname inside.
    pub hostname: Option<String>,
    /// Processes and threads of the whole sandbox.
    pub processes: Option<u64>,
    /// Address space of each process, in MiB.
    pub address_space_mb: Option<u64>,
    /// CPU time of each process, in seconds.
    pub cpu_secs: Option<u64>,
    /// Largest file a process may write, in MiB.
    pub file_size_mb: Option<u64>,
    /// Open files of each process.
    pub open_files: Option<u64>,
    /// Memory of the whole tree, in MiB (cgroup v2, where delegated).
    pub memory_mb: Option<u64>,
    /// Secrets of the HTTP capability, for the egress proxy (a plan copies
    /// them from `[capabilities.http] secrets`).
    pub secrets: Vec<SecretPlan>,
}

/// A secret a native agent may use but never read (`[capabilities.http]
/// secrets`): its environment holds a placeholder in `env`, and the egress
/// proxy (`oanix-native`) puts the value in its place only in requests to
/// `hosts`.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretPlan {
    /// Its name (1 to 40 of `a-z`, `0-9`, `-`).
    pub name: String,
    /// The host patterns it may be sent to.
    pub hosts: Vec<String>,
    /// The variable of the agent's environment that holds the placeholder.
    pub env: String,
    /// The value (never shown by `Debug`).
    pub value: String,
}

impl std::fmt::Debug for SecretPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretPlan")
            .field("name", &self.name)
            .field("hosts", &self.hosts)
            .field("env", &self.env)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// One role, with the path of the mount that declared it.
type Placed<T> = Option<(String, T)>;

/// What an environment wires: each role with the mount that declared it.
#[derive(Default)]
struct Wiring {
    task: Placed<TaskFs>,
    logs: Placed<LogsFs>,
    http: Placed<HttpFs>,
    ws: Placed<WsFs>,
    #[cfg(feature = "nostr")]
    nostr: Placed<oanix_caps::NostrFs>,
    workspace: Placed<Arc<dyn WorkspaceReview>>,
    /// Every capability (those of the roles above included), in mount order.
    capabilities: Vec<(String, Arc<dyn EnvCapability>)>,
}

/// Takes `role` declared at `path` into `slot`, or names both paths if
/// another mount declared it already.
fn place<T>(slot: &mut Placed<T>, role: &'static str, path: &str, value: Option<T>) -> Result<()> {
    let Some(value) = value else { return Ok(()) };
    if let Some((first, _)) = slot {
        return Err(EnvError::Ambiguous {
            role,
            first: first.clone(),
            second: path.to_owned(),
        });
    }
    *slot = Some((path.to_owned(), value));
    Ok(())
}

impl Wiring {
    /// The wiring the mounts declare, in order; two declarations of one
    /// role are an error.
    fn resolve(declared: Vec<(String, Roles)>) -> Result<Self> {
        let mut w = Self::default();
        for (path, roles) in declared {
            let Roles {
                task,
                logs,
                http,
                ws,
                #[cfg(feature = "nostr")]
                nostr,
                workspace,
                capabilities,
                state: _,
            } = roles;
            place(&mut w.task, "task", &path, task)?;
            place(&mut w.logs, "logs", &path, logs)?;
            if let Some(h) = &http {
                w.capabilities.push((path.clone(), Arc::new(h.clone())));
            }
            place(&mut w.http, "http", &path, http)?;
            if let Some(ws) = &ws {
                w.capabilities.push((path.clone(), Arc::new(ws.clone())));
            }
            place(&mut w.ws, "ws", &path, ws)?;
            #[cfg(feature = "nostr")]
            {
                if let Some(n) = &nostr {
                    w.capabilities.push((path.clone(), Arc::new(n.clone())));
                }
                place(&mut w.nostr, "nostr", &path, nostr)?;
            }
            place(&mut w.workspace, "workspace", &path, workspace)?;
            w.capabilities
                .extend(capabilities.into_iter().map(|c| (path.clone(), c)));
        }
        Ok(w)
    }

    /// Routes every capability record into the logs' `events.jsonl`.
    fn route_records(&self) {
        let Some((_, logs)) = &self.logs else { return };
        let logs = logs.clone();
        let sink: RecordSink = Arc::new(move |record: &CapRecord| {
            let level = match record.outcome {
                Outcome::Refused | Outcome::Failed => LogLevel::Warn,
                _ => LogLevel::Info,
            };
            let message = format!(
                "{} {} {}",
                record.capability.as_str(),
                record.action,
                record.target
            );
            let data = serde_json::to_value(record).unwrap_or(serde_json::Value::Null);
            logs.log_event(LogEvent::with_data(level, message, data));
        });
        for (_, capability) in &self.capabilities {
            capability.set_record_sink(Arc::clone(&sink));
        }
    }
}

/// The executors of an environment: started when it is built, shut down
/// when it finishes (or when the last handle on it goes).
#[cfg(feature = "executor")]
struct Executors(Mutex<Option<oanix_exec::ExecutorManager>>);

#[cfg(feature = "executor")]
impl Executors {
    fn shutdown(&self) -> std::result::Result<(), oanix_exec::ExecutorError> {
        let manager = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        match manager {
            Some(m) => m.shutdown(),
            None => Ok(()),
        }
    }
}

#[cfg(feature = "executor")]
impl Drop for Executors {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

/// One tokio runtime for the executors of every environment of the process
/// (the one the egress proxy serves on, too).
#[cfg(feature = "executor")]
fn executor_runtime() -> Result<tokio::runtime::Handle> {
    oanix_exec::shared_runtime().map_err(|e| EnvError::Io {
        path: "executor runtime".into(),
        message: e.to_string(),
    })
}

/// Builds an [`OanixEnv`]: mounts, binds, limits, the agent and the runtime.
///
/// Each mount is a [`Mount`]: a service and what the environment wires it
/// as. The library's `TaskFs`, `LogsFs`, `HttpFs`, `WsFs`, `NostrFs` and
/// `WorkspaceOverlay` declare their role when mounted as they are: the
/// task's status follows the environment's, capability records go to the
/// logs (and, with [`executors`](Self::executors), each capability gets its
/// executor), and the workspace's changes are reachable from
/// [`OanixEnv::workspace`]. Anything else mounts plain unless its [`Mount`]
/// declares a role; [`build`](Self::build) refuses two mounts that declare
/// the same one.
#[derive(Default)]
pub struct EnvBuilder {
    pub(crate) ns: NamespaceBuilder,
    /// What was mounted and bound, in order: what a snapshot takes.
    ops: Vec<Op>,
    mounted: Vec<String>,
    declared: Vec<(String, Roles)>,
    limits: EnvLimits,
    agent: AgentSpec,
    runtime: Option<Arc<WasiRuntime>>,
    #[cfg(feature = "executor")]
    executors: Option<oanix_exec::ExecutorConfig>,
    /// What the environment starts from, for its first events.
    pub(crate) started_from: Option<serde_json::Value>,
    /// The checkpoint policy, for the recipe (forks get it too).
    pub(crate) checkpoint_policy: Option<CheckpointPolicy>,
    /// Kept with the environment when it is built.
    pub(crate) extension: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// Runs once the environment is built.
    pub(crate) on_build: Option<BuildHook>,
}

/// What runs once an environment is built.
pub(crate) type BuildHook = Box<dyn FnOnce(&OanixEnv) + Send>;

impl std::fmt::Debug for EnvBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvBuilder")
            .field("namespace", &self.ns)
            .field("limits", &self.limits)
            .field("agent", &self.agent)
            .finish()
    }
}

impl EnvBuilder {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Mounts a service at `path`, replacing what was there, and wires
    /// what its [`Mount`] declares (see [`Mount`] for what each service
    /// declares by itself).
    #[must_use]
    pub fn mount(self, path: &str, mount: impl Into<Mount>) -> Self {
        self.mount_with(path, mount, MountFlags::replace())
    }

    /// Mounts a service at `path` with Plan 9 bind flags.
    #[must_use]
    pub fn mount_with(self, path: &str, mount: impl Into<Mount>, flags: MountFlags) -> Self {
        let mount = mount.into();
        let source = mount.service.fs_type().to_owned();
        self.mount_shared(path, &source, mount, flags)
    }

    /// Mounts a service under an explicit source name (the name the mount
    /// table prints).
    #[must_use]
    pub fn mount_shared(
        mut self,
        path: &str,
        source: &str,
        mount: impl Into<Mount>,
        flags: MountFlags,
    ) -> Self {
        let Mount { service, roles } = mount.into();
        if let Ok(p) = oanix_vfs::path::normalize(path) {
            let p = p.into_owned();
            if flags.mode == BindMode::Replace {
                // What this mount replaces is no longer there to wire.
                self.declared.retain(|(at, _)| *at != p);
                self.ops
                    .retain(|op| !matches!(op, Op::Mount { path, .. } if *path == p));
            }
            self.ops.push(Op::Mount {
                path: p.clone(),
                source: source.to_owned(),
                flags,
                mount: Mount {
                    service: Arc::clone(&service),
                    roles: roles.clone(),
                },
            });
            self.declared.push((p.clone(), roles));
            self.mounted.push(p);
        }
        self.ns = self.ns.mount_shared(path, source, service, flags);
        self
    }

    /// Makes `existing` visible at `target` too.
    #[must_use]
    pub fn bind(mut self, existing: &str, target: &str) -> Self {
        self.ops.push(Op::Bind {
            existing: existing.to_owned(),
            target: target.to_owned(),
        });
        self.ns = self.ns.bind(existing, target);
        self
    }

    /// The limits of every run.
    #[must_use]
    pub fn limits(mut self, limits: EnvLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The agent that [`OanixEnv::run_agent`] runs.
    #[must_use]
    pub fn agent(mut self, agent: AgentSpec) -> Self {
        self.agent = agent;
        self
    }

    /// Sets only the wall-clock limit of every run.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = Some(timeout);
        self
    }

    /// Sets the agent's module (keeping its arguments and environment).
    #[must_use]
    pub fn agent_module(mut self, module: impl Into<PathBuf>) -> Self {
        self.agent.module = Some(module.into());
        self
    }

    /// Appends arguments for the agent.
    #[must_use]
    pub fn agent_args(mut self, args: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.agent.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Whether a service is mounted at exactly `path` already.
    pub fn has_mount(&self, path: &str) -> bool {
        self.mounted.iter().any(|p| p == path)
    }

    /// Attaches executors to the environment's capabilities, so that their
    /// requests are carried out (real network I/O, under their policies):
    /// at `build`, every capability the mounts declare attaches its own
    /// ([`EnvCapability::attach_executor`]) to one `ExecutorManager` with
    /// `config`, started then and shut down when the environment finishes
    /// (or its last handle goes). All environments share one runtime for
    /// them.
    #[cfg(feature = "executor")]
    #[must_use]
    pub fn executors(mut self, config: oanix_exec::ExecutorConfig) -> Self {
        self.executors = Some(config);
        self
    }

    /// The WASI runtime to run agents with (by default one shared by every
    /// environment of the process, so modules compile once).
    #[must_use]
    pub fn runtime(mut self, runtime: Arc<WasiRuntime>) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Builds the environment and wires it: the capabilities' records go
    /// to the logs, and executors (if asked for) are attached to the
    /// capabilities and started.
    ///
    /// # Errors
    ///
    /// [`EnvError::Fs`] if a mount or bind path was invalid;
    /// [`EnvError::Ambiguous`] if two mounts declare the same role (two
    /// tasks, two logs...), naming both paths; an error starting the
    /// executors.
    pub fn build(self) -> Result<OanixEnv> {
        let namespace = self.ns.try_build()?;
        let wiring = Wiring::resolve(self.declared)?;
        wiring.route_records();
        let recipe = Arc::new(Recipe {
            ops: self.ops,
            runtime: self.runtime.clone(),
            checkpoints: self.checkpoint_policy.clone(),
            #[cfg(feature = "executor")]
            executors: self.executors.clone(),
        });
        #[cfg(feature = "executor")]
        let executors = match self.executors {
            Some(config) if !wiring.capabilities.is_empty() => {
                let mut manager =
                    oanix_exec::ExecutorManager::with_handle(config, executor_runtime()?);
                for (_, capability) in &wiring.capabilities {
                    capability.attach_executor(&mut manager);
                }
                manager.start().map_err(|e| EnvError::Io {
                    path: "executors".into(),
                    message: e.to_string(),
                })?;
                Some(Arc::new(Executors(Mutex::new(Some(manager)))))
            }
            _ => None,
        };
        let env = OanixEnv {
            id: Uuid::new_v4(),
            namespace,
            state: Arc::new((Mutex::new(EnvStatus::Created), Condvar::new())),
            wiring: Arc::new(wiring),
            limits: self.limits,
            agent: self.agent,
            runtime: self.runtime,
            recipe,
            extension: self.extension,
            #[cfg(feature = "executor")]
            executors,
        };
        if let Some(hook) = self.on_build {
            hook(&env);
        }
        env.log(LogLevel::Info, "environment created", None);
        if let Some(from) = self.started_from {
            env.log(
                LogLevel::Info,
                "environment started from a snapshot",
                Some(from),
            );
        }
        Ok(env)
    }
}

/// An agent's world: its namespace, its lifecycle, and the services wired
/// into it.
///
/// Cheap to share: clones are handles on the same environment.
#[derive(Clone)]
pub struct OanixEnv {
    id: Uuid,
    namespace: Namespace,
    state: Arc<(Mutex<EnvStatus>, Condvar)>,
    wiring: Arc<Wiring>,
    limits: EnvLimits,
    agent: AgentSpec,
    runtime: Option<Arc<WasiRuntime>>,
    /// How it was built: what a snapshot takes and a fork builds again.
    pub(crate) recipe: Arc<Recipe>,
    /// What a feature of a sibling module keeps with the environment (its
    /// checkpoints).
    pub(crate) extension: Option<Arc<dyn std::any::Any + Send + Sync>>,
    #[cfg(feature = "executor")]
    executors: Option<Arc<Executors>>,
}

impl std::fmt::Debug for OanixEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OanixEnv")
            .field("id", &self.id)
            .field("status", &self.status())
            .field("namespace", &self.namespace)
            .finish()
    }
}

/// The runtime environments share unless given one.
fn shared_runtime() -> Result<Arc<WasiRuntime>> {
    static SHARED: OnceLock<Arc<WasiRuntime>> = OnceLock::new();
    if let Some(rt) = SHARED.get() {
        return Ok(Arc::clone(rt));
    }
    let rt = Arc::new(WasiRuntime::new()?);
    Ok(Arc::clone(SHARED.get_or_init(|| rt)))
}

impl OanixEnv {
    /// The environment's id.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The status cell, shared (for what must read the status without
    /// holding the environment).
    pub(crate) fn shared_state(&self) -> Arc<(Mutex<EnvStatus>, Condvar)> {
        Arc::clone(&self.state)
    }

    /// Its status now.
    pub fn status(&self) -> EnvStatus {
        self.lock().clone()
    }

    /// Whether it has completed or failed.
    pub fn is_finished(&self) -> bool {
        self.lock().is_finished()
    }

    /// The namespace the agent sees.
    pub fn namespace(&self) -> &Namespace {
        &self.namespace
    }

    /// The namespace as a replayable mount table.
    pub fn mount_table(&self) -> String {
        self.namespace.mount_table()
    }

    /// The limits of its runs.
    pub fn limits(&self) -> EnvLimits {
        self.limits
    }

    /// The agent it was given, if any.
    pub fn agent(&self) -> &AgentSpec {
        &self.agent
    }

    /// Its task, if a mount declared one.
    pub fn task(&self) -> Option<&TaskFs> {
        self.wiring.task.as_ref().map(|(_, t)| t)
    }

    /// Its logs service, if a mount declared one.
    pub fn logs(&self) -> Option<&LogsFs> {
        self.wiring.logs.as_ref().map(|(_, l)| l)
    }

    /// Its HTTP capability, if a mount declared one.
    pub fn http(&self) -> Option<&HttpFs> {
        self.wiring.http.as_ref().map(|(_, h)| h)
    }

    /// Its WebSocket capability, if a mount declared one.
    pub fn ws(&self) -> Option<&WsFs> {
        self.wiring.ws.as_ref().map(|(_, w)| w)
    }

    /// Its Nostr capability, if a mount declared one.
    #[cfg(feature = "nostr")]
    pub fn nostr(&self) -> Option<&oanix_caps::NostrFs> {
        self.wiring.nostr.as_ref().map(|(_, n)| n)
    }

    /// The review side of its copy-on-write workspace, if a mount declared
    /// one: the agent's changes to read, commit or discard.
    pub fn workspace(&self) -> Option<&dyn WorkspaceReview> {
        self.wiring.workspace.as_ref().map(|(_, w)| w.as_ref())
    }

    /// Every capability it wires, with the path of the mount that declared
    /// it, in mount order: the HTTP, WebSocket and Nostr capabilities and
    /// the host's own.
    pub fn capabilities(&self) -> impl Iterator<Item = (&str, &dyn EnvCapability)> {
        self.wiring
            .capabilities
            .iter()
            .map(|(path, c)| (path.as_str(), c.as_ref()))
    }

    /// The first capability declared by the mount at `path`, if any.
    pub fn capability(&self, path: &str) -> Option<&dyn EnvCapability> {
        let path = oanix_vfs::path::normalize(path).ok()?;
        self.capabilities()
            .find(|(at, _)| *at == path.as_ref())
            .map(|(_, c)| c)
    }

    fn lock(&self) -> MutexGuard<'_, EnvStatus> {
        // Status changes are single assignments: a poisoned lock is consistent.
        self.state.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn log(&self, level: LogLevel, message: &str, data: Option<serde_json::Value>) {
        if let Some((_, logs)) = &self.wiring.logs {
            let mut data = data.unwrap_or_else(|| serde_json::json!({}));
            if let Some(map) = data.as_object_mut() {
                map.insert("env".into(), serde_json::json!(self.id.to_string()));
            }
            logs.log_event(LogEvent::with_data(level, message, data));
        }
    }

    fn transition(&self, to: EnvStatus) -> Result<()> {
        let mut status = self.lock();
        let allowed = matches!(
            (&*status, &to),
            (EnvStatus::Created, EnvStatus::Running)
                | (
                    EnvStatus::Created | EnvStatus::Running,
                    EnvStatus::Failed { .. }
                )
                | (EnvStatus::Running, EnvStatus::Completed { .. })
        );
        if !allowed {
            return Err(EnvError::IllegalTransition {
                id: self.id.to_string(),
                from: status.clone(),
                to: to.name().to_owned(),
            });
        }
        *status = to.clone();
        drop(status);
        self.state.1.notify_all();
        #[cfg(feature = "executor")]
        if to.is_finished()
            && let Some(executors) = &self.executors
            && let Err(e) = executors.shutdown()
        {
            self.log(LogLevel::Warn, &format!("executors: {e}"), None);
        }
        let data = serde_json::to_value(&to).ok();
        self.log(
            if matches!(to, EnvStatus::Failed { .. }) {
                LogLevel::Error
            } else {
                LogLevel::Info
            },
            &format!("environment {}", to.name()),
            data,
        );
        Ok(())
    }

    /// `Created → Running`; the task (if any) starts running too.
    pub fn set_running(&self) -> Result<()> {
        self.transition(EnvStatus::Running)?;
        if let Some(task) = self.task() {
            task.set_running()?;
        }
        Ok(())
    }

    /// `Running → Completed`: the agent exited with `exit_code`. The task
    /// completes for exit code 0 and fails otherwise.
    pub fn set_completed(&self, exit_code: i32) -> Result<()> {
        self.transition(EnvStatus::Completed { exit_code })?;
        if let Some(task) = self.task()
            && !task.is_finished()
        {
            if exit_code == 0 {
                task.set_completed()?;
            } else {
                task.set_failed(format!("the agent exited with code {exit_code}"))?;
            }
        }
        Ok(())
    }

    /// `Created | Running → Failed`; the task fails too.
    pub fn set_failed(&self, error: impl Into<String>) -> Result<()> {
        let error = error.into();
        self.transition(EnvStatus::Failed {
            error: error.clone(),
        })?;
        if let Some(task) = self.task()
            && !task.is_finished()
        {
            task.set_failed(error)?;
        }
        Ok(())
    }

    /// Waits until the environment has finished, at most `timeout` (cut short
    /// by the caller's deadline); returns the status then.
    pub fn wait_finished(&self, timeout: Duration) -> EnvStatus {
        let limit = deadline::bound(timeout);
        let start = Instant::now();
        let mut status = self.lock();
        while !status.is_finished() {
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                break;
            }
            status = self
                .state
                .1
                .wait_timeout(status, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        status.clone()
    }

    /// A run configuration with the environment's limits and its agent's
    /// arguments and environment variables.
    pub fn run_config(&self) -> RunConfig {
        let mut config = RunConfig::new();
        if let Some(module) = &self.agent.module
            && let Some(name) = module.file_name()
        {
            config = config.arg0(name.to_string_lossy());
        }
        config = config.args(self.agent.args.iter().cloned());
        for (k, v) in &self.agent.env {
            config = config.env(k, v);
        }
        if let Some(t) = self.limits.timeout {
            config = config.timeout(t);
        }
        if let Some(m) = self.limits.memory_bytes {
            config = config.memory_limit(m);
        }
        if let Some(f) = self.limits.fuel {
            config = config.fuel(f);
        }
        if let Some(n) = self.limits.descriptors {
            config = config.max_descriptors(n);
        }
        if let Some(n) = self.limits.io_bytes {
            config = config.max_io_bytes(n);
        }
        config
    }

    /// Runs a WASI module in the environment's namespace on this thread.
    ///
    /// The status follows the run: `Running` while it runs (it must start
    /// `Created`), then `Completed` with the exit code, or `Failed` with the
    /// trap (timeout, fuel, memory...). The guest's output also goes to
    /// `/logs` when a `LogsFs` is mounted there.
    pub fn run_wasi(&self, wasm: &[u8], config: RunConfig) -> Result<RunResult> {
        let runtime = match &self.runtime {
            Some(rt) => Arc::clone(rt),
            None => shared_runtime()?,
        };
        self.set_running()?;
        let result = match runtime.run_bytes(wasm, &self.namespace, &config) {
            Ok(r) => r,
            Err(e) => {
                self.set_failed(e.to_string())?;
                return Err(e.into());
            }
        };
        let data = serde_json::json!({
            "exit_code": result.exit_code,
            "duration_ms": result.duration.as_secs_f64() * 1e3,
            "trap": result.trap.as_ref().map(|t| t.to_string()),
        });
        self.log(LogLevel::Info, "run finished", Some(data));
        match (&result.trap, result.exit_code) {
            (Some(trap), _) => self.set_failed(trap.to_string())?,
            (None, Some(code)) => {
                self.set_completed(i32::try_from(code).unwrap_or(i32::MAX))?;
            }
            (None, None) => self.set_completed(0)?,
        }
        Ok(result)
    }

    /// Runs a WASI module in the environment's namespace without touching
    /// its lifecycle: for schedulers that run several jobs in one
    /// environment. The guest's output still goes to `/logs`.
    pub fn execute_wasi(&self, wasm: &[u8], config: &RunConfig) -> Result<RunResult> {
        let runtime = match &self.runtime {
            Some(rt) => Arc::clone(rt),
            None => shared_runtime()?,
        };
        Ok(runtime.run_bytes(wasm, &self.namespace, config)?)
    }

    /// Runs the agent the environment was given ([`AgentSpec`]) with
    /// [`run_config`](Self::run_config).
    ///
    /// A native command is not run here: `oanix-native` runs it (this
    /// answers [`EnvError::Manifest`] saying so).
    pub fn run_agent(&self) -> Result<RunResult> {
        let Some(module) = &self.agent.module else {
            let message = if self.agent.is_native() {
                "the agent is a native command, which oanix-native runs".into()
            } else {
                "no agent module was given".into()
            };
            return Err(EnvError::Manifest {
                source_name: "environment".into(),
                message,
            });
        };
        let wasm = std::fs::read(module).map_err(|e| EnvError::Io {
            path: module.display().to_string(),
            message: e.to_string(),
        })?;
        self.run_wasi(&wasm, self.run_config())
    }
}
