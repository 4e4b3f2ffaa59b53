//! Environment manifests: an agent's world described in TOML.
//!
//! ```toml
//! # from = "snapshots/base.snap"  # start from a saved snapshot (see EnvPlan::from)
//!
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
//! # command = ["python3", "agent.py"]  # or a native program (oanix-native)
//! args = ["--verbose"]
//! env = { LANG = "C" }
//!
//! [sandbox]                      # for a native command
//! system_paths = ["/usr", "/bin", "/lib", "/lib64", "/etc/ssl/certs"]
//! extra_paths = ["/opt/tools"]   # bound besides the system paths
//! env = { PATH = "/usr/bin:/bin" }
//! cwd = "/workspace"
//! processes = 256
//! address_space_mb = 4096
//! cpu_secs = 300
//! file_size_mb = 1024
//! open_files = 1024
//! memory_mb = 2048               # cgroup v2, where delegated
//!
//! [[mount]]
//! path = "/workspace"
//! kind = "workspace"             # memfs | workspace
//! host = "project"               # relative to the manifest's directory
//! mode = "cow"                   # cow (default) | ro | rw
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
//! # For native agents: the egress proxy puts the value of GITHUB_TOKEN (read
//! # on the host) in place of the placeholder the agent's GITHUB_TOKEN holds,
//! # in requests to these hosts only.
//! trust = ["registry-ca.pem"]   # further authorities the executors trust (PEM)
//! secrets = [{ name = "github-token", hosts = ["github.com", "*.github.com"], value_env = "GITHUB_TOKEN", env = "GITHUB_TOKEN" }]
//!
//! [capabilities.ws]
//! allow_hosts = ["relay.example.com"]
//!
//! [checkpoints]                  # /env/ctl: the agent asks for checkpoints by name
//! max = 8
//! allow_fork = false             # may the agent ask the host for forks?
//! store = "snapshots"            # each checkpoint saved there as NAME.snap
//!
//! [capabilities.nostr]           # with the `nostr` feature
//! relays = ["wss://relay.example.com"]
//! secret_key_env = "NOSTR_SECRET" # 64 hex digits; a fresh key without it
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
//! **Workspaces are copy-on-write unless the manifest says otherwise.** A
//! `workspace` mount without `mode` is `cow`: the agent's changes stay in
//! memory, and the host reviews them afterwards (`oanix run` lists them and
//! applies them only with `--apply` or on a yes at its question). `ro`
//! refuses every write; `rw` — the agent writing the real directory as it
//! runs — is only ever the manifest's explicit choice.
//!
//! **Capabilities allow what the manifest names, nothing more.** An HTTP
//! or WebSocket capability reaches the hosts of `allow_hosts` (patterns:
//! `host`, `*.suffix`, `*`) over `https`/`wss` on their default ports
//! unless `schemes` and `ports` say otherwise; a malformed pattern is an
//! error naming its line. The Nostr capability's relays are the only ones
//! its executor may reach.
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
//!
//! **A native agent** (`command`) runs in a Linux sandbox whose root is the
//! namespace, with the host's system paths read-only: by default the usual
//! tool directories that exist (`/usr`, `/bin`, `/lib`, `/etc/ssl/certs`...),
//! or exactly `system_paths`; `extra_paths` adds to either. A path that does
//! not exist is an error naming its line. `[limits] timeout_secs` bounds it
//! as it bounds a module.
//!
//! A manifest is read into an [`EnvPlan`] (the same plan the `oanix`
//! command makes of its flags), which [`EnvPlan::builder`] assembles.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use oanix_caps::HttpMethod;
use oanix_services::{TaskMeta, TaskSpec};
use oanix_vfs::{BindMode, MountFlags};
use serde::Deserialize;
use toml::Spanned;

