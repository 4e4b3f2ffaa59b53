//! The `wasi_snapshot_preview1` ABI as data: errno values, flags, struct
//! layouts, and bounds-checked access to guest memory.
//!
//! Everything here is written from the preview1 interface description: the
//! numbers are the values of its enums and flags, the offsets those of its
//! structs as laid out for `wasm32`.

use std::fmt;

/// A preview1 `errno` value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Errno(pub(crate) u16);

impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Errno({})", self.0)
    }
}

#[allow(
    dead_code,
    reason = "the whole errno table, as the interface defines it"
)]
impl Errno {
    pub(crate) const SUCCESS: Self = Self(0);
    pub(crate) const TOOBIG: Self = Self(1);
    pub(crate) const ACCES: Self = Self(2);
    pub(crate) const AGAIN: Self = Self(6);
    pub(crate) const BADF: Self = Self(8);
    pub(crate) const BUSY: Self = Self(10);
    pub(crate) const EXIST: Self = Self(20);
    pub(crate) const FAULT: Self = Self(21);
    pub(crate) const FBIG: Self = Self(22);
    pub(crate) const ILSEQ: Self = Self(25);
    pub(crate) const INTR: Self = Self(27);
    pub(crate) const INVAL: Self = Self(28);
    pub(crate) const IO: Self = Self(29);
    pub(crate) const ISDIR: Self = Self(31);
    pub(crate) const LOOP: Self = Self(32);
    pub(crate) const MFILE: Self = Self(33);
    pub(crate) const NAMETOOLONG: Self = Self(37);
    pub(crate) const NFILE: Self = Self(41);
    pub(crate) const NOENT: Self = Self(44);
    pub(crate) const NOMEM: Self = Self(48);
    pub(crate) const NOSPC: Self = Self(51);
    pub(crate) const NOSYS: Self = Self(52);
    pub(crate) const NOTDIR: Self = Self(54);
    pub(crate) const NOTEMPTY: Self = Self(55);
    pub(crate) const NOTSOCK: Self = Self(57);
    pub(crate) const NOTSUP: Self = Self(58);
    pub(crate) const OVERFLOW: Self = Self(61);
    pub(crate) const PERM: Self = Self(63);
    pub(crate) const ROFS: Self = Self(69);
    pub(crate) const SPIPE: Self = Self(70);
    pub(crate) const TIMEDOUT: Self = Self(73);
    pub(crate) const XDEV: Self = Self(75);
    pub(crate) const NOTCAPABLE: Self = Self(76);
}

/// `filetype` values.
pub(crate) mod filetype {
    use oanix_vfs::FileKind;

    pub(crate) const UNKNOWN: u8 = 0;
    pub(crate) const DIRECTORY: u8 = 3;
    pub(crate) const REGULAR_FILE: u8 = 4;
    pub(crate) const SYMBOLIC_LINK: u8 = 7;

    /// The file type of a namespace entry of `kind`.
    pub(crate) fn of(kind: FileKind) -> u8 {
        match kind {
            FileKind::Directory => DIRECTORY,
            FileKind::File => REGULAR_FILE,
            FileKind::Symlink => SYMBOLIC_LINK,
            _ => UNKNOWN,
        }
    }
}

/// `fdflags` bits.
pub(crate) mod fdflags {
    pub(crate) const APPEND: u16 = 1;
    pub(crate) const DSYNC: u16 = 2;
    pub(crate) const NONBLOCK: u16 = 4;
    pub(crate) const RSYNC: u16 = 8;
    pub(crate) const SYNC: u16 = 16;
    pub(crate) const ALL: u16 = APPEND | DSYNC | NONBLOCK | RSYNC | SYNC;
}

/// `oflags` bits.
pub(crate) mod oflags {
    pub(crate) const CREAT: u16 = 1;
    pub(crate) const DIRECTORY: u16 = 2;
    pub(crate) const EXCL: u16 = 4;
    pub(crate) const TRUNC: u16 = 8;
    pub(crate) const ALL: u16 = CREAT | DIRECTORY | EXCL | TRUNC;
}

