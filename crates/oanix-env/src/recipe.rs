//! How an environment was built: what its snapshots take and its forks
//! build again.

use std::path::PathBuf;
use std::sync::Arc;

use oanix_vfs::MountFlags;
use oanix_wasi::WasiRuntime;

use crate::mount::Mount;

/// One step of building an environment, kept for its snapshots.
#[derive(Clone)]
pub(crate) enum Op {
    Mount {
        path: String,
        source: String,
        flags: MountFlags,
        mount: Mount,
    },
    Bind {
        existing: String,
        target: String,
    },
}

/// How an environment was built.
pub(crate) struct Recipe {
    pub(crate) ops: Vec<Op>,
    pub(crate) runtime: Option<Arc<WasiRuntime>>,
    pub(crate) checkpoints: Option<CheckpointPolicy>,
    #[cfg(feature = "executor")]
    pub(crate) executors: Option<oanix_exec::ExecutorConfig>,
}

/// What an environment's agent may do through `/env/ctl` (see
/// [`EnvBuilder::checkpoints`](crate::EnvBuilder::checkpoints)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CheckpointPolicy {
    /// Most checkpoints the environment keeps (a request beyond is refused
    /// with `NoSpace`; a name taken again replaces its checkpoint).
    pub max: usize,
    /// Whether the agent may ask the host for forks (`fork NAME N`); a
    /// request is recorded for the host to decide, never carried out by
    /// the environment itself.
    pub allow_fork: bool,
    /// A store directory where each checkpoint is saved as `NAME.snap` when
    /// it is taken (none: kept in memory only).
    pub store: Option<PathBuf>,
}

impl Default for CheckpointPolicy {
    fn default() -> Self {
        Self {
            max: 8,
            allow_fork: false,
            store: None,
        }
    }
}
