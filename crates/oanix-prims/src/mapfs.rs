//! `MapFs`: an immutable file system built once from a map of paths to bytes.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use oanix_vfs::path::{self, VPath};
use oanix_vfs::{
    BytesHandle, DirEntry, FileHandle, FileKind, FileService, FsError, Metadata, OpenFlags, Result,
    links,
};

use crate::fixed_tree::{Access, FixedFile, FixedNode, FixedTree, FixedTreeBuilder, dynamic_id};

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
///
/// Symbolic links are declared with [`MapFsBuilder::symlink`]; like every
/// service they are reported, not followed (see
/// [`oanix_vfs::links`]): mount the `MapFs` in a namespace, or wrap it in
/// [`links::Follow`], to have them followed.
#[derive(Clone)]
pub struct MapFs {
    tree: Arc<FixedTree<Bytes>>,
    links: Arc<Links>,
}

/// The symbolic links of a [`MapFs`]: each link's canonical path with its
/// target, and the links of each directory for listings.
#[derive(Default)]
struct Links {
    by_path: HashMap<String, String>,
    by_dir: HashMap<String, Vec<DirEntry>>,
}

/// Where a lookup meets a link.
enum LinkAt<'a> {
    /// No link on the way.
    None,
    /// A link as a parent: the resolver's error.
    Parent(FsError),
    /// The last component is a link with this target.
    Last(&'a str),
}

impl Links {
    /// The first link on the way to `p`.
    fn at<'a>(&'a self, p: &VPath<'_>) -> LinkAt<'a> {
        if self.by_path.is_empty() {
            return LinkAt::None;
        }
        let s = p.as_str();
        let ends = s
            .bytes()
            .enumerate()
            .skip(1)
            .filter(|(_, b)| *b == b'/')
            .map(|(i, _)| i)
            .chain([s.len()]);
        for end in ends {
            if let Some(target) = s.get(..end).and_then(|prefix| self.by_path.get(prefix)) {
                return if end == s.len() {
                    LinkAt::Last(target)
                } else {
                    LinkAt::Parent(links::met(p, end, target.as_str()))
                };
            }
        }
        LinkAt::None
    }

    /// `at`, for an operation that follows a link in the last component
    /// (every link on the way is then the resolver's).
    fn followed(&self, p: &VPath<'_>) -> Result<()> {
        match self.at(p) {
            LinkAt::None => Ok(()),
            LinkAt::Parent(e) => Err(e),
            LinkAt::Last(target) => Err(links::met(p, p.as_str().len(), target)),
        }
    }
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
    /// Declared links: path as given, target.
    links: Vec<(String, String)>,
}

impl Default for MapFsBuilder {
    fn default() -> Self {
        Self {
            tree: FixedTree::builder().read_only(),
            links: Vec::new(),
        }
    }
}

