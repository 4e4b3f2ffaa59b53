//! `ServiceError`, the error of the host-side APIs of the standard services,
//! and its mapping into the shared [`FsError`] vocabulary.

use std::time::Duration;

use oanix_vfs::FsError;

/// The result type of the host-side APIs of this crate.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// What can go wrong when a host drives a standard service.
///
/// File operations answer [`FsError`] as every service does; this enum is
/// for the methods a host calls directly (`TaskFs::set_running`,
/// `TaskFs::wait_finished`, `TaskFs::result`...). Every variant names the
/// file of the service it concerns, so that it converts into an `FsError`
/// (with `From`) without losing anything a reader needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// A state change that the service's lifecycle does not allow.
    #[error("illegal transition of {path}: {from} -> {to}")]
    IllegalTransition {
        /// The file that shows the state (`/status` for a task).
        path: String,
        /// The state the service is in.
        from: String,
        /// The state that was asked for.
        to: String,
    },
    /// Data that should be JSON (or a structured event) is not.
    #[error("invalid data in {path}: {message}")]
    InvalidData {
        /// The file holding the data.
        path: String,
        /// What is wrong, and where.
        message: String,
    },
    /// A size or count limit of the service would be exceeded.
    #[error("limit exceeded for {path} (the limit is {limit})")]
    LimitExceeded {
        /// The file concerned.
        path: String,
        /// The limit, in the unit of what is limited (bytes for files).
        limit: u64,
    },
    /// A wait ended before what it waited for happened.
    #[error("timed out after {waited:?} waiting on {path}")]
    TimedOut {
        /// The file whose change was awaited.
        path: String,
        /// How long the call waited.
        waited: Duration,
    },
    /// A file operation failed.
    #[error(transparent)]
    Fs(#[from] FsError),
}

impl From<ServiceError> for FsError {
    /// Maps a service error onto the file-error kind a file call would have
    /// given: an illegal transition is `PermissionDenied`, invalid data
    /// `InvalidInput`, an exceeded limit `TooLarge`, a wait that ran out
    /// `TimedOut`.
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::IllegalTransition { path, from, to } => {
                FsError::permission_denied(path, format!("illegal transition: {from} -> {to}"))
            }
            ServiceError::InvalidData { path, message } => FsError::invalid_input(path, message),
            ServiceError::LimitExceeded { path, limit } => FsError::too_large(path, limit),
            ServiceError::TimedOut { path, .. } => FsError::timed_out(path),
            ServiceError::Fs(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oanix_vfs::FsErrorKind;

    #[test]
    fn messages_are_lowercase_and_name_the_file() {
        let e = ServiceError::IllegalTransition {
            path: "/status".into(),
            from: "completed".into(),
            to: "running".into(),
        };
        assert_eq!(
            e.to_string(),
            "illegal transition of /status: completed -> running"
        );
        let e = ServiceError::TimedOut {
            path: "/status".into(),
            waited: Duration::from_millis(5),
        };
        assert_eq!(e.to_string(), "timed out after 5ms waiting on /status");
    }

    #[test]
    fn maps_into_fs_errors() {
        let cases = [
            (
                ServiceError::IllegalTransition {
                    path: "/status".into(),
                    from: "pending".into(),
                    to: "completed".into(),
                },
                FsErrorKind::PermissionDenied,
            ),
            (
                ServiceError::InvalidData {
                    path: "/result.json".into(),
                    message: "expected value at line 1 column 1".into(),
                },
                FsErrorKind::InvalidInput,
            ),
            (
                ServiceError::LimitExceeded {
                    path: "/result.json".into(),
                    limit: 10,
                },
                FsErrorKind::TooLarge,
            ),
            (
                ServiceError::TimedOut {
                    path: "/status".into(),
                    waited: Duration::ZERO,
                },
                FsErrorKind::TimedOut,
            ),
            (
                ServiceError::from(FsError::not_found("/x")),
                FsErrorKind::NotFound,
            ),
        ];
        for (service, kind) in cases {
            let fs = FsError::from(service);
            assert_eq!(fs.kind(), kind);
            assert!(fs.path().starts_with('/'), "{fs}");
        }
    }
}
