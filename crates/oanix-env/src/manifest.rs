//! Environment manifests: an agent's world described in TOML.
//!
//! ```toml
//! [task]
//! id = "fix-1"
//! type = "bugfix"
//! description = "make the tests pass"
//! input = { file = "src/lib.rs" }
//! timeout_secs = 60
//! tags = ["demo"]
//!
//! [agent]
//! module = "agent.wasm"          # relative to the manifest's directory
//! args = ["--verbose"]
//! env = { LANG = "C" }
//!
//! [[mount]]
//! path = "/workspace"
//! kind = "workspace"             # memfs | workspace
//! host = "project"               # relative to the manifest's directory
//! mode = "cow"                   # rw | ro | cow
//!
//! [[mount]]
//! path = "/data"
//! kind = "memfs"
//! bind = "after"                 # replace (default) | before | after
//! create = true
//! capacity_mb = 8
//!
//! [capabilities.http]
//! allow_hosts = ["api.example.com", "*.github.com"]
//! schemes = ["https"]
//! methods = ["GET", "POST"]
//! inject = [{ host = "api.example.com", header = "authorization", value_env = "API_TOKEN" }]
//!
//! [capabilities.ws]
//! allow_hosts = ["relay.example.com"]
//!
//! [limits]
//! timeout_secs = 30
//! memory_mb = 128
//! fuel = 5_000_000_000
//! descriptors = 256              # open at once per guest (default 1024)
//! io_mb = 4                      # bytes one read/write call moves (default 16)
//! tmp_mb = 32                    # capacity of /tmp (default 64)
//! memfs_mb = 16                  # default capacity of memfs mounts (64)
//! overlay_mb = 128               # what a cow workspace may hold in memory (256)
//! ```
//!
//! A `memfs` or copy-on-write workspace mount may set its own
//! `capacity_mb`. Every in-memory mount has a capacity, so that an agent
//! cannot make the host hold more than the manifest allows.
//!
//! With the `executor` feature, the capabilities of an environment built
//! from a manifest are live: executors carry out their requests.
//!
//! Every environment built from a manifest has `/logs` (a `LogsFs`) and
//! `/tmp` (a `MemFs`); `/task` when there is a `[task]`; `/cap/http`,
//! `/cap/ws` (and `/cap/nostr`) for each capability. Unknown keys and
//! values of the wrong kind are errors naming the key and the line; so are
//! host directories that do not exist and environment variables that are
//! not set.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oanix_caps::{EgressPolicy, HttpFs, HttpMethod, WsFs};
use oanix_prims::{MemFs, MemLimits};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, WorkspaceFs, WorkspaceOverlay};
use oanix_vfs::{BindMode, MountFlags};
use serde::Deserialize;
use toml::Spanned;

