//! What the tests share: a mounted namespace in a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use oanix_fuse::{FuseMount, MountOptions};
use oanix_vfs::FileService;
use tempfile::TempDir;

/// Fails, saying what is missing, where FUSE is not available: these tests
/// need it and never pass without it.
pub(crate) fn require_fuse() {
    if let Err(e) = FuseMount::check_available() {
        panic!("the oanix-fuse tests need a working FUSE: {e}");
    }
}

/// A service mounted on a fresh temporary directory; unmounted on drop,
/// before the directory goes.
pub(crate) struct Mounted {
    pub(crate) mount: Option<FuseMount>,
    pub(crate) dir: TempDir,
}

impl Mounted {
    /// `service` mounted with `options`.
    pub(crate) fn new(service: impl FileService + 'static, options: MountOptions) -> Self {
        require_fuse();
        let dir = tempfile::tempdir().unwrap();
        let mount = FuseMount::mount(service, dir.path(), options)
            .unwrap_or_else(|e| panic!("cannot mount: {e}"));
        Self {
            mount: Some(mount),
            dir,
        }
    }

    /// The mount point.
    pub(crate) fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A path on the mount (`rel` relative to the namespace root).
    pub(crate) fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel.trim_start_matches('/'))
    }

    /// The mount itself.
    pub(crate) fn mount(&self) -> &FuseMount {
        self.mount.as_ref().unwrap()
    }

    /// Runs `script` with `sh -c` in the mount's root; fails the test,
    /// showing its output, if it fails.
    pub(crate) fn sh(&self, script: &str) -> String {
        let out = self.sh_output(script);
        assert!(
            out.status.success(),
            "`{script}` failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `script` with `sh -c` in the mount's root.
    pub(crate) fn sh_output(&self, script: &str) -> Output {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .current_dir(self.root())
            .output()
            .unwrap()
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        drop(self.mount.take());
    }
}
