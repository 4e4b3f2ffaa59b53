//! `EnvPlan`: an environment described as data — what a manifest says, or
//! what the `oanix` command's flags say — and the one assembly that turns
//! it into an [`EnvBuilder`].
//!
//! A manifest is read into a plan ([`EnvPlan::from_manifest`], see the
//! [`manifest`](crate::manifest) module for the format); the `oanix`
//! command translates its flags into the same plan (starting from a
//! manifest's, or from [`EnvPlan::new`]); [`EnvPlan::builder`] builds
//! either. So the default mounts (`/task` when there is a task, `/logs`,
//! `/tmp`), the workspace modes, the capabilities' policies and the
//! limits mean the same wherever they come from.
//!
//! Every item of a plan can carry an [`Origin`]: where it was written.
//! An error about an item names it there — a manifest's key and line, or
//! the flag it came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oanix_caps::{CapError, EgressPolicy, HostPattern, HttpFs, HttpMethod, WsFs};
use oanix_prims::{MemFs, MemLimits};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, WorkspaceFs, WorkspaceOverlay};
use oanix_vfs::MountFlags;
use serde::Deserialize;

use crate::env::{AgentSpec, EnvBuilder, EnvLimits};
use crate::error::{EnvError, Result};

/// How a host directory is mounted as a workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceMode {
    /// Copy-on-write (the default): the agent changes a private layer in
    /// memory, and the host reviews the changes afterwards, to apply or
    /// discard them. The directory is never written during the run.
    #[default]
    Cow,
    /// Read-only: every write is refused.
    Ro,
    /// Read-write on the real directory: the agent's writes land there at
    /// once. Only by explicit choice.
    Rw,
}

impl WorkspaceMode {
    /// The manifest's name of the mode: `cow`, `ro` or `rw`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cow => "cow",
            Self::Ro => "ro",
            Self::Rw => "rw",
        }
    }
}

impl fmt::Display for WorkspaceMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an item of a plan was written, for its errors.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// A key of a manifest: errors are [`EnvError::Manifest`] naming the
    /// manifest, the key and the line.
    Manifest {
        /// The manifest (a file name, or `<string>`).
        source_name: String,
        /// The line of the key, when known.
        line: Option<usize>,
    },
    /// Something the host gave (a command-line flag, as written): errors
    /// are [`EnvError::Plan`] naming it.
    Given(String),
}

impl Origin {
    /// An origin given by the host, described by `item` (`--workspace DIR`).
    pub fn given(item: impl Into<String>) -> Self {
        Self::Given(item.into())
    }

    /// The error `message` about `key`, named at this origin.
    pub fn error(&self, key: &str, message: impl fmt::Display) -> EnvError {
        match self {
            Self::Manifest { source_name, line } => EnvError::Manifest {
                source_name: source_name.clone(),
                message: match line {
                    Some(line) => format!("`{key}` (line {line}): {message}"),
                    None => format!("`{key}`: {message}"),
                },
            },
            Self::Given(item) => EnvError::Plan {
                item: item.clone(),
                message: message.to_string(),
            },
        }
    }
}

/// The task of a plan: mounted at `/task`.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskPlan {
    /// What to do.
    pub spec: TaskSpec,
    /// Tags, timeout and the like.
    pub meta: TaskMeta,
}

/// What a mount of a plan serves.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MountSource {
    /// An empty in-memory file system.
    MemFs {
        /// Its capacity in MiB (by default the plan's `limits.memfs_mb`).
        capacity_mb: Option<u64>,
    },
    /// A host directory.
    Workspace {
        /// The directory (absolute, or relative to the process's working
        /// directory).
        host: PathBuf,
        /// How it is mounted (copy-on-write by default).
        mode: WorkspaceMode,
        /// The capacity in MiB of a copy-on-write layer (by default the
        /// plan's `limits.overlay_mb`); the other modes take none.
        capacity_mb: Option<u64>,
    },
}

