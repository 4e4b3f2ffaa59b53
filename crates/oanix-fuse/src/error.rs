//! `FuseError`: why a mount could not be made, changed or undone, in one line
//! that says what to do about it.

use std::io;
use std::path::PathBuf;

/// The result type of this crate's operations.
pub type Result<T, E = FuseError> = std::result::Result<T, E>;

/// Everything that can go wrong when mounting, invalidating or unmounting.
///
/// Each message is one line naming the missing piece and how to get it.
/// Errors of the file operations themselves never appear here: they reach
/// the programs using the mount as `errno` values.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FuseError {
    /// FUSE mounts exist only on Linux.
    #[error("fuse mounts need linux; this is {os}")]
    UnsupportedPlatform {
        /// The operating system this was built for.
        os: &'static str,
    },
    /// `/dev/fuse` does not exist.
    #[error(
        "/dev/fuse is missing: load the fuse module (`modprobe fuse`), or give the container the device (`--device /dev/fuse`)"
    )]
    NoDevice,
    /// `/dev/fuse` exists but cannot be opened.
    #[error(
        "cannot open /dev/fuse: {source} (a container needs the device and the cgroup rule for it)"
    )]
    DeviceUnusable {
        /// Why the open failed.
        #[source]
        source: io::Error,
    },
    /// The kernel has no `fuse` file system type.
    #[error(
        "the kernel does not offer fuse: load it with `modprobe fuse` (or build it with CONFIG_FUSE_FS)"
    )]
    FuseDisabled,
    /// The mount point does not exist.
    #[error("mountpoint {} does not exist: create the directory first", path.display())]
    MountpointMissing {
        /// The mount point given.
        path: PathBuf,
    },
    /// The mount point is not a directory.
    #[error("mountpoint {} is not a directory", path.display())]
    MountpointNotADirectory {
        /// The mount point given.
        path: PathBuf,
    },
    /// The kernel (and `fusermount3`, where it was tried) refused the mount.
    #[error(
        "mount on {} refused: {reason}: mount as root (or with CAP_SYS_ADMIN in the mount's user namespace), or install fuse3 so that fusermount3 can mount for this user",
        path.display()
    )]
    MountRefused {
        /// The mount point.
        path: PathBuf,
        /// What the kernel or the helper said.
        reason: String,
    },
    /// A mount option is not acceptable.
    #[error("invalid mount option `{option}`: {reason}")]
    InvalidOption {
        /// The option.
        option: &'static str,
        /// What is wrong with it, and what is expected.
        reason: String,
    },
    /// Unmounting failed.
    #[error("cannot unmount {}: {source}", path.display())]
    Unmount {
        /// The mount point.
        path: PathBuf,
        /// What the kernel or the helper said.
        #[source]
        source: io::Error,
    },
    /// Another I/O error, with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: io::Error,
    },
}

impl FuseError {
    /// An [`FuseError::Io`] saying what was being done.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
