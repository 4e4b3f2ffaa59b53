//! Committing a `CowFs` into a target, all or nothing: checked against what
//! the overlay read, staged under temporary names, applied with a journal
//! and rolled back from it on failure.
//!
//! The phases of [`CowFs::commit`]:
//!
//! 0. **check** every changed path, its ancestors and, for a directory to be
//!    removed, everything in it, against what the overlay read (see
//!    [`Check`]); any mismatch is a conflict and nothing is written;
//! 1. **stage** each new file's content (or new symbolic link) under a
//!    temporary name in the nearest directory of the target that stays
//!    (same file system as its final place, so that the rename into place
//!    is atomic);
//! 2. **check again**, right before applying;
//! 3. **apply**, shallowest path first: move each entry to be replaced or
//!    deleted aside (a rename to a backup name beside it; what was moved is
//!    checked again under that private name), make new directories, rename
//!    staged files into place — each step in a journal, undone in reverse
//!    if a later one fails;
//! 4. **clean up**: remove the backups.
//!
//! No step follows a symbolic link of the target: entries are looked at
//! with `lstat` (never `stat`), links are moved, made and removed as
//! themselves, and every directory above a changed path must be a real
//! directory (a link there is a conflict), so nothing is written through a
//! link into somewhere else.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};

use oanix_vfs::path;
use oanix_vfs::{FileKind, FileService, FsError, FsErrorKind, Metadata, OpenFlags, read_file};

use super::{Change, CowFs, Origins};

/// A change that cannot be committed because the target changed since the
/// overlay read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The path, in the overlay and the target: the changed path, the
    /// directory above it that was replaced, or the entry that appeared.
    pub path: String,
    /// What happened to it in the target.
    pub reason: String,
}

/// What a successful [`CowFs::commit`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommitReport {
    /// The changes applied, in the order they were applied (shallowest
    /// path first).
    pub applied: Vec<Change>,
    /// Paths in the target of the commit's own backups (the replaced or
    /// deleted entries, moved aside) that could not be removed afterwards.
    /// The commit itself is complete; these can be deleted.
    pub leftovers: Vec<String>,
}

/// Why a commit did not happen, or did not complete.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommitError {
    /// Paths changed in the target since the overlay read them. The target
    /// is as it was: nothing was applied and nothing was left behind.
    #[error("{} conflicting path(s), nothing committed: {}", .0.len(), summary(.0))]
    Conflicts(Vec<Conflict>),
    /// An operation on the target (or reading the overlay) failed. What was
    /// done was undone: when `rollback` is `None`, `applied` and `missing`
    /// are empty and the target is as it was, except for `leftovers`.
    /// Otherwise the three lists say exactly how the target differs from
    /// what it was.
    #[error("{}", fs_summary(applied, missing, leftovers, error, rollback.as_ref()))]
    #[non_exhaustive]
    Fs {
        /// The changes in effect in the target (each completely).
        applied: Vec<Change>,
        /// Paths whose old entry was moved aside and not put back while
        /// their new one is not in place: absent from the target now (the
        /// old entry is at one of the `leftovers`).
        missing: Vec<String>,
        /// Paths in the target of the commit's temporaries and backups that
        /// could not be removed (or, for a backup, put back).
        leftovers: Vec<String>,
        /// The failure that stopped the commit. A change of the target
        /// found while applying (which normally undoes everything and is
        /// reported as [`Conflicts`](Self::Conflicts)) appears here as
        /// [`FsError::PermissionDenied`] when the undoing failed.
        error: FsError,
        /// The first failure while undoing, if undoing did not complete.
        rollback: Option<FsError>,
    },
}

fn summary(conflicts: &[Conflict]) -> String {
    conflicts
        .iter()
        .map(|c| format!("{} ({})", c.path, c.reason))
        .collect::<Vec<_>>()
        .join(", ")
}