/// A mount of a plan (a manifest's `[[mount]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MountPlan {
    /// Where it is mounted.
    pub path: String,
    /// What it serves.
    pub source: MountSource,
    /// Plan 9 bind flags (replace by default).
    pub flags: MountFlags,
}

impl MountPlan {
    /// An in-memory file system at `path`, of the default capacity.
    pub fn memfs(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            source: MountSource::MemFs { capacity_mb: None },
            flags: MountFlags::replace(),
        }
    }

    /// The host directory `host` at `path`, mounted in `mode`.
    pub fn workspace(
        path: impl Into<String>,
        host: impl Into<PathBuf>,
        mode: WorkspaceMode,
    ) -> Self {
        Self {
            path: path.into(),
            source: MountSource::Workspace {
                host: host.into(),
                mode,
                capacity_mb: None,
            },
            flags: MountFlags::replace(),
        }
    }

    /// The same, with bind flags.
    #[must_use]
    pub fn with_flags(mut self, flags: MountFlags) -> Self {
        self.flags = flags;
        self
    }
}

/// A header a capability's executor adds for matching hosts.
#[derive(Clone, PartialEq, Eq)]
pub struct InjectPlan {
    /// The host pattern it applies to.
    pub host: String,
    /// The header name.
    pub header: String,
    /// The value (a secret: never shown by `Debug`).
    pub value: String,
}

impl fmt::Debug for InjectPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InjectPlan")
            .field("host", &self.host)
            .field("header", &self.header)
            .field("value", &"<redacted>")
            .finish()
    }
}

/// The egress policy of a capability, as a manifest's
/// `[capabilities.http]` or `[capabilities.ws]` writes it. What it leaves
/// unset is the [`EgressPolicy`] default: nothing is allowed that it does
/// not name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PolicyPlan {
    /// Host patterns allowed (`api.example.com`, `*.github.com`).
    pub allow_hosts: Vec<String>,
    /// Host patterns refused even where allowed.
    pub deny_hosts: Vec<String>,
    /// The schemes allowed (by default `https` and `wss`).
    pub schemes: Option<Vec<String>>,
    /// The ports allowed (by default the schemes' own).
    pub ports: Option<Vec<u16>>,
    /// The HTTP methods allowed (by default any).
    pub methods: Option<Vec<HttpMethod>>,
    /// The largest request body, in bytes.
    pub max_request_bytes: Option<u64>,
    /// The largest response body, in bytes.
    pub max_response_bytes: Option<u64>,
    /// Whether loopback addresses may be reached.
    pub allow_loopback: bool,
    /// Whether private addresses may be reached.
    pub allow_private: bool,
    /// Headers injected by the executor.
    pub inject: Vec<InjectPlan>,
    /// Secrets for native agents, substituted by the egress proxy (HTTP
    /// only).
    pub secrets: Vec<crate::env::SecretPlan>,
    /// PEM files of further certificate authorities the executors trust
    /// for HTTPS and WSS (a private registry, a test server), beside the
    /// usual roots.
    pub trust: Vec<std::path::PathBuf>,
}

impl PolicyPlan {
    /// A policy allowing `hosts` (patterns) and nothing else.
    pub fn allow_hosts<I, S>(hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            allow_hosts: hosts.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}

/// The Nostr capability of a plan.
#[cfg(feature = "nostr")]
#[derive(Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct NostrPlan {
    /// The relays (`wss://relay.example.com`): the only ones its executor
    /// may reach.
    pub relays: Vec<String>,
    /// The secret key; a fresh one when `None` (never shown by `Debug`).
    pub secret_key: Option<[u8; 32]>,
}

#[cfg(feature = "nostr")]
impl fmt::Debug for NostrPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NostrPlan")
            .field("relays", &self.relays)
            .field("secret_key", &self.secret_key.map(|_| "<redacted>"))
            .finish()
    }
}

