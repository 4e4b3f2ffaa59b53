//! `WorkspaceFs`: a real directory, escape-proof, its links reported to the
//! namespace rather than followed on the host.
//!
//! This is the only code in OANIX that touches the host file system on an
//! agent's behalf. Every path is resolved beneath the workspace root by the
//! kernel or by `cap-std`, never by checking a path string and then calling
//! `std::fs`, and no symbolic link is ever followed on the host: a lookup
//! that meets one answers [`FsError::Symlink`] and the resolver of the
//! namespace follows it there. The guarantee and its limits are written on
//! [`WorkspaceFs`].

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt, SystemTimeSpec};
use cap_std::fs::{Dir, OpenOptions, OpenOptionsExt};
use oanix_vfs::links;
use oanix_vfs::path::{self, VPath};
use oanix_vfs::{
    DirEntry, DirHandle, FileHandle, FileKind, FileService, FsError, FsErrorKind, Metadata,
    OpenFlags, Result, Timestamp, check_open_flags,
};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::OpenOptionsExt as _;

use crate::host_files::Slot;

/// A real directory as a file service, escape-proof.
///
/// Every path is resolved beneath the root without following any symbolic
/// link: on Linux by one `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`,
/// which the kernel refuses as soon as the path meets a link; then (or
/// where the kernel cannot) by `cap-std`, one component at a time, each
/// opened without following a link. Never by checking a path string and
/// then calling `std::fs`.
///
/// # Links
///
/// Symbolic links on disk keep the [links contract](oanix_vfs::service#the-contract):
/// the workspace never follows one itself. A lookup that meets a link as a
/// parent component, or as the last component of an operation that follows
/// it, answers [`FsError::Symlink`] with the link's virtual path and what
/// it holds on disk, and the namespace the workspace is mounted in (or
/// [`links::Follow`]) resolves the target *in the namespace*: an absolute
/// target starts at the namespace's root, not the host's, and `..` never
/// climbs above it. So `node_modules/.bin/tsc -> ../typescript/bin/tsc` or
/// `venv/bin/python -> python3` work as on the host, while a link to
/// `/etc/passwd` reads the namespace's `/etc/passwd` (if it has one), never
/// the host's. A target that is not UTF-8 cannot be followed: it is
/// refused with `InvalidInput` naming the link.
///
/// `symlink` creates a real link holding its target verbatim, `readlink`
/// reads it, `lstat` and listings describe it ([`FileKind::Symlink`], its
/// size the target's length), `remove` and `rename` act on the link
/// itself, `link` makes a real hard link (`nlink` is the host's count).
/// A read-only workspace refuses `symlink` and `link` with `ReadOnly`.
///
/// # The guarantee, and its limits
///
/// - No path an agent writes, and no symbolic link planted in the workspace
///   (absolute, relative, chained, dangling, looping, `/proc/self/root`),
///   leads to a file outside the root: links are never followed on the
///   host, and the resolver follows them in the namespace, where `/` is the
///   namespace's root. A path written with `..` above the root fails with
///   [`FsError::Escape`], whose message holds only the virtual path.
/// - This holds under concurrent changes: a directory swapped for a link
///   between the check and the use can only make the operation fail (or,
///   for an operation on the last component, act on the link itself),
///   because every step is still resolved beneath the root refusing links
///   (the kernel's `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`, or `cap-std`
///   on single names with `O_NOFOLLOW`) and every final operation is made
///   relative to a directory reached that way, on one name, with the
///   variant of the call that does not follow a link. The root itself
///   renamed on the host keeps working (operations continue in the renamed
///   directory: the handle follows it, not its old name).
/// - FIFOs, sockets and devices are listed (as [`FileKind::Other`]) but never
///   opened, so an agent cannot block on one, wake a process blocked on one,
///   or reach a device: an entry is first opened with `O_PATH` (no effect on
///   the file), checked to be a regular file or a directory on that
///   descriptor, and only then opened for I/O through the descriptor
///   (`/proc/self/fd`). Without procfs, the file is opened by name (without
///   following a link) and checked to be the same one; only a host racing
///   that open could then make it touch a FIFO.
/// - Every open file is one of the host's descriptors, counted in a budget
///   shared by the whole process ([`host_files`](crate::host_files)): when
///   it is spent, opens of files fail with [`FsError::TooManyOpen`] and the
///   host keeps its remaining descriptors.
/// - Not covered: hard links that already point outside the workspace when
///   it is mounted (a hard link is the file itself; do not mount a directory
///   that holds hard links to secrets), the host's own permissions (the
///   agent acts with the process's rights inside the root), and resource
///   use (disk space is the host's). Links an agent creates are real: a
///   host program that later follows them on the host resolves them there.
/// - Names that are not UTF-8 cannot be addressed by OANIX paths; they are
///   left out of listings.
///
/// ```
/// use oanix_services::WorkspaceFs;
/// use oanix_vfs::{FileService, FsErrorKind, read_to_string, write_file};
///
/// let dir = std::env::temp_dir().join(format!("oanix-ws-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let ws = WorkspaceFs::new(&dir)?;
/// write_file(&ws, "/hello.txt", "hi")?;
/// assert_eq!(read_to_string(&ws, "/hello.txt")?, "hi");
/// assert_eq!(ws.stat("/../etc/passwd").unwrap_err().kind(), FsErrorKind::Escape);
///
/// // A link is reported, for the namespace to follow.
/// ws.symlink("hello.txt", "/greeting")?;
/// assert_eq!(ws.stat("/greeting").unwrap_err().kind(), FsErrorKind::Symlink);
/// let followed = oanix_vfs::links::Follow(&ws);
/// assert_eq!(read_to_string(&followed, "/greeting")?, "hi");
///
/// let ro = WorkspaceFs::readonly(&dir)?;
/// assert_eq!(write_file(&ro, "/x", "y").unwrap_err().kind(), FsErrorKind::ReadOnly);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Debug)]
pub struct WorkspaceFs {
    dir: Dir,
    readonly: bool,
    /// The host path it was opened at (none for [`WorkspaceFs::from_dir`]).
    root: Option<PathBuf>,
}

