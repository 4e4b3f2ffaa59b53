//! The `FileService` contract through the kernel: one sequence of
//! operations done with `std::fs` on the mount and directly on an equal
//! namespace, with the same outcomes (each error as its `errno`).

use std::fs;
use std::io::{ErrorKind, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oanix_fuse::{CachePolicy, MountOptions};
use oanix_prims::{MapFs, MemFs};
use oanix_vfs::{FileKind, FileService, FsError, FsErrorKind, Namespace, OpenFlags};

use crate::support::Mounted;

/// One operation, on namespace paths.
#[derive(Debug, Clone, Copy)]
enum Step {
    Mkdir(&'static str),
    Write(&'static str, &'static str),
    CreateNew(&'static str),
    Read(&'static str),
    ReadDir(&'static str),
    Stat(&'static str),
    Unlink(&'static str),
    Rmdir(&'static str),
    Rename(&'static str, &'static str),
    Symlink(&'static str, &'static str),
    ReadLink(&'static str),
    Link(&'static str, &'static str),
    Truncate(&'static str, u64),
}

/// What an operation gave.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Done,
    Text(String),
    Names(Vec<String>),
    /// Kind ("file", "dir", "link"), size, number of names.
    Stat(&'static str, u64, u64),
    Errno(i32),
}

/// The `errno` each error kind stands for (the crate's documented table).
fn errno_of(e: &FsError) -> i32 {
    match e.kind() {
        FsErrorKind::NotFound => libc::ENOENT,
        FsErrorKind::AlreadyExists => libc::EEXIST,
        FsErrorKind::NotADirectory => libc::ENOTDIR,
        FsErrorKind::IsADirectory => libc::EISDIR,
        FsErrorKind::NotEmpty => libc::ENOTEMPTY,
        FsErrorKind::ReadOnly => libc::EROFS,
        FsErrorKind::PermissionDenied | FsErrorKind::Escape => libc::EPERM,
        FsErrorKind::InvalidPath | FsErrorKind::InvalidInput => libc::EINVAL,
        FsErrorKind::CrossDevice => libc::EXDEV,
        FsErrorKind::Loop => libc::ELOOP,
        other => panic!("no errno in this test for {other:?}"),
    }
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::Directory => "dir",
        FileKind::Symlink => "link",
        _ => "file",
    }
}

/// The step done on the service itself.
fn direct(ns: &Namespace, step: Step) -> Outcome {
    let r: oanix_vfs::Result<Outcome> = (|| {
        Ok(match step {
            Step::Mkdir(p) => ns.mkdir(p).map(|()| Outcome::Done)?,
            Step::Write(p, text) => {
                oanix_vfs::write_file(ns, p, text)?;
                Outcome::Done
            }
            Step::CreateNew(p) => {
                ns.open(p, OpenFlags::write_only().with_create_new(true))?;
                Outcome::Done
            }
            Step::Read(p) => Outcome::Text(oanix_vfs::read_to_string(ns, p)?),
            Step::ReadDir(p) => {
                let mut names: Vec<String> = ns.readdir(p)?.into_iter().map(|e| e.name).collect();
                names.sort();
                Outcome::Names(names)
            }
            Step::Stat(p) => {
                let md = ns.lstat(p)?;
                Outcome::Stat(kind_name(md.kind), md.size, md.nlink)
            }
            // unlink(2) and rmdir(2) are one `remove` for the service,
            // which the kernel tells apart by kind first.
            Step::Unlink(p) => {
                if ns.lstat(p)?.is_dir() {
                    return Err(FsError::is_a_directory(p));
                }
                ns.remove(p).map(|()| Outcome::Done)?
            }
            Step::Rmdir(p) => {
                if !ns.lstat(p)?.is_dir() {
                    return Err(FsError::not_a_directory(p));
                }
                ns.remove(p).map(|()| Outcome::Done)?
            }
            Step::Rename(a, b) => ns.rename(a, b).map(|()| Outcome::Done)?,
            Step::Symlink(target, link) => ns.symlink(target, link).map(|()| Outcome::Done)?,
            Step::ReadLink(p) => Outcome::Text(ns.readlink(p)?),
            Step::Link(a, b) => ns.link(a, b).map(|()| Outcome::Done)?,
            Step::Truncate(p, len) => {
                ns.open(p, OpenFlags::write_only())?.set_len(len)?;
                Outcome::Done
            }
        })
    })();
    r.unwrap_or_else(|e| Outcome::Errno(errno_of(&e)))
}

/// The step done with `std::fs` on the mount at `root`.
fn kernel(root: &Path, step: Step) -> Outcome {
    let p = |s: &str| -> PathBuf { root.join(s.trim_start_matches('/')) };
    let r: std::io::Result<Outcome> = (|| {
        Ok(match step {
            Step::Mkdir(a) => fs::create_dir(p(a)).map(|()| Outcome::Done)?,
            Step::Write(a, text) => fs::write(p(a), text).map(|()| Outcome::Done)?,
            Step::CreateNew(a) => {
                fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .open(p(a))?;
                Outcome::Done
            }
            Step::Read(a) => {
                let mut s = String::new();
                fs::File::open(p(a))?.read_to_string(&mut s)?;
                Outcome::Text(s)
            }
            Step::ReadDir(a) => {
                let mut names = Vec::new();
                for e in fs::read_dir(p(a))? {
                    names.push(e?.file_name().into_string().unwrap());
                }
                names.sort();
                Outcome::Names(names)
            }
            Step::Stat(a) => {
                let md = fs::symlink_metadata(p(a))?;
                let kind = if md.is_dir() {
                    "dir"
                } else if md.file_type().is_symlink() {
                    "link"
                } else {
                    "file"
                };
                let size = if md.is_dir() { 0 } else { md.len() };
                Outcome::Stat(kind, size, md.nlink())
            }
            Step::Unlink(a) => fs::remove_file(p(a)).map(|()| Outcome::Done)?,
            Step::Rmdir(a) => fs::remove_dir(p(a)).map(|()| Outcome::Done)?,
            Step::Rename(a, b) => fs::rename(p(a), p(b)).map(|()| Outcome::Done)?,
            Step::Symlink(target, link) => {
                std::os::unix::fs::symlink(target, p(link)).map(|()| Outcome::Done)?
            }
            Step::ReadLink(a) => {
                Outcome::Text(fs::read_link(p(a))?.into_os_string().into_string().unwrap())
            }
            Step::Link(a, b) => fs::hard_link(p(a), p(b)).map(|()| Outcome::Done)?,
            Step::Truncate(a, len) => {
                fs::OpenOptions::new()
                    .write(true)
                    .open(p(a))?
                    .set_len(len)?;
                Outcome::Done
            }
        })
    })();
    r.unwrap_or_else(|e| {
        let code = e.raw_os_error().unwrap_or_else(|| match e.kind() {
            ErrorKind::InvalidData => libc::EILSEQ,
            _ => libc::EIO,
        });
        Outcome::Errno(code)
    })
}

fn namespace() -> Namespace {
    Namespace::builder()
        .mount("/w", MemFs::new())
        .mount("/r", MapFs::builder().file("/hello", "hello").build())
        .build()
}

#[test]
fn the_kernel_gives_what_the_service_gives() {
    use Step::*;
    let steps = [
        Mkdir("/w/a"),
        Mkdir("/w/a"),
        Mkdir("/w/missing/x"),
        Write("/w/a/f", "hello"),
        Read("/w/a/f"),
        Read("/w/nope"),
        Read("/w/a/f/x"),
        Rmdir("/w/a"),
        Write("/w/a", "x"),
        ReadDir("/w/a/f"),
        ReadDir("/w/a"),
        Rename("/w/a/f", "/w/a/g"),
        Read("/w/a/g"),
        Mkdir("/w/d"),
        Rename("/w/d", "/w/a/g"),
        Rename("/w/a/g", "/w/d"),
        Rename("/w/a", "/w/a/sub"),
        Rename("/w/nope", "/w/x"),
        Symlink("g", "/w/a/l"),
        ReadLink("/w/a/l"),
        Read("/w/a/l"),
        Stat("/w/a/l"),
        ReadLink("/w/a/g"),
        Symlink("x", "/w/a/g"),
        Link("/w/a/g", "/w/a/h"),
        Stat("/w/a/h"),
        Link("/w/a/g", "/w/a/h"),
        Link("/w/nope", "/w/a/i"),
        Truncate("/w/a/h", 2),
        Read("/w/a/g"),
        CreateNew("/w/a/h"),
        Unlink("/w/a/h"),
        Stat("/w/a/g"),
        Unlink("/w/a"),
        Unlink("/w/nope"),
        Rmdir("/w/a/g"),
        Rmdir("/w/d"),
        Rmdir("/w/d"),
        Write("/r/hello", "no"),
        Mkdir("/r/x"),
        Read("/r/hello"),
        Rename("/w/a/g", "/r/g"),
        ReadDir("/w"),
        ReadDir("/"),
    ];
    let ns = namespace();
    let m = Mounted::new(
        namespace(),
        MountOptions::new().policy("/r", CachePolicy::Immutable),
    );
    let mut report = Vec::new();
    for step in steps {
        let want = direct(&ns, step);
        let got = kernel(m.root(), step);
        if want != got {
            report.push(format!("{step:?}: service {want:?}, kernel {got:?}"));
        }
    }
    assert!(
        report.is_empty(),
        "the kernel differs:\n{}",
        report.join("\n")
    );
}