fn fs_summary(
    applied: &[Change],
    missing: &[String],
    leftovers: &[String],
    error: &FsError,
    rollback: Option<&FsError>,
) -> String {
    let mut out = format!("commit failed at {error}");
    match rollback {
        None => out.push_str("; rolled back, nothing applied"),
        Some(r) => {
            out.push_str(&format!(
                "; rolling back failed at {r}: {} change(s) remain applied",
                applied.len()
            ));
            if !missing.is_empty() {
                out.push_str(&format!(", missing: {}", missing.join(", ")));
            }
        }
    }
    if !leftovers.is_empty() {
        out.push_str(&format!("; left in the target: {}", leftovers.join(", ")));
    }
    out
}

impl From<FsError> for CommitError {
    fn from(error: FsError) -> Self {
        Self::Fs {
            applied: Vec::new(),
            missing: Vec::new(),
            leftovers: Vec::new(),
            error,
            rollback: None,
        }
    }
}

/// Whether `now` is the entry the overlay read as `then`: for a file the
/// same version (kind, size, id, modification time); for a directory or a
/// link the same kind and id (a directory's size and time change with what
/// is in it).
fn same_entry(now: &Metadata, then: &Metadata) -> bool {
    if now.kind != then.kind || now.id != then.id {
        return false;
    }
    now.kind != FileKind::File || (now.size == then.size && now.modified == then.modified)
}

/// Whether an error of `lstat` means that nothing is at the path.
fn is_absent(e: &FsError) -> bool {
    matches!(e.kind(), FsErrorKind::NotFound | FsErrorKind::NotADirectory)
}

fn depth(p: &str) -> usize {
    path::components(p).count()
}

fn is_dir(md: &Metadata) -> bool {
    md.kind == FileKind::Directory
}

fn wants_dir(change: &Change) -> bool {
    change.after.is_some_and(|a| a.kind == FileKind::Directory)
}

/// Process-wide, so that two commits at once (of two overlays of one
/// directory, say) never pick the same names.
static COMMITS: AtomicU64 = AtomicU64::new(0);

/// How many taken names a commit skips before giving up on a directory.
const NAME_ATTEMPTS: usize = 16;

/// Names for one commit's temporaries and backups: short and fixed in
/// length whatever the names being replaced, so they fit wherever those do.
struct Names {
    pid: u32,
    seq: u64,
    next: u64,
}

impl Names {
    fn new() -> Self {
        Self {
            pid: std::process::id(),
            seq: COMMITS.fetch_add(1, Ordering::Relaxed),
            next: 0,
        }
    }

    fn next(&mut self, dir: &str, what: &str) -> String {
        let k = self.next;
        self.next += 1;
        path::join(
            dir,
            &format!(".oanix-{what}-{:x}-{:x}-{k:x}", self.pid, self.seq),
        )
    }
}

/// What the target has at a path, as its `lstat` says.
type Observed = HashMap<String, Metadata>;

/// The checks of phases 0 and 2: what the overlay read, and the changes.
struct Check<'a> {
    changes: &'a [Change],
    /// The changes in path order: each directory before what is in it.
    sorted: Vec<&'a Change>,
    by_path: HashMap<&'a str, &'a Change>,
    origins: Origins,
    /// Directories above changed paths that are not changes themselves.
    ancestors: BTreeSet<String>,
}

/// Conflicts by path, the first reason found for each.
#[derive(Default)]
struct Conflicts(BTreeMap<String, String>);

impl Conflicts {
    fn add(&mut self, path: &str, reason: impl Into<String>) {
        self.0
            .entry(path.to_owned())
            .or_insert_with(|| reason.into());
    }
    fn into_vec(self) -> Vec<Conflict> {
        self.0
            .into_iter()
            .map(|(path, reason)| Conflict { path, reason })
            .collect()
    }
}

const CHANGED: &str = "changed in the target since the overlay read it";
const REPLACED: &str = "replaced in the target since the overlay read it";
const DELETED: &str = "deleted in the target meanwhile";
const CREATED: &str = "created in the target meanwhile";
const MOVED: &str = "its directory changed in the target meanwhile";

fn unchecked(e: &FsError) -> String {
    format!("cannot be checked: {e}")
}

