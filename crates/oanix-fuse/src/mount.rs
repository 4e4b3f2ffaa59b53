//! `FuseMount`: a file service mounted on a directory, for as long as the
//! value lives.

use std::ffi::OsStr;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use fuser::{BackgroundSession, Config, INodeNo, MountOption, Notifier, Session, SessionACL};
use oanix_vfs::{FileService, path};

use crate::attr::AttrDefaults;
use crate::error::{FuseError, Result};
use crate::fs::{OanixFs, Shared};
use crate::inodes::ROOT;
use crate::options::MountOptions;
use crate::sys;

/// Who unmounts.
#[derive(Debug)]
enum How {
    /// This crate mounted with `mount(2)` and detaches the mount itself;
    /// `device` tells it from whatever is mounted there later.
    Direct { device: u64 },
    /// `fusermount3` mounted for an unprivileged user; fuser's session
    /// unmounts through it.
    Helper,
}

/// A [`FileService`] (a whole [`Namespace`](oanix_vfs::Namespace), say)
/// mounted on a directory of the host through FUSE.
///
/// Dropping it unmounts (see [`FuseMount::unmount`]), on every path out of
/// the scope that holds it, a panic included. A process killed outright
/// leaves a dead mount behind, which [`FuseMount::cleanup_stale`] removes
/// (and the next [`FuseMount::mount`] on that directory does so first).
#[derive(Debug)]
pub struct FuseMount {
    mountpoint: PathBuf,
    shared: Arc<Shared>,
    notifier: Notifier,
    session: Option<BackgroundSession>,
    how: How,
}

