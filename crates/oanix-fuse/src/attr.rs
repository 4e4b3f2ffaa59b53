//! File attributes as the kernel sees them: a service's `Metadata`, with
//! the permission bits and owner the mount keeps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{FileAttr, FileType, INodeNo};
use oanix_vfs::{FileKind, Metadata, Timestamp};

use crate::inodes::Overrides;

/// The block size reported in `st_blksize`: large, so that `stdio` and
/// `cp` move data in few requests.
const BLKSIZE: u32 = 128 * 1024;

/// What every file of one mount shares in its attributes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AttrDefaults {
    /// The owner files show unless `chown` changed it.
    pub(crate) uid: u32,
    /// The group files show unless `chown` changed it.
    pub(crate) gid: u32,
    /// The time shown by services without times: when the mount was made.
    pub(crate) epoch: SystemTime,
}

/// The permission bits a file shows unless `chmod` (or the mode it was
/// created with) changed them: 0755 for directories (0555 read-only),
/// 0644 for files (0444 read-only), 0777 for links, none for what cannot
/// be opened.
pub(crate) fn default_mode(kind: FileKind, readonly: bool) -> u16 {
    match (kind, readonly) {
        (FileKind::Directory, false) => 0o755,
        (FileKind::Directory, true) => 0o555,
        (FileKind::File, false) => 0o644,
        (FileKind::File, true) => 0o444,
        (FileKind::Symlink, _) => 0o777,
        _ => 0,
    }
}

/// The kernel's file type for a kind. What the service calls `Other` (a
/// host's device, FIFO or socket, never opened) shows as a regular file
/// without permissions.
pub(crate) fn file_type(kind: FileKind) -> FileType {
    match kind {
        FileKind::Directory => FileType::Directory,
        FileKind::Symlink => FileType::Symlink,
        _ => FileType::RegularFile,
    }
}

fn time(t: Option<Timestamp>, fallback: SystemTime) -> SystemTime {
    t.map_or(fallback, |t| {
        UNIX_EPOCH + Duration::from_nanos(t.as_nanos())
    })
}

/// The attributes of `ino`, described by `md`, with what the mount keeps.
pub(crate) fn file_attr(
    ino: u64,
    md: &Metadata,
    kept: Overrides,
    defaults: &AttrDefaults,
) -> FileAttr {
    let mtime = time(md.modified, defaults.epoch);
    FileAttr {
        ino: INodeNo(ino),
        size: md.size,
        blocks: md.size.div_ceil(512),
        atime: time(md.accessed, mtime),
        mtime,
        ctime: mtime,
        crtime: time(md.created, mtime),
        kind: file_type(md.kind),
        perm: kept
            .mode
            .unwrap_or_else(|| default_mode(md.kind, md.readonly)),
        nlink: u32::try_from(md.nlink.max(1)).unwrap_or(u32::MAX),
        uid: kept.uid.unwrap_or(defaults.uid),
        gid: kept.gid.unwrap_or(defaults.gid),
        rdev: 0,
        blksize: BLKSIZE,
        flags: 0,
    }
}

/// The attributes of a name found missing (number 0), which the kernel
/// keeps as a negative entry and otherwise ignores.
pub(crate) fn negative_attr(defaults: &AttrDefaults) -> FileAttr {
    let mut attr = file_attr(0, &Metadata::file(0, 0), Overrides::default(), defaults);
    attr.ino = INodeNo(0);
    attr
}

/// A `SystemTime` as a `Timestamp` (0 before the epoch).
pub(crate) fn timestamp(t: SystemTime) -> Timestamp {
    Timestamp::from(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_come_from_the_metadata_and_what_the_mount_keeps() {
        let defaults = AttrDefaults {
            uid: 10,
            gid: 20,
            epoch: UNIX_EPOCH + Duration::from_secs(5),
        };
        let md = Metadata::file(7, 1000).with_readonly(true).with_nlink(2);
        let a = file_attr(42, &md, Overrides::default(), &defaults);
        assert_eq!(a.ino, INodeNo(42));
        assert_eq!((a.size, a.blocks, a.nlink), (1000, 2, 2));
        assert_eq!((a.perm, a.uid, a.gid), (0o444, 10, 20));
        assert_eq!(a.mtime, defaults.epoch, "no times: the mount's");
        assert_eq!(a.kind, FileType::RegularFile);
        let kept = Overrides {
            mode: Some(0o750),
            uid: Some(0),
            gid: None,
        };
        let d = file_attr(1, &Metadata::directory(1), kept, &defaults);
        assert_eq!((d.perm, d.uid, d.gid), (0o750, 0, 20));
        assert_eq!(d.kind, FileType::Directory);
        let t = Timestamp(3_000_000_123);
        let md = Metadata::symlink(3, 4).with_times(t, t, t);
        let l = file_attr(3, &md, Overrides::default(), &defaults);
        assert_eq!(l.perm, 0o777);
        assert_eq!(l.mtime, UNIX_EPOCH + Duration::from_nanos(3_000_000_123));
        assert_eq!(timestamp(l.mtime), t);
    }
}
