//! The system calls of a mount: opening `/dev/fuse`, `mount(2)`, lazy
//! unmounting, aborting a connection, and recognising a dead mount.
//!
//! All through `rustix`'s safe wrappers: this crate has no `unsafe` code.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use rustix::mount::{MountFlags, UnmountFlags};

use crate::error::{FuseError, Result};
use crate::options::MountOptions;

/// The FUSE device.
pub(crate) const DEVICE: &str = "/dev/fuse";

/// The file system type this crate mounts (`fuse` with subtype `oanix`).
const FS_TYPE: &str = "fuse.oanix";

/// Opens `/dev/fuse`, naming what is missing if it cannot.
pub(crate) fn open_device() -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(DEVICE)
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => FuseError::NoDevice,
            _ => FuseError::DeviceUnusable { source: e },
        })
}

/// Whether the kernel lists `fuse` among its file systems.
pub(crate) fn kernel_has_fuse() -> bool {
    std::fs::read_to_string("/proc/filesystems").is_ok_and(|list| {
        list.lines()
            .any(|l| l.split_whitespace().last() == Some("fuse"))
    })
}

/// `mount(2)` of the FUSE connection `device` on `mountpoint`.
pub(crate) fn mount(device: &File, mountpoint: &Path, options: &MountOptions) -> io::Result<()> {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let mut data = format!(
        "fd={},rootmode=40000,user_id={uid},group_id={gid}",
        device.as_raw_fd()
    );
    if options.allow_other {
        data.push_str(",allow_other");
    }
    let data = std::ffi::CString::new(data).map_err(io::Error::other)?;
    let mut flags = MountFlags::NOSUID | MountFlags::NODEV;
    if options.read_only {
        flags |= MountFlags::RDONLY;
    }
    rustix::mount::mount(
        options.fs_name.as_str(),
        mountpoint,
        FS_TYPE,
        flags,
        data.as_c_str(),
    )
    .map_err(io::Error::from)
}

/// Detaches the mount at `mountpoint` (`umount2(MNT_DETACH)`): gone from
/// the tree at once, released when its last user lets go. Without the
/// right to, asks `fusermount3 -u -z` (which unmounts the user's own FUSE
/// mounts).
pub(crate) fn detach(mountpoint: &Path) -> io::Result<()> {
    match rustix::mount::unmount(mountpoint, UnmountFlags::DETACH) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::PERM) => {
            let out = Command::new("fusermount3")
                .args(["-u", "-z", "--"])
                .arg(mountpoint)
                .output()?;
            if out.status.success() {
                Ok(())
            } else {
                Err(io::Error::other(
                    String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                ))
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// The device number of what `path` is on.
pub(crate) fn device_of(path: &Path) -> io::Result<u64> {
    std::fs::metadata(path).map(|m| m.dev())
}

/// Aborts the FUSE connection of the mount whose device is `dev`, through
/// the control file system where it is mounted: requests still waiting
/// fail at once and the serving threads end. Without it nothing happens,
/// and the connection ends when its last user lets go.
pub(crate) fn abort_connection(dev: u64) {
    let minor = rustix::fs::minor(dev);
    let major = rustix::fs::major(dev);
    if major != 0 {
        return;
    }
    let abort = Path::new("/sys/fs/fuse/connections")
        .join(minor.to_string())
        .join("abort");
    let _ = std::fs::write(abort, b"1");
}

/// Whether `e` is what a FUSE mount whose server died answers.
pub(crate) fn is_dead_mount(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOTCONN) | Some(libc::ECONNABORTED)
    )
}
