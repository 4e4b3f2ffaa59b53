//! Snapshots of environments: [`EnvSnapshot`], taken by
//! [`OanixEnv::snapshot`], forked into new environments, saved to and
//! loaded from an `oanix-store` [`Store`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use oanix_caps::{HttpFs, WsFs};
use oanix_prims::{CowFs, FrozenCow, FrozenTree, MemFs, MemLimits};
use oanix_services::{LogsFs, LogsSnapshot, TaskFs, TaskSnapshot, WorkspaceFs, WorkspaceOverlay};
use oanix_store::{MountState, SaveReport, SnapshotContent, Store, StoredMount};
use oanix_vfs::{FileService, MountFlags, Timestamp};
use oanix_wasi::WasiRuntime;

use crate::env::{AgentSpec, EnvBuilder, EnvLimits, OanixEnv};
use crate::error::{EnvError, Result};
use crate::mount::{Mount, StateRole};
use crate::recipe::{CheckpointPolicy, Op, Recipe};
use crate::status::EnvStatus;

/// What a fork of a snapshot gets that the snapshot does not decide.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ForkOptions {
    /// A fresh Nostr key for each fork (by default a fork signs as the
    /// environment the snapshot was taken of).
    pub fresh_nostr_keys: bool,
}

impl ForkOptions {
    /// Each fork gets a fresh Nostr key.
    #[must_use]
    pub fn fresh_nostr_keys(mut self) -> Self {
        self.fresh_nostr_keys = true;
        self
    }
}

/// An immutable copy of an environment's file state at one point in time,
/// from which new environments start ([`fork`](Self::fork)).
///
/// What it holds, mount by mount, in mount order:
///
/// | mount | kept | a fork gets |
/// |---|---|---|
/// | task (`TaskFs`) | spec, meta, status, `result.json` | the same task, pending again, its result kept |
/// | logs (`LogsFs`) | the three files | the same files, appended to from then on |
/// | `MemFs` | the whole tree (frozen: bytes shared) | a tree of its own over the frozen one |
/// | `WorkspaceOverlay` | what the agent changed, whiteouts, origins; the directory by name | an overlay of its own of the same directory |
/// | `WorkspaceFs` | the directory by name, never copied | read-only: the same directory; read-write: an overlay of its own of it |
/// | `CowFs` (any base) | its layer; the base shared | an overlay of its own of the same base |
/// | `MapFs` | the service (immutable) | the same service |
/// | HTTP, WebSocket, Nostr capabilities | their policy, limits, relays | a new capability: empty queues, no connections, no pending requests; the same Nostr key unless [`ForkOptions::fresh_nostr_keys`] |
///
/// Anything else (a `FuncFs`, a nested namespace, a service of the
/// host's own) makes [`OanixEnv::snapshot`] fail naming its mount.
///
/// Requests a capability was carrying out when the snapshot was taken are
/// not kept: a fork starts with none, and an open WebSocket is not open in
/// it. Each mount's copy is a point in time; mounts are taken one after
/// the other, so an agent writing to two mounts while the snapshot is
/// taken may be seen between its two writes.
///
/// [`to_content`](Self::to_content) gives what a store keeps: only file
/// state — the last three rows and the bases of `CowFs` mounts are in
/// memory only, so a store never holds capabilities' policies or secrets
/// (the manifest that loads a snapshot names them again). Host
/// directories are stored by path: a stored snapshot can name any
/// directory the loading process may read, which is why an environment
/// restored from a store mounts a read-only directory read-only and a
/// read-write one under an overlay of its own (never written) — and why a
/// store is the host's, not an agent's, to write.
#[derive(Clone)]
pub struct EnvSnapshot {
    inner: Arc<Inner>,
}

struct Inner {
    source: String,
    taken: Timestamp,
    status: Option<EnvStatus>,
    parts: Vec<Part>,
    limits: EnvLimits,
    agent: AgentSpec,
    runtime: Option<Arc<WasiRuntime>>,
    checkpoints: Option<CheckpointPolicy>,
    #[cfg(feature = "executor")]
    executors: Option<oanix_exec::ExecutorConfig>,
}

#[derive(Clone)]
#[allow(
    clippy::large_enum_variant,
    reason = "a handful per snapshot, kept in one Vec: boxing would cost an allocation each"
)]
enum Part {
    Mount {
        path: String,
        source: String,
        flags: MountFlags,
        state: PartState,
    },
    Bind {
        existing: String,
        target: String,
    },
}