impl FuseMount {
    /// Mounts `service` on the directory `mountpoint` with `options`.
    ///
    /// As root (or with `CAP_SYS_ADMIN` in the mount's user namespace) this
    /// calls `mount(2)` itself; otherwise it asks `fusermount3`. Errors say
    /// in one line what is missing: `/dev/fuse`, the fuse module, the
    /// mount point, or the right to mount.
    pub fn mount<S: FileService + 'static>(
        service: S,
        mountpoint: impl AsRef<Path>,
        options: MountOptions,
    ) -> Result<Self> {
        Self::mount_shared(Arc::new(service), mountpoint, options)
    }

    /// [`FuseMount::mount`] for a service that is shared already.
    pub fn mount_shared(
        service: Arc<dyn FileService>,
        mountpoint: impl AsRef<Path>,
        options: MountOptions,
    ) -> Result<Self> {
        options.validate()?;
        let given = mountpoint.as_ref();
        let mountpoint = check_mountpoint(given, options.cleanup_stale)?;
        let device = sys::open_device()?;
        if !sys::kernel_has_fuse() {
            return Err(FuseError::FuseDisabled);
        }
        let before = sys::device_of(&mountpoint)
            .map_err(|e| FuseError::io(format!("cannot stat {}", mountpoint.display()), e))?;
        let (uid, gid) = options.owner.unwrap_or_else(|| {
            (
                rustix::process::geteuid().as_raw(),
                rustix::process::getegid().as_raw(),
            )
        });
        let defaults = AttrDefaults {
            uid,
            gid,
            epoch: SystemTime::now(),
        };
        let shared = Arc::new(Shared::new(service, options, defaults));
        let config = session_config(&shared.options);
        let (session, how) = match sys::mount(&device, &mountpoint, &shared.options) {
            Ok(()) => {
                let fd = OwnedFd::from(device);
                let acl = config.acl;
                let started = Session::from_fd(OanixFs::new(shared.clone()), fd, acl, config)
                    .and_then(Session::spawn);
                match started {
                    Ok(session) => (session, How::Direct { device: 0 }),
                    Err(e) => {
                        let _ = sys::detach(&mountpoint);
                        return Err(FuseError::MountRefused {
                            path: mountpoint,
                            reason: format!("the kernel's first request failed: {e}"),
                        });
                    }
                }
            }
            Err(e) => {
                drop(device);
                match e.raw_os_error() {
                    Some(libc::EPERM) => {
                        let session = with_helper(&shared, &mountpoint, config, &e)?;
                        (session, How::Helper)
                    }
                    Some(libc::ENODEV) => return Err(FuseError::FuseDisabled),
                    Some(libc::ENOENT) => {
                        return Err(FuseError::MountpointMissing { path: mountpoint });
                    }
                    Some(libc::ENOTDIR) => {
                        return Err(FuseError::MountpointNotADirectory { path: mountpoint });
                    }
                    _ => {
                        return Err(FuseError::MountRefused {
                            path: mountpoint,
                            reason: e.to_string(),
                        });
                    }
                }
            }
        };
        let notifier = session.notifier();
        let mut mount = Self {
            mountpoint,
            shared,
            notifier,
            session: Some(session),
            how,
        };
        // The mount point's device is the mount's now (the first request
        // is served by the session just started).
        match sys::device_of(&mount.mountpoint) {
            Ok(after) if after != before => {
                if let How::Direct { device } = &mut mount.how {
                    *device = after;
                }
            }
            Ok(_) => {
                // Nothing of ours is there: leave whatever is alone.
                mount.how = How::Direct { device: u64::MAX };
                return Err(FuseError::MountRefused {
                    path: mount.mountpoint.clone(),
                    reason: "the mount did not appear".to_owned(),
                });
            }
            Err(e) => {
                // Ours, but not answering: take it down again.
                if matches!(mount.how, How::Direct { .. }) {
                    let _ = sys::detach(&mount.mountpoint);
                    mount.how = How::Direct { device: u64::MAX };
                }
                return Err(FuseError::io(
                    format!(
                        "the new mount on {} does not answer",
                        mount.mountpoint.display()
                    ),
                    e,
                ));
            }
        }
        Ok(mount)
    }

    /// The directory the service is mounted on (made absolute).
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Tells the kernel that the host changed `path` (a namespace path)
    /// through the API: its cached attributes, data and name, and its
    /// directory's cached listing, are dropped, so programs on the mount see
    /// the change at their next access whatever the
    /// [`CachePolicy`](crate::CachePolicy). For a path the kernel has not
    /// seen, the name it would be reached by is dropped (the kernel may
    /// remember that it did not exist) with its directory's listing.
    ///
    /// Call it from any thread but the mount's own (never from inside a
    /// service call made for the mount).
    pub fn invalidate(&self, path: &str) -> Result<()> {
        let p = path::normalize(path).map_err(|e| FuseError::InvalidOption {
            option: "path",
            reason: e.to_string(),
        })?;
        let known = self.shared.inodes().known(&p);
        let context = || format!("invalidating {p} on {}", self.mountpoint.display());
        let done = match (known.deepest, known.missing) {
            (Some((parent, name, ino)), None) => self
                .inval_inode(ino)
                .and_then(|()| self.inval_entry(parent, &name))
                .and_then(|()| self.inval_inode(parent)),
            (_, Some((parent, name))) => self
                .inval_entry(parent, &name)
                .and_then(|()| self.inval_inode(parent)),
            (None, None) => self.inval_inode(ROOT),
        };
        done.map_err(|e| FuseError::io(context(), e))
    }

    /// Drops the kernel's entry for `name` in `parent`, a negative one too
    /// (one the kernel does not hold needs nothing).
    fn inval_entry(&self, parent: u64, name: &str) -> io::Result<()> {
        self.notifier.inval_entry(INodeNo(parent), OsStr::new(name))
    }

    fn inval_inode(&self, ino: u64) -> io::Result<()> {
        self.notifier.inval_inode(INodeNo(ino), 0, 0)
    }

    /// Unmounts and waits until the threads serving the mount have ended.
    ///
    /// The mount leaves the directory tree at once (a lazy unmount, as
    /// `umount -l`), and its connection is aborted where the FUSE control
    /// file system is mounted (`/sys/fs/fuse/connections`), so requests
    /// still open fail. Without it, a program that still has a file of the
    /// mount open (or its working directory there) keeps being served, and
    /// this waits until it lets go.
    pub fn unmount(mut self) -> Result<()> {
        let detached = self.detach();
        let session = self.session.take();
        self.shared.pool.shutdown();
        if let Some(session) = session {
            match self.how {
                How::Direct { .. } => {
                    session.join().map_err(|e| FuseError::Unmount {
                        path: self.mountpoint.clone(),
                        source: e,
                    })?;
                }
                How::Helper => {
                    session.umount_and_join().map_err(|e| FuseError::Unmount {
                        path: self.mountpoint.clone(),
                        source: e,
                    })?;
                }
            }
        }
        detached
    }

    /// Detaches a direct mount (if it is still the one at the mount point)
    /// and aborts its connection.
    fn detach(&mut self) -> Result<()> {
        let How::Direct { device } = self.how else {
            return Ok(());
        };
        let mut result = Ok(());
        if sys::device_of(&self.mountpoint).is_ok_and(|d| d == device) {
            result = sys::detach(&self.mountpoint).map_err(|e| FuseError::Unmount {
                path: self.mountpoint.clone(),
                source: e,
            });
        }
        sys::abort_connection(device);
        // Once only.
        self.how = How::Direct { device: u64::MAX };
        result
    }

    /// Removes a dead FUSE mount at `mountpoint` — one whose serving
    /// process was killed, which answers "Transport endpoint is not
    /// connected" — with a lazy unmount. Returns whether there was one;
    /// a live mount, or none, is left alone.
    pub fn cleanup_stale(mountpoint: impl AsRef<Path>) -> Result<bool> {
        let mp = mountpoint.as_ref();
        match std::fs::metadata(mp) {
            Err(e) if sys::is_dead_mount(&e) => {
                sys::detach(mp).map_err(|e| FuseError::Unmount {
                    path: mp.to_path_buf(),
                    source: e,
                })?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Checks that this machine can mount: `/dev/fuse` opens and the
    /// kernel offers fuse. The error says what to install or enable.
    pub fn check_available() -> Result<()> {
        drop(sys::open_device()?);
        if !sys::kernel_has_fuse() {
            return Err(FuseError::FuseDisabled);
        }
        Ok(())
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        let _ = self.detach();
        self.shared.pool.shutdown();
        // A helper mount is unmounted by its session (`fusermount3 -u -z`).
        drop(self.session.take());
    }
}

/// The mount point made absolute, checked, and cleared of a dead mount.
fn check_mountpoint(given: &Path, cleanup: bool) -> Result<PathBuf> {
    let missing = || FuseError::MountpointMissing {
        path: given.to_path_buf(),
    };
    let md = match std::fs::metadata(given) {
        Err(e) if sys::is_dead_mount(&e) && cleanup => {
            FuseMount::cleanup_stale(given)?;
            std::fs::metadata(given)
        }
        other => other,
    };
    match md {
        Ok(md) if md.is_dir() => {}
        Ok(_) => {
            return Err(FuseError::MountpointNotADirectory {
                path: given.to_path_buf(),
            });
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(missing()),
        Err(e) if sys::is_dead_mount(&e) => {
            return Err(FuseError::MountRefused {
                path: given.to_path_buf(),
                reason: "a dead fuse mount is there (FuseMount::cleanup_stale removes it)"
                    .to_owned(),
            });
        }
        Err(e) => {
            return Err(FuseError::io(format!("cannot stat {}", given.display()), e));
        }
    }
    std::fs::canonicalize(given)
        .map_err(|e| FuseError::io(format!("cannot resolve {}", given.display()), e))
}

/// The session's threads and access rule.
fn session_config(options: &MountOptions) -> Config {
    let mut config = Config::default();
    config.n_threads = Some(options.threads);
    config.clone_fd = options.threads > 1;
    config.acl = if options.allow_other {
        SessionACL::All
    } else {
        SessionACL::Owner
    };
    config
}

/// Mounts through `fusermount3`, for a user without the right to mount.
fn with_helper(
    shared: &Arc<Shared>,
    mountpoint: &Path,
    mut config: Config,
    refused: &io::Error,
) -> Result<BackgroundSession> {
    let options = &shared.options;
    config.mount_options = vec![
        MountOption::FSName(options.fs_name.clone()),
        MountOption::Subtype("oanix".to_owned()),
        MountOption::NoSuid,
        MountOption::NoDev,
    ];
    if options.read_only {
        config.mount_options.push(MountOption::RO);
    }
    Session::new(OanixFs::new(shared.clone()), mountpoint, &config)
        .and_then(Session::spawn)
        .map_err(|e| FuseError::MountRefused {
            path: mountpoint.to_path_buf(),
            reason: format!("mount(2): {refused}; fusermount3: {e}"),
        })
}
