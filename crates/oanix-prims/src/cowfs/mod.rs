//! `CowFs`: a copy-on-write overlay of any file service, and the list of
//! what changed relative to it.

mod commit;
mod review;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::SeekFrom;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use oanix_vfs::path::{self, VPath};
use oanix_vfs::{
    DirEntry, FileHandle, FileKind, FileService, FsError, FsErrorKind, Metadata, OpenFlags, Result,
    Timestamp, check_open_flags, read_file, walk,
};
use serde::{Deserialize, Serialize};

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
    /// File or directory.
    pub kind: FileKind,
    /// Size in bytes (0 for directories).
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
    whiteouts: RwLock<BTreeSet<String>>,
    /// What the overlay read of the base where it diverged from it: what a
    /// commit checks the target against. Locked after `whiteouts`, never
    /// before.
    origins: Mutex<Origins>,
}

/// What a commit checks the target against, recorded the first time the
/// overlay diverges from the base at a path (later records never replace
/// earlier ones: the first divergence is what the overlay read).
#[derive(Default, Clone)]
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

/// Renames the path in an error to `p`.
fn naming(e: FsError, p: &str) -> FsError {
    e.map_paths(|_| p.to_owned())
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
                whiteouts: RwLock::new(BTreeSet::new()),
                origins: Mutex::new(Origins::default()),
            }),
        }
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
        w.clear();
        *self.origins() = Origins::default();
    }

    /// What the base had at `path` when the overlay first changed it, if it
    /// has changed it (see [`commit`](Self::commit)). This is the base's
    /// [`lstat`](FileService::lstat): a symbolic link is described as
    /// itself, not as what it leads to.
    pub fn origin(&self, path: &str) -> Option<Metadata> {
        let p = path::normalize(path).ok()?;
        self.origins().paths.get(p.as_ref()).cloned()
    }

    fn origins(&self) -> std::sync::MutexGuard<'_, Origins> {
        self.inner
            .origins
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of everything recorded, for a commit.
    fn origins_snapshot(&self) -> Origins {
        self.origins().clone()
    }

    /// Remembers what the base has at `p` now (and the directories above
    /// it), unless something is remembered already (the first divergence is
    /// what counts).
    fn note_origin(&self, p: &str) {
        let mut origins = self.origins();
        if !origins.paths.contains_key(p)
            && let Ok(md) = self.inner.base.lstat(p)
        {
            origins.paths.insert(p.to_owned(), md);
        }
        self.note_dirs_locked(&mut origins, p);
    }

    /// Remembers the directories above `p`, where the overlay creates
    /// something.
    fn note_ancestors(&self, p: &str) {
        let mut origins = self.origins();
        self.note_dirs_locked(&mut origins, p);
    }

    fn note_dirs_locked(&self, origins: &mut Origins, p: &str) {
        let mut cur = p;
        while let Some(parent) = path::parent(cur) {
            if parent == "/" || origins.dirs.contains_key(parent) {
                // Those above were recorded with it.
                break;
            }
            let md = self.inner.base.lstat(parent).ok();
            origins.dirs.insert(parent.to_owned(), md);
            cur = parent;
        }
    }

    /// What differs between the overlay and the base, sorted by path.
    ///
    /// A file is `Modified` only if its content (or kind) differs from the
    /// base's; a file written back with the same bytes is not reported. A
    /// deleted directory is reported with everything that was below it.
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
            let before = base.stat(&entry.path).ok().map(|m| EntryInfo {
                kind: m.kind,
                size: m.size,
            });
            let kind = match before {
                None => ChangeKind::Added,
                Some(b) if b.kind != after.kind => ChangeKind::Modified,
                Some(b) if b.kind.is_dir() => continue,
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
            // A link `stat` cannot follow (dangling, or leading out of the
            // base) is still an entry the whiteout deletes.
            let Ok(md) = base.stat(w).or_else(|_| base.lstat(w)) else {
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
                if out.contains_key(&p) || upper.stat(&p).is_ok() {
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

    /// Finds a canonical path in the overlay.
    fn locate(&self, whiteouts: &BTreeSet<String>, p: &str) -> Result<Loc> {
        match self.inner.upper.stat(p) {
            Ok(m) => return Ok(Loc::Upper(m)),
            Err(e) if e.kind() != FsErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        if hidden(whiteouts, p) {
            return Err(FsError::not_found(p));
        }
        self.inner.base.stat(p).map(|mut m| {
            m.readonly = false;
            Loc::Base(m)
        })
    }

    /// Checks that the parent of `p` is a directory of the overlay; errors
    /// name `p`.
    fn check_parent(&self, whiteouts: &BTreeSet<String>, p: &str) -> Result<()> {
        let parent = path::parent(p).unwrap_or("/");
        match self.locate(whiteouts, parent) {
            Ok(loc) if loc.meta().is_dir() => Ok(()),
            Ok(_) => Err(FsError::not_a_directory(p)),
            Err(e) => Err(naming(e, p)),
        }
    }

    /// Makes sure the upper layer has directory `d` and all its parents.
    fn ensure_upper_dir(&self, d: &str) -> Result<()> {
        let upper = &self.inner.upper;
        if upper.stat(d).is_ok() {
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

    /// Copies the overlay's subtree at `from` into the upper layer at `to`.
    fn copy_tree_up(&self, whiteouts: &BTreeSet<String>, from: &str, to: &str) -> Result<()> {
        self.ensure_upper_dir(to)?;
        for entry in self.readdir_locked(whiteouts, from)? {
            let (src, dst) = (path::join(from, &entry.name), path::join(to, &entry.name));
            if entry.is_dir() {
                // A directory of the base moved away is deleted at its old
                // place, like the files in it: remember what it was (nothing
                // is recorded when the base has none there).
                self.note_origin(&src);
                self.copy_tree_up(whiteouts, &src, &dst)?;
            } else {
                let data = match self.inner.upper.stat(&src) {
                    Ok(_) => read_file(&self.inner.upper, &src)?,
                    Err(_) => {
                        self.note_origin(&src);
                        read_file(self.inner.base.as_ref(), &src)?
                    }
                };
                self.inner.upper.put(&dst, data)?;
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
    fn remove_locked(&self, whiteouts: &mut BTreeSet<String>, p: &str) -> Result<()> {
        if self.inner.upper.stat(p).is_ok() {
            self.inner.upper.remove(p)?;
        }
        if !hidden(whiteouts, p) && self.inner.base.stat(p).is_ok() {
            self.add_whiteout(whiteouts, p);
        }
        Ok(())
    }

    fn add_whiteout(&self, whiteouts: &mut BTreeSet<String>, p: &str) {
        self.note_origin(p);
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

    fn open_parsed(&self, p: &VPath<'_>, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let full = p.as_str();
        let upper = &self.inner.upper;
        // Keep the caller's trailing slash for the upper layer's own checks.
        let upper_path = if p.is_dir_syntax() {
            format!("{full}/")
        } else {
            full.to_owned()
        };
        if !flags.mutates() {
            let whiteouts = read_lock(&self.inner.whiteouts);
            return match self.locate(&whiteouts, full)? {
                Loc::Upper(_) => upper.open(&upper_path, flags),
                Loc::Base(_) => {
                    let h = self.inner.base.open(&upper_path, flags)?;
                    Ok(Box::new(BaseHandle { inner: h }))
                }
            };
        }
        let mut whiteouts = write_lock(&self.inner.whiteouts);
        match self.locate(&whiteouts, full) {
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
                self.check_parent(&whiteouts, full)?;
                if p.is_dir_syntax() {
                    return Err(FsError::is_a_directory(full));
                }
                self.note_ancestors(full);
                self.ensure_upper_dir(path::parent(full).unwrap_or("/"))?;
                let h = upper.open(full, flags)?;
                // A file created where the base had something hidden stays
                // separate from it.
                if self.inner.base.stat(full).is_ok() && !hidden(&whiteouts, full) {
                    self.add_whiteout(&mut whiteouts, full);
                }
                Ok(h)
            }
            Err(e) => Err(e),
        }
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
        match self.locate(&whiteouts, full)? {
            loc if !loc.meta().is_dir() => Err(FsError::not_a_directory(full)),
            _ => self.readdir_locked(&whiteouts, full),
        }
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let whiteouts = read_lock(&self.inner.whiteouts);
        let loc = self.locate(&whiteouts, p.as_str())?;
        if p.is_dir_syntax() && !loc.meta().is_dir() {
            return Err(FsError::not_a_directory(p.as_str()));
        }
        Ok(match loc {
            Loc::Upper(m) | Loc::Base(m) => m,
        })
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let whiteouts = read_lock(&self.inner.whiteouts);
        match self.inner.upper.stat(full) {
            Ok(m) => {
                if p.is_dir_syntax() && !m.is_dir() {
                    return Err(FsError::not_a_directory(full));
                }
                return Ok(m);
            }
            Err(e) if e.kind() != FsErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        if hidden(&whiteouts, full) {
            return Err(FsError::not_found(full));
        }
        // The base describes its own links, even those `stat` cannot
        // follow (dangling, or leading out of its root).
        let mut md = self.inner.base.lstat(path)?;
        md.readonly = false;
        Ok(md)
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if p.is_root() {
            return Err(FsError::already_exists(full));
        }
        let mut whiteouts = write_lock(&self.inner.whiteouts);
        match self.locate(&whiteouts, full) {
            Ok(_) => return Err(FsError::already_exists(full)),
            Err(e) if e.kind() != FsErrorKind::NotFound => return Err(e),
            Err(_) => {}
        }
        self.check_parent(&whiteouts, full)?;
        self.note_ancestors(full);
        self.ensure_upper_dir(path::parent(full).unwrap_or("/"))?;
        self.inner.upper.mkdir(full)?;
        // A directory made where the base had a (deleted) one starts empty.
        if self.inner.base.stat(full).is_ok() && !hidden(&whiteouts, full) {
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
        let loc = self.locate(&whiteouts, full)?;
        if loc.meta().is_dir() {
            if !self.readdir_locked(&whiteouts, full)?.is_empty() {
                return Err(FsError::not_empty(full));
            }
        } else if p.is_dir_syntax() {
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
        let src = self.locate(&whiteouts, f)?;
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
        self.check_parent(&whiteouts, t)?;
        match self.locate(&whiteouts, t) {
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
                self.remove_locked(&mut whiteouts, t)?;
            }
            Err(e) if e.kind() == FsErrorKind::NotFound => {
                if !from_is_dir && pt.is_dir_syntax() {
                    return Err(FsError::not_a_directory(t));
                }
            }
            Err(e) => return Err(e),
        }
        self.note_ancestors(t);
        self.ensure_upper_dir(path::parent(t).unwrap_or("/"))?;
        let base_has_from = !hidden(&whiteouts, f) && self.inner.base.stat(f).is_ok();
        let upper = &self.inner.upper;
        if from_is_dir {
            if base_has_from {
                self.copy_tree_up(&whiteouts, f, t)?;
                if upper.stat(f).is_ok() {
                    oanix_vfs::remove_all(upper, f)?;
                }
            } else {
                upper.rename(f, t)?;
            }
        } else if matches!(src, Loc::Upper(_)) {
            upper.rename(f, t)?;
        } else {
            self.note_origin(f);
            let data = read_file(self.inner.base.as_ref(), f)?;
            upper.put(t, data)?;
        }
        if base_has_from {
            self.add_whiteout(&mut whiteouts, f);
        }
        // What the base has at `to` must not show through the moved entry.
        if self.inner.base.stat(t).is_ok() && !hidden(&whiteouts, t) {
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
        match self.locate(&whiteouts, full)? {
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
