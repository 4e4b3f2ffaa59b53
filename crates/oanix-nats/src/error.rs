//! What the JetStream backend can fail with.

/// Why a worker or a batch could not go on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// Talking to the server failed.
    #[error("NATS: {what}: {message}")]
    Nats {
        /// What was being done.
        what: String,
        /// The client's message.
        message: String,
    },
    /// A local file (the module cache) could not be used.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The system's message.
        message: String,
    },
    /// A module's bytes do not have the hash they are stored under.
    #[error("module {expected}: the object store gave bytes whose SHA-256 is {found}")]
    Corrupt {
        /// The hash asked for.
        expected: String,
        /// The hash of what came.
        found: String,
    },
}

impl NatsError {
    pub(crate) fn nats(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        Self::Nats {
            what: what.into(),
            message: e.to_string(),
        }
    }
}

/// The result of the backend's calls.
pub type Result<T> = std::result::Result<T, NatsError>;
