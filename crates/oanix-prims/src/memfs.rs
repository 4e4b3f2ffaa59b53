//! `MemFs`: an in-memory read/write file system.
//!
//! Layout: one hash index from every full path to its node, for lookups in
//! a single probe, and in each directory a sorted map of its entries, for
//! listings that cost what the directory holds (never what the file system
//! holds) and come out in name order. Both sit behind one reader-writer lock
//! that only structural changes (create, mkdir, remove, rename) take for
//! writing; each file's bytes have a lock of their own, and an open handle
//! reads and writes its file without touching the tree at all. Lookups and
//! reads of different files therefore run in parallel.
//!
//! The index is keyed by agent-controlled paths, so it uses a hasher seeded
//! at random per process (foldhash) rather than a fixed one.
//!
//! Links: a symbolic link is a node of its own holding its target; nothing
//! is indexed below it, so a lookup through one misses the index and only
//! then walks up to find the link and report it ([`FsError::Symlink`]), as
//! the contract asks: paths without links cost what they did. A hard link
//! is a second name for the same file node, which counts its names.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};

use compact_str::CompactString;
use std::io::SeekFrom;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard, Weak};

use crate::frozen::{FrozenDir, FrozenFile, FrozenLink, FrozenNode, FrozenTree};
use oanix_vfs::links;
use oanix_vfs::path::{self, VPath};
use oanix_vfs::{
    DirEntry, DirHandle, FileHandle, FileKind, FileService, FsError, Metadata, OpenFlags, Result,
    Timestamp, check_open_flags, seek_position,
};

/// Size limits of a [`MemFs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemLimits {
    /// The largest a single file may grow, in bytes (default 1 GiB).
    pub max_file_size: u64,
    /// The most file bytes the whole file system may hold (default: no limit).
    pub capacity: u64,
    /// The most files and directories it may hold, the root not counted
    /// (default: no limit). Empty files cost memory too: this bounds what a
    /// writer can pin without writing a byte.
    pub max_entries: u64,
}

impl MemLimits {
    /// The default limits with a capacity of `bytes`, and at most one entry
    /// per 256 bytes of it (at least 1,024).
    pub fn capacity(bytes: u64) -> Self {
        Self {
            capacity: bytes,
            max_entries: (bytes / 256).max(1024),
            ..Self::default()
        }
    }
}

impl Default for MemLimits {
    fn default() -> Self {
        Self {
            max_file_size: 1 << 30,
            capacity: u64::MAX,
            max_entries: u64::MAX,
        }
    }
}

/// An in-memory read/write file system.
///
/// Cloning a `MemFs` gives another handle on the same tree. Times are kept
/// for creation and modification; reads do not update access times.
/// Renaming a directory costs what it contains (every path below it is
/// re-indexed); every other operation costs the same at any size.
///
/// ```
/// use oanix_prims::MemFs;
/// use oanix_vfs::{FileService, read_to_string, write_file};
///
/// let fs = MemFs::new();
/// fs.mkdir("/notes")?;
/// write_file(&fs, "/notes/today.md", "# plans")?;
/// assert_eq!(read_to_string(&fs, "/notes/today.md")?, "# plans");
/// assert_eq!(fs.readdir("/notes")?[0].name, "today.md");
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Clone)]
pub struct MemFs {
    inner: Arc<Inner>,
}

struct Inner {
    tree: RwLock<Tree>,
    next_id: AtomicU64,
    usage: Arc<Usage>,
    /// Whether `pending` may still hold the frozen tree this file system
    /// started from, its index not built yet (a fork costs nothing until
    /// it is used).
    lazy: AtomicBool,
    /// That frozen tree, taken by the first use.
    pending: Mutex<Option<FrozenTree>>,
}

fn lock_pending(m: &Mutex<Option<FrozenTree>>) -> std::sync::MutexGuard<'_, Option<FrozenTree>> {
    // Taken once and set once: a poisoned lock is consistent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Keys are stored inline up to 24 bytes, so that a lookup of a short path
/// compares it without chasing a pointer (a cache miss at scale).
type Index = HashMap<CompactString, Node, foldhash::fast::RandomState>;

struct Tree {
    /// Every path, the root (`"/"`) included.
    index: Index,
}

/// Bytes held by the files of one `MemFs`, linked or still open.
struct Usage {
    used: AtomicU64,
    limits: MemLimits,
    /// Taken for reading by every change of a file's bytes, for writing by
    /// [`MemFs::freeze`]: a frozen copy is one point in time across files.
    gate: RwLock<()>,
}

enum Node {
    Dir(DirNode),
    File(Arc<FileNode>),
    Symlink(Arc<LinkNode>),
}

struct DirNode {
    id: u64,
    created: Timestamp,
    modified: Timestamp,
    /// Names of up to 24 bytes are stored inline, so that searching a large
    /// directory compares names without chasing pointers.
    children: BTreeMap<CompactString, Child>,
    /// Its last frozen copy while a snapshot holds it: a freeze that finds
    /// nothing changed below gives it again instead of a new one.
    frozen: Mutex<Weak<FrozenDir>>,
}

/// What a directory knows of an entry: enough to list it without a lookup.
enum Child {
    Dir(u64),
    File(Arc<FileNode>),
    Symlink(Arc<LinkNode>),
}

/// A symbolic link: its target, kept as it was given.
struct LinkNode {
    id: u64,
    created: Timestamp,
    target: String,
    /// How many names the link has in the tree (hard links of a link).
    names: AtomicU64,
    /// Its frozen copy while a snapshot holds it.
    frozen: Mutex<Weak<FrozenLink>>,
}

impl LinkNode {
    fn metadata(&self) -> Metadata {
        Metadata::symlink(self.id, self.target.len() as u64)
            .with_times(self.created, self.created, self.created)
            .with_nlink(self.names.load(Ordering::Relaxed))
    }
}

