//! Binds: a subtree of the namespace as it stood, served again at another
//! path.
//!
//! [`NamespaceBuilder::bind`](super::NamespaceBuilder::bind) mounts a
//! [`BindFs`] over a snapshot of the namespace built so far; a new union
//! takes what its mount point showed before the same way.
//!
//! Links in the bound subtree are followed by `base`, the namespace they
//! were made in: an absolute target means that namespace's root, and a
//! relative one may lead out of the subtree into the rest of it (never
//! beyond what `base` holds).

use std::io::SeekFrom;

use super::handle::outer_path;
use super::resolve::Namespace;
use crate::error::{FsError, Result};
use crate::path;
use crate::service::{FileHandle, FileService};
use crate::types::{DirEntry, Metadata, OpenFlags, Timestamp};

/// A subtree of a namespace snapshot, as made by `bind`.
pub(super) struct BindFs {
    /// The namespace as it stood when the bind was made.
    pub(super) base: Namespace,
    /// The bound path in `base`.
    pub(super) prefix: String,
}

impl BindFs {
    /// The path in `base` of `inner`, a path inside the bound subtree.
    fn full(&self, inner: &str) -> Result<String> {
        // Parse first so that a trailing slash survives the join.
        let p = path::parse(inner)?;
        let mut out = outer_path(&self.prefix, p.as_str());
        if p.is_dir_syntax() {
            out.push('/');
        }
        Ok(out)
    }
    /// `e` from `base`, with its paths named inside the bound subtree.
    fn unmap(&self, e: FsError) -> FsError {
        e.map_paths(|p| match path::strip_prefix(p, &self.prefix) {
            Some(inner) => inner.to_owned(),
            None => p.to_owned(),
        })
    }
}

impl FileService for BindFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let full = self.full(path)?;
        match self.base.open(&full, flags) {
            Ok(inner) => Ok(Box::new(BindHandle {
                inner,
                prefix: self.prefix.clone(),
            })),
            Err(e) => Err(self.unmap(e)),
        }
    }
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let full = self.full(path)?;
        self.base.readdir(&full).map_err(|e| self.unmap(e))
    }
    fn stat(&self, path: &str) -> Result<Metadata> {
        let full = self.full(path)?;
        self.base.stat(&full).map_err(|e| self.unmap(e))
    }
    fn lstat(&self, path: &str) -> Result<Metadata> {
        let full = self.full(path)?;
        self.base.lstat(&full).map_err(|e| self.unmap(e))
    }
    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        let full = self.full(link)?;
        self.base.symlink(target, &full).map_err(|e| self.unmap(e))
    }
    fn readlink(&self, path: &str) -> Result<String> {
        let full = self.full(path)?;
        self.base.readlink(&full).map_err(|e| self.unmap(e))
    }
    fn link(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.full(from)?, self.full(to)?);
        self.base.link(&f, &t).map_err(|e| self.unmap(e))
    }
    fn mkdir(&self, path: &str) -> Result<()> {
        let full = self.full(path)?;
        self.base.mkdir(&full).map_err(|e| self.unmap(e))
    }
    fn remove(&self, path: &str) -> Result<()> {
        let full = self.full(path)?;
        self.base.remove(&full).map_err(|e| self.unmap(e))
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.full(from)?, self.full(to)?);
        self.base.rename(&f, &t).map_err(|e| self.unmap(e))
    }
    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        let full = self.full(path)?;
        self.base
            .set_times(&full, accessed, modified)
            .map_err(|e| self.unmap(e))
    }
    fn fs_type(&self) -> &'static str {
        "bind"
    }
}

/// A handle opened through a [`BindFs`]: its errors name paths inside the
/// bound subtree, as the errors of the `BindFs` itself do, so that the
/// namespace around it can name them in its own terms.
struct BindHandle {
    /// The handle opened in `base`.
    inner: Box<dyn FileHandle>,
    /// The bound path in `base`.
    prefix: String,
}

impl BindHandle {
    /// `r`, with the paths of its error named inside the bound subtree.
    fn map<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| {
            e.map_paths(|p| match path::strip_prefix(p, &self.prefix) {
                Some(inner) => inner.to_owned(),
                None => p.to_owned(),
            })
        })
    }
}

impl FileHandle for BindHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let r = self.inner.read(buf);
        self.map(r)
    }
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        let r = self.inner.write(buf);
        self.map(r)
    }
    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let r = self.inner.seek(pos);
        self.map(r)
    }
    fn flush(&mut self) -> Result<()> {
        let r = self.inner.flush();
        self.map(r)
    }
    fn stat(&self) -> Result<Metadata> {
        let r = self.inner.stat();
        self.map(r)
    }
    fn set_len(&mut self, len: u64) -> Result<()> {
        let r = self.inner.set_len(len);
        self.map(r)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let r = self.inner.read_at(buf, offset);
        self.map(r)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        let r = self.inner.write_at(buf, offset);
        self.map(r)
    }
}
