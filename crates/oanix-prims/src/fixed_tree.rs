//! `FixedTree`: a tree of names fixed when it is built, with the
//! `FileService` contract written once over it — the shared shape of
//! `MapFs`, `FuncFs` and every service whose files are known in advance.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use oanix_vfs::path;
use oanix_vfs::{
    DirEntry, DirHandle, FileHandle, FileKind, FsError, FsErrorKind, Metadata, OpenFlags, Result,
    check_open_flags,
};

type Index = HashMap<Box<str>, usize, foldhash::fast::RandomState>;

/// Whether an agent may write a file of a [`FixedTree`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Opening the file to write, create or truncate answers `ReadOnly`, and
    /// `stat` reports it read-only.
    ReadOnly,
    /// The file may be opened for writing; what a write does is the
    /// service's business.
    Writable,
}

/// A tree of files and directories whose names are fixed when it is built,
/// each file carrying a value of the service's choosing (its typed node:
/// an enum of the service's files, the bytes of a static file, the closures
/// of a computed one).
///
/// A service declares its names once, with a [`FixedTreeBuilder`], and then
/// answers every [`FileService`](oanix_vfs::FileService) operation by
/// asking the tree first: the tree parses the path once, finds the node it
/// names (one hash probe), and applies every rule of the
/// [contract](oanix_vfs::service#the-contract) that does not depend on what
/// the files hold — malformed paths, [`check_open_flags`], missing paths and
/// parents that are files, trailing slashes, directories opened to write,
/// `create_new` on an existing name, read-only files opened to write — so
/// that the service only ever sees a node that exists, opened with flags
/// that fit it, and dispatches on its value.
///
/// **Changing the set of names.** In a tree of fixed names (the default)
/// every operation keeps the contract's errors, in the contract's order,
/// and only what would succeed — creating, removing, renaming, `mkdir` of a
/// new directory — answers `PermissionDenied` (the message says the files
/// are fixed). A [read-only](FixedTreeBuilder::read_only) tree is a
/// read-only service: every operation that would change anything answers
/// `ReadOnly` first, as rule 2 of `open` asks.
///
/// **Ids** are given in path order, directories first (the root is 1), so
/// they are stable across builds of the same declaration.
///
/// ```
/// use oanix_prims::{Access, FixedNode, FixedTree};
/// use oanix_vfs::{FsErrorKind, OpenFlags};
///
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// enum File { Status, Result }
///
/// let tree = FixedTree::builder()
///     .file("/status", File::Status, Access::ReadOnly)
///     .file("/result.json", File::Result, Access::Writable)
///     .build();
/// match tree.open("/result.json", OpenFlags::write_only())? {
///     FixedNode::File(f) => assert_eq!(*f.value(), File::Result),
///     FixedNode::Dir(_) => unreachable!(),
/// }
/// let denied = tree.open("/status", OpenFlags::write_only()).unwrap_err();
/// assert_eq!(denied.kind(), FsErrorKind::ReadOnly);
/// let fixed = tree.open("/new", OpenFlags::create_truncate()).unwrap_err();
/// assert_eq!(fixed.kind(), FsErrorKind::PermissionDenied);
/// let names: Vec<_> = tree.readdir("/", |_| 0)?.into_iter().map(|e| e.name).collect();
/// assert_eq!(names, ["result.json", "status"]);
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
pub struct FixedTree<F> {
    index: Index,
    /// Directories first, then files, each in path order; the root is 0.
    nodes: Vec<Slot<F>>,
    read_only: bool,
}

struct Slot<F> {
    path: Box<str>,
    id: u64,
    kind: SlotKind<F>,
}

enum SlotKind<F> {
    /// A directory and its children (indices into `nodes`), sorted by name.
    Dir(Vec<usize>),
    /// A file, its value and who may write it.
    File(F, Access),
}

/// A node of a [`FixedTree`], as a lookup finds it.
pub enum FixedNode<'t, F> {
    /// A directory.
    Dir(FixedDir<'t, F>),
    /// A file.
    File(FixedFile<'t, F>),
}

/// A directory of a [`FixedTree`].
pub struct FixedDir<'t, F> {
    tree: &'t FixedTree<F>,
    path: &'t str,
    id: u64,
    children: &'t [usize],
}

/// A file of a [`FixedTree`], with its value.
pub struct FixedFile<'t, F> {
    path: &'t str,
    id: u64,
    value: &'t F,
    access: Access,
}

fn fixed(p: &str) -> FsError {
    FsError::permission_denied(p, "the files of this service are fixed")
}