impl<'a> Check<'a> {
    fn new(changes: &'a [Change], origins: Origins) -> Self {
        let by_path: HashMap<&str, &Change> =
            changes.iter().map(|c| (c.path.as_str(), c)).collect();
        let mut ancestors: BTreeSet<String> = BTreeSet::new();
        for c in changes {
            for a in ancestors_of(&c.path) {
                if by_path.contains_key(a) {
                    continue;
                }
                if !ancestors.insert(a.to_owned()) {
                    // And everything above it, with it.
                    break;
                }
            }
        }
        let mut sorted: Vec<&Change> = changes.iter().collect();
        sorted.sort_by(|a, b| a.path.cmp(&b.path));
        Self {
            changes,
            sorted,
            by_path,
            origins,
            ancestors,
        }
    }

    fn origin(&self, p: &str) -> Option<&Metadata> {
        self.origins.paths.get(p)
    }

    /// The directory the overlay saw at `p`, if it recorded one.
    fn seen_dir(&self, p: &str) -> Option<&Metadata> {
        self.origins
            .dirs
            .get(p)
            .and_then(Option::as_ref)
            .or_else(|| self.origin(p))
            .filter(|o| is_dir(o))
    }

    /// Checks the target against what the overlay read; on success, what
    /// the target has at each changed path that exists there.
    fn run(&self, target: &dyn FileService) -> Result<Observed, Vec<Conflict>> {
        let mut conflicts = Conflicts::default();
        let mut observed = Observed::new();
        for a in &self.ancestors {
            self.check_ancestor(target, a, &mut conflicts);
        }
        // Changed paths where the target has, as expected, no directory:
        // there is nothing below them to look up.
        let mut no_dir: HashSet<&str> = HashSet::new();
        for change in &self.sorted {
            let p = change.path.as_str();
            let now = if ancestors_of(p).any(|a| no_dir.contains(a)) {
                None
            } else {
                match target.lstat(p) {
                    Ok(md) => Some(md),
                    // Nothing there. (`NotADirectory`: something above is
                    // not a directory, which its own check reports.)
                    Err(e) if is_absent(&e) => None,
                    Err(e) => {
                        conflicts.add(p, unchecked(&e));
                        continue;
                    }
                }
            };
            if let Some(reason) = self.check_change(change, now.as_ref()) {
                conflicts.add(p, reason);
                continue;
            }
            if !now.as_ref().is_some_and(is_dir) {
                no_dir.insert(p);
            }
            if let Some(md) = now {
                if is_dir(&md) && !wants_dir(change) {
                    // It is to be removed: with nothing the overlay does
                    // not know of in it.
                    self.check_subtree(target, p, p, &mut conflicts);
                }
                observed.insert(p.to_owned(), md);
            }
        }
        if conflicts.0.is_empty() {
            Ok(observed)
        } else {
            Err(conflicts.into_vec())
        }
    }

    /// A directory above a changed path must be a real directory (never a
    /// link, which the commit would write through), and the one the
    /// overlay saw there if it recorded one.
    fn check_ancestor(&self, target: &dyn FileService, a: &str, conflicts: &mut Conflicts) {
        match target.lstat(a) {
            Err(e) if is_absent(&e) => conflicts.add(a, DELETED),
            Err(e) => conflicts.add(a, unchecked(&e)),
            Ok(md) => {
                let same = is_dir(&md) && self.seen_dir(a).is_none_or(|seen| md.id == seen.id);
                if !same {
                    conflicts.add(a, REPLACED);
                }
            }
        }
    }

