//! `FsError`, the error vocabulary shared by every OANIX file service.

use serde::{Deserialize, Serialize};

/// The result type of every file operation.
pub type Result<T, E = FsError> = std::result::Result<T, E>;

/// Everything that can go wrong in a file operation.
///
/// Every variant names the virtual path it concerns (the path as the caller
/// of the service spelled it, never a host path). A [`Namespace`](crate::Namespace)
/// rewrites the paths of errors coming out of its mounts so that they name the
/// path in the namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FsError {
    /// The path does not exist.
    #[error("not found: {path}")]
    NotFound {
        /// The path that was looked up.
        path: String,
    },
    /// The path exists and the operation needed it not to.
    #[error("already exists: {path}")]
    AlreadyExists {
        /// The path that exists.
        path: String,
    },
    /// A directory was needed but the path (or one of its parents) is a file.
    #[error("not a directory: {path}")]
    NotADirectory {
        /// The path that was looked up.
        path: String,
    },
    /// A file was needed but the path is a directory.
    #[error("is a directory: {path}")]
    IsADirectory {
        /// The path that is a directory.
        path: String,
    },
    /// The directory is not empty.
    #[error("directory not empty: {path}")]
    NotEmpty {
        /// The directory.
        path: String,
    },
    /// The service (or this file) cannot be modified.
    #[error("read-only: {path}")]
    ReadOnly {
        /// The path that was to be modified.
        path: String,
    },
    /// The operation is not allowed.
    #[error("permission denied: {path}: {reason}")]
    PermissionDenied {
        /// The path concerned.
        path: String,
        /// Why it was refused.
        reason: String,
    },
    /// The path tried to leave the root of the service.
    #[error("path escapes the root: {path}")]
    Escape {
        /// The path, as given.
        path: String,
    },
    /// The path is malformed (NUL byte, empty, over-long...).
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path, as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The arguments or the data written are not acceptable.
    #[error("invalid input for {path}: {message}")]
    InvalidInput {
        /// The path concerned.
        path: String,
        /// What was wrong, and what was expected.
        message: String,
    },
    /// The handle does not allow the operation (reading a write-only handle...).
    #[error("bad handle for {path}: {reason}")]
    BadHandle {
        /// The path the handle was opened on.
        path: String,
        /// Why the handle cannot do it.
        reason: String,
    },
    /// The operation would block and the caller asked not to wait.
    #[error("would block: {path}")]
    WouldBlock {
        /// The path concerned.
        path: String,
    },
    /// A file would grow past the largest size the service allows.
    #[error("file too large: {path} (the limit is {limit} bytes)")]
    TooLarge {
        /// The file.
        path: String,
        /// The largest size allowed, in bytes.
        limit: u64,
    },
    /// The service has no room left for more data.
    #[error("no space left: {path} (capacity {capacity} bytes)")]
    NoSpace {
        /// The file being written.
        path: String,
        /// The service's capacity, in bytes.
        capacity: u64,
    },
    /// The host has handed out as many open files as it allows at once
    /// (across every agent of the process); nothing was opened.
    #[error("too many open files: {path} (the host allows {limit} at once)")]
    TooManyOpen {
        /// The file being opened.
        path: String,
        /// How many may be open at once.
        limit: u64,
    },
    /// A blocking operation gave up waiting.
    #[error("timed out: {path}")]
    TimedOut {
        /// The path concerned.
        path: String,
    },
    /// A rename or link between two different mounts.
    #[error("cross-device: {from} -> {to}")]
    CrossDevice {
        /// The source path.
        from: String,
        /// The destination path.
        to: String,
    },
    /// The service does not support the operation.
    #[error("unsupported: {operation} on {path}")]
    Unsupported {
        /// The path concerned.
        path: String,
        /// The operation that is not supported.
        operation: String,
    },
    /// An error from the storage underneath a service.
    #[error("i/o error on {path}: {message}")]
    Io {
        /// The path concerned.
        path: String,
        /// The underlying error.
        message: String,
    },
    /// Too many symbolic links were followed (a loop, or a chain longer
    /// than [`links::MAX_HOPS`](crate::links::MAX_HOPS)), or `nofollow`
    /// met a link as the last component.
    #[error("too many levels of symbolic links: {path}")]
    Loop {
        /// The path being looked up.
        path: String,
    },
    /// A lookup met a symbolic link it must follow. Services answer this
    /// instead of following links themselves; [`links::follow`](crate::links::follow)
    /// (which every [`Namespace`](crate::Namespace) applies) resolves the
    /// target and retries, so callers of a namespace never see it.
    #[error("symbolic link to follow: {path} -> {target}")]
    Symlink {
        /// The link's own path.
        path: String,
        /// What the link holds.
        target: String,
        /// What the looked-up path has after the link: empty, or a relative
        /// path; it ends with `/` when the looked-up path named a directory
        /// (and is just `/` when only that slash follows the link).
        rest: String,
    },
}