impl<F> FixedTree<F> {
    /// Starts declaring a tree (of fixed names; see
    /// [`FixedTreeBuilder::read_only`] for a read-only one).
    pub fn builder() -> FixedTreeBuilder<F> {
        FixedTreeBuilder::default()
    }

    /// How many nodes it holds, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether it holds nothing but its root.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// Whether the whole tree is read-only (see
    /// [`FixedTreeBuilder::read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// The root directory.
    pub fn root(&self) -> FixedDir<'_, F> {
        match self.node(0) {
            FixedNode::Dir(d) => d,
            // The builder always puts the root first, as a directory.
            FixedNode::File(_) => FixedDir {
                tree: self,
                path: "/",
                id: 1,
                children: &[],
            },
        }
    }

    fn node(&self, index: usize) -> FixedNode<'_, F> {
        let slot = &self.nodes[index];
        match &slot.kind {
            SlotKind::Dir(children) => FixedNode::Dir(FixedDir {
                tree: self,
                path: &slot.path,
                id: slot.id,
                children,
            }),
            SlotKind::File(value, access) => FixedNode::File(FixedFile {
                path: &slot.path,
                id: slot.id,
                value,
                access: *access,
            }),
        }
    }

    /// Finds a canonical path (as [`path::parse`] gives it), with the
    /// contract's errors: `NotADirectory` when an ancestor is a file,
    /// `NotFound` otherwise.
    pub fn lookup(&self, canonical: &str) -> Result<FixedNode<'_, F>> {
        if let Some(&i) = self.index.get(canonical) {
            return Ok(self.node(i));
        }
        let mut cur = canonical;
        while let Some(parent) = path::parent(cur) {
            if let Some(&i) = self.index.get(parent) {
                return Err(match self.nodes[i].kind {
                    SlotKind::File(..) => FsError::not_a_directory(canonical),
                    SlotKind::Dir(_) => FsError::not_found(canonical),
                });
            }
            cur = parent;
        }
        Err(FsError::not_found(canonical))
    }

    /// Whether the parent of a canonical path is a directory of the tree.
    fn parent_is_dir(&self, canonical: &str) -> bool {
        path::parent(canonical)
            .and_then(|p| self.index.get(p))
            .is_some_and(|&i| matches!(self.nodes[i].kind, SlotKind::Dir(_)))
    }

    /// Parses `path` and finds what it names: what `stat` needs. A file
    /// named with a trailing slash is `NotADirectory`.
    pub fn find(&self, path: &str) -> Result<FixedNode<'_, F>> {
        let p = path::parse(path)?;
        match self.lookup(p.as_str())? {
            FixedNode::File(_) if p.is_dir_syntax() => Err(FsError::not_a_directory(p.as_str())),
            node => Ok(node),
        }
    }

    /// Parses `path` and applies the rules of `open` that the names decide,
    /// in the contract's order: bad flags; on a read-only tree, flags that
    /// would change anything (`ReadOnly`); a missing path (`NotFound`, or
    /// `PermissionDenied` when the flags would create it in an existing
    /// directory); `create_new` on an existing name (`AlreadyExists`); a
    /// directory opened to write, create or truncate (`IsADirectory`); a
    /// file named with a trailing slash or opened as a directory
    /// (`NotADirectory`); a read-only file opened to write, create or
    /// truncate (`ReadOnly`). What is left is a node the service opens: a
    /// directory (for which [`FixedDir::handle`] will do) or a file, whose
    /// value says which.
    pub fn open(&self, path: &str, flags: OpenFlags) -> Result<FixedNode<'_, F>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        check_open_flags(full, flags)?;
        if self.read_only && flags.mutates() {
            return Err(FsError::read_only(full));
        }
        let node = match self.lookup(full) {
            Ok(node) => node,
            Err(e)
                if e.kind() == FsErrorKind::NotFound
                    && flags.creates()
                    && self.parent_is_dir(full) =>
            {
                return Err(fixed(full));
            }
            Err(e) => return Err(e),
        };
        if flags.create_new {
            return Err(FsError::already_exists(full));
        }
        match node {
            FixedNode::Dir(_) if flags.mutates() => Err(FsError::is_a_directory(full)),
            FixedNode::File(_) if flags.directory || p.is_dir_syntax() => {
                Err(FsError::not_a_directory(full))
            }
            FixedNode::File(f) if f.access == Access::ReadOnly && flags.mutates() => {
                Err(FsError::read_only(full))
            }
            node => Ok(node),
        }
    }

    /// Parses `path` and lists the directory it names, sorted by name;
    /// `size` gives each file's size as the service knows it now.
    pub fn readdir(
        &self,
        path: &str,
        size: impl FnMut(&FixedFile<'_, F>) -> u64,
    ) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        match self.lookup(p.as_str())? {
            FixedNode::Dir(d) => Ok(d.entries(size)),
            FixedNode::File(_) => Err(FsError::not_a_directory(p.as_str())),
        }
    }

    /// What `mkdir` answers: `ReadOnly` on a read-only tree; otherwise
    /// `AlreadyExists` for an existing name, the lookup's error for a
    /// missing parent, and `PermissionDenied` for a new name.
    pub fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if self.read_only {
            return Err(FsError::read_only(full));
        }
        match self.lookup(full) {
            Ok(_) => Err(FsError::already_exists(full)),
            Err(e) if e.kind() == FsErrorKind::NotFound && self.parent_is_dir(full) => {
                Err(fixed(full))
            }
            Err(e) => Err(e),
        }
    }

    /// What `remove` answers: `ReadOnly` on a read-only tree; otherwise the
    /// lookup's error for a missing path, `NotADirectory` for a file named
    /// with a trailing slash, and `PermissionDenied` for anything that
    /// exists (the root included).
    pub fn remove(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if self.read_only {
            return Err(FsError::read_only(full));
        }
        match self.lookup(full)? {
            FixedNode::File(_) if p.is_dir_syntax() => Err(FsError::not_a_directory(full)),
            _ => Err(fixed(full)),
        }
    }

    /// What `rename` answers: `ReadOnly` on a read-only tree; otherwise the
    /// contract's rules in order (the root, a missing source, a directory
    /// into itself, the same name — which succeeds and changes nothing —, a
    /// missing parent of the target, kinds that do not match) and
    /// `PermissionDenied` for a rename that would happen.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (pf, pt) = (path::parse(from)?, path::parse(to)?);
        let (f, t) = (pf.as_str(), pt.as_str());
        if self.read_only {
            return Err(FsError::read_only(f));
        }
        if pf.is_root() || pt.is_root() {
            return Err(fixed(if pf.is_root() { f } else { t }));
        }
        let source = self.lookup(f)?;
        let source_is_dir = matches!(source, FixedNode::Dir(_));
        if !source_is_dir && pf.is_dir_syntax() {
            return Err(FsError::not_a_directory(f));
        }
        if source_is_dir && path::is_strict_descendant(t, f) {
            return Err(FsError::invalid_input(
                t,
                "a directory cannot be moved inside itself",
            ));
        }
        if f == t {
            return Ok(());
        }
        if let Some(parent) = path::parent(t) {
            match self.lookup(parent)? {
                FixedNode::Dir(_) => {}
                FixedNode::File(_) => return Err(FsError::not_a_directory(t)),
            }
        }
        match (self.lookup(t), source_is_dir) {
            (Ok(FixedNode::Dir(_)), false) => Err(FsError::is_a_directory(t)),
            (Ok(FixedNode::File(_)), true) => Err(FsError::not_a_directory(t)),
            (Ok(FixedNode::Dir(d)), true) if !d.children.is_empty() => Err(FsError::not_empty(t)),
            _ => Err(fixed(f)),
        }
    }
}

