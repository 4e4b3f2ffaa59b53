//! `FuncFs`: files whose content is computed on read and whose writes are
//! handled by closures — the building block of control and capability files.

use std::io::SeekFrom;
use std::sync::Arc;

use oanix_vfs::{
    DirEntry, FileHandle, FileService, FsError, Metadata, OpenFlags, Result, seek_position,
};

use crate::fixed_tree::{Access, FixedNode, FixedTree, FixedTreeBuilder};

type ReadFn = Arc<dyn Fn() -> Result<Vec<u8>> + Send + Sync>;
type WriteFn = Arc<dyn Fn(&[u8]) -> Result<()> + Send + Sync>;

struct FuncFile {
    read: Option<ReadFn>,
    write: Option<WriteFn>,
}

/// A file system of computed files.
///
/// - A **read** function runs when a handle first reads (and again on the
///   first read after a write through that handle); the handle then reads
///   that snapshot, so a reader sees consistent content across its reads.
/// - A **write** function receives each `write` call's bytes as one message;
///   its error fails that write. Truncation is accepted and ignored.
///
/// The set of files is fixed when built (a [`FixedTree`]): creating,
/// removing or renaming answers `PermissionDenied`, and opening a file
/// without a write function to write answers `ReadOnly`.
///
/// **Sizes.** A computed file is a stream whose size is unknown until it is
/// read: `stat` and `readdir` report size 0 for it, as Plan 9 and `/proc`
/// do, and never run a read function. Size 0 on a `FuncFs` file means
/// "read to the end to know". A handle that has read reports, in its own
/// `stat`, the size of its snapshot — exactly what its reads return — and
/// `seek` from the end takes the snapshot first.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use oanix_prims::FuncFs;
/// use oanix_vfs::{read_to_string, write_file};
///
/// let level = Arc::new(Mutex::new(String::from("info")));
/// let (r, w) = (level.clone(), level.clone());
/// let fs = FuncFs::builder()
///     .read_only("/version", || Ok(b"1.0\n".to_vec()))
///     .read_write(
///         "/ctl/level",
///         move || Ok(r.lock().unwrap().clone().into_bytes()),
///         move |msg| {
///             *w.lock().unwrap() = String::from_utf8_lossy(msg).trim().to_owned();
///             Ok(())
///         },
///     )
///     .build();
/// write_file(&fs, "/ctl/level", "debug\n")?;
/// assert_eq!(read_to_string(&fs, "/ctl/level")?, "debug");
/// assert_eq!(read_to_string(&fs, "/version")?, "1.0\n");
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Clone)]
pub struct FuncFs {
    tree: Arc<FixedTree<FuncFile>>,
}

impl std::fmt::Debug for FuncFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncFs")
            .field("entries", &self.tree.len())
            .finish()
    }
}

/// Builds a [`FuncFs`]; see [`FuncFs::builder`].
#[derive(Default)]
pub struct FuncFsBuilder {
    tree: FixedTreeBuilder<FuncFile>,
}

impl std::fmt::Debug for FuncFsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FuncFsBuilder")
            .field("files", &self.tree.file_paths().collect::<Vec<_>>())
            .field("dirs", &self.tree.dir_paths().collect::<Vec<_>>())
            .finish()
    }
}

impl FuncFsBuilder {
    fn add(self, path: &str, read: Option<ReadFn>, write: Option<WriteFn>) -> Self {
        let access = if write.is_some() {
            Access::Writable
        } else {
            Access::ReadOnly
        };
        Self {
            tree: self.tree.file(path, FuncFile { read, write }, access),
        }
    }

    /// A file computed on read.
    #[must_use]
    pub fn read_only(
        self,
        path: &str,
        read: impl Fn() -> Result<Vec<u8>> + Send + Sync + 'static,
    ) -> Self {
        self.add(path, Some(Arc::new(read)), None)
    }

    /// A file that only accepts writes (reading it answers `BadHandle`).
    #[must_use]
    pub fn write_only(
        self,
        path: &str,
        write: impl Fn(&[u8]) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.add(path, None, Some(Arc::new(write)))
    }

    /// A file computed on read that also accepts writes.
    #[must_use]
    pub fn read_write(
        self,
        path: &str,
        read: impl Fn() -> Result<Vec<u8>> + Send + Sync + 'static,
        write: impl Fn(&[u8]) -> Result<()> + Send + Sync + 'static,
    ) -> Self {
        self.add(path, Some(Arc::new(read)), Some(Arc::new(write)))
    }

