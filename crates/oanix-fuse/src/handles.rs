//! Open files and open directories: what a kernel file handle (`fh`)
//! stands for.
//!
//! An open file is the service's `Box<dyn FileHandle>` behind a lock, in
//! one of two modes:
//!
//! - **cached** (the kernel's page cache in front): reads and writes are
//!   positional (`read_at`/`write_at`), reads filled to the size asked
//!   unless the file ends, as the page cache needs;
//! - **direct** (`FOPEN_DIRECT_IO`: live files, and files whose size is 0
//!   when opened, such as computed files whose size is unknown until read):
//!   an operation at the offset where the previous one on this handle ended
//!   is sequential on the handle (`read`/`write`), so message files,
//!   streams and blocking answers behave as for a WASI guest — one
//!   `write(2)` is one `write` call, the id is read back after it, a
//!   stream reads on. Any other offset (`lseek`, `pread`) is sought to
//!   first; a handle that cannot seek (a stream) reads on from where it is.
//!
//! With `O_APPEND`, every write is a sequential `write`, which the service
//! puts at the end whatever the kernel believes the size is.
//!
//! An open directory is a snapshot of its listing, taken at `opendir` and
//! again at `rewinddir`: offsets index that snapshot, so a listing read
//! while entries are added and removed gives every entry of the snapshot
//! exactly once.

use std::io::SeekFrom;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use fuser::FileType;
use oanix_vfs::{FileHandle, Metadata, Result};

/// The lock of an open file, and where its next sequential operation is.
struct HandleState {
    handle: Box<dyn FileHandle>,
    /// The kernel offset at which the next operation is sequential.
    expected: u64,
}

/// An open file.
pub(crate) struct OpenFile {
    /// Its inode number.
    pub(crate) ino: u64,
    /// Whether it was opened with `FOPEN_DIRECT_IO`.
    pub(crate) direct: bool,
    append: bool,
    state: Mutex<HandleState>,
}

impl std::fmt::Debug for OpenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenFile")
            .field("ino", &self.ino)
            .field("direct", &self.direct)
            .field("append", &self.append)
            .finish_non_exhaustive()
    }
}