impl<F> fmt::Debug for FixedTree<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for slot in &self.nodes {
            match &slot.kind {
                SlotKind::Dir(_) => {
                    list.entry(&format_args!("{}/", slot.path.trim_end_matches('/')))
                }
                SlotKind::File(_, Access::ReadOnly) => {
                    list.entry(&format_args!("{} (read-only)", slot.path))
                }
                SlotKind::File(_, Access::Writable) => list.entry(&slot.path),
            };
        }
        list.finish()
    }
}

impl<'t, F> FixedDir<'t, F> {
    /// Its canonical path.
    pub fn path(&self) -> &'t str {
        self.path
    }

    /// Its id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its metadata: a read-only directory (agents cannot add to it).
    pub fn metadata(&self) -> Metadata {
        Metadata::directory(self.id).with_readonly(true)
    }

    /// A handle on it, described by [`metadata`](Self::metadata).
    pub fn handle(&self) -> Box<dyn FileHandle> {
        DirHandle::boxed(self.path, self.metadata())
    }

    /// What it holds, sorted by name.
    pub fn children(&self) -> impl Iterator<Item = FixedNode<'t, F>> + 't {
        let tree = self.tree;
        self.children.iter().map(move |&i| tree.node(i))
    }

    /// Its listing, sorted by name; `size` gives each file's size.
    pub fn entries(&self, mut size: impl FnMut(&FixedFile<'_, F>) -> u64) -> Vec<DirEntry> {
        self.children()
            .map(|node| match node {
                FixedNode::Dir(d) => DirEntry::new(base_name(d.path), FileKind::Directory, 0, d.id),
                FixedNode::File(f) => {
                    DirEntry::new(base_name(f.path), FileKind::File, size(&f), f.id)
                }
            })
            .collect()
    }
}