struct FileNode {
    id: u64,
    created: Timestamp,
    /// Mirrors the length of `data`, so that stat and listings need no lock.
    size: AtomicU64,
    modified: AtomicU64,
    accessed: AtomicU64,
    /// How many names the file has in the tree.
    names: AtomicU64,
    /// Shared with the frozen copies that hold it: the first change after a
    /// freeze copies the bytes (`Arc::make_mut`), never the freeze itself.
    data: RwLock<Arc<Vec<u8>>>,
    usage: Arc<Usage>,
    /// Its last frozen copy while a snapshot holds it (valid while it
    /// holds the same bytes and modification time).
    frozen: Mutex<Weak<FrozenFile>>,
}

impl Drop for FileNode {
    fn drop(&mut self) {
        let size = self.size.load(Ordering::Relaxed);
        self.usage.used.fetch_sub(size, Ordering::Relaxed);
    }
}

fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Every change under these locks is completed before anything that can
    // panic, or is a single map operation: a poisoned lock is consistent.
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

impl DirNode {
    fn new(id: u64, now: Timestamp) -> Self {
        Self {
            id,
            created: now,
            modified: now,
            children: BTreeMap::new(),
            frozen: Mutex::new(Weak::new()),
        }
    }

    fn metadata(&self) -> Metadata {
        Metadata::directory(self.id).with_times(self.created, self.modified, self.modified)
    }
}

impl FileNode {
    fn metadata(&self) -> Metadata {
        Metadata::file(self.id, self.size.load(Ordering::Relaxed))
            .with_times(
                self.created,
                Timestamp(self.modified.load(Ordering::Relaxed)),
                Timestamp(self.accessed.load(Ordering::Relaxed)),
            )
            .with_nlink(self.names.load(Ordering::Relaxed))
    }

    fn touch(&self) {
        self.modified
            .store(Timestamp::now().as_nanos(), Ordering::Relaxed);
    }

    /// Resizes `data` to `len` bytes, within the limits.
    fn resize(&self, data: &mut Vec<u8>, len: u64, path: &str) -> Result<()> {
        let old = data.len() as u64;
        self.reserve(old, len, path)?;
        let Ok(new_len) = usize::try_from(len) else {
            // Give the reservation back: the size cannot be held here.
            self.reserve(len, old, path)?;
            return Err(FsError::too_large(path, len));
        };
        data.resize(new_len, 0);
        self.size.store(len, Ordering::Relaxed);
        Ok(())
    }

