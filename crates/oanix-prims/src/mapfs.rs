//! `MapFs`: an immutable file system built once from a map of paths to bytes.

use std::sync::Arc;

use bytes::Bytes;
use oanix_vfs::path;
use oanix_vfs::{
    BytesHandle, DirEntry, DirHandle, FileHandle, FileService, FsError, Metadata, OpenFlags,
    Result, check_open_flags,
};

use crate::fixed_tree::{FixedNode, FixedTree, FixedTreeBuilder};

/// Data a [`MapFs`] file can be built from. Static data (`include_bytes!`,
/// string literals) and [`Bytes`] are used without copying.
pub trait MapData {
    /// The data as `Bytes`.
    fn into_bytes(self) -> Bytes;
}

impl MapData for Bytes {
    fn into_bytes(self) -> Bytes {
        self
    }
}
impl MapData for &'static [u8] {
    fn into_bytes(self) -> Bytes {
        Bytes::from_static(self)
    }
}
impl<const N: usize> MapData for &'static [u8; N] {
    fn into_bytes(self) -> Bytes {
        Bytes::from_static(self)
    }
}
impl MapData for &'static str {
    fn into_bytes(self) -> Bytes {
        Bytes::from_static(self.as_bytes())
    }
}
impl MapData for Vec<u8> {
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}
impl MapData for String {
    fn into_bytes(self) -> Bytes {
        Bytes::from(self)
    }
}

/// An immutable file system: files and directories fixed at build time.
///
/// Every operation that would change it fails with `ReadOnly`. Lookups are
/// one hash-map search of the whole path; listings are precomputed.
///
/// ```
/// use oanix_prims::MapFs;
/// use oanix_vfs::{FileService, FsErrorKind, read_to_string, write_file};
///
/// let fs = MapFs::builder()
///     .file("/src/main.rs", b"fn main() {}")
///     .file("/README.md", "hello")
///     .dir("/empty")
///     .build();
/// assert_eq!(read_to_string(&fs, "/src/main.rs")?, "fn main() {}");
/// assert_eq!(fs.readdir("/")?.len(), 3);
/// assert_eq!(write_file(&fs, "/x", "y").unwrap_err().kind(), FsErrorKind::ReadOnly);
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Clone)]
pub struct MapFs {
    tree: Arc<FixedTree<Bytes>>,
}

impl std::fmt::Debug for MapFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapFs")
            .field("entries", &self.tree.len())
            .finish()
    }
}

/// Builds a [`MapFs`]; see [`MapFs::builder`].
#[derive(Default)]
pub struct MapFsBuilder {
    tree: FixedTreeBuilder<Bytes>,
}

impl std::fmt::Debug for MapFsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapFsBuilder")
            .field("files", &self.tree.file_paths().collect::<Vec<_>>())
            .field("dirs", &self.tree.dir_paths().collect::<Vec<_>>())
            .finish()
    }
}

impl MapFsBuilder {
    /// Adds a file (its parent directories are implied). A later entry for
    /// the same path replaces an earlier one.
    #[must_use]
    pub fn file(mut self, path: &str, data: impl MapData) -> Self {
        self.tree.file(path, data.into_bytes());
        self
    }

    /// Adds a directory (possibly empty; parents are implied).
    #[must_use]
    pub fn dir(mut self, path: &str) -> Self {
        self.tree.dir(path);
        self
    }

    /// Builds the file system, or names the first invalid entry: a malformed
    /// path, or a path that is both a file and a directory.
    pub fn try_build(self) -> Result<MapFs> {
        let tree = self.tree.try_build(|data| data.len() as u64)?;
        Ok(MapFs {
            tree: Arc::new(tree),
        })
    }

    /// Builds the file system. Entries with malformed paths, and files that
    /// clash with directories, are left out; use [`try_build`](Self::try_build)
    /// to have them reported instead.
    pub fn build(self) -> MapFs {
        MapFs {
            tree: Arc::new(self.tree.build(|data| data.len() as u64)),
        }
    }
}

impl MapFs {
    /// Starts building a `MapFs`.
    pub fn builder() -> MapFsBuilder {
        MapFsBuilder::default()
    }

    /// A `MapFs` with only its root directory.
    pub fn empty() -> Self {
        Self {
            tree: Arc::new(FixedTree::empty()),
        }
    }

    fn refuse(&self, p: &str) -> FsError {
        FsError::read_only(p)
    }
}

fn metadata(node: &FixedNode<Bytes>) -> Metadata {
    match node {
        FixedNode::File { id, value } => {
            Metadata::file(*id, value.len() as u64).with_readonly(true)
        }
        FixedNode::Dir { id, .. } => Metadata::directory(*id).with_readonly(true),
    }
}

impl FileService for MapFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        check_open_flags(full, flags)?;
        if flags.mutates() {
            return Err(self.refuse(full));
        }
        match self.tree.lookup(full)? {
            node @ FixedNode::Dir { .. } => Ok(DirHandle::boxed(full, metadata(node))),
            FixedNode::File { .. } if flags.directory || p.is_dir_syntax() => {
                Err(FsError::not_a_directory(full))
            }
            FixedNode::File { id, value } => Ok(BytesHandle::boxed(
                full,
                value.clone(),
                Metadata::file(*id, 0).with_readonly(true),
            )),
        }
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        match self.tree.lookup(p.as_str())? {
            FixedNode::Dir { entries, .. } => Ok(entries.clone()),
            FixedNode::File { .. } => Err(FsError::not_a_directory(p.as_str())),
        }
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        match self.tree.lookup(p.as_str())? {
            FixedNode::File { .. } if p.is_dir_syntax() => {
                Err(FsError::not_a_directory(p.as_str()))
            }
            node => Ok(metadata(node)),
        }
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        Err(self.refuse(p.as_str()))
    }

    fn remove(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        Err(self.refuse(p.as_str()))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        path::parse(to)?;
        Err(self.refuse(pf.as_str()))
    }

    fn fs_type(&self) -> &'static str {
        "mapfs"
    }
}
