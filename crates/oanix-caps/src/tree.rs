//! The file-side plumbing shared by the capability services: a small trait
//! describing a service's tree as typed nodes parsed once from a path, the
//! `FileService` operations written once over it, and the kinds of handle
//! the services hand out.

use std::io::SeekFrom;

use oanix_vfs::path;
use oanix_vfs::{
    DirEntry, DirHandle, FileHandle, FileKind, FsError, FsErrorKind, Metadata, OpenFlags, Result,
    check_open_flags, seek_position,
};

/// What a node of a capability's tree is, as `stat` and listings show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A directory.
    Dir,
    /// A file; `writable` says whether an agent may write it; `size` is
    /// what `stat` and listings report, which is what a read returns now
    /// (0 for message files before a write, for streams and for answers
    /// that have not arrived: those are documented as such).
    File { writable: bool, size: u64 },
}

impl Kind {
    /// A read-only file whose content is `content`.
    pub(crate) fn read_only(content: &[u8]) -> Self {
        Self::File {
            writable: false,
            size: content.len() as u64,
        }
    }

    /// A read-only file of unknown size (a stream, or an answer not there
    /// yet): stat shows 0.
    pub(crate) const STREAM: Self = Self::File {
        writable: false,
        size: 0,
    };

    /// A message file: written one message at a time, reads empty until then.
    pub(crate) const MESSAGE: Self = Self::File {
        writable: true,
        size: 0,
    };
}

/// A capability service's tree, as the generic operations below see it: a
/// path is parsed once into the service's typed node (lib9p's `File->aux`),
/// and every operation dispatches on the node. Paths given to these
/// methods are canonical.
pub(crate) trait CapTree {
    /// What a path can name: the service's files and directories, with the
    /// ids they carry.
    type Node;
    /// What `path` names, if anything (parsed, and checked to exist).
    fn lookup(&self, path: &str) -> Option<Self::Node>;
    /// Whether `node` is a directory or a file, and the file's size.
    fn kind(&self, node: &Self::Node) -> Kind;
    /// The children of the directory `node`, by name, in any order.
    fn children(&self, node: &Self::Node) -> Vec<(String, Self::Node)>;
    /// Opens the file `node` at `path` (flags already checked).
    fn open_node(
        &self,
        path: &str,
        node: Self::Node,
        flags: OpenFlags,
    ) -> Result<Box<dyn FileHandle>>;
    /// Removes the file `node` at `path`; by default files are fixed.
    fn remove_node(&self, path: &str, node: Self::Node) -> Result<()> {
        let _ = node;
        Err(fixed(path))
    }
}

/// The error for creating, removing or renaming what the service owns.
pub(crate) fn fixed(path: &str) -> FsError {
    FsError::permission_denied(path, "the files of this service are fixed")
}

/// A stable file id for a canonical path (FNV-1a).
pub(crate) fn inode(path: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | 1
}

/// `"/responses/req-3.json"` → `Some("req-3")` for `dir = "/responses"`,
/// `ext = ".json"`: the id a file of a directory of items is named by.
pub(crate) fn id_in<'a>(path: &'a str, dir: &str, ext: &str) -> Option<&'a str> {
    let name = path.strip_prefix(dir)?.strip_prefix('/')?;
    let id = name.strip_suffix(ext)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

/// A node and its kind, looked up once.
struct Found<N> {
    node: N,
    kind: Kind,
}

fn lookup<T: CapTree + ?Sized>(t: &T, p: &str) -> Result<Found<T::Node>> {
    if let Some(node) = t.lookup(p) {
        let kind = t.kind(&node);
        return Ok(Found { node, kind });
    }
    let mut cur = p;
    while let Some(parent) = path::parent(cur) {
        if let Some(n) = t.lookup(parent)
            && let Kind::File { .. } = t.kind(&n)
        {
            return Err(FsError::not_a_directory(p));
        }
        cur = parent;
    }
    Err(FsError::not_found(p))
}

fn metadata(p: &str, kind: Kind) -> Metadata {
    match kind {
        Kind::Dir => Metadata::directory(inode(p)).with_readonly(true),
        Kind::File { writable, size } => Metadata::file(inode(p), size).with_readonly(!writable),
    }
}