/// How many times a lookup that raced a change on the host is retried
/// before its error is answered.
const RETRIES: usize = 4;

/// The path to hand to the host for a canonical virtual path.
fn rel(p: &str) -> &str {
    if p == "/" { "." } else { &p[1..] }
}

/// Maps a host error on `vpath` into the shared vocabulary, keeping host
/// paths out of the message.
fn map_io(e: &io::Error, vpath: &str) -> FsError {
    if let Some(code) = e.raw_os_error() {
        return match code {
            libc::ENOENT => FsError::not_found(vpath),
            libc::EEXIST => FsError::already_exists(vpath),
            libc::ENOTDIR => FsError::not_a_directory(vpath),
            libc::EISDIR => FsError::is_a_directory(vpath),
            libc::ENOTEMPTY => FsError::not_empty(vpath),
            libc::EROFS => FsError::read_only(vpath),
            libc::EACCES | libc::EPERM => {
                FsError::permission_denied(vpath, "the host does not allow it")
            }
            // Links are never followed: a link met where none was a moment
            // before (a race with the host) ends here.
            libc::ELOOP => FsError::too_many_links(vpath),
            libc::EXDEV => FsError::cross_device(vpath, vpath),
            libc::ENAMETOOLONG => FsError::invalid_path(vpath, "name too long for the host"),
            libc::ENOSPC | libc::EDQUOT => FsError::no_space(vpath, 0),
            libc::EFBIG => FsError::too_large(vpath, 0),
            libc::EINVAL => FsError::invalid_input(vpath, "invalid argument"),
            libc::ENXIO | libc::ENODEV => {
                FsError::permission_denied(vpath, "not a regular file or directory")
            }
            libc::EAGAIN => FsError::would_block(vpath),
            libc::EBADF => FsError::bad_handle(vpath, "the handle does not allow it"),
            libc::EMLINK => FsError::io(vpath, "the file has as many names as the host allows"),
            _ => FsError::io(vpath, e.kind().to_string()),
        };
    }
    match e.kind() {
        // cap-std reports every attempt to leave the root this way, with no
        // OS error code.
        io::ErrorKind::PermissionDenied => FsError::escape(vpath),
        io::ErrorKind::NotFound => FsError::not_found(vpath),
        kind => FsError::io(vpath, kind.to_string()),
    }
}

/// The error for a lookup of `vpath` that the host kept changing under it.
fn changed(vpath: &str) -> FsError {
    FsError::io(vpath, "changed on the host while it was looked up")
}

/// The target of the link at `link` (a virtual path) as OANIX paths are:
/// UTF-8, or refused.
fn utf8_target(link: &str, target: Vec<u8>) -> Result<String> {
    String::from_utf8(target).map_err(|_| {
        FsError::invalid_input(
            link,
            "the target of this symbolic link is not UTF-8 and cannot be followed",
        )
    })
}

/// The target of the link `name` in `dir`: one `readlinkat`, which reads
/// the link itself and resolves nothing but that one name (never `..`, never
/// a `/`: a component of a canonical path).
fn read_link(dir: &Dir, name: &str) -> io::Result<Vec<u8>> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    rustix::fs::readlinkat(dir, name, Vec::new())
        .map(std::ffi::CString::into_bytes)
        .map_err(io::Error::from)
}

fn kind_of(is_dir: bool, is_file: bool, is_symlink: bool) -> FileKind {
    if is_dir {
        FileKind::Directory
    } else if is_file {
        FileKind::File
    } else if is_symlink {
        FileKind::Symlink
    } else {
        FileKind::Other
    }
}

/// The metadata of a host entry (a link described itself).
fn metadata_of(md: &std::fs::Metadata, readonly: bool) -> Metadata {
    use std::os::unix::fs::MetadataExt as _;
    let ft = md.file_type();
    let kind = kind_of(ft.is_dir(), ft.is_file(), ft.is_symlink());
    let mut out = match kind {
        FileKind::Directory => Metadata::directory(md.ino()),
        _ => Metadata::file(md.ino(), md.len()),
    };
    out.kind = kind;
    out.device = md.dev();
    out.nlink = md.nlink();
    out.readonly = readonly || md.permissions().readonly();
    out.created = md.created().ok().map(Timestamp::from);
    out.modified = md.modified().ok().map(Timestamp::from);
    out.accessed = md.accessed().ok().map(Timestamp::from);
    out
}

/// A directory of the workspace reached without following a link: the
/// root, or one opened below it.
enum Reached {
    Root,
    Below(Dir),
}

