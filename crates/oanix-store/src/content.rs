//! What a snapshot holds: the file state of an environment's mounts.

use std::path::PathBuf;

use oanix_prims::{FrozenCow, FrozenTree};
use oanix_services::{LogsSnapshot, TaskSnapshot};
use oanix_vfs::{MountFlags, Timestamp};
use serde_json::Value;

/// A snapshot as a value: its description and the state of each mount, in
/// mount order. [`Store::save`](crate::Store::save) writes one,
/// [`Store::load`](crate::Store::load) reads one back equal to it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SnapshotContent {
    /// When it was taken.
    pub created: Timestamp,
    /// What it was taken of (an environment's id).
    pub source: String,
    /// Free-form data of the writer (the environment's status, a label).
    pub note: Value,
    /// The mounts, in the order they were mounted.
    pub mounts: Vec<StoredMount>,
}

impl SnapshotContent {
    /// A snapshot of `mounts`, taken now, of `source`.
    pub fn new(source: impl Into<String>, mounts: Vec<StoredMount>) -> Self {
        Self {
            created: Timestamp::now(),
            source: source.into(),
            note: Value::Null,
            mounts,
        }
    }

    /// The same, with `note`.
    #[must_use]
    pub fn with_note(mut self, note: Value) -> Self {
        self.note = note;
        self
    }

    /// The mount at `path`.
    pub fn mount(&self, path: &str) -> Option<&StoredMount> {
        self.mounts.iter().find(|m| m.path == path)
    }
}

/// One mount of a snapshot.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StoredMount {
    /// Where it is mounted.
    pub path: String,
    /// How (Plan 9 bind flags).
    pub flags: MountFlags,
    /// What it held.
    pub state: MountState,
}

impl StoredMount {
    /// `state` mounted at `path` with `flags`.
    pub fn new(path: impl Into<String>, flags: MountFlags, state: MountState) -> Self {
        Self {
            path: path.into(),
            flags,
            state,
        }
    }
}

/// What one mount held.
///
/// Only file state: capabilities (their policies, queues, keys and
/// connections) are never stored, so that loading a snapshot grants no
/// authority the loader does not give again.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MountState {
    /// A task service: specification, metadata, status and result.
    Task(TaskSnapshot),
    /// A logs service: its three files.
    Logs(LogsSnapshot),
    /// An in-memory file system and its capacity in bytes.
    Memory {
        /// Every file, directory and link.
        tree: FrozenTree,
        /// Its capacity, in bytes.
        capacity: u64,
    },
    /// A copy-on-write overlay of a host directory: the directory is named,
    /// never copied; what the overlay changed is kept.
    Overlay {
        /// The directory.
        host: PathBuf,
        /// The overlay's upper layer, whiteouts and origins.
        frozen: FrozenCow,
        /// The capacity of its layer, in bytes.
        capacity: u64,
    },
    /// A host directory mounted as it is (read-only or read-write): named,
    /// never copied.
    Directory {
        /// The directory.
        host: PathBuf,
        /// Whether the mount could write to it.
        writable: bool,
    },
}

impl MountState {
    /// The kind of state, as the manifest writes it (`task`, `logs`,
    /// `memory`, `overlay`, `directory`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Task(_) => "task",
            Self::Logs(_) => "logs",
            Self::Memory { .. } => "memory",
            Self::Overlay { .. } => "overlay",
            Self::Directory { .. } => "directory",
        }
    }
}
