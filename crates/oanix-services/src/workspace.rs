//! `WorkspaceFs`: a real directory, escape-proof.
//!
//! This is the only code in OANIX that touches the host file system on an
//! agent's behalf. Every path is resolved beneath the workspace root by
//! `cap-std` (a directory handle, `openat`-style resolution one component
//! at a time, `openat2(RESOLVE_BENEATH)` where the kernel has it) — never by
//! checking a path string and then calling `std::fs`. The guarantee and
//! its limits are written on [`WorkspaceFs`].

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use cap_fs_ext::{DirExt, SystemTimeSpec};
use cap_std::fs::{Dir, MetadataExt, OpenOptions, OpenOptionsExt};
use oanix_vfs::path::{self, VPath};
use oanix_vfs::{
    DirEntry, DirHandle, FileHandle, FileKind, FileService, FsError, FsErrorKind, Metadata,
    OpenFlags, Result, Timestamp, check_open_flags,
};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::DirEntryExt as _;
use std::os::unix::fs::OpenOptionsExt as _;

use crate::host_files::Slot;

/// A real directory as a file service, escape-proof.
///
/// Every path is resolved beneath the root by `cap-std` (a directory
/// handle, `openat`-style resolution one component at a time,
/// `openat2(RESOLVE_BENEATH)` where the kernel has it) — never by checking a
/// path string and then calling `std::fs`.
///
/// # The guarantee, and its limits
///
/// - No path an agent writes, and no symbolic link planted in the workspace
///   (absolute, relative, chained, dangling, looping, `/proc/self/root`),
///   leads to a file outside the root. Links that stay inside work; one that
///   leads out fails with [`FsError::Escape`], whose message holds only the
///   virtual path.
/// - This holds under concurrent changes: a directory swapped for an outward
///   link while the agent works below it, or the root itself renamed on the
///   host (operations continue in the renamed directory: the handle follows
///   it, not its old name).
/// - FIFOs, sockets and devices are listed (as [`FileKind::Other`]) but never
///   opened, so an agent cannot block on one, wake a process blocked on one,
///   or reach a device: an entry is first opened with `O_PATH` (no effect on
///   the file), checked to be a regular file or a directory on that
///   descriptor, and only then opened for I/O through the descriptor
///   (`/proc/self/fd`). Without procfs, the file is opened by name and
///   checked to be the same one; only a host racing that open could then
///   make it touch a FIFO.
/// - Every open file is one of the host's descriptors, counted in a budget
///   shared by the whole process ([`host_files`](crate::host_files)): when
///   it is spent, opens fail with [`FsError::TooManyOpen`] and the host keeps
///   its remaining descriptors.
/// - Not covered: hard links that already point outside the workspace when
///   it is mounted (a hard link is the file itself; do not mount a directory
///   that holds hard links to secrets), the host's own permissions (the
///   agent acts with the process's rights inside the root), and resource
///   use (disk space is the host's).
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
/// let ro = WorkspaceFs::readonly(&dir)?;
/// assert_eq!(write_file(&ro, "/x", "y").unwrap_err().kind(), FsErrorKind::ReadOnly);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// # Ok::<(), oanix_vfs::FsError>(())
/// ```
#[derive(Debug)]
pub struct WorkspaceFs {
    dir: Dir,
    readonly: bool,
}

/// The path to hand to cap-std for a canonical virtual path.
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
            libc::ELOOP => FsError::permission_denied(vpath, "too many levels of symbolic links"),
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

fn kind_of(ft: cap_std::fs::FileType) -> FileKind {
    if ft.is_dir() {
        FileKind::Directory
    } else if ft.is_file() {
        FileKind::File
    } else {
        FileKind::Other
    }
}

fn timestamp(t: io::Result<cap_std::time::SystemTime>) -> Option<Timestamp> {
    t.ok().map(|t| Timestamp::from(t.into_std()))
}

fn metadata_of(md: &cap_std::fs::Metadata, readonly: bool) -> Metadata {
    let kind = kind_of(md.file_type());
    let mut out = match kind {
        FileKind::Directory => Metadata::directory(md.ino()),
        _ => Metadata::file(md.ino(), md.len()),
    };
    out.kind = kind;
    out.device = md.dev();
    out.readonly = readonly || md.permissions().readonly();
    out.created = timestamp(md.created());
    out.modified = timestamp(md.modified());
    out.accessed = timestamp(md.accessed());
    out
}