/// What is at a path, looked up without following a link in it.
struct Entry {
    /// An `O_PATH` descriptor of the entry itself (of the link, for a link).
    file: std::fs::File,
    md: Metadata,
}

/// What a name in a directory is, not following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameKind {
    Dir,
    Link,
    Other,
}

/// Options of the `O_PATH` probe of an entry: no effect on the file, and a
/// link is opened itself.
fn probe_options() -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.read(true)
        .custom_flags(libc::O_PATH)
        .follow(FollowSymlinks::No);
    opts
}

/// The kernel's lookup beneath the root refusing every link, where there is
/// one (Linux 5.6 and later): a single system call for the common case of
/// a path without links.
#[cfg(target_os = "linux")]
mod beneath {
    use std::os::fd::OwnedFd;
    use std::sync::atomic::{AtomicBool, Ordering};

    use cap_std::fs::Dir;
    use rustix::fs::{Mode, OFlags, ResolveFlags, openat2};
    use rustix::io::Errno;

    use oanix_vfs::OpenFlags;

    /// Set once `openat2` is found missing.
    static UNAVAILABLE: AtomicBool = AtomicBool::new(false);

    /// What one lookup by the kernel gave.
    pub(super) enum Beneath {
        /// The path, opened.
        Opened(OwnedFd),
        /// An answer the caller maps as it is (not found, permissions...).
        Failed(std::io::Error),
        /// A link on the way, something that is not a directory, a race,
        /// or no `openat2`: the component walk finds out which.
        Walk,
    }

    fn open(root: &Dir, rel: &str, flags: OFlags, mode: Mode) -> Beneath {
        if UNAVAILABLE.load(Ordering::Relaxed) {
            return Beneath::Walk;
        }
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS;
        for _ in 0..super::RETRIES {
            match openat2(root, rel, flags | OFlags::CLOEXEC, mode, resolve) {
                Ok(fd) => return Beneath::Opened(fd),
                // A rename on the host during the lookup: try again.
                Err(Errno::AGAIN) => {}
                Err(Errno::NOSYS) => {
                    UNAVAILABLE.store(true, Ordering::Relaxed);
                    return Beneath::Walk;
                }
                // ELOOP: a link. ENOTDIR: a file, or a link the walk names.
                // EXDEV: never for a canonical path without links, but the
                // walk answers it right. EPERM: some seccomp filters' way of
                // saying the call does not exist. EINVAL, E2BIG: a kernel
                // that does not know a flag.
                Err(
                    Errno::LOOP
                    | Errno::NOTDIR
                    | Errno::XDEV
                    | Errno::PERM
                    | Errno::INVAL
                    | Errno::TOOBIG,
                ) => return Beneath::Walk,
                Err(e) => return Beneath::Failed(e.into()),
            }
        }
        Beneath::Walk
    }

    /// An `O_PATH` descriptor of the entry at `rel` itself (a link's own,
    /// for a link in the last component).
    pub(super) fn probe(root: &Dir, rel: &str) -> Beneath {
        open(root, rel, OFlags::PATH | OFlags::NOFOLLOW, Mode::empty())
    }

    /// An `O_PATH` descriptor of the directory at `rel`.
    pub(super) fn dir(root: &Dir, rel: &str) -> Beneath {
        open(
            root,
            rel,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW,
            Mode::empty(),
        )
    }

    /// Creates the file at `rel` with `O_EXCL` (which never opens what
    /// exists, nor follows a link), open as `flags` ask.
    pub(super) fn create(root: &Dir, rel: &str, flags: OpenFlags) -> Beneath {
        let access = if flags.can_read() {
            OFlags::RDWR
        } else {
            OFlags::WRONLY
        };
        let append = if flags.append {
            OFlags::APPEND
        } else {
            OFlags::empty()
        };
        open(
            root,
            rel,
            access
                | append
                | OFlags::CREATE
                | OFlags::EXCL
                | OFlags::NOFOLLOW
                | OFlags::NONBLOCK
                | OFlags::NOCTTY,
            Mode::from_bits_truncate(0o666),
        )
    }

    /// The target of the link whose `O_PATH` descriptor is `link`.
    pub(super) fn readlink(link: &std::fs::File) -> Option<Vec<u8>> {
        rustix::fs::readlinkat(link, "", Vec::new())
            .ok()
            .map(std::ffi::CString::into_bytes)
    }
}

/// Where the kernel cannot look up beneath a root refusing links, the
/// component walk does every lookup.
#[cfg(not(target_os = "linux"))]
mod beneath {
    use cap_std::fs::Dir;
    use oanix_vfs::OpenFlags;

    /// What one lookup by the kernel gave: here, always the walk.
    pub(super) enum Beneath {
        /// Never built here.
        #[allow(dead_code, reason = "the Linux variant builds it")]
        Opened(std::os::fd::OwnedFd),
        /// Never built here.
        #[allow(dead_code, reason = "the Linux variant builds it")]
        Failed(std::io::Error),
        /// The component walk does the lookup.
        Walk,
    }

    pub(super) fn probe(_root: &Dir, _rel: &str) -> Beneath {
        Beneath::Walk
    }

    pub(super) fn dir(_root: &Dir, _rel: &str) -> Beneath {
        Beneath::Walk
    }

    pub(super) fn create(_root: &Dir, _rel: &str, _flags: OpenFlags) -> Beneath {
        Beneath::Walk
    }

