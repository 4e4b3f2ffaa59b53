//! `FixedTree`: a tree of names fixed when it is built, with the
//! `FileService` contract written once over it — the shared shape of
//! `MapFs`, `FuncFs` and every service whose files are known in advance,
//! including those that keep items of their own in a few declared
//! directories (see [`Dynamic`]).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
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
    /// A directory whose content the service keeps (see
    /// [`FixedTreeBuilder::dynamic_dir`]), with its value.
    Dynamic(F),
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
    dynamic: Option<&'t F>,
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
                dynamic: None,
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
                dynamic: None,
            }),
            SlotKind::Dynamic(value) => FixedNode::Dir(FixedDir {
                tree: self,
                path: &slot.path,
                id: slot.id,
                children: &[],
                dynamic: Some(value),
            }),
            SlotKind::File(value, access) => FixedNode::File(FixedFile {
                path: &slot.path,
                id: slot.id,
                value,
                access: *access,
            }),
        }
    }

    /// A view of the tree that resolves the names below its
    /// [dynamic directories](FixedTreeBuilder::dynamic_dir) with `names`:
    /// the same operations, the same contract, over the declared names and
    /// the service's items alike.
    pub fn with_dynamic<'t, D: Dynamic<F>>(&'t self, names: &'t D) -> WithDynamic<'t, F, D> {
        WithDynamic { tree: self, names }
    }

    /// The view without items: dynamic directories are empty.
    fn plain(&self) -> WithDynamic<'_, F, NoDynamic> {
        WithDynamic {
            tree: self,
            names: &NoDynamic,
        }
    }

    /// Finds a canonical path (as [`path::parse`] gives it), with the
    /// contract's errors: `NotADirectory` when an ancestor is a file,
    /// `NotFound` otherwise (a dynamic directory looks empty here; see
    /// [`with_dynamic`](Self::with_dynamic)).
    pub fn lookup(&self, canonical: &str) -> Result<FixedNode<'_, F>> {
        self.plain().lookup(canonical).map(Resolved::into_fixed)
    }

    /// Parses `path` and finds what it names: what `stat` needs. A file
    /// named with a trailing slash is `NotADirectory`.
    pub fn find(&self, path: &str) -> Result<FixedNode<'_, F>> {
        self.plain().find(path).map(Resolved::into_fixed)
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
        self.plain().open(path, flags).map(Resolved::into_fixed)
    }

    /// Parses `path` and lists the directory it names, sorted by name;
    /// `size` gives each file's size as the service knows it now.
    pub fn readdir(
        &self,
        path: &str,
        size: impl FnMut(&FixedFile<'_, F>) -> u64,
    ) -> Result<Vec<DirEntry>> {
        self.plain().readdir(path, size)
    }

    /// What `mkdir` answers: `ReadOnly` on a read-only tree; otherwise
    /// `AlreadyExists` for an existing name, the lookup's error for a
    /// missing parent, and `PermissionDenied` for a new name.
    pub fn mkdir(&self, path: &str) -> Result<()> {
        self.plain().mkdir(path)
    }

    /// What `remove` answers: `ReadOnly` on a read-only tree; otherwise the
    /// lookup's error for a missing path, `NotADirectory` for a file named
    /// with a trailing slash, and `PermissionDenied` for anything that
    /// exists (the root included).
    pub fn remove(&self, path: &str) -> Result<()> {
        self.plain().remove(path).map(|item| match item.node {})
    }

    /// What `rename` answers: `ReadOnly` on a read-only tree; otherwise the
    /// contract's rules in order (the root, a missing source, a directory
    /// into itself, the same name — which succeeds and changes nothing —, a
    /// missing parent of the target, kinds that do not match) and
    /// `PermissionDenied` for a rename that would happen.
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        self.plain().rename(from, to)
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
                SlotKind::Dynamic(_) => list.entry(&format_args!(
                    "{}/ (dynamic)",
                    slot.path.trim_end_matches('/')
                )),
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

    /// The value of a [dynamic directory](FixedTreeBuilder::dynamic_dir)
    /// (`None` for a directory of declared names).
    pub fn dynamic(&self) -> Option<&'t F> {
        self.dynamic
    }

    /// What it holds, sorted by name (nothing for a dynamic directory: its
    /// items are the service's).
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

