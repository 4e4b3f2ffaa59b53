//! `FuseMount` where there is no FUSE: every mount answers
//! [`FuseError::UnsupportedPlatform`].

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use oanix_vfs::FileService;

use crate::error::{FuseError, Result};
use crate::options::MountOptions;

fn unsupported() -> FuseError {
    FuseError::UnsupportedPlatform {
        os: std::env::consts::OS,
    }
}

/// A mounted service; none can exist on this platform.
#[derive(Debug)]
pub struct FuseMount {
    never: Infallible,
}

impl FuseMount {
    /// Answers [`FuseError::UnsupportedPlatform`]: FUSE mounts need Linux.
    pub fn mount<S: FileService + 'static>(
        service: S,
        mountpoint: impl AsRef<Path>,
        options: MountOptions,
    ) -> Result<Self> {
        let _ = (service, mountpoint.as_ref(), options);
        Err(unsupported())
    }

    /// Answers [`FuseError::UnsupportedPlatform`]: FUSE mounts need Linux.
    pub fn mount_shared(
        service: Arc<dyn FileService>,
        mountpoint: impl AsRef<Path>,
        options: MountOptions,
    ) -> Result<Self> {
        let _ = (service, mountpoint.as_ref(), options);
        Err(unsupported())
    }

    /// The directory the service is mounted on.
    pub fn mountpoint(&self) -> &Path {
        match self.never {}
    }

    /// Tells the kernel that the host changed `path`.
    pub fn invalidate(&self, path: &str) -> Result<()> {
        let _ = path;
        match self.never {}
    }

    /// Unmounts and waits for the serving threads.
    pub fn unmount(self) -> Result<()> {
        match self.never {}
    }

    /// Answers [`FuseError::UnsupportedPlatform`].
    pub fn cleanup_stale(mountpoint: impl AsRef<Path>) -> Result<bool> {
        let _ = mountpoint.as_ref();
        Err(unsupported())
    }

    /// Answers [`FuseError::UnsupportedPlatform`].
    pub fn check_available() -> Result<()> {
        Err(unsupported())
    }
}