    pub(super) fn readlink(_link: &std::fs::File) -> Option<Vec<u8>> {
        None
    }
}

use beneath::Beneath;

/// Sets `$opts` (std's or cap-std's `OpenOptions`) to open an existing
/// regular file for the I/O `$flags` ask for: never blocking, never taking
/// a controlling terminal. Truncation with append is done afterwards (the
/// host cannot do both in one open).
macro_rules! io_options {
    ($opts:ident, $flags:expr) => {
        $opts
            .read($flags.can_read())
            .write($flags.write)
            .append($flags.append)
            .truncate($flags.truncate && !$flags.append)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
    };
}

impl WorkspaceFs {
    /// The directory at `root`, read-write.
    pub fn new(root: impl AsRef<Path>) -> Result<Self> {
        Self::open(root.as_ref(), false)
    }

    /// The directory at `root`, read-only: every change is refused with
    /// `ReadOnly`.
    pub fn readonly(root: impl AsRef<Path>) -> Result<Self> {
        Self::open(root.as_ref(), true)
    }

    fn open(root: &Path, readonly: bool) -> Result<Self> {
        let shown = root.display().to_string();
        let dir = Dir::open_ambient_dir(root, cap_std::ambient_authority())
            .map_err(|e| FsError::io(shown, e.to_string()))?;
        Ok(Self {
            dir,
            readonly,
            root: Some(root.to_owned()),
        })
    }

    /// A workspace over an already open directory handle.
    pub fn from_dir(dir: Dir, readonly: bool) -> Self {
        Self {
            dir,
            readonly,
            root: None,
        }
    }

    /// The host path the directory was opened at, as given (none for a
    /// workspace made [`from_dir`](Self::from_dir)): what a snapshot names
    /// instead of copying the directory.
    pub fn root_path(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Whether this workspace refuses changes.
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    /// A second handle on the same directory, read-only (for a `CowFs`
    /// base, say, while this one stays writable for committing).
    pub fn readonly_view(&self) -> Result<Self> {
        let mut view = self.try_clone()?;
        view.readonly = true;
        Ok(view)
    }

    /// A second handle on the same directory, in the same mode.
    ///
    /// # Errors
    /// [`FsError`] if the directory handle cannot be duplicated.
    pub fn try_clone(&self) -> Result<Self> {
        let dir = self
            .dir
            .try_clone()
            .map_err(|e| FsError::io("/", e.to_string()))?;
        Ok(Self {
            dir,
            readonly: self.readonly,
            root: self.root.clone(),
        })
    }

    fn refuse_if_readonly(&self, p: &str) -> Result<()> {
        if self.readonly {
            Err(FsError::read_only(p))
        } else {
            Ok(())
        }
    }

    fn at<'a>(&'a self, reached: &'a Reached) -> &'a Dir {
        match reached {
            Reached::Root => &self.dir,
            Reached::Below(d) => d,
        }
    }

    /// The directory named by the first `end` bytes of `p` (canonical; `end`
    /// the end of a component, 0 for the root), reached from the root one
    /// component at a time by `cap-std`, each opened without following a
    /// link. A link on the way is reported for `p`.
    fn walk(&self, p: &VPath<'_>, end: usize) -> Result<Reached> {
        let full = p.as_str();
        let prefix = full.get(..end).unwrap_or(full);
        let mut cur = Reached::Root;
        let mut pos = 0;
        for comp in prefix.split('/').filter(|c| !c.is_empty()) {
            let comp_end = pos + 1 + comp.len();
            let next = self.step(&cur, comp, p, comp_end)?;
            cur = Reached::Below(next);
            pos = comp_end;
        }
        Ok(cur)
    }

    /// One component of [`walk`](Self::walk): the directory `comp` in
    /// `cur`, which ends at `comp_end` in `p`.
    fn step(&self, cur: &Reached, comp: &str, p: &VPath<'_>, comp_end: usize) -> Result<Dir> {
        let full = p.as_str();
        let at = self.at(cur);
        let mut last = None;
        for _ in 0..RETRIES {
            let e = match at.open_dir_nofollow(comp) {
                Ok(d) => return Ok(d),
                Err(e) => e,
            };
            // Why not: a link (the usual case here: the kernel refused one
            // on the way) is read at once; anything else is looked at.
            let link = full.get(..comp_end).unwrap_or(full);
            match read_link(at, comp) {
                Ok(target) => {
                    let target = utf8_target(link, target)?;
                    return Err(links::met(p, comp_end, target));
                }
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                Err(e) => return Err(map_io(&e, full)),
            }
            match at.symlink_metadata(comp) {
                // A link again: it changed under the lookup; look again.
                Ok(md) if md.file_type().is_symlink() => last = Some(changed(link)),
                Ok(md) if !md.is_dir() => return Err(FsError::not_a_directory(full)),
                // A directory now: it changed under the lookup, or the
                // host refuses it (permissions); look again.
                Ok(_) => last = Some(map_io(&e, full)),
                Err(e) => return Err(map_io(&e, full)),
            }
        }
        Err(last.unwrap_or_else(|| changed(full)))
    }

    /// The directory holding the last component of `p` (not the root),
    /// reached without following a link, and that component.
    fn parent_dir<'p>(&self, p: &'p VPath<'_>) -> Result<(Reached, &'p str)> {
        let full = p.as_str();
        let Some((parent, name)) = path::split(full) else {
            return Err(FsError::invalid_input(full, "the root has no parent"));
        };
        if parent == "/" {
            return Ok((Reached::Root, name));
        }
        match beneath::dir(&self.dir, rel(parent)) {
            Beneath::Opened(fd) => {
                return Ok((
                    Reached::Below(Dir::from_std_file(std::fs::File::from(fd))),
                    name,
                ));
            }
            Beneath::Failed(e) => return Err(map_io(&e, full)),
            Beneath::Walk => {}
        }
        Ok((self.walk(p, parent.len())?, name))
    }