    /// Accounts for a change of size from `old` to `new`, or refuses it.
    fn reserve(&self, old: u64, new: u64, path: &str) -> Result<()> {
        let limits = self.usage.limits;
        if new > limits.max_file_size {
            return Err(FsError::too_large(path, limits.max_file_size));
        }
        if new > old {
            let grow = new - old;
            let mut used = self.usage.used.load(Ordering::Relaxed);
            loop {
                let next = used
                    .checked_add(grow)
                    .filter(|n| *n <= limits.capacity)
                    .ok_or_else(|| FsError::no_space(path, limits.capacity))?;
                match self.usage.used.compare_exchange_weak(
                    used,
                    next,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => break,
                    Err(actual) => used = actual,
                }
            }
        } else {
            self.usage.used.fetch_sub(old - new, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// The directory `$dir` (canonical) of `$tree`, for a change of `$full`, or
/// an early return of the contract's error. A macro rather than a method so
/// that the lookup is one probe: a method returning the borrow would need a
/// second probe to build the error.
macro_rules! dir_mut {
    ($tree:expr, $dir:expr, $full:expr) => {
        dir_mut!($tree, $dir, $full, false)
    };
    ($tree:expr, $dir:expr, $full:expr, $dir_syntax:expr) => {{
        let found = match $tree.index.get_mut($dir) {
            Some(Node::Dir(d)) => Some(d),
            _ => None,
        };
        match found {
            Some(d) => d,
            None => return Err($tree.not_a_parent($dir, $full, $dir_syntax)),
        }
    }};
}

impl Tree {
    /// Finds a parsed path, with the contract's errors.
    fn get(&self, p: &VPath<'_>) -> Result<&Node> {
        match self.index.get(p.as_str()) {
            Some(n) => Ok(n),
            None => Err(self.missing(p.as_str(), p.is_dir_syntax())),
        }
    }

    /// [`get`](Self::get) for an operation that follows a link in the last
    /// component: such a link is reported for the resolver.
    fn get_followed(&self, p: &VPath<'_>) -> Result<&Node> {
        match self.get(p)? {
            Node::Symlink(l) => Err(links::met(p, p.as_str().len(), l.target.as_str())),
            n => Ok(n),
        }
    }

    /// The error for a path `p` (canonical; `dir_syntax` as written) that is
    /// not in the index: the first link among its ancestors, reported for the
    /// resolver; `NotADirectory` when an ancestor is a file; else `NotFound`.
    fn missing(&self, p: &str, dir_syntax: bool) -> FsError {
        let mut cur = p;
        while let Some(parent) = path::parent(cur) {
            match self.index.get(parent) {
                Some(Node::File(_)) => return FsError::not_a_directory(p),
                // Nothing is indexed below a link, so the first ancestor
                // found is the link a walk from the root meets.
                Some(Node::Symlink(l)) => {
                    return links::met_at(p, dir_syntax, parent.len(), l.target.as_str());
                }
                Some(Node::Dir(_)) => break,
                None => cur = parent,
            }
        }
        FsError::not_found(p)
    }

    /// The error for a change of `full` whose parent `dir` is not a
    /// directory of the tree.
    fn not_a_parent(&self, dir: &str, full: &str, dir_syntax: bool) -> FsError {
        match self.index.get(dir) {
            Some(Node::Dir(_)) | Some(Node::File(_)) => FsError::not_a_directory(full),
            Some(Node::Symlink(_)) | None => match self.missing(full, dir_syntax) {
                FsError::NotFound { .. } => FsError::not_found(full),
                other => other,
            },
        }
    }

    /// One name fewer for the node at `p`, if it is a file or a link.
    fn unname(&self, p: &str) {
        match self.index.get(p) {
            Some(Node::File(f)) => {
                f.names.fetch_sub(1, Ordering::Relaxed);
            }
            Some(Node::Symlink(l)) => {
                l.names.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// The resolver's error when `p`, written with a trailing `/`, names a
    /// link: such a path follows the link (see the contract).
    fn trailing_link(&self, p: &VPath<'_>) -> Result<()> {
        if p.is_dir_syntax()
            && let Some(Node::Symlink(l)) = self.index.get(p.as_str())
        {
            return Err(links::met(p, p.as_str().len(), l.target.as_str()));
        }
        Ok(())
    }

    /// Every path at or below `p` (a directory), found through the listings.
    fn subtree(&self, p: &str) -> Vec<String> {
        let mut out = vec![p.to_owned()];
        let mut i = 0;
        while i < out.len() {
            if let Some(Node::Dir(d)) = self.index.get(out[i].as_str()) {
                let base = out[i].clone();
                for name in d.children.keys() {
                    out.push(path::join(&base, name));
                }
            }
            i += 1;
        }
        out
    }
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemFs")
            .field("used_bytes", &self.used_bytes())
            .field("limits", &self.inner.usage.limits)
            .finish()
    }
}

impl MemFs {
    /// An empty file system with the default [`MemLimits`].
    pub fn new() -> Self {
        Self::with_limits(MemLimits::default())
    }

    /// An empty file system with the given limits.
    pub fn with_limits(limits: MemLimits) -> Self {
        let mut index = Index::default();
        index.insert(
            CompactString::const_new("/"),
            Node::Dir(DirNode::new(1, Timestamp::now())),
        );
        Self {
            inner: Arc::new(Inner {
                tree: RwLock::new(Tree { index }),
                next_id: AtomicU64::new(2),
                lazy: AtomicBool::new(false),
                pending: Mutex::new(None),
                usage: Arc::new(Usage {
                    used: AtomicU64::new(0),
                    limits,
                    gate: RwLock::new(()),
                }),
            }),
        }
    }

    /// The bytes held by files, including removed files still open.
    pub fn used_bytes(&self) -> u64 {
        self.inner.usage.used.load(Ordering::Relaxed)
    }

    /// The limits this file system was made with.
    pub fn limits(&self) -> MemLimits {
        self.inner.usage.limits
    }

    /// Creates or replaces the file at `path` with `data`, taking the buffer
    /// as it is (no copy). The parent directory must exist. Links are not
    /// followed: a link in the path is refused.
    pub fn put(&self, path: &str, data: Vec<u8>) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if p.is_root() || p.is_dir_syntax() {
            return Err(FsError::is_a_directory(full));
        }
        let node = {
            let mut tree = self.tree_write();
            match tree.index.get(full) {
                Some(Node::Dir(_)) => return Err(FsError::is_a_directory(full)),
                Some(Node::File(f)) => Arc::clone(f),
                Some(Node::Symlink(_)) => {
                    return Err(FsError::invalid_input(
                        full,
                        "is a symbolic link (put does not follow links)",
                    ));
                }
                None => self.create_file(&mut tree, full, Timestamp::now())?.0,
            }
        };
        let _gate = read_lock(&node.usage.gate);
        let mut bytes = write_lock(&node.data);
        let old = bytes.len() as u64;
        node.reserve(old, data.len() as u64, full)?;
        *bytes = Arc::new(data);
        node.size.store(bytes.len() as u64, Ordering::Relaxed);
        node.touch();
        Ok(())
    }

    /// An immutable copy of the whole tree as it is now: one point in time
    /// across every file, even while other threads write.
    ///
    /// Costs a visit of every entry, never the bytes: each file's bytes
    /// are shared with the copy, and the first change to a file after the
    /// freeze copies that file once. What did not change since the last
    /// freeze (still held by a snapshot) is not copied again: its frozen
    /// directories, files and links are given again, so only the paths that
    /// changed are rebuilt. A file's access time in the copy is the one of
    /// the freeze that first copied it since it last changed. Writers wait
    /// only while the tree is visited.
    pub fn freeze(&self) -> FrozenTree {
        if self.inner.lazy.load(Ordering::Acquire) {
            // Untouched since it started from a frozen tree: that tree is
            // what it holds, shared as it is.
            let pending = lock_pending(&self.inner.pending);
            if let Some(frozen) = pending.as_ref() {
                return frozen.clone();
            }
        }
        let tree = self.tree_read();
        let _gate = write_lock(&self.inner.usage.gate);
        let mut seen = Freezer::default();
        let root = freeze_dir(&tree, "/", &mut seen);
        FrozenTree {
            root,
            entries: seen.entries,
            bytes: seen.bytes,
            largest: seen.largest,
        }
    }

    /// A new file system holding what `frozen` holds, with the default
    /// [`MemLimits`]; see [`from_frozen_with_limits`](Self::from_frozen_with_limits).
    ///
    /// # Errors
    /// As [`from_frozen_with_limits`](Self::from_frozen_with_limits).
    pub fn from_frozen(frozen: &FrozenTree) -> Result<Self> {
        Self::from_frozen_with_limits(frozen, MemLimits::default())
    }

    /// A new file system holding what `frozen` holds, within `limits`: the
    /// same paths, bytes, links (two names of one file stay one file),
    /// times and identifiers. Its files share their bytes with `frozen`
    /// until written.
    ///
    /// Costs a reference count: the index is built at the first operation
    /// on the file system (a visit of every entry, once), and until then a
    /// [`freeze`](Self::freeze) gives `frozen` back as it is. The limits are
    /// checked now, so that the first operation cannot fail for them.
    ///
    /// # Errors
    /// [`FsError::NoSpace`] if `frozen` holds more entries or bytes than
    /// `limits` allow, [`FsError::TooLarge`] if one of its files is larger
    /// than a file may grow.
    pub fn from_frozen_with_limits(frozen: &FrozenTree, limits: MemLimits) -> Result<Self> {
        if frozen.entries > limits.max_entries || frozen.bytes > limits.capacity {
            return Err(FsError::no_space("/", limits.capacity));
        }
        if frozen.largest > limits.max_file_size {
            return Err(FsError::too_large("/", limits.max_file_size));
        }
        let fs = Self::with_limits(limits);
        // Its bytes are counted now; its index is built at its first use.
        fs.inner.usage.used.store(frozen.bytes, Ordering::Relaxed);
        *lock_pending(&fs.inner.pending) = Some(frozen.clone());
        fs.inner.lazy.store(true, Ordering::Release);
        Ok(fs)
    }

    /// Builds the index of a file system started from a frozen tree, once,
    /// before the first operation that reads or changes it.
    fn materialize(&self) {
        if !self.inner.lazy.load(Ordering::Acquire) {
            return;
        }
        let mut pending = lock_pending(&self.inner.pending);
        if let Some(frozen) = pending.take() {
            let mut tree = write_lock(&self.inner.tree);
            self.fill(&mut tree, &frozen);
        }
        self.inner.lazy.store(false, Ordering::Release);
    }

    /// The tree, for reading (built first if it is still frozen).
    fn tree_read(&self) -> RwLockReadGuard<'_, Tree> {
        self.materialize();
        read_lock(&self.inner.tree)
    }

    /// The tree, for changing (built first if it is still frozen).
    fn tree_write(&self) -> RwLockWriteGuard<'_, Tree> {
        self.materialize();
        write_lock(&self.inner.tree)
    }

    /// Fills the empty `tree` with what `frozen` holds. Its limits were
    /// checked and its bytes counted when the file system was made.
    fn fill(&self, tree: &mut Tree, frozen: &FrozenTree) {
        let usage = &self.inner.usage;
        let mut files: HashMap<*const FrozenFile, Arc<FileNode>> = HashMap::new();
        let mut links: HashMap<*const FrozenLink, Arc<LinkNode>> = HashMap::new();
        let mut max_id = 1;
        tree.index.insert(
            CompactString::const_new("/"),
            Node::Dir(DirNode {
                id: 1,
                created: frozen.root.created,
                modified: frozen.root.modified,
                children: BTreeMap::new(),
                frozen: Mutex::new(Arc::downgrade(&frozen.root)),
            }),
        );
        let mut stack: Vec<(CompactString, &FrozenDir)> =
            vec![(CompactString::const_new("/"), &*frozen.root)];
        while let Some((dir_path, dir)) = stack.pop() {
            let mut children = BTreeMap::new();
            for (name, node) in &dir.children {
                let full = CompactString::from(path::join(&dir_path, name));
                let (child, indexed) = match node {
                    FrozenNode::Dir(d) => {
                        max_id = max_id.max(d.id);
                        stack.push((full.clone(), &**d));
                        (
                            Child::Dir(d.id),
                            Node::Dir(DirNode {
                                id: d.id,
                                created: d.created,
                                modified: d.modified,
                                children: BTreeMap::new(),
                                frozen: Mutex::new(Arc::downgrade(d)),
                            }),
                        )
                    }
                    FrozenNode::File(f) => {
                        max_id = max_id.max(f.id);
                        let node = renamed(
                            &mut files,
                            Arc::as_ptr(f),
                            |n| &n.names,
                            || {
                                Arc::new(FileNode {
                                    id: f.id,
                                    created: f.created,
                                    size: AtomicU64::new(f.data.len() as u64),
                                    modified: AtomicU64::new(f.modified.as_nanos()),
                                    accessed: AtomicU64::new(f.accessed.as_nanos()),
                                    names: AtomicU64::new(1),
                                    data: RwLock::new(Arc::clone(&f.data)),
                                    usage: Arc::clone(usage),
                                    frozen: Mutex::new(Arc::downgrade(f)),
                                })
                            },
                        );
                        (Child::File(Arc::clone(&node)), Node::File(node))
                    }
                    FrozenNode::Symlink(l) => {
                        max_id = max_id.max(l.id);
                        let node = renamed(
                            &mut links,
                            Arc::as_ptr(l),
                            |n| &n.names,
                            || {
                                Arc::new(LinkNode {
                                    id: l.id,
                                    created: l.created,
                                    target: l.target.clone(),
                                    names: AtomicU64::new(1),
                                    frozen: Mutex::new(Arc::downgrade(l)),
                                })
                            },
                        );
                        (Child::Symlink(Arc::clone(&node)), Node::Symlink(node))
                    }
                };
                children.insert(name.clone(), child);
                tree.index.insert(full, indexed);
            }
            if let Some(Node::Dir(d)) = tree.index.get_mut(dir_path.as_str()) {
                d.children = children;
            }
        }
        self.inner.next_id.store(max_id + 1, Ordering::Relaxed);
    }

    /// Removes everything, leaving an empty root. Open handles keep their
    /// files' data.
    pub fn clear(&self) {
        let mut tree = self.tree_write();
        tree.index.retain(|p, _| p.as_str() == "/");
        if let Some(Node::Dir(root)) = tree.index.get_mut("/") {
            root.children.clear();
            root.modified = Timestamp::now();
        }
    }

    /// Refuses a new entry at `full` when the tree holds `max_entries`.
    fn check_entries(&self, tree: &Tree, full: &str) -> Result<()> {
        let limits = self.inner.usage.limits;
        // The index holds the root too.
        if tree.index.len() as u64 > limits.max_entries {
            return Err(FsError::no_space(full, limits.capacity));
        }
        Ok(())
    }

    fn new_id(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Creates an empty file at `full` (missing; its parent must be a
    /// directory); returns it with its indexed path.
    fn create_file(
        &self,
        tree: &mut Tree,
        full: &str,
        now: Timestamp,
    ) -> Result<(Arc<FileNode>, CompactString)> {
        let (parent, name) = path::split(full).ok_or_else(|| FsError::already_exists(full))?;
        self.check_entries(tree, full)?;
        let dir = dir_mut!(tree, parent, full);
        let node = Arc::new(FileNode {
            id: self.new_id(),
            created: now,
            size: AtomicU64::new(0),
            modified: AtomicU64::new(now.as_nanos()),
            accessed: AtomicU64::new(now.as_nanos()),
            names: AtomicU64::new(1),
            data: RwLock::new(Arc::default()),
            usage: Arc::clone(&self.inner.usage),
            frozen: Mutex::new(Weak::new()),
        });
        match dir.children.entry(CompactString::from(name)) {
            Entry::Vacant(slot) => {
                slot.insert(Child::File(Arc::clone(&node)));
            }
            Entry::Occupied(_) => return Err(FsError::already_exists(full)),
        }
        dir.modified = now;
        let key = CompactString::from(full);
        tree.index
            .insert(key.clone(), Node::File(Arc::clone(&node)));
        Ok((node, key))
    }

    fn open_existing(
        &self,
        p: &VPath<'_>,
        (key, node): (&CompactString, &Node),
        flags: OpenFlags,
    ) -> Result<Box<dyn FileHandle>> {
        let full = p.as_str();
        if let Node::Symlink(l) = node
            && p.is_dir_syntax()
        {
            return Err(links::met(p, full.len(), l.target.as_str()));
        }
        if flags.create_new {
            return Err(FsError::already_exists(full));
        }
        match node {
            Node::Dir(d) => {
                if flags.mutates() {
                    return Err(FsError::is_a_directory(full));
                }
                Ok(DirHandle::boxed(full, d.metadata()))
            }
            Node::File(f) => {
                if flags.directory || p.is_dir_syntax() {
                    return Err(FsError::not_a_directory(full));
                }
                if flags.truncate {
                    let _gate = read_lock(&f.usage.gate);
                    let mut data = write_lock(&f.data);
                    f.resize(Arc::make_mut(&mut data), 0, full)?;
                    f.touch();
                }
                Ok(Self::handle(Arc::clone(f), key.clone(), flags))
            }
            Node::Symlink(_) if flags.nofollow && !p.is_dir_syntax() => {
                Err(FsError::too_many_links(full))
            }
            Node::Symlink(l) => Err(links::met(p, full.len(), l.target.as_str())),
        }
    }

    fn handle(node: Arc<FileNode>, path: CompactString, flags: OpenFlags) -> Box<dyn FileHandle> {
        Box::new(MemHandle {
            node,
            path,
            pos: 0,
            read: flags.can_read(),
            write: flags.can_write(),
            append: flags.append,
        })
    }
}

impl FileService for MemFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        check_open_flags(full, flags)?;
        {
            let tree = self.tree_read();
            match tree.index.get_key_value(full) {
                Some(found) => return self.open_existing(&p, found, flags),
                None if !flags.creates() => return Err(tree.missing(full, p.is_dir_syntax())),
                None => {}
            }
        }
        // Create, under the write lock (the file may have appeared meanwhile).
        let mut tree = self.tree_write();
        if let Some(found) = tree.index.get_key_value(full) {
            return self.open_existing(&p, found, flags);
        }
        if p.is_dir_syntax() {
            // The parent's error comes first, as for any other path.
            if let Some(parent) = path::parent(full) {
                dir_mut!(tree, parent, full, true);
            }
            return Err(FsError::is_a_directory(full));
        }
        let (node, key) = self.create_file(&mut tree, full, Timestamp::now())?;
        drop(tree);
        Ok(Self::handle(node, key, flags))
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        let tree = self.tree_read();
        match tree.get_followed(&p)? {
            Node::File(_) | Node::Symlink(_) => Err(FsError::not_a_directory(p.as_str())),
            Node::Dir(d) => Ok(d
                .children
                .iter()
                .map(|(name, child)| match child {
                    Child::Dir(id) => DirEntry::new(name.as_str(), FileKind::Directory, 0, *id),
                    Child::File(f) => DirEntry::new(
                        name.as_str(),
                        FileKind::File,
                        f.size.load(Ordering::Relaxed),
                        f.id,
                    ),
                    Child::Symlink(l) => DirEntry::new(
                        name.as_str(),
                        FileKind::Symlink,
                        l.target.len() as u64,
                        l.id,
                    ),
                })
                .collect()),
        }
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let tree = self.tree_read();
        match tree.get_followed(&p)? {
            Node::Dir(d) => Ok(d.metadata()),
            Node::File(_) | Node::Symlink(_) if p.is_dir_syntax() => {
                Err(FsError::not_a_directory(p.as_str()))
            }
            Node::File(f) => Ok(f.metadata()),
            Node::Symlink(l) => Ok(l.metadata()),
        }
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let tree = self.tree_read();
        let node = if p.is_dir_syntax() {
            tree.get_followed(&p)?
        } else {
            tree.get(&p)?
        };
        match node {
            Node::Dir(d) => Ok(d.metadata()),
            Node::File(_) | Node::Symlink(_) if p.is_dir_syntax() => {
                Err(FsError::not_a_directory(p.as_str()))
            }
            Node::File(f) => Ok(f.metadata()),
            Node::Symlink(l) => Ok(l.metadata()),
        }
    }

    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        let p = path::parse(link)?;
        let full = p.as_str();
        links::check_target(full, target)?;
        let Some((parent, name)) = path::split(full) else {
            return Err(FsError::already_exists(full));
        };
        let now = Timestamp::now();
        let node = Arc::new(LinkNode {
            id: self.new_id(),
            created: now,
            target: target.to_owned(),
            names: AtomicU64::new(1),
            frozen: Mutex::new(Weak::new()),
        });
        let mut tree = self.tree_write();
        tree.trailing_link(&p)?;
        self.check_entries(&tree, full)?;
        let dir = dir_mut!(tree, parent, full, p.is_dir_syntax());
        match dir.children.entry(CompactString::from(name)) {
            Entry::Occupied(_) => return Err(FsError::already_exists(full)),
            Entry::Vacant(_) if p.is_dir_syntax() => return Err(FsError::not_found(full)),
            Entry::Vacant(slot) => {
                slot.insert(Child::Symlink(Arc::clone(&node)));
            }
        }
        dir.modified = now;
        tree.index
            .insert(CompactString::from(full), Node::Symlink(node));
        Ok(())
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let p = path::parse(path)?;
        let tree = self.tree_read();
        match tree.get(&p)? {
            Node::Symlink(l) if p.is_dir_syntax() => {
                Err(links::met(&p, p.as_str().len(), l.target.as_str()))
            }
            Node::Symlink(l) => Ok(l.target.clone()),
            Node::File(_) if p.is_dir_syntax() => Err(FsError::not_a_directory(p.as_str())),
            _ => Err(FsError::invalid_input(p.as_str(), "not a symbolic link")),
        }
    }

    fn link(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        let pt = path::parse(to)?;
        let (f, t) = (pf.as_str(), pt.as_str());
        let mut tree = self.tree_write();
        tree.trailing_link(&pf)?;
        tree.trailing_link(&pt)?;
        let child = match tree.get(&pf)? {
            Node::Dir(_) => return Err(FsError::permission_denied(f, "cannot link a directory")),
            Node::File(_) | Node::Symlink(_) if pf.is_dir_syntax() => {
                return Err(FsError::not_a_directory(f));
            }
            Node::File(node) => Child::File(Arc::clone(node)),
            Node::Symlink(node) => Child::Symlink(Arc::clone(node)),
        };
        let Some((parent, name)) = path::split(t) else {
            return Err(FsError::already_exists(t));
        };
        self.check_entries(&tree, t)?;
        let now = Timestamp::now();
        let dir = dir_mut!(tree, parent, t, pt.is_dir_syntax());
        let index_node = match dir.children.entry(CompactString::from(name)) {
            Entry::Occupied(_) => return Err(FsError::already_exists(t)),
            Entry::Vacant(_) if pt.is_dir_syntax() => return Err(FsError::not_found(t)),
            Entry::Vacant(slot) => {
                let node = match &child {
                    Child::File(n) => {
                        n.names.fetch_add(1, Ordering::Relaxed);
                        Node::File(Arc::clone(n))
                    }
                    Child::Symlink(n) => {
                        n.names.fetch_add(1, Ordering::Relaxed);
                        Node::Symlink(Arc::clone(n))
                    }
                    Child::Dir(_) => {
                        return Err(FsError::permission_denied(f, "cannot link a directory"));
                    }
                };
                slot.insert(child);
                node
            }
        };
        dir.modified = now;
        tree.index.insert(CompactString::from(t), index_node);
        Ok(())
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let Some((parent, name)) = path::split(full) else {
            return Err(FsError::already_exists(full));
        };
        let id = self.new_id();
        let now = Timestamp::now();
        let mut tree = self.tree_write();
        tree.trailing_link(&p)?;
        self.check_entries(&tree, full)?;
        let dir = dir_mut!(tree, parent, full, p.is_dir_syntax());
        match dir.children.entry(CompactString::from(name)) {
            Entry::Vacant(slot) => {
                slot.insert(Child::Dir(id));
            }
            Entry::Occupied(_) => return Err(FsError::already_exists(full)),
        }
        dir.modified = now;
        tree.index
            .insert(CompactString::from(full), Node::Dir(DirNode::new(id, now)));
        Ok(())
    }

    fn remove(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let Some((parent, name)) = path::split(full) else {
            return Err(FsError::permission_denied(full, "cannot remove the root"));
        };
        let mut tree = self.tree_write();
        match tree.get(&p)? {
            Node::Dir(d) if !d.children.is_empty() => return Err(FsError::not_empty(full)),
            Node::File(_) | Node::Symlink(_) if p.is_dir_syntax() => {
                return Err(FsError::not_a_directory(full));
            }
            _ => {}
        }
        tree.unname(full);
        let dir = dir_mut!(tree, parent, full);
        dir.children.remove(name);
        dir.modified = Timestamp::now();
        tree.index.remove(full);
        Ok(())
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        let pt = path::parse(to)?;
        let (f, t) = (pf.as_str(), pt.as_str());
        let (Some((from_parent, from_name)), Some((to_parent, to_name))) =
            (path::split(f), path::split(t))
        else {
            let root = if pf.is_root() { f } else { t };
            return Err(FsError::permission_denied(root, "cannot rename the root"));
        };
        let mut tree = self.tree_write();
        let from_is_dir = match tree.get(&pf)? {
            Node::Dir(_) => true,
            Node::File(_) | Node::Symlink(_) if pf.is_dir_syntax() => {
                return Err(FsError::not_a_directory(f));
            }
            Node::File(_) | Node::Symlink(_) => false,
        };
        if from_is_dir && path::is_strict_descendant(t, f) {
            return Err(FsError::invalid_input(
                t,
                format!("cannot move the directory {f} inside itself"),
            ));
        }
        if f == t {
            return Ok(());
        }
        dir_mut!(tree, to_parent, t, pt.is_dir_syntax());
        match (tree.index.get(t), from_is_dir) {
            (Some(Node::Dir(_)), false) => return Err(FsError::is_a_directory(t)),
            (Some(Node::File(_) | Node::Symlink(_)), true) => {
                return Err(FsError::not_a_directory(t));
            }
            (Some(Node::Dir(d)), true) if !d.children.is_empty() => {
                return Err(FsError::not_empty(t));
            }
            (None | Some(Node::File(_) | Node::Symlink(_)), false) if pt.is_dir_syntax() => {
                return Err(FsError::not_a_directory(t));
            }
            (Some(target), false) if same_node(target, tree.index.get(f)) => {
                // Two names of one file (or link): POSIX leaves both in place.
                return Ok(());
            }
            _ => {}
        }
        // Checks are done: from here on nothing fails.
        let now = Timestamp::now();
        let moved: Vec<String> = if from_is_dir {
            tree.subtree(f)
        } else {
            vec![f.to_owned()]
        };
        if let Some(Node::Dir(d)) = tree.index.get_mut(from_parent) {
            let child = d.children.remove(from_name);
            d.modified = now;
            if let Some(Node::Dir(td)) = tree.index.get_mut(to_parent)
                && let Some(child) = child
            {
                td.children.insert(CompactString::from(to_name), child);
                td.modified = now;
            }
        }
        tree.unname(t);
        tree.index.remove(t);
        for old in moved {
            if let Some(node) = tree.index.remove(old.as_str()) {
                let new = format!("{t}{}", &old[f.len()..]);
                tree.index.insert(CompactString::from(new), node);
            }
        }
        Ok(())
    }

    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        let p = path::parse(path)?;
        let mut tree = self.tree_write();
        if let Some(Node::Symlink(l)) = tree.index.get(p.as_str()) {
            return Err(links::met(&p, p.as_str().len(), l.target.as_str()));
        }
        match tree.index.get_mut(p.as_str()) {
            None => Err(tree.missing(p.as_str(), p.is_dir_syntax())),
            Some(Node::Symlink(_)) => Ok(()),
            Some(Node::Dir(d)) => {
                if let Some(m) = modified {
                    d.modified = m;
                }
                Ok(())
            }
            Some(Node::File(f)) => {
                if let Some(a) = accessed {
                    f.accessed.store(a.as_nanos(), Ordering::Relaxed);
                }
                if let Some(m) = modified {
                    f.modified.store(m.as_nanos(), Ordering::Relaxed);
                }
                Ok(())
            }
        }
    }

    fn fs_type(&self) -> &'static str {
        "memfs"
    }
}

