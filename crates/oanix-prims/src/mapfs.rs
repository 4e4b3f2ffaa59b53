//! `MapFs`: an immutable file system built once from a map of paths to bytes.

use std::sync::Arc;

use bytes::Bytes;
use oanix_vfs::{BytesHandle, DirEntry, FileHandle, FileService, Metadata, OpenFlags, Result};

use crate::fixed_tree::{Access, FixedFile, FixedNode, FixedTree, FixedTreeBuilder};

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
/// A read-only [`FixedTree`]: every operation that would change it fails
/// with `ReadOnly`, and `stat` reports each file's size, the length of its
/// bytes. Lookups are one hash-map search of the whole path.
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
pub struct MapFsBuilder {
    tree: FixedTreeBuilder<Bytes>,
}

impl Default for MapFsBuilder {
    fn default() -> Self {
        Self {
            tree: FixedTree::builder().read_only(),
        }
    }
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
    pub fn file(self, path: &str, data: impl MapData) -> Self {
        Self {
            tree: self.tree.file(path, data.into_bytes(), Access::ReadOnly),
        }
    }

    /// Adds a directory (possibly empty; parents are implied).
    #[must_use]
    pub fn dir(self, path: &str) -> Self {
        Self {
            tree: self.tree.dir(path),
        }
    }

    /// Builds the file system, or names the first invalid entry: a malformed
    /// path, or a path that is both a file and a directory.
    pub fn try_build(self) -> Result<MapFs> {
        Ok(MapFs {
            tree: Arc::new(self.tree.try_build()?),
        })
    }

    /// Builds the file system. Entries with malformed paths, and files that
    /// clash with directories, are left out; use [`try_build`](Self::try_build)
    /// to have them reported instead.
    pub fn build(self) -> MapFs {
        MapFs {
            tree: Arc::new(self.tree.build()),
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
        Self::builder().build()
    }
}

fn size(file: &FixedFile<'_, Bytes>) -> u64 {
    file.value().len() as u64
}

impl FileService for MapFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        match self.tree.open(path, flags)? {
            FixedNode::Dir(dir) => Ok(dir.handle()),
            FixedNode::File(file) => Ok(BytesHandle::boxed(
                file.path(),
                file.value().clone(),
                file.metadata(0),
            )),
        }
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        self.tree.readdir(path, size)
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        Ok(match self.tree.find(path)? {
            FixedNode::Dir(dir) => dir.metadata(),
            FixedNode::File(file) => file.metadata(size(&file)),
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
        "mapfs"
    }
}