    /// The entry at `p` itself (a link in its last component is not
    /// followed; one among its parents is reported).
    fn entry(&self, p: &VPath<'_>) -> Result<Entry> {
        let full = p.as_str();
        let file = match beneath::probe(&self.dir, rel(full)) {
            Beneath::Opened(fd) => std::fs::File::from(fd),
            Beneath::Failed(e) => return Err(map_io(&e, full)),
            Beneath::Walk if p.is_root() => {
                let probe = self
                    .dir
                    .open_with(".", &probe_options())
                    .map_err(|e| map_io(&e, full))?;
                probe.into_std()
            }
            Beneath::Walk => {
                // The kernel refused a link among the parents (or cannot
                // look up this way): walk to the parent at once.
                let (parent, name) = path::split(full).unwrap_or(("/", full));
                let dir = self.walk(p, parent.len())?;
                let probe = self
                    .at(&dir)
                    .open_with(name, &probe_options())
                    .map_err(|e| map_io(&e, full))?;
                probe.into_std()
            }
        };
        let md = file.metadata().map_err(|e| map_io(&e, full))?;
        Ok(Entry {
            md: metadata_of(&md, self.readonly),
            file,
        })
    }

    /// The target of the link `entry` found at `p`.
    fn target_of(&self, p: &VPath<'_>, entry: &Entry) -> Result<String> {
        let full = p.as_str();
        if let Some(target) = beneath::readlink(&entry.file) {
            return utf8_target(full, target);
        }
        let (dir, name) = self.parent_dir(p)?;
        let target = read_link(self.at(&dir), name).map_err(|e| map_io(&e, full))?;
        utf8_target(full, target)
    }

    /// The error for the link `entry` at `p`, met where it must be followed.
    fn link_met(&self, p: &VPath<'_>, entry: &Entry) -> FsError {
        match self.target_of(p, entry) {
            Ok(target) => links::met(p, p.as_str().len(), target),
            Err(e) => e,
        }
    }

    /// What the entry named `name` in `dir` is, not following it.
    fn name_kind(dir: &Dir, name: &str, full: &str) -> Result<NameKind> {
        let md = dir.symlink_metadata(name).map_err(|e| map_io(&e, full))?;
        Ok(if md.file_type().is_symlink() {
            NameKind::Link
        } else if md.is_dir() {
            NameKind::Dir
        } else {
            NameKind::Other
        })
    }

    /// The error for the link named `name` in `dir`, the last component of
    /// `p`, met where it must be followed.
    fn name_met(dir: &Dir, name: &str, p: &VPath<'_>) -> FsError {
        let full = p.as_str();
        let target = read_link(dir, name)
            .map_err(|e| match e.raw_os_error() {
                // It was a link a moment ago.
                Some(libc::EINVAL) => changed(full),
                _ => map_io(&e, full),
            })
            .and_then(|t| utf8_target(full, t));
        match target {
            Ok(target) => links::met(p, full.len(), target),
            Err(e) => e,
        }
    }

    /// For an operation that follows a link written with a trailing `/`
    /// and needs nothing at `p`: `AlreadyExists` for what is there (a link
    /// reported, to follow), `NotFound` for nothing.
    fn nothing_at_dir_path(dir: &Dir, name: &str, p: &VPath<'_>) -> FsError {
        let full = p.as_str();
        match Self::name_kind(dir, name, full) {
            Ok(NameKind::Link) => Self::name_met(dir, name, p),
            Ok(_) => FsError::already_exists(full),
            Err(e) => e,
        }
    }

    /// Opens what `entry` found at `p` as `flags` ask.
    ///
    /// Nothing but a regular file is ever opened for reading or writing:
    /// the entry was opened with `O_PATH` (which has no effect on the file:
    /// a FIFO's writer is not woken, a device's driver is not called), its
    /// type is checked on that descriptor, and only a regular file is then
    /// opened for I/O, through the descriptor itself (`/proc/self/fd`), so
    /// that no name is resolved twice.
    fn open_entry(
        &self,
        p: &VPath<'_>,
        flags: OpenFlags,
        entry: Entry,
    ) -> Result<Box<dyn FileHandle>> {
        let full = p.as_str();
        if entry.md.kind == FileKind::Symlink && p.is_dir_syntax() {
            // A trailing `/` follows the link, whatever the flags.
            return Err(self.link_met(p, &entry));
        }
        if flags.create_new {
            return Err(FsError::already_exists(full));
        }
        match entry.md.kind {
            FileKind::Symlink if flags.nofollow => {
                return Err(FsError::too_many_links(full));
            }
            FileKind::Symlink => return Err(self.link_met(p, &entry)),
            FileKind::Directory if flags.mutates() => return Err(FsError::is_a_directory(full)),
            FileKind::Directory => return Ok(DirHandle::boxed(full, entry.md)),
            FileKind::File => {}
            _ => {
                return Err(FsError::permission_denied(
                    full,
                    "not a regular file or directory",
                ));
            }
        }
        if flags.directory || p.is_dir_syntax() {
            return Err(FsError::not_a_directory(full));
        }
        let slot = Slot::take().map_err(|limit| FsError::too_many_open(full, limit))?;
        let file = self.reopen(p, flags, &entry)?;
        // The host cannot truncate and append in one open(2).
        if flags.truncate && flags.append {
            file.set_len(0).map_err(|e| map_io(&e, full))?;
        }
        Ok(self.handle(full, flags, file, slot))
    }