/// Whether `a` and `b` are names of one file or link.
/// The node started from the frozen node `key`: the one made when `key`
/// was met under an earlier name (counting one more name), else `make`'s.
fn renamed<K, T>(
    made: &mut HashMap<*const K, Arc<T>>,
    key: *const K,
    names: impl Fn(&T) -> &AtomicU64,
    make: impl FnOnce() -> Arc<T>,
) -> Arc<T> {
    if let Some(node) = made.get(&key) {
        names(node).fetch_add(1, Ordering::Relaxed);
        return Arc::clone(node);
    }
    let node = make();
    made.insert(key, Arc::clone(&node));
    node
}

/// What a freeze has seen so far: counts, and the frozen node of each file
/// with more than one name (two names of one become two names of one frozen
/// node; links do so through their cached copy).
#[derive(Default)]
struct Freezer {
    entries: u64,
    bytes: u64,
    largest: u64,
    /// The frozen copy of each file with more than one name, met once.
    files: HashMap<*const FileNode, Arc<FrozenFile>>,
}

/// The cached copy behind `weak`, if a snapshot still holds it.
fn cached<T>(weak: &Mutex<Weak<T>>) -> Option<Arc<T>> {
    // A single assignment: a poisoned lock is consistent.
    weak.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .upgrade()
}

