//! `EnvError`, what building or running an environment can fail with.

use oanix_vfs::FsError;

use crate::status::EnvStatus;

/// The result type of this crate.
pub type Result<T, E = EnvError> = std::result::Result<T, E>;

/// What can go wrong with an environment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// A lifecycle change that is not allowed from the current status.
    #[error("illegal transition of environment {id}: {from} -> {to}")]
    IllegalTransition {
        /// The environment.
        id: String,
        /// Its status.
        from: EnvStatus,
        /// The status asked for.
        to: String,
    },
    /// The manifest is not valid: the message names the key and the line.
    #[error("manifest {source_name}: {message}")]
    Manifest {
        /// Which manifest (a file name, or `<string>`).
        source_name: String,
        /// What is wrong, where.
        message: String,
    },
    /// Two mounts declare the same role (two tasks, two logs services, two
    /// workspaces...): an environment wires one of each. Mount the other
    /// one plain (`Mount::service`), or at the same path to replace it.
    #[error("two mounts declare the {role} role, {first} and {second}: an environment wires one")]
    Ambiguous {
        /// The role: `task`, `logs`, `http`, `ws`, `nostr` or `workspace`.
        role: &'static str,
        /// The path of the mount that declared it first.
        first: String,
        /// The path of the mount that declared it again.
        second: String,
    },
    /// A plan ([`EnvPlan`](crate::EnvPlan)) asks for something that cannot
    /// be: the item names what the host gave (a command-line flag, or the
    /// plan's key when it has no origin).
    #[error("{item}: {message}")]
    Plan {
        /// What was given, where.
        item: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// A service refused.
    #[error(transparent)]
    Service(#[from] oanix_services::ServiceError),
    /// A capability refused.
    #[error(transparent)]
    Cap(#[from] oanix_caps::CapError),
    /// The WASI runtime failed (not the guest: its traps are in the run's result).
    #[error(transparent)]
    Wasi(#[from] oanix_wasi::WasiError),
    /// A snapshot could not be taken of a mount, or restored to one.
    #[error("snapshot of mount {path}: {reason}")]
    Snapshot {
        /// The mount.
        path: String,
        /// Why.
        reason: String,
    },
    /// The snapshot store refused (its message names the file and what is
    /// wrong).
    #[error(transparent)]
    Store(#[from] oanix_store::StoreError),
    /// A host file (a manifest, a module) could not be read.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The host path.
        path: String,
        /// The error.
        message: String,
    },
}