/// What a name below a dynamic directory is, as the service resolves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DynamicKind {
    /// A directory (its listing is the service's too).
    Dir,
    /// A file, and who may write it.
    File(Access),
}

/// One entry of a dynamic directory's listing, as the service gives it;
/// the tree adds the id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicEntry {
    /// Its name in the directory.
    pub name: String,
    /// Whether it is a directory or a file.
    pub kind: DynamicKind,
    /// Its size as the service knows it now (0 for a directory).
    pub size: u64,
}

impl DynamicEntry {
    /// A file entry of `size` bytes (its access does not show in a listing).
    pub fn file(name: impl Into<String>, size: u64) -> Self {
        Self {
            name: name.into(),
            kind: DynamicKind::File(Access::ReadOnly),
            size,
        }
    }

    /// A directory entry.
    pub fn dir(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: DynamicKind::Dir,
            size: 0,
        }
    }
}

/// The items a service keeps below the dynamic directories of a
/// [`FixedTree`] (declared with [`FixedTreeBuilder::dynamic_dir`]): the
/// tree asks it what a name below one names, and what a directory there
/// holds, and applies the contract to the answers as to its own names.
///
/// ```
/// use oanix_prims::{Access, Dynamic, DynamicEntry, DynamicKind, FixedTree, Resolved};
/// use oanix_vfs::{FsErrorKind, OpenFlags};
///
/// #[derive(Debug, Clone, Copy, PartialEq)]
/// enum File { Status, Jobs }
///
/// /// The jobs `/jobs/{n}` that exist.
/// struct Jobs(Vec<u32>);
///
/// impl Dynamic<File> for Jobs {
///     type Node = u32;
///     fn resolve(&self, dir: &File, rest: &str) -> Option<(u32, DynamicKind)> {
///         let n = rest.parse().ok().filter(|n| *dir == File::Jobs && self.0.contains(n))?;
///         Some((n, DynamicKind::File(Access::ReadOnly)))
///     }
///     fn list(&self, _dir: &File, _node: Option<&u32>) -> Vec<DynamicEntry> {
///         self.0.iter().map(|n| DynamicEntry::file(n.to_string(), 0)).collect()
///     }
/// }
///
/// let tree = FixedTree::builder()
///     .file("/status", File::Status, Access::ReadOnly)
///     .dynamic_dir("/jobs", File::Jobs)
///     .build();
/// let jobs = Jobs(vec![3, 7]);
/// let view = tree.with_dynamic(&jobs);
/// match view.open("/jobs/7", OpenFlags::read_only())? {
///     Resolved::Dynamic(job) => assert_eq!(*job.node(), 7),
///     Resolved::Fixed(_) => unreachable!(),
/// }
/// let missing = view.open("/jobs/8", OpenFlags::read_only()).unwrap_err();
/// assert_eq!(missing.kind(), FsErrorKind::NotFound);
/// let denied = view.open("/jobs/3", OpenFlags::write_only()).unwrap_err();
/// assert_eq!(denied.kind(), FsErrorKind::ReadOnly);
/// let names: Vec<_> = view.readdir("/jobs", |_| 0)?.into_iter().map(|e| e.name).collect();
/// assert_eq!(names, ["3", "7"]);
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
pub trait Dynamic<F> {
    /// What a name below a dynamic directory resolves to: the service's
    /// typed node.
    type Node;

    /// What `rest` names below the dynamic directory declared with `dir`,
    /// if it exists: `rest` is the canonical path inside that directory,
    /// without a leading slash (`"req-3.json"`, `"conn-1/in"`), never empty.
    fn resolve(&self, dir: &F, rest: &str) -> Option<(Self::Node, DynamicKind)>;

    /// What a directory below `dir` holds, in any order: the dynamic
    /// directory itself for `None`, else a directory `resolve` gave.
    fn list(&self, dir: &F, node: Option<&Self::Node>) -> Vec<DynamicEntry>;
}

/// The items of a tree that has none: dynamic directories look empty.
#[derive(Debug)]
struct NoDynamic;

impl<F> Dynamic<F> for NoDynamic {
    type Node = Infallible;

    fn resolve(&self, _dir: &F, _rest: &str) -> Option<(Infallible, DynamicKind)> {
        None
    }

    fn list(&self, _dir: &F, _node: Option<&Infallible>) -> Vec<DynamicEntry> {
        Vec::new()
    }
}

