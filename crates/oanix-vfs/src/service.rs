//! The `FileService` and `FileHandle` traits, and the contract every
//! implementation keeps.
//!
//! # The contract
//!
//! Paths are parsed with [`path::parse`](crate::path::parse) first, so a
//! malformed path fails with `InvalidPath` or `Escape` before anything else
//! and changes nothing. A path written with a trailing `/` (or `/.`) must name
//! a directory. Then, per operation, the first rule that applies decides:
//!
//! **Looking up a path** walks its parents: a missing parent gives
//! `NotFound`, a parent that is a file gives `NotADirectory`.
//!
//! **`open(path, flags)`**
//! 1. `truncate` without `write`/`append`, or `directory` together with
//!    `write`/`append`/`create`/`create_new`/`truncate`: `InvalidInput`
//!    ([`check_open_flags`]).
//! 2. A read-only service, and flags that write, create or truncate: `ReadOnly`.
//! 3. The path exists: `create_new` gives `AlreadyExists`; a directory opened
//!    with flags that write, create or truncate ([`OpenFlags::mutates`], as
//!    POSIX answers `EISDIR` to `O_CREAT` on a directory) gives
//!    `IsADirectory`, otherwise a directory handle (reads fail with
//!    `IsADirectory`); a file with `directory` (or a trailing `/`)
//!    gives `NotADirectory`; `truncate` empties the file.
//! 4. The path is missing: with `create`/`create_new` the file is created
//!    (a trailing `/` gives `IsADirectory`); otherwise `NotFound`.
//!
//! **`mkdir(path)`**: the root or an existing path gives `AlreadyExists`
//! (after `ReadOnly` on read-only services); the parent must exist.
//!
//! **`remove(path)`**: removes a file or an empty directory. The root gives
//! `PermissionDenied`; a directory with entries gives `NotEmpty`. Open handles
//! of a removed file keep working on its data.
//!
//! **`rename(from, to)`** follows POSIX `rename(2)`:
//! 1. either path is the root: `PermissionDenied`;
//! 2. `from` must exist;
//! 3. `to` strictly inside a directory `from`: `InvalidInput`;
//! 4. `from == to`: nothing happens;
//! 5. the parent of `to` must exist;
//! 6. if `to` exists: a file over a directory gives `IsADirectory`, a
//!    directory over a file gives `NotADirectory`, a directory over a
//!    non-empty directory gives `NotEmpty`; otherwise `to` is replaced.
//!    When `from` and `to` are two names of one file (hard links), nothing
//!    happens, as POSIX says.
//!
//! **`readdir(path)`** lists a directory without `.` and `..`; the services of
//! this project return the entries sorted by name. A file gives `NotADirectory`.
//!
//! **Links** are optional: a service without them keeps the defaults
//! (`Unsupported` for `symlink` and `link`; `readlink` of an existing path
//! is `InvalidInput`). A service never follows a symbolic link itself:
//! when a lookup meets one as a parent component, or as the last component
//! of an operation that follows it — `open` (unless `nofollow` or
//! `create_new`), `stat`, `readdir`, `set_times`, and any operation but
//! `remove` and `rename` on a path written with a trailing `/` (those two
//! answer `NotADirectory` for a link so written, as Linux does) — it
//! answers [`FsError::Symlink`]
//! (built with [`links::met`](crate::links::met)), and
//! [`links::follow`](crate::links::follow) resolves the target and retries.
//! A [`Namespace`](crate::Namespace) does that for everything mounted in it,
//! so that a link's target is resolved in the namespace; [`links::Follow`](crate::links::Follow)
//! does it for one service on its own. The other operations act on the link
//! itself: `lstat`, `readlink`, `mkdir`, `remove`, `rename`, `symlink`,
//! `link`, and `open` with `create_new` (`AlreadyExists`); `open` with
//! `nofollow` of a link gives `Loop`.
//!
//! **`symlink(target, link)`** creates a link holding `target` verbatim
//! (checked by [`links::check_target`](crate::links::check_target); it
//! need not exist): `ReadOnly` on read-only services, then the parent of
//! `link` must exist, then an existing `link` gives `AlreadyExists`, and a
//! missing `link` written with a trailing `/` gives `NotFound`.
//!
//! **`readlink(path)`** answers the target; a path that is not a link gives
//! `InvalidInput`.
//!
//! **`link(from, to)`** (hard links) gives the file `from` a second name
//! `to`: `ReadOnly` first, then `from` must exist and not be a directory
//! (`PermissionDenied`), then the parent of `to` must exist and `to` must
//! not (`AlreadyExists`). Both names then share one file: the same id, data
//! and times, and `nlink` counts the names; removing one keeps the other. A
//! link as `from` is itself linked, not followed.
//!
//! **Handles**: reading a handle not opened for reading, or writing one not
//! opened for writing, gives `BadHandle`; reads and writes on a directory
//! handle give `IsADirectory`; seeking before 0 gives `InvalidInput`; writing
//! past the end fills the gap with zeros; with `append` every write goes to
//! the end. `read_at`/`write_at` do not move the handle's position.
//!
//! The `oanix-conformance` crate checks all of this against every
//! implementation in the project.

