//! `CowFs`: a copy-on-write overlay of any file service, and the list of
//! what changed relative to it.

mod commit;
mod review;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::SeekFrom;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use oanix_vfs::links;
use oanix_vfs::path::{self, VPath};
use oanix_vfs::{
    DirEntry, FileHandle, FileKind, FileService, FsError, FsErrorKind, Metadata, OpenFlags, Result,
    Timestamp, check_open_flags, read_file, walk,
};
use serde::{Deserialize, Serialize};

use crate::frozen::FrozenTree;
use crate::memfs::MemFs;

pub use commit::{CommitError, CommitReport, Conflict};

/// Whether a path was added, modified or deleted relative to the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Exists in the overlay, not in the base.
    Added,
    /// Exists in both, with different content or kind.
    Modified,
    /// Exists in the base, not in the overlay.
    Deleted,
}

/// What a path was or is: its kind and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryInfo {
    /// File, directory or symbolic link (as `lstat` describes it: a link
    /// is itself, never what it leads to).
    pub kind: FileKind,
    /// Size in bytes (0 for directories; the length of its target for a
    /// symbolic link).
    pub size: u64,
}

/// One changed path, as reported by [`CowFs::changes`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The path, in the overlay.
    pub path: String,
    /// Added, modified or deleted.
    pub kind: ChangeKind,
    /// What the base has at the path (`None` when added).
    pub before: Option<EntryInfo>,
    /// What the overlay has at the path (`None` when deleted).
    pub after: Option<EntryInfo>,
}

/// An immutable copy of a [`CowFs`] at one point in time: its upper layer
/// (a [`FrozenTree`]), its whiteouts, and what it read of the base where it
/// diverged (what a commit checks). Taken by [`CowFs::freeze`]; new
/// overlays start from it with [`CowFs::from_frozen`]. Cheap to clone.
#[derive(Clone)]
pub struct FrozenCow {
    upper: FrozenTree,
    whiteouts: Arc<BTreeSet<String>>,
    origins: Arc<Origins>,
}

impl FrozenCow {
    /// The upper layer: what the overlay had written.
    pub fn upper(&self) -> &FrozenTree {
        &self.upper
    }

    /// The base paths the overlay had deleted (each hides what is below it).
    pub fn whiteouts(&self) -> impl Iterator<Item = &str> {
        self.whiteouts.iter().map(String::as_str)
    }

    /// What the overlay had read of the base where it diverged, as plain
    /// data: for a store to keep beside the upper layer and the whiteouts.
    pub fn origins(&self) -> CowOrigins {
        let mut paths: Vec<_> = self.origins.paths.clone().into_iter().collect();
        paths.sort_by(|a, b| a.0.cmp(&b.0));
        let mut dirs: Vec<_> = self.origins.dirs.clone().into_iter().collect();
        dirs.sort_by(|a, b| a.0.cmp(&b.0));
        CowOrigins { paths, dirs }
    }

    /// A frozen overlay from its parts, as [`upper`](Self::upper),
    /// [`whiteouts`](Self::whiteouts) and [`origins`](Self::origins) gave
    /// them: what a store reads back.
    pub fn from_parts(
        upper: FrozenTree,
        whiteouts: impl IntoIterator<Item = String>,
        origins: CowOrigins,
    ) -> Self {
        Self {
            upper,
            whiteouts: Arc::new(whiteouts.into_iter().collect()),
            origins: Arc::new(Origins {
                paths: origins.paths.into_iter().collect(),
                dirs: origins.dirs.into_iter().collect(),
            }),
        }
    }
}

/// What a copy-on-write overlay read of its base where it diverged
/// ([`FrozenCow::origins`]): what a commit checks the target against.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct CowOrigins {
    /// The base's `lstat` at each path the overlay copied up, deleted or
    /// replaced, sorted by path.
    pub paths: Vec<(String, Metadata)>,
    /// The base's `lstat` of each directory above a changed path (`None`:
    /// nothing was there), sorted by path.
    pub dirs: Vec<(String, Option<Metadata>)>,
}

/// Equal when the upper layers are equal (as [`FrozenTree`]s compare) and
/// the whiteouts and origins are the same.
impl PartialEq for FrozenCow {
    fn eq(&self, other: &Self) -> bool {
        self.upper == other.upper
            && self.whiteouts == other.whiteouts
            && self.origins == other.origins
    }
}

impl std::fmt::Debug for FrozenCow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrozenCow")
            .field("upper", &self.upper)
            .field("whiteouts", &self.whiteouts.len())
            .finish()
    }
}