fn std_metadata(md: &std::fs::Metadata, readonly: bool) -> Metadata {
    use std::os::unix::fs::MetadataExt as _;
    let mut out = if md.is_dir() {
        Metadata::directory(md.ino())
    } else {
        Metadata::file(md.ino(), md.len())
    };
    out.device = md.dev();
    out.readonly = readonly || md.permissions().readonly();
    out.created = md.created().ok().map(Timestamp::from);
    out.modified = md.modified().ok().map(Timestamp::from);
    out.accessed = md.accessed().ok().map(Timestamp::from);
    out
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
        Ok(Self { dir, readonly })
    }

    /// A workspace over an already open directory handle.
    pub fn from_dir(dir: Dir, readonly: bool) -> Self {
        Self { dir, readonly }
    }

    /// Whether this workspace refuses changes.
    pub fn is_readonly(&self) -> bool {
        self.readonly
    }

    /// A second handle on the same directory, read-only (for a `CowFs`
    /// base, say, while this one stays writable for committing).
    pub fn readonly_view(&self) -> Result<Self> {
        let dir = self
            .dir
            .try_clone()
            .map_err(|e| FsError::io("/", e.to_string()))?;
        Ok(Self {
            dir,
            readonly: true,
        })
    }

    /// The metadata at `p` (following links inside the workspace).
    fn meta(&self, p: &str) -> Result<cap_std::fs::Metadata> {
        self.dir.metadata(rel(p)).map_err(|e| map_io(&e, p))
    }

    /// Checks that the parent of `p` is a directory; errors name `p`.
    fn check_parent(&self, p: &str) -> Result<()> {
        let parent = path::parent(p).unwrap_or("/");
        match self.dir.metadata(rel(parent)) {
            Ok(md) if md.is_dir() => Ok(()),
            Ok(_) => Err(FsError::not_a_directory(p)),
            Err(e) => Err(match map_io(&e, p) {
                FsError::NotADirectory { .. } => FsError::not_a_directory(p),
                FsError::Escape { .. } => FsError::escape(p),
                FsError::NotFound { .. } => FsError::not_found(p),
                other => other,
            }),
        }
    }

    fn refuse_if_readonly(&self, p: &str) -> Result<()> {
        if self.readonly {
            Err(FsError::read_only(p))
        } else {
            Ok(())
        }
    }

    /// Opens a regular file; `exists` says what the checks before found.
    ///
    /// Nothing but a regular file is ever opened for reading or writing:
    /// an existing entry is first opened with `O_PATH` (which has no effect
    /// on the file: a FIFO's writer is not woken, a device's driver is not
    /// called), its type is checked on that descriptor, and only a regular
    /// file is then opened for I/O, through the descriptor itself
    /// (`/proc/self/fd`), so that no name is resolved twice.
    fn open_file(
        &self,
        p: &VPath<'_>,
        flags: OpenFlags,
        exists: bool,
    ) -> Result<Box<dyn FileHandle>> {
        let full = p.as_str();
        let slot = Slot::take().map_err(|limit| FsError::too_many_open(full, limit))?;
        let opened = if !exists && flags.creates() {
            self.create_file(full, flags)?
        } else {
            self.open_existing(full, flags)?
        };
        let (file, created) = match opened {
            Opened::Dir(md) => {
                if flags.mutates() {
                    return Err(FsError::is_a_directory(full));
                }
                return Ok(DirHandle::boxed(full, metadata_of(&md, self.readonly)));
            }
            Opened::File { file, created } => (file, created),
        };
        if flags.directory {
            if created {
                // Only a race can get here (the checks before found nothing
                // and the caller asked for a directory); leave no file behind.
                let _ = self.dir.remove_file(rel(full));
            }
            return Err(FsError::not_a_directory(full));
        }
        // The host cannot truncate and append in one open(2).
        if flags.truncate && flags.append && !created {
            file.set_len(0).map_err(|e| map_io(&e, full))?;
        }
        Ok(Box::new(WorkspaceHandle {
            file,
            path: full.to_owned(),
            read: flags.can_read(),
            write: flags.can_write(),
            readonly: self.readonly,
            _slot: slot,
        }))
    }

    /// Opens what exists at `full` (see [`open_file`](Self::open_file)).
    fn open_existing(&self, full: &str, flags: OpenFlags) -> Result<Opened> {
        let mut probe_opts = OpenOptions::new();
        probe_opts.read(true).custom_flags(libc::O_PATH);
        let probe = self
            .dir
            .open_with(rel(full), &probe_opts)
            .map_err(|e| map_io(&e, full))?;
        let md = probe.metadata().map_err(|e| map_io(&e, full))?;
        if md.is_dir() {
            return Ok(Opened::Dir(md));
        }
        if !md.is_file() {
            return Err(FsError::permission_denied(
                full,
                "not a regular file or directory",
            ));
        }
        let probe = probe.into_std();
        let mut opts = std::fs::OpenOptions::new();
        io_options!(opts, flags);
        // The descriptor's own file, not a name: `/proc/self/fd/N` is a
        // link the kernel resolves to the open file itself.
        let by_fd = format!("/proc/self/fd/{}", probe.as_raw_fd());
        match opts.open(&by_fd) {
            Ok(file) => Ok(Opened::File {
                file,
                created: false,
            }),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                // No procfs: open by name and make sure it is the file the
                // probe checked. Only a host racing this open can make it
                // reach something else, and then nothing is used.
                let mut cap_opts = OpenOptions::new();
                io_options!(cap_opts, flags);
                let file = self
                    .dir
                    .open_with(rel(full), &cap_opts)
                    .map_err(|e| map_io(&e, full))?;
                let now = file.metadata().map_err(|e| map_io(&e, full))?;
                if now.dev() != md.dev() || now.ino() != md.ino() {
                    return Err(FsError::io(full, "the file changed while it was opened"));
                }
                Ok(Opened::File {
                    file: file.into_std(),
                    created: false,
                })
            }
            Err(e) => Err(map_io(&e, full)),
        }
    }

    /// Creates the file at `full` (`O_CREAT | O_EXCL`, which never opens
    /// anything that exists); when something exists there after all, opens
    /// that as [`open_existing`](Self::open_existing) does, unless the
    /// caller asked for a new file.
    fn create_file(&self, full: &str, flags: OpenFlags) -> Result<Opened> {
        match self.dir.open_with(rel(full), &create_options(flags, true)) {
            Ok(file) => Ok(Opened::File {
                file: file.into_std(),
                created: true,
            }),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) && !flags.create_new => {
                match self.open_existing(full, flags) {
                    Err(e) if e.kind() == FsErrorKind::NotFound => {
                        // A dangling link inside the root: create what it
                        // names, as open(2) does; a new file has no effect
                        // on anything.
                        let file = self
                            .dir
                            .open_with(rel(full), &create_options(flags, false))
                            .map_err(|e| map_io(&e, full))?;
                        let md = file.metadata().map_err(|e| map_io(&e, full))?;
                        if !md.is_file() {
                            return Err(FsError::permission_denied(
                                full,
                                "not a regular file or directory",
                            ));
                        }
                        Ok(Opened::File {
                            file: file.into_std(),
                            created: true,
                        })
                    }
                    other => other,
                }
            }
            Err(e) => Err(map_io(&e, full)),
        }
    }
}

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
use io_options;

