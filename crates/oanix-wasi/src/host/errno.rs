//! How `FsError`s reach a guest: one `errno` per kind of error.

use oanix_vfs::{FsError, FsErrorKind};

use super::abi::Errno;

/// The `errno` a guest sees for `err`.
///
/// | `FsErrorKind` | errno |
/// |---|---|
/// | `NotFound` | `noent` |
/// | `AlreadyExists` | `exist` |
/// | `NotADirectory` | `notdir` |
/// | `IsADirectory` | `isdir` |
/// | `NotEmpty` | `notempty` |
/// | `ReadOnly` | `rofs` |
/// | `PermissionDenied` | `perm` |
/// | `Escape` | `notcapable` |
/// | `InvalidPath`, `InvalidInput` | `inval` |
/// | `BadHandle` | `badf` |
/// | `WouldBlock` | `again` |
/// | `TooLarge` | `fbig` |
/// | `NoSpace` | `nospc` |
/// | `TooManyOpen` | `nfile` |
/// | `TimedOut` | `timedout` |
/// | `CrossDevice` | `xdev` |
/// | `Unsupported` | `notsup` |
/// | `Loop` | `loop` |
/// | `Io` and anything newer | `io` |
pub(crate) fn from_fs_error(err: &FsError) -> Errno {
    match err.kind() {
        FsErrorKind::NotFound => Errno::NOENT,
        FsErrorKind::AlreadyExists => Errno::EXIST,
        FsErrorKind::NotADirectory => Errno::NOTDIR,
        FsErrorKind::IsADirectory => Errno::ISDIR,
        FsErrorKind::NotEmpty => Errno::NOTEMPTY,
        FsErrorKind::ReadOnly => Errno::ROFS,
        FsErrorKind::PermissionDenied => Errno::PERM,
        FsErrorKind::Escape => Errno::NOTCAPABLE,
        FsErrorKind::InvalidPath | FsErrorKind::InvalidInput => Errno::INVAL,
        FsErrorKind::BadHandle => Errno::BADF,
        FsErrorKind::WouldBlock => Errno::AGAIN,
        FsErrorKind::TooLarge => Errno::FBIG,
        FsErrorKind::NoSpace => Errno::NOSPC,
        FsErrorKind::TooManyOpen => Errno::NFILE,
        FsErrorKind::TimedOut => Errno::TIMEDOUT,
        FsErrorKind::CrossDevice => Errno::XDEV,
        FsErrorKind::Unsupported => Errno::NOTSUP,
        FsErrorKind::Loop => Errno::LOOP,
        _ => Errno::IO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_errno() {
        assert_eq!(from_fs_error(&FsError::not_found("/a")), Errno::NOENT);
        assert_eq!(
            from_fs_error(&FsError::cross_device("/a", "/b")),
            Errno::XDEV
        );
        assert_eq!(from_fs_error(&FsError::would_block("/a")), Errno::AGAIN);
        assert_eq!(
            from_fs_error(&FsError::too_many_open("/a", 8)),
            Errno::NFILE
        );
        assert_eq!(from_fs_error(&FsError::io("/a", "disk")), Errno::IO);
        assert_eq!(from_fs_error(&FsError::too_many_links("/a")), Errno::LOOP);
    }
}