/// A copy-on-write overlay of a base file service.
///
/// Reads go to the base until a path is written; the first write copies the
/// file up into an in-memory upper layer (a [`MemFs`]) and every later access
/// uses that copy. Deleting a base path records a whiteout that hides it (and
/// everything below it). The base is never written to.
///
/// [`changes`](Self::changes) lists what differs from the base,
/// [`diff`](Self::diff) renders it, [`commit`](Self::commit) applies it to a
/// target (normally what the base reads), all or nothing and checked
/// against what the overlay read there, and [`discard`](Self::discard)
/// drops it.
///
/// Cost model: copy-up reads the whole file once; renaming a directory that
/// has content in the base copies that subtree into the upper layer.
///
/// **Links.** The overlay keeps the [links contract](oanix_vfs::service)
/// over its merged view, and like every service never follows a link
/// itself: where a lookup meets one that must be followed — a link of
/// either layer as a parent component, or as the last component of `open`,
/// `stat`, `readdir` or `set_times` — it answers [`FsError::Symlink`] for
/// the resolver ([`links::Follow`], or the [`Namespace`](oanix_vfs::Namespace)
/// it is mounted in). A link the base meets is reported as the base
/// reported it (the same link and target, the rest of the path as the
/// caller wrote it). A whiteout or an upper entry over a link of the base
/// wins, as over any entry. `symlink` creates the link in the upper layer (its
/// parents copied up as directories); `remove` of a link of the base
/// records a whiteout; `rename` moves the link itself (a link of the base
/// is copied up as a new link holding the same target, never as what it
/// leads to). Writing through a link never copies the link up: the resolver
/// retries at the target's path, which is copied up as any file is.
///
/// Hard links: [`link`](FileService::link) copies `from` up if only the
/// base has it and links it in the upper layer, so both names share one
/// file there. Limit: copy-up breaks the hard links of the base (as
/// overlayfs without its index does): two names of one base file, read
/// through the overlay, become two independent files once one of them is
/// copied up; the other keeps showing the base.
///
/// ```
/// use oanix_prims::{ChangeKind, CowFs, MapFs};
/// use oanix_vfs::{FileService, read_to_string, write_file};
///
/// let base = MapFs::builder().file("/src/main.rs", "fn main() {}").build();
/// let cow = CowFs::new(base.clone());
/// write_file(&cow, "/src/main.rs", "fn main() { println!(\"hi\"); }")?;
/// write_file(&cow, "/NOTES.md", "done")?;
/// // The base is untouched.
/// assert_eq!(read_to_string(&base, "/src/main.rs")?, "fn main() {}");
/// let changes = cow.changes()?;
/// assert_eq!(changes.len(), 2);
/// assert_eq!((changes[0].path.as_str(), changes[0].kind), ("/NOTES.md", ChangeKind::Added));
/// assert_eq!((changes[1].path.as_str(), changes[1].kind), ("/src/main.rs", ChangeKind::Modified));
/// cow.discard();
/// assert!(cow.changes()?.is_empty());
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Clone)]
pub struct CowFs {
    inner: Arc<Inner>,
}

struct Inner {
    base: Arc<dyn FileService>,
    upper: MemFs,
    /// Base paths hidden from the overlay, with everything below them.
    /// Shared with the frozen copies taken of it and the overlays started
    /// from them until one of them changes (copied on write).
    whiteouts: RwLock<Arc<BTreeSet<String>>>,
    /// What the overlay read of the base where it diverged from it: what a
    /// commit checks the target against. Locked after `whiteouts`, never
    /// before.
    origins: Mutex<Arc<Origins>>,
}

/// What a commit checks the target against, recorded the first time the
/// overlay diverges from the base at a path (later records never replace
/// earlier ones: the first divergence is what the overlay read).
#[derive(Default, Clone, PartialEq)]
struct Origins {
    /// What the base had at each path the overlay copied up, deleted or
    /// replaced (its `lstat`: a link is recorded as itself).
    paths: HashMap<String, Metadata>,
    /// The `lstat` of each ancestor directory of a path the overlay changed
    /// or created, when it did (`None`: the base had nothing there): a
    /// commit checks that each is still the same directory (not replaced by
    /// a link or another directory).
    dirs: HashMap<String, Option<Metadata>>,
}

impl std::fmt::Debug for CowFs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CowFs")
            .field("base", &self.inner.base.fs_type())
            .field("upper_bytes", &self.inner.upper.used_bytes())
            .field("whiteouts", &read_lock(&self.inner.whiteouts).len())
            .finish()
    }
}

fn read_lock<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    // Whiteout changes are single set operations: a poisoned lock is consistent.
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_lock<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// Where a path of the overlay lives.
enum Loc {
    Upper(Metadata),
    Base(Metadata),
}

impl Loc {
    fn meta(&self) -> &Metadata {
        match self {
            Loc::Upper(m) | Loc::Base(m) => m,
        }
    }

    fn into_meta(self) -> Metadata {
        match self {
            Loc::Upper(m) | Loc::Base(m) => m,
        }
    }

    fn is_link(&self) -> bool {
        self.meta().is_symlink()
    }
}

fn hidden(whiteouts: &BTreeSet<String>, p: &str) -> bool {
    if whiteouts.is_empty() {
        return false;
    }
    let mut cur = p;
    loop {
        if whiteouts.contains(cur) {
            return true;
        }
        match path::parent(cur) {
            Some(parent) => cur = parent,
            None => return false,
        }
    }
}