/// Records `frozen` as the cached copy behind `weak`.
fn remember<T>(weak: &Mutex<Weak<T>>, frozen: &Arc<T>) {
    *weak.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(frozen);
}

/// Whether two frozen nodes are the same node.
fn same_frozen(a: &FrozenNode, b: &FrozenNode) -> bool {
    match (a, b) {
        (FrozenNode::Dir(a), FrozenNode::Dir(b)) => Arc::ptr_eq(a, b),
        (FrozenNode::File(a), FrozenNode::File(b)) => Arc::ptr_eq(a, b),
        (FrozenNode::Symlink(a), FrozenNode::Symlink(b)) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// The frozen copy of file `f`: the one a snapshot still holds if the file
/// has the same bytes and modification time, else a new one (its bytes
/// shared either way). Access times are those of the freeze that made it.
fn freeze_file(f: &Arc<FileNode>, seen: &mut Freezer) -> Arc<FrozenFile> {
    let linked = f.names.load(Ordering::Relaxed) > 1;
    if linked && let Some(frozen) = seen.files.get(&Arc::as_ptr(f)) {
        return Arc::clone(frozen);
    }
    let modified = f.modified.load(Ordering::Relaxed);
    let frozen = {
        let data = read_lock(&f.data);
        match cached(&f.frozen) {
            Some(c) if Arc::ptr_eq(&c.data, &data) && c.modified.as_nanos() == modified => c,
            _ => {
                let frozen = Arc::new(FrozenFile {
                    id: f.id,
                    created: f.created,
                    modified: Timestamp(modified),
                    accessed: Timestamp(f.accessed.load(Ordering::Relaxed)),
                    data: Arc::clone(&data),
                });
                remember(&f.frozen, &frozen);
                frozen
            }
        }
    };
    let len = frozen.data.len() as u64;
    seen.bytes += len;
    seen.largest = seen.largest.max(len);
    if linked {
        seen.files.insert(Arc::as_ptr(f), Arc::clone(&frozen));
    }
    frozen
}

/// The frozen copy of link `l` (links never change: the cached one while a
/// snapshot holds it).
fn freeze_link(l: &Arc<LinkNode>) -> Arc<FrozenLink> {
    if let Some(c) = cached(&l.frozen) {
        return c;
    }
    let frozen = Arc::new(FrozenLink {
        id: l.id,
        created: l.created,
        target: l.target.clone(),
    });
    remember(&l.frozen, &frozen);
    frozen
}

/// The frozen copy of the directory `p` of `tree` and everything below it.
///
/// Incremental: a directory whose own times and entries are what its last
/// frozen copy (still held by a snapshot) has, each entry the same frozen
/// node, gives that copy again — no directory is rebuilt where nothing
/// below it changed. Every entry is still looked at (and counted) once.
fn freeze_dir(tree: &Tree, p: &str, seen: &mut Freezer) -> Arc<FrozenDir> {
    let Some(Node::Dir(d)) = tree.index.get(p) else {
        // Every directory a listing names is indexed: not reached.
        return Arc::new(FrozenDir {
            id: 0,
            created: Timestamp(0),
            modified: Timestamp(0),
            children: BTreeMap::new(),
        });
    };
    let before = cached(&d.frozen).filter(|c| {
        c.id == d.id
            && c.created == d.created
            && c.modified == d.modified
            && c.children.len() == d.children.len()
    });
    let mut old = before.as_ref().map(|c| c.children.iter());
    // Built only once an entry differs from the cached copy.
    let mut built: Option<BTreeMap<CompactString, FrozenNode>> = match &before {
        Some(_) => None,
        None => Some(BTreeMap::new()),
    };
    for (index, (name, child)) in d.children.iter().enumerate() {
        seen.entries += 1;
        let node = match child {
            Child::Dir(_) => FrozenNode::Dir(freeze_dir(tree, &path::join(p, name), seen)),
            Child::File(f) => FrozenNode::File(freeze_file(f, seen)),
            Child::Symlink(l) => FrozenNode::Symlink(freeze_link(l)),
        };
        if built.is_none() {
            let same = old
                .as_mut()
                .and_then(Iterator::next)
                .is_some_and(|(n, cached)| n == name && same_frozen(cached, &node));
            if same {
                continue;
            }
            // The first difference: what came before it is the cached copy's.
            let mut map = BTreeMap::new();
            if let Some(c) = &before {
                for (n, cached) in c.children.iter().take(index) {
                    map.insert(n.clone(), cached.clone());
                }
            }
            built = Some(map);
        }
        if let Some(map) = built.as_mut() {
            map.insert(name.clone(), node);
        }
    }
    match (built, before) {
        (None, Some(c)) => c,
        (built, _) => {
            let frozen = Arc::new(FrozenDir {
                id: d.id,
                created: d.created,
                modified: d.modified,
                children: built.unwrap_or_default(),
            });
            remember(&d.frozen, &frozen);
            frozen
        }
    }
}

fn same_node(a: &Node, b: Option<&Node>) -> bool {
    match (a, b) {
        (Node::File(a), Some(Node::File(b))) => Arc::ptr_eq(a, b),
        (Node::Symlink(a), Some(Node::Symlink(b))) => Arc::ptr_eq(a, b),
        _ => false,
    }
}

/// An open MemFs file.
struct MemHandle {
    node: Arc<FileNode>,
    path: CompactString,
    pos: u64,
    read: bool,
    write: bool,
    append: bool,
}

impl MemHandle {
    fn read_from(&self, buf: &mut [u8], offset: u64) -> Result<usize> {
        if !self.read {
            return Err(FsError::bad_handle(&*self.path, "not opened for reading"));
        }
        let data = read_lock(&self.node.data);
        let Some(rest) = usize::try_from(offset).ok().and_then(|o| data.get(o..)) else {
            return Ok(0);
        };
        let n = buf.len().min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    /// Writes at `offset` (or at the end when appending); returns the offset
    /// just past the written bytes.
    fn write_to(&self, buf: &[u8], offset: u64) -> Result<u64> {
        if !self.write {
            return Err(FsError::bad_handle(&*self.path, "not opened for writing"));
        }
        let _gate = read_lock(&self.node.usage.gate);
        let mut data = write_lock(&self.node.data);
        let len = data.len() as u64;
        let start = if self.append { len } else { offset };
        if buf.is_empty() {
            return Ok(start);
        }
        let data = Arc::make_mut(&mut data);
        let end = start
            .checked_add(buf.len() as u64)
            .ok_or_else(|| FsError::too_large(&*self.path, u64::MAX))?;
        if end > len {
            self.node.resize(data, end, &self.path)?;
        }
        // `end` fits in the buffer now, so `start` fits in usize.
        let s = usize::try_from(start).map_err(|_| FsError::too_large(&*self.path, start))?;
        data[s..s + buf.len()].copy_from_slice(buf);
        self.node.touch();
        Ok(end)
    }
}

impl FileHandle for MemHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = self.read_from(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }

    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        self.pos = self.write_to(buf, self.pos)?;
        Ok(buf.len())
    }

    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let len = self.node.size.load(Ordering::Relaxed);
        self.pos = seek_position(&self.path, pos, self.pos, len)?;
        Ok(self.pos)
    }

    fn stat(&self) -> Result<Metadata> {
        Ok(self.node.metadata())
    }

    fn set_len(&mut self, len: u64) -> Result<()> {
        if !self.write {
            return Err(FsError::bad_handle(&*self.path, "not opened for writing"));
        }
        let gate = read_lock(&self.node.usage.gate);
        let mut data = write_lock(&self.node.data);
        self.node
            .resize(Arc::make_mut(&mut data), len, &self.path)?;
        drop(data);
        self.node.touch();
        drop(gate);
        Ok(())
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.read_from(buf, offset)
    }

    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        self.write_to(buf, offset)?;
        Ok(buf.len())
    }
}