use crate::env::{AgentSpec, EnvBuilder, SandboxSpec};
use crate::error::{EnvError, Result};
use crate::plan::{
    EnvPlan, InjectPlan, LimitsPlan, MountPlan, MountSource, Origin, PolicyPlan, TaskPlan,
    WorkspaceMode,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    from: Option<Spanned<String>>,
    task: Option<Spanned<TaskSection>>,
    agent: Option<AgentSection>,
    #[serde(default)]
    mount: Vec<Spanned<MountSection>>,
    #[serde(default)]
    capabilities: Capabilities,
    limits: Option<Spanned<LimitsPlan>>,
    sandbox: Option<Spanned<SandboxSection>>,
    checkpoints: Option<Spanned<CheckpointsSection>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointsSection {
    max: Option<usize>,
    #[serde(default)]
    allow_fork: bool,
    store: Option<String>,
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
    command: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SandboxSection {
    system_paths: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    extra_paths: Vec<Spanned<String>>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    cwd: Option<Spanned<String>>,
    hostname: Option<String>,
    processes: Option<u64>,
    address_space_mb: Option<u64>,
    cpu_secs: Option<u64>,
    file_size_mb: Option<u64>,
    open_files: Option<u64>,
    memory_mb: Option<u64>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum MountKind {
    Memfs,
    Workspace,
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
    mode: Option<Spanned<WorkspaceMode>>,
    #[serde(default)]
    bind: BindSection,
    #[serde(default)]
    create: bool,
    capacity_mb: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Capabilities {
    http: Option<Spanned<PolicySection>>,
    ws: Option<Spanned<PolicySection>>,
    #[cfg(feature = "nostr")]
    nostr: Option<Spanned<NostrSection>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySection {
    #[serde(default)]
    allow_hosts: Vec<Spanned<String>>,
    #[serde(default)]
    deny_hosts: Vec<Spanned<String>>,
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
    inject: Vec<Spanned<InjectSection>>,
    #[serde(default)]
    secrets: Vec<Spanned<SecretSection>>,
    #[serde(default)]
    trust: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SecretSection {
    name: Spanned<String>,
    hosts: Vec<Spanned<String>>,
    value_env: Spanned<String>,
    env: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectSection {
    host: Spanned<String>,
    header: Spanned<String>,
    value_env: Spanned<String>,
}

#[cfg(feature = "nostr")]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NostrSection {
    #[serde(default)]
    relays: Vec<Spanned<String>>,
    secret_key_env: Option<Spanned<String>>,
}

/// Translates a manifest into a plan, recording where each item was
/// written.
struct Ctx<'a> {
    name: &'a str,
    text: &'a str,
    base: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    plan: EnvPlan,
}

impl Ctx<'_> {
    fn origin(&self, span: Option<Range<usize>>) -> Origin {
        Origin::Manifest {
            source_name: self.name.to_owned(),
            line: span.map(|span| {
                self.text
                    .get(..span.start)
                    .map_or(1, |before| before.matches('\n').count() + 1)
            }),
        }
    }

    /// Records that `key` was written at `span`.
    fn note(&mut self, key: &str, span: Range<usize>) {
        let origin = self.origin(Some(span));
        self.plan.set_origin(key, origin);
    }

    fn error(
        &self,
        key: &str,
        span: Option<Range<usize>>,
        message: impl std::fmt::Display,
    ) -> EnvError {
        self.origin(span).error(key, message)
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

    fn task(&mut self, task: &Spanned<TaskSection>) -> Result<()> {
        self.note("task", task.span());
        let task = task.get_ref();
        let input = match &task.input {
            Some(v) => serde_json::to_value(v).map_err(|e| self.error("task.input", None, e))?,
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
        self.plan.task = Some(TaskPlan { spec, meta });
        Ok(())
    }

    fn mount(&mut self, i: usize, m: &Spanned<MountSection>) -> Result<()> {
        let key = format!("mount[{i}]");
        let m = m.get_ref();
        // The mount is named by its path's line (a table's own span is its body).
        self.note(&key, m.path.span());
        self.note(&format!("{key}.path"), m.path.span());
        if let Some(c) = &m.capacity_mb {
            self.note(&format!("{key}.capacity_mb"), c.span());
        }
        let flags = MountFlags {
            mode: match m.bind {
                BindSection::Replace => BindMode::Replace,
                BindSection::Before => BindMode::Before,
                BindSection::After => BindMode::After,
            },
            create: m.create,
        };
        let capacity_mb = m.capacity_mb.as_ref().map(|c| *c.get_ref());
        let source = match m.kind {
            MountKind::Memfs => {
                if let Some(h) = &m.host {
                    return Err(self.error(
                        &format!("{key}.host"),
                        Some(h.span()),
                        "a memfs mount takes no host directory",
                    ));
                }
                if let Some(mode) = &m.mode {
                    return Err(self.error(
                        &format!("{key}.mode"),
                        Some(mode.span()),
                        "a memfs mount takes no mode (modes are for workspaces)",
                    ));
                }
                MountSource::MemFs { capacity_mb }
            }
            MountKind::Workspace => {
                let Some(host) = &m.host else {
                    return Err(self.error(
                        &format!("{key}.host"),
                        Some(m.path.span()),
                        "a workspace mount needs `host`, a directory",
                    ));
                };
                self.note(&format!("{key}.host"), host.span());
                MountSource::Workspace {
                    host: self.host_path(host.get_ref()),
                    mode: m.mode.as_ref().map(|m| *m.get_ref()).unwrap_or_default(),
                    capacity_mb,
                }
            }
        };
        self.plan.mounts.push(MountPlan {
            path: m.path.get_ref().clone(),
            source,
            flags,
        });
        Ok(())
    }

    fn policy(&mut self, key: &str, section: &Spanned<PolicySection>) -> Result<PolicyPlan> {
        self.note(key, section.span());
        let p = section.get_ref();
        let mut patterns = |list: &str, items: &[Spanned<String>]| -> Vec<String> {
            items
                .iter()
                .enumerate()
                .map(|(i, h)| {
                    self.note(&format!("{key}.{list}[{i}]"), h.span());
                    h.get_ref().clone()
                })
                .collect()
        };
        let allow_hosts = patterns("allow_hosts", &p.allow_hosts);
        let deny_hosts = patterns("deny_hosts", &p.deny_hosts);
        let mut inject = Vec::with_capacity(p.inject.len());
        for (i, item) in p.inject.iter().enumerate() {
            let at = format!("{key}.inject[{i}]");
            self.note(&at, item.span());
            let item = item.get_ref();
            self.note(&format!("{at}.host"), item.host.span());
            self.note(&format!("{at}.header"), item.header.span());
            let value = self.env_var(&format!("{at}.value_env"), &item.value_env)?;
            inject.push(InjectPlan {
                host: item.host.get_ref().clone(),
                header: item.header.get_ref().clone(),
                value,
            });
        }
        let mut secrets = Vec::with_capacity(p.secrets.len());
        for (i, item) in p.secrets.iter().enumerate() {
            let at = format!("{key}.secrets[{i}]");
            self.note(&at, item.span());
            let item = item.get_ref();
            let name = item.name.get_ref();
            let valid = !name.is_empty()
                && name.len() <= 40
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(self.error(
                    &format!("{at}.name"),
                    Some(item.name.span()),
                    format!("secret name {name:?}: use 1 to 40 of a-z, 0-9 and -"),
                ));
            }
            if item.hosts.is_empty() {
                return Err(self.error(
                    &format!("{at}.hosts"),
                    Some(item.name.span()),
                    format!("secret {name} is bound to no host"),
                ));
            }
            for (j, h) in item.hosts.iter().enumerate() {
                if let Err(e) = oanix_caps::HostPattern::new(h.get_ref()) {
                    return Err(self.error(&format!("{at}.hosts[{j}]"), Some(h.span()), e));
                }
            }
            let value = self.env_var(&format!("{at}.value_env"), &item.value_env)?;
            let env = item.env.as_ref().map_or_else(
                || name.to_ascii_uppercase().replace('-', "_"),
                |e| e.get_ref().clone(),
            );
            secrets.push(crate::env::SecretPlan {
                name: name.clone(),
                hosts: item.hosts.iter().map(|h| h.get_ref().clone()).collect(),
                env,
                value,
            });
        }
        let mut plan = PolicyPlan::allow_hosts(allow_hosts);
        plan.secrets = secrets;
        for (i, t) in p.trust.iter().enumerate() {
            self.note(&format!("{key}.trust[{i}]"), t.span());
            plan.trust.push(self.host_path(t.get_ref()));
        }
        plan.deny_hosts = deny_hosts;
        plan.schemes.clone_from(&p.schemes);
        plan.ports.clone_from(&p.ports);
        plan.methods.clone_from(&p.methods);
        plan.max_request_bytes = p.max_request_bytes;
        plan.max_response_bytes = p.max_response_bytes;
        plan.allow_loopback = p.allow_loopback;
        plan.allow_private = p.allow_private;
        plan.inject = inject;
        Ok(plan)
    }

    #[cfg(feature = "nostr")]
    fn nostr(&mut self, section: &Spanned<NostrSection>) -> Result<crate::plan::NostrPlan> {
        let key = "capabilities.nostr";
        self.note(key, section.span());
        let n = section.get_ref();
        let mut plan = crate::plan::NostrPlan::default();
        for (i, relay) in n.relays.iter().enumerate() {
            self.note(&format!("{key}.relays[{i}]"), relay.span());
            plan.relays.push(relay.get_ref().clone());
        }
        if let Some(var) = &n.secret_key_env {
            let at = format!("{key}.secret_key_env");
            self.note(&at, var.span());
            let hex = self.env_var(&at, var)?;
            let secret = parse_secret(&hex).ok_or_else(|| {
                self.error(&at, Some(var.span()), "expected 64 hexadecimal digits")
            })?;
            plan.secret_key = Some(secret);
        }
        Ok(plan)
    }

    fn agent(&mut self, agent: &AgentSection) -> Result<()> {
        let module = agent.module.as_ref().map(|m| {
            self.note("agent.module", m.span());
            self.host_path(m.get_ref())
        });
        let command = match &agent.command {
            Some(c) => {
                self.note("agent.command", c.span());
                if module.is_some() {
                    return Err(self.error(
                        "agent.command",
                        Some(c.span()),
                        "an agent is a module or a command, not both",
                    ));
                }
                if c.get_ref().first().is_none_or(String::is_empty) {
                    return Err(self.error(
                        "agent.command",
                        Some(c.span()),
                        "the command is empty (expected [\"program\", \"arg\", ...])",
                    ));
                }
                c.get_ref().clone()
            }
            None => Vec::new(),
        };
        let sandbox = std::mem::take(&mut self.plan.agent.sandbox);
        self.plan.agent = AgentSpec {
            module,
            command,
            args: agent.args.clone(),
            env: agent
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            sandbox,
        };
        Ok(())
    }

    /// A `[sandbox]` host path: absolute, and present on the host.
    fn system_path(&self, key: &str, p: &Spanned<String>) -> Result<PathBuf> {
        let path = PathBuf::from(p.get_ref());
        if !path.is_absolute() {
            return Err(self.error(
                key,
                Some(p.span()),
                format!("system path {} is not absolute", path.display()),
            ));
        }
        match std::fs::metadata(&path) {
            Err(_) => Err(self.error(
                key,
                Some(p.span()),
                format!("system path {} does not exist on the host", path.display()),
            )),
            Ok(m) if !m.is_dir() => Err(self.error(
                key,
                Some(p.span()),
                format!(
                    "system path {} is not a directory (a native sandbox binds directories)",
                    path.display()
                ),
            )),
            Ok(_) => Ok(path),
        }
    }

    fn sandbox(&mut self, section: &Spanned<SandboxSection>) -> Result<()> {
        self.note("sandbox", section.span());
        let s = section.get_ref();
        let system_paths = match &s.system_paths {
            Some(paths) => Some(
                paths
                    .iter()
                    .enumerate()
                    .map(|(i, p)| self.system_path(&format!("sandbox.system_paths[{i}]"), p))
                    .collect::<Result<Vec<_>>>()?,
            ),
            None => None,
        };
        let extra_paths = s
            .extra_paths
            .iter()
            .enumerate()
            .map(|(i, p)| self.system_path(&format!("sandbox.extra_paths[{i}]"), p))
            .collect::<Result<Vec<_>>>()?;
        if let Some(cwd) = &s.cwd
            && !cwd.get_ref().starts_with('/')
        {
            return Err(self.error(
                "sandbox.cwd",
                Some(cwd.span()),
                format!("{:?} is not an absolute path", cwd.get_ref()),
            ));
        }
        self.plan.agent.sandbox = SandboxSpec {
            system_paths,
            extra_paths,
            env: s.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            cwd: s.cwd.as_ref().map(|c| c.get_ref().clone()),
            hostname: s.hostname.clone(),
            processes: s.processes,
            address_space_mb: s.address_space_mb,
            cpu_secs: s.cpu_secs,
            file_size_mb: s.file_size_mb,
            open_files: s.open_files,
            memory_mb: s.memory_mb,
            secrets: Vec::new(),
        };
        Ok(())
    }
}

impl EnvPlan {
    /// The plan a manifest's text describes. `name` names the manifest in
    /// errors; relative host paths are taken from `base_dir`; environment
    /// variables named by the manifest are read from the process
    /// environment.
    pub fn from_manifest(text: &str, name: &str, base_dir: &Path) -> Result<Self> {
        Self::from_manifest_with_env(text, name, base_dir, &|k| std::env::var(k).ok())
    }

    /// The plan of a manifest file (relative paths in it are relative to
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
        let mut ctx = Ctx {
            name,
            text,
            base: base_dir,
            env,
            plan: EnvPlan::new(),
        };
        if let Some(from) = &manifest.from {
            ctx.note("from", from.span());
            ctx.plan.from = Some(ctx.host_path(from.get_ref()));
        }
        if let Some(task) = &manifest.task {
            ctx.task(task)?;
        }
        if let Some(limits) = &manifest.limits {
            ctx.note("limits", limits.span());
            ctx.plan.limits = *limits.get_ref();
        }
        for (i, m) in manifest.mount.iter().enumerate() {
            ctx.mount(i, m)?;
        }
        if let Some(p) = &manifest.capabilities.http {
            ctx.plan.http = Some(ctx.policy("capabilities.http", p)?);
        }
        if let Some(p) = &manifest.capabilities.ws {
            ctx.plan.ws = Some(ctx.policy("capabilities.ws", p)?);
        }
        #[cfg(feature = "nostr")]
        if let Some(n) = &manifest.capabilities.nostr {
            ctx.plan.nostr = Some(ctx.nostr(n)?);
        }
        if let Some(sandbox) = &manifest.sandbox {
            ctx.sandbox(sandbox)?;
        }
        if let Some(c) = &manifest.checkpoints {
            ctx.note("checkpoints", c.span());
            let section = c.get_ref();
            let mut policy = crate::CheckpointPolicy::default();
            if let Some(max) = section.max {
                if max == 0 {
                    return Err(ctx.error(
                        "checkpoints.max",
                        Some(c.span()),
                        "at least 1 (leave out [checkpoints] for none)",
                    ));
                }
                policy.max = max;
            }
            policy.allow_fork = section.allow_fork;
            policy.store = section.store.as_deref().map(|p| ctx.host_path(p));
            ctx.plan.checkpoints = Some(policy);
        }
        if let Some(agent) = &manifest.agent {
            ctx.agent(agent)?;
        }
        Ok(ctx.plan)
    }
}

impl EnvBuilder {
    /// A builder from a manifest's text: [`EnvPlan::from_manifest`], then
    /// [`EnvPlan::builder`].
    pub fn from_manifest(text: &str, name: &str, base_dir: &Path) -> Result<Self> {
        EnvPlan::from_manifest(text, name, base_dir)?.builder()
    }

    /// A builder from a manifest file (relative paths in it are relative to
    /// its directory).
    pub fn from_manifest_file(path: &Path) -> Result<Self> {
        EnvPlan::from_manifest_file(path)?.builder()
    }

    /// [`from_manifest`](Self::from_manifest), with environment variables
    /// looked up through `env` (for tests and embedders).
    pub fn from_manifest_with_env(
        text: &str,
        name: &str,
        base_dir: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        EnvPlan::from_manifest_with_env(text, name, base_dir, env)?.builder()
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
