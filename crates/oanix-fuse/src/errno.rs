//! How `FsError`s reach programs on the mount: one `errno` per kind of
//! error, and the few operations that answer otherwise.

use fuser::Errno;
use oanix_vfs::{FsError, FsErrorKind};

/// The operation an error came from, where that changes its `errno`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// Any operation without a rule of its own.
    Other,
    /// `link(2)` and `symlink(2)`: a service without links answers `EPERM`,
    /// as Linux file systems without them do.
    MakeLink,
}

/// The `errno` for `err`, from the operation `op`.
///
/// | `FsErrorKind` | errno |
/// |---|---|
/// | `NotFound` | `ENOENT` |
/// | `AlreadyExists` | `EEXIST` |
/// | `NotADirectory` | `ENOTDIR` |
/// | `IsADirectory` | `EISDIR` |
/// | `NotEmpty` | `ENOTEMPTY` |
/// | `ReadOnly` | `EROFS` |
/// | `PermissionDenied`, `Escape` | `EPERM` |
/// | `InvalidPath` | `ENAMETOOLONG` when a name or the path is too long, else `EINVAL` |
/// | `InvalidInput` | `EINVAL` |
/// | `BadHandle` | `EBADF` |
/// | `WouldBlock` | `EAGAIN` |
/// | `TooLarge` | `EFBIG` |
/// | `NoSpace` | `ENOSPC` |
/// | `TooManyOpen` | `ENFILE` (the host's budget is shared by the whole process, as `oanix-wasi` says too) |
/// | `TimedOut` | `ETIMEDOUT` |
/// | `CrossDevice` | `EXDEV` |
/// | `Unsupported` | `ENOTSUP`; `EPERM` from `link` and `symlink` |
/// | `Loop` | `ELOOP` |
/// | `Symlink` (a service, not a namespace, met a link the kernel had not seen: its view is stale) | `ESTALE` |
/// | `Io` and anything newer | `EIO` |
pub(crate) fn errno(err: &FsError, op: Op) -> Errno {
    match err.kind() {
        FsErrorKind::NotFound => Errno::ENOENT,
        FsErrorKind::AlreadyExists => Errno::EEXIST,
        FsErrorKind::NotADirectory => Errno::ENOTDIR,
        FsErrorKind::IsADirectory => Errno::EISDIR,
        FsErrorKind::NotEmpty => Errno::ENOTEMPTY,
        FsErrorKind::ReadOnly => Errno::EROFS,
        FsErrorKind::PermissionDenied | FsErrorKind::Escape => Errno::EPERM,
        FsErrorKind::InvalidPath => invalid_path(err),
        FsErrorKind::InvalidInput => Errno::EINVAL,
        FsErrorKind::BadHandle => Errno::EBADF,
        FsErrorKind::WouldBlock => Errno::EAGAIN,
        FsErrorKind::TooLarge => Errno::EFBIG,
        FsErrorKind::NoSpace => Errno::ENOSPC,
        FsErrorKind::TooManyOpen => Errno::ENFILE,
        FsErrorKind::TimedOut => Errno::ETIMEDOUT,
        FsErrorKind::CrossDevice => Errno::EXDEV,
        FsErrorKind::Unsupported if op == Op::MakeLink => Errno::EPERM,
        FsErrorKind::Unsupported => Errno::ENOTSUP,
        FsErrorKind::Loop => Errno::ELOOP,
        FsErrorKind::Symlink => Errno::ESTALE,
        _ => Errno::EIO,
    }
}

/// `ENAMETOOLONG` for a path refused for its length, `EINVAL` otherwise.
fn invalid_path(err: &FsError) -> Errno {
    match err {
        FsError::InvalidPath { reason, .. } if reason.contains("longer than") => {
            Errno::ENAMETOOLONG
        }
        _ => Errno::EINVAL,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_errno() {
        let cases = [
            (FsError::not_found("/a"), Errno::ENOENT),
            (FsError::already_exists("/a"), Errno::EEXIST),
            (FsError::not_a_directory("/a"), Errno::ENOTDIR),
            (FsError::is_a_directory("/a"), Errno::EISDIR),
            (FsError::not_empty("/a"), Errno::ENOTEMPTY),
            (FsError::read_only("/a"), Errno::EROFS),
            (FsError::permission_denied("/a", "no"), Errno::EPERM),
            (FsError::escape("/.."), Errno::EPERM),
            (
                FsError::invalid_path("/a", "contains a NUL byte"),
                Errno::EINVAL,
            ),
            (
                FsError::invalid_path("/a", "longer than 4096 bytes"),
                Errno::ENAMETOOLONG,
            ),
            (FsError::invalid_input("/a", "bad"), Errno::EINVAL),
            (FsError::bad_handle("/a", "no"), Errno::EBADF),
            (FsError::would_block("/a"), Errno::EAGAIN),
            (FsError::too_large("/a", 1), Errno::EFBIG),
            (FsError::no_space("/a", 1), Errno::ENOSPC),
            (FsError::too_many_open("/a", 1), Errno::ENFILE),
            (FsError::timed_out("/a"), Errno::ETIMEDOUT),
            (FsError::cross_device("/a", "/b"), Errno::EXDEV),
            (FsError::unsupported("/a", "x"), Errno::ENOTSUP),
            (FsError::too_many_links("/a"), Errno::ELOOP),
            (FsError::io("/a", "disk"), Errno::EIO),
        ];
        for (err, want) in cases {
            assert_eq!(errno(&err, Op::Other), want, "{err}");
        }
        let stale = FsError::Symlink {
            path: "/l".into(),
            target: "t".into(),
            rest: String::new(),
        };
        assert_eq!(errno(&stale, Op::Other), Errno::ESTALE);
    }

    #[test]
    fn services_without_links_refuse_links_with_eperm() {
        let e = FsError::unsupported("/a", "link");
        assert_eq!(errno(&e, Op::MakeLink), Errno::EPERM);
        assert_eq!(errno(&e, Op::Other), Errno::ENOTSUP);
    }
}
