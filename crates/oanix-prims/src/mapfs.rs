//! `MapFs`: an immutable file system built once from a map of paths to bytes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use oanix_vfs::path;
use oanix_vfs::{
    BytesHandle, DirEntry, DirHandle, FileHandle, FileKind, FileService, FsError, Metadata,
    OpenFlags, Result, check_open_flags,
};

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

enum Node {
    File { id: u64, data: Bytes },
    Dir { id: u64, entries: Vec<DirEntry> },
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
    nodes: Arc<HashMap<String, Node>>,
}

impl std::fmt::Debug for MapFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapFs")
            .field("entries", &self.nodes.len())
            .finish()
    }
}

/// Builds a [`MapFs`]; see [`MapFs::builder`].
#[derive(Debug, Default)]
pub struct MapFsBuilder {
    files: BTreeMap<String, Bytes>,
    dirs: Vec<String>,
    errors: Vec<FsError>,
}

impl MapFsBuilder {
    /// Adds a file (its parent directories are implied). A later entry for
    /// the same path replaces an earlier one.
    #[must_use]
    pub fn file(mut self, path: &str, data: impl MapData) -> Self {
        match path::normalize(path) {
            Ok(p) if p == "/" => self.errors.push(FsError::is_a_directory("/")),
            Ok(p) => {
                self.files.insert(p.into_owned(), data.into_bytes());
            }
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Adds a directory (possibly empty; parents are implied).
    #[must_use]
    pub fn dir(mut self, path: &str) -> Self {
        match path::normalize(path) {
            Ok(p) => self.dirs.push(p.into_owned()),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Builds the file system, or names the first invalid entry: a malformed
    /// path, or a path that is both a file and a directory.
    pub fn try_build(self) -> Result<MapFs> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        let mut dirs: BTreeMap<String, Vec<DirEntry>> = BTreeMap::new();
        dirs.insert("/".to_owned(), Vec::new());
        let mut all_dirs: Vec<String> = self.dirs;
        for p in self.files.keys() {
            if let Some(parent) = path::parent(p) {
                all_dirs.push(parent.to_owned());
            }
        }
        // Every ancestor of every directory is a directory too.
        for d in &all_dirs {
            let mut cur = d.as_str();
            loop {
                dirs.entry(cur.to_owned()).or_default();
                match path::parent(cur) {
                    Some(parent) => cur = parent,
                    None => break,
                }
            }
        }
        if let Some(clash) = self.files.keys().find(|f| dirs.contains_key(*f)) {
            return Err(FsError::invalid_input(
                clash.clone(),
                "given both as a file and as a directory",
            ));
        }
        let mut next_id = 1u64;
        let mut nodes = HashMap::with_capacity(dirs.len() + self.files.len());
        let mut ids: HashMap<String, u64> = HashMap::new();
        for d in dirs.keys() {
            ids.insert(d.clone(), next_id);
            next_id += 1;
        }
        for (p, data) in self.files {
            let id = next_id;
            next_id += 1;
            if let Some((parent, name)) = path::split(&p)
                && let Some(list) = dirs.get_mut(parent)
            {
                list.push(DirEntry::new(name, FileKind::File, data.len() as u64, id));
            }
            nodes.insert(p, Node::File { id, data });
        }
        let dir_paths: Vec<String> = dirs.keys().cloned().collect();
        for d in &dir_paths {
            if let Some((parent, name)) = path::split(d) {
                let id = ids.get(d).copied().unwrap_or(0);
                if let Some(list) = dirs.get_mut(parent) {
                    list.push(DirEntry::new(name, FileKind::Directory, 0, id));
                }
            }
        }
        for (d, mut entries) in dirs {
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            let id = ids.get(&d).copied().unwrap_or(0);
            nodes.insert(d, Node::Dir { id, entries });
        }
        Ok(MapFs {
            nodes: Arc::new(nodes),
        })
    }

    /// Builds the file system. Entries with malformed paths, and files that
    /// clash with directories, are left out; use [`try_build`](Self::try_build)
    /// to have them reported instead.
    pub fn build(mut self) -> MapFs {
        self.errors.clear();
        let dirs = self.dirs.clone();
        // Drop files that sit where a directory (or a path below one) is.
        let files: Vec<String> = self.files.keys().cloned().collect();
        self.files.retain(|f, _| {
            !dirs.iter().any(|d| path::starts_with(d, f))
                && !files
                    .iter()
                    .any(|other| path::is_strict_descendant(other, f))
        });
        self.try_build().unwrap_or_else(|_| MapFs::empty())
    }
}

impl MapFs {
    /// Starts building a `MapFs`.
    pub fn builder() -> MapFsBuilder {
        MapFsBuilder::default()
    }

    /// A `MapFs` with only its root directory.
    pub fn empty() -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            "/".to_owned(),
            Node::Dir {
                id: 1,
                entries: Vec::new(),
            },
        );
        Self {
            nodes: Arc::new(nodes),
        }
    }

    /// Finds a canonical path, with the contract's errors.
    fn lookup(&self, p: &str) -> Result<&Node> {
        if let Some(node) = self.nodes.get(p) {
            return Ok(node);
        }
        // Missing: NotADirectory if some ancestor is a file.
        let mut cur = p;
        while let Some(parent) = path::parent(cur) {
            if let Some(Node::File { .. }) = self.nodes.get(parent) {
                return Err(FsError::not_a_directory(p));
            }
            cur = parent;
        }
        Err(FsError::not_found(p))
    }

    fn refuse(&self, p: &str) -> FsError {
        FsError::read_only(p)
    }
}

fn metadata(node: &Node) -> Metadata {
    match node {
        Node::File { id, data } => Metadata::file(*id, data.len() as u64).with_readonly(true),
        Node::Dir { id, .. } => Metadata::directory(*id).with_readonly(true),
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
        match self.lookup(full)? {
            node @ Node::Dir { .. } => Ok(DirHandle::boxed(full, metadata(node))),
            Node::File { .. } if flags.directory || p.is_dir_syntax() => {
                Err(FsError::not_a_directory(full))
            }
            Node::File { id, data } => Ok(BytesHandle::boxed(
                full,
                data.clone(),
                Metadata::file(*id, 0).with_readonly(true),
            )),
        }
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        match self.lookup(p.as_str())? {
            Node::Dir { entries, .. } => Ok(entries.clone()),
            Node::File { .. } => Err(FsError::not_a_directory(p.as_str())),
        }
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        match self.lookup(p.as_str())? {
            Node::File { .. } if p.is_dir_syntax() => Err(FsError::not_a_directory(p.as_str())),
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
