//! `CapError`, the error of the capability services' programmatic API, and its
//! mapping into [`FsError`] for the file side.

use oanix_vfs::FsError;

/// The result type of the capability services' programmatic API.
pub type Result<T, E = CapError> = std::result::Result<T, E>;

/// Everything that can go wrong when using a capability service.
///
/// The file side reports the same errors as [`FsError`]s naming the file that
/// was written or read (see [`CapError::into_fs_error`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CapError {
    /// A message or argument is malformed: the text says which field and what
    /// was expected.
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A policy setting is malformed (a host pattern, a scheme, an injected
    /// header): which setting, the value given and what is wrong.
    #[error("invalid {setting} `{value}`: {problem}")]
    InvalidPolicy {
        /// The setting (`"host pattern"`, `"deny pattern"`, `"scheme"`...).
        setting: &'static str,
        /// The value given.
        value: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The egress policy refused the request; the text says why.
    #[error("refused by policy: {0}")]
    Refused(String),
    /// A body, message or event is larger than allowed.
    #[error("{what} too large (the limit is {limit} bytes)")]
    TooLarge {
        /// What was too large (`"request body"`, `"message"`...).
        what: &'static str,
        /// The limit, in bytes.
        limit: u64,
    },
    /// A bounded queue is full; retry once it has drained.
    #[error("{what} is full (capacity {capacity})")]
    QueueFull {
        /// Which queue (`"pending requests"`, `"outbox of conn-1"`...).
        what: String,
        /// How many items it holds at most.
        capacity: usize,
    },
    /// No request, connection or event has this id (any more).
    #[error("unknown {kind} `{id}`")]
    UnknownId {
        /// What kind of id (`"request"`, `"connection"`, `"event"`).
        kind: &'static str,
        /// The id given.
        id: String,
    },
    /// The item exists but is not in a state that allows the operation.
    #[error("{kind} `{id}` is {state}")]
    WrongState {
        /// What kind of item (`"request"`, `"connection"`).
        kind: &'static str,
        /// Its id.
        id: String,
        /// Its state, as a word (`"closed"`, `"in flight"`...).
        state: String,
    },
    /// A wait for a response or message ended before it arrived.
    #[error("timed out waiting for {0}")]
    TimedOut(String),
    /// Nothing is there yet and the caller asked not to wait.
    #[error("nothing available yet: {0}")]
    WouldBlock(String),
    /// A secret key could not be used.
    #[error("invalid key: {0}")]
    Key(String),
    /// Signing or verifying an event failed.
    #[error("signature error: {0}")]
    Signature(String),
}

impl CapError {
    /// `Invalid` with a message.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::Invalid(message.into())
    }

    /// `Refused` with a reason.
    pub fn refused(reason: impl Into<String>) -> Self {
        Self::Refused(reason.into())
    }

    /// The same error as an [`FsError`] about `path`, the file that was
    /// written or read:
    ///
    /// | `CapError` | `FsError` |
    /// |---|---|
    /// | `Invalid`, `Key`, `InvalidPolicy` | `InvalidInput` (with the message) |
    /// | `Refused` | `PermissionDenied` (with the reason) |
    /// | `TooLarge` | `TooLarge` (with the limit) |
    /// | `QueueFull`, `WouldBlock` | `WouldBlock` |
    /// | `UnknownId` | `NotFound` |
    /// | `WrongState`, `Signature` | `Io` (with the message) |
    /// | `TimedOut` | `TimedOut` |
    pub fn into_fs_error(self, path: &str) -> FsError {
        match self {
            Self::Invalid(message) | Self::Key(message) => FsError::invalid_input(path, message),
            e @ Self::InvalidPolicy { .. } => FsError::invalid_input(path, e.to_string()),
            Self::Refused(reason) => FsError::permission_denied(path, reason),
            Self::TooLarge { limit, .. } => FsError::too_large(path, limit),
            Self::QueueFull { .. } | Self::WouldBlock(_) => FsError::would_block(path),
            Self::UnknownId { .. } => FsError::not_found(path),
            e @ (Self::WrongState { .. } | Self::Signature(_)) => FsError::io(path, e.to_string()),
            Self::TimedOut(_) => FsError::timed_out(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oanix_vfs::FsErrorKind;

    #[test]
    fn messages_are_lowercase_and_map_to_fs_errors() {
        let e = CapError::invalid("field `url`: expected a string");
        assert_eq!(
            e.to_string(),
            "invalid input: field `url`: expected a string"
        );
        let fs = e.into_fs_error("/request");
        assert_eq!(
            fs,
            FsError::invalid_input("/request", "field `url`: expected a string")
        );
        let e = CapError::QueueFull {
            what: "outbox of conn-1".into(),
            capacity: 4,
        };
        assert_eq!(e.to_string(), "outbox of conn-1 is full (capacity 4)");
        assert_eq!(e.into_fs_error("/x").kind(), FsErrorKind::WouldBlock);
        let e = CapError::WrongState {
            kind: "connection",
            id: "conn-1".into(),
            state: "closed".into(),
        };
        assert_eq!(
            e.into_fs_error("/conns/conn-1/out"),
            FsError::io("/conns/conn-1/out", "connection `conn-1` is closed")
        );
        assert_eq!(
            CapError::refused("scheme `ftp` is not allowed").into_fs_error("/request"),
            FsError::permission_denied("/request", "scheme `ftp` is not allowed")
        );
    }
}