/// The limits of a plan, in a manifest's units (its `[limits]`): see
/// [`EnvLimits`] for what each bounds and the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct LimitsPlan {
    /// Wall-clock limit of a run, in seconds (positive).
    pub timeout_secs: Option<f64>,
    /// Largest linear memory of a guest, in MiB.
    pub memory_mb: Option<u64>,
    /// Fuel budget of a run.
    pub fuel: Option<u64>,
    /// Most descriptors a guest holds open at once (at least 3).
    pub descriptors: Option<u64>,
    /// Most MiB one read or write call of a guest moves (at least 1).
    pub io_mb: Option<u64>,
    /// Capacity of `/tmp`, in MiB.
    pub tmp_mb: Option<u64>,
    /// Default capacity of `memfs` mounts, in MiB.
    pub memfs_mb: Option<u64>,
    /// Default capacity of a copy-on-write workspace's layer, in MiB.
    pub overlay_mb: Option<u64>,
}

/// An environment described as data (see the [module docs](self)).
///
/// Keys name its items the way a manifest does: `task`, `agent.module`,
/// `mount[0].host`, `capabilities.http.allow_hosts[1]`, `limits.io_mb`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct EnvPlan {
    /// A snapshot file (`DIR/NAME.snap`, saved by
    /// [`EnvSnapshot::save_file`](crate::EnvSnapshot::save_file)) the
    /// environment starts from: its mounts come first — the task, the
    /// logs, `/tmp` and every mount it kept, as a fork of it — then the
    /// plan's own: a `[task]` replaces the snapshot's task, a mount at a
    /// path the snapshot has replaces it, and the capabilities, limits and
    /// agent are the plan's (a snapshot keeps no capability).
    pub from: Option<PathBuf>,
    /// The task, mounted at `/task`.
    pub task: Option<TaskPlan>,
    /// The agent.
    pub agent: AgentSpec,
    /// The mounts, in order, after `/task`, `/logs` and `/tmp`.
    pub mounts: Vec<MountPlan>,
    /// The HTTP capability, mounted at `/cap/http`.
    pub http: Option<PolicyPlan>,
    /// The WebSocket capability, mounted at `/cap/ws`.
    pub ws: Option<PolicyPlan>,
    /// The Nostr capability, mounted at `/cap/nostr`.
    #[cfg(feature = "nostr")]
    pub nostr: Option<NostrPlan>,
    /// The limits.
    pub limits: LimitsPlan,
    /// Checkpoints the agent may ask for through `/env/ctl`.
    pub checkpoints: Option<crate::CheckpointPolicy>,
    origins: BTreeMap<String, Origin>,
}

