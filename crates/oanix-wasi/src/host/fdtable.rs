//! The descriptor table: what each of a guest's file descriptors is.
//!
//! Descriptors 0, 1 and 2 are the standard streams; the preopened
//! directories follow from 3; new descriptors take the lowest free number,
//! as POSIX does. Every descriptor has its rights (base and inheriting,
//! which only ever narrow) and its `fdflags`. A file descriptor holds the
//! `FileHandle` the namespace opened; a directory descriptor holds its
//! namespace path, the root of the preopen it descends from, and the
//! listing being read with `fd_readdir`.

use std::sync::Arc;

use oanix_vfs::{DirEntry, FileHandle, FileService, FsError, Namespace, OpenFlags, path};

use super::abi::{Errno, rights};

/// A directory's listing as `fd_readdir` serves it: `.`, `..`, then the
/// entries, each with its inode number and file type.
pub(crate) type Listing = Vec<(String, u64, u8)>;

/// The rights of a descriptor: what calls on it may do (`base`), and the
/// most a descriptor opened through it may get (`inheriting`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rights {
    pub(crate) base: u64,
    pub(crate) inheriting: u64,
}

impl Rights {
    /// `ENOTCAPABLE` unless every right in `needed` is held.
    pub(crate) fn require(&self, needed: u64) -> Result<(), Errno> {
        if self.base & needed == needed {
            Ok(())
        } else {
            Err(Errno::NOTCAPABLE)
        }
    }

    /// `ENOTCAPABLE` unless at least one right in `any` is held.
    pub(crate) fn require_any(&self, any: u64) -> Result<(), Errno> {
        if self.base & any != 0 {
            Ok(())
        } else {
            Err(Errno::NOTCAPABLE)
        }
    }

    /// Narrows to `base` and `inheriting`; asking for a right not held is
    /// `ENOTCAPABLE` and changes nothing.
    pub(crate) fn narrow(&mut self, base: u64, inheriting: u64) -> Result<(), Errno> {
        if base & !self.base != 0 || inheriting & !self.inheriting != 0 {
            return Err(Errno::NOTCAPABLE);
        }
        self.base = base;
        self.inheriting = inheriting;
        Ok(())
    }
}

/// An open regular file (or anything else that is not a directory).
pub(crate) struct FileFd {
    pub(crate) handle: Box<dyn FileHandle>,
    /// The namespace path it was opened at.
    pub(crate) path: String,
    /// The flags the service opened it with.
    pub(crate) open_flags: OpenFlags,
}

/// An open directory.
pub(crate) struct DirFd {
    /// The namespace path.
    pub(crate) path: String,
    /// The namespace path of the preopen this directory descends from
    /// (the `..` entry of the preopen's own listing is itself).
    pub(crate) root: Arc<str>,
    /// The name the guest sees, for preopens.
    pub(crate) preopen: Option<String>,
    /// The handle the namespace opened, when the guest opened it.
    pub(crate) handle: Option<Box<dyn FileHandle>>,
    /// The listing being read, kept from cookie 0 on.
    pub(crate) listing: Option<Listing>,
}

/// What a descriptor is.
pub(crate) enum FdKind {
    Stdin,
    Stdout,
    Stderr,
    File(FileFd),
    Dir(DirFd),
}

/// One descriptor: what it is, its rights, and the guest's `fdflags`.
pub(crate) struct Fd {
    pub(crate) kind: FdKind,
    pub(crate) rights: Rights,
    pub(crate) fdflags: u16,
}

impl Fd {
    /// A descriptor of `kind` with `rights` and no flags.
    pub(crate) fn new(kind: FdKind, rights: Rights) -> Self {
        Self {
            kind,
            rights,
            fdflags: 0,
        }
    }
}

/// The descriptor table.
pub(crate) struct FdTable {
    slots: Vec<Option<Fd>>,
    /// The most descriptors open at once.
    max: usize,
}

impl FdTable {
    /// A table with the three standard streams, holding at most `max`
    /// descriptors (the streams included).
    pub(crate) fn with_stdio(max: usize) -> Self {
        let stream = |kind, base| {
            Some(Fd::new(
                kind,
                Rights {
                    base,
                    inheriting: 0,
                },
            ))
        };
        Self {
            slots: vec![
                stream(FdKind::Stdin, rights::STDIN),
                stream(FdKind::Stdout, rights::STDOUT),
                stream(FdKind::Stderr, rights::STDOUT),
            ],
            max: max.max(3),
        }
    }

    /// Preopens the namespace directory `ns_path` as `guest_name`, with
    /// every directory right and every right to inherit.
    pub(crate) fn preopen(
        &mut self,
        ns: &Namespace,
        guest_name: &str,
        ns_path: &str,
    ) -> Result<u32, FsError> {
        let canonical = path::normalize(ns_path)?.into_owned();
        let md = ns.stat(&canonical)?;
        if !md.is_dir() {
            return Err(FsError::not_a_directory(canonical));
        }
        let dir = DirFd {
            root: Arc::from(canonical.as_str()),
            path: canonical,
            preopen: Some(guest_name.to_owned()),
            handle: None,
            listing: None,
        };
        let rights = Rights {
            base: rights::DIRECTORY,
            inheriting: rights::FILE | rights::DIRECTORY,
        };
        self.insert(Fd::new(FdKind::Dir(dir), rights))
            .map_err(|_| FsError::io(ns_path, "too many open files"))
    }