fn base_name(p: &str) -> &str {
    path::file_name(p).unwrap_or(p)
}

impl<'t, F> FixedFile<'t, F> {
    /// Its canonical path.
    pub fn path(&self) -> &'t str {
        self.path
    }

    /// Its name in its directory.
    pub fn name(&self) -> &'t str {
        base_name(self.path)
    }

    /// Its id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The value it was declared with.
    pub fn value(&self) -> &'t F {
        self.value
    }

    /// Who may write it.
    pub fn access(&self) -> Access {
        self.access
    }

    /// Its metadata, with the size the service gives (read-only as its
    /// access says).
    pub fn metadata(&self, size: u64) -> Metadata {
        Metadata::file(self.id, size).with_readonly(self.access == Access::ReadOnly)
    }
}

// The views are references: copyable whatever the value.
impl<F> Clone for FixedNode<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F> Copy for FixedNode<'_, F> {}
impl<F> Clone for FixedDir<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F> Copy for FixedDir<'_, F> {}
impl<F> Clone for FixedFile<'_, F> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F> Copy for FixedFile<'_, F> {}

impl<F> fmt::Debug for FixedNode<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir(d) => d.fmt(f),
            Self::File(file) => file.fmt(f),
        }
    }
}

impl<F> fmt::Debug for FixedDir<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedDir")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("children", &self.children.len())
            .finish()
    }
}

impl<F> fmt::Debug for FixedFile<'_, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedFile")
            .field("path", &self.path)
            .field("id", &self.id)
            .field("access", &self.access)
            .finish()
    }
}

/// Declares the names of a [`FixedTree`]; see [`FixedTree::builder`].
pub struct FixedTreeBuilder<F> {
    files: BTreeMap<String, (F, Access)>,
    dirs: Vec<String>,
    errors: Vec<FsError>,
    read_only: bool,
}

impl<F> Default for FixedTreeBuilder<F> {
    fn default() -> Self {
        Self {
            files: BTreeMap::new(),
            dirs: Vec::new(),
            errors: Vec::new(),
            read_only: false,
        }
    }
}

impl<F> fmt::Debug for FixedTreeBuilder<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedTreeBuilder")
            .field("files", &self.file_paths().collect::<Vec<_>>())
            .field("dirs", &self.dir_paths().collect::<Vec<_>>())
            .field("read_only", &self.read_only)
            .finish()
    }
}