pub(crate) fn open<T: CapTree + ?Sized>(
    t: &T,
    path: &str,
    flags: OpenFlags,
) -> Result<Box<dyn FileHandle>> {
    let p = path::parse(path)?;
    let full = p.as_str();
    check_open_flags(full, flags)?;
    let found = match lookup(t, full) {
        Ok(f) => f,
        Err(e) if flags.creates() && e.kind() == FsErrorKind::NotFound => return Err(fixed(full)),
        Err(e) => return Err(e),
    };
    if flags.create_new {
        return Err(FsError::already_exists(full));
    }
    match found.kind {
        Kind::Dir if flags.can_write() => Err(FsError::is_a_directory(full)),
        Kind::Dir => Ok(DirHandle::boxed(full, metadata(full, found.kind))),
        Kind::File { .. } if flags.directory || p.is_dir_syntax() => {
            Err(FsError::not_a_directory(full))
        }
        Kind::File { writable, .. } => {
            if (flags.can_write() || flags.truncate) && !writable {
                return Err(FsError::read_only(full));
            }
            t.open_node(full, found.node, flags)
        }
    }
}

pub(crate) fn readdir<T: CapTree + ?Sized>(t: &T, path: &str) -> Result<Vec<DirEntry>> {
    let p = path::parse(path)?;
    let dir = p.as_str();
    let found = lookup(t, dir)?;
    if let Kind::File { .. } = found.kind {
        return Err(FsError::not_a_directory(dir));
    }
    let mut v: Vec<DirEntry> = t
        .children(&found.node)
        .into_iter()
        .map(|(name, node)| {
            let full = path::join(dir, &name);
            match t.kind(&node) {
                Kind::Dir => DirEntry::new(name, FileKind::Directory, 0, inode(&full)),
                Kind::File { size, .. } => DirEntry::new(name, FileKind::File, size, inode(&full)),
            }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(v)
}

pub(crate) fn stat<T: CapTree + ?Sized>(t: &T, path: &str) -> Result<Metadata> {
    let p = path::parse(path)?;
    let found = lookup(t, p.as_str())?;
    match found.kind {
        Kind::File { .. } if p.is_dir_syntax() => Err(FsError::not_a_directory(p.as_str())),
        kind => Ok(metadata(p.as_str(), kind)),
    }
}

pub(crate) fn mkdir(path: &str) -> Result<()> {
    let p = path::parse(path)?;
    Err(fixed(p.as_str()))
}

pub(crate) fn remove<T: CapTree + ?Sized>(t: &T, path: &str) -> Result<()> {
    let p = path::parse(path)?;
    let found = lookup(t, p.as_str())?;
    match found.kind {
        Kind::Dir => Err(fixed(p.as_str())),
        Kind::File { .. } if p.is_dir_syntax() => Err(FsError::not_a_directory(p.as_str())),
        Kind::File { .. } => t.remove_node(p.as_str(), found.node),
    }
}

pub(crate) fn rename(from: &str, to: &str) -> Result<()> {
    let pf = path::parse(from)?;
    path::parse(to)?;
    Err(fixed(pf.as_str()))
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
    can_read: bool,
    can_write: bool,
    on_message: OnMessage,
    reply: Vec<u8>,
    pos: u64,
}

impl MessageHandle {
    pub(crate) fn boxed(
        path: &str,
        flags: OpenFlags,
        on_message: OnMessage,
    ) -> Box<dyn FileHandle> {
        Box::new(Self {
            path: path.to_owned(),
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
        Ok(Metadata::file(inode(&self.path), self.reply.len() as u64))
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
    content: Option<Vec<u8>>,
    loader: Option<Loader>,
    pos: u64,
}

impl ContentHandle {
    /// A handle over content known now.
    pub(crate) fn ready(path: &str, content: Vec<u8>) -> Box<dyn FileHandle> {
        Box::new(Self {
            path: path.to_owned(),
            content: Some(content),
            loader: None,
            pos: 0,
        })
    }

    /// A handle whose content `loader` produces on the first read.
    pub(crate) fn lazy(path: &str, loader: Loader) -> Box<dyn FileHandle> {
        Box::new(Self {
            path: path.to_owned(),
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
        Ok(Metadata::file(inode(&self.path), size).with_readonly(true))
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
    next: NextMessage,
    current: Option<(Vec<u8>, usize)>,
}

impl StreamHandle {
    pub(crate) fn boxed(path: &str, next: NextMessage) -> Box<dyn FileHandle> {
        Box::new(Self {
            path: path.to_owned(),
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
        Ok(Metadata::file(inode(&self.path), 0).with_readonly(true))
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
/// service through its [`CapTree`]: one file protocol, written once.
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
                $crate::tree::mkdir(path)
            }
            fn remove(&self, path: &str) -> oanix_vfs::Result<()> {
                $crate::tree::remove(self, path)
            }
            fn rename(&self, from: &str, to: &str) -> oanix_vfs::Result<()> {
                $crate::tree::rename(from, to)
            }
            fn fs_type(&self) -> &'static str {
                $name
            }
        }
    };
}
pub(crate) use cap_file_service;
