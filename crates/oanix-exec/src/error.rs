//! `ExecutorError`, the error of the executor manager and its executors.
//!
//! Failures of individual requests, connections and publications are not
//! errors of this kind: they are delivered to the capability service (a
//! failed response, a closed connection with its reason, a rejected event)
//! where the agent sees them.

use oanix_caps::CapError;

/// The result type of this crate.
pub type Result<T, E = ExecutorError> = std::result::Result<T, E>;

/// What can go wrong when starting, running or stopping executors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutorError {
    /// The manager could not create its tokio runtime.
    #[error("could not build the tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
    /// `start` was called twice.
    #[error("the executors are already started")]
    AlreadyStarted,
    /// The configuration cannot be used; the text says why.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The TLS configuration could not be built (a bad root certificate).
    #[error("tls configuration: {0}")]
    Tls(String),
    /// An executor stopped with an error.
    #[error("executor `{name}` failed: {message}")]
    Executor {
        /// The executor's name.
        name: String,
        /// What went wrong.
        message: String,
    },
    /// An executor panicked.
    #[error("executor `{name}` panicked")]
    Panicked {
        /// The executor's name.
        name: String,
    },
    /// Executors did not stop within the shutdown grace period (plus a
    /// second) and were aborted; their in-flight work was failed by the
    /// manager where it could be.
    #[error("executors did not stop in time and were aborted: {}", names.join(", "))]
    ShutdownTimeout {
        /// The executors aborted.
        names: Vec<String>,
    },
    /// A capability service refused an operation.
    #[error(transparent)]
    Cap(#[from] CapError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase() {
        let e = ExecutorError::ShutdownTimeout {
            names: vec!["http".into(), "ws".into()],
        };
        assert_eq!(
            e.to_string(),
            "executors did not stop in time and were aborted: http, ws"
        );
        assert_eq!(
            ExecutorError::AlreadyStarted.to_string(),
            "the executors are already started"
        );
    }
}
