//! The file side of the capability services: the part of a service's tree
//! that is the service's own (the items below its dynamic directories, and
//! what its files do when opened) described once as [`CapFiles`] over the
//! names it declares in an [`oanix_prims::FixedTree`], and the kinds of
//! handle the services hand out — message files, content read on open or
//! lazily, message streams.

use std::io::SeekFrom;

use oanix_prims::{
    Dynamic, DynamicEntry, DynamicKind, DynamicNode, FixedFile, FixedNode, FixedTree, Resolved,
};
use oanix_vfs::{
    DirEntry, DirHandle, FileHandle, FsError, Metadata, OpenFlags, Result, seek_position,
};

/// A capability service's files: the names it declares once in a static
/// [`FixedTree`] (a typed value per file and per dynamic directory), the
/// items it keeps below its dynamic directories, and what opening either
/// gives. The tree applies the `FileService` contract to both; the service
/// only ever sees a node that exists, opened with flags that fit it.
pub(crate) trait CapFiles {
    /// The value of a declared file or dynamic directory.
    type File: 'static;
    /// An item below a dynamic directory, parsed once from its path.
    type Item;
    /// The declared names.
    fn tree() -> &'static FixedTree<Self::File>;
    /// What `rest` names below the dynamic directory `dir`, if it exists
    /// (see [`Dynamic::resolve`]).
    fn resolve(&self, dir: &Self::File, rest: &str) -> Option<(Self::Item, DynamicKind)>;
    /// What a directory below `dir` holds (see [`Dynamic::list`]).
    fn list(&self, dir: &Self::File, item: Option<&Self::Item>) -> Vec<DynamicEntry>;
    /// The size of a declared file now: what a read returns (0 for message
    /// files).
    fn file_size(&self, file: &Self::File) -> u64;
    /// The size of an item now (0 for streams and answers not there yet).
    fn item_size(&self, item: &Self::Item) -> u64;
    /// Opens a declared file (flags already checked).
    fn open_file(
        &self,
        file: &FixedFile<'_, Self::File>,
        flags: OpenFlags,
    ) -> Result<Box<dyn FileHandle>>;
    /// Opens an item that is a file (flags already checked).
    fn open_item(
        &self,
        item: DynamicNode<'_, Self::File, Self::Item>,
        flags: OpenFlags,
    ) -> Result<Box<dyn FileHandle>>;
    /// Removes an item that is a file; by default items are fixed.
    fn remove_item(&self, item: DynamicNode<'_, Self::File, Self::Item>) -> Result<()> {
        Err(fixed(item.path()))
    }
}

/// A service's items, as its tree asks for them.
struct Items<'a, T>(&'a T);

impl<T: CapFiles> Dynamic<T::File> for Items<'_, T> {
    type Node = T::Item;

    fn resolve(&self, dir: &T::File, rest: &str) -> Option<(T::Item, DynamicKind)> {
        self.0.resolve(dir, rest)
    }

    fn list(&self, dir: &T::File, node: Option<&T::Item>) -> Vec<DynamicEntry> {
        self.0.list(dir, node)
    }
}

pub(crate) fn open<T: CapFiles>(
    t: &T,
    path: &str,
    flags: OpenFlags,
) -> Result<Box<dyn FileHandle>> {
    let items = Items(t);
    match T::tree().with_dynamic(&items).open(path, flags)? {
        Resolved::Fixed(FixedNode::Dir(d)) => Ok(d.handle()),
        Resolved::Fixed(FixedNode::File(f)) => t.open_file(&f, flags),
        Resolved::Dynamic(item) if item.kind() == DynamicKind::Dir => {
            Ok(DirHandle::boxed(item.path(), item.metadata(0)))
        }
        Resolved::Dynamic(item) => t.open_item(item, flags),
    }
}

pub(crate) fn readdir<T: CapFiles>(t: &T, path: &str) -> Result<Vec<DirEntry>> {
    let items = Items(t);
    T::tree()
        .with_dynamic(&items)
        .readdir(path, |f| t.file_size(f.value()))
}

pub(crate) fn stat<T: CapFiles>(t: &T, path: &str) -> Result<Metadata> {
    let items = Items(t);
    Ok(match T::tree().with_dynamic(&items).find(path)? {
        Resolved::Fixed(FixedNode::Dir(d)) => d.metadata(),
        Resolved::Fixed(FixedNode::File(f)) => f.metadata(t.file_size(f.value())),
        Resolved::Dynamic(item) => item.metadata(t.item_size(item.node())),
    })
}

pub(crate) fn mkdir<T: CapFiles>(t: &T, path: &str) -> Result<()> {
    let items = Items(t);
    T::tree().with_dynamic(&items).mkdir(path)
}