/// The id of a name below a dynamic directory: a hash of its canonical
/// path (FNV-1a) with the top bit set, so stable, and apart from the ids of
/// declared names (which count from 1).
pub fn dynamic_id(canonical: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in canonical.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | (1 << 63)
}

/// A name below a dynamic directory, as a lookup finds it: the service's
/// node, with its path, id and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamicNode<'t, F, N> {
    dir: &'t F,
    path: String,
    id: u64,
    node: N,
    kind: DynamicKind,
}

impl<'t, F, N> DynamicNode<'t, F, N> {
    /// The value of the dynamic directory it is in.
    pub fn dir(&self) -> &'t F {
        self.dir
    }

    /// Its canonical path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Its name in its directory.
    pub fn name(&self) -> &str {
        base_name(&self.path)
    }

    /// Its id (see [`dynamic_id`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The service's node.
    pub fn node(&self) -> &N {
        &self.node
    }

    /// The service's node, taken.
    pub fn into_node(self) -> N {
        self.node
    }

    /// Whether it is a directory or a file.
    pub fn kind(&self) -> DynamicKind {
        self.kind
    }

    /// Its metadata: a read-only directory, or a file of `size` bytes,
    /// read-only as its access says.
    pub fn metadata(&self, size: u64) -> Metadata {
        match self.kind {
            DynamicKind::Dir => Metadata::directory(self.id).with_readonly(true),
            DynamicKind::File(access) => {
                Metadata::file(self.id, size).with_readonly(access == Access::ReadOnly)
            }
        }
    }
}

/// What a path names in a [`WithDynamic`] view: a declared name, or an
/// item of the service.
#[derive(Debug, Clone)]
pub enum Resolved<'t, F, N> {
    /// A name of the tree (a dynamic directory itself included).
    Fixed(FixedNode<'t, F>),
    /// A name below a dynamic directory.
    Dynamic(DynamicNode<'t, F, N>),
}

impl<F, N> Resolved<'_, F, N> {
    /// Its canonical path.
    pub fn path(&self) -> &str {
        match self {
            Self::Fixed(FixedNode::Dir(d)) => d.path,
            Self::Fixed(FixedNode::File(f)) => f.path,
            Self::Dynamic(n) => &n.path,
        }
    }

    /// Its id.
    pub fn id(&self) -> u64 {
        match self {
            Self::Fixed(FixedNode::Dir(d)) => d.id,
            Self::Fixed(FixedNode::File(f)) => f.id,
            Self::Dynamic(n) => n.id,
        }
    }

    /// Who may write it, if it is a file (`None` for a directory).
    pub fn access(&self) -> Option<Access> {
        match self {
            Self::Fixed(FixedNode::Dir(_))
            | Self::Dynamic(DynamicNode {
                kind: DynamicKind::Dir,
                ..
            }) => None,
            Self::Fixed(FixedNode::File(f)) => Some(f.access),
            Self::Dynamic(DynamicNode {
                kind: DynamicKind::File(a),
                ..
            }) => Some(*a),
        }
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.access().is_none()
    }
}

impl<'t, F> Resolved<'t, F, Infallible> {
    fn into_fixed(self) -> FixedNode<'t, F> {
        match self {
            Self::Fixed(node) => node,
            Self::Dynamic(item) => match item.node {},
        }
    }
}

/// A [`FixedTree`] with the items of its dynamic directories, given by a
/// [`Dynamic`] (see [`FixedTree::with_dynamic`]): the tree's operations,
/// with the same contract, over the declared names and the items alike.
/// Items get [`dynamic_id`]s; a dynamic directory lists what the service
/// gives, sorted by name.
pub struct WithDynamic<'t, F, D> {
    tree: &'t FixedTree<F>,
    names: &'t D,
}

impl<F, D> Clone for WithDynamic<'_, F, D> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<F, D> Copy for WithDynamic<'_, F, D> {}

impl<F, D> fmt::Debug for WithDynamic<'_, F, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithDynamic")
            .field("tree", self.tree)
            .finish_non_exhaustive()
    }
}

/// `path` inside the directory `dir`, without a leading slash.
fn rest_below<'p>(dir: &str, p: &'p str) -> &'p str {
    let rest = path::strip_prefix(p, dir).unwrap_or(p);
    rest.strip_prefix('/').unwrap_or(rest)
}