use std::io::SeekFrom;
use std::sync::Arc;

use crate::error::{FsError, Result};
use crate::types::{DirEntry, Metadata, OpenFlags, Timestamp};

/// An open file (or directory), as returned by [`FileService::open`].
///
/// Handles are synchronous and owned by one caller at a time; they are
/// `Send` so a runtime can keep them in a descriptor table.
pub trait FileHandle: Send {
    /// Reads into `buf` from the current position; `Ok(0)` at the end.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize>;

    /// Writes `buf` at the current position (at the end with `append`).
    ///
    /// For capability files, each call is one message.
    fn write(&mut self, buf: &[u8]) -> Result<usize>;

    /// Moves the position; returns the new position.
    fn seek(&mut self, pos: SeekFrom) -> Result<u64>;

    /// Makes written data durable where the service has such a notion.
    fn flush(&mut self) -> Result<()> {
        Ok(())
    }

    /// The metadata of the open file.
    fn stat(&self) -> Result<Metadata>;

    /// Cuts or extends (with zeros) the file to `len` bytes.
    fn set_len(&mut self, len: u64) -> Result<()>;

    /// Reads at `offset` without moving the position.
    ///
    /// The default seeks there and back; services override it when they can
    /// do better.
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let saved = self.seek(SeekFrom::Current(0))?;
        self.seek(SeekFrom::Start(offset))?;
        let result = self.read(buf);
        self.seek(SeekFrom::Start(saved))?;
        result
    }

    /// Writes at `offset` without moving the position.
    ///
    /// The default seeks there and back; services override it when they can
    /// do better.
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        let saved = self.seek(SeekFrom::Current(0))?;
        self.seek(SeekFrom::Start(offset))?;
        let result = self.write(buf);
        self.seek(SeekFrom::Start(saved))?;
        result
    }
}

/// A file service: anything that can be mounted in a [`Namespace`](crate::Namespace).
///
/// Synchronous and object-safe on purpose (see `docs/ARCHITECTURE.md`). All
/// paths are virtual and relative to the service's own root. Implementations
/// keep the [contract](self#the-contract).
pub trait FileService: Send + Sync {
    /// Opens a file or directory.
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>>;

    /// Lists a directory.
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>>;

    /// Metadata of a path.
    fn stat(&self, path: &str) -> Result<Metadata>;

    /// Metadata of a path without following a symbolic link in its last
    /// component: a link is described itself (as [`FileKind::Symlink`](crate::FileKind::Symlink),
    /// with its own id and the length of its target as its size), not what it
    /// leads to. Services without links keep the default, which is
    /// [`stat`](Self::stat).
    fn lstat(&self, path: &str) -> Result<Metadata> {
        self.stat(path)
    }

