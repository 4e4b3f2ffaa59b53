//! Handles opened through a namespace, and the mapping of paths and device
//! numbers between a mount and the namespace around it.

use std::io::SeekFrom;
use std::sync::Arc;

use crate::error::Result;
use crate::service::FileHandle;
use crate::types::Metadata;

/// A handle opened through a namespace: errors name namespace paths and
/// `stat` carries the mount's device number.
pub(super) struct NsHandle {
    /// The service's handle.
    pub(super) inner: Box<dyn FileHandle>,
    /// The mount point the handle was opened under.
    pub(super) mount: Arc<str>,
    /// The device number of the union member that opened it.
    pub(super) device: u64,
}

impl NsHandle {
    /// `r`, with the paths of its error named in the namespace.
    fn map<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| e.map_paths(|p| outer_path(&self.mount, p)))
    }
}

impl FileHandle for NsHandle {
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
        let r = self.inner.stat().map(|mut md| {
            md.device = combine_device(self.device, md.device);
            md
        });
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

/// The device number of a file: the mount member's, combined with the one
/// the service gave (if any), so that nested namespaces stay distinct.
pub(super) fn combine_device(mount_device: u64, inner_device: u64) -> u64 {
    if inner_device == 0 {
        mount_device
    } else {
        mount_device
            .wrapping_mul(0x1_0000_0001)
            .wrapping_add(inner_device)
    }
}

/// The namespace path of `inner`, a path inside the mount at `mount`.
pub(super) fn outer_path(mount: &str, inner: &str) -> String {
    if mount == "/" {
        inner.to_owned()
    } else if inner == "/" {
        mount.to_owned()
    } else if inner.starts_with('/') {
        format!("{mount}{inner}")
    } else {
        // Not a path the namespace handed out (a service's own wording).
        inner.to_owned()
    }
}