/// `fstflags` bits.
pub(crate) mod fstflags {
    pub(crate) const ATIM: u16 = 1;
    pub(crate) const ATIM_NOW: u16 = 2;
    pub(crate) const MTIM: u16 = 4;
    pub(crate) const MTIM_NOW: u16 = 8;
}

/// `rights` bits.
#[allow(
    dead_code,
    reason = "the whole rights table, as the interface defines it"
)]
pub(crate) mod rights {
    pub(crate) const FD_DATASYNC: u64 = 1 << 0;
    pub(crate) const FD_READ: u64 = 1 << 1;
    pub(crate) const FD_SEEK: u64 = 1 << 2;
    pub(crate) const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
    pub(crate) const FD_SYNC: u64 = 1 << 4;
    pub(crate) const FD_TELL: u64 = 1 << 5;
    pub(crate) const FD_WRITE: u64 = 1 << 6;
    pub(crate) const FD_ADVISE: u64 = 1 << 7;
    pub(crate) const FD_ALLOCATE: u64 = 1 << 8;
    pub(crate) const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    pub(crate) const PATH_CREATE_FILE: u64 = 1 << 10;
    pub(crate) const PATH_LINK_SOURCE: u64 = 1 << 11;
    pub(crate) const PATH_LINK_TARGET: u64 = 1 << 12;
    pub(crate) const PATH_OPEN: u64 = 1 << 13;
    pub(crate) const FD_READDIR: u64 = 1 << 14;
    pub(crate) const PATH_READLINK: u64 = 1 << 15;
    pub(crate) const PATH_RENAME_SOURCE: u64 = 1 << 16;
    pub(crate) const PATH_RENAME_TARGET: u64 = 1 << 17;
    pub(crate) const PATH_FILESTAT_GET: u64 = 1 << 18;
    pub(crate) const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
    pub(crate) const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
    pub(crate) const FD_FILESTAT_GET: u64 = 1 << 21;
    pub(crate) const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
    pub(crate) const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
    pub(crate) const PATH_SYMLINK: u64 = 1 << 24;
    pub(crate) const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
    pub(crate) const PATH_UNLINK_FILE: u64 = 1 << 26;
    pub(crate) const POLL_FD_READWRITE: u64 = 1 << 27;
    pub(crate) const SOCK_SHUTDOWN: u64 = 1 << 28;
    pub(crate) const SOCK_ACCEPT: u64 = 1 << 29;

    /// Every right.
    pub(crate) const ALL: u64 = (1 << 30) - 1;
    /// What a regular file can do.
    pub(crate) const FILE: u64 = FD_DATASYNC
        | FD_READ
        | FD_SEEK
        | FD_FDSTAT_SET_FLAGS
        | FD_SYNC
        | FD_TELL
        | FD_WRITE
        | FD_ADVISE
        | FD_ALLOCATE
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_SIZE
        | FD_FILESTAT_SET_TIMES
        | POLL_FD_READWRITE;
    /// What a directory can do: every `path_*` right (`path_filestat_set_size`
    /// being the right to open with `oflags::trunc`), listing, and its own
    /// `filestat`. No `fd_*` call that works on files only.
    pub(crate) const DIRECTORY: u64 = PATH_CREATE_DIRECTORY
        | PATH_CREATE_FILE
        | PATH_LINK_SOURCE
        | PATH_LINK_TARGET
        | PATH_OPEN
        | FD_READDIR
        | PATH_READLINK
        | PATH_RENAME_SOURCE
        | PATH_RENAME_TARGET
        | PATH_FILESTAT_GET
        | PATH_FILESTAT_SET_SIZE
        | PATH_FILESTAT_SET_TIMES
        | FD_FILESTAT_GET
        | FD_FILESTAT_SET_TIMES
        | PATH_SYMLINK
        | PATH_REMOVE_DIRECTORY
        | PATH_UNLINK_FILE;
    /// What stdin can do.
    pub(crate) const STDIN: u64 = FD_READ | FD_FILESTAT_GET | POLL_FD_READWRITE;
    /// What stdout and stderr can do.
    pub(crate) const STDOUT: u64 = FD_WRITE | FD_FILESTAT_GET | POLL_FD_READWRITE;
}

