//! OANIX environments: an agent's world, built, wired and run.
//!
//! An [`OanixEnv`] is a namespace with a lifecycle. It is built with an
//! [`EnvBuilder`] — in code, mount by mount, or from a TOML manifest
//! ([`EnvBuilder::from_manifest`]) — and it wires the services it finds
//! among its mounts: the task's status follows the environment's, every
//! capability's records go to the logs' `events.jsonl`, and the guest's
//! output goes to `/logs` as it runs. [`OanixEnv::run_wasi`] runs a WASI
//! agent in it, and the status follows the run.
//!
//! With the `executor` feature, [`EnvBuilder::executors`] attaches
//! executors to the environment's capabilities: they start when it is built
//! and shut down when it finishes, so an agent's requests are carried out.
//!
//! # Lifecycle
//!
//! `Created → Running → Completed(exit code) | Failed(error)`, or
//! `Created → Failed`; anything else is [`EnvError::IllegalTransition`].
//!
//! # Where it sits
//!
//! Above the services, the capabilities and the WASI runtime; the scheduler
//! runs jobs in environments.
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

mod env;
mod error;
pub mod manifest;
mod status;

pub use env::{
    AgentSpec, DEFAULT_MEMFS_BYTES, DEFAULT_OVERLAY_BYTES, DEFAULT_TMP_BYTES, EnvBuilder,
    EnvLimits, OanixEnv,
};
pub use error::{EnvError, Result};
pub use status::EnvStatus;
