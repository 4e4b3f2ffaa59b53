//! The sandbox's root: the environment's namespace, with an empty read-only
//! directory at each place the sandbox mounts something the namespace does
//! not have (`/usr`, `/proc`, `/dev`...), and the host directory it is
//! mounted on.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use oanix_fuse::FuseMount;
use oanix_prims::MapFs;
use oanix_vfs::{FileService, FsErrorKind, MountFlags, Namespace};

use crate::error::{NativeError, Result};

/// Where the sandbox finds the certificate authority of its proxy
/// (`ca.pem`) and the host's bundle with it (`ca-bundle.pem`), when a secret
/// is bound: the variables of the usual tools name them.
pub const TRUST_DIR: &str = "/etc/oanix";

/// Where the sandbox mounts `/proc` and `/dev` itself.
const OWN_MOUNTS: &[&str] = &["/proc", "/dev"];

/// `namespace` as the sandbox's root: the namespace itself when every mount
/// point in `points` (and `/proc`, `/dev`) is a directory in it and there
/// are no `trust` files, else the namespace mounted at `/` with an empty
/// read-only directory over each missing point and the trust files at
/// `/etc/oanix`. Points the namespace has are left as they are (the bind
/// covers them inside the sandbox).
pub(crate) fn with_mount_points(
    namespace: &Namespace,
    points: &[String],
    trust: Option<MapFs>,
) -> Result<Namespace> {
    let missing: Vec<&str> = OWN_MOUNTS
        .iter()
        .copied()
        .chain(points.iter().map(String::as_str))
        .filter(|p| {
            namespace
                .stat(p)
                .err()
                .is_some_and(|e| e.kind() == FsErrorKind::NotFound)
        })
        .collect();
    if missing.is_empty() && trust.is_none() {
        return Ok(namespace.clone());
    }
    let inner: Arc<dyn FileService> = Arc::new(namespace.clone());
    let mut b = Namespace::builder().mount_shared("/", "namespace", inner, MountFlags::replace());
    for p in missing {
        b = b.mount(p, MapFs::empty());
    }
    if let Some(trust) = trust {
        b = b.mount(TRUST_DIR, trust);
    }
    b.try_build()
        .map_err(|e| NativeError::Env(oanix_env::EnvError::Fs(e)))
}

/// Runs of this process so far, to name mount points apart.
static RUNS: AtomicU64 = AtomicU64::new(0);

/// The directory under which this user's native runs mount their
/// namespaces: `$TMPDIR/oanix-native-UID`, made `0711` (the sandbox's user
/// must pass through it, nobody may list or change it), and refused when it
/// is not a real directory of this user that only this user can change.
pub(crate) fn runtime_dir() -> Result<PathBuf> {
    let uid = rustix::process::geteuid().as_raw();
    let dir = std::env::temp_dir().join(format!("oanix-native-{uid}"));
    match std::fs::DirBuilder::new().mode(0o711).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(NativeError::io(format!("creating {}", dir.display()), e)),
    }
    let meta = std::fs::symlink_metadata(&dir)
        .map_err(|e| NativeError::io(format!("reading {}", dir.display()), e))?;
    if !meta.is_dir() || meta.uid() != uid || meta.mode() & 0o022 != 0 {
        return Err(NativeError::io(
            format!("the run directory {}", dir.display()),
            std::io::Error::other(
                "is not a directory of this user that only this user can change; remove it",
            ),
        ));
    }
    if meta.mode() & 0o777 != 0o711 {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| NativeError::io(format!("setting the mode of {}", dir.display()), e))?;
    }
    Ok(dir)
}

/// Removes what runs of killed processes left under `dir`: dead FUSE mounts
/// and their directories. Directories of live processes (this one included)
/// are left alone: their names carry the process id. Returns how many dead
/// mounts went.
pub(crate) fn cleanup_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = owner_pid(&name.to_string_lossy()) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let path = entry.path();
        if FuseMount::cleanup_stale(&path).unwrap_or(false) {
            removed += 1;
        }
        let _ = std::fs::remove_dir(&path);
    }
    removed
}

/// The process id in a mount point's name (`ENV-PID-N`).
fn owner_pid(name: &str) -> Option<u32> {
    let mut parts = name.rsplitn(3, '-');
    let _run = parts.next()?;
    parts.next()?.parse().ok()
}

/// A fresh, empty mount point under `dir` for the environment `id`.
pub(crate) fn mount_point(dir: &Path, id: &str) -> Result<PathBuf> {
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("{id}-{}-{n}", std::process::id()));
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(&path)
        .map_err(|e| NativeError::io(format!("creating {}", path.display()), e))?;
    Ok(path)
}