/// Renames the path in an error to `p`; a link to follow keeps its own
/// path (the resolver needs it).
fn naming(e: FsError, p: &str) -> FsError {
    match e {
        e @ FsError::Symlink { .. } => e,
        e => e.map_paths(|_| p.to_owned()),
    }
}

/// A link a layer met looking up a path at or below `p` (canonical; the
/// layers and the overlay share their paths), reported for `p` as written:
/// the same link and target, the rest of `p` after it (with `p`'s trailing
/// `/`). Any other error is passed on as it is.
fn for_path(e: FsError, p: &VPath<'_>) -> FsError {
    match e {
        FsError::Symlink {
            path: link,
            target,
            rest,
        } => {
            if path::starts_with(p.as_str(), &link) {
                links::met(p, link.len(), target)
            } else {
                FsError::Symlink {
                    path: link,
                    target,
                    rest,
                }
            }
        }
        e => e,
    }
}

impl CowFs {
    /// An overlay of `base`, with an empty upper layer.
    pub fn new(base: impl FileService + 'static) -> Self {
        Self::from_arc(Arc::new(base))
    }

    /// An overlay of a shared base.
    pub fn from_arc(base: Arc<dyn FileService>) -> Self {
        Self::with_upper(base, MemFs::new())
    }

    /// An overlay of `base` whose upper layer is `upper` (to give it
    /// [`MemLimits`](crate::MemLimits), for instance). `upper` should be empty.
    pub fn with_upper(base: Arc<dyn FileService>, upper: MemFs) -> Self {
        Self {
            inner: Arc::new(Inner {
                base,
                upper,
                whiteouts: RwLock::new(Arc::new(BTreeSet::new())),
                origins: Mutex::new(Arc::new(Origins::default())),
            }),
        }
    }

    /// An immutable copy of the overlay as it is now — its upper layer, its
    /// whiteouts and what it read of the base where it diverged — one
    /// point in time, with the upper layer's bytes shared (see
    /// [`MemFs::freeze`]). The base is not copied: a copy is started over
    /// the same base (or one that reads the same) with [`from_frozen`](Self::from_frozen).
    pub fn freeze(&self) -> FrozenCow {
        // Every change of the overlay's shape (copy-up, create, remove,
        // rename) holds this lock for writing across its change of the upper
        // layer: with it held, the upper layer and the whiteouts agree.
        let whiteouts = read_lock(&self.inner.whiteouts);
        let upper = self.inner.upper.freeze();
        let origins = Arc::clone(&self.origins());
        FrozenCow {
            upper,
            whiteouts: Arc::clone(&whiteouts),
            origins,
        }
    }

    /// A new overlay of `base` holding what `frozen` holds, its upper layer
    /// within `limits` ([`MemFs::from_frozen_with_limits`]). Its changes,
    /// diff and commit are relative to `base` as those of the overlay it
    /// was frozen from were; what it changes from now on is its own.
    ///
    /// # Errors
    /// As [`MemFs::from_frozen_with_limits`].
    pub fn from_frozen(
        base: Arc<dyn FileService>,
        frozen: &FrozenCow,
        limits: crate::MemLimits,
    ) -> Result<Self> {
        let upper = MemFs::from_frozen_with_limits(&frozen.upper, limits)?;
        Ok(Self {
            inner: Arc::new(Inner {
                base,
                upper,
                whiteouts: RwLock::new(Arc::clone(&frozen.whiteouts)),
                origins: Mutex::new(Arc::clone(&frozen.origins)),
            }),
        })
    }

    /// The limits of the in-memory upper layer.
    pub fn upper_limits(&self) -> crate::MemLimits {
        self.inner.upper.limits()
    }

    /// The base service.
    pub fn base(&self) -> &Arc<dyn FileService> {
        &self.inner.base
    }

    /// The upper layer: the files written so far.
    pub fn upper(&self) -> &MemFs {
        &self.inner.upper
    }

    /// The base paths deleted in the overlay (each hides everything below it).
    pub fn whiteouts(&self) -> Vec<String> {
        read_lock(&self.inner.whiteouts).iter().cloned().collect()
    }

    /// Throws away every change: the overlay shows the base again.
    pub fn discard(&self) {
        let mut w = write_lock(&self.inner.whiteouts);
        self.inner.upper.clear();
        *w = Arc::new(BTreeSet::new());
        *self.origins() = Arc::new(Origins::default());
    }

    /// What the base had at `path` when the overlay first changed it, if it
    /// has changed it (see [`commit`](Self::commit)). This is the base's
    /// [`lstat`](FileService::lstat): a symbolic link is described as
    /// itself, not as what it leads to.
    pub fn origin(&self, path: &str) -> Option<Metadata> {
        let p = path::normalize(path).ok()?;
        self.origins().paths.get(p.as_ref()).cloned()
    }

    fn origins(&self) -> std::sync::MutexGuard<'_, Arc<Origins>> {
        self.inner
            .origins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of everything recorded, for a commit.
    fn origins_snapshot(&self) -> Origins {
        Origins::clone(&self.origins())
    }