    /// Creates a symbolic link at `link` holding `target` (see the
    /// [contract](self#the-contract)). The default is `Unsupported`.
    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        let _ = target;
        Err(FsError::unsupported(link, "symlink"))
    }

    /// The target of the symbolic link at `path`. The default, for services
    /// without links, answers `InvalidInput` for any path that exists.
    fn readlink(&self, path: &str) -> Result<String> {
        self.lstat(path)?;
        Err(FsError::invalid_input(path, "not a symbolic link"))
    }

    /// Gives the file at `from` a second name, `to` (a hard link; see the
    /// [contract](self#the-contract)). The default is `Unsupported`.
    fn link(&self, from: &str, to: &str) -> Result<()> {
        let _ = from;
        Err(FsError::unsupported(to, "link"))
    }

    /// Creates a directory (its parent must exist).
    fn mkdir(&self, path: &str) -> Result<()>;

    /// Removes a file or an empty directory.
    fn remove(&self, path: &str) -> Result<()>;

    /// Renames a file or directory, replacing `to` as POSIX `rename` does.
    fn rename(&self, from: &str, to: &str) -> Result<()>;

    /// Sets access and/or modification times. Services without times answer
    /// `Unsupported` (the default).
    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        let _ = (accessed, modified);
        Err(FsError::unsupported(path, "set_times"))
    }

    /// A short name for the kind of service (`"memfs"`, `"taskfs"`...), used
    /// as the default source name in a printed mount table.
    fn fs_type(&self) -> &'static str {
        "custom"
    }
}

/// Checks the combinations of [`OpenFlags`] that no service accepts
/// (rule 1 of `open` in the [contract](self#the-contract)).
pub fn check_open_flags(path: &str, flags: OpenFlags) -> Result<()> {
    if flags.truncate && !flags.can_write() {
        return Err(FsError::invalid_input(
            path,
            "`truncate` needs `write` or `append`",
        ));
    }
    if flags.directory && flags.mutates() {
        return Err(FsError::invalid_input(
            path,
            "a directory cannot be opened for writing, creation or truncation",
        ));
    }
    Ok(())
}

macro_rules! forward_service {
    ($($ty:ty),*) => {$(
        impl<T: FileService + ?Sized> FileService for $ty {
            fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
                (**self).open(path, flags)
            }
            fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
                (**self).readdir(path)
            }
            fn stat(&self, path: &str) -> Result<Metadata> {
                (**self).stat(path)
            }
            fn lstat(&self, path: &str) -> Result<Metadata> {
                (**self).lstat(path)
            }
            fn symlink(&self, target: &str, link: &str) -> Result<()> {
                (**self).symlink(target, link)
            }
            fn readlink(&self, path: &str) -> Result<String> {
                (**self).readlink(path)
            }
            fn link(&self, from: &str, to: &str) -> Result<()> {
                (**self).link(from, to)
            }
            fn mkdir(&self, path: &str) -> Result<()> {
                (**self).mkdir(path)
            }
            fn remove(&self, path: &str) -> Result<()> {
                (**self).remove(path)
            }
            fn rename(&self, from: &str, to: &str) -> Result<()> {
                (**self).rename(from, to)
            }
            fn set_times(
                &self,
                path: &str,
                accessed: Option<Timestamp>,
                modified: Option<Timestamp>,
            ) -> Result<()> {
                (**self).set_times(path, accessed, modified)
            }
            fn fs_type(&self) -> &'static str {
                (**self).fs_type()
            }
        }
    )*};
}

forward_service!(Arc<T>, Box<T>, &T);

/// A handle on a directory: what `open` returns for a directory. Reads and
/// writes fail with `IsADirectory`; `stat` answers the metadata given.
#[derive(Debug, Clone)]
pub struct DirHandle {
    path: String,
    metadata: Metadata,
}

impl DirHandle {
    /// A handle on the directory at `path` with `metadata`.
    pub fn new(path: impl Into<String>, metadata: Metadata) -> Self {
        Self {
            path: path.into(),
            metadata,
        }
    }