pub(crate) fn remove<T: CapFiles>(t: &T, path: &str) -> Result<()> {
    let items = Items(t);
    let item = T::tree().with_dynamic(&items).remove(path)?;
    t.remove_item(item)
}

pub(crate) fn rename<T: CapFiles>(t: &T, from: &str, to: &str) -> Result<()> {
    let items = Items(t);
    T::tree().with_dynamic(&items).rename(from, to)
}

/// The error for removing what the service owns.
pub(crate) fn fixed(path: &str) -> FsError {
    FsError::permission_denied(path, "the files of this service are fixed")
}

/// `"req-3.json"` → `Some("req-3")` for `ext = ".json"`: the id an item of
/// a dynamic directory is named by.
pub(crate) fn item_id<'a>(rest: &'a str, ext: &str) -> Option<&'a str> {
    let id = rest.strip_suffix(ext)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

fn copy_out(data: &[u8], offset: u64, buf: &mut [u8]) -> usize {
    let Some(rest) = usize::try_from(offset).ok().and_then(|o| data.get(o..)) else {
        return 0;
    };
    let n = rest.len().min(buf.len());
    buf[..n].copy_from_slice(&rest[..n]);
    n
}

/// What a message file does with one message: `Ok(Some(reply))` gives the
/// text later reads of the handle return (the id assigned), `Ok(None)` none.
pub(crate) type OnMessage = Box<dyn FnMut(&[u8]) -> Result<Option<String>> + Send>;

/// A message file (`request`, `control`, `submit`, `out`): each `write` is one
/// message; reads return the reply to the last one (nothing before a write).
pub(crate) struct MessageHandle {
    path: String,
    id: u64,
    can_read: bool,
    can_write: bool,
    on_message: OnMessage,
    reply: Vec<u8>,
    pos: u64,
}

impl MessageHandle {
    pub(crate) fn boxed(
        path: &str,
        id: u64,
        flags: OpenFlags,
        on_message: OnMessage,
    ) -> Box<dyn FileHandle> {
        Box::new(Self {
            path: path.to_owned(),
            id,
            can_read: flags.can_read(),
            can_write: flags.can_write(),
            on_message,
            reply: Vec::new(),
            pos: 0,
        })
    }
}

impl FileHandle for MessageHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        if !self.can_write {
            return Err(FsError::bad_handle(&self.path, "not opened for writing"));
        }
        let reply = (self.on_message)(buf)?;
        self.reply = reply.map(String::into_bytes).unwrap_or_default();
        self.pos = 0;
        Ok(buf.len())
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        self.pos = seek_position(&self.path, pos, self.pos, self.reply.len() as u64)?;
        Ok(self.pos)
    }

    fn stat(&self) -> Result<Metadata> {
        Ok(Metadata::file(self.id, self.reply.len() as u64))
    }

    fn set_len(&mut self, _len: u64) -> Result<()> {
        // Truncation means nothing for a message file (`File::create` asks
        // for it); it is accepted and ignored.
        if !self.can_write {
            return Err(FsError::bad_handle(&self.path, "not opened for writing"));
        }
        Ok(())
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        if !self.can_read {
            return Err(FsError::bad_handle(&self.path, "not opened for reading"));
        }
        Ok(copy_out(&self.reply, offset, buf))
    }

    fn write_at(&mut self, buf: &[u8], _offset: u64) -> Result<usize> {
        self.write(buf)
    }
}

/// How a lazily loaded file gets its content: called on the first read,
/// it may block (and fail with `WouldBlock` or `TimedOut`).
pub(crate) type Loader = Box<dyn FnMut() -> Result<Vec<u8>> + Send>;

/// A read-only file whose content is fixed at open (`Loader` already run) or
/// on the first read (a response that may not be there yet).
pub(crate) struct ContentHandle {
    path: String,
    id: u64,
    content: Option<Vec<u8>>,
    loader: Option<Loader>,
    pos: u64,
}

impl ContentHandle {
    /// A handle over content known now.
    pub(crate) fn ready(path: &str, id: u64, content: Vec<u8>) -> Box<dyn FileHandle> {
        Box::new(Self {
            path: path.to_owned(),
            id,
            content: Some(content),
            loader: None,
            pos: 0,
        })
    }

    /// A handle whose content `loader` produces on the first read.
    pub(crate) fn lazy(path: &str, id: u64, loader: Loader) -> Box<dyn FileHandle> {
        Box::new(Self {
            path: path.to_owned(),
            id,
            content: None,
            loader: Some(loader),
            pos: 0,
        })
    }

    fn content(&mut self) -> Result<&[u8]> {
        if self.content.is_none()
            && let Some(load) = &mut self.loader
        {
            self.content = Some(load()?);
            self.loader = None;
        }
        Ok(self.content.as_deref().unwrap_or_default())
    }
}