use crate::env::{AgentSpec, EnvBuilder, EnvLimits};
use crate::error::{EnvError, Result};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    task: Option<TaskSection>,
    agent: Option<AgentSection>,
    #[serde(default)]
    mount: Vec<MountSection>,
    #[serde(default)]
    capabilities: Capabilities,
    #[serde(default)]
    limits: LimitsSection,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskSection {
    id: String,
    #[serde(rename = "type", default)]
    task_type: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    input: Option<toml::Value>,
    timeout_secs: Option<u64>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AgentSection {
    module: Option<Spanned<String>>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum MountKind {
    Memfs,
    Workspace,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
enum WorkspaceMode {
    #[default]
    Rw,
    Ro,
    Cow,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
enum BindSection {
    #[default]
    Replace,
    Before,
    After,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MountSection {
    path: Spanned<String>,
    kind: MountKind,
    host: Option<Spanned<String>>,
    #[serde(default)]
    mode: WorkspaceMode,
    #[serde(default)]
    bind: BindSection,
    #[serde(default)]
    create: bool,
    capacity_mb: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Capabilities {
    http: Option<PolicySection>,
    ws: Option<PolicySection>,
    #[cfg(feature = "nostr")]
    nostr: Option<NostrSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySection {
    #[serde(default)]
    allow_hosts: Vec<String>,
    #[serde(default)]
    deny_hosts: Vec<String>,
    schemes: Option<Vec<String>>,
    ports: Option<Vec<u16>>,
    methods: Option<Vec<HttpMethod>>,
    max_request_bytes: Option<u64>,
    max_response_bytes: Option<u64>,
    #[serde(default)]
    allow_loopback: bool,
    #[serde(default)]
    allow_private: bool,
    #[serde(default)]
    inject: Vec<InjectSection>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectSection {
    host: String,
    header: String,
    value_env: Spanned<String>,
}

#[cfg(feature = "nostr")]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NostrSection {
    #[serde(default)]
    relays: Vec<String>,
    secret_key_env: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    timeout_secs: Option<f64>,
    memory_mb: Option<u64>,
    fuel: Option<u64>,
    descriptors: Option<u64>,
    io_mb: Option<u64>,
    tmp_mb: Option<u64>,
    memfs_mb: Option<u64>,
    overlay_mb: Option<u64>,
}

/// Reports errors with the manifest's name and line numbers.
struct Ctx<'a> {
    name: &'a str,
    text: &'a str,
    base: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Ctx<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        self.text
            .get(..span.start)
            .map_or(1, |before| before.matches('\n').count() + 1)
    }

    fn error(
        &self,
        key: &str,
        span: Option<Range<usize>>,
        message: impl std::fmt::Display,
    ) -> EnvError {
        let place = match span {
            Some(span) => format!("`{key}` (line {})", self.line(span)),
            None => format!("`{key}`"),
        };
        EnvError::Manifest {
            source_name: self.name.to_owned(),
            message: format!("{place}: {message}"),
        }
    }

    fn host_path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    fn env_var(&self, key: &str, name: &Spanned<String>) -> Result<String> {
        (self.env)(name.get_ref()).ok_or_else(|| {
            self.error(
                key,
                Some(name.span()),
                format!("the environment variable {} is not set", name.get_ref()),
            )
        })
    }

    fn limits(&self, l: &LimitsSection) -> Result<EnvLimits> {
        let timeout = match l.timeout_secs {
            Some(t) if !(t.is_finite() && t > 0.0) => {
                return Err(self.error(
                    "limits.timeout_secs",
                    None,
                    "expected a positive number of seconds",
                ));
            }
            Some(t) => Some(Duration::from_secs_f64(t)),
            None => None,
        };
        let size = |key: &str, n: Option<u64>, unit: u64| -> Result<Option<usize>> {
            n.map(|n| {
                usize::try_from(n.saturating_mul(unit))
                    .map_err(|_| self.error(key, None, "too large for this machine"))
            })
            .transpose()
        };
        let mb = |n: Option<u64>| n.map(|n| n.saturating_mul(1 << 20));
        let descriptors = size("limits.descriptors", l.descriptors, 1)?;
        if descriptors.is_some_and(|n| n < 3) {
            return Err(self.error(
                "limits.descriptors",
                None,
                "a guest needs at least 3 descriptors (its standard streams)",
            ));
        }
        let io_bytes = size("limits.io_mb", l.io_mb, 1 << 20)?;
        if io_bytes == Some(0) {
            return Err(self.error("limits.io_mb", None, "expected at least 1"));
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

    fn policy(&self, key: &str, p: &PolicySection) -> Result<EgressPolicy> {
        let mut policy = EgressPolicy::allow_hosts(p.allow_hosts.iter().map(String::as_str))
            .deny_hosts(p.deny_hosts.iter().map(String::as_str))
            .allow_loopback(p.allow_loopback)
            .allow_private(p.allow_private);
        if let Some(schemes) = &p.schemes {
            policy = policy.schemes(schemes.iter().map(String::as_str));
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
        for (i, inject) in p.inject.iter().enumerate() {
            let value = self.env_var(&format!("{key}.inject[{i}].value_env"), &inject.value_env)?;
            policy = policy.inject_header(&inject.host, &inject.header, value);
        }
        policy.validate().map_err(|e| self.error(key, None, e))?;
        Ok(policy)
    }
}

impl EnvBuilder {
    /// A builder from a manifest's text. `name` names the manifest in errors;
    /// relative host paths are taken from `base_dir`; environment variables
    /// named by the manifest are read from the process environment.
    pub fn from_manifest(text: &str, name: &str, base_dir: &Path) -> Result<Self> {
        Self::from_manifest_with_env(text, name, base_dir, &|k| std::env::var(k).ok())
    }

    /// A builder from a manifest file (relative paths in it are relative to
    /// its directory).
    pub fn from_manifest_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| EnvError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Self::from_manifest(&text, &path.display().to_string(), base)
    }

    /// [`from_manifest`](Self::from_manifest), with environment variables
    /// looked up through `env` (for tests and embedders).
    pub fn from_manifest_with_env(
        text: &str,
        name: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| EnvError::Manifest {
            source_name: name.to_owned(),
            message: describe_toml_error(&e, text),
        })?;
        let ctx = Ctx {
            name,
            text,
            base: base_dir,
            env,
        };
        let mut b = EnvBuilder::new();

        if let Some(task) = &manifest.task {
            let input = match &task.input {
                Some(v) => serde_json::to_value(v).map_err(|e| ctx.error("task.input", None, e))?,
                None => serde_json::Value::Null,
            };
            let spec = TaskSpec {
                id: task.id.clone(),
                task_type: task.task_type.clone(),
                description: task.description.clone(),
                input,
            };
            let mut meta = TaskMeta::default();
            meta.tags.clone_from(&task.tags);
            meta.timeout_secs = task.timeout_secs;
            b = b.mount("/task", TaskFs::new(spec, meta));
        }
        let limits = ctx.limits(&manifest.limits)?;
        b = b.limits(limits);
        b = b.mount("/logs", LogsFs::new()).mount(
            "/tmp",
            MemFs::with_limits(MemLimits::capacity(limits.tmp_capacity())),
        );

        for (i, m) in manifest.mount.iter().enumerate() {
            let key = format!("mount[{i}]");
            let flags = MountFlags {
                mode: match m.bind {
                    BindSection::Replace => BindMode::Replace,
                    BindSection::Before => BindMode::Before,
                    BindSection::After => BindMode::After,
                },
                create: m.create,
            };
            let path = m.path.get_ref();
            if oanix_vfs::path::normalize(path).is_err() {
                return Err(ctx.error(
                    &format!("{key}.path"),
                    Some(m.path.span()),
                    format!("{path:?} is not a valid path"),
                ));
            }
            let capacity = m.capacity_mb.map(|mb| mb.saturating_mul(1 << 20));
            b = match m.kind {
                MountKind::Memfs => {
                    if let Some(h) = &m.host {
                        return Err(ctx.error(
                            &format!("{key}.host"),
                            Some(h.span()),
                            "a memfs mount takes no host directory",
                        ));
                    }
                    let bytes = capacity.unwrap_or(limits.memfs_capacity());
                    b.mount_with(path, MemFs::with_limits(MemLimits::capacity(bytes)), flags)
                }
                MountKind::Workspace => {
                    let Some(host) = &m.host else {
                        return Err(ctx.error(
                            &format!("{key}.host"),
                            Some(m.path.span()),
                            "a workspace mount needs `host`, a directory",
                        ));
                    };
                    let dir = ctx.host_path(host.get_ref());
                    if !dir.is_dir() {
                        return Err(ctx.error(
                            &format!("{key}.host"),
                            Some(host.span()),
                            format!("{} is not a directory", dir.display()),
                        ));
                    }
                    let wrap = |e: oanix_vfs::FsError| {
                        ctx.error(&format!("{key}.host"), Some(host.span()), e)
                    };
                    if capacity.is_some() && m.mode != WorkspaceMode::Cow {
                        return Err(ctx.error(
                            &format!("{key}.capacity_mb"),
                            Some(m.path.span()),
                            "only a memfs or a copy-on-write workspace mount has a capacity",
                        ));
                    }
                    match m.mode {
                        WorkspaceMode::Rw => {
                            b.mount_with(path, WorkspaceFs::new(&dir).map_err(wrap)?, flags)
                        }
                        WorkspaceMode::Ro => {
                            b.mount_with(path, WorkspaceFs::readonly(&dir).map_err(wrap)?, flags)
                        }
                        WorkspaceMode::Cow => {
                            let bytes = capacity.unwrap_or(limits.overlay_capacity());
                            let overlay =
                                WorkspaceOverlay::with_capacity(&dir, bytes).map_err(wrap)?;
                            b.mount_with(path, overlay, flags)
                        }
                    }
                }
            };
        }

        // Capabilities are carried out: executors start with the environment.
        #[cfg(feature = "executor")]
        {
            b = b.executors(oanix_exec::ExecutorConfig::default());
        }
        if let Some(p) = &manifest.capabilities.http {
            let policy = ctx.policy("capabilities.http", p)?;
            b = b.mount("/cap/http", HttpFs::builder().policy(policy).build());
        }
        if let Some(p) = &manifest.capabilities.ws {
            let policy = ctx.policy("capabilities.ws", p)?;
            b = b.mount("/cap/ws", WsFs::builder().policy(policy).build());
        }
        #[cfg(feature = "nostr")]
        if let Some(n) = &manifest.capabilities.nostr {
            let builder = oanix_caps::NostrFs::builder();
            let nostr = match &n.secret_key_env {
                Some(var) => {
                    let hex = ctx.env_var("capabilities.nostr.secret_key_env", var)?;
                    let secret = parse_secret(&hex).ok_or_else(|| {
                        ctx.error(
                            "capabilities.nostr.secret_key_env",
                            Some(var.span()),
                            "expected 64 hexadecimal digits",
                        )
                    })?;
                    builder.build(secret)?
                }
                None => builder.generate()?,
            };
            for relay in &n.relays {
                nostr.add_relay(relay)?;
            }
            b = b.mount("/cap/nostr", nostr);
        }

        if let Some(agent) = &manifest.agent {
            let module = match &agent.module {
                Some(m) => {
                    let path = ctx.host_path(m.get_ref());
                    if !path.is_file() {
                        return Err(ctx.error(
                            "agent.module",
                            Some(m.span()),
                            format!("{} is not a file", path.display()),
                        ));
                    }
                    Some(path)
                }
                None => None,
            };
            b = b.agent(AgentSpec {
                module,
                args: agent.args.clone(),
                env: agent
                    .env
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            });
        }
        Ok(b)
    }
}

#[cfg(feature = "nostr")]
fn parse_secret(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// The TOML error as one line: what is wrong, the key when known, the line.
fn describe_toml_error(e: &toml::de::Error, text: &str) -> String {
    let line = e
        .span()
        .and_then(|s| text.get(..s.start))
        .map(|before| before.matches('\n').count() + 1);
    let message = e.message().trim().replace('\n', " ");
    match line {
        Some(line) => format!("line {line}: {message}"),
        None => message,
    }
}
