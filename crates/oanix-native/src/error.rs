//! Why a native agent could not run.

use oanix_env::EnvError;
use oanix_fuse::FuseError;
use oanix_sandbox::SandboxError;

/// Why a native agent could not start or be reported; each says in one line
/// what was wrong and, where it can, what to install or enable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NativeError {
    /// The environment's agent is not a native command, and no command was given.
    #[error("no native command: the agent names none ([agent] command = [\"program\", ...])")]
    NoCommand,
    /// The namespace could not be mounted through FUSE.
    #[error("mounting the namespace through FUSE: {0}")]
    Fuse(#[from] FuseError),
    /// The sandbox refused its configuration or could not start the command.
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    /// The egress proxy could not be made (a secret, its certificates).
    #[error("the egress proxy: {0}")]
    Proxy(#[from] oanix_proxy::ProxyError),
    /// The environment refused a step (a status change, a namespace that did not build).
    #[error(transparent)]
    Env(#[from] EnvError),
    /// A file or directory of the run on the host.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// An option of the sandbox that cannot be used.
    #[error("[sandbox] {key}: {message}")]
    InvalidSandbox {
        /// The key, as a manifest names it.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl NativeError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// The result of this crate's operations.
pub type Result<T, E = NativeError> = std::result::Result<T, E>;