/// Options creating the file a create open asks for: with `O_EXCL` when
/// `exclusive` (nothing that exists is opened), else through a dangling link.
fn create_options(flags: OpenFlags, exclusive: bool) -> OpenOptions {
    let mut opts = OpenOptions::new();
    opts.read(flags.can_read())
        .write(!flags.append)
        .append(flags.append)
        .create(!exclusive)
        .create_new(exclusive)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    opts
}

/// What [`WorkspaceFs::open_file`] found and opened.
enum Opened {
    /// A directory (no descriptor is kept for it).
    Dir(cap_std::fs::Metadata),
    /// A regular file, open for I/O.
    File {
        file: std::fs::File,
        /// Whether this open created it.
        created: bool,
    },
}

impl FileService for WorkspaceFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        check_open_flags(full, flags)?;
        if flags.mutates() {
            self.refuse_if_readonly(full)?;
        }
        // The common case directly: open, and let the host say no. When it
        // does, the checks below find the error the contract names (the
        // host's precedence differs in corner cases).
        if !p.is_dir_syntax()
            && let Ok(handle) = self.open_file(&p, flags, !flags.creates())
        {
            return Ok(handle);
        }
        let exists = match self.meta(full) {
            Ok(md) => {
                if flags.create_new {
                    return Err(FsError::already_exists(full));
                }
                if md.is_dir() {
                    if flags.mutates() {
                        return Err(FsError::is_a_directory(full));
                    }
                    return Ok(DirHandle::boxed(full, metadata_of(&md, self.readonly)));
                }
                if !md.is_file() {
                    return Err(FsError::permission_denied(
                        full,
                        "not a regular file or directory",
                    ));
                }
                if flags.directory || p.is_dir_syntax() {
                    return Err(FsError::not_a_directory(full));
                }
                true
            }
            Err(e) if e.kind() == FsErrorKind::NotFound && flags.creates() => {
                self.check_parent(full)?;
                if p.is_dir_syntax() {
                    return Err(FsError::is_a_directory(full));
                }
                false
            }
            Err(e) => return Err(e),
        };
        self.open_file(&p, flags, exists)
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let entries = self.dir.read_dir(rel(full)).map_err(|e| map_io(&e, full))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| map_io(&e, full))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let child = path::join(full, &name);
            let ft = entry.file_type().map_err(|e| map_io(&e, &child))?;
            // A link is listed as what it leads to, when that is inside.
            let md = if ft.is_symlink() {
                self.dir.metadata(rel(&child)).ok()
            } else {
                entry.metadata().ok()
            };
            let (kind, size, id) = match &md {
                Some(md) => (kind_of(md.file_type()), md.len(), md.ino()),
                None => (FileKind::Other, 0, entry.ino()),
            };
            let size = if kind == FileKind::File { size } else { 0 };
            out.push(DirEntry::new(name, kind, size, id));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let md = self.meta(p.as_str())?;
        if p.is_dir_syntax() && !md.is_dir() {
            return Err(FsError::not_a_directory(p.as_str()));
        }
        Ok(metadata_of(&md, self.readonly))
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        let full = p.as_str();
        // Links in the middle of the path are followed (inside the root, as
        // everywhere); one in the last component is described itself.
        let md = self
            .dir
            .symlink_metadata(rel(full))
            .map_err(|e| map_io(&e, full))?;
        if p.is_dir_syntax() && !md.is_dir() {
            return Err(FsError::not_a_directory(full));
        }
        Ok(metadata_of(&md, self.readonly))
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        self.refuse_if_readonly(full)?;
        if p.is_root() {
            return Err(FsError::already_exists(full));
        }
        self.dir.create_dir(rel(full)).map_err(|e| map_io(&e, full))
    }

    fn remove(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        self.refuse_if_readonly(full)?;
        if p.is_root() {
            return Err(FsError::permission_denied(full, "cannot remove the root"));
        }
        // Do not follow a link here: removing a link removes the link.
        let md = self
            .dir
            .symlink_metadata(rel(full))
            .map_err(|e| map_io(&e, full))?;
        if md.is_dir() {
            self.dir.remove_dir(rel(full)).map_err(|e| map_io(&e, full))
        } else if p.is_dir_syntax() {
            Err(FsError::not_a_directory(full))
        } else {
            self.dir
                .remove_file(rel(full))
                .map_err(|e| map_io(&e, full))
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
        let src = self
            .dir
            .symlink_metadata(rel(f))
            .map_err(|e| map_io(&e, f))?;
        if src.is_dir() && path::is_strict_descendant(t, f) {
            return Err(FsError::invalid_input(
                t,
                format!("cannot move the directory {f} inside itself"),
            ));
        }
        if !src.is_dir() && pf.is_dir_syntax() {
            return Err(FsError::not_a_directory(f));
        }
        if f == t {
            return Ok(());
        }
        self.check_parent(t)?;
        if !src.is_dir() && pt.is_dir_syntax() {
            return Err(FsError::not_a_directory(t));
        }
        self.dir
            .rename(rel(f), &self.dir, rel(t))
            .map_err(|e| match map_io(&e, t) {
                // The source was found above; a missing path now is `to`'s.
                FsError::CrossDevice { .. } => FsError::cross_device(f, t),
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
        let spec = |t: Option<Timestamp>| {
            t.map(|t| {
                let std = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(t.as_nanos());
                SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(std))
            })
        };
        self.dir
            .set_times(rel(full), spec(accessed), spec(modified))
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
        Ok(std_metadata(&md, self.readonly))
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