impl FileHandle for ContentHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, _buf: &[u8]) -> Result<usize> {
        Err(FsError::bad_handle(&self.path, "not opened for writing"))
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let len = match pos {
            SeekFrom::End(_) => self.content()?.len() as u64,
            _ => self.content.as_ref().map_or(0, |c| c.len() as u64),
        };
        self.pos = seek_position(&self.path, pos, self.pos, len)?;
        Ok(self.pos)
    }

    fn stat(&self) -> Result<Metadata> {
        let size = self.content.as_ref().map_or(0, |c| c.len() as u64);
        Ok(Metadata::file(self.id, size).with_readonly(true))
    }

    fn set_len(&mut self, _len: u64) -> Result<()> {
        Err(FsError::bad_handle(&self.path, "not opened for writing"))
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let data = self.content()?;
        Ok(copy_out(data, offset, buf))
    }
}

/// How a stream file gets its next message: `Ok(Some(message))`, or
/// `Ok(None)` when the stream has ended; it may block.
pub(crate) type NextMessage = Box<dyn FnMut() -> Result<Option<Vec<u8>>> + Send>;

/// A read-only stream of messages (`conns/{id}/in`): a read starts the next
/// message (waiting for one), further reads continue it, and the read after
/// its last byte returns 0, so reading to the end gives exactly one message.
pub(crate) struct StreamHandle {
    path: String,
    id: u64,
    next: NextMessage,
    current: Option<(Vec<u8>, usize)>,
}

impl StreamHandle {
    pub(crate) fn boxed(path: &str, id: u64, next: NextMessage) -> Box<dyn FileHandle> {
        Box::new(Self {
            path: path.to_owned(),
            id,
            next,
            current: None,
        })
    }
}

impl FileHandle for StreamHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.current.is_none() {
            match (self.next)()? {
                Some(m) => self.current = Some((m, 0)),
                None => return Ok(0),
            }
        }
        let Some((msg, pos)) = &mut self.current else {
            return Ok(0);
        };
        let n = copy_out(msg, *pos as u64, buf);
        *pos += n;
        if n == 0 {
            self.current = None;
        }
        Ok(n)
    }

    fn write(&mut self, _buf: &[u8]) -> Result<usize> {
        Err(FsError::bad_handle(&self.path, "not opened for writing"))
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        match pos {
            SeekFrom::Current(0) => Ok(self.current.as_ref().map_or(0, |(_, p)| *p as u64)),
            _ => Err(FsError::invalid_input(
                &self.path,
                "a message stream cannot seek",
            )),
        }
    }

    fn stat(&self) -> Result<Metadata> {
        Ok(Metadata::file(self.id, 0).with_readonly(true))
    }

    fn set_len(&mut self, _len: u64) -> Result<()> {
        Err(FsError::bad_handle(&self.path, "not opened for writing"))
    }

    fn read_at(&mut self, buf: &mut [u8], _offset: u64) -> Result<usize> {
        self.read(buf)
    }

    fn write_at(&mut self, _buf: &[u8], _offset: u64) -> Result<usize> {
        Err(FsError::bad_handle(&self.path, "not opened for writing"))
    }
}

/// Serialises a value as pretty JSON with a final newline (the content of
/// every `.json` and `status` file).
pub(crate) fn json_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    let mut v = serde_json::to_vec_pretty(value).unwrap_or_default();
    v.push(b'\n');
    v
}

/// Implements [`FileService`](oanix_vfs::FileService) for a capability
/// service through its [`CapFiles`].
macro_rules! cap_file_service {
    ($ty:ty, $name:literal) => {
        impl oanix_vfs::FileService for $ty {
            fn open(
                &self,
                path: &str,
                flags: oanix_vfs::OpenFlags,
            ) -> oanix_vfs::Result<Box<dyn oanix_vfs::FileHandle>> {
                $crate::tree::open(self, path, flags)
            }
            fn readdir(&self, path: &str) -> oanix_vfs::Result<Vec<oanix_vfs::DirEntry>> {
                $crate::tree::readdir(self, path)
            }
            fn stat(&self, path: &str) -> oanix_vfs::Result<oanix_vfs::Metadata> {
                $crate::tree::stat(self, path)
            }
            fn mkdir(&self, path: &str) -> oanix_vfs::Result<()> {
                $crate::tree::mkdir(self, path)
            }
            fn remove(&self, path: &str) -> oanix_vfs::Result<()> {
                $crate::tree::remove(self, path)
            }
            fn rename(&self, from: &str, to: &str) -> oanix_vfs::Result<()> {
                $crate::tree::rename(self, from, to)
            }
            fn fs_type(&self) -> &'static str {
                $name
            }
        }
    };
}
pub(crate) use cap_file_service;
