//! The file system the kernel talks to: `fuser::Filesystem` over any
//! `FileService`.
//!
//! Every request is answered from the inode table (a number to the path
//! that reaches it), one or two service calls on that path, and the
//! table updated after. Operations on live files go to the blocking pool
//! with their reply; everything else is answered on the request thread.
//! A service that panics answers `EIO` for that request and nothing else.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle as Fh, Filesystem, FopenFlags, Generation, INodeNo,
    InitFlags, KernelConfig, LockOwner, OpenFlags as KernelOpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use oanix_vfs::path::{MAX_NAME_LEN, MAX_PATH_LEN};
use oanix_vfs::{
    FileKind, FileService, FsError, FsErrorKind, Metadata, OpenFlags, Timestamp, deadline, path,
};

use crate::attr::{AttrDefaults, default_mode, file_attr, file_type, negative_attr, timestamp};
use crate::errno::{Op, errno};
use crate::handles::{DirStream, Listed, OpenFile};
use crate::inodes::{InodeTable, Key, Version};
use crate::options::{CachePolicy, MountOptions};
use crate::pool::Pool;

/// How long the kernel may keep a name of [`Writable`](CachePolicy::Writable)
/// content. Inode numbers stand for paths, so an entry the host removed or
/// replaced cannot show what is not there: the next request on it asks the
/// service by path, and answers `ESTALE` (the kernel looks the name up
/// again) where the name is gone or holds another kind of file.
const NAME_TTL: Duration = Duration::from_secs(3600);

/// How old a file's modification time must be, when the kernel first
/// receives it, for a later change to be sure to show in it (file systems
/// keep times in ticks of up to two seconds).
const SETTLED: Duration = Duration::from_secs(2);

/// Whether a later change of the file `md` describes must show in its size
/// or modification time: it has a time, old enough (see [`SETTLED`]).
fn settled(md: &Metadata) -> bool {
    let now = Timestamp::now().as_nanos();
    let margin = u64::try_from(SETTLED.as_nanos()).unwrap_or(u64::MAX);
    md.modified
        .is_some_and(|t| t.as_nanos().saturating_add(margin) < now)
}

/// How long the kernel may keep what it learns of a path.
#[derive(Debug, Clone, Copy)]
struct Ttls {
    /// A name found.
    entry: Duration,
    /// The attributes of a file.
    attr: Duration,
    /// A name found missing.
    negative: Duration,
}