impl<'t, F, D: Dynamic<F>> WithDynamic<'t, F, D> {
    /// The tree.
    pub fn tree(&self) -> &'t FixedTree<F> {
        self.tree
    }

    /// Finds a canonical path, with the contract's errors: `NotADirectory`
    /// when an ancestor is a file, `NotFound` otherwise.
    pub fn lookup(&self, canonical: &str) -> Result<Resolved<'t, F, D::Node>> {
        let t = self.tree;
        if let Some(&i) = t.index.get(canonical) {
            return Ok(Resolved::Fixed(t.node(i)));
        }
        let mut cur = canonical;
        while let Some(parent) = path::parent(cur) {
            if let Some(&i) = t.index.get(parent) {
                return match &t.nodes[i].kind {
                    SlotKind::File(..) => Err(FsError::not_a_directory(canonical)),
                    SlotKind::Dir(_) => Err(FsError::not_found(canonical)),
                    SlotKind::Dynamic(value) => self.below(value, parent, canonical),
                };
            }
            cur = parent;
        }
        Err(FsError::not_found(canonical))
    }

    /// Looks `canonical` up below the dynamic directory `dir`.
    fn below(&self, value: &'t F, dir: &str, canonical: &str) -> Result<Resolved<'t, F, D::Node>> {
        let rest = rest_below(dir, canonical);
        if let Some((node, kind)) = self.names.resolve(value, rest) {
            return Ok(Resolved::Dynamic(DynamicNode {
                dir: value,
                path: canonical.to_owned(),
                id: dynamic_id(canonical),
                node,
                kind,
            }));
        }
        let mut cur = rest;
        while let Some((parent, _)) = cur.rsplit_once('/') {
            match self.names.resolve(value, parent) {
                Some((_, DynamicKind::File(_))) => return Err(FsError::not_a_directory(canonical)),
                Some((_, DynamicKind::Dir)) => return Err(FsError::not_found(canonical)),
                None => cur = parent,
            }
        }
        Err(FsError::not_found(canonical))
    }

    /// Whether the parent of a canonical path is a directory.
    fn parent_is_dir(&self, canonical: &str) -> bool {
        path::parent(canonical).is_some_and(|p| self.lookup(p).is_ok_and(|r| r.is_dir()))
    }

    /// Whether a directory holds anything.
    fn has_children(&self, dir: &Resolved<'t, F, D::Node>) -> bool {
        match dir {
            Resolved::Fixed(FixedNode::Dir(d)) => match d.dynamic {
                Some(value) => !self.names.list(value, None).is_empty(),
                None => !d.children.is_empty(),
            },
            Resolved::Dynamic(n) => !self.names.list(n.dir, Some(&n.node)).is_empty(),
            Resolved::Fixed(FixedNode::File(_)) => false,
        }
    }

    /// The listing the service gives for a directory below `dir`.
    fn listed(&self, full: &str, dir: &F, node: Option<&D::Node>) -> Vec<DirEntry> {
        self.names
            .list(dir, node)
            .into_iter()
            .map(|e| {
                let id = dynamic_id(&path::join(full, &e.name));
                match e.kind {
                    DynamicKind::Dir => DirEntry::new(e.name, FileKind::Directory, 0, id),
                    DynamicKind::File(_) => DirEntry::new(e.name, FileKind::File, e.size, id),
                }
            })
            .collect()
    }

    /// Parses `path` and finds what it names: what `stat` needs. A file
    /// named with a trailing slash is `NotADirectory`.
    pub fn find(&self, path: &str) -> Result<Resolved<'t, F, D::Node>> {
        let p = path::parse(path)?;
        match self.lookup(p.as_str())? {
            node if !node.is_dir() && p.is_dir_syntax() => {
                Err(FsError::not_a_directory(p.as_str()))
            }
            node => Ok(node),
        }
    }

    /// Parses `path` and applies the rules of `open` that the names
    /// decide, as [`FixedTree::open`] does, to declared names and items
    /// alike.
    pub fn open(&self, path: &str, flags: OpenFlags) -> Result<Resolved<'t, F, D::Node>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        check_open_flags(full, flags)?;
        if self.tree.read_only && flags.mutates() {
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
        match node.access() {
            None if flags.mutates() => Err(FsError::is_a_directory(full)),
            Some(_) if flags.directory || p.is_dir_syntax() => Err(FsError::not_a_directory(full)),
            Some(Access::ReadOnly) if flags.mutates() => Err(FsError::read_only(full)),
            _ => Ok(node),
        }
    }

    /// Parses `path` and lists the directory it names, sorted by name;
    /// `size` gives each declared file's size as the service knows it now
    /// (items come with theirs).
    pub fn readdir(
        &self,
        path: &str,
        size: impl FnMut(&FixedFile<'_, F>) -> u64,
    ) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let mut entries = match self.lookup(full)? {
            Resolved::Fixed(FixedNode::Dir(d)) => match d.dynamic {
                None => return Ok(d.entries(size)),
                Some(value) => self.listed(full, value, None),
            },
            Resolved::Dynamic(n) if n.kind == DynamicKind::Dir => {
                self.listed(full, n.dir, Some(&n.node))
            }
            _ => return Err(FsError::not_a_directory(full)),
        };
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// What `mkdir` answers, as [`FixedTree::mkdir`] says.
    pub fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if self.tree.read_only {
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

    /// What `remove` answers, as [`FixedTree::remove`] says — except for an
    /// item (a file, or a directory with whatever the service holds below
    /// it): that one is handed back, for the service to remove (or refuse).
    pub fn remove(&self, path: &str) -> Result<DynamicNode<'t, F, D::Node>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if self.tree.read_only {
            return Err(FsError::read_only(full));
        }
        match self.lookup(full)? {
            node if !node.is_dir() && p.is_dir_syntax() => Err(FsError::not_a_directory(full)),
            Resolved::Dynamic(item) => Ok(item),
            _ => Err(fixed(full)),
        }
    }

    /// What `rename` answers, as [`FixedTree::rename`] says, for declared
    /// names and items alike (items are the service's to rename, and it
    /// renames none).
    pub fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (pf, pt) = (path::parse(from)?, path::parse(to)?);
        let (f, t) = (pf.as_str(), pt.as_str());
        if self.tree.read_only {
            return Err(FsError::read_only(f));
        }
        if pf.is_root() || pt.is_root() {
            return Err(fixed(if pf.is_root() { f } else { t }));
        }
        let source_is_dir = self.lookup(f)?.is_dir();
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
        if let Some(parent) = path::parent(t)
            && !self.lookup(parent)?.is_dir()
        {
            return Err(FsError::not_a_directory(t));
        }
        match (self.lookup(t), source_is_dir) {
            (Ok(target), false) if target.is_dir() => Err(FsError::is_a_directory(t)),
            (Ok(target), true) if !target.is_dir() => Err(FsError::not_a_directory(t)),
            (Ok(target), true) if self.has_children(&target) => Err(FsError::not_empty(t)),
            _ => Err(fixed(f)),
        }
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
            .field("dynamic", &self.dynamic.is_some())
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
    dynamic: BTreeMap<String, F>,
    errors: Vec<FsError>,
    read_only: bool,
}

