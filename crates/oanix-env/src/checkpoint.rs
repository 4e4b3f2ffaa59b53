//! Checkpoints an agent asks for as files: `/env/ctl` and
//! `/env/checkpoints`.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use oanix_prims::FuncFs;
use oanix_services::{LogEvent, LogLevel};
use oanix_vfs::{FsError, Timestamp};

use crate::env::{EnvBuilder, OanixEnv};
use crate::error::{EnvError, Result};
use crate::recipe::CheckpointPolicy;
use crate::snapshot::EnvSnapshot;

/// A checkpoint taken through `/env/ctl` or [`OanixEnv::checkpoint`](crate::OanixEnv::checkpoint).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Checkpoint {
    /// Its name.
    pub name: String,
    /// The snapshot.
    pub snapshot: EnvSnapshot,
    /// The file it was saved as, when the policy names a store.
    pub saved: Option<PathBuf>,
}

/// An agent's request for forks of one of its checkpoints, for the host to
/// grant or not ([`OanixEnv::take_fork_requests`](crate::OanixEnv::take_fork_requests)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ForkRequest {
    /// The checkpoint.
    pub checkpoint: String,
    /// How many forks.
    pub count: usize,
    /// When it was asked.
    pub at: Timestamp,
}

/// What takes a checkpoint: the environment, reached once it is built.
pub(crate) type Taker = Box<dyn Fn() -> Result<EnvSnapshot> + Send + Sync>;

/// The checkpoints of one environment.
pub(crate) struct Checkpoints {
    pub(crate) policy: CheckpointPolicy,
    list: Mutex<Vec<Checkpoint>>,
    requests: Mutex<Vec<ForkRequest>>,
    /// Set when the environment is built.
    pub(crate) taker: OnceLock<Taker>,
    pub(crate) logs: OnceLock<oanix_services::LogsFs>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each change is one push or one replacement: a poisoned lock is consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Checks a checkpoint name: what a store takes as a file name.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a checkpoint name (1 to 100 of letters, digits, '.', '_', '-', \
             not starting with '.')"
        ))
    }
}

impl Checkpoints {
    pub(crate) fn new(policy: CheckpointPolicy) -> Arc<Self> {
        Arc::new(Self {
            policy,
            list: Mutex::new(Vec::new()),
            requests: Mutex::new(Vec::new()),
            taker: OnceLock::new(),
            logs: OnceLock::new(),
        })
    }

    fn event(&self, level: LogLevel, message: String, data: serde_json::Value) {
        if let Some(logs) = self.logs.get() {
            logs.log_event(LogEvent::with_data(level, message, data));
        }
    }

    /// Takes checkpoint `name` (replacing one of that name).
    pub(crate) fn take(&self, name: &str) -> Result<Checkpoint> {
        let bad = |message: String| EnvError::Plan {
            item: format!("checkpoint {name:?}"),
            message,
        };
        check_name(name).map_err(bad)?;
        {
            let list = lock(&self.list);
            if list.len() >= self.policy.max && !list.iter().any(|c| c.name == name) {
                return Err(bad(format!(
                    "the environment keeps at most {} checkpoints",
                    self.policy.max
                )));
            }
        }
        let taker = self
            .taker
            .get()
            .ok_or_else(|| bad("the environment is not built yet".into()))?;
        let snapshot = taker()?;
        let replaces = lock(&self.list).iter().any(|c| c.name == name);
        let saved = match &self.policy.store {
            Some(dir) => {
                let store = oanix_store::Store::open(dir)?;
                snapshot.save(&store, name)?;
                if replaces {
                    // What only the replaced checkpoint used goes: an agent
                    // taking one name again and again does not fill the disk.
                    store.gc()?;
                }
                Some(store.path_of(name))
            }
            None => None,
        };
        let checkpoint = Checkpoint {
            name: name.to_owned(),
            snapshot,
            saved,
        };
        {
            let mut list = lock(&self.list);
            list.retain(|c| c.name != name);
            list.push(checkpoint.clone());
        }
        self.event(
            LogLevel::Info,
            format!("checkpoint {name} taken"),
            serde_json::json!({"checkpoint": name, "saved": checkpoint.saved}),
        );
        Ok(checkpoint)
    }

    pub(crate) fn list(&self) -> Vec<Checkpoint> {
        lock(&self.list).clone()
    }

    pub(crate) fn take_requests(&self) -> Vec<ForkRequest> {
        std::mem::take(&mut *lock(&self.requests))
    }