    /// Puts `fd` in the lowest free slot.
    pub(crate) fn insert(&mut self, fd: Fd) -> Result<u32, Errno> {
        if let Some(i) = self.slots.iter().position(Option::is_none) {
            self.slots[i] = Some(fd);
            return u32::try_from(i).map_err(|_| Errno::MFILE);
        }
        if self.slots.len() >= self.max {
            return Err(Errno::MFILE);
        }
        self.slots.push(Some(fd));
        u32::try_from(self.slots.len() - 1).map_err(|_| Errno::MFILE)
    }

    /// The descriptor `fd` (`EBADF` if it is not open).
    pub(crate) fn get(&mut self, fd: u32) -> Result<&mut Fd, Errno> {
        self.slots
            .get_mut(fd as usize)
            .and_then(Option::as_mut)
            .ok_or(Errno::BADF)
    }

    /// The directory `fd` and its rights, which must hold `needed`:
    /// `EBADF` if `fd` is not open, `ENOTDIR` if it is something else (as
    /// POSIX answers for the `*at` calls), `ENOTCAPABLE` without the rights.
    pub(crate) fn dir(&mut self, fd: u32, needed: u64) -> Result<&mut DirFd, Errno> {
        let entry = self.get(fd)?;
        match &mut entry.kind {
            FdKind::Dir(d) => {
                entry.rights.require(needed)?;
                Ok(d)
            }
            _ => Err(Errno::NOTDIR),
        }
    }

    /// Closes `fd`.
    pub(crate) fn remove(&mut self, fd: u32) -> Result<Fd, Errno> {
        let slot = self.slots.get_mut(fd as usize).ok_or(Errno::BADF)?;
        let taken = slot.take().ok_or(Errno::BADF)?;
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        Ok(taken)
    }

    /// Moves `from` to `to`, closing what `to` was; both must be open.
    pub(crate) fn renumber(&mut self, from: u32, to: u32) -> Result<(), Errno> {
        self.get(from)?;
        self.get(to)?;
        if from == to {
            return Ok(());
        }
        let moved = self.remove(from)?;
        // `to` is open, so its slot exists even after trailing slots went.
        match self.slots.get_mut(to as usize) {
            Some(slot) => {
                *slot = Some(moved);
                Ok(())
            }
            None => Err(Errno::BADF),
        }
    }
}

/// A directory's listing for `fd_readdir`.
pub(crate) fn listing(ns: &Namespace, dir: &str, root: &str, entries: Vec<DirEntry>) -> Listing {
    use super::abi::filetype;
    let ino = |p: &str| ns.stat(p).map(|m| m.id).unwrap_or(0);
    let parent = if dir == root {
        dir
    } else {
        path::parent(dir).unwrap_or("/")
    };
    let mut out = Vec::with_capacity(entries.len() + 2);
    out.push((".".to_owned(), ino(dir), filetype::DIRECTORY));
    out.push(("..".to_owned(), ino(parent), filetype::DIRECTORY));
    for e in entries {
        out.push((e.name, e.id, filetype::of(e.kind)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_descriptor_and_renumber() {
        let mut t = FdTable::with_stdio(1024);
        let stdin = || {
            Fd::new(
                FdKind::Stdin,
                Rights {
                    base: 0,
                    inheriting: 0,
                },
            )
        };
        let a = t.insert(stdin()).unwrap_or(0);
        let b = t.insert(stdin()).unwrap_or(0);
        assert_eq!((a, b), (3, 4));
        assert!(t.remove(3).is_ok());
        assert_eq!(t.insert(stdin()).unwrap_or(0), 3);
        assert_eq!(t.renumber(3, 9).err(), Some(Errno::BADF));
        assert!(t.renumber(4, 3).is_ok());
        assert_eq!(t.get(4).err(), Some(Errno::BADF));
        assert!(t.get(3).is_ok());
        assert_eq!(t.remove(4).err(), Some(Errno::BADF));
    }

    #[test]
    fn rights_only_narrow() {
        let mut r = Rights {
            base: rights::FD_READ | rights::FD_WRITE,
            inheriting: rights::FD_READ,
        };
        assert_eq!(r.require(rights::FD_READ | rights::FD_WRITE), Ok(()));
        assert_eq!(r.narrow(rights::FD_READ, 0), Ok(()));
        assert_eq!(r.require(rights::FD_WRITE), Err(Errno::NOTCAPABLE));
        assert_eq!(
            r.narrow(rights::FD_READ | rights::FD_WRITE, 0),
            Err(Errno::NOTCAPABLE)
        );
        assert_eq!(r.narrow(0, rights::FD_READ), Err(Errno::NOTCAPABLE));
        assert_eq!(
            r.base,
            rights::FD_READ,
            "a refused widening changes nothing"
        );
        assert_eq!(r.require_any(rights::FD_READ | rights::FD_SEEK), Ok(()));
        assert_eq!(r.require_any(rights::FD_SEEK), Err(Errno::NOTCAPABLE));
    }
}
