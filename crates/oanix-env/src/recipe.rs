//! How an environment was built: what its snapshots take and its forks
//! build again.

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
    #[cfg(feature = "executor")]
    pub(crate) executors: Option<oanix_exec::ExecutorConfig>,
}