    /// One command written to `/env/ctl`.
    fn command(&self, line: &str) -> oanix_vfs::Result<()> {
        const CTL: &str = "/env/ctl";
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["checkpoint", name] => self.take(name).map(drop).map_err(|e| match e {
                EnvError::Plan { message, .. } if message.contains("at most") => {
                    FsError::no_space(CTL, self.policy.max as u64)
                }
                other => FsError::invalid_input(CTL, other.to_string()),
            }),
            ["fork", name, count] => {
                if !self.policy.allow_fork {
                    self.event(
                        LogLevel::Warn,
                        format!("fork of {name} refused"),
                        serde_json::json!({"checkpoint": name, "reason": "policy"}),
                    );
                    return Err(FsError::permission_denied(
                        CTL,
                        "forking is the host's decision, and this environment's policy does \
                         not let its agent ask",
                    ));
                }
                let count: usize = count
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| {
                        FsError::invalid_input(CTL, format!("{count:?}: a count is 1 to 64"))
                    })?;
                if !lock(&self.list).iter().any(|c| c.name == *name) {
                    return Err(FsError::invalid_input(
                        CTL,
                        format!("no checkpoint named {name:?}"),
                    ));
                }
                lock(&self.requests).push(ForkRequest {
                    checkpoint: (*name).to_owned(),
                    count,
                    at: Timestamp::now(),
                });
                self.event(
                    LogLevel::Info,
                    format!("fork of {name} asked"),
                    serde_json::json!({"checkpoint": name, "count": count}),
                );
                Ok(())
            }
            _ => Err(FsError::invalid_input(
                CTL,
                format!(
                    "{:?}: expected `checkpoint NAME` or `fork NAME COUNT`",
                    line.trim()
                ),
            )),
        }
    }

    /// The `/env` service: `ctl` to write commands to, `checkpoints` to
    /// read the list from (one JSON object per line).
    pub(crate) fn service(self: &Arc<Self>) -> FuncFs {
        let (w, r) = (Arc::clone(self), Arc::clone(self));
        FuncFs::builder()
            .write_only("/ctl", move |msg| {
                let text = std::str::from_utf8(msg)
                    .map_err(|_| FsError::invalid_input("/env/ctl", "not UTF-8"))?;
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .try_for_each(|l| w.command(l))
            })
            .read_only("/checkpoints", move || {
                let mut out = Vec::new();
                for c in r.list() {
                    let line = serde_json::json!({
                        "name": c.name,
                        "taken": c.snapshot.taken(),
                        "saved": c.saved,
                    });
                    out.extend_from_slice(line.to_string().as_bytes());
                    out.push(b'\n');
                }
                Ok(out)
            })
            .build()
    }
}

impl EnvBuilder {
    /// Mounts `/env`: `/env/ctl`, where the agent (or the host) asks for a
    /// checkpoint by name (`checkpoint NAME`) or asks the host for forks
    /// of one (`fork NAME COUNT`, only where `policy.allow_fork`: the
    /// request is recorded for the host, never carried out by the
    /// environment), and `/env/checkpoints`, the list (one JSON object per
    /// line). See [`OanixEnv::checkpoint`] and
    /// [`OanixEnv::take_fork_requests`]. Forks of the environment's
    /// snapshots get the same policy.
    #[must_use]
    pub fn checkpoints(mut self, policy: CheckpointPolicy) -> Self {
        let c = Checkpoints::new(policy.clone());
        self.ns = std::mem::take(&mut self.ns).mount_shared(
            "/env",
            "env",
            Arc::new(c.service()),
            oanix_vfs::MountFlags::replace(),
        );
        self.checkpoint_policy = Some(policy);
        self.extension = Some(Arc::clone(&c) as Arc<dyn std::any::Any + Send + Sync>);
        self.on_build = Some(Box::new(move |env: &OanixEnv| {
            // The pieces a snapshot needs, not the environment itself: the
            // namespace holds this service, which must not hold it back.
            let (id, state, recipe) = (
                env.id().to_string(),
                env.shared_state(),
                Arc::clone(&env.recipe),
            );
            let (limits, agent) = (env.limits(), env.agent().clone());
            let taker: Taker = Box::new(move || {
                let status = state
                    .0
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                crate::snapshot::take(&id, status, &recipe, limits, &agent)
            });
            let _ = c.taker.set(taker);
            if let Some(logs) = env.logs() {
                let _ = c.logs.set(logs.clone());
            }
        }));
        self
    }
}

impl OanixEnv {
    fn checkpoint_service(&self) -> Option<&Checkpoints> {
        self.extension.as_ref()?.downcast_ref::<Checkpoints>()
    }

    /// Takes checkpoint `name`, as `checkpoint NAME` written to
    /// `/env/ctl` does: a snapshot kept by the environment (and saved to
    /// the policy's store, if it names one).
    ///
    /// # Errors
    /// [`EnvError::Plan`] if the environment was built without
    /// [`EnvBuilder::checkpoints`], the name is not one, or it keeps as many
    /// as its policy allows; what a snapshot or a save returns.
    pub fn checkpoint(&self, name: &str) -> Result<Checkpoint> {
        match self.checkpoint_service() {
            Some(c) => c.take(name),
            None => Err(EnvError::Plan {
                item: format!("checkpoint {name:?}"),
                message: "the environment was built without checkpoints".into(),
            }),
        }
    }

    /// Whether the environment was built with [`EnvBuilder::checkpoints`].
    pub fn has_checkpoints(&self) -> bool {
        self.checkpoint_service().is_some()
    }

    /// The checkpoints taken so far, oldest first.
    pub fn checkpoints(&self) -> Vec<Checkpoint> {
        self.checkpoint_service()
            .map(Checkpoints::list)
            .unwrap_or_default()
    }

    /// The forks the agent asked for since the last call (only where the
    /// policy lets it ask): the host decides whether to make them, with
    /// [`EnvSnapshot::fork`] of the checkpoint.
    pub fn take_fork_requests(&self) -> Vec<ForkRequest> {
        self.checkpoint_service()
            .map(Checkpoints::take_requests)
            .unwrap_or_default()
    }
}