/// `clockid` values.
pub(crate) mod clock {
    pub(crate) const REALTIME: u32 = 0;
    pub(crate) const MONOTONIC: u32 = 1;
    pub(crate) const PROCESS_CPUTIME: u32 = 2;
    pub(crate) const THREAD_CPUTIME: u32 = 3;
}

/// `eventtype` values and the layouts of `subscription` and `event`.
pub(crate) mod event {
    pub(crate) const CLOCK: u8 = 0;
    pub(crate) const FD_READ: u8 = 1;
    pub(crate) const FD_WRITE: u8 = 2;
    /// `subclockflags::subscription_clock_abstime`.
    pub(crate) const ABSTIME: u16 = 1;
    /// The size of a `subscription`.
    pub(crate) const SUBSCRIPTION_SIZE: u32 = 48;
    /// The size of an `event`.
    pub(crate) const EVENT_SIZE: u32 = 32;
}

/// The size of a `filestat`.
pub(crate) const FILESTAT_SIZE: u32 = 64;
/// The size of a `dirent` header (its name follows).
pub(crate) const DIRENT_SIZE: usize = 24;

/// The result of an access to guest memory that fell outside it.
pub(crate) type MemResult<T> = Result<T, Errno>;

/// A guest's linear memory, every access bounds-checked: an access outside
/// it is `EFAULT` for the guest, never a panic in the host.
pub(crate) struct Mem<'a> {
    bytes: &'a mut [u8],
}

impl<'a> Mem<'a> {
    /// Wraps the memory's bytes.
    pub(crate) fn new(bytes: &'a mut [u8]) -> Self {
        Self { bytes }
    }

    fn range(&self, ptr: u32, len: u32) -> MemResult<std::ops::Range<usize>> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize).ok_or(Errno::FAULT)?;
        if end > self.bytes.len() {
            return Err(Errno::FAULT);
        }
        Ok(start..end)
    }

    /// `len` bytes at `ptr`.
    pub(crate) fn slice(&self, ptr: u32, len: u32) -> MemResult<&[u8]> {
        let r = self.range(ptr, len)?;
        Ok(&self.bytes[r])
    }

    /// `len` bytes at `ptr`, writable.
    pub(crate) fn slice_mut(&mut self, ptr: u32, len: u32) -> MemResult<&mut [u8]> {
        let r = self.range(ptr, len)?;
        Ok(&mut self.bytes[r])
    }

    /// A UTF-8 string of `len` bytes at `ptr` (`EILSEQ` if it is not UTF-8).
    pub(crate) fn str(&self, ptr: u32, len: u32) -> MemResult<&str> {
        std::str::from_utf8(self.slice(ptr, len)?).map_err(|_| Errno::ILSEQ)
    }

    fn array<const N: usize>(&self, ptr: u32) -> MemResult<[u8; N]> {
        let s = self.slice(ptr, N as u32)?;
        let mut out = [0u8; N];
        out.copy_from_slice(s);
        Ok(out)
    }

    #[cfg(test)]
    fn u32(&self, ptr: u32) -> MemResult<u32> {
        Ok(u32::from_le_bytes(self.array(ptr)?))
    }

    /// Writes `data` at `ptr`.
    pub(crate) fn write(&mut self, ptr: u32, data: &[u8]) -> MemResult<()> {
        let len = u32::try_from(data.len()).map_err(|_| Errno::FAULT)?;
        self.slice_mut(ptr, len)?.copy_from_slice(data);
        Ok(())
    }
    pub(crate) fn put_u32(&mut self, ptr: u32, v: u32) -> MemResult<()> {
        self.write(ptr, &v.to_le_bytes())
    }
    pub(crate) fn put_u64(&mut self, ptr: u32, v: u64) -> MemResult<()> {
        self.write(ptr, &v.to_le_bytes())
    }

    /// The `(buf, buf_len)` pair of the `index`th iovec of the list at `iovs`.
    pub(crate) fn iovec(&self, iovs: u32, index: u32) -> MemResult<(u32, u32)> {
        let at = index
            .checked_mul(8)
            .and_then(|o| iovs.checked_add(o))
            .ok_or(Errno::FAULT)?;
        let bytes: [u8; 8] = self.array(at)?;
        let buf = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
        Ok((buf, len))
    }
}