/// The kind of an [`FsError`], without its details: handy for matching and
/// for comparing outcomes in tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum FsErrorKind {
    /// See [`FsError::NotFound`].
    NotFound,
    /// See [`FsError::AlreadyExists`].
    AlreadyExists,
    /// See [`FsError::NotADirectory`].
    NotADirectory,
    /// See [`FsError::IsADirectory`].
    IsADirectory,
    /// See [`FsError::NotEmpty`].
    NotEmpty,
    /// See [`FsError::ReadOnly`].
    ReadOnly,
    /// See [`FsError::PermissionDenied`].
    PermissionDenied,
    /// See [`FsError::Escape`].
    Escape,
    /// See [`FsError::InvalidPath`].
    InvalidPath,
    /// See [`FsError::InvalidInput`].
    InvalidInput,
    /// See [`FsError::BadHandle`].
    BadHandle,
    /// See [`FsError::WouldBlock`].
    WouldBlock,
    /// See [`FsError::TooLarge`].
    TooLarge,
    /// See [`FsError::NoSpace`].
    NoSpace,
    /// See [`FsError::TooManyOpen`].
    TooManyOpen,
    /// See [`FsError::TimedOut`].
    TimedOut,
    /// See [`FsError::CrossDevice`].
    CrossDevice,
    /// See [`FsError::Unsupported`].
    Unsupported,
    /// See [`FsError::Io`].
    Io,
    /// See [`FsError::Loop`].
    Loop,
    /// See [`FsError::Symlink`].
    Symlink,
}