    /// Remembers what the base has at `p` now (and the directories above
    /// it), unless something is remembered already (the first divergence is
    /// what counts).
    fn note_origin(&self, p: &str) {
        let mut guard = self.origins();
        if !guard.paths.contains_key(p)
            && let Ok(md) = self.inner.base.lstat(p)
        {
            Arc::make_mut(&mut guard).paths.insert(p.to_owned(), md);
        }
        self.note_dirs_locked(&mut guard, p);
    }

    /// Remembers the directories above `p`, where the overlay creates
    /// something.
    fn note_ancestors(&self, p: &str) {
        let mut guard = self.origins();
        self.note_dirs_locked(&mut guard, p);
    }

    fn note_dirs_locked(&self, origins: &mut Arc<Origins>, p: &str) {
        let mut cur = p;
        while let Some(parent) = path::parent(cur) {
            if parent == "/" || origins.dirs.contains_key(parent) {
                // Those above were recorded with it.
                break;
            }
            let md = self.inner.base.lstat(parent).ok();
            Arc::make_mut(origins).dirs.insert(parent.to_owned(), md);
            cur = parent;
        }
    }

    /// What differs between the overlay and the base, sorted by path.
    ///
    /// A file is `Modified` only if its content (or kind) differs from the
    /// base's; a file written back with the same bytes is not reported. A
    /// symbolic link is compared as itself (never followed, kind
    /// [`FileKind::Symlink`]): added, deleted, or `Modified` when it holds
    /// another target or replaces (or is replaced by) another kind of
    /// entry. A deleted directory is reported with everything that was
    /// below it.
    pub fn changes(&self) -> Result<Vec<Change>> {
        let whiteouts = read_lock(&self.inner.whiteouts);
        let base = &self.inner.base;
        let upper = &self.inner.upper;
        let mut out: BTreeMap<String, Change> = BTreeMap::new();
        for entry in walk(upper, "/") {
            let entry = entry?;
            let after = EntryInfo {
                kind: entry.kind,
                size: entry.size,
            };
            let before = base.lstat(&entry.path).ok().map(|m| EntryInfo {
                kind: m.kind,
                size: m.size,
            });
            let kind = match before {
                None => ChangeKind::Added,
                Some(b) if b.kind != after.kind => ChangeKind::Modified,
                Some(b) if b.kind.is_dir() => continue,
                Some(b) if b.kind.is_symlink() => {
                    if base.readlink(&entry.path)? == upper.readlink(&entry.path)? {
                        continue;
                    }
                    ChangeKind::Modified
                }
                Some(b) => {
                    let same = b.size == after.size
                        && read_file(base.as_ref(), &entry.path)? == read_file(upper, &entry.path)?;
                    if same {
                        continue;
                    }
                    ChangeKind::Modified
                }
            };
            out.insert(
                entry.path.clone(),
                Change {
                    path: entry.path,
                    kind,
                    before,
                    after: Some(after),
                },
            );
        }
        for w in whiteouts.iter() {
            // The entry itself: a link the whiteout deletes is one entry,
            // whatever it leads to (if anything).
            let Ok(md) = base.lstat(w) else {
                continue;
            };
            let mut gone = vec![(w.clone(), md.kind, md.size)];
            if md.is_dir() {
                for e in walk(base.as_ref(), w) {
                    let e = e?;
                    gone.push((e.path, e.kind, e.size));
                }
            }
            for (p, kind, size) in gone {
                if out.contains_key(&p) || upper.lstat(&p).is_ok() {
                    continue;
                }
                out.insert(
                    p.clone(),
                    Change {
                        path: p,
                        kind: ChangeKind::Deleted,
                        before: Some(EntryInfo { kind, size }),
                        after: None,
                    },
                );
            }
        }
        Ok(out.into_values().collect())
    }