/// A `filestat` as the guest sees it.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Filestat {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
    pub(crate) nlink: u64,
    pub(crate) size: u64,
    pub(crate) atim: u64,
    pub(crate) mtim: u64,
    pub(crate) ctim: u64,
}

impl Filestat {
    /// The 64 bytes of the struct.
    pub(crate) fn encode(&self) -> [u8; FILESTAT_SIZE as usize] {
        let mut out = [0u8; FILESTAT_SIZE as usize];
        out[0..8].copy_from_slice(&self.dev.to_le_bytes());
        out[8..16].copy_from_slice(&self.ino.to_le_bytes());
        out[16] = self.filetype;
        out[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        out[32..40].copy_from_slice(&self.size.to_le_bytes());
        out[40..48].copy_from_slice(&self.atim.to_le_bytes());
        out[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        out[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        out
    }
}

/// The 24 bytes of an `fdstat`.
pub(crate) fn encode_fdstat(filetype: u8, flags: u16, base: u64, inheriting: u64) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[0] = filetype;
    out[2..4].copy_from_slice(&flags.to_le_bytes());
    out[8..16].copy_from_slice(&base.to_le_bytes());
    out[16..24].copy_from_slice(&inheriting.to_le_bytes());
    out
}

/// A `dirent` header followed by its name.
pub(crate) fn encode_dirent(next: u64, ino: u64, filetype: u8, name: &str, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&next.to_le_bytes());
    out.extend_from_slice(&ino.to_le_bytes());
    // Names are at most 255 bytes (checked by the services' paths).
    out.extend_from_slice(&u32::try_from(name.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.push(filetype);
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(name.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accesses_outside_memory_are_faults() {
        let mut bytes = vec![0u8; 16];
        let mut mem = Mem::new(&mut bytes);
        assert_eq!(mem.u32(12), Ok(0));
        assert_eq!(mem.u32(13), Err(Errno::FAULT));
        assert_eq!(mem.slice(u32::MAX, 2).err(), Some(Errno::FAULT));
        assert_eq!(mem.put_u64(9, 1), Err(Errno::FAULT));
        assert_eq!(mem.iovec(u32::MAX - 3, 1), Err(Errno::FAULT));
        mem.put_u32(4, 0xdead_beef).unwrap_or_default();
        assert_eq!(mem.u32(4), Ok(0xdead_beef));
    }

    #[test]
    fn struct_layouts() {
        let st = Filestat {
            dev: 1,
            ino: 2,
            filetype: filetype::REGULAR_FILE,
            nlink: 1,
            size: 5,
            ..Filestat::default()
        };
        let b = st.encode();
        assert_eq!(b[8], 2);
        assert_eq!(b[16], 4);
        assert_eq!(b[32], 5);
        let mut d = Vec::new();
        encode_dirent(3, 9, filetype::DIRECTORY, "ab", &mut d);
        assert_eq!(d.len(), DIRENT_SIZE + 2);
        assert_eq!(d[16], 2);
        assert_eq!(d[20], filetype::DIRECTORY);
    }
}
