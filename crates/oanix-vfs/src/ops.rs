//! Convenience functions over any `FileService`: whole-file reads and
//! writes, recursive creation and removal, and a directory walk.

use std::collections::VecDeque;

use crate::error::{FsError, FsErrorKind, Result};
use crate::path;
use crate::service::{FileHandle, FileService};
use crate::types::{FileKind, OpenFlags};

/// Reads a handle from its position to the end.
pub fn read_to_end(handle: &mut dyn FileHandle, out: &mut Vec<u8>) -> Result<usize> {
    let start = out.len();
    if let Ok(md) = handle.stat() {
        out.reserve(usize::try_from(md.size).unwrap_or(0));
    }
    let mut chunk = [0u8; 8192];
    loop {
        // Read straight into the vector's spare room when there is enough.
        if out.capacity() - out.len() >= chunk.len() {
            let len = out.len();
            out.resize(out.capacity(), 0);
            match handle.read(&mut out[len..]) {
                Ok(0) => {
                    out.truncate(len);
                    break;
                }
                Ok(n) => out.truncate(len + n),
                Err(e) => {
                    out.truncate(len);
                    return Err(e);
                }
            }
        } else {
            match handle.read(&mut chunk)? {
                0 => break,
                n => out.extend_from_slice(&chunk[..n]),
            }
        }
    }
    Ok(out.len() - start)
}

/// Writes all of `data` to a handle.
pub fn write_all(handle: &mut dyn FileHandle, path: &str, mut data: &[u8]) -> Result<()> {
    while !data.is_empty() {
        match handle.write(data)? {
            0 => return Err(FsError::io(path, "the file accepted no more data")),
            n => data = &data[n.min(data.len())..],
        }
    }
    Ok(())
}

/// Reads a whole file.
pub fn read_file<F: FileService + ?Sized>(fs: &F, path: &str) -> Result<Vec<u8>> {
    let mut handle = fs.open(path, OpenFlags::read_only())?;
    let mut out = Vec::new();
    read_to_end(handle.as_mut(), &mut out)?;
    Ok(out)
}

/// Reads a whole file as UTF-8 text.
pub fn read_to_string<F: FileService + ?Sized>(fs: &F, path: &str) -> Result<String> {
    let bytes = read_file(fs, path)?;
    String::from_utf8(bytes).map_err(|e| {
        FsError::invalid_input(
            path,
            format!("not valid UTF-8 (at byte {})", e.utf8_error().valid_up_to()),
        )
    })
}

/// Creates or replaces a file with `data`, in one write.
///
/// One write matters for capability files, where each write is one message.
pub fn write_file<F: FileService + ?Sized>(
    fs: &F,
    path: &str,
    data: impl AsRef<[u8]>,
) -> Result<()> {
    let mut handle = fs.open(path, OpenFlags::create_truncate())?;
    write_all(handle.as_mut(), path, data.as_ref())?;
    handle.flush()
}

/// Appends `data` to a file, creating it if needed.
pub fn append_file<F: FileService + ?Sized>(
    fs: &F,
    path: &str,
    data: impl AsRef<[u8]>,
) -> Result<()> {
    let mut handle = fs.open(path, OpenFlags::append_create())?;
    write_all(handle.as_mut(), path, data.as_ref())?;
    handle.flush()
}

/// Whether `path` exists.
pub fn exists<F: FileService + ?Sized>(fs: &F, path: &str) -> bool {
    fs.stat(path).is_ok()
}

/// Creates a directory and any missing parents; succeeds if it exists.
pub fn create_dir_all<F: FileService + ?Sized>(fs: &F, path: &str) -> Result<()> {
    let p = path::normalize(path)?;
    let mut current = String::with_capacity(p.len());
    for comp in path::components(&p) {
        current.push('/');
        current.push_str(comp);
        match fs.mkdir(&current) {
            Ok(()) => {}
            Err(e) if e.kind() == FsErrorKind::AlreadyExists => {
                if !fs.stat(&current)?.is_dir() {
                    return Err(FsError::not_a_directory(current));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Removes a file, or a directory and everything in it. Symbolic links are
/// removed, never followed.
pub fn remove_all<F: FileService + ?Sized>(fs: &F, path: &str) -> Result<()> {
    let p = path::normalize(path)?;
    if fs.lstat(&p)?.is_dir() {
        for entry in fs.readdir(&p)? {
            remove_all(fs, &path::join(&p, &entry.name))?;
        }
    }
    if p == "/" {
        return Ok(());
    }
    fs.remove(&p)
}

/// One entry found by [`walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry {
    /// The full path (below the walked directory).
    pub path: String,
    /// File or directory.
    pub kind: FileKind,
    /// Size in bytes as listed.
    pub size: u64,
    /// Depth below the walked directory (its entries are at depth 1).
    pub depth: usize,
}

/// Walks a directory tree depth-first, in name order, parents before
/// their children. The starting directory itself is not yielded.
pub fn walk<'f, F: FileService + ?Sized>(fs: &'f F, path: &str) -> Walk<'f, F> {
    let start = path::normalize(path).map(|p| p.into_owned());
    let mut stack = Vec::new();
    let mut pending_error = None;
    match start {
        Ok(p) => stack.push(Frame::Unread { dir: p, depth: 0 }),
        Err(e) => pending_error = Some(e),
    }
    Walk {
        fs,
        stack,
        pending_error,
    }
}

enum Frame {
    Unread {
        dir: String,
        depth: usize,
    },
    Listed {
        dir: String,
        depth: usize,
        entries: VecDeque<crate::DirEntry>,
    },
}

/// The iterator returned by [`walk`].
pub struct Walk<'f, F: FileService + ?Sized> {
    fs: &'f F,
    stack: Vec<Frame>,
    pending_error: Option<FsError>,
}

impl<F: FileService + ?Sized> std::fmt::Debug for Walk<'_, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Walk")
            .field("depth", &self.stack.len())
            .finish()
    }
}

impl<F: FileService + ?Sized> Iterator for Walk<'_, F> {
    type Item = Result<WalkEntry>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            return Some(Err(e));
        }
        loop {
            let frame = self.stack.pop()?;
            match frame {
                Frame::Unread { dir, depth } => match self.fs.readdir(&dir) {
                    Ok(entries) => self.stack.push(Frame::Listed {
                        dir,
                        depth,
                        entries: entries.into(),
                    }),
                    Err(e) => return Some(Err(e)),
                },
                Frame::Listed {
                    dir,
                    depth,
                    mut entries,
                } => {
                    let Some(entry) = entries.pop_front() else {
                        continue;
                    };
                    let child = path::join(&dir, &entry.name);
                    self.stack.push(Frame::Listed {
                        dir,
                        depth,
                        entries,
                    });
                    if entry.kind.is_dir() {
                        self.stack.push(Frame::Unread {
                            dir: child.clone(),
                            depth: depth + 1,
                        });
                    }
                    return Some(Ok(WalkEntry {
                        path: child,
                        kind: entry.kind,
                        size: entry.size,
                        depth: depth + 1,
                    }));
                }
            }
        }
    }
}