    /// The regular file `entry` found at `p`, opened for I/O.
    fn reopen(&self, p: &VPath<'_>, flags: OpenFlags, entry: &Entry) -> Result<std::fs::File> {
        let full = p.as_str();
        let mut opts = std::fs::OpenOptions::new();
        io_options!(opts, flags);
        // The descriptor's own file, not a name: `/proc/self/fd/N` is a
        // link the kernel resolves to the open file itself.
        let by_fd = format!("/proc/self/fd/{}", entry.file.as_raw_fd());
        match opts.open(&by_fd) {
            Ok(file) => Ok(file),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // No procfs: open by name (not following a link) and make
                // sure it is the file the probe checked. Only a host racing
                // this open can make it reach something else, and then
                // nothing is used.
                use std::os::unix::fs::MetadataExt as _;
                let (dir, name) = self.parent_dir(p)?;
                let mut cap_opts = OpenOptions::new();
                io_options!(cap_opts, flags);
                cap_opts.follow(FollowSymlinks::No);
                let file = self
                    .at(&dir)
                    .open_with(name, &cap_opts)
                    .map_err(|e| map_io(&e, full))?
                    .into_std();
                let now = file.metadata().map_err(|e| map_io(&e, full))?;
                if now.dev() != entry.md.device || now.ino() != entry.md.id {
                    return Err(FsError::io(full, "the file changed while it was opened"));
                }
                Ok(file)
            }
            Err(e) => Err(map_io(&e, full)),
        }
    }

    /// Creates the file at `p` (not the root, not written as a directory)
    /// with `O_CREAT | O_EXCL`, which never opens anything that exists nor
    /// follows a link.
    fn create_file(&self, p: &VPath<'_>, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let full = p.as_str();
        let slot = Slot::take().map_err(|limit| FsError::too_many_open(full, limit))?;
        let file = match beneath::create(&self.dir, rel(full), flags) {
            Beneath::Opened(fd) => std::fs::File::from(fd),
            Beneath::Failed(e) => return Err(map_io(&e, full)),
            Beneath::Walk => {
                let (dir, name) = self.parent_dir(p)?;
                self.at(&dir)
                    .open_with(name, &create_options(flags))
                    .map_err(|e| map_io(&e, full))?
                    .into_std()
            }
        };
        Ok(self.handle(full, flags, file, slot))
    }

    fn handle(
        &self,
        full: &str,
        flags: OpenFlags,
        file: std::fs::File,
        slot: Slot,
    ) -> Box<dyn FileHandle> {
        Box::new(WorkspaceHandle {
            file,
            path: full.to_owned(),
            read: flags.can_read(),
            write: flags.can_write(),
            readonly: self.readonly,
            _slot: slot,
        })
    }

    /// The directory at `p` itself, to list (a link is reported).
    fn dir_at(&self, p: &VPath<'_>) -> Result<Reached> {
        let full = p.as_str();
        if p.is_root() {
            return Ok(Reached::Root);
        }
        match beneath::dir(&self.dir, rel(full)) {
            Beneath::Opened(fd) => Ok(Reached::Below(Dir::from_std_file(std::fs::File::from(fd)))),
            Beneath::Failed(e) => Err(map_io(&e, full)),
            Beneath::Walk => self.walk(p, full.len()),
        }
    }
}

/// Options creating the file a create open asks for, with `O_EXCL`
/// (nothing that exists is opened, no link is followed).
fn create_options(flags: OpenFlags) -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.read(flags.can_read())
        .write(!flags.append)
        .append(flags.append)
        .create_new(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    opts
}

fn time_spec(t: Option<Timestamp>) -> Option<SystemTimeSpec> {
    t.map(|t| {
        let std = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(t.as_nanos());
        SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(std))
    })
}