    /// Why the target's entry `now` at a changed path does not allow the
    /// change, if it does not.
    fn check_change(&self, change: &Change, now: Option<&Metadata>) -> Option<&'static str> {
        let p = change.path.as_str();
        if let Some(origin) = self.origin(p) {
            return match now {
                None if change.after.is_none() => None,
                None => Some(DELETED),
                Some(md) if same_entry(md, origin) => None,
                Some(_) => Some(CHANGED),
            };
        }
        if wants_dir(change)
            && let Some(Some(seen)) = self.origins.dirs.get(p)
        {
            // A directory the overlay worked in.
            return match now {
                None => Some(DELETED),
                Some(md) if md.kind == seen.kind && md.id == seen.id => None,
                Some(_) => Some(REPLACED),
            };
        }
        // The overlay never read anything here: there must be nothing, or a
        // directory where the overlay has one too.
        match now {
            None => None,
            Some(md) if is_dir(md) && wants_dir(change) => None,
            Some(_) => Some(CREATED),
        }
    }

    /// Checks that everything in the target's directory `dir` (at `shown`
    /// in the overlay) is an entry the overlay deletes, as the overlay read
    /// it. `dir` differs from `shown` once the directory is moved aside.
    fn check_subtree(
        &self,
        target: &dyn FileService,
        dir: &str,
        shown: &str,
        conflicts: &mut Conflicts,
    ) {
        let entries = match target.readdir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                conflicts.add(shown, unchecked(&e.map_paths(|_| shown.to_owned())));
                return;
            }
        };
        for entry in entries {
            let (real, virt) = (path::join(dir, &entry.name), path::join(shown, &entry.name));
            let md = match target.lstat(&real) {
                Ok(md) => md,
                Err(e) if e.kind() == FsErrorKind::NotFound => continue,
                Err(e) => {
                    conflicts.add(&virt, unchecked(&e.map_paths(|_| virt.clone())));
                    continue;
                }
            };
            let known = self
                .by_path
                .get(virt.as_str())
                .is_some_and(|c| c.after.is_none());
            let Some(origin) = self.origin(&virt).filter(|_| known) else {
                conflicts.add(&virt, CREATED);
                continue;
            };
            if !same_entry(&md, origin) {
                conflicts.add(&virt, CHANGED);
            } else if is_dir(&md) {
                self.check_subtree(target, &real, &virt, conflicts);
            }
        }
    }
}

/// One step of phase 3, as the journal records it.
#[derive(Debug)]
enum Step {
    /// The target's entry at `path` was renamed to `backup`.
    MovedAside { path: String, backup: String },
    /// A directory was made.
    Made { path: String },
    /// A staged file was renamed into place.
    Placed { path: String },
}

/// Why phase 3 stopped.
enum Stop {
    /// The target changed under the commit (found by the second check, once
    /// an entry was moved aside, or where a new one was to go); never empty.
    Conflicts(Vec<Conflict>),
    Fs(FsError),
}

impl Stop {
    fn conflict(path: &str, reason: &str) -> Self {
        Self::Conflicts(vec![Conflict {
            path: path.to_owned(),
            reason: reason.to_owned(),
        }])
    }
}

/// One commit in progress: its target, its names, its temporaries and its
/// journal.
struct Run<'t> {
    target: &'t dyn FileService,
    names: Names,
    /// Staged files, by final path: the temporary holding each.
    staged: HashMap<String, String>,
    journal: Vec<Step>,
}

impl<'t> Run<'t> {
    /// Phase 1: writes each new file to a temporary name in the nearest
    /// directory that stays; a new symbolic link is made under such a name
    /// too (holding its target, never followed), and a file that is
    /// another name of one staged already (a hard link in the overlay) is
    /// staged as a hard link of that one's temporary, where the target
    /// supports hard links.
    fn stage(
        &mut self,
        cow: &CowFs,
        check: &Check<'_>,
        observed: &Observed,
    ) -> oanix_vfs::Result<()> {
        // The temporaries of the overlay's files with several names, by
        // the file's id in the upper layer.
        let mut shared: HashMap<u64, String> = HashMap::new();
        for change in check.changes {
            let Some(after) = change.after else {
                continue;
            };
            let dir = staging_dir(check, observed, &change.path);
            let tmp = match after.kind {
                FileKind::Symlink => {
                    let target = cow.readlink(&change.path)?;
                    self.make_temp(dir, |fs, tmp| fs.symlink(&target, tmp))?.0
                }
                FileKind::File => {
                    let upper = cow.upper().lstat(&change.path)?;
                    let linked = if upper.nlink > 1
                        && let Some(first) = shared.get(&upper.id)
                    {
                        self.link_temp(dir, first)?
                    } else {
                        None
                    };
                    let tmp = match linked {
                        Some(tmp) => tmp,
                        None => self.write_temp(cow, dir, &change.path)?,
                    };
                    if upper.nlink > 1 {
                        shared.entry(upper.id).or_insert_with(|| tmp.clone());
                    }
                    tmp
                }
                _ => continue,
            };
            self.staged.insert(change.path.clone(), tmp);
        }
        Ok(())
    }

