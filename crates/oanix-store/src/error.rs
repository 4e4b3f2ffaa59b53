//! What can go wrong reading or writing a store.

use std::path::PathBuf;

/// Why a store could not save, load, list or prune.
///
/// Every variant names the file or the snapshot and what is wrong with it;
/// a load that fails returns nothing of the snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file of the store could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system answered.
        source: std::io::Error,
    },
    /// A snapshot name that cannot be a file name of the store.
    #[error("invalid snapshot name {name:?}: {reason}")]
    BadName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No snapshot of that name.
    #[error("{store}: no snapshot named {name:?}")]
    NotFound {
        /// The store's directory.
        store: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// The file is not a snapshot manifest of this format.
    #[error("{path}: not a snapshot manifest ({reason})")]
    NotManifest {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// Written by another version of the format.
    #[error("{path}: format version {found}, this build reads version {expected}")]
    Version {
        /// The file.
        path: PathBuf,
        /// The version found.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// The manifest's checksum does not match its contents.
    #[error(
        "{path}: checksum mismatch: the manifest was changed or cut short after it was written"
    )]
    ManifestChecksum {
        /// The file.
        path: PathBuf,
    },
    /// The manifest's checksum matches but what it says is inconsistent.
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Bytes a snapshot refers to are missing or damaged.
    #[error("snapshot {snapshot:?}, {what}: {problem}")]
    Blob {
        /// The snapshot.
        snapshot: String,
        /// What the bytes are (`mount /workspace, file /src/main.rs`).
        what: String,
        /// What is wrong (the pack, the offset, the checksum).
        problem: String,
    },
    /// Content that cannot be stored as it is.
    #[error("mount {path}: {reason}")]
    Unstorable {
        /// The mount.
        path: String,
        /// Why.
        reason: String,
    },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// The result of a store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