impl FileService for WorkspaceFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        check_open_flags(full, flags)?;
        if flags.mutates() {
            self.refuse_if_readonly(full)?;
        }
        if flags.creates() && !p.is_root() && !p.is_dir_syntax() {
            // Create first: `O_EXCL` opens nothing that exists. What exists
            // is then opened as any existing entry is (a link in the last
            // component is reported, as a create follows it).
            let mut last = None;
            for _ in 0..RETRIES {
                match self.create_file(&p, flags) {
                    Ok(handle) => return Ok(handle),
                    Err(e) if e.kind() == FsErrorKind::AlreadyExists && !flags.create_new => {}
                    Err(e) => return Err(e),
                }
                match self.entry(&p) {
                    Ok(entry) => return self.open_entry(&p, flags, entry),
                    // Removed meanwhile: create it after all.
                    Err(e) if e.kind() == FsErrorKind::NotFound => last = Some(e),
                    Err(e) => return Err(e),
                }
            }
            return Err(last.unwrap_or_else(|| FsError::not_found(full)));
        }
        match self.entry(&p) {
            Ok(entry) => self.open_entry(&p, flags, entry),
            Err(e) if e.kind() == FsErrorKind::NotFound && flags.creates() => {
                // Only a path written as a directory gets here: the
                // parent's error comes first, as for any other path.
                self.parent_dir(&p)?;
                Err(FsError::is_a_directory(full))
            }
            Err(e) => Err(e),
        }
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        use cap_std::fs::MetadataExt as _;
        use std::os::unix::fs::DirEntryExt as _;
        let p = path::parse(path)?;
        let full = p.as_str();
        let dir = self.dir_at(&p)?;
        let entries = self.at(&dir).entries().map_err(|e| map_io(&e, full))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| map_io(&e, full))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            // The entry itself: a link is listed as a link.
            let (kind, size, id) = match entry.metadata() {
                Ok(md) => {
                    let ft = md.file_type();
                    let kind = kind_of(ft.is_dir(), ft.is_file(), ft.is_symlink());
                    let size = match kind {
                        FileKind::File | FileKind::Symlink => md.len(),
                        _ => 0,
                    };
                    (kind, size, md.ino())
                }
                // Removed since it was read.
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
                Err(_) => match entry.file_type() {
                    Ok(ft) => (
                        kind_of(ft.is_dir(), ft.is_file(), ft.is_symlink()),
                        0,
                        entry.ino(),
                    ),
                    Err(_) => (FileKind::Other, 0, entry.ino()),
                },
            };
            out.push(DirEntry::new(name, kind, size, id));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let entry = self.entry(&p)?;
        match entry.md.kind {
            FileKind::Symlink => Err(self.link_met(&p, &entry)),
            FileKind::Directory => Ok(entry.md),
            _ if p.is_dir_syntax() => Err(FsError::not_a_directory(p.as_str())),
            _ => Ok(entry.md),
        }
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let entry = self.entry(&p)?;
        match entry.md.kind {
            // A trailing `/` follows the link.
            FileKind::Symlink if p.is_dir_syntax() => Err(self.link_met(&p, &entry)),
            FileKind::Directory => Ok(entry.md),
            _ if p.is_dir_syntax() => Err(FsError::not_a_directory(p.as_str())),
            _ => Ok(entry.md),
        }
    }

    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        let p = path::parse(link)?;
        let full = p.as_str();
        links::check_target(full, target)?;
        self.refuse_if_readonly(full)?;
        if p.is_root() {
            return Err(FsError::already_exists(full));
        }
        let (dir, name) = self.parent_dir(&p)?;
        let at = self.at(&dir);
        if p.is_dir_syntax() {
            return Err(Self::nothing_at_dir_path(at, name, &p));
        }
        at.symlink_contents(target, name)
            .map_err(|e| map_io(&e, full))
    }

    fn readlink(&self, path: &str) -> Result<String> {
        let p = path::parse(path)?;
        let entry = self.entry(&p)?;
        match entry.md.kind {
            FileKind::Symlink if p.is_dir_syntax() => Err(self.link_met(&p, &entry)),
            FileKind::Symlink => self.target_of(&p, &entry),
            FileKind::Directory => Err(FsError::invalid_input(p.as_str(), "not a symbolic link")),
            _ if p.is_dir_syntax() => Err(FsError::not_a_directory(p.as_str())),
            _ => Err(FsError::invalid_input(p.as_str(), "not a symbolic link")),
        }
    }

    fn link(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        let pt = path::parse(to)?;
        let (f, t) = (pf.as_str(), pt.as_str());
        self.refuse_if_readonly(t)?;
        if pf.is_root() {
            return Err(FsError::permission_denied(f, "cannot link a directory"));
        }
        let (from_dir, from_name) = self.parent_dir(&pf)?;
        match Self::name_kind(self.at(&from_dir), from_name, f)? {
            NameKind::Dir => {
                return Err(FsError::permission_denied(f, "cannot link a directory"));
            }
            // A trailing `/` follows the link.
            NameKind::Link if pf.is_dir_syntax() => {
                return Err(Self::name_met(self.at(&from_dir), from_name, &pf));
            }
            _ if pf.is_dir_syntax() => return Err(FsError::not_a_directory(f)),
            _ => {}
        }
        if pt.is_root() {
            return Err(FsError::already_exists(t));
        }
        let (to_dir, to_name) = self.parent_dir(&pt)?;
        if pt.is_dir_syntax() {
            return Err(Self::nothing_at_dir_path(self.at(&to_dir), to_name, &pt));
        }
        // `linkat` without `AT_SYMLINK_FOLLOW`: a link is linked itself.
        self.at(&from_dir)
            .hard_link(from_name, self.at(&to_dir), to_name)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::EEXIST) => FsError::already_exists(t),
                Some(libc::EXDEV) => FsError::cross_device(f, t),
                Some(libc::EPERM) => {
                    FsError::permission_denied(f, "the host does not allow linking it")
                }
                _ => map_io(&e, f),
            })
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        self.refuse_if_readonly(full)?;
        if p.is_root() {
            return Err(FsError::already_exists(full));
        }
        let (dir, name) = self.parent_dir(&p)?;
        let at = self.at(&dir);
        if p.is_dir_syntax() && Self::name_kind(at, name, full).ok() == Some(NameKind::Link) {
            // A trailing `/` follows the link.
            return Err(Self::name_met(at, name, &p));
        }
        at.create_dir(name).map_err(|e| map_io(&e, full))
    }

    fn remove(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        self.refuse_if_readonly(full)?;
        if p.is_root() {
            return Err(FsError::permission_denied(full, "cannot remove the root"));
        }
        let (dir, name) = self.parent_dir(&p)?;
        let at = self.at(&dir);
        // Removing a link removes the link; written with a trailing `/`,
        // it is no directory (as on Linux).
        match Self::name_kind(at, name, full)? {
            NameKind::Dir => at.remove_dir(name).map_err(|e| map_io(&e, full)),
            _ if p.is_dir_syntax() => Err(FsError::not_a_directory(full)),
            _ => at.remove_file(name).map_err(|e| map_io(&e, full)),
        }
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        let pt = path::parse(to)?;
        let (f, t) = (pf.as_str(), pt.as_str());
        self.refuse_if_readonly(f)?;
        if pf.is_root() || pt.is_root() {
            let root = if pf.is_root() { f } else { t };
            return Err(FsError::permission_denied(root, "cannot rename the root"));
        }
        let (from_dir, from_name) = self.parent_dir(&pf)?;
        // A link is renamed itself; written with a trailing `/`, it is no
        // directory (as on Linux).
        let src_is_dir = Self::name_kind(self.at(&from_dir), from_name, f)? == NameKind::Dir;
        if src_is_dir && path::is_strict_descendant(t, f) {
            return Err(FsError::invalid_input(
                t,
                format!("cannot move the directory {f} inside itself"),
            ));
        }
        if !src_is_dir && pf.is_dir_syntax() {
            return Err(FsError::not_a_directory(f));
        }
        if f == t {
            return Ok(());
        }
        let (to_dir, to_name) = self.parent_dir(&pt)?;
        if !src_is_dir && pt.is_dir_syntax() {
            return Err(FsError::not_a_directory(t));
        }
        self.at(&from_dir)
            .rename(from_name, self.at(&to_dir), to_name)
            .map_err(|e| match map_io(&e, t) {
                // The source was found above; a missing path now is `to`'s.
                FsError::CrossDevice { .. } => FsError::cross_device(f, t),
                // Linux says "not empty" when `to` is a directory holding
                // `from` (an ancestor); what is wrong is that a file cannot
                // replace a directory, as for any other directory.
                FsError::NotEmpty { .. } if !src_is_dir => FsError::is_a_directory(t),
                other => other,
            })
    }

    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        self.refuse_if_readonly(full)?;
        if p.is_root() {
            return self
                .dir
                .set_times(".", time_spec(accessed), time_spec(modified))
                .map_err(|e| map_io(&e, full));
        }
        let (dir, name) = self.parent_dir(&p)?;
        let at = self.at(&dir);
        match Self::name_kind(at, name, full)? {
            NameKind::Link => return Err(Self::name_met(at, name, &p)),
            NameKind::Other if p.is_dir_syntax() => return Err(FsError::not_a_directory(full)),
            _ => {}
        }
        // Not following a link: one that appeared since is changed itself.
        at.set_symlink_times(name, time_spec(accessed), time_spec(modified))
            .map_err(|e| map_io(&e, full))
    }

    fn fs_type(&self) -> &'static str {
        "workspacefs"
    }
}