    /// The same, boxed as a `FileHandle`.
    pub fn boxed(path: impl Into<String>, metadata: Metadata) -> Box<dyn FileHandle> {
        Box::new(Self::new(path, metadata))
    }
}

impl FileHandle for DirHandle {
    fn read(&mut self, _buf: &mut [u8]) -> Result<usize> {
        Err(FsError::is_a_directory(&self.path))
    }
    fn write(&mut self, _buf: &[u8]) -> Result<usize> {
        Err(FsError::is_a_directory(&self.path))
    }
    fn seek(&mut self, _pos: SeekFrom) -> Result<u64> {
        Ok(0)
    }
    fn stat(&self) -> Result<Metadata> {
        Ok(self.metadata.clone())
    }
    fn set_len(&mut self, _len: u64) -> Result<()> {
        Err(FsError::is_a_directory(&self.path))
    }
    fn read_at(&mut self, _buf: &mut [u8], _offset: u64) -> Result<usize> {
        Err(FsError::is_a_directory(&self.path))
    }
    fn write_at(&mut self, _buf: &[u8], _offset: u64) -> Result<usize> {
        Err(FsError::is_a_directory(&self.path))
    }
}

/// A read-only handle over bytes held in memory: a snapshot taken at open,
/// static data, a computed file. Writes fail with `BadHandle`; `stat`
/// answers the metadata given, with the size of the bytes.
#[derive(Debug, Clone)]
pub struct BytesHandle<D> {
    path: String,
    data: D,
    metadata: Metadata,
    pos: u64,
}

impl<D: AsRef<[u8]> + Send + 'static> BytesHandle<D> {
    /// A handle on `data`, opened at `path`, described by `metadata` (its
    /// size is taken from `data`).
    pub fn new(path: impl Into<String>, data: D, metadata: Metadata) -> Self {
        let mut metadata = metadata;
        metadata.size = data.as_ref().len() as u64;
        Self {
            path: path.into(),
            data,
            metadata,
            pos: 0,
        }
    }

    /// The same, boxed as a `FileHandle`.
    pub fn boxed(path: impl Into<String>, data: D, metadata: Metadata) -> Box<dyn FileHandle> {
        Box::new(Self::new(path, data, metadata))
    }

    fn copy_out(&self, buf: &mut [u8], offset: u64) -> usize {
        let data = self.data.as_ref();
        let Some(rest) = usize::try_from(offset).ok().and_then(|o| data.get(o..)) else {
            return 0;
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        n
    }

    fn not_writable(&self) -> FsError {
        FsError::bad_handle(&self.path, "not opened for writing")
    }
}

impl<D: AsRef<[u8]> + Send + 'static> FileHandle for BytesHandle<D> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.copy_out(buf, self.pos);
        self.pos += n as u64;
        Ok(n)
    }
    fn write(&mut self, _buf: &[u8]) -> Result<usize> {
        Err(self.not_writable())
    }
    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        self.pos = seek_position(&self.path, pos, self.pos, self.metadata.size)?;
        Ok(self.pos)
    }
    fn stat(&self) -> Result<Metadata> {
        Ok(self.metadata.clone())
    }
    fn set_len(&mut self, _len: u64) -> Result<()> {
        Err(self.not_writable())
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        Ok(self.copy_out(buf, offset))
    }
    fn write_at(&mut self, _buf: &[u8], _offset: u64) -> Result<usize> {
        Err(self.not_writable())
    }
}

/// Computes the position a seek leads to from `current` in a file of `len`
/// bytes; seeking before 0 is `InvalidInput`. Shared by the handles of every
/// service so that they all agree.
pub fn seek_position(path: &str, pos: SeekFrom, current: u64, len: u64) -> Result<u64> {
    let (base, offset) = match pos {
        SeekFrom::Start(n) => return Ok(n),
        SeekFrom::End(off) => (len, off),
        SeekFrom::Current(off) => (current, off),
    };
    base.checked_add_signed(offset)
        .ok_or_else(|| FsError::invalid_input(path, "seek before the start of the file"))
}