/// What the request threads, the blocking pool and the mount share.
pub(crate) struct Shared {
    service: Arc<dyn FileService>,
    pub(crate) options: MountOptions,
    defaults: AttrDefaults,
    inodes: Mutex<InodeTable>,
    files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    dirs: Mutex<HashMap<u64, Arc<Mutex<DirStream>>>>,
    next_fh: AtomicU64,
    /// Held across a rename's service call and table update.
    renames: Mutex<()>,
    /// Counts renames, so that a lookup that raced one can tell.
    rename_gen: AtomicU64,
    pub(crate) pool: Pool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("fs_type", &self.service.fs_type())
            .field("options", &self.options)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f`; if it panics, whatever reply it owned was dropped in the
/// unwinding and answered `EIO`.
fn caught(f: impl FnOnce()) {
    let _ = catch_unwind(AssertUnwindSafe(f));
}

fn fail(e: &FsError) -> Errno {
    errno(e, Op::Other)
}

/// A name from the kernel as a `str`: `EINVAL` if it is not UTF-8 (no
/// such name can exist in a namespace), `ENAMETOOLONG` past 255 bytes.
fn name_str(name: &OsStr) -> Result<&str, Errno> {
    let name = name.to_str().ok_or(Errno::EINVAL)?;
    if name.len() > MAX_NAME_LEN {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(name)
}

/// `dir/name`, refused past the longest path.
fn child(dir: &str, name: &str) -> oanix_vfs::Result<String> {
    let p = path::join(dir, name);
    if p.len() > MAX_PATH_LEN {
        return Err(FsError::invalid_path(
            p,
            format!("longer than {MAX_PATH_LEN} bytes"),
        ));
    }
    Ok(p)
}

/// The service's open flags for the kernel's `flags`. A link as the last
/// component is never followed (the kernel resolves links itself).
fn open_flags(flags: i32) -> OpenFlags {
    let acc = flags & libc::O_ACCMODE;
    let write = acc != libc::O_RDONLY;
    OpenFlags::read_only()
        .with_read(acc != libc::O_WRONLY)
        .with_write(write)
        .with_append(flags & libc::O_APPEND != 0)
        .with_truncate(write && flags & libc::O_TRUNC != 0)
        .with_nonblocking(flags & libc::O_NONBLOCK != 0)
        .with_nofollow(true)
}

/// The identity that lets further names of a file share its number.
fn key_of(md: &Metadata) -> Option<Key> {
    (md.is_file() && md.nlink > 1).then_some(Key {
        device: md.device,
        id: md.id,
    })
}

impl Shared {
    /// The state of a mount of `service`.
    pub(crate) fn new(
        service: Arc<dyn FileService>,
        options: MountOptions,
        defaults: AttrDefaults,
    ) -> Self {
        let pool = Pool::new(options.blocking_threads);
        Self {
            service,
            options,
            defaults,
            inodes: Mutex::new(InodeTable::new()),
            files: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_fh: AtomicU64::new(1),
            renames: Mutex::new(()),
            rename_gen: AtomicU64::new(0),
            pool,
        }
    }

    /// The inode table.
    pub(crate) fn inodes(&self) -> MutexGuard<'_, InodeTable> {
        lock(&self.inodes)
    }

    fn path_of(&self, ino: u64) -> oanix_vfs::Result<String> {
        self.inodes()
            .path(ino)
            .ok_or_else(|| FsError::not_found(format!("inode {ino}")))
    }

    /// Runs `op` on the path of `ino`. If that path is not found because a
    /// rename moved it meanwhile, runs it again on the new path.
    fn with_path<T>(
        &self,
        ino: u64,
        mut op: impl FnMut(&str) -> oanix_vfs::Result<T>,
    ) -> oanix_vfs::Result<T> {
        let generation = self.rename_gen.load(Ordering::Acquire);
        let first = self.path_of(ino)?;
        match op(&first) {
            Err(e) if e.kind() == FsErrorKind::NotFound => {
                let _settled = lock(&self.renames);
                if self.rename_gen.load(Ordering::Acquire) == generation {
                    return Err(e);
                }
                match self.path_of(ino) {
                    Ok(now) if now != first => op(&now),
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// How long the kernel may keep what it learns of a path under `policy`.
    fn ttls(&self, policy: CachePolicy) -> Ttls {
        match policy {
            CachePolicy::Immutable => Ttls {
                entry: self.options.immutable_ttl,
                attr: self.options.immutable_ttl,
                negative: self.options.immutable_ttl,
            },
            CachePolicy::Cached(ttl) => Ttls {
                entry: ttl,
                attr: ttl,
                negative: ttl,
            },
            CachePolicy::Writable => Ttls {
                entry: NAME_TTL,
                attr: Duration::ZERO,
                negative: Duration::ZERO,
            },
            CachePolicy::Live => Ttls {
                entry: Duration::ZERO,
                attr: Duration::ZERO,
                negative: Duration::ZERO,
            },
        }
    }

    /// How long the kernel may keep the attributes of `path`.
    fn attr_ttl(&self, path: &str) -> Duration {
        self.ttls(self.options.policy_of(path)).attr
    }

    /// The attributes of `ino`, described by `md`, as the kernel is about
    /// to receive them (which the table records for regular files).
    fn attr(&self, ino: u64, md: &Metadata) -> FileAttr {
        let kept = if md.is_file() {
            let version = Version {
                size: md.size,
                modified: md.modified,
            };
            self.inodes().sent(ino, version, settled(md))
        } else {
            self.inodes().overrides(ino)
        };
        file_attr(ino, md, kept, &self.defaults)
    }

    /// Counts one kernel lookup of `name` in `parent`, described by `md`.
    fn remember(&self, parent: u64, name: &str, md: &Metadata) -> u64 {
        self.inodes().lookup(parent, name, md.kind, key_of(md), 1)
    }

    /// Runs `f` under the mount's I/O bound, if it has one.
    fn bounded<T>(&self, f: impl FnOnce() -> T) -> T {
        match self.options.io_timeout {
            Some(t) => deadline::scoped(Instant::now() + t, f),
            None => f(),
        }
    }

    fn file(&self, fh: u64) -> Option<Arc<OpenFile>> {
        lock(&self.files).get(&fh).cloned()
    }

    fn add_file(&self, file: OpenFile) -> u64 {
        let fh = self.next_fh.fetch_add(1, Ordering::Relaxed);
        lock(&self.files).insert(fh, Arc::new(file));
        fh
    }

    /// The metadata of `ino` through one of its open handles, for a file
    /// whose name is gone but which is still open.
    fn open_stat(&self, ino: u64) -> Option<Metadata> {
        let open: Vec<Arc<OpenFile>> = lock(&self.files)
            .values()
            .filter(|f| f.ino == ino)
            .cloned()
            .collect();
        open.iter().find_map(|f| f.try_stat()?.ok())
    }

    /// The attributes of `ino` and how long the kernel may keep them.
    fn stat_ino(&self, ino: u64, fh: Option<u64>) -> Result<(FileAttr, Duration), Errno> {
        self.meta_ino(ino, fh)
            .map(|(md, ttl)| (self.attr(ino, &md), ttl))
    }

    /// The metadata of `ino` (through the handle `fh` when it is free, else
    /// by path, else through any open handle of a file whose name is gone)
    /// and how long the kernel may keep it.
    fn meta_ino(&self, ino: u64, fh: Option<u64>) -> Result<(Metadata, Duration), Errno> {
        if let Some(file) = fh.and_then(|fh| self.file(fh))
            && let Some(Ok(md)) = file.try_stat()
        {
            let ttl = self
                .path_of(ino)
                .map_or(Duration::ZERO, |p| self.attr_ttl(&p));
            return Ok((md, ttl));
        }
        let looked = self.with_path(ino, |p| {
            self.service
                .lstat(p)
                .map(|md| (self.options.policy_of(p), md))
        });
        match looked {
            Ok((policy, md)) => {
                if self.inodes().kind(ino).is_some_and(|k| k != md.kind) {
                    // The name now holds another kind of file: the
                    // kernel's inode is stale and it looks the name up again.
                    return Err(Errno::ESTALE);
                }
                Ok((md, self.ttls(policy).attr))
            }
            // The name is gone: the kernel's entry for it is stale (it
            // looks the name up again), unless the file is still open.
            Err(e) if e.kind() == FsErrorKind::NotFound => self
                .open_stat(ino)
                .map(|md| (md, Duration::ZERO))
                .ok_or(Errno::ESTALE),
            Err(e) => Err(fail(&e)),
        }
    }

    /// Answers a lookup-like request with the entry for `name` in `parent`.
    fn entry_reply(&self, parent: u64, name: &str, path: &str, md: &Metadata, reply: ReplyEntry) {
        let ino = self.remember(parent, name, md);
        self.send_entry(ino, path, md, reply);
    }

    /// Answers with the entry `ino` at `path`, described by `md`.
    fn send_entry(&self, ino: u64, path: &str, md: &Metadata, reply: ReplyEntry) {
        let ttls = self.ttls(self.options.policy_of(path));
        reply.entry_with_ttls(&ttls.attr, &ttls.entry, &self.attr(ino, md), Generation(0));
    }

    /// The fopen flags for a file of `ino` opened under `policy`, which is
    /// `now` (when its metadata could be read).
    fn fopen(
        &self,
        ino: u64,
        policy: CachePolicy,
        direct: bool,
        now: Option<&Metadata>,
    ) -> FopenFlags {
        let mut flags = FopenFlags::FOPEN_NOFLUSH;
        if direct {
            flags |= FopenFlags::FOPEN_DIRECT_IO;
        } else if policy == CachePolicy::Immutable || self.unchanged(ino, policy, now) {
            flags |= FopenFlags::FOPEN_KEEP_CACHE;
        }
        flags
    }

    /// Whether the file `ino`, which is `now`, is still the version whose
    /// attributes the kernel last received (so the pages it cached from
    /// that version are still right). Only [`Writable`](CachePolicy::Writable)
    /// files are checked: [`Cached`](CachePolicy::Cached) ones keep their
    /// pages across opens as long as the kernel keeps their attributes.
    fn unchanged(&self, ino: u64, policy: CachePolicy, now: Option<&Metadata>) -> bool {
        match (policy, now) {
            (CachePolicy::Cached(_), _) => true,
            (CachePolicy::Writable, Some(md)) => {
                let now = Version {
                    size: md.size,
                    modified: md.modified,
                };
                self.inodes().unchanged(ino, now)
            }
            _ => false,
        }
    }

    fn open_now(&self, ino: u64, flags: i32, reply: ReplyOpen) {
        let oflags = open_flags(flags);
        let opened = self.bounded(|| {
            self.with_path(ino, |p| {
                let policy = self.options.policy_of(p);
                self.service.open(p, oflags).map(|h| (policy, h))
            })
        });
        let (policy, handle) = match opened {
            Ok(x) => x,
            // The name is gone or holds a directory now: the kernel's entry
            // is stale, and it looks the name up again (then creates the
            // file, for `O_CREAT`).
            Err(e) if matches!(e.kind(), FsErrorKind::NotFound | FsErrorKind::IsADirectory) => {
                return reply.error(Errno::ESTALE);
            }
            Err(e) => return reply.error(fail(&e)),
        };
        let now = handle.stat().ok();
        if let Some(md) = &now
            && self.inodes().kind(ino).is_some_and(|k| k != md.kind)
        {
            return reply.error(Errno::ESTALE);
        }
        // A file of size 0 may be computed on read (its size unknown until
        // then): the page cache would show it empty, so it goes direct.
        let empty = now.as_ref().is_some_and(|md| md.is_file() && md.size == 0);
        let direct = policy == CachePolicy::Live || empty;
        let flags = self.fopen(ino, policy, direct, now.as_ref());
        let fh = self.add_file(OpenFile::new(ino, handle, direct, oflags.append));
        reply.opened(Fh(fh), flags);
    }

    fn create_now(
        &self,
        parent: u64,
        name: &str,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let oflags = open_flags(flags)
            .with_create(true)
            .with_create_new(flags & libc::O_EXCL != 0);
        let created = self.bounded(|| {
            self.with_path(parent, |dir| {
                let p = child(dir, name)?;
                let h = self.service.open(&p, oflags)?;
                let md = match h.stat() {
                    Ok(md) => md,
                    Err(_) => self.service.lstat(&p)?,
                };
                Ok((p, h, md))
            })
        });
        let (p, handle, md) = match created {
            Ok(x) => x,
            Err(e) => return reply.error(fail(&e)),
        };
        let ino = self.remember(parent, name, &md);
        self.keep_mode(ino, mode, umask, &md);
        let policy = self.options.policy_of(&p);
        let direct = policy == CachePolicy::Live;
        let flags = self.fopen(ino, policy, direct, None);
        let fh = self.add_file(OpenFile::new(ino, handle, direct, oflags.append));
        // One time for the name and the attributes: the shorter.
        let ttls = self.ttls(policy);
        reply.created(
            &ttls.attr.min(ttls.entry),
            &self.attr(ino, &md),
            Generation(0),
            Fh(fh),
            flags,
        );
    }

    /// Keeps the mode a file was created with, when it is not the default.
    fn keep_mode(&self, ino: u64, mode: u32, umask: u32, md: &Metadata) {
        let bits = u16::try_from(mode & !umask & 0o7777).unwrap_or(0o7777);
        if bits != default_mode(md.kind, md.readonly) {
            self.inodes().set_overrides(ino, |o| o.mode = Some(bits));
        }
    }

    #[allow(clippy::too_many_arguments, reason = "the kernel's setattr")]
    fn setattr_now(
        &self,
        ino: u64,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<u64>,
        reply: ReplyAttr,
    ) {
        let done = self.bounded(|| self.set_attrs(ino, size, atime, mtime, fh));
        if let Err(e) = done {
            return reply.error(fail(&e));
        }
        if mode.is_some() || uid.is_some() || gid.is_some() {
            self.inodes().set_overrides(ino, |o| {
                if let Some(m) = mode {
                    o.mode = Some(u16::try_from(m & 0o7777).unwrap_or(0o7777));
                }
                o.uid = uid.or(o.uid);
                o.gid = gid.or(o.gid);
            });
        }
        match self.stat_ino(ino, fh) {
            Ok((attr, ttl)) => reply.attr(&ttl, &attr),
            Err(e) => reply.error(e),
        }
    }

    fn set_attrs(
        &self,
        ino: u64,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        fh: Option<u64>,
    ) -> oanix_vfs::Result<()> {
        if let Some(len) = size {
            match fh.and_then(|fh| self.file(fh)) {
                Some(file) => file.set_len(len)?,
                None => self.with_path(ino, |p| {
                    let mut h = self
                        .service
                        .open(p, OpenFlags::write_only().with_nofollow(true))?;
                    h.set_len(len)
                })?,
            }
        }
        if atime.is_some() || mtime.is_some() {
            let at = |t: TimeOrNow| match t {
                TimeOrNow::SpecificTime(t) => timestamp(t),
                TimeOrNow::Now => Timestamp::now(),
            };
            let (a, m) = (atime.map(at), mtime.map(at));
            match self.with_path(ino, |p| self.service.set_times(p, a, m)) {
                // A service without times accepts them and keeps none.
                Err(e) if e.kind() == FsErrorKind::Unsupported => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// A snapshot of the directory `ino`'s listing.
    fn snapshot(&self, ino: u64) -> oanix_vfs::Result<(CachePolicy, Vec<Listed>)> {
        let (policy, entries) = self.with_path(ino, |p| {
            self.service
                .readdir(p)
                .map(|e| (self.options.policy_of(p), e))
        })?;
        let mut table = self.inodes();
        let mut list = Vec::with_capacity(entries.len() + 2);
        list.push(Listed {
            ino,
            kind: fuser::FileType::Directory,
            name: ".".into(),
        });
        list.push(Listed {
            ino: table.parent_of(ino),
            kind: fuser::FileType::Directory,
            name: "..".into(),
        });
        for e in entries {
            let child = table.lookup(ino, &e.name, e.kind, None, 0);
            list.push(Listed {
                ino: child,
                kind: file_type(e.kind),
                name: e.name.into(),
            });
        }
        Ok((policy, list))
    }

    fn unlink_now(&self, parent: u64, name: &str, dir: bool) -> Result<(), Errno> {
        self.with_path(parent, |d| {
            let p = child(d, name)?;
            let md = self.service.lstat(&p)?;
            if dir && !md.is_dir() {
                return Err(FsError::not_a_directory(p));
            }
            if !dir && md.is_dir() {
                return Err(FsError::is_a_directory(p));
            }
            self.service.remove(&p)
        })
        .map_err(|e| fail(&e))?;
        self.inodes().drop_name(parent, name);
        Ok(())
    }

    fn rename_now(
        &self,
        parent: u64,
        name: &str,
        new_parent: u64,
        new_name: &str,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        if !(flags - RenameFlags::RENAME_NOREPLACE).is_empty() {
            // RENAME_EXCHANGE and RENAME_WHITEOUT: not supported.
            return Err(Errno::EINVAL);
        }
        let _one_at_a_time = lock(&self.renames);
        let paths = (|| {
            let from = child(&self.path_of(parent)?, name)?;
            let to = child(&self.path_of(new_parent)?, new_name)?;
            Ok::<_, FsError>((from, to))
        })();
        let (from, to) = paths.map_err(|e| fail(&e))?;
        if flags.contains(RenameFlags::RENAME_NOREPLACE) {
            match self.service.lstat(&to) {
                Ok(_) => return Err(Errno::EEXIST),
                Err(e) if e.kind() == FsErrorKind::NotFound => {}
                Err(e) => return Err(fail(&e)),
            }
        }
        self.service.rename(&from, &to).map_err(|e| fail(&e))?;
        self.inodes().renamed(parent, name, new_parent, new_name);
        self.rename_gen.fetch_add(1, Ordering::Release);
        Ok(())
    }
}

/// The `fuser::Filesystem` of a mount.
#[derive(Debug)]
pub(crate) struct OanixFs {
    shared: Arc<Shared>,
}

impl OanixFs {
    /// The file system over `shared`.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Self { shared }
    }
}

impl Filesystem for OanixFs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let _ = config.set_max_write(self.shared.options.max_write);
        if let Err(most) = config.set_max_readahead(1 << 20) {
            let _ = config.set_max_readahead(most);
        }
        let wanted = InitFlags::FUSE_ATOMIC_O_TRUNC
            | InitFlags::FUSE_AUTO_INVAL_DATA
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP
            | InitFlags::FUSE_MAX_PAGES;
        let _ = config.add_capabilities(wanted & config.capabilities());
        let _ = config.set_max_background(64);
        let _ = config.set_congestion_threshold(48);
        Ok(())
    }

    fn destroy(&mut self) {
        self.shared.pool.shutdown();
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        caught(|| {
            let Some(name) = name.to_str() else {
                return reply.error(Errno::ENOENT);
            };
            if name.len() > MAX_NAME_LEN {
                return reply.error(Errno::ENAMETOOLONG);
            }
            let s = &self.shared;
            let mut missing = None;
            let found = s.with_path(parent.0, |dir| {
                let p = child(dir, name)?;
                match s.service.lstat(&p) {
                    Ok(md) => Ok((p, md)),
                    Err(e) => {
                        if e.kind() == FsErrorKind::NotFound {
                            missing = Some(p);
                        }
                        Err(e)
                    }
                }
            });
            match found {
                Ok((p, md)) => s.entry_reply(parent.0, name, &p, &md, reply),
                Err(e) => {
                    if e.kind() == FsErrorKind::NotFound {
                        s.inodes().drop_name(parent.0, name);
                    }
                    let negative = missing
                        .map_or(Duration::ZERO, |p| s.ttls(s.options.policy_of(&p)).negative);
                    if e.kind() == FsErrorKind::NotFound && !negative.is_zero() {
                        // The kernel may remember that the name is missing.
                        reply.entry(&negative, &negative_attr(&s.defaults), Generation(0));
                    } else {
                        reply.error(fail(&e));
                    }
                }
            }
        });
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        caught(|| self.shared.inodes().forget(ino.0, nlookup));
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<Fh>, reply: ReplyAttr) {
        caught(|| match self.shared.stat_ino(ino.0, fh.map(|f| f.0)) {
            Ok((attr, ttl)) => reply.attr(&ttl, &attr),
            Err(e) => reply.error(e),
        });
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<std::time::SystemTime>,
        fh: Option<Fh>,
        _crtime: Option<std::time::SystemTime>,
        _chgtime: Option<std::time::SystemTime>,
        _bkuptime: Option<std::time::SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        caught(|| {
            let s = &self.shared;
            let fh = fh.map(|f| f.0);
            let live = match fh.and_then(|fh| s.file(fh)) {
                Some(file) => file.direct,
                None => s
                    .path_of(ino.0)
                    .is_ok_and(|p| s.options.policy_of(&p) == CachePolicy::Live),
            };
            let run = {
                let s = s.clone();
                move || s.setattr_now(ino.0, mode, uid, gid, size, atime, mtime, fh, reply)
            };
            if live && size.is_some() {
                s.pool.run(run);
            } else {
                run();
            }
        });
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        caught(|| {
            let s = &self.shared;
            let read = s.with_path(ino.0, |p| {
                s.service.readlink(p).map_err(|e| {
                    // Not a link (any more): the kernel's entry is stale.
                    match s.service.lstat(p) {
                        Ok(md) if md.kind != FileKind::Symlink => None,
                        Err(gone) if gone.kind() == FsErrorKind::NotFound => None,
                        _ => Some(e),
                    }
                    .unwrap_or_else(|| FsError::not_found(p))
                })
            });
            match read {
                Ok(target) => reply.data(target.as_bytes()),
                Err(e) if e.kind() == FsErrorKind::NotFound => reply.error(Errno::ESTALE),
                Err(e) => reply.error(fail(&e)),
            }
        });
    }

    fn mknod(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        _rdev: u32,
        reply: ReplyEntry,
    ) {
        caught(|| {
            if mode & libc::S_IFMT != libc::S_IFREG {
                // Devices, FIFOs and sockets have no place in a namespace.
                return reply.error(Errno::EPERM);
            }
            let name = match name_str(name) {
                Ok(n) => n,
                Err(e) => return reply.error(e),
            };
            let s = &self.shared;
            let made = s.with_path(parent.0, |dir| {
                let p = child(dir, name)?;
                let flags = OpenFlags::write_only().with_create_new(true);
                drop(s.service.open(&p, flags)?);
                s.service.lstat(&p).map(|md| (p, md))
            });
            match made {
                Ok((p, md)) => {
                    let ino = s.remember(parent.0, name, &md);
                    s.keep_mode(ino, mode, umask, &md);
                    s.send_entry(ino, &p, &md, reply);
                }
                Err(e) => reply.error(fail(&e)),
            }
        });
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        reply: ReplyEntry,
    ) {
        caught(|| {
            let name = match name_str(name) {
                Ok(n) => n,
                Err(e) => return reply.error(e),
            };
            let s = &self.shared;
            let made = s.with_path(parent.0, |dir| {
                let p = child(dir, name)?;
                s.service.mkdir(&p)?;
                s.service.lstat(&p).map(|md| (p, md))
            });
            match made {
                Ok((p, md)) => {
                    let ino = s.remember(parent.0, name, &md);
                    s.keep_mode(ino, mode, umask, &md);
                    s.send_entry(ino, &p, &md, reply);
                }
                Err(e) => reply.error(fail(&e)),
            }
        });
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        caught(|| {
            let done = name_str(name).and_then(|n| self.shared.unlink_now(parent.0, n, false));
            match done {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        caught(|| {
            let done = name_str(name).and_then(|n| self.shared.unlink_now(parent.0, n, true));
            match done {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    fn symlink(
        &self,
        _req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &Path,
        reply: ReplyEntry,
    ) {
        caught(|| {
            let (name, target) = match (name_str(link_name), target.to_str()) {
                (Ok(n), Some(t)) => (n, t),
                (Err(e), _) => return reply.error(e),
                (_, None) => return reply.error(Errno::EINVAL),
            };
            let s = &self.shared;
            let made = s.with_path(parent.0, |dir| {
                let p = child(dir, name)?;
                s.service.symlink(target, &p)?;
                s.service.lstat(&p).map(|md| (p, md))
            });
            match made {
                Ok((p, md)) => s.entry_reply(parent.0, name, &p, &md, reply),
                Err(e) => reply.error(errno(&e, Op::MakeLink)),
            }
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        caught(|| {
            let done = name_str(name).and_then(|from| {
                let to = name_str(newname)?;
                self.shared
                    .rename_now(parent.0, from, newparent.0, to, flags)
            });
            match done {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(e),
            }
        });
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        caught(|| {
            let name = match name_str(newname) {
                Ok(n) => n,
                Err(e) => return reply.error(e),
            };
            let s = &self.shared;
            let linked = (|| {
                let from = s.path_of(ino.0)?;
                let to = child(&s.path_of(newparent.0)?, name)?;
                s.service.link(&from, &to)?;
                s.service.lstat(&to).map(|md| (to, md))
            })();
            match linked {
                Ok((to, md)) => {
                    s.inodes().linked(ino.0, newparent.0, name, key_of(&md), 1);
                    s.send_entry(ino.0, &to, &md, reply);
                }
                Err(e) => reply.error(errno(&e, Op::MakeLink)),
            }
        });
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: KernelOpenFlags, reply: ReplyOpen) {
        caught(|| {
            let s = &self.shared;
            let live = s
                .path_of(ino.0)
                .is_ok_and(|p| s.options.policy_of(&p) == CachePolicy::Live);
            if live {
                let s = s.clone();
                s.pool
                    .clone()
                    .run(move || s.open_now(ino.0, flags.0, reply));
            } else {
                s.open_now(ino.0, flags.0, reply);
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: Fh,
        offset: u64,
        size: u32,
        _flags: KernelOpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        caught(|| {
            let s = &self.shared;
            let Some(file) = s.file(fh.0) else {
                return reply.error(Errno::EBADF);
            };
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            let run = {
                let s = s.clone();
                let file = file.clone();
                move || match s.bounded(|| file.read(offset, size)) {
                    Ok(data) => reply.data(&data),
                    Err(e) => reply.error(fail(&e)),
                }
            };
            if file.direct {
                s.pool.run(run);
            } else {
                run();
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: Fh,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: KernelOpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        caught(|| {
            let s = &self.shared;
            let Some(file) = s.file(fh.0) else {
                return reply.error(Errno::EBADF);
            };
            let answer = |reply: ReplyWrite, done: oanix_vfs::Result<usize>| match done {
                Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
                Err(e) => reply.error(fail(&e)),
            };
            if file.direct {
                let data = data.to_vec();
                let s2 = s.clone();
                s.pool.run(move || {
                    let done = s2.bounded(|| file.write(offset, &data));
                    answer(reply, done);
                });
            } else {
                answer(reply, s.bounded(|| file.write(offset, data)));
            }
        });
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: Fh,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        // Writes reach the service when they are made; nothing waits for close.
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: Fh,
        _flags: KernelOpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        caught(|| {
            let s = &self.shared;
            let file = lock(&s.files).remove(&fh.0);
            match file {
                Some(file) if file.direct => s.pool.run(move || {
                    drop(file);
                    reply.ok();
                }),
                file => {
                    drop(file);
                    reply.ok();
                }
            }
        });
    }

    fn fsync(&self, _req: &Request, _ino: INodeNo, fh: Fh, _datasync: bool, reply: ReplyEmpty) {
        caught(|| {
            let s = &self.shared;
            let Some(file) = s.file(fh.0) else {
                return reply.error(Errno::EBADF);
            };
            let run = move || match file.flush() {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(fail(&e)),
            };
            if s.file(fh.0).is_some_and(|f| f.direct) {
                s.pool.run(run);
            } else {
                run();
            }
        });
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: KernelOpenFlags, reply: ReplyOpen) {
        caught(|| {
            let s = &self.shared;
            match s.snapshot(ino.0) {
                Ok((policy, entries)) => {
                    let fh = s.next_fh.fetch_add(1, Ordering::Relaxed);
                    let stream = DirStream {
                        ino: ino.0,
                        entries,
                        served: false,
                    };
                    lock(&s.dirs).insert(fh, Arc::new(Mutex::new(stream)));
                    let flags = if policy == CachePolicy::Immutable {
                        FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE
                    } else {
                        FopenFlags::empty()
                    };
                    reply.opened(Fh(fh), flags);
                }
                // Gone, or not a directory any more: the kernel's entry is stale.
                Err(e)
                    if matches!(e.kind(), FsErrorKind::NotFound | FsErrorKind::NotADirectory) =>
                {
                    reply.error(Errno::ESTALE);
                }
                Err(e) => reply.error(fail(&e)),
            }
        });
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: Fh,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        caught(|| {
            let s = &self.shared;
            let Some(stream) = lock(&s.dirs).get(&fh.0).cloned() else {
                return reply.error(Errno::EBADF);
            };
            let mut stream = lock(&stream);
            if offset == 0 && stream.served {
                // rewinddir: the directory as it is now.
                match s.snapshot(stream.ino) {
                    Ok((_, entries)) => stream.entries = entries,
                    Err(e) => return reply.error(fail(&e)),
                }
            }
            if offset == 0 {
                stream.served = true;
            }
            let start = usize::try_from(offset).unwrap_or(usize::MAX);
            for (i, e) in stream.entries.iter().enumerate().skip(start) {
                if reply.add(INodeNo(e.ino), i as u64 + 1, e.kind, &*e.name) {
                    break;
                }
            }
            reply.ok();
        });
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: Fh,
        _flags: KernelOpenFlags,
        reply: ReplyEmpty,
    ) {
        caught(|| {
            lock(&self.shared.dirs).remove(&fh.0);
            reply.ok();
        });
    }

    fn fsyncdir(&self, _req: &Request, _ino: INodeNo, _fh: Fh, _datasync: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        // Services report no capacity: show plenty, in 4 KiB blocks.
        const BLOCKS: u64 = 1 << 28;
        const FILES: u64 = 1 << 32;
        reply.statfs(BLOCKS, BLOCKS, BLOCKS, FILES, FILES, 4096, 255, 4096);
    }

    fn access(&self, _req: &Request, ino: INodeNo, mask: AccessFlags, reply: ReplyEmpty) {
        caught(|| {
            let s = &self.shared;
            match s.meta_ino(ino.0, None) {
                Ok((md, _)) => {
                    let kept = s.inodes().overrides(ino.0);
                    let perm = file_attr(ino.0, &md, kept, &s.defaults).perm;
                    // As the kernel answers root: writing needs a writable
                    // file system (the service decides the rest when it is
                    // tried), executing needs an execute bit.
                    if mask.contains(AccessFlags::W_OK) && md.readonly {
                        reply.error(Errno::EROFS);
                    } else if mask.contains(AccessFlags::X_OK) && perm & 0o111 == 0 {
                        reply.error(Errno::EACCES);
                    } else {
                        reply.ok();
                    }
                }
                Err(e) => reply.error(e),
            }
        });
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        caught(|| {
            let name = match name_str(name) {
                Ok(n) => n.to_owned(),
                Err(e) => return reply.error(e),
            };
            let s = &self.shared;
            let live = s.path_of(parent.0).is_ok_and(|dir| {
                child(&dir, &name).is_ok_and(|p| s.options.policy_of(&p) == CachePolicy::Live)
            });
            if live {
                let s = s.clone();
                s.pool
                    .clone()
                    .run(move || s.create_now(parent.0, &name, mode, umask, flags, reply));
            } else {
                s.create_now(parent.0, &name, mode, umask, flags, reply);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_open_flags_become_the_services() {
        let f = open_flags(libc::O_WRONLY | libc::O_TRUNC | libc::O_APPEND);
        assert!(!f.read && f.write && f.truncate && f.append && f.nofollow);
        let f = open_flags(libc::O_RDONLY | libc::O_TRUNC | libc::O_NONBLOCK);
        assert!(f.read && !f.write && !f.truncate && f.nonblocking);
        let f = open_flags(libc::O_RDWR);
        assert!(f.read && f.write);
    }

    #[test]
    fn names_and_paths_have_limits() {
        assert_eq!(name_str(OsStr::new("ok")), Ok("ok"));
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert_eq!(name_str(OsStr::new(&long)), Err(Errno::ENAMETOOLONG));
        let deep = "/d".repeat(MAX_PATH_LEN / 2);
        let e = child(&deep, "f").map_err(|e| fail(&e));
        assert_eq!(e, Err(Errno::ENAMETOOLONG));
    }
}