impl<F> FixedTreeBuilder<F> {
    /// Adds a file (its parent directories are implied); a later one at the
    /// same path replaces it.
    #[must_use]
    pub fn file(mut self, path: &str, value: F, access: Access) -> Self {
        match path::normalize(path) {
            Ok(p) if p == "/" => self.errors.push(FsError::is_a_directory("/")),
            Ok(p) => {
                self.files.insert(p.into_owned(), (value, access));
            }
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Adds a directory, possibly empty (parents of files are implied).
    #[must_use]
    pub fn dir(mut self, path: &str) -> Self {
        match path::normalize(path) {
            Ok(p) => self.dirs.push(p.into_owned()),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Makes the whole tree read-only: every file is [`Access::ReadOnly`],
    /// and every operation that would change anything answers `ReadOnly`
    /// before anything else is looked at.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The file paths declared so far, in path order.
    pub fn file_paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The directory paths declared so far, in the order given.
    pub fn dir_paths(&self) -> impl Iterator<Item = &str> {
        self.dirs.iter().map(String::as_str)
    }

    /// Builds the tree, or names the first invalid entry: a malformed path,
    /// the root given as a file, or a path that is both a file and a
    /// directory.
    pub fn try_build(self) -> Result<FixedTree<F>> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        // Every directory named, every parent of a file, and all their
        // ancestors.
        let mut dirs: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
        let named = self.dirs.iter().map(String::as_str).chain(["/"]);
        let parents = self.files.keys().filter_map(|f| path::parent(f));
        for d in named.chain(parents) {
            let mut cur = d;
            while !dirs.contains_key(cur) {
                dirs.insert(cur.to_owned(), Vec::new());
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
        // Indices: directories in path order (the root first), then files.
        let dir_index: HashMap<&str, usize> =
            dirs.keys().map(String::as_str).zip(0usize..).collect();
        let first_file = dirs.len();
        let mut children: Vec<Vec<(String, usize)>> = vec![Vec::new(); dirs.len()];
        for (d, &i) in &dir_index {
            if let Some((parent, name)) = path::split(d)
                && let Some(&pi) = dir_index.get(parent)
            {
                children[pi].push((name.to_owned(), i));
            }
        }
        for (i, f) in (first_file..).zip(self.files.keys()) {
            if let Some((parent, name)) = path::split(f)
                && let Some(&pi) = dir_index.get(parent)
            {
                children[pi].push((name.to_owned(), i));
            }
        }
        let mut nodes = Vec::with_capacity(dirs.len() + self.files.len());
        for (d, mut list) in dirs.into_keys().zip(children) {
            list.sort_by(|a, b| a.0.cmp(&b.0));
            nodes.push(Slot {
                path: d.into_boxed_str(),
                id: 0,
                kind: SlotKind::Dir(list.into_iter().map(|(_, i)| i).collect()),
            });
        }
        let read_only = self.read_only;
        for (p, (value, access)) in self.files {
            let access = if read_only { Access::ReadOnly } else { access };
            nodes.push(Slot {
                path: p.into_boxed_str(),
                id: 0,
                kind: SlotKind::File(value, access),
            });
        }
        let mut index = Index::with_capacity_and_hasher(nodes.len(), Default::default());
        for (i, slot) in nodes.iter_mut().enumerate() {
            slot.id = i as u64 + 1;
            index.insert(slot.path.clone(), i);
        }
        Ok(FixedTree {
            index,
            nodes,
            read_only,
        })
    }

    /// Builds the tree, leaving out malformed entries and files that clash
    /// with directories (a file where a directory, or a path below one, was
    /// also given); [`try_build`](Self::try_build) reports them instead.
    pub fn build(mut self) -> FixedTree<F> {
        self.errors.clear();
        let dirs = std::mem::take(&mut self.dirs);
        let files: Vec<String> = self.files.keys().cloned().collect();
        self.files.retain(|f, _| {
            !dirs.iter().any(|d| path::starts_with(d, f))
                && !files
                    .iter()
                    .any(|other| path::is_strict_descendant(other, f))
        });
        self.dirs = dirs;
        let read_only = self.read_only;
        // What is left cannot clash; should it ever, the tree is empty
        // rather than wrong.
        self.try_build()
            .unwrap_or_else(|_| FixedTree::root_only(read_only))
    }
}

impl<F> FixedTree<F> {
    fn root_only(read_only: bool) -> Self {
        let mut index = Index::default();
        index.insert("/".into(), 0);
        Self {
            index,
            nodes: vec![Slot {
                path: "/".into(),
                id: 1,
                kind: SlotKind::Dir(Vec::new()),
            }],
            read_only,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> FixedTree<u8> {
        FixedTree::builder()
            .file("/a", 1, Access::ReadOnly)
            .file("/d/b", 2, Access::Writable)
            .dir("/e")
            .build()
    }

    #[test]
    fn ids_are_directories_first_in_path_order() {
        let t = tree();
        let ids: Vec<(&str, u64)> = ["/", "/d", "/e", "/a", "/d/b"]
            .iter()
            .map(|p| match t.lookup(p).unwrap() {
                FixedNode::Dir(d) => (d.path(), d.id()),
                FixedNode::File(f) => (f.path(), f.id()),
            })
            .collect();
        assert_eq!(
            ids,
            [("/", 1), ("/d", 2), ("/e", 3), ("/a", 4), ("/d/b", 5)]
        );
        assert_eq!(t.len(), 5);
        assert!(!t.is_empty());
    }

    #[test]
    fn lookup_errors_follow_the_contract() {
        let t = tree();
        let kind = |p: &str| t.lookup(p).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind("/a/x"), Err(FsErrorKind::NotADirectory));
        assert_eq!(kind("/a/x/y"), Err(FsErrorKind::NotADirectory));
        assert_eq!(kind("/nope/x"), Err(FsErrorKind::NotFound));
        assert_eq!(kind("/d/nope"), Err(FsErrorKind::NotFound));
        assert!(t.parent_is_dir("/d/nope"));
        assert!(!t.parent_is_dir("/nope/x"));
        assert!(!t.parent_is_dir("/a/x"));
    }

    #[test]
    fn an_empty_build_has_its_root() {
        let t: FixedTree<()> = FixedTree::builder().read_only().build();
        assert!(t.is_empty() && t.is_read_only());
        assert_eq!(t.root().id(), 1);
        assert!(t.readdir("/", |_| 0).unwrap().is_empty());
    }
}