#[derive(Clone)]
enum PartState {
    Task(TaskSnapshot),
    Logs(LogsSnapshot),
    Memory {
        tree: FrozenTree,
        limits: MemLimits,
    },
    Overlay {
        host: Option<PathBuf>,
        frozen: FrozenCow,
        capacity: u64,
        live: Option<WorkspaceOverlay>,
    },
    Directory {
        host: Option<PathBuf>,
        writable: bool,
        live: Option<Arc<WorkspaceFs>>,
    },
    Cow {
        base: Arc<dyn FileService>,
        frozen: FrozenCow,
        limits: MemLimits,
    },
    Shared(Arc<dyn FileService>),
    Http(HttpFs),
    Ws(WsFs),
    #[cfg(feature = "nostr")]
    Nostr(oanix_caps::NostrFs),
}

impl PartState {
    fn kind(&self) -> &'static str {
        match self {
            Self::Task(_) => "task",
            Self::Logs(_) => "logs",
            Self::Memory { .. } => "memory",
            Self::Overlay { .. } => "overlay",
            Self::Directory { .. } => "directory",
            Self::Cow { .. } => "cow",
            Self::Shared(_) => "shared",
            Self::Http(_) => "http",
            Self::Ws(_) => "ws",
            #[cfg(feature = "nostr")]
            Self::Nostr(_) => "nostr",
        }
    }
}

impl std::fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mounts: Vec<(&str, &str)> = self
            .inner
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Mount { path, state, .. } => Some((path.as_str(), state.kind())),
                Part::Bind { .. } => None,
            })
            .collect();
        f.debug_struct("EnvSnapshot")
            .field("source", &self.inner.source)
            .field("taken", &self.inner.taken)
            .field("mounts", &mounts)
            .finish()
    }
}

/// `host` made absolute (a snapshot is loaded from anywhere).
fn absolute(host: &Path) -> PathBuf {
    std::fs::canonicalize(host).unwrap_or_else(|_| host.to_owned())
}