/// Whether `key` is `prefix` or an item below it.
fn is_within(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// The key one level up (`mount[0].host` → `mount[0]` → `mount`).
fn parent_key(key: &str) -> Option<&str> {
    let cut = key.rfind(['.', '['])?;
    Some(&key[..cut])
}

/// The index of a `mount[N]…` key.
fn mount_index(key: &str) -> Option<usize> {
    let rest = key.strip_prefix("mount[")?;
    rest.get(..rest.find(']')?)?.parse().ok()
}

impl EnvPlan {
    /// An empty plan: built, it has `/logs` and `/tmp` and nothing else.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records where `key` (and everything below it) was written,
    /// forgetting what was recorded below it before.
    pub fn set_origin(&mut self, key: &str, origin: Origin) {
        self.origins.retain(|k, _| !is_within(k, key));
        self.origins.insert(key.to_owned(), origin);
    }

    /// Where `key` was written: its own origin or that of the nearest item
    /// above it.
    pub fn origin(&self, key: &str) -> Option<&Origin> {
        let mut cur = Some(key);
        while let Some(k) = cur {
            if let Some(o) = self.origins.get(k) {
                return Some(o);
            }
            cur = parent_key(k);
        }
        None
    }

    /// The error `message` about `key`, named where `key` was written (the
    /// key itself when the plan does not know).
    pub fn error(&self, key: &str, message: impl fmt::Display) -> EnvError {
        match self.origin(key) {
            Some(origin) => origin.error(key, message),
            None => EnvError::Plan {
                item: format!("`{key}`"),
                message: message.to_string(),
            },
        }
    }

    /// Mounts `mount` in place of every mount at the same path (or after
    /// the others if there is none), written at `origin`.
    pub fn replace_mount(&mut self, mount: MountPlan, origin: Origin) {
        let same = |m: &MountPlan| match (
            oanix_vfs::path::normalize(&m.path),
            oanix_vfs::path::normalize(&mount.path),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => m.path == mount.path,
        };
        let at: Vec<usize> = (0..self.mounts.len())
            .filter(|&i| same(&self.mounts[i]))
            .collect();
        let index = match at.split_first() {
            Some((&first, rest)) => {
                for &i in rest.iter().rev() {
                    self.remove_mount(i);
                }
                self.mounts[first] = mount;
                first
            }
            None => {
                self.mounts.push(mount);
                self.mounts.len() - 1
            }
        };
        self.set_origin(&format!("mount[{index}]"), origin);
    }

    /// Removes mount `i`, keeping the origins of the others.
    fn remove_mount(&mut self, i: usize) {
        self.mounts.remove(i);
        let origins = std::mem::take(&mut self.origins);
        for (key, origin) in origins {
            match mount_index(&key) {
                Some(j) if j == i => {}
                Some(j) if j > i => {
                    let rest = &key[format!("mount[{j}]").len()..];
                    self.origins
                        .insert(format!("mount[{}]{rest}", j - 1), origin);
                }
                _ => {
                    self.origins.insert(key, origin);
                }
            }
        }
    }

    /// The limits, checked and in bytes.
    pub fn env_limits(&self) -> Result<EnvLimits> {
        let l = &self.limits;
        let timeout =
            match l.timeout_secs {
                Some(t) if !(t.is_finite() && t > 0.0) => {
                    return Err(self.error(
                        "limits.timeout_secs",
                        "expected a positive number of seconds",
                    ));
                }
                Some(t) => Some(Duration::try_from_secs_f64(t).map_err(|_| {
                    self.error("limits.timeout_secs", "too large a number of seconds")
                })?),
                None => None,
            };
        let size = |key: &str, n: Option<u64>, unit: u64| -> Result<Option<usize>> {
            n.map(|n| {
                usize::try_from(n.saturating_mul(unit))
                    .map_err(|_| self.error(key, "too large for this machine"))
            })
            .transpose()
        };
        let mb = |n: Option<u64>| n.map(|n| n.saturating_mul(1 << 20));
        let descriptors = size("limits.descriptors", l.descriptors, 1)?;
        if descriptors.is_some_and(|n| n < 3) {
            return Err(self.error(
                "limits.descriptors",
                "a guest needs at least 3 descriptors (its standard streams)",
            ));
        }
        let io_bytes = size("limits.io_mb", l.io_mb, 1 << 20)?;
        if io_bytes == Some(0) {
            return Err(self.error("limits.io_mb", "expected at least 1"));
        }
        Ok(EnvLimits {
            timeout,
            memory_bytes: size("limits.memory_mb", l.memory_mb, 1 << 20)?,
            fuel: l.fuel,
            descriptors,
            io_bytes,
            tmp_bytes: mb(l.tmp_mb),
            memfs_bytes: mb(l.memfs_mb),
            overlay_bytes: mb(l.overlay_mb),
        })
    }

    /// The builder of the environment the plan describes: `/task` (when
    /// there is a task), `/logs` (a `LogsFs`), `/tmp` (a `MemFs` of
    /// `limits.tmp_mb`), the mounts in order, then `/cap/http`, `/cap/ws`
    /// and `/cap/nostr` for the capabilities, with the limits and the
    /// agent. With the `executor` feature, executors are attached: the
    /// capabilities do real, policy-checked network I/O.
    ///
    /// The builder can take more mounts before it is built; each call makes
    /// fresh services, so one plan builds many environments.
    ///
    /// # Errors
    ///
    /// An invalid item, named where it was written ([`Origin`]): a mount
    /// path, a host directory that is not one, a capacity on a mount that
    /// has none, a host pattern or injected header that is malformed, a
    /// relay, a limit, an agent module that is not a file.
    pub fn builder(&self) -> Result<EnvBuilder> {
        match &self.from {
            Some(from) => {
                let snapshot = crate::EnvSnapshot::load_file(from)
                    .map_err(|e| self.error("from", format!("{}: {e}", from.display())))?;
                self.builder_from(&snapshot)
            }
            None => self.builder_on(None),
        }
    }

    /// [`builder`](Self::builder) over `snapshot` (loaded once for many
    /// environments) in place of the plan's [`from`](Self::from).
    ///
    /// # Errors
    /// As [`builder`](Self::builder), and a mount of the snapshot that
    /// cannot be restored.
    pub fn builder_from(&self, snapshot: &crate::EnvSnapshot) -> Result<EnvBuilder> {
        self.builder_on(Some(snapshot))
    }

    fn builder_on(&self, snapshot: Option<&crate::EnvSnapshot>) -> Result<EnvBuilder> {
        let limits = self.env_limits()?;
        let mut b = match snapshot {
            Some(snapshot) => snapshot
                .builder(&crate::ForkOptions::default())
                .map_err(|e| self.error("from", e))?
                .limits(limits),
            None => EnvBuilder::new().limits(limits),
        };
        if let Some(task) = &self.task {
            b = b.mount("/task", TaskFs::new(task.spec.clone(), task.meta.clone()));
        }
        if let Some(policy) = &self.checkpoints {
            b = b.checkpoints(policy.clone());
        }
        if snapshot.is_none() {
            b = b.mount("/logs", LogsFs::new()).mount(
                "/tmp",
                MemFs::with_limits(MemLimits::capacity(limits.tmp_capacity())),
            );
        }
        for (i, m) in self.mounts.iter().enumerate() {
            b = self.mount(b, i, m, &limits)?;
        }
        // Capabilities are carried out: executors start with the environment.
        #[cfg(feature = "executor")]
        {
            let mut config = oanix_exec::ExecutorConfig::builder();
            for (key, p) in [
                ("capabilities.http", &self.http),
                ("capabilities.ws", &self.ws),
            ] {
                for (i, path) in p.iter().flat_map(|p| p.trust.iter()).enumerate() {
                    for der in self.certificates(&format!("{key}.trust[{i}]"), path)? {
                        config = config.add_root_certificate(der);
                    }
                }
            }
            b = b.executors(config.build());
        }
        if let Some(p) = &self.http {
            let policy = self.policy("capabilities.http", p)?;
            b = b.mount("/cap/http", HttpFs::builder().policy(policy).build());
        }
        if let Some(p) = &self.ws {
            let policy = self.policy("capabilities.ws", p)?;
            b = b.mount("/cap/ws", WsFs::builder().policy(policy).build());
        }
        #[cfg(feature = "nostr")]
        if let Some(n) = &self.nostr {
            b = b.mount("/cap/nostr", self.nostr_fs(n)?);
        }
        if let Some(module) = &self.agent.module
            && !module.is_file()
        {
            return Err(self.error(
                "agent.module",
                format!("{} is not a file", module.display()),
            ));
        }
        let mut agent = self.agent.clone();
        if let Some(p) = &self.http {
            agent.sandbox.secrets.clone_from(&p.secrets);
        }
        Ok(b.agent(agent))
    }

    /// The certificates (DER) of the PEM file `path`, named `key`.
    #[cfg(feature = "executor")]
    fn certificates(&self, key: &str, path: &std::path::Path) -> Result<Vec<Vec<u8>>> {
        use base64::Engine as _;
        let text = std::fs::read_to_string(path)
            .map_err(|e| self.error(key, format!("{}: {e}", path.display())))?;
        let mut found = Vec::new();
        let mut rest = text.as_str();
        while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
            let body = &rest[start + "-----BEGIN CERTIFICATE-----".len()..];
            let Some(end) = body.find("-----END CERTIFICATE-----") else {
                return Err(self.error(
                    key,
                    format!("{}: a certificate is not terminated", path.display()),
                ));
            };
            let b64: String = body[..end].split_whitespace().collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| self.error(key, format!("{}: {e}", path.display())))?;
            found.push(der);
            rest = &body[end..];
        }
        if found.is_empty() {
            return Err(self.error(key, format!("{} holds no PEM certificate", path.display())));
        }
        Ok(found)
    }

    /// Adds mount `i` to `b`.
    fn mount(
        &self,
        b: EnvBuilder,
        i: usize,
        m: &MountPlan,
        limits: &EnvLimits,
    ) -> Result<EnvBuilder> {
        let key = format!("mount[{i}]");
        let path = m.path.as_str();
        if oanix_vfs::path::normalize(path).is_err() {
            return Err(self.error(
                &format!("{key}.path"),
                format!("{path:?} is not a valid path"),
            ));
        }
        let mb = |n: Option<u64>| n.map(|n| n.saturating_mul(1 << 20));
        Ok(match &m.source {
            MountSource::MemFs { capacity_mb } => {
                let bytes = mb(*capacity_mb).unwrap_or(limits.memfs_capacity());
                b.mount_with(
                    path,
                    MemFs::with_limits(MemLimits::capacity(bytes)),
                    m.flags,
                )
            }
            MountSource::Workspace {
                host,
                mode,
                capacity_mb,
            } => {
                let host_key = format!("{key}.host");
                if !host.is_dir() {
                    return Err(
                        self.error(&host_key, format!("{} is not a directory", host.display()))
                    );
                }
                if capacity_mb.is_some() && *mode != WorkspaceMode::Cow {
                    return Err(self.error(
                        &format!("{key}.capacity_mb"),
                        "only a memfs or a copy-on-write workspace mount has a capacity",
                    ));
                }
                let wrap = |e: oanix_vfs::FsError| self.error(&host_key, e);
                let dir: &Path = host;
                match mode {
                    WorkspaceMode::Cow => {
                        let bytes = mb(*capacity_mb).unwrap_or(limits.overlay_capacity());
                        let overlay = WorkspaceOverlay::with_capacity(dir, bytes).map_err(wrap)?;
                        b.mount_with(path, overlay, m.flags)
                    }
                    WorkspaceMode::Ro => {
                        b.mount_with(path, WorkspaceFs::readonly(dir).map_err(wrap)?, m.flags)
                    }
                    WorkspaceMode::Rw => {
                        b.mount_with(path, WorkspaceFs::new(dir).map_err(wrap)?, m.flags)
                    }
                }
            }
        })
    }

    /// The egress policy `p` describes; an invalid part is named by its key.
    /// The egress policy of the plan's `[capabilities.http]`, checked as
    /// [`builder`](Self::builder) checks it: for a host that changes a
    /// running environment's policy (`HttpFs::set_policy`). `None` when the
    /// plan names no HTTP capability.
    ///
    /// # Errors
    ///
    /// A malformed item, named where it was written.
    pub fn http_policy(&self) -> Result<Option<EgressPolicy>> {
        self.http
            .as_ref()
            .map(|p| self.policy("capabilities.http", p))
            .transpose()
    }

    fn policy(&self, key: &str, p: &PolicyPlan) -> Result<EgressPolicy> {
        for (list, patterns) in [
            ("allow_hosts", &p.allow_hosts),
            ("deny_hosts", &p.deny_hosts),
        ] {
            for (i, pattern) in patterns.iter().enumerate() {
                HostPattern::new(pattern)
                    .map_err(|e| self.error(&format!("{key}.{list}[{i}]"), e))?;
            }
        }
        for (i, inject) in p.inject.iter().enumerate() {
            let at = format!("{key}.inject[{i}]");
            HostPattern::new(&inject.host).map_err(|e| self.error(&format!("{at}.host"), e))?;
            EgressPolicy::builder()
                .inject_header(&inject.host, &inject.header, inject.value.clone())
                .build()
                .map_err(|e| self.error(&format!("{at}.header"), e))?;
        }
        let mut policy = EgressPolicy::allow_hosts(p.allow_hosts.iter())
            .deny_hosts(p.deny_hosts.iter())
            .allow_loopback(p.allow_loopback)
            .allow_private(p.allow_private);
        if let Some(schemes) = &p.schemes {
            policy = policy.schemes(schemes.iter());
        }
        if let Some(ports) = &p.ports {
            policy = policy.ports(ports.iter().copied());
        }
        if let Some(methods) = &p.methods {
            policy = policy.methods(methods.iter().copied());
        }
        if let Some(n) = p.max_request_bytes {
            policy = policy.max_request_body(n);
        }
        if let Some(n) = p.max_response_bytes {
            policy = policy.max_response_body(n);
        }
        for inject in &p.inject {
            policy = policy.inject_header(&inject.host, &inject.header, inject.value.clone());
        }
        policy.build().map_err(|e| {
            let part = match &e {
                CapError::InvalidPolicy {
                    setting: "scheme", ..
                } => ".schemes",
                CapError::InvalidPolicy {
                    setting: "port", ..
                } => ".ports",
                _ => "",
            };
            self.error(&format!("{key}{part}"), e)
        })
    }

    /// The Nostr capability `n` describes, whose policy allows its relays.
    #[cfg(feature = "nostr")]
    fn nostr_fs(&self, n: &NostrPlan) -> Result<oanix_caps::NostrFs> {
        let key = "capabilities.nostr";
        let builder = oanix_caps::NostrFs::builder().policy(self.relay_policy(key, &n.relays)?);
        let nostr = match n.secret_key {
            Some(secret) => builder.build(secret),
            None => builder.generate(),
        }
        .map_err(|e| self.error(&format!("{key}.secret_key_env"), e))?;
        for (i, relay) in n.relays.iter().enumerate() {
            nostr
                .add_relay(relay)
                .map_err(|e| self.error(&format!("{key}.relays[{i}]"), e))?;
        }
        Ok(nostr)
    }

    /// The policy allowing the schemes, hosts and ports of `relays` (an
    /// address literal is allowed whatever its class: the host named it);
    /// with no relays, nothing.
    #[cfg(feature = "nostr")]
    fn relay_policy(&self, key: &str, relays: &[String]) -> Result<EgressPolicy> {
        use std::net::IpAddr;

        use oanix_caps::policy::Cidr;
        use url::Host;

        let mut schemes = std::collections::BTreeSet::new();
        let mut hosts = Vec::new();
        let mut ports = std::collections::BTreeSet::new();
        let mut policy = EgressPolicy::builder();
        for (i, relay) in relays.iter().enumerate() {
            let at = format!("{key}.relays[{i}]");
            let url = url::Url::parse(relay)
                .map_err(|e| self.error(&at, format!("`{relay}` is not a URL ({e})")))?;
            if !matches!(url.scheme(), "ws" | "wss") {
                return Err(self.error(&at, format!("`{relay}`: expected a ws:// or wss:// URL")));
            }
            let ip = match url.host() {
                Some(Host::Domain(d)) => {
                    hosts.push(d.to_owned());
                    None
                }
                Some(Host::Ipv4(a)) => Some((IpAddr::V4(a), 32)),
                Some(Host::Ipv6(a)) => Some((IpAddr::V6(a), 128)),
                None => return Err(self.error(&at, format!("`{relay}` names no host"))),
            };
            if let Some((ip, prefix)) = ip {
                hosts.push(ip.to_string());
                let block = Cidr::new(ip, prefix).map_err(|e| self.error(&at, e))?;
                policy = policy.allow_cidr(block);
            }
            schemes.insert(url.scheme().to_owned());
            if let Some(port) = url.port_or_known_default() {
                ports.insert(port);
            }
        }
        policy
            .schemes(schemes)
            .allow_hosts(hosts)
            .ports(ports)
            .build()
            .map_err(|e| self.error(&format!("{key}.relays"), e))
    }
}