    /// An (empty) directory; parents of files are implied.
    #[must_use]
    pub fn dir(self, path: &str) -> Self {
        Self {
            tree: self.tree.dir(path),
        }
    }

    /// Builds the file system, or names the first invalid entry.
    pub fn try_build(self) -> Result<FuncFs> {
        Ok(FuncFs {
            tree: Arc::new(self.tree.try_build()?),
        })
    }

    /// Builds the file system; entries with malformed paths or clashing with
    /// directories are left out (use [`try_build`](Self::try_build) to have
    /// them reported).
    pub fn build(self) -> FuncFs {
        FuncFs {
            tree: Arc::new(self.tree.build()),
        }
    }
}

impl FuncFs {
    /// Starts building a `FuncFs`.
    pub fn builder() -> FuncFsBuilder {
        FuncFsBuilder::default()
    }
}

impl FileService for FuncFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let file = match self.tree.open(path, flags)? {
            FixedNode::Dir(dir) => return Ok(dir.handle()),
            FixedNode::File(file) => file,
        };
        let f = file.value();
        Ok(Box::new(FuncHandle {
            id: file.id(),
            path: file.path().to_owned(),
            read: f.read.clone().filter(|_| flags.can_read()),
            write: f.write.clone().filter(|_| flags.can_write()),
            snapshot: None,
            pos: 0,
        }))
    }

    /// Lists a directory; computed files are listed with size 0 (see
    /// [`FuncFs`]).
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.tree.readdir(path, |_| 0)
    }

    /// Metadata of a path; a computed file has size 0 (see [`FuncFs`]).
    fn stat(&self, path: &str) -> Result<Metadata> {
        Ok(match self.tree.find(path)? {
            FixedNode::Dir(dir) => dir.metadata(),
            FixedNode::File(file) => file.metadata(0),
        })
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        self.tree.mkdir(path)
    }

    fn remove(&self, path: &str) -> Result<()> {
        self.tree.remove(path)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.tree.rename(from, to)
    }

    fn fs_type(&self) -> &'static str {
        "funcfs"
    }
}

/// An open computed file.
struct FuncHandle {
    id: u64,
    path: String,
    read: Option<ReadFn>,
    write: Option<WriteFn>,
    snapshot: Option<Vec<u8>>,
    pos: u64,
}

impl FuncHandle {
    fn content(&mut self) -> Result<&[u8]> {
        let Some(read) = &self.read else {
            return Err(FsError::bad_handle(&self.path, "not opened for reading"));
        };
        if self.snapshot.is_none() {
            self.snapshot = Some(read()?);
        }
        Ok(self.snapshot.as_deref().unwrap_or_default())
    }

    fn read_from(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let data = self.content()?;
        let Some(rest) = usize::try_from(offset).ok().and_then(|o| data.get(o..)) else {
            return Ok(0);
        };
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

impl FileHandle for FuncHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.read_from(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        let Some(write) = &self.write else {
            return Err(FsError::bad_handle(&self.path, "not opened for writing"));
        };
        write(buf)?;
        // The next read sees what the write changed.
        self.snapshot = None;
        self.pos = 0;
        Ok(buf.len())
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let len = match &self.snapshot {
            Some(s) => s.len() as u64,
            None if self.read.is_some() => self.content()?.len() as u64,
            None => 0,
        };
        self.pos = seek_position(&self.path, pos, self.pos, len)?;
        Ok(self.pos)
    }

    /// The size of the snapshot once the handle has read (what its reads
    /// return), 0 before.
    fn stat(&self) -> Result<Metadata> {
        let size = self.snapshot.as_ref().map_or(0, |s| s.len() as u64);
        Ok(Metadata::file(self.id, size).with_readonly(self.write.is_none()))
    }

    fn set_len(&mut self, _len: u64) -> Result<()> {
        if self.write.is_none() {
            return Err(FsError::bad_handle(&self.path, "not opened for writing"));
        }
        Ok(())
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.read_from(buf, offset)
    }

    fn write_at(&mut self, buf: &[u8], _offset: u64) -> Result<usize> {
        self.write(buf)
    }
}