impl OpenFile {
    /// An open file of `ino` over `handle`.
    pub(crate) fn new(ino: u64, handle: Box<dyn FileHandle>, direct: bool, append: bool) -> Self {
        Self {
            ino,
            direct,
            append,
            state: Mutex::new(HandleState {
                handle,
                expected: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HandleState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Reads up to `size` bytes at the kernel's `offset`.
    pub(crate) fn read(&self, offset: u64, size: usize) -> Result<Vec<u8>> {
        let mut state = self.lock();
        let mut buf = vec![0; size];
        let n = if self.direct {
            if offset != state.expected {
                // A stream cannot seek: it reads on.
                let _ = state.handle.seek(SeekFrom::Start(offset));
            }
            let n = state.handle.read(&mut buf)?;
            state.expected = offset + n as u64;
            n
        } else {
            let mut filled = 0;
            while filled < size {
                let n = state
                    .handle
                    .read_at(&mut buf[filled..], offset + filled as u64)?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            filled
        };
        buf.truncate(n);
        Ok(buf)
    }

    /// Writes `data` at the kernel's `offset`; returns how much was written.
    pub(crate) fn write(&self, offset: u64, data: &[u8]) -> Result<usize> {
        let mut state = self.lock();
        if self.direct {
            if !self.append && offset != state.expected {
                let _ = state.handle.seek(SeekFrom::Start(offset));
            }
            // One write(2), one write call: a message stays whole.
            let n = state.handle.write(data)?;
            state.expected = offset + n as u64;
            return Ok(n);
        }
        let mut done = 0;
        while done < data.len() {
            let rest = &data[done..];
            let n = if self.append {
                state.handle.write(rest)?
            } else {
                state.handle.write_at(rest, offset + done as u64)?
            };
            if n == 0 {
                break;
            }
            done += n;
        }
        Ok(done)
    }

    /// Cuts or extends the file to `len` bytes.
    pub(crate) fn set_len(&self, len: u64) -> Result<()> {
        self.lock().handle.set_len(len)
    }

    /// Makes what was written durable, where the service can.
    pub(crate) fn flush(&self) -> Result<()> {
        self.lock().handle.flush()
    }

    /// The metadata of the open file, unless an operation holds the handle
    /// now (a blocked read): `None` then, and the caller asks the service
    /// by path instead of waiting.
    pub(crate) fn try_stat(&self) -> Option<Result<Metadata>> {
        match self.state.try_lock() {
            Ok(state) => Some(state.handle.stat()),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner().handle.stat()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// One entry of a directory snapshot.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    /// Its inode number.
    pub(crate) ino: u64,
    /// Its type.
    pub(crate) kind: FileType,
    /// Its name.
    pub(crate) name: Box<str>,
}

/// An open directory: the listing it reads from.
#[derive(Debug)]
pub(crate) struct DirStream {
    /// Its inode number.
    pub(crate) ino: u64,
    /// The snapshot, `.` and `..` first.
    pub(crate) entries: Vec<Listed>,
    /// Whether a read from offset 0 has been answered (a further one is a
    /// `rewinddir`, which takes a new snapshot).
    pub(crate) served: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message handle as the capability services have: a write is one
    /// message, reading back gives the reply from its start.
    struct Message {
        reply: Vec<u8>,
        pos: usize,
        got: Vec<Vec<u8>>,
    }

    impl FileHandle for Message {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
            let rest = self.reply.get(self.pos..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.pos += n;
            Ok(n)
        }
        fn write(&mut self, buf: &[u8]) -> Result<usize> {
            self.got.push(buf.to_vec());
            self.reply = format!("req-{}", self.got.len()).into_bytes();
            self.pos = 0;
            Ok(buf.len())
        }
        fn seek(&mut self, _pos: SeekFrom) -> Result<u64> {
            Err(oanix_vfs::FsError::invalid_input("/m", "cannot seek"))
        }
        fn stat(&self) -> Result<Metadata> {
            Ok(Metadata::file(1, 0))
        }
        fn set_len(&mut self, _len: u64) -> Result<()> {
            Ok(())
        }
    }

    #[test]
    fn direct_handles_are_sequential_where_the_kernel_goes_on() {
        let handle = Message {
            reply: Vec::new(),
            pos: 0,
            got: Vec::new(),
        };
        let f = OpenFile::new(2, Box::new(handle), true, false);
        assert_eq!(f.write(0, b"{\"url\": 1}").ok(), Some(10));
        // The kernel reads on at offset 10; the handle gives its reply.
        assert_eq!(f.read(10, 64).ok().as_deref(), Some(&b"req-1"[..]));
        assert_eq!(f.read(15, 64).ok().as_deref(), Some(&b""[..]));
    }

    /// A file that gives at most three bytes per read.
    struct Trickle(Vec<u8>);

    impl FileHandle for Trickle {
        fn read(&mut self, _buf: &mut [u8]) -> Result<usize> {
            Ok(0)
        }
        fn write(&mut self, buf: &[u8]) -> Result<usize> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn seek(&mut self, _pos: SeekFrom) -> Result<u64> {
            Ok(0)
        }
        fn stat(&self) -> Result<Metadata> {
            Ok(Metadata::file(2, self.0.len() as u64))
        }
        fn set_len(&mut self, len: u64) -> Result<()> {
            self.0.resize(usize::try_from(len).unwrap_or(usize::MAX), 0);
            Ok(())
        }
        fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
            let rest = usize::try_from(offset)
                .ok()
                .and_then(|o| self.0.get(o..))
                .unwrap_or_default();
            let n = rest.len().min(buf.len()).min(3);
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }
        fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
            let o = usize::try_from(offset).unwrap_or(usize::MAX);
            if self.0.len() < o + buf.len() {
                self.0.resize(o + buf.len(), 0);
            }
            self.0[o..o + buf.len()].copy_from_slice(buf);
            Ok(buf.len())
        }
    }

    #[test]
    fn cached_handles_are_positional_and_fill_what_is_asked() {
        let f = OpenFile::new(2, Box::new(Trickle(b"0123456789".to_vec())), false, false);
        assert_eq!(f.read(4, 3).ok().as_deref(), Some(&b"456"[..]));
        assert_eq!(f.write(8, b"ab").ok(), Some(2));
        assert_eq!(f.read(0, 100).ok().as_deref(), Some(&b"01234567ab"[..]));
        assert!(f.try_stat().is_some_and(|m| m.is_ok_and(|m| m.size == 10)));
        let appending = OpenFile::new(3, Box::new(Trickle(b"ab".to_vec())), false, true);
        assert_eq!(appending.write(0, b"cd").ok(), Some(2));
        assert_eq!(appending.read(0, 10).ok().as_deref(), Some(&b"abcd"[..]));
    }
}