/// An open workspace file. Once open, a file is reached through its
/// descriptor only: no path is resolved again.
#[derive(Debug)]
struct WorkspaceHandle {
    file: std::fs::File,
    path: String,
    read: bool,
    write: bool,
    readonly: bool,
    /// This descriptor's share of the process-wide budget.
    _slot: Slot,
}

impl WorkspaceHandle {
    fn check_read(&self) -> Result<()> {
        if self.read {
            Ok(())
        } else {
            Err(FsError::bad_handle(&self.path, "not opened for reading"))
        }
    }
    fn check_write(&self) -> Result<()> {
        if self.write {
            Ok(())
        } else {
            Err(FsError::bad_handle(&self.path, "not opened for writing"))
        }
    }
    fn map(&self, e: &io::Error) -> FsError {
        map_io(e, &self.path)
    }
}

impl FileHandle for WorkspaceHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.check_read()?;
        self.file.read(buf).map_err(|e| self.map(&e))
    }
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        self.check_write()?;
        self.file.write(buf).map_err(|e| self.map(&e))
    }
    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        self.file.seek(pos).map_err(|e| match self.map(&e) {
            FsError::InvalidInput { path, .. } => {
                FsError::invalid_input(path, "seek before the start of the file")
            }
            other => other,
        })
    }
    fn flush(&mut self) -> Result<()> {
        self.file.flush().map_err(|e| self.map(&e))
    }
    fn stat(&self) -> Result<Metadata> {
        let md = self.file.metadata().map_err(|e| self.map(&e))?;
        Ok(metadata_of(&md, self.readonly))
    }
    fn set_len(&mut self, len: u64) -> Result<()> {
        self.check_write()?;
        self.file.set_len(len).map_err(|e| self.map(&e))
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        self.check_read()?;
        self.file.read_at(buf, offset).map_err(|e| self.map(&e))
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        self.check_write()?;
        self.file.write_at(buf, offset).map_err(|e| self.map(&e))
    }
}
