//! OANIX environments: an agent's world, built, wired and run.
//!
//! An [`OanixEnv`] is a namespace with a lifecycle. It is built with an
//! [`EnvBuilder`] — in code, mount by mount, or from an [`EnvPlan`], the
//! data a TOML manifest ([`manifest`]) or the `oanix` command's flags
//! describe — and it wires what its mounts declare: the task's status
//! follows the environment's, every capability's records go to the logs'
//! `events.jsonl`, and the guest's output goes to `/logs` as it runs.
//! [`OanixEnv::run_wasi`] runs a WASI agent in it, and the status follows
//! the run. A native agent (an [`AgentSpec`] with a `command`, and its
//! [`SandboxSpec`]) is data here; `oanix-native` runs it in a Linux sandbox
//! over the namespace.
//!
//! # Wiring
//!
//! What an environment wires is explicit. Each mount is a [`Mount`]: a
//! service and the roles it declares — task, logs, a capability, the
//! reviewable workspace. The library's `TaskFs`, `LogsFs`, `HttpFs`,
//! `WsFs`, `NostrFs` and `WorkspaceOverlay` declare their role when
//! mounted as they are; everything else mounts plain, and a [`Mount`]
//! declares roles for a host's own services. Capabilities take part
//! through [`EnvCapability`] (records, executors), workspaces through
//! [`WorkspaceReview`] (changes, diff, commit, discard). Two mounts that
//! declare one role are an error ([`EnvError::Ambiguous`]).
//!
//! With the `executor` feature, [`EnvBuilder::executors`] attaches
//! executors to the environment's capabilities: they start when it is built
//! and shut down when it finishes, so an agent's requests are carried out.
//!
//! # Snapshots
//!
//! [`OanixEnv::snapshot`] takes an [`EnvSnapshot`]: the file state of
//! every mount at one point in time — task, logs, in-memory trees,
//! copy-on-write layers with their whiteouts — sharing every file's bytes.
//! [`EnvSnapshot::fork`] starts new environments from it (new ids, layers
//! of their own over the frozen state, fresh capabilities);
//! [`EnvSnapshot::save`] and [`EnvSnapshot::load`] keep it in an
//! `oanix-store` store, and a plan's [`from`](EnvPlan::from) (a
//! manifest's `from = "DIR/NAME.snap"`) starts an environment from a saved
//! one. What is kept and what is not is in [`EnvSnapshot`]'s docs. With
//! [`EnvBuilder::checkpoints`], an agent asks for checkpoints itself by
//! writing `checkpoint NAME` to `/env/ctl`, and reads the list in
//! `/env/checkpoints`; forking stays the host's decision.
//!
//! # Lifecycle
//!
//! `Created → Running → Completed(exit code) | Failed(error)`, or
//! `Created → Failed`; anything else is [`EnvError::IllegalTransition`].
//!
//! # Where it sits
//!
//! Above the services, the capabilities, the WASI runtime and the snapshot
//! store; the scheduler runs jobs in environments.
//!
//! # Example
//!
//! ```
//! use oanix_env::{EnvBuilder, EnvStatus};
//! use oanix_prims::MemFs;
//! use oanix_services::LogsFs;
//! use oanix_vfs::{read_to_string, write_file};
//!
//! let logs = LogsFs::new();
//! let env = EnvBuilder::new()
//!     .mount("/logs", logs.clone())
//!     .mount("/workspace", MemFs::new())
//!     .build()?;
//! assert_eq!(env.status(), EnvStatus::Created);
//! env.set_running()?;
//! write_file(env.namespace(), "/workspace/out.txt", "done")?;
//! env.set_completed(0)?;
//! assert!(env.is_finished());
//! // The lifecycle is in the logs.
//! assert!(read_to_string(env.namespace(), "/logs/events.jsonl")?.contains("environment completed"));
//! # Ok::<(), oanix_env::EnvError>(())
//! ```

mod capability;
mod checkpoint;
mod env;
mod error;
pub mod manifest;
mod mount;
pub mod plan;
mod recipe;
mod review;
mod snapshot;
mod status;

pub use capability::EnvCapability;
pub use checkpoint::{Checkpoint, ForkRequest};
pub use env::{
    AgentSpec, DEFAULT_MEMFS_BYTES, DEFAULT_OVERLAY_BYTES, DEFAULT_TMP_BYTES, EnvBuilder,
    EnvLimits, OanixEnv, SandboxSpec, SecretPlan,
};
pub use error::{EnvError, Result};
pub use mount::Mount;
#[cfg(feature = "nostr")]
pub use plan::NostrPlan;
pub use plan::{
    EnvPlan, InjectPlan, LimitsPlan, MountPlan, MountSource, Origin, PolicyPlan, TaskPlan,
    WorkspaceMode,
};
pub use recipe::CheckpointPolicy;
pub use review::WorkspaceReview;
pub use snapshot::{EnvSnapshot, ForkOptions};
pub use status::EnvStatus;