impl<F> Default for FixedTreeBuilder<F> {
    fn default() -> Self {
        Self {
            files: BTreeMap::new(),
            dirs: Vec::new(),
            dynamic: BTreeMap::new(),
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
            .field("dynamic", &self.dynamic.keys().collect::<Vec<_>>())
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

    /// Adds a dynamic directory: a directory of the tree (listed, opened
    /// and looked up like any other) whose content is the service's — the
    /// items it keeps, named as it likes — resolved and listed by the
    /// [`Dynamic`] it gives [`FixedTree::with_dynamic`]. `value` tells the
    /// service which directory it is asked about. Nothing may be declared
    /// below it; a later one at the same path replaces it.
    #[must_use]
    pub fn dynamic_dir(mut self, path: &str, value: F) -> Self {
        match path::normalize(path) {
            Ok(p) => {
                self.dynamic.insert(p.into_owned(), value);
            }
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
    /// the root given as a file, a path that is both a file and a
    /// directory, or a name declared below a dynamic directory.
    pub fn try_build(mut self) -> Result<FixedTree<F>> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        let declared = self
            .files
            .keys()
            .chain(&self.dirs)
            .chain(self.dynamic.keys());
        for p in declared {
            if self
                .dynamic
                .keys()
                .any(|d| path::is_strict_descendant(p, d))
            {
                return Err(FsError::invalid_input(
                    p.clone(),
                    "declared below a dynamic directory",
                ));
            }
        }
        // Every directory named, every parent of a file, and all their
        // ancestors.
        let mut dirs: BTreeMap<String, Vec<(String, usize)>> = BTreeMap::new();
        let named = self
            .dirs
            .iter()
            .chain(self.dynamic.keys())
            .map(String::as_str)
            .chain(["/"]);
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
            let kind = match self.dynamic.remove(&d) {
                Some(value) => SlotKind::Dynamic(value),
                None => SlotKind::Dir(list.into_iter().map(|(_, i)| i).collect()),
            };
            nodes.push(Slot {
                path: d.into_boxed_str(),
                id: 0,
                kind,
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

    /// Builds the tree, leaving out malformed entries, files that clash
    /// with directories (a file where a directory, or a path below one, was
    /// also given) and names below dynamic directories;
    /// [`try_build`](Self::try_build) reports them instead.
    pub fn build(mut self) -> FixedTree<F> {
        self.errors.clear();
        let dynamic: Vec<String> = self.dynamic.keys().cloned().collect();
        let below_dynamic = |p: &str| dynamic.iter().any(|d| path::is_strict_descendant(p, d));
        self.dynamic.retain(|d, _| !below_dynamic(d));
        self.dirs.retain(|d| !below_dynamic(d));
        let dirs = std::mem::take(&mut self.dirs);
        let files: Vec<String> = self.files.keys().cloned().collect();
        self.files.retain(|f, _| {
            !below_dynamic(f)
                && !dirs.iter().chain(&dynamic).any(|d| path::starts_with(d, f))
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
        assert!(t.plain().parent_is_dir("/d/nope"));
        assert!(!t.plain().parent_is_dir("/nope/x"));
        assert!(!t.plain().parent_is_dir("/a/x"));
    }

    #[test]
    fn an_empty_build_has_its_root() {
        let t: FixedTree<()> = FixedTree::builder().read_only().build();
        assert!(t.is_empty() && t.is_read_only());
        assert_eq!(t.root().id(), 1);
        assert!(t.readdir("/", |_| 0).unwrap().is_empty());
    }

    /// `/items/{n}` for the items kept, `/items/{n}/log` in each; `/items/0`
    /// is a file.
    struct Items(Vec<u32>);

    impl Dynamic<u8> for Items {
        type Node = (u32, bool);
        fn resolve(&self, dir: &u8, rest: &str) -> Option<((u32, bool), DynamicKind)> {
            if *dir != 9 {
                return None;
            }
            let (n, log) = match rest.split_once('/') {
                Some((n, "log")) => (n, true),
                Some(_) => return None,
                None => (rest, false),
            };
            let n: u32 = n.parse().ok().filter(|n| self.0.contains(n))?;
            let kind = match (n, log) {
                (0, true) => return None,
                (0, false) => DynamicKind::File(Access::ReadOnly),
                (_, true) => DynamicKind::File(Access::Writable),
                (_, false) => DynamicKind::Dir,
            };
            Some(((n, log), kind))
        }
        fn list(&self, _dir: &u8, node: Option<&(u32, bool)>) -> Vec<DynamicEntry> {
            match node {
                None => self
                    .0
                    .iter()
                    .map(|&n| match n {
                        0 => DynamicEntry::file("0", 4),
                        n => DynamicEntry::dir(n.to_string()),
                    })
                    .collect(),
                Some(_) => vec![DynamicEntry::file("log", 2)],
            }
        }
    }

    fn dynamic_tree() -> FixedTree<u8> {
        FixedTree::builder()
            .file("/a", 1, Access::ReadOnly)
            .dynamic_dir("/items", 9)
            .build()
    }

    #[test]
    fn dynamic_names_follow_the_contract() {
        let t = dynamic_tree();
        let items = Items(vec![0, 2, 10]);
        let v = t.with_dynamic(&items);
        let kind =
            |r: Result<Resolved<'_, u8, (u32, bool)>>| r.map(|r| r.is_dir()).map_err(|e| e.kind());
        assert_eq!(kind(v.lookup("/items/2")), Ok(true));
        assert_eq!(kind(v.lookup("/items/2/log")), Ok(false));
        assert_eq!(
            kind(v.lookup("/items/0/log")),
            Err(FsErrorKind::NotADirectory)
        );
        assert_eq!(kind(v.lookup("/items/2/nope")), Err(FsErrorKind::NotFound));
        assert_eq!(kind(v.lookup("/items/3")), Err(FsErrorKind::NotFound));
        assert_eq!(kind(v.find("/items/0/")), Err(FsErrorKind::NotADirectory));
        let open = |p: &str, f: OpenFlags| v.open(p, f).map(|r| r.id()).map_err(|e| e.kind());
        assert_eq!(
            open("/items/0", OpenFlags::write_only()),
            Err(FsErrorKind::ReadOnly)
        );
        assert_eq!(
            open("/items/2", OpenFlags::write_only()),
            Err(FsErrorKind::IsADirectory)
        );
        assert_eq!(
            open("/items/2/log", OpenFlags::write_only()),
            Ok(dynamic_id("/items/2/log"))
        );
        assert_eq!(
            open("/items/2/new", OpenFlags::create_truncate()),
            Err(FsErrorKind::PermissionDenied)
        );
        assert_eq!(
            open("/items/3/new", OpenFlags::create_truncate()),
            Err(FsErrorKind::NotFound)
        );
        assert_eq!(
            v.mkdir("/items/2").map_err(|e| e.kind()),
            Err(FsErrorKind::AlreadyExists)
        );
        assert_eq!(
            v.mkdir("/items/7").map_err(|e| e.kind()),
            Err(FsErrorKind::PermissionDenied)
        );
        // A directory item is the service's to remove or refuse, like a file item.
        let removed = v.remove("/items/2/").map(|n| (n.kind(), n.into_node()));
        assert_eq!(
            removed.map_err(|e| e.kind()),
            Ok((DynamicKind::Dir, (2, false)))
        );
        let removed = v.remove("/items/2/log").map(DynamicNode::into_node);
        assert_eq!(removed.map_err(|e| e.kind()), Ok((2, true)));
        assert_eq!(
            v.rename("/items/2", "/items/10").map_err(|e| e.kind()),
            Err(FsErrorKind::NotEmpty)
        );
        assert_eq!(
            v.rename("/a", "/items/2").map_err(|e| e.kind()),
            Err(FsErrorKind::IsADirectory)
        );
        // Without the items, the dynamic directory is empty.
        assert_eq!(
            t.lookup("/items/2").map(|_| ()).map_err(|e| e.kind()),
            Err(FsErrorKind::NotFound)
        );
        assert!(t.readdir("/items", |_| 0).unwrap().is_empty());
    }

    #[test]
    fn dynamic_listings_are_sorted_with_ids_from_paths() {
        let t = dynamic_tree();
        let items = Items(vec![10, 0, 2]);
        let v = t.with_dynamic(&items);
        let listed: Vec<(String, FileKind, u64, u64)> = v
            .readdir("/items", |_| 0)
            .unwrap()
            .into_iter()
            .map(|e| (e.name, e.kind, e.size, e.id))
            .collect();
        assert_eq!(
            listed,
            [
                ("0".to_owned(), FileKind::File, 4, dynamic_id("/items/0")),
                (
                    "10".to_owned(),
                    FileKind::Directory,
                    0,
                    dynamic_id("/items/10")
                ),
                (
                    "2".to_owned(),
                    FileKind::Directory,
                    0,
                    dynamic_id("/items/2")
                ),
            ]
        );
        let root: Vec<String> = v
            .readdir("/", |_| 0)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(root, ["a", "items"]);
        assert_eq!(
            v.readdir("/items/0", |_| 0).unwrap_err().kind(),
            FsErrorKind::NotADirectory
        );
        assert_ne!(dynamic_id("/items/0"), dynamic_id("/items/2"));
        assert!(dynamic_id("/items/0") > t.len() as u64);
    }

    #[test]
    fn nothing_may_be_declared_below_a_dynamic_directory() {
        let clash = || {
            FixedTree::builder()
                .dynamic_dir("/d", 1)
                .file("/d/x", 2, Access::ReadOnly)
        };
        assert_eq!(
            clash().try_build().unwrap_err().kind(),
            FsErrorKind::InvalidInput
        );
        let t = clash().build();
        assert_eq!(t.len(), 2);
        assert_eq!(t.root().children().count(), 1);
        assert!(matches!(t.lookup("/d"), Ok(FixedNode::Dir(d)) if d.dynamic() == Some(&1)));
    }
}
