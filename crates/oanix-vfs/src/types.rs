//! The plain data of the file interface: open flags, metadata, directory
//! entries, timestamps.

use serde::{Deserialize, Serialize};

/// A point in time, in nanoseconds since the Unix epoch.
///
/// OANIX keeps its own type (rather than `SystemTime`) so that metadata
/// serialises as one number, maps directly onto WASI's timestamps, and works
/// on `wasm32-unknown-unknown`, where `SystemTime::now` is not available.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The current time.
    pub fn now() -> Self {
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        use std::time::{SystemTime, UNIX_EPOCH};
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        use web_time::{SystemTime, UNIX_EPOCH};
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self(nanos)
    }

    /// Nanoseconds since the Unix epoch.
    pub fn as_nanos(self) -> u64 {
        self.0
    }
}

impl From<std::time::SystemTime> for Timestamp {
    fn from(t: std::time::SystemTime) -> Self {
        let nanos = t
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
            .unwrap_or(0);
        Self(nanos)
    }
}

/// What a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum FileKind {
    /// A regular file (including capability files).
    File,
    /// A directory.
    Directory,
    /// A symbolic link: a name whose content is a path, followed by lookups
    /// (see [`links`](crate::links)). `lstat` and listings report it; `stat`
    /// reports what it leads to.
    Symlink,
    /// Something else a host directory may hold (a device, a FIFO, a
    /// socket): listed, but never opened.
    Other,
}

impl FileKind {
    /// Whether this is a directory.
    pub fn is_dir(self) -> bool {
        self == Self::Directory
    }
    /// Whether this is a file.
    pub fn is_file(self) -> bool {
        self == Self::File
    }
    /// Whether this is a symbolic link.
    pub fn is_symlink(self) -> bool {
        self == Self::Symlink
    }
}

/// What `stat` answers about a file or directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metadata {
    /// File or directory.
    pub kind: FileKind,
    /// Size in bytes (0 for directories and for files computed on read; the
    /// length of the target for a symbolic link).
    pub size: u64,
    /// Whether the file can be written through this service.
    pub readonly: bool,
    /// A number that identifies the file within its service for as long as
    /// it exists, usable as an inode number.
    pub id: u64,
    /// Identifies the service the file lives in, where several are combined
    /// (a [`Namespace`](crate::Namespace) sets it per mount); usable as a
    /// device number. 0 when not set.
    pub device: u64,
    /// How many names the file has (hard links); 1 for services without
    /// hard links.
    #[serde(default = "one")]
    pub nlink: u64,
    /// Creation time, if known.
    pub created: Option<Timestamp>,
    /// Last modification time, if known.
    pub modified: Option<Timestamp>,
    /// Last access time, if known.
    pub accessed: Option<Timestamp>,
}

impl Metadata {
    /// Metadata of a file of `size` bytes with file id `id`.
    pub fn file(id: u64, size: u64) -> Self {
        Self {
            kind: FileKind::File,
            size,
            readonly: false,
            id,
            device: 0,
            nlink: 1,
            created: None,
            modified: None,
            accessed: None,
        }
    }

    /// Metadata of a directory with file id `id`.
    pub fn directory(id: u64) -> Self {
        Self {
            kind: FileKind::Directory,
            ..Self::file(id, 0)
        }
    }

    /// Metadata of a symbolic link with file id `id` whose target is
    /// `target_len` bytes long.
    pub fn symlink(id: u64, target_len: u64) -> Self {
        Self {
            kind: FileKind::Symlink,
            ..Self::file(id, target_len)
        }
    }

    /// Sets the number of names of the file.
    #[must_use]
    pub fn with_nlink(mut self, nlink: u64) -> Self {
        self.nlink = nlink;
        self
    }

    /// Sets the read-only flag.
    #[must_use]
    pub fn with_readonly(mut self, readonly: bool) -> Self {
        self.readonly = readonly;
        self
    }

    /// Sets the creation, modification and access times at once.
    #[must_use]
    pub fn with_times(
        mut self,
        created: Timestamp,
        modified: Timestamp,
        accessed: Timestamp,
    ) -> Self {
        self.created = Some(created);
        self.modified = Some(modified);
        self.accessed = Some(accessed);
        self
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind.is_dir()
    }

    /// Whether this is a file.
    pub fn is_file(&self) -> bool {
        self.kind.is_file()
    }

    /// Whether this is a symbolic link (only `lstat` answers one).
    pub fn is_symlink(&self) -> bool {
        self.kind.is_symlink()
    }
}

/// The default of [`Metadata::nlink`] when deserialising.
fn one() -> u64 {
    1
}

/// One entry of a directory listing (`.` and `..` are never listed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DirEntry {
    /// The entry's name (one component).
    pub name: String,
    /// File or directory.
    pub kind: FileKind,
    /// Size in bytes, as `stat` would say.
    pub size: u64,
    /// The file id, as `stat` would say (0 if the service cannot tell cheaply).
    pub id: u64,
}

