//! `WasiError`: why a module could not be loaded or a run could not start.
//!
//! What a guest does wrong once it runs — a trap, a timeout, a memory bomb —
//! is not an error of the host API: it is reported in the
//! [`RunResult`](crate::RunResult) of the run.

use oanix_vfs::FsError;

/// The result type of the runtime's API.
pub type Result<T, E = WasiError> = std::result::Result<T, E>;

/// Everything that can go wrong in the host API of the WASI runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WasiError {
    /// The engine could not be created with this configuration.
    #[error("invalid runtime configuration: {0}")]
    Config(String),
    /// The bytes are not a valid WebAssembly module.
    #[error("invalid module: {0}")]
    Compile(String),
    /// The module needs imports that preview1 does not provide, or is not
    /// a command (it has no `_start`).
    #[error("cannot link module: {0}")]
    Link(String),
    /// The module could not be instantiated (for a reason other than the
    /// run's limits, which are reported in the run's result).
    #[error("cannot instantiate module: {0}")]
    Instantiate(String),
    /// The file given as stdin could not be opened.
    #[error("cannot open stdin {path}: {source}")]
    Stdin {
        /// The namespace path.
        path: String,
        /// Why.
        source: FsError,
    },
    /// A directory to preopen is missing or not a directory.
    #[error("cannot preopen {path}: {source}")]
    Preopen {
        /// The namespace path.
        path: String,
        /// Why.
        source: FsError,
    },
    /// The runtime's own machinery failed (a thread could not start...).
    #[error("runtime failure: {0}")]
    Runtime(String),
}