impl FsError {
    /// `NotFound` for `path`.
    pub fn not_found(path: impl Into<String>) -> Self {
        Self::NotFound { path: path.into() }
    }
    /// `AlreadyExists` for `path`.
    pub fn already_exists(path: impl Into<String>) -> Self {
        Self::AlreadyExists { path: path.into() }
    }
    /// `NotADirectory` for `path`.
    pub fn not_a_directory(path: impl Into<String>) -> Self {
        Self::NotADirectory { path: path.into() }
    }
    /// `IsADirectory` for `path`.
    pub fn is_a_directory(path: impl Into<String>) -> Self {
        Self::IsADirectory { path: path.into() }
    }
    /// `NotEmpty` for `path`.
    pub fn not_empty(path: impl Into<String>) -> Self {
        Self::NotEmpty { path: path.into() }
    }
    /// `ReadOnly` for `path`.
    pub fn read_only(path: impl Into<String>) -> Self {
        Self::ReadOnly { path: path.into() }
    }
    /// `PermissionDenied` for `path`, with a reason.
    pub fn permission_denied(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::PermissionDenied {
            path: path.into(),
            reason: reason.into(),
        }
    }
    /// `Escape` for `path`.
    pub fn escape(path: impl Into<String>) -> Self {
        Self::Escape { path: path.into() }
    }
    /// `InvalidPath` for `path`, with a reason.
    pub fn invalid_path(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::InvalidPath {
            path: path.into(),
            reason: reason.into(),
        }
    }
    /// `InvalidInput` for `path`, with a message saying what was expected.
    pub fn invalid_input(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput {
            path: path.into(),
            message: message.into(),
        }
    }
    /// `BadHandle` for `path`, with a reason.
    pub fn bad_handle(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::BadHandle {
            path: path.into(),
            reason: reason.into(),
        }
    }
    /// `WouldBlock` for `path`.
    pub fn would_block(path: impl Into<String>) -> Self {
        Self::WouldBlock { path: path.into() }
    }
    /// `TimedOut` for `path`.
    pub fn timed_out(path: impl Into<String>) -> Self {
        Self::TimedOut { path: path.into() }
    }
    /// `TooLarge` for `path`, with the limit.
    pub fn too_large(path: impl Into<String>, limit: u64) -> Self {
        Self::TooLarge {
            path: path.into(),
            limit,
        }
    }
    /// `NoSpace` for `path`, with the capacity.
    pub fn no_space(path: impl Into<String>, capacity: u64) -> Self {
        Self::NoSpace {
            path: path.into(),
            capacity,
        }
    }
    /// `TooManyOpen` for `path`, with the limit.
    pub fn too_many_open(path: impl Into<String>, limit: u64) -> Self {
        Self::TooManyOpen {
            path: path.into(),
            limit,
        }
    }
    /// `CrossDevice` for a rename from `from` to `to`.
    pub fn cross_device(from: impl Into<String>, to: impl Into<String>) -> Self {
        Self::CrossDevice {
            from: from.into(),
            to: to.into(),
        }
    }
    /// `Unsupported` for `operation` on `path`.
    pub fn unsupported(path: impl Into<String>, operation: impl Into<String>) -> Self {
        Self::Unsupported {
            path: path.into(),
            operation: operation.into(),
        }
    }
    /// `Loop` for `path`.
    pub fn too_many_links(path: impl Into<String>) -> Self {
        Self::Loop { path: path.into() }
    }
    /// `Io` for `path`, with the underlying message.
    pub fn io(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Io {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The kind of this error.
    pub fn kind(&self) -> FsErrorKind {
        match self {
            Self::NotFound { .. } => FsErrorKind::NotFound,
            Self::AlreadyExists { .. } => FsErrorKind::AlreadyExists,
            Self::NotADirectory { .. } => FsErrorKind::NotADirectory,
            Self::IsADirectory { .. } => FsErrorKind::IsADirectory,
            Self::NotEmpty { .. } => FsErrorKind::NotEmpty,
            Self::ReadOnly { .. } => FsErrorKind::ReadOnly,
            Self::PermissionDenied { .. } => FsErrorKind::PermissionDenied,
            Self::Escape { .. } => FsErrorKind::Escape,
            Self::InvalidPath { .. } => FsErrorKind::InvalidPath,
            Self::InvalidInput { .. } => FsErrorKind::InvalidInput,
            Self::BadHandle { .. } => FsErrorKind::BadHandle,
            Self::WouldBlock { .. } => FsErrorKind::WouldBlock,
            Self::TooLarge { .. } => FsErrorKind::TooLarge,
            Self::NoSpace { .. } => FsErrorKind::NoSpace,
            Self::TooManyOpen { .. } => FsErrorKind::TooManyOpen,
            Self::TimedOut { .. } => FsErrorKind::TimedOut,
            Self::CrossDevice { .. } => FsErrorKind::CrossDevice,
            Self::Unsupported { .. } => FsErrorKind::Unsupported,
            Self::Io { .. } => FsErrorKind::Io,
            Self::Loop { .. } => FsErrorKind::Loop,
            Self::Symlink { .. } => FsErrorKind::Symlink,
        }
    }

    /// The (first) path this error names.
    pub fn path(&self) -> &str {
        match self {
            Self::NotFound { path }
            | Self::AlreadyExists { path }
            | Self::NotADirectory { path }
            | Self::IsADirectory { path }
            | Self::NotEmpty { path }
            | Self::ReadOnly { path }
            | Self::PermissionDenied { path, .. }
            | Self::Escape { path }
            | Self::InvalidPath { path, .. }
            | Self::InvalidInput { path, .. }
            | Self::BadHandle { path, .. }
            | Self::WouldBlock { path }
            | Self::TimedOut { path }
            | Self::TooLarge { path, .. }
            | Self::NoSpace { path, .. }
            | Self::TooManyOpen { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Io { path, .. }
            | Self::Loop { path }
            | Self::Symlink { path, .. } => path,
            Self::CrossDevice { from, .. } => from,
        }
    }

    /// Rewrites every path in this error with `f`. A [`Namespace`](crate::Namespace)
    /// uses it to turn a service's inner path back into the namespace path.
    pub fn map_paths(mut self, mut f: impl FnMut(&str) -> String) -> Self {
        match &mut self {
            Self::NotFound { path }
            | Self::AlreadyExists { path }
            | Self::NotADirectory { path }
            | Self::IsADirectory { path }
            | Self::NotEmpty { path }
            | Self::ReadOnly { path }
            | Self::PermissionDenied { path, .. }
            | Self::Escape { path }
            | Self::InvalidPath { path, .. }
            | Self::InvalidInput { path, .. }
            | Self::BadHandle { path, .. }
            | Self::WouldBlock { path }
            | Self::TimedOut { path }
            | Self::TooLarge { path, .. }
            | Self::NoSpace { path, .. }
            | Self::TooManyOpen { path, .. }
            | Self::Unsupported { path, .. }
            | Self::Io { path, .. }
            | Self::Loop { path }
            | Self::Symlink { path, .. } => *path = f(path),
            Self::CrossDevice { from, to } => {
                *from = f(from);
                *to = f(to);
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_lowercase_and_name_the_path() {
        let e = FsError::not_found("/a/b");
        assert_eq!(e.to_string(), "not found: /a/b");
        let e = FsError::invalid_input("/cap/http/request", "field `url`: expected a string");
        assert_eq!(
            e.to_string(),
            "invalid input for /cap/http/request: field `url`: expected a string"
        );
        assert_eq!(e.kind(), FsErrorKind::InvalidInput);
    }

    #[test]
    fn map_paths_rewrites_both_ends() {
        let e = FsError::cross_device("/a", "/b").map_paths(|p| format!("/mnt{p}"));
        assert_eq!(e, FsError::cross_device("/mnt/a", "/mnt/b"));
        assert_eq!(e.path(), "/mnt/a");
    }
}