    /// Stages the overlay's file `p` as a new file in `dir`.
    fn write_temp(&mut self, cow: &CowFs, dir: &str, p: &str) -> oanix_vfs::Result<String> {
        let data = read_file(cow, p)?;
        // Written through this handle only: the name is not opened again.
        let (tmp, mut h) = self.make_temp(dir, |fs, tmp| {
            fs.open(tmp, OpenFlags::write_only().with_create_new(true))
        })?;
        // Recorded before writing, so that a failure removes it.
        self.staged.insert(p.to_owned(), tmp.clone());
        oanix_vfs::write_all(h.as_mut(), &tmp, &data)?;
        h.flush()?;
        Ok(tmp)
    }

    /// A hard link in `dir` of the temporary `first`; `None` when the
    /// target cannot make one there (no hard links, another device).
    fn link_temp(&mut self, dir: &str, first: &str) -> oanix_vfs::Result<Option<String>> {
        match self.make_temp(dir, |fs, tmp| fs.link(first, tmp)) {
            Ok((tmp, ())) => Ok(Some(tmp)),
            Err(e)
                if matches!(
                    e.kind(),
                    FsErrorKind::Unsupported | FsErrorKind::CrossDevice
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Makes a temporary in `dir` with `make` (which must fail with
    /// `AlreadyExists` on a name taken, and create nothing then), skipping
    /// names taken.
    fn make_temp<T>(
        &mut self,
        dir: &str,
        mut make: impl FnMut(&dyn FileService, &str) -> oanix_vfs::Result<T>,
    ) -> oanix_vfs::Result<(String, T)> {
        let mut last = None;
        for _ in 0..NAME_ATTEMPTS {
            let tmp = self.names.next(dir, "commit");
            match make(self.target, &tmp) {
                Ok(made) => return Ok((tmp, made)),
                Err(e) if e.kind() == FsErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| FsError::already_exists(dir)))
    }

    /// A backup name beside `p` that is free now.
    fn backup_name(&mut self, p: &str) -> oanix_vfs::Result<String> {
        let dir = path::parent(p).unwrap_or("/");
        for _ in 0..NAME_ATTEMPTS {
            let name = self.names.next(dir, "backup");
            match self.target.lstat(&name) {
                Err(e) if e.kind() == FsErrorKind::NotFound => return Ok(name),
                Err(e) => return Err(e),
                Ok(_) => {}
            }
        }
        Err(FsError::already_exists(p))
    }

    /// Phase 3: applies every change, shallowest first, each step in the
    /// journal.
    fn apply(&mut self, check: &Check<'_>, observed: &Observed) -> Result<(), Stop> {
        let mut order: Vec<&Change> = check.changes.iter().collect();
        order.sort_by(|a, b| (depth(&a.path), &a.path).cmp(&(depth(&b.path), &b.path)));
        let mut moved: HashSet<&str> = HashSet::new();
        for change in order {
            let p = change.path.as_str();
            if change.after.is_none() && ancestors_of(p).any(|a| moved.contains(a)) {
                // Went with the entry moved aside above it.
                continue;
            }
            let old = observed.get(p);
            let keep_dir = old.is_some_and(is_dir) && wants_dir(change);
            if old.is_some() && !keep_dir {
                self.move_aside(check, p)?;
                moved.insert(p);
            }
            match change.after.map(|a| a.kind) {
                None => {}
                Some(FileKind::Directory) if keep_dir => {}
                Some(FileKind::Directory) => self.make_dir(p)?,
                Some(_) => self.place(p)?,
            }
        }
        Ok(())
    }

    fn move_aside(&mut self, check: &Check<'_>, p: &str) -> Result<(), Stop> {
        let backup = self.backup_name(p).map_err(Stop::Fs)?;
        self.target.rename(p, &backup).map_err(|e| match e.kind() {
            // It was there at the check.
            FsErrorKind::NotFound => Stop::conflict(p, DELETED),
            _ => Stop::Fs(e),
        })?;
        self.journal.push(Step::MovedAside {
            path: p.to_owned(),
            backup: backup.clone(),
        });
        // Under its private name, what was moved can be checked without a
        // race: it must be what the overlay read, with nothing added.
        let mut conflicts = Conflicts::default();
        match (self.target.lstat(&backup), check.origin(p)) {
            (Ok(md), Some(origin)) if same_entry(&md, origin) => {
                if is_dir(&md) {
                    check.check_subtree(self.target, &backup, p, &mut conflicts);
                }
            }
            (Ok(_), _) => conflicts.add(p, CHANGED),
            (Err(e), _) => conflicts.add(p, unchecked(&e.map_paths(|_| p.to_owned()))),
        }
        let conflicts = conflicts.into_vec();
        if conflicts.is_empty() {
            Ok(())
        } else {
            Err(Stop::Conflicts(conflicts))
        }
    }

    fn make_dir(&mut self, p: &str) -> Result<(), Stop> {
        match self.target.mkdir(p) {
            Ok(()) => {
                self.journal.push(Step::Made { path: p.to_owned() });
                Ok(())
            }
            // Made by someone else just now: the overlay's entries go in it.
            Err(e) if e.kind() == FsErrorKind::AlreadyExists => match self.target.lstat(p) {
                Ok(md) if is_dir(&md) => Ok(()),
                _ => Err(Stop::conflict(p, CREATED)),
            },
            Err(e) => Err(Stop::Fs(e)),
        }
    }

    fn place(&mut self, p: &str) -> Result<(), Stop> {
        let Some(tmp) = self.staged.get(p).cloned() else {
            return Err(Stop::Fs(FsError::not_found(p)));
        };
        // A rename replaces what it finds: make sure it finds nothing.
        match self.target.lstat(p) {
            Err(e) if e.kind() == FsErrorKind::NotFound => {}
            Ok(_) => return Err(Stop::conflict(p, CREATED)),
            Err(e) => return Err(Stop::Fs(e)),
        }
        self.target.rename(&tmp, p).map_err(|e| match e.kind() {
            // The temporary was there, in a directory that stays.
            FsErrorKind::NotFound => Stop::conflict(p, MOVED),
            _ => Stop::Fs(e),
        })?;
        self.staged.remove(p);
        self.journal.push(Step::Placed { path: p.to_owned() });
        Ok(())
    }

    /// Undoes the journal in reverse, as far as it can; returns the steps
    /// that could not be undone and the first failure.
    fn roll_back(&mut self) -> (Vec<Step>, Option<FsError>) {
        let mut remaining = Vec::new();
        let mut first = None;
        // Paths where an undo failed, so that what was there cannot be put
        // back over it.
        let mut blocked: Vec<String> = Vec::new();
        while let Some(step) = self.journal.pop() {
            let result = match &step {
                Step::Placed { path } | Step::Made { path } => self.target.remove(path),
                Step::MovedAside { path, .. } if blocked.contains(path) => {
                    Err(FsError::already_exists(path))
                }
                Step::MovedAside { path, backup } => self.target.rename(backup, path),
            };
            if let Err(e) = result {
                first.get_or_insert(e);
                match &step {
                    Step::Placed { path } | Step::Made { path } => blocked.push(path.clone()),
                    Step::MovedAside { .. } => {}
                }
                remaining.push(step);
            }
        }
        remaining.reverse();
        (remaining, first)
    }

    /// Removes the temporaries not renamed into place; returns those that
    /// remain.
    fn remove_temps(&mut self) -> Vec<String> {
        let mut left = Vec::new();
        let mut temps: Vec<String> = self.staged.drain().map(|(_, t)| t).collect();
        temps.sort();
        for tmp in temps {
            // Not found is not gone: its directory may have been moved.
            if self.target.remove(&tmp).is_err() {
                left.push(tmp);
            }
        }
        left
    }

    /// After a failure in phase 1 or 2: removes the temporaries. Conflicts
    /// stay conflicts only if nothing is left behind.
    fn abandon(&mut self, cause: Stop) -> CommitError {
        let leftovers = self.remove_temps();
        match cause {
            Stop::Conflicts(c) if leftovers.is_empty() => CommitError::Conflicts(c),
            cause => CommitError::Fs {
                applied: Vec::new(),
                missing: Vec::new(),
                leftovers,
                error: stop_error(cause),
                rollback: None,
            },
        }
    }
}

fn stop_error(cause: Stop) -> FsError {
    match cause {
        Stop::Fs(e) => e,
        Stop::Conflicts(c) => match c.into_iter().next() {
            Some(c) => FsError::permission_denied(
                c.path,
                format!("changed in the target during the commit: {}", c.reason),
            ),
            None => FsError::permission_denied("/", "changed in the target during the commit"),
        },
    }
}

/// The nearest directory above `p` that the target has and keeps (not one
/// to be made, nor one moved aside).
fn staging_dir<'p>(check: &Check<'_>, observed: &Observed, p: &'p str) -> &'p str {
    let mut cur = p;
    while let Some(parent) = path::parent(cur) {
        let stays = match check.by_path.get(parent) {
            None => true,
            Some(c) => wants_dir(c) && observed.get(parent).is_some_and(is_dir),
        };
        if stays {
            return parent;
        }
        cur = parent;
    }
    "/"
}

/// The strict ancestors of a canonical path, nearest first, the root left
/// out.
fn ancestors_of(p: &str) -> impl Iterator<Item = &str> {
    std::iter::successors(path::parent(p), |a| path::parent(a)).filter(|a| *a != "/")
}

/// Removes `p` and, if it is a directory, everything in it, following no
/// link.
fn remove_tree(target: &dyn FileService, p: &str) -> oanix_vfs::Result<()> {
    if is_dir(&target.lstat(p)?) {
        for entry in target.readdir(p)? {
            remove_tree(target, &path::join(p, &entry.name))?;
        }
    }
    target.remove(p)
}

impl CowFs {
    /// Applies the changes to `target` — normally the writable directory
    /// this overlay's base reads from — all or nothing.
    ///
    /// **Checked against what the overlay read.** Where the overlay
    /// diverged from its base it recorded what it read there (its
    /// [`origin`](Self::origin), and the identity of the directories
    /// above). Before anything is applied, and again right before, the
    /// target must still have, at each changed path, that entry (a file:
    /// same kind, size, file id and modification time; a directory or a
    /// link: same kind and id, as [`lstat`](FileService::lstat) describes
    /// it, so that a link put in place of an entry counts as a change);
    /// nothing where the overlay added a path and read nothing (or a
    /// directory, where it adds one); the same directories above each
    /// changed path (real directories where it recorded none); and, in a
    /// directory it deletes or replaces, nothing it did not read. A path
    /// that cannot be checked (an error other than "not found", such as a
    /// link leading out of the target) is a conflict too. Any conflict is
    /// [`CommitError::Conflicts`], and the target is left as it was.
    ///
    /// **Links.** A symbolic link of the overlay is committed as a link
    /// (made with [`symlink`](FileService::symlink) under a temporary name,
    /// then renamed into place), one deleted or retargeted is moved aside as
    /// the link itself: no step follows a link of the target (entries are
    /// looked at with `lstat`, never `stat`), and every directory above a
    /// changed path must be a real directory of the target (a link there is
    /// a conflict), so a commit never writes through a link into somewhere
    /// else. Names of one file in the overlay (hard links) that the commit
    /// writes are committed as names of one file where the target has
    /// [`link`](FileService::link) (else as copies); a name linked to a
    /// file the commit does not change (its content is the base's) is
    /// committed as a copy.
    ///
    /// **All or nothing.** New file contents are first written to
    /// temporary names (`.oanix-commit-…`) in the target. Then, shallowest
    /// path first, each entry to be replaced or deleted is moved aside to a
    /// backup name beside it (`.oanix-backup-…`; under that private name it
    /// is checked once more, so a file the host added to a directory until
    /// that moment is found), new directories are made and the temporaries
    /// renamed into place. If a step fails, or the target turns out to
    /// have changed, every step done is undone in reverse order and the
    /// target is as it was ([`CommitError::Fs`] with empty lists, or
    /// `Conflicts`); only if undoing fails too does the error list what
    /// remains applied. Last, the backups are removed (one that cannot be
    /// is named in [`CommitReport::leftovers`]).
    ///
    /// **Limits.** A file is replaced by moving the old one aside and
    /// renaming the new one in: between the two renames a reader of the
    /// target sees the name absent, and a host that writes the same path at
    /// that instant can lose its write (the name is checked to be free just
    /// before the rename, which narrows the window but cannot close it
    /// without an atomic exchange in the [`FileService`] interface). The
    /// checks compare what a service reports (a modification time within
    /// its clock's resolution and an unchanged size can hide a rewrite),
    /// and names a service cannot list are not seen. Permissions of
    /// replaced files are not carried over.
    ///
    /// The overlay itself is left as it is; call [`discard`](Self::discard)
    /// when its base now shows what it showed.
    #[allow(
        clippy::result_large_err,
        reason = "returned once per commit; a flat variant is simpler to match"
    )]
    pub fn commit(&self, target: &dyn FileService) -> Result<CommitReport, CommitError> {
        let changes = self.changes()?;
        let check = Check::new(&changes, self.origins_snapshot());
        // Phase 0.
        let observed = check.run(target).map_err(CommitError::Conflicts)?;
        let mut run = Run {
            target,
            names: Names::new(),
            staged: HashMap::new(),
            journal: Vec::new(),
        };
        // Phase 1.
        if let Err(e) = run.stage(self, &check, &observed) {
            return Err(run.abandon(Stop::Fs(e)));
        }
        // Phase 2.
        let observed = match check.run(target) {
            Ok(observed) => observed,
            Err(conflicts) => return Err(run.abandon(Stop::Conflicts(conflicts))),
        };
        // Phase 3.
        if let Err(stop) = run.apply(&check, &observed) {
            return Err(self.undo(&mut run, &check, &observed, stop));
        }
        // Phase 4.
        let mut leftovers = Vec::new();
        for step in &run.journal {
            if let Step::MovedAside { backup, .. } = step
                && remove_tree(target, backup).is_err()
            {
                leftovers.push(backup.clone());
            }
        }
        leftovers.extend(run.remove_temps());
        let mut applied: Vec<Change> = changes;
        applied.sort_by(|a, b| (depth(&a.path), &a.path).cmp(&(depth(&b.path), &b.path)));
        Ok(CommitReport { applied, leftovers })
    }

    /// Rolls a failed phase 3 back and says what remains.
    fn undo(
        &self,
        run: &mut Run<'_>,
        check: &Check<'_>,
        observed: &Observed,
        stop: Stop,
    ) -> CommitError {
        let (remaining, rollback) = run.roll_back();
        let mut leftovers: Vec<String> = remaining
            .iter()
            .filter_map(|s| match s {
                Step::MovedAside { backup, .. } => Some(backup.clone()),
                _ => None,
            })
            .collect();
        leftovers.extend(run.remove_temps());
        if rollback.is_none() && leftovers.is_empty() {
            match stop {
                Stop::Conflicts(c) => return CommitError::Conflicts(c),
                Stop::Fs(error) => return CommitError::from(error),
            }
        }
        let gone = |p: &str| {
            remaining.iter().any(|s| match s {
                Step::MovedAside { path: m, .. } => path::starts_with(p, m),
                _ => false,
            })
        };
        let put = |p: &str| {
            remaining.iter().any(|s| match s {
                Step::Placed { path } | Step::Made { path } => path == p,
                Step::MovedAside { .. } => false,
            })
        };
        let mut applied = Vec::new();
        let mut missing = Vec::new();
        for change in check.changes {
            let p = change.path.as_str();
            let was = observed.get(p);
            if change.after.is_none() {
                if was.is_some() && gone(p) {
                    applied.push(change.clone());
                }
            } else if put(p) {
                applied.push(change.clone());
            } else if was.is_some() && gone(p) {
                missing.push(p.to_owned());
            }
        }
        CommitError::Fs {
            applied,
            missing,
            leftovers,
            error: stop_error(stop),
            rollback,
        }
    }
}