fn snapshot_error(path: &str, reason: impl Into<String>) -> EnvError {
    EnvError::Snapshot {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

impl OanixEnv {
    /// An immutable copy of the environment's file state now (see
    /// [`EnvSnapshot`] for what it keeps). Costs a copy of each tree's
    /// shape and metadata, never of file bytes; the agent may go on running
    /// meanwhile (each mount waits only while its own copy is taken).
    ///
    /// # Errors
    /// [`EnvError::Snapshot`] naming a mount whose service's state a
    /// snapshot cannot take.
    pub fn snapshot(&self) -> Result<EnvSnapshot> {
        take(
            &self.id().to_string(),
            self.status(),
            &self.recipe,
            self.limits(),
            self.agent(),
        )
    }
}

/// A snapshot of the environment `source` built by `recipe`.
pub(crate) fn take(
    source: &str,
    status: EnvStatus,
    recipe: &Recipe,
    limits: EnvLimits,
    agent: &AgentSpec,
) -> Result<EnvSnapshot> {
    let mut parts = Vec::with_capacity(recipe.ops.len());
    for op in &recipe.ops {
        parts.push(match op {
            Op::Bind { existing, target } => Part::Bind {
                existing: existing.clone(),
                target: target.clone(),
            },
            Op::Mount {
                path,
                source,
                flags,
                mount,
            } => Part::Mount {
                path: path.clone(),
                source: source.clone(),
                flags: *flags,
                state: state_of(path, mount)?,
            },
        });
    }
    Ok(EnvSnapshot {
        inner: Arc::new(Inner {
            source: source.to_owned(),
            taken: Timestamp::now(),
            status: Some(status),
            parts,
            limits,
            agent: agent.clone(),
            runtime: recipe.runtime.clone(),
            checkpoints: recipe.checkpoints.clone(),
            #[cfg(feature = "executor")]
            executors: recipe.executors.clone(),
        }),
    })
}

/// What a snapshot keeps of `mount`.
fn state_of(path: &str, mount: &Mount) -> Result<PartState> {
    let roles = &mount.roles;
    if let Some(task) = &roles.task {
        return Ok(PartState::Task(task.snapshot()));
    }
    if let Some(logs) = &roles.logs {
        return Ok(PartState::Logs(logs.snapshot()));
    }
    if let Some(http) = &roles.http {
        return Ok(PartState::Http(http.clone()));
    }
    if let Some(ws) = &roles.ws {
        return Ok(PartState::Ws(ws.clone()));
    }
    #[cfg(feature = "nostr")]
    if let Some(nostr) = &roles.nostr {
        return Ok(PartState::Nostr(nostr.clone()));
    }
    Ok(match &roles.state {
        Some(StateRole::Memory(fs)) => PartState::Memory {
            tree: fs.freeze(),
            limits: fs.limits(),
        },
        Some(StateRole::Overlay(o)) => PartState::Overlay {
            host: o.target().root_path().map(Path::to_owned),
            frozen: o.freeze(),
            capacity: o.cow().upper_limits().capacity,
            live: Some(o.clone()),
        },
        Some(StateRole::Directory(d)) => PartState::Directory {
            host: d.root_path().map(Path::to_owned),
            writable: !d.is_readonly(),
            live: Some(Arc::clone(d)),
        },
        Some(StateRole::Cow(c)) => PartState::Cow {
            base: Arc::clone(c.base()),
            frozen: c.freeze(),
            limits: c.upper_limits(),
        },
        Some(StateRole::Shared) => PartState::Shared(Arc::clone(&mount.service)),
        None => {
            return Err(snapshot_error(
                path,
                format!(
                    "a {} mount holds state a snapshot cannot take (snapshots take MemFs, \
                     CowFs, MapFs, WorkspaceFs, WorkspaceOverlay, the task, the logs and \
                     the capabilities)",
                    mount.service.fs_type()
                ),
            ));
        }
    })
}

impl EnvSnapshot {
    /// The id of the environment it was taken of (or the source a store
    /// recorded).
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// When it was taken.
    pub fn taken(&self) -> Timestamp {
        self.inner.taken
    }

    /// The environment's status when it was taken (`None` when a store
    /// did not record it).
    pub fn status(&self) -> Option<&EnvStatus> {
        self.inner.status.as_ref()
    }

    /// The task as it was, if the environment had one.
    pub fn task(&self) -> Option<&TaskSnapshot> {
        self.inner.parts.iter().find_map(|p| match p {
            Part::Mount {
                state: PartState::Task(t),
                ..
            } => Some(t),
            _ => None,
        })
    }

    /// The frozen tree of the in-memory mount at `path`.
    pub fn tree(&self, path: &str) -> Option<&FrozenTree> {
        self.inner.parts.iter().find_map(|p| match p {
            Part::Mount {
                path: at,
                state: PartState::Memory { tree, .. },
                ..
            } if at == path => Some(tree),
            Part::Mount {
                path: at,
                state: PartState::Overlay { frozen, .. } | PartState::Cow { frozen, .. },
                ..
            } if at == path => Some(frozen.upper()),
            _ => None,
        })
    }

    /// A builder of a new environment from the snapshot — its mounts
    /// restored as the [type docs](Self) say, its limits, agent, runtime
    /// and executors — to which more mounts can be added before it is
    /// built.
    ///
    /// # Errors
    /// [`EnvError::Snapshot`] naming a mount that cannot be restored: a
    /// directory that is gone, a tree larger than its mount's capacity.
    pub fn builder(&self, options: &ForkOptions) -> Result<EnvBuilder> {
        let inner = &self.inner;
        let mut b = EnvBuilder::new()
            .limits(inner.limits)
            .agent(inner.agent.clone());
        if let Some(rt) = &inner.runtime {
            b = b.runtime(Arc::clone(rt));
        }
        #[cfg(feature = "executor")]
        if let Some(config) = &inner.executors {
            b = b.executors(config.clone());
        }
        if let Some(policy) = &inner.checkpoints {
            b = b.checkpoints(policy.clone());
        }
        let now = Timestamp::now();
        for part in &inner.parts {
            let (path, source, flags, state) = match part {
                Part::Bind { existing, target } => {
                    b = b.bind(existing, target);
                    continue;
                }
                Part::Mount {
                    path,
                    source,
                    flags,
                    state,
                } => (path.as_str(), source.as_str(), *flags, state),
            };
            let fail = |e: &dyn std::fmt::Display| snapshot_error(path, e.to_string());
            let mount: Mount = match state {
                PartState::Task(t) => TaskFs::from_snapshot(&t.restarted(now)).into(),
                PartState::Logs(l) => LogsFs::from_snapshot(l).into(),
                PartState::Memory { tree, limits } => MemFs::from_frozen_with_limits(tree, *limits)
                    .map_err(|e| fail(&e))?
                    .into(),
                PartState::Overlay {
                    host,
                    frozen,
                    capacity,
                    live,
                } => {
                    let limits = MemLimits::capacity(*capacity);
                    let fork = match (live, host) {
                        (Some(o), _) => o.fork_from(frozen, limits),
                        (None, Some(h)) => WorkspaceOverlay::with_capacity(h, *capacity)
                            .and_then(|o| o.fork_from(frozen, limits)),
                        (None, None) => {
                            return Err(snapshot_error(path, "the overlay's directory is unknown"));
                        }
                    };
                    fork.map_err(|e| fail(&e))?.into()
                }
                PartState::Directory {
                    host,
                    writable,
                    live,
                } => {
                    let dir = match (live, host) {
                        (Some(d), _) => d.try_clone(),
                        (None, Some(h)) if *writable => WorkspaceFs::new(h),
                        (None, Some(h)) => WorkspaceFs::readonly(h),
                        (None, None) => {
                            return Err(snapshot_error(path, "the directory is unknown"));
                        }
                    }
                    .map_err(|e| fail(&e))?;
                    if *writable {
                        // Forks of one snapshot never write to one directory:
                        // each gets an overlay of it, reviewed as a workspace.
                        WorkspaceOverlay::from_workspace(dir)
                            .map_err(|e| fail(&e))?
                            .into()
                    } else {
                        dir.into()
                    }
                }
                PartState::Cow {
                    base,
                    frozen,
                    limits,
                } => CowFs::from_frozen(Arc::clone(base), frozen, *limits)
                    .map_err(|e| fail(&e))?
                    .into(),
                PartState::Shared(service) => Mount::shared(Arc::clone(service)),
                PartState::Http(h) => HttpFs::builder()
                    .policy((*h.policy()).clone())
                    .limits(h.limits().clone())
                    .build()
                    .into(),
                PartState::Ws(w) => WsFs::builder()
                    .policy((*w.policy()).clone())
                    .limits(w.limits().clone())
                    .build()
                    .into(),
                #[cfg(feature = "nostr")]
                PartState::Nostr(n) => n
                    .fork(options.fresh_nostr_keys)
                    .map_err(|e| fail(&e))?
                    .into(),
            };
            b = b.mount_shared(path, source, mount, flags);
        }
        b.started_from = Some(serde_json::json!({
            "snapshot_of": inner.source,
            "taken": inner.taken,
        }));
        #[cfg(not(feature = "nostr"))]
        let _ = options;
        Ok(b)
    }

    /// `n` new environments from the snapshot, each with its own id, its
    /// own copy-on-write state over the shared frozen one, and fresh
    /// capabilities; each is `Created`, ready to run, and its events say
    /// what it was forked from.
    ///
    /// # Errors
    /// What [`builder`](Self::builder) and [`EnvBuilder::build`] return.
    pub fn fork(&self, n: usize) -> Result<Vec<OanixEnv>> {
        self.fork_with(n, &ForkOptions::default())
    }

    /// [`fork`](Self::fork) with `options`.
    ///
    /// # Errors
    /// As [`fork`](Self::fork).
    pub fn fork_with(&self, n: usize, options: &ForkOptions) -> Result<Vec<OanixEnv>> {
        (0..n).map(|_| self.builder(options)?.build()).collect()
    }

    /// One new environment from the snapshot: [`fork`](Self::fork) of one.
    ///
    /// # Errors
    /// As [`fork`](Self::fork).
    pub fn restore(&self) -> Result<OanixEnv> {
        self.builder(&ForkOptions::default())?.build()
    }

    /// What a store keeps of the snapshot: the file state of each mount.
    ///
    /// # Errors
    /// [`EnvError::Snapshot`] naming a mount that is kept in memory only:
    /// a `CowFs` or `MapFs` mount, an overlay or directory whose host path
    /// is unknown, or a bind. Capabilities are left out (their policies
    /// and secrets are never stored).
    pub fn to_content(&self) -> Result<SnapshotContent> {
        let mut mounts = Vec::new();
        for part in &self.inner.parts {
            let (path, flags, state) = match part {
                Part::Bind { target, .. } => {
                    return Err(snapshot_error(
                        target,
                        "a bind is not kept by a store; mount the service there instead",
                    ));
                }
                Part::Mount {
                    path, flags, state, ..
                } => (path, *flags, state),
            };
            let memory_only = |what: &str| {
                snapshot_error(
                    path,
                    format!("{what} is kept in memory only, not by a store"),
                )
            };
            let stored = match state {
                PartState::Task(t) => MountState::Task(t.clone()),
                PartState::Logs(l) => MountState::Logs(l.clone()),
                PartState::Memory { tree, limits } => MountState::Memory {
                    tree: tree.clone(),
                    capacity: limits.capacity,
                },
                PartState::Overlay {
                    host,
                    frozen,
                    capacity,
                    ..
                } => MountState::Overlay {
                    host: absolute(host.as_deref().ok_or_else(|| {
                        memory_only("an overlay of a directory opened by handle")
                    })?),
                    frozen: frozen.clone(),
                    capacity: *capacity,
                },
                PartState::Directory { host, writable, .. } => MountState::Directory {
                    host: absolute(
                        host.as_deref()
                            .ok_or_else(|| memory_only("a directory opened by handle"))?,
                    ),
                    writable: *writable,
                },
                PartState::Cow { .. } => return Err(memory_only("a CowFs over a service")),
                PartState::Shared(_) => return Err(memory_only("a shared immutable service")),
                PartState::Http(_) | PartState::Ws(_) => continue,
                #[cfg(feature = "nostr")]
                PartState::Nostr(_) => continue,
            };
            mounts.push(StoredMount::new(path.clone(), flags, stored));
        }
        let mut content = SnapshotContent::new(self.inner.source.clone(), mounts);
        content.created = self.inner.taken;
        Ok(content.with_note(serde_json::json!({
            "status": self.inner.status,
        })))
    }

    /// A snapshot of what a store kept: its mounts; the default limits and
    /// no agent (a plan that loads it gives those, and its capabilities).
    ///
    /// # Errors
    /// [`EnvError::Snapshot`] naming a mount whose kind of state this build
    /// does not know (written by a newer one).
    pub fn from_content(content: &SnapshotContent) -> Result<Self> {
        let parts = content
            .mounts
            .iter()
            .map(|m| {
                let state = match &m.state {
                    MountState::Task(t) => PartState::Task(t.clone()),
                    MountState::Logs(l) => PartState::Logs(l.clone()),
                    MountState::Memory { tree, capacity } => PartState::Memory {
                        tree: tree.clone(),
                        limits: MemLimits::capacity(*capacity),
                    },
                    MountState::Overlay {
                        host,
                        frozen,
                        capacity,
                    } => PartState::Overlay {
                        host: Some(host.clone()),
                        frozen: frozen.clone(),
                        capacity: *capacity,
                        live: None,
                    },
                    MountState::Directory { host, writable } => PartState::Directory {
                        host: Some(host.clone()),
                        writable: *writable,
                        live: None,
                    },
                    other => {
                        return Err(snapshot_error(
                            &m.path,
                            format!(
                                "a {} state, which this build does not know how to restore",
                                other.kind()
                            ),
                        ));
                    }
                };
                Ok(Part::Mount {
                    path: m.path.clone(),
                    source: state.kind().to_owned(),
                    flags: m.flags,
                    state,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            inner: Arc::new(Inner {
                source: content.source.clone(),
                taken: content.created,
                status: content
                    .note
                    .get("status")
                    .and_then(|s| serde_json::from_value(s.clone()).ok()),
                parts,
                limits: EnvLimits::default(),
                agent: AgentSpec::default(),
                runtime: None,
                checkpoints: None,
                #[cfg(feature = "executor")]
                executors: None,
            }),
        })
    }

    /// Saves the snapshot in `store` as `name` (see
    /// [`to_content`](Self::to_content) for what is kept).
    ///
    /// # Errors
    /// [`EnvError::Snapshot`] from `to_content`; [`EnvError::Store`].
    pub fn save(&self, store: &Store, name: &str) -> Result<SaveReport> {
        Ok(store.save(name, &self.to_content()?)?)
    }

    /// Saves the snapshot as the file `path` (`DIR/NAME.snap`, in the
    /// store `DIR`, created if need be).
    ///
    /// # Errors
    /// As [`save`](Self::save).
    pub fn save_file(&self, path: impl AsRef<Path>) -> Result<SaveReport> {
        let (store, name) = Store::locate(path)?;
        self.save(&store, &name)
    }

    /// Loads snapshot `name` of `store`, every byte verified.
    ///
    /// # Errors
    /// [`EnvError::Store`] naming what is missing or damaged.
    pub fn load(store: &Store, name: &str) -> Result<Self> {
        Self::from_content(&store.load(name)?)
    }

    /// Loads the snapshot file `path` (`DIR/NAME.snap`).
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn load_file(path: impl AsRef<Path>) -> Result<Self> {
        let (store, name) = Store::locate(path)?;
        Self::load(&store, &name)
    }
}