impl std::fmt::Debug for MapFsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapFsBuilder")
            .field("files", &self.tree.file_paths().collect::<Vec<_>>())
            .field("dirs", &self.tree.dir_paths().collect::<Vec<_>>())
            .field("links", &self.links)
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
            links: self.links,
        }
    }

    /// Adds a directory (possibly empty; parents are implied).
    #[must_use]
    pub fn dir(self, path: &str) -> Self {
        Self {
            tree: self.tree.dir(path),
            links: self.links,
        }
    }

    /// Adds a symbolic link at `path` holding `target` (its parent
    /// directories are implied; the target need not exist). A later link
    /// at the same path replaces an earlier one.
    #[must_use]
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.links.push((path.to_owned(), target.to_owned()));
        self
    }

    /// Builds the file system, or names the first invalid entry: a malformed
    /// path, a path that is both a file and a directory, a link with an
    /// invalid target, or a link at the path of another entry or above one.
    pub fn try_build(self) -> Result<MapFs> {
        let (tree, links, errors) = self.split();
        if let Some(e) = errors.into_iter().next() {
            return Err(e);
        }
        let tree = tree.try_build()?;
        let links = Self::index_links(&tree, links, &mut |e| Err(e))?;
        Ok(MapFs {
            tree: Arc::new(tree),
            links: Arc::new(links),
        })
    }

    /// Builds the file system. Invalid entries (see
    /// [`try_build`](Self::try_build)) are left out; use `try_build` to have
    /// them reported instead.
    pub fn build(self) -> MapFs {
        let (tree, links, _) = self.split();
        let tree = tree.build();
        let links = Self::index_links(&tree, links, &mut |_| Ok(())).unwrap_or_default();
        MapFs {
            tree: Arc::new(tree),
            links: Arc::new(links),
        }
    }

    /// The tree with the links' parent directories declared, the valid
    /// links by canonical path (a later one winning), and the errors of
    /// the others.
    fn split(
        self,
    ) -> (
        FixedTreeBuilder<Bytes>,
        BTreeMap<String, String>,
        Vec<FsError>,
    ) {
        let mut tree = self.tree;
        let mut valid = BTreeMap::new();
        let mut errors = Vec::new();
        for (p, target) in self.links {
            let checked = path::parse(&p).and_then(|vp| {
                if vp.is_root() {
                    return Err(FsError::invalid_input(&p, "the root cannot be a link"));
                }
                links::check_target(vp.as_str(), &target)?;
                Ok(vp.as_str().to_owned())
            });
            match checked {
                Ok(canonical) => {
                    if let Some(parent) = path::parent(&canonical) {
                        tree = tree.dir(parent);
                    }
                    valid.insert(canonical, target);
                }
                Err(e) => errors.push(e),
            }
        }
        (tree, valid, errors)
    }

    /// Indexes `links` over `tree`; a link clashing with an entry of the
    /// tree (at its path, or with entries below it) goes to `clash`, which
    /// fails the build or leaves the link out.
    fn index_links(
        tree: &FixedTree<Bytes>,
        links: BTreeMap<String, String>,
        clash: &mut dyn FnMut(FsError) -> Result<()>,
    ) -> Result<Links> {
        let mut out = Links::default();
        // In name order, a link comes before anything declared below it.
        for (p, target) in links {
            let taken = tree.lookup(&p).is_ok();
            let below = out
                .by_path
                .keys()
                .any(|l| path::is_strict_descendant(&p, l));
            if taken || below {
                clash(FsError::invalid_input(
                    &p,
                    "a link cannot share its path with another entry or have entries below it",
                ))?;
                continue;
            }
            if let Some((parent, name)) = path::split(&p) {
                out.by_dir
                    .entry(parent.to_owned())
                    .or_default()
                    .push(DirEntry::new(
                        name,
                        FileKind::Symlink,
                        target.len() as u64,
                        dynamic_id(&p),
                    ));
            }
            out.by_path.insert(p, target);
        }
        Ok(out)
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
        if !self.links.by_path.is_empty() {
            let p = path::parse(path)?;
            match self.links.at(&p) {
                LinkAt::None => {}
                _ if flags.mutates() => return Err(FsError::read_only(p.as_str())),
                LinkAt::Parent(e) => return Err(e),
                LinkAt::Last(_) if flags.nofollow && !p.is_dir_syntax() => {
                    return Err(FsError::too_many_links(p.as_str()));
                }
                LinkAt::Last(target) => return Err(links::met(&p, p.as_str().len(), target)),
            }
        }
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
        if self.links.by_path.is_empty() {
            return self.tree.readdir(path, size);
        }
        let p = path::parse(path)?;
        self.links.followed(&p)?;
        let mut entries = self.tree.readdir(path, size)?;
        if let Some(extra) = self.links.by_dir.get(p.as_str()) {
            entries.extend(extra.iter().cloned());
            entries.sort_by(|a, b| a.name.cmp(&b.name));
        }
        Ok(entries)
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        if !self.links.by_path.is_empty() {
            self.links.followed(&path::parse(path)?)?;
        }
        Ok(match self.tree.find(path)? {
            FixedNode::Dir(dir) => dir.metadata(),
            FixedNode::File(file) => file.metadata(size(&file)),
        })
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        if !self.links.by_path.is_empty() {
            let p = path::parse(path)?;
            match self.links.at(&p) {
                LinkAt::None => {}
                LinkAt::Parent(e) => return Err(e),
                LinkAt::Last(target) if p.is_dir_syntax() => {
                    return Err(links::met(&p, p.as_str().len(), target));
                }
                LinkAt::Last(target) => {
                    return Ok(
                        Metadata::symlink(dynamic_id(p.as_str()), target.len() as u64)
                            .with_readonly(true),
                    );
                }
            }
        }
        self.stat(path)
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let p = path::parse(path)?;
        match self.links.at(&p) {
            LinkAt::None => {
                self.tree.find(path)?;
                Err(FsError::invalid_input(p.as_str(), "not a symbolic link"))
            }
            LinkAt::Parent(e) => Err(e),
            LinkAt::Last(target) if p.is_dir_syntax() => {
                Err(links::met(&p, p.as_str().len(), target))
            }
            LinkAt::Last(target) => Ok(target.to_owned()),
        }
    }

    fn symlink(&self, _target: &str, link: &str) -> Result<()> {
        Err(FsError::read_only(path::normalize(link)?.as_ref()))
    }

    fn link(&self, from: &str, to: &str) -> Result<()> {
        path::parse(from)?;
        Err(FsError::read_only(path::normalize(to)?.as_ref()))
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