impl DirEntry {
    /// A new entry.
    pub fn new(name: impl Into<String>, kind: FileKind, size: u64, id: u64) -> Self {
        Self {
            name: name.into(),
            kind,
            size,
            id,
        }
    }

    /// Whether the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind.is_dir()
    }
}

/// How to open a file, in the manner of `std::fs::OpenOptions` and POSIX `open`.
///
/// Rules every service follows (see the [`FileService`](crate::FileService) contract):
/// - a handle may read if `read` is set, or if neither `write` nor `append` is;
/// - `append` implies write access and makes every write go to the end;
/// - `truncate` needs `write` or `append`;
/// - `create` creates a missing file, `create_new` also fails if it exists;
/// - `directory` fails with `NotADirectory` unless the path is a directory;
/// - `nonblocking` makes reads that would wait (capability responses) fail
///   with `WouldBlock` instead;
/// - `nofollow` makes the open fail with `Loop` when the last component of
///   the path is a symbolic link (POSIX `O_NOFOLLOW`); links in the parents
///   are still followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OpenFlags {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Create the file if it does not exist.
    pub create: bool,
    /// Create the file, failing if it exists.
    pub create_new: bool,
    /// Cut the file to length 0 on open.
    pub truncate: bool,
    /// Every write goes to the end of the file.
    pub append: bool,
    /// The path must be a directory.
    pub directory: bool,
    /// Reads that would wait fail with `WouldBlock`.
    pub nonblocking: bool,
    /// A symbolic link as the last component fails with `Loop`.
    pub nofollow: bool,
}

impl OpenFlags {
    /// Read only.
    pub const fn read_only() -> Self {
        Self {
            read: true,
            write: false,
            create: false,
            create_new: false,
            truncate: false,
            append: false,
            directory: false,
            nonblocking: false,
            nofollow: false,
        }
    }

    /// Write only, on an existing file.
    pub const fn write_only() -> Self {
        Self {
            read: false,
            write: true,
            ..Self::read_only()
        }
    }

    /// Read and write, on an existing file.
    pub const fn read_write() -> Self {
        Self {
            read: true,
            write: true,
            ..Self::read_only()
        }
    }

    /// Write, creating the file if needed and truncating it (like `File::create`).
    pub const fn create_truncate() -> Self {
        Self {
            read: false,
            write: true,
            create: true,
            truncate: true,
            ..Self::read_only()
        }
    }

    /// Append, creating the file if needed.
    pub const fn append_create() -> Self {
        Self {
            read: false,
            write: false,
            create: true,
            append: true,
            ..Self::read_only()
        }
    }

    /// Open a directory.
    pub const fn directory() -> Self {
        Self {
            directory: true,
            ..Self::read_only()
        }
    }

    /// Sets `read`.
    #[must_use]
    pub const fn with_read(mut self, on: bool) -> Self {
        self.read = on;
        self
    }
    /// Sets `write`.
    #[must_use]
    pub const fn with_write(mut self, on: bool) -> Self {
        self.write = on;
        self
    }
    /// Sets `create`.
    #[must_use]
    pub const fn with_create(mut self, on: bool) -> Self {
        self.create = on;
        self
    }
    /// Sets `create_new`.
    #[must_use]
    pub const fn with_create_new(mut self, on: bool) -> Self {
        self.create_new = on;
        self
    }
    /// Sets `truncate`.
    #[must_use]
    pub const fn with_truncate(mut self, on: bool) -> Self {
        self.truncate = on;
        self
    }
    /// Sets `append`.
    #[must_use]
    pub const fn with_append(mut self, on: bool) -> Self {
        self.append = on;
        self
    }
    /// Sets `directory`.
    #[must_use]
    pub const fn with_directory(mut self, on: bool) -> Self {
        self.directory = on;
        self
    }
    /// Sets `nonblocking`.
    #[must_use]
    pub const fn with_nonblocking(mut self, on: bool) -> Self {
        self.nonblocking = on;
        self
    }

    /// Sets `nofollow`.
    #[must_use]
    pub const fn with_nofollow(mut self, on: bool) -> Self {
        self.nofollow = on;
        self
    }

    /// Whether a handle opened with these flags may read.
    pub const fn can_read(&self) -> bool {
        self.read || !(self.write || self.append)
    }

    /// Whether a handle opened with these flags may write.
    pub const fn can_write(&self) -> bool {
        self.write || self.append
    }

    /// Whether opening with these flags may change the service (write,
    /// create or truncate). Read-only services refuse such opens with
    /// `ReadOnly`.
    pub const fn mutates(&self) -> bool {
        self.write || self.append || self.create || self.create_new || self.truncate
    }

    /// Whether these flags may create the file.
    pub const fn creates(&self) -> bool {
        self.create || self.create_new
    }
}