    /// The entry at the canonical path `p` of the overlay, a link in the
    /// last component described as itself: the upper layer's, else (unless
    /// a whiteout hides it) the base's. A link either layer meets above `p`
    /// comes back as that layer reported it.
    fn entry(&self, whiteouts: &BTreeSet<String>, p: &str) -> Result<Loc> {
        match self.inner.upper.lstat(p) {
            Ok(m) => return Ok(Loc::Upper(m)),
            Err(e) if e.kind() != FsErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        if hidden(whiteouts, p) {
            return Err(FsError::not_found(p));
        }
        self.inner.base.lstat(p).map(|mut m| {
            m.readonly = false;
            Loc::Base(m)
        })
    }

    /// [`entry`](Self::entry) for a parsed path: a link met above it is
    /// reported for the path as written.
    fn entry_at(&self, whiteouts: &BTreeSet<String>, p: &VPath<'_>) -> Result<Loc> {
        self.entry(whiteouts, p.as_str())
            .map_err(|e| for_path(e, p))
    }

    /// [`entry_at`](Self::entry_at) for an operation that follows a link in
    /// the last component: such a link is reported for the resolver.
    fn followed(&self, whiteouts: &BTreeSet<String>, p: &VPath<'_>) -> Result<Loc> {
        let loc = self.entry_at(whiteouts, p)?;
        if loc.is_link() {
            return Err(self.met(&loc, p, p.as_str()));
        }
        Ok(loc)
    }

    /// The target of the link `loc` found at the canonical path `at`.
    fn target_of(&self, loc: &Loc, at: &str) -> Result<String> {
        match loc {
            Loc::Upper(_) => self.inner.upper.readlink(at),
            Loc::Base(_) => self.inner.base.readlink(at),
        }
    }

    /// The error reporting the link `loc` at `link` (`p` itself or one of
    /// its ancestors) to the resolver, for `p`.
    fn met(&self, loc: &Loc, p: &VPath<'_>, link: &str) -> FsError {
        match self.target_of(loc, link) {
            Ok(target) => links::met(p, link.len(), target),
            Err(e) => e,
        }
    }

    /// Checks that the parent of `p` is a directory of the overlay; errors
    /// name `p`, and a link as the parent is reported for the resolver.
    fn check_parent(&self, whiteouts: &BTreeSet<String>, p: &VPath<'_>) -> Result<()> {
        let full = p.as_str();
        let parent = path::parent(full).unwrap_or("/");
        match self.entry(whiteouts, parent) {
            Ok(loc) if loc.meta().is_dir() => Ok(()),
            Ok(loc) if loc.is_link() => Err(self.met(&loc, p, parent)),
            Ok(_) => Err(FsError::not_a_directory(full)),
            Err(e) => Err(naming(for_path(e, p), full)),
        }
    }

    /// Whether the base has an entry (a link included) at `p` that no
    /// whiteout hides.
    fn base_shows(&self, whiteouts: &BTreeSet<String>, p: &str) -> bool {
        !hidden(whiteouts, p) && self.inner.base.lstat(p).is_ok()
    }

    /// Makes sure the upper layer has directory `d` and all its parents.
    fn ensure_upper_dir(&self, d: &str) -> Result<()> {
        let upper = &self.inner.upper;
        if upper.lstat(d).is_ok_and(|m| m.is_dir()) {
            return Ok(());
        }
        let mut cur = String::new();
        for comp in path::components(d) {
            cur.push('/');
            cur.push_str(comp);
            match upper.mkdir(&cur) {
                Ok(()) => {}
                Err(e) if e.kind() == FsErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Copies the base file `p` into the upper layer (empty if `truncate`).
    fn copy_up(&self, p: &str, truncate: bool) -> Result<()> {
        self.ensure_upper_dir(path::parent(p).unwrap_or("/"))?;
        self.note_origin(p);
        let data = if truncate {
            Vec::new()
        } else {
            read_file(self.inner.base.as_ref(), p)?
        };
        self.inner.upper.put(p, data)
    }

    /// Copies the base's link `from` up as a new link at `to` in the upper
    /// layer (whose parent exists there), holding the same target: the link
    /// itself, never what it leads to.
    fn copy_link_up(&self, from: &str, to: &str) -> Result<()> {
        self.note_origin(from);
        let target = self.inner.base.readlink(from)?;
        self.inner.upper.symlink(&target, to)
    }

    /// Moves the overlay's subtree at `from` into the upper layer at `to`:
    /// what the upper layer has is renamed there (a file keeps its other
    /// names), what only the base has is copied (a link as a link).
    fn copy_tree_up(&self, whiteouts: &BTreeSet<String>, from: &str, to: &str) -> Result<()> {
        self.ensure_upper_dir(to)?;
        let upper = &self.inner.upper;
        for entry in self.readdir_locked(whiteouts, from)? {
            let (src, dst) = (path::join(from, &entry.name), path::join(to, &entry.name));
            if entry.is_dir() {
                // A directory of the base moved away is deleted at its old
                // place, like the files in it: remember what it was (nothing
                // is recorded when the base has none there).
                self.note_origin(&src);
                self.copy_tree_up(whiteouts, &src, &dst)?;
            } else if upper.lstat(&src).is_ok() {
                upper.rename(&src, &dst)?;
            } else if entry.kind.is_symlink() {
                self.copy_link_up(&src, &dst)?;
            } else {
                self.note_origin(&src);
                let data = read_file(self.inner.base.as_ref(), &src)?;
                upper.put(&dst, data)?;
            }
        }
        Ok(())
    }

    fn readdir_locked(&self, whiteouts: &BTreeSet<String>, p: &str) -> Result<Vec<DirEntry>> {
        let upper = &self.inner.upper;
        let mut merged: BTreeMap<String, DirEntry> = BTreeMap::new();
        let mut found = false;
        match upper.readdir(p) {
            Ok(entries) => {
                found = true;
                merged.extend(entries.into_iter().map(|e| (e.name.clone(), e)));
            }
            Err(e) if e.kind() != FsErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        if !hidden(whiteouts, p) {
            match self.inner.base.readdir(p) {
                Ok(entries) => {
                    found = true;
                    for e in entries {
                        if merged.contains_key(&e.name)
                            || whiteouts.contains(&path::join(p, &e.name))
                        {
                            continue;
                        }
                        merged.insert(e.name.clone(), e);
                    }
                }
                Err(e) if !found => return Err(e),
                Err(_) => {}
            }
        }
        if !found {
            return Err(FsError::not_found(p));
        }
        Ok(merged.into_values().collect())
    }

    /// Removes `p` from the overlay (it exists and, if a directory, is
    /// empty): from the upper layer, and by a whiteout if the base has it.
    /// A link is removed as itself.
    fn remove_locked(&self, whiteouts: &mut Arc<BTreeSet<String>>, p: &str) -> Result<()> {
        if self.inner.upper.lstat(p).is_ok() {
            self.inner.upper.remove(p)?;
        }
        if self.base_shows(whiteouts, p) {
            self.add_whiteout(whiteouts, p);
        }
        Ok(())
    }

    fn add_whiteout(&self, whiteouts: &mut Arc<BTreeSet<String>>, p: &str) {
        self.note_origin(p);
        // Copied here if a frozen copy still shares it.
        let whiteouts = Arc::make_mut(whiteouts);
        // A whiteout hides everything below it: drop the ones it subsumes.
        let below: Vec<String> = whiteouts
            .range(format!("{p}/")..)
            .take_while(|w| path::is_strict_descendant(w, p))
            .cloned()
            .collect();
        for w in below {
            whiteouts.remove(&w);
        }
        whiteouts.insert(p.to_owned());
    }

    /// What `open` answers for a link found as the last component of `p`.
    fn open_link(&self, loc: &Loc, p: &VPath<'_>, flags: OpenFlags) -> FsError {
        let full = p.as_str();
        if p.is_dir_syntax() {
            // A trailing `/` follows the link, whatever the flags.
            self.met(loc, p, full)
        } else if flags.create_new {
            FsError::already_exists(full)
        } else if flags.nofollow {
            FsError::too_many_links(full)
        } else {
            // Followed by the resolver: writing through a link copies up
            // its target, at the target's path, never the link.
            self.met(loc, p, full)
        }
    }

    fn open_parsed(&self, p: &VPath<'_>, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let full = p.as_str();
        let upper = &self.inner.upper;
        // Keep the caller's trailing slash for the layers' own checks.
        let upper_path = if p.is_dir_syntax() {
            format!("{full}/")
        } else {
            full.to_owned()
        };
        if !flags.mutates() {
            let whiteouts = read_lock(&self.inner.whiteouts);
            return match self.entry_at(&whiteouts, p)? {
                loc if loc.is_link() => Err(self.open_link(&loc, p, flags)),
                Loc::Upper(_) => upper.open(&upper_path, flags),
                Loc::Base(_) => {
                    let h = self.inner.base.open(&upper_path, flags)?;
                    Ok(Box::new(BaseHandle { inner: h }))
                }
            };
        }
        let mut whiteouts = write_lock(&self.inner.whiteouts);
        match self.entry_at(&whiteouts, p) {
            Ok(loc) if loc.is_link() => Err(self.open_link(&loc, p, flags)),
            Ok(Loc::Upper(_)) => upper.open(&upper_path, flags),
            Ok(Loc::Base(m)) => {
                if flags.create_new {
                    return Err(FsError::already_exists(full));
                }
                if m.is_dir() {
                    return Err(FsError::is_a_directory(full));
                }
                if p.is_dir_syntax() {
                    return Err(FsError::not_a_directory(full));
                }
                self.copy_up(full, flags.truncate)?;
                upper.open(full, flags)
            }
            Err(e) if e.kind() == FsErrorKind::NotFound && flags.creates() => {
                self.check_parent(&whiteouts, p)?;
                if p.is_dir_syntax() {
                    return Err(FsError::is_a_directory(full));
                }
                self.note_ancestors(full);
                self.ensure_upper_dir(path::parent(full).unwrap_or("/"))?;
                let h = upper.open(full, flags)?;
                // A file created where the base had something hidden stays
                // separate from it.
                if self.base_shows(&whiteouts, full) {
                    self.add_whiteout(&mut whiteouts, full);
                }
                Ok(h)
            }
            Err(e) => Err(e),
        }
    }

    /// Where a new entry `p` of the overlay goes in the upper layer, once
    /// checked: the directories above it copied up (and recorded).
    fn prepare_new(&self, p: &str) -> Result<()> {
        self.note_ancestors(p);
        self.ensure_upper_dir(path::parent(p).unwrap_or("/"))
    }

    /// The checks every new name `p` of `symlink` and `link` passes: its
    /// parent is a directory, and nothing is there yet (a link there written
    /// with a trailing `/` is followed).
    fn check_new_name(&self, whiteouts: &BTreeSet<String>, p: &VPath<'_>) -> Result<()> {
        let full = p.as_str();
        match self.entry_at(whiteouts, p) {
            Ok(loc) if loc.is_link() && p.is_dir_syntax() => return Err(self.met(&loc, p, full)),
            Ok(_) => return Err(FsError::already_exists(full)),
            Err(e) if e.kind() != FsErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        self.check_parent(whiteouts, p)?;
        if p.is_dir_syntax() {
            return Err(FsError::not_found(full));
        }
        Ok(())
    }
}

impl FileService for CowFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let p = path::parse(path)?;
        check_open_flags(p.as_str(), flags)?;
        self.open_parsed(&p, flags)
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        let whiteouts = read_lock(&self.inner.whiteouts);
        let full = p.as_str();
        match self.followed(&whiteouts, &p)? {
            loc if !loc.meta().is_dir() => Err(FsError::not_a_directory(full)),
            _ => self.readdir_locked(&whiteouts, full),
        }
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let whiteouts = read_lock(&self.inner.whiteouts);
        let loc = self.followed(&whiteouts, &p)?;
        if p.is_dir_syntax() && !loc.meta().is_dir() {
            return Err(FsError::not_a_directory(p.as_str()));
        }
        Ok(loc.into_meta())
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let whiteouts = read_lock(&self.inner.whiteouts);
        if !p.is_dir_syntax() {
            // The layers describe their own links, even those that cannot
            // be followed (dangling, or leading out of the root).
            return self.entry_at(&whiteouts, &p).map(Loc::into_meta);
        }
        // A trailing `/` follows a link and asks for a directory.
        let loc = self.followed(&whiteouts, &p)?;
        if !loc.meta().is_dir() {
            return Err(FsError::not_a_directory(p.as_str()));
        }
        Ok(loc.into_meta())
    }

    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        let p = path::parse(link)?;
        let full = p.as_str();
        links::check_target(full, target)?;
        if p.is_root() {
            return Err(FsError::already_exists(full));
        }
        let mut whiteouts = write_lock(&self.inner.whiteouts);
        self.check_new_name(&whiteouts, &p)?;
        self.prepare_new(full)?;
        self.inner.upper.symlink(target, full)?;
        // A link made where the base had a (deleted) entry stays separate
        // from it.
        if self.base_shows(&whiteouts, full) {
            self.add_whiteout(&mut whiteouts, full);
        }
        Ok(())
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let whiteouts = read_lock(&self.inner.whiteouts);
        let loc = self.entry_at(&whiteouts, &p)?;
        if p.is_dir_syntax() {
            // A trailing `/` follows a link and asks for a directory.
            if loc.is_link() {
                return Err(self.met(&loc, &p, full));
            }
            if !loc.meta().is_dir() {
                return Err(FsError::not_a_directory(full));
            }
        }
        if !loc.is_link() {
            return Err(FsError::invalid_input(full, "not a symbolic link"));
        }
        self.target_of(&loc, full)
    }

    fn link(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        let pt = path::parse(to)?;
        let (f, t) = (pf.as_str(), pt.as_str());
        let mut whiteouts = write_lock(&self.inner.whiteouts);
        let src = self.entry_at(&whiteouts, &pf)?;
        if src.is_link() && pf.is_dir_syntax() {
            return Err(self.met(&src, &pf, f));
        }
        if src.meta().is_dir() {
            return Err(FsError::permission_denied(f, "cannot link a directory"));
        }
        if pf.is_dir_syntax() {
            return Err(FsError::not_a_directory(f));
        }
        if !src.meta().is_file() && !src.is_link() {
            return Err(FsError::unsupported(f, "link of a special file"));
        }
        if pt.is_root() {
            return Err(FsError::already_exists(t));
        }
        self.check_new_name(&whiteouts, &pt)?;
        // Both names share one file of the upper layer: `from` is copied up
        // first if only the base has it.
        if let Loc::Base(m) = &src {
            if m.is_symlink() {
                self.ensure_upper_dir(path::parent(f).unwrap_or("/"))?;
                self.copy_link_up(f, f)?;
            } else {
                self.copy_up(f, false)?;
            }
        }
        self.prepare_new(t)?;
        self.inner.upper.link(f, t)?;
        if self.base_shows(&whiteouts, t) {
            self.add_whiteout(&mut whiteouts, t);
        }
        Ok(())
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if p.is_root() {
            return Err(FsError::already_exists(full));
        }
        let mut whiteouts = write_lock(&self.inner.whiteouts);
        match self.entry_at(&whiteouts, &p) {
            // A link too (mkdir acts on the name), unless written with a
            // trailing `/`, which follows it.
            Ok(loc) if loc.is_link() && p.is_dir_syntax() => return Err(self.met(&loc, &p, full)),
            Ok(_) => return Err(FsError::already_exists(full)),
            Err(e) if e.kind() != FsErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        self.check_parent(&whiteouts, &p)?;
        self.prepare_new(full)?;
        self.inner.upper.mkdir(full)?;
        // A directory made where the base had a (deleted) one starts empty.
        if self.base_shows(&whiteouts, full) {
            self.add_whiteout(&mut whiteouts, full);
        }
        Ok(())
    }

    fn remove(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if p.is_root() {
            return Err(FsError::permission_denied(full, "cannot remove the root"));
        }
        let mut whiteouts = write_lock(&self.inner.whiteouts);
        let loc = self.entry_at(&whiteouts, &p)?;
        if loc.meta().is_dir() {
            if !self.readdir_locked(&whiteouts, full)?.is_empty() {
                return Err(FsError::not_empty(full));
            }
        } else if p.is_dir_syntax() {
            // A link so written too, as Linux answers.
            return Err(FsError::not_a_directory(full));
        }
        self.remove_locked(&mut whiteouts, full)
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        let pt = path::parse(to)?;
        let (f, t) = (pf.as_str(), pt.as_str());
        if pf.is_root() || pt.is_root() {
            let root = if pf.is_root() { f } else { t };
            return Err(FsError::permission_denied(root, "cannot rename the root"));
        }
        let mut whiteouts = write_lock(&self.inner.whiteouts);
        let src = self.entry_at(&whiteouts, &pf)?;
        let from_is_dir = src.meta().is_dir();
        if !from_is_dir && pf.is_dir_syntax() {
            return Err(FsError::not_a_directory(f));
        }
        if from_is_dir && path::is_strict_descendant(t, f) {
            return Err(FsError::invalid_input(
                t,
                format!("cannot move the directory {f} inside itself"),
            ));
        }
        if f == t {
            return Ok(());
        }
        self.check_parent(&whiteouts, &pt)?;
        match self.entry_at(&whiteouts, &pt) {
            Ok(dst) => {
                let to_is_dir = dst.meta().is_dir();
                if to_is_dir && !from_is_dir {
                    return Err(FsError::is_a_directory(t));
                }
                if !to_is_dir && from_is_dir {
                    return Err(FsError::not_a_directory(t));
                }
                if !from_is_dir && pt.is_dir_syntax() {
                    return Err(FsError::not_a_directory(t));
                }
                if to_is_dir && !self.readdir_locked(&whiteouts, t)?.is_empty() {
                    return Err(FsError::not_empty(t));
                }
                if same_file(&src, &dst) {
                    // Two names of one file (or link): POSIX leaves both
                    // in place.
                    return Ok(());
                }
                self.remove_locked(&mut whiteouts, t)?;
            }
            Err(e) if e.kind() == FsErrorKind::NotFound => {
                if !from_is_dir && pt.is_dir_syntax() {
                    return Err(FsError::not_a_directory(t));
                }
            }
            Err(e) => return Err(e),
        }
        self.prepare_new(t)?;
        let base_has_from = self.base_shows(&whiteouts, f);
        let upper = &self.inner.upper;
        if from_is_dir {
            if base_has_from {
                self.copy_tree_up(&whiteouts, f, t)?;
                if upper.lstat(f).is_ok() {
                    oanix_vfs::remove_all(upper, f)?;
                }
            } else {
                upper.rename(f, t)?;
            }
        } else if matches!(src, Loc::Upper(_)) {
            // A link or a file moves as itself (a file keeps its other names).
            upper.rename(f, t)?;
        } else if src.is_link() {
            self.copy_link_up(f, t)?;
        } else {
            self.note_origin(f);
            let data = read_file(self.inner.base.as_ref(), f)?;
            upper.put(t, data)?;
        }
        if base_has_from {
            self.add_whiteout(&mut whiteouts, f);
        }
        // What the base has at `to` must not show through the moved entry.
        if self.base_shows(&whiteouts, t) {
            self.add_whiteout(&mut whiteouts, t);
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
        let full = p.as_str();
        let whiteouts = write_lock(&self.inner.whiteouts);
        match self.followed(&whiteouts, &p)? {
            Loc::Upper(_) => {}
            Loc::Base(m) if m.is_dir() => self.ensure_upper_dir(full)?,
            Loc::Base(_) => self.copy_up(full, false)?,
        }
        self.inner.upper.set_times(full, accessed, modified)
    }

    fn fs_type(&self) -> &'static str {
        "cowfs"
    }
}

/// Whether two entries of one layer are names of one file or link (hard
/// links).
fn same_file(a: &Loc, b: &Loc) -> bool {
    match (a, b) {
        (Loc::Upper(x), Loc::Upper(y)) | (Loc::Base(x), Loc::Base(y)) => {
            !x.is_dir() && x.kind == y.kind && x.id == y.id
        }
        _ => false,
    }
}

/// A handle on a base file read through the overlay: the file is writable
/// in the overlay, whatever the base says.
struct BaseHandle {
    inner: Box<dyn FileHandle>,
}

impl FileHandle for BaseHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.inner.read(buf)
    }
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        self.inner.write(buf)
    }
    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        self.inner.seek(pos)
    }
    fn stat(&self) -> Result<Metadata> {
        self.inner.stat().map(|mut m| {
            m.readonly = false;
            m
        })
    }
    fn set_len(&mut self, len: u64) -> Result<()> {
        self.inner.set_len(len)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.inner.read_at(buf, offset)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        self.inner.write_at(buf, offset)
    }
}
