//! The errno comparison guest: a long list of numbered preview1 calls, each
//! printed as `NNN name result` — `ok` with what the call returned, or the
//! errno's name. The host side (`tests/it/compare.rs`) runs it under
//! OANIX and under wasmtime-wasi over the same tree and compares the lines.
//!
//! Flag and enum values outside the interface are left out: wasmtime-wasi
//! traps on them, where OANIX answers `EINVAL`.
//!
//! It expects the tree preopened as fd 3: `file.txt` ("hello world"),
//! `empty` (no bytes), `dir/inner.txt` ("inner") and `emptydir/`. Nothing it
//! prints depends on inode numbers, times or listing order.

#![allow(unsafe_code, reason = "calling the preview1 imports directly")]

use oanix_test_guests::raw;

/// The preopened tree.
const ROOT: u32 = 3;
/// A descriptor number that is never open.
const INVALID: u32 = 99;

const FD_DATASYNC: u64 = 1 << 0;
const FD_READ: u64 = 1 << 1;
const FD_SEEK: u64 = 1 << 2;
const FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
const FD_SYNC: u64 = 1 << 4;
const FD_TELL: u64 = 1 << 5;
const FD_WRITE: u64 = 1 << 6;
const FD_ADVISE: u64 = 1 << 7;
const FD_ALLOCATE: u64 = 1 << 8;
const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
const PATH_CREATE_FILE: u64 = 1 << 10;
const PATH_LINK_SOURCE: u64 = 1 << 11;
const PATH_LINK_TARGET: u64 = 1 << 12;
const PATH_OPEN: u64 = 1 << 13;
const FD_READDIR: u64 = 1 << 14;
const PATH_READLINK: u64 = 1 << 15;
const PATH_RENAME_SOURCE: u64 = 1 << 16;
const PATH_RENAME_TARGET: u64 = 1 << 17;
const PATH_FILESTAT_GET: u64 = 1 << 18;
const PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
const PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
const FD_FILESTAT_GET: u64 = 1 << 21;
const FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
const FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
const PATH_SYMLINK: u64 = 1 << 24;
const PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
const PATH_UNLINK_FILE: u64 = 1 << 26;
const POLL_FD_READWRITE: u64 = 1 << 27;
const ALL: u64 = (1 << 30) - 1;
/// The rights a regular file can have.
const FILE: u64 = FD_DATASYNC
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
/// The rights a directory can have.
const DIR: u64 = PATH_CREATE_DIRECTORY
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

const O_CREAT: u32 = 1;
const O_DIRECTORY: u32 = 2;
const O_EXCL: u32 = 4;
const O_TRUNC: u32 = 8;
const FDFLAG_APPEND: u32 = 1;
const FDFLAG_DSYNC: u32 = 2;
const FDFLAG_NONBLOCK: u32 = 4;
const SYMLINK_FOLLOW: u32 = 1;
const WHENCE_SET: u32 = 0;
const WHENCE_CUR: u32 = 1;
const WHENCE_END: u32 = 2;

/// The name of an errno value.
fn errno_name(e: u16) -> String {
    const NAMES: [&str; 77] = [
        "SUCCESS",
        "E2BIG",
        "EACCES",
        "EADDRINUSE",
        "EADDRNOTAVAIL",
        "EAFNOSUPPORT",
        "EAGAIN",
        "EALREADY",
        "EBADF",
        "EBADMSG",
        "EBUSY",
        "ECANCELED",
        "ECHILD",
        "ECONNABORTED",
        "ECONNREFUSED",
        "ECONNRESET",
        "EDEADLK",
        "EDESTADDRREQ",
        "EDOM",
        "EDQUOT",
        "EEXIST",
        "EFAULT",
        "EFBIG",
        "EHOSTUNREACH",
        "EIDRM",
        "EILSEQ",
        "EINPROGRESS",
        "EINTR",
        "EINVAL",
        "EIO",
        "EISCONN",
        "EISDIR",
        "ELOOP",
        "EMFILE",
        "EMLINK",
        "EMSGSIZE",
        "EMULTIHOP",
        "ENAMETOOLONG",
        "ENETDOWN",
        "ENETRESET",
        "ENETUNREACH",
        "ENFILE",
        "ENOBUFS",
        "ENODEV",
        "ENOENT",
        "ENOEXEC",
        "ENOLCK",
        "ENOLINK",
        "ENOMEM",
        "ENOMSG",
        "ENOPROTOOPT",
        "ENOSPC",
        "ENOSYS",
        "ENOTCONN",
        "ENOTDIR",
        "ENOTEMPTY",
        "ENOTRECOVERABLE",
        "ENOTSOCK",
        "ENOTSUP",
        "ENOTTY",
        "ENXIO",
        "EOVERFLOW",
        "EOWNERDEAD",
        "EPERM",
        "EPIPE",
        "EPROTO",
        "EPROTONOSUPPORT",
        "EPROTOTYPE",
        "ERANGE",
        "EROFS",
        "ESPIPE",
        "ESRCH",
        "ESTALE",
        "ETIMEDOUT",
        "ETXTBSY",
        "EXDEV",
        "ENOTCAPABLE",
    ];
    match NAMES.get(usize::from(e)) {
        Some(name) => (*name).to_owned(),
        None => format!("errno{e}"),
    }
}

/// What a call gave: a value to print, or an errno.
type Outcome = Result<String, u16>;

fn unit(e: u16) -> Outcome {
    if e == 0 { Ok(String::new()) } else { Err(e) }
}

/// The numbered cases, printed as they run.
struct Cases {
    n: u32,
}

impl Cases {
    fn case(&mut self, name: &str, outcome: Outcome) {
        self.n += 1;
        match outcome {
            Ok(v) if v.is_empty() => println!("{:03} {name} ok", self.n),
            Ok(v) => println!("{:03} {name} ok {v}", self.n),
            Err(e) => println!("{:03} {name} {}", self.n, errno_name(e)),
        }
    }
}

fn open(
    dir: u32,
    lookup: u32,
    path: &str,
    oflags: u32,
    base: u64,
    inh: u64,
    fdflags: u32,
) -> Result<u32, u16> {
    let mut fd = 0;
    let e = unsafe {
        raw::path_open(
            dir,
            lookup,
            path.as_ptr(),
            path.len() as u32,
            oflags,
            base,
            inh,
            fdflags,
            &mut fd,
        )
    };
    if e == 0 { Ok(fd) } else { Err(e) }
}

/// Opens `path` with `base` rights (inheriting everything), for the cases.
fn open_as(path: &str, oflags: u32, base: u64) -> Result<u32, u16> {
    open(ROOT, SYMLINK_FOLLOW, path, oflags, base, ALL, 0)
}

fn close(fd: u32) -> Outcome {
    unit(unsafe { raw::fd_close(fd) })
}

fn read(fd: u32, len: usize) -> Outcome {
    let mut buf = vec![0u8; len];
    let iov = [buf.as_mut_ptr() as u32, len as u32];
    let mut n = 0;
    unit(unsafe { raw::fd_read(fd, iov.as_ptr(), 1, &mut n) })?;
    Ok(format!(
        "{n} {:?}",
        String::from_utf8_lossy(&buf[..n as usize])
    ))
}

fn pread(fd: u32, len: usize, at: u64) -> Outcome {
    let mut buf = vec![0u8; len];
    let iov = [buf.as_mut_ptr() as u32, len as u32];
    let mut n = 0;
    unit(unsafe { raw::fd_pread(fd, iov.as_ptr(), 1, at, &mut n) })?;
    Ok(format!(
        "{n} {:?}",
        String::from_utf8_lossy(&buf[..n as usize])
    ))
}

fn write(fd: u32, data: &[u8]) -> Outcome {
    let iov = [data.as_ptr() as u32, data.len() as u32];
    let mut n = 0;
    unit(unsafe { raw::fd_write(fd, iov.as_ptr(), 1, &mut n) })?;
    Ok(n.to_string())
}

fn pwrite(fd: u32, data: &[u8], at: u64) -> Outcome {
    let iov = [data.as_ptr() as u32, data.len() as u32];
    let mut n = 0;
    unit(unsafe { raw::fd_pwrite(fd, iov.as_ptr(), 1, at, &mut n) })?;
    Ok(n.to_string())
}

fn seek(fd: u32, offset: i64, whence: u32) -> Outcome {
    let mut at = 0;
    unit(unsafe { raw::fd_seek(fd, offset, whence, &mut at) })?;
    Ok(at.to_string())
}

fn tell(fd: u32) -> Outcome {
    let mut at = 0;
    unit(unsafe { raw::fd_tell(fd, &mut at) })?;
    Ok(at.to_string())
}

/// filetype, flags, and which of `fd_read`/`fd_write` the rights hold.
fn fdstat(fd: u32) -> Outcome {
    let mut b = [0u8; 24];
    unit(unsafe { raw::fd_fdstat_get(fd, b.as_mut_ptr()) })?;
    let base = u64::from_le_bytes(b[8..16].try_into().unwrap_or_default());
    Ok(format!(
        "type={} flags={} read={} write={}",
        b[0],
        u16::from_le_bytes([b[2], b[3]]),
        base & FD_READ != 0,
        base & FD_WRITE != 0
    ))
}

/// The rights themselves (OANIX keeps them; other runtimes may not).
fn rights(fd: u32) -> Outcome {
    let mut b = [0u8; 24];
    unit(unsafe { raw::fd_fdstat_get(fd, b.as_mut_ptr()) })?;
    let base = u64::from_le_bytes(b[8..16].try_into().unwrap_or_default());
    let inh = u64::from_le_bytes(b[16..24].try_into().unwrap_or_default());
    Ok(format!("base={base:#x} inheriting={inh:#x}"))
}

/// The file type, and the size of a regular file (a directory's size is
/// the file system's own business).
fn filestat_text(b: &[u8; 64]) -> String {
    let size = u64::from_le_bytes(b[32..40].try_into().unwrap_or_default());
    match b[16] {
        4 => format!("type=4 size={size}"),
        ty => format!("type={ty}"),
    }
}

fn filestat(fd: u32) -> Outcome {
    let mut b = [0u8; 64];
    unit(unsafe { raw::fd_filestat_get(fd, b.as_mut_ptr()) })?;
    Ok(filestat_text(&b))
}

fn path_filestat(dir: u32, lookup: u32, path: &str) -> Outcome {
    let mut b = [0u8; 64];
    unit(unsafe {
        raw::path_filestat_get(
            dir,
            lookup,
            path.as_ptr(),
            path.len() as u32,
            b.as_mut_ptr(),
        )
    })?;
    Ok(filestat_text(&b))
}

/// Every name `fd_readdir` lists, sorted, with its file type.
fn listing(fd: u32) -> Outcome {
    let mut buf = vec![0u8; 4096];
    let mut used = 0;
    unit(unsafe { raw::fd_readdir(fd, buf.as_mut_ptr(), buf.len() as u32, 0, &mut used) })?;
    let mut names = Vec::new();
    let mut at = 0usize;
    let used = used as usize;
    while at + 24 <= used {
        let len = u32::from_le_bytes(buf[at + 16..at + 20].try_into().unwrap_or_default()) as usize;
        let ty = buf[at + 20];
        let name = String::from_utf8_lossy(&buf[at + 24..(at + 24 + len).min(used)]).into_owned();
        names.push(format!("{name}:{ty}"));
        at += 24 + len;
    }
    names.sort();
    Ok(names.join(","))
}

fn mkdir(dir: u32, path: &str) -> Outcome {
    unit(unsafe { raw::path_create_directory(dir, path.as_ptr(), path.len() as u32) })
}

fn rmdir(dir: u32, path: &str) -> Outcome {
    unit(unsafe { raw::path_remove_directory(dir, path.as_ptr(), path.len() as u32) })
}

fn unlink(dir: u32, path: &str) -> Outcome {
    unit(unsafe { raw::path_unlink_file(dir, path.as_ptr(), path.len() as u32) })
}

fn rename(dir: u32, from: &str, to_dir: u32, to: &str) -> Outcome {
    unit(unsafe {
        raw::path_rename(
            dir,
            from.as_ptr(),
            from.len() as u32,
            to_dir,
            to.as_ptr(),
            to.len() as u32,
        )
    })
}

fn symlink(target: &str, dir: u32, link: &str) -> Outcome {
    unit(unsafe {
        raw::path_symlink(
            target.as_ptr(),
            target.len() as u32,
            dir,
            link.as_ptr(),
            link.len() as u32,
        )
    })
}

fn link(dir: u32, lookup: u32, from: &str, to_dir: u32, to: &str) -> Outcome {
    unit(unsafe {
        raw::path_link(
            dir,
            lookup,
            from.as_ptr(),
            from.len() as u32,
            to_dir,
            to.as_ptr(),
            to.len() as u32,
        )
    })
}

fn readlink(dir: u32, path: &str, len: u32) -> Outcome {
    let mut buf = vec![0u8; len as usize];
    let mut n = 0;
    unit(unsafe {
        raw::path_readlink(
            dir,
            path.as_ptr(),
            path.len() as u32,
            buf.as_mut_ptr(),
            len,
            &mut n,
        )
    })?;
    Ok(format!(
        "{n} {:?}",
        String::from_utf8_lossy(&buf[..(n as usize).min(buf.len())])
    ))
}

fn set_times(dir: u32, lookup: u32, path: &str, fst: u32) -> Outcome {
    unit(unsafe {
        raw::path_filestat_set_times(
            dir,
            lookup,
            path.as_ptr(),
            path.len() as u32,
            1_000_000_000,
            2_000_000_000,
            fst,
        )
    })
}

fn set_rights(fd: u32, base: u64, inh: u64) -> Outcome {
    unit(unsafe { raw::fd_fdstat_set_rights(fd, base, inh) })
}

/// `poll_oneoff` with one fd subscription (`kind` 1 read, 2 write): the
/// call's errno, or the event's.
fn poll_fd(fd: u32, kind: u8) -> Outcome {
    let mut sub = [0u8; 48];
    sub[0] = 42;
    sub[8] = kind;
    sub[16..20].copy_from_slice(&fd.to_le_bytes());
    let mut ev = [0u8; 32];
    let mut n = 0u32;
    unit(unsafe { raw::poll_oneoff(sub.as_ptr(), ev.as_mut_ptr(), 1, &mut n) })?;
    let error = u16::from_le_bytes([ev[8], ev[9]]);
    Ok(format!("events={n} error={}", errno_name(error)))
}

/// The descriptors of every kind the matrix runs each call on.
struct Kinds {
    list: Vec<(&'static str, u32)>,
}

fn kinds(c: &mut Cases) -> Kinds {
    let file = open_as("matrix.txt", O_CREAT, FILE);
    c.case("setup.matrix_file", file.map(|_| String::new()));
    let ro = open_as("file.txt", 0, FILE & !FD_WRITE);
    c.case("setup.read_only_file", ro.map(|_| String::new()));
    let dir = open_as("dir", O_DIRECTORY, DIR | FD_READ);
    c.case("setup.dir", dir.map(|_| String::new()));
    let closed = open_as("file.txt", 0, FD_READ).unwrap_or(INVALID);
    c.case("setup.closed", close(closed));
    Kinds {
        list: vec![
            ("file", file.unwrap_or(INVALID)),
            ("rofile", ro.unwrap_or(INVALID)),
            ("dir", dir.unwrap_or(INVALID)),
            ("preopen", ROOT),
            ("stdin", 0),
            ("stdout", 1),
            ("closed", closed),
            ("invalid", INVALID),
        ],
    }
}

/// Every call on every kind of descriptor.
fn matrix(c: &mut Cases, k: &Kinds) {
    for &(kind, fd) in &k.list {
        // Nothing is written to stdout but the case lines.
        let data: &[u8] = if kind == "stdout" { b"" } else { b"x" };
        c.case(
            &format!("fd_advise.{kind}"),
            unit(unsafe { raw::fd_advise(fd, 0, 1, 0) }),
        );
        c.case(
            &format!("fd_allocate.{kind}"),
            unit(unsafe { raw::fd_allocate(fd, 0, 0) }),
        );
        c.case(
            &format!("fd_datasync.{kind}"),
            unit(unsafe { raw::fd_datasync(fd) }),
        );
        c.case(
            &format!("fd_sync.{kind}"),
            unit(unsafe { raw::fd_sync(fd) }),
        );
        c.case(&format!("fd_fdstat_get.{kind}"), fdstat(fd));
        c.case(
            &format!("fd_fdstat_set_flags.{kind}"),
            unit(unsafe { raw::fd_fdstat_set_flags(fd, 0) }),
        );
        c.case(&format!("fd_filestat_get.{kind}"), filestat(fd));
        c.case(
            &format!("fd_filestat_set_size.{kind}"),
            unit(unsafe { raw::fd_filestat_set_size(fd, 1) }),
        );
        c.case(
            &format!("fd_filestat_set_times.{kind}"),
            unit(unsafe { raw::fd_filestat_set_times(fd, 1_000, 2_000, 1 | 4) }),
        );
        c.case(&format!("fd_pread.{kind}"), pread(fd, 4, 0));
        c.case(&format!("fd_pwrite.{kind}"), pwrite(fd, data, 0));
        c.case(&format!("fd_read.{kind}"), read(fd, 4));
        c.case(&format!("fd_write.{kind}"), write(fd, data));
        c.case(&format!("fd_seek_cur0.{kind}"), seek(fd, 0, WHENCE_CUR));
        c.case(&format!("fd_seek_set.{kind}"), seek(fd, 0, WHENCE_SET));
        c.case(&format!("fd_tell.{kind}"), tell(fd));
        let mut buf = [0u8; 64];
        let mut used = 0;
        c.case(
            &format!("fd_readdir.{kind}"),
            unit(unsafe { raw::fd_readdir(fd, buf.as_mut_ptr(), 64, 0, &mut used) }),
        );
        let mut pre = [0u32; 2];
        c.case(
            &format!("fd_prestat_get.{kind}"),
            unit(unsafe { raw::fd_prestat_get(fd, pre.as_mut_ptr()) }),
        );
        c.case(
            &format!("fd_prestat_dir_name.{kind}"),
            unit(unsafe { raw::fd_prestat_dir_name(fd, buf.as_mut_ptr(), 64) }),
        );
        let mut out = 0u32;
        let mut roflags = 0u16;
        let iov = [buf.as_mut_ptr() as u32, 4];
        c.case(
            &format!("sock_accept.{kind}"),
            unit(unsafe { raw::sock_accept(fd, 0, &mut out) }),
        );
        c.case(
            &format!("sock_recv.{kind}"),
            unit(unsafe { raw::sock_recv(fd, iov.as_ptr(), 1, 0, &mut out, &mut roflags) }),
        );
        c.case(
            &format!("sock_send.{kind}"),
            unit(unsafe { raw::sock_send(fd, iov.as_ptr(), 1, 0, &mut out) }),
        );
        c.case(
            &format!("sock_shutdown.{kind}"),
            unit(unsafe { raw::sock_shutdown(fd, 3) }),
        );
        c.case(&format!("poll_read.{kind}"), poll_fd(fd, 1));
        c.case(
            &format!("path_open.{kind}"),
            open(fd, 0, "x", 0, FD_READ, 0, 0).map(|_| String::new()),
        );
        c.case(&format!("path_create_directory.{kind}"), mkdir(fd, "x"));
        c.case(
            &format!("path_filestat_get.{kind}"),
            path_filestat(fd, 0, "x"),
        );
        c.case(
            &format!("path_filestat_set_times.{kind}"),
            set_times(fd, 0, "x", 1 | 4),
        );
        c.case(&format!("path_link.{kind}"), link(fd, 0, "x", ROOT, "y"));
        c.case(
            &format!("path_link_target.{kind}"),
            link(ROOT, 0, "file.txt", fd, "."),
        );
        c.case(&format!("path_readlink.{kind}"), readlink(fd, "x", 16));
        c.case(&format!("path_remove_directory.{kind}"), rmdir(fd, "x"));
        c.case(&format!("path_rename.{kind}"), rename(fd, "x", ROOT, "y"));
        c.case(
            &format!("path_rename_target.{kind}"),
            rename(ROOT, "nothing", fd, "y"),
        );
        c.case(&format!("path_symlink.{kind}"), symlink("x", fd, "."));
        c.case(&format!("path_unlink_file.{kind}"), unlink(fd, "x"));
    }
}

/// `path_open` with every kind of odd path and flag.
fn opens(c: &mut Cases) {
    let opened = |r: Result<u32, u16>| -> Outcome {
        let fd = r?;
        let st = filestat(fd);
        let _ = close(fd);
        st
    };
    let ro_rights = FILE & !FD_WRITE;
    c.case("open.file", opened(open_as("file.txt", 0, ro_rights)));
    c.case("open.dir", opened(open_as("dir", 0, ro_rights)));
    c.case(
        "open.dir_o_directory",
        opened(open_as("dir", O_DIRECTORY, ro_rights)),
    );
    c.case(
        "open.dir_trailing_slash",
        opened(open_as("dir/", 0, ro_rights)),
    );
    c.case("open.dir_write", opened(open_as("dir", 0, FILE)));
    c.case(
        "open.dir_o_directory_write",
        opened(open_as("dir", O_DIRECTORY, FILE)),
    );
    c.case("open.dir_slash_write", opened(open_as("dir/", 0, FILE)));
    c.case("open.dir_trunc", opened(open_as("dir", O_TRUNC, ro_rights)));
    c.case(
        "open.dir_trunc_write",
        opened(open_as("dir", O_TRUNC, FILE)),
    );
    c.case(
        "open.dir_o_directory_trunc",
        opened(open_as("dir", O_DIRECTORY | O_TRUNC, ro_rights)),
    );
    c.case(
        "open.dir_o_directory_creat",
        opened(open_as("dir", O_DIRECTORY | O_CREAT, ro_rights)),
    );
    c.case(
        "open.dir_o_directory_excl",
        opened(open_as("dir", O_DIRECTORY | O_EXCL, ro_rights)),
    );
    c.case("open.dir_creat", opened(open_as("dir", O_CREAT, ro_rights)));
    c.case(
        "open.dir_creat_excl",
        opened(open_as("dir", O_CREAT | O_EXCL, ro_rights)),
    );
    c.case(
        "open.file_o_directory",
        opened(open_as("file.txt", O_DIRECTORY, ro_rights)),
    );
    c.case(
        "open.file_trailing_slash",
        opened(open_as("file.txt/", 0, ro_rights)),
    );
    c.case(
        "open.file_trailing_slashes",
        opened(open_as("file.txt///", 0, ro_rights)),
    );
    c.case("open.file_dot", opened(open_as("file.txt/.", 0, ro_rights)));
    c.case(
        "open.file_dotdot",
        opened(open_as("file.txt/..", 0, ro_rights)),
    );
    c.case(
        "open.file_below_file",
        opened(open_as("file.txt/x", 0, ro_rights)),
    );
    c.case(
        "open.file_creat_excl",
        opened(open_as("file.txt", O_CREAT | O_EXCL, FILE)),
    );
    c.case("open.missing", opened(open_as("missing", 0, ro_rights)));
    c.case(
        "open.missing_parent",
        opened(open_as("missing/x", 0, ro_rights)),
    );
    c.case(
        "open.missing_creat_parent",
        opened(open_as("missing/x", O_CREAT, FILE)),
    );
    c.case(
        "open.creat_trailing_slash",
        opened(open_as("newdir/", O_CREAT, FILE)),
    );
    c.case("open.empty_path", opened(open_as("", 0, ro_rights)));
    c.case("open.dot", opened(open_as(".", 0, ro_rights)));
    c.case(
        "open.dot_o_directory",
        opened(open_as(".", O_DIRECTORY, ro_rights)),
    );
    c.case("open.dot_write", opened(open_as(".", 0, FILE)));
    c.case("open.dotdot", opened(open_as("..", 0, ro_rights)));
    c.case(
        "open.dotdot_file",
        opened(open_as("../file.txt", 0, ro_rights)),
    );
    c.case(
        "open.dir_dotdot_dotdot",
        opened(open_as("dir/../../file.txt", 0, ro_rights)),
    );
    c.case(
        "open.dir_dotdot",
        opened(open_as("dir/../file.txt", 0, ro_rights)),
    );
    c.case(
        "open.missing_dotdot",
        opened(open_as("missing/../file.txt", 0, ro_rights)),
    );
    c.case(
        "open.file_dotdot_file",
        opened(open_as("file.txt/../file.txt", 0, ro_rights)),
    );
    c.case(
        "open.dot_slashes",
        opened(open_as("./dir//./inner.txt", 0, ro_rights)),
    );
    c.case("open.absolute", opened(open_as("/file.txt", 0, ro_rights)));
    c.case("open.absolute_root", opened(open_as("/", 0, ro_rights)));
    c.case("open.nul", opened(open_as("file.txt\0", 0, ro_rights)));
    c.case(
        "open.long_name",
        opened(open_as(&"n".repeat(300), 0, ro_rights)),
    );
    c.case(
        "open.dsync",
        opened(open(ROOT, 0, "file.txt", 0, ro_rights, ALL, FDFLAG_DSYNC)),
    );
    c.case(
        "open.nonblock",
        opened(open(
            ROOT,
            0,
            "file.txt",
            0,
            ro_rights,
            ALL,
            FDFLAG_NONBLOCK,
        )),
    );
    c.case(
        "open.creat_new",
        opened(open_as("created.txt", O_CREAT | O_EXCL, FILE)),
    );
    c.case(
        "open.creat_existing",
        opened(open_as("created.txt", O_CREAT, FILE)),
    );

    // Through a directory opened below the preopen.
    let dir = open_as("dir", O_DIRECTORY, DIR | FD_READ);
    c.case("sub.open_dir", dir.map(|_| String::new()));
    let dir = dir.unwrap_or(INVALID);
    c.case(
        "sub.inner",
        opened(open(dir, 0, "inner.txt", 0, ro_rights, ALL, 0)),
    );
    c.case(
        "sub.dotdot",
        opened(open(dir, 0, "../file.txt", 0, ro_rights, ALL, 0)),
    );
    c.case("sub.dot", opened(open(dir, 0, ".", 0, ro_rights, ALL, 0)));
    c.case(
        "sub.dotdot_self",
        opened(open(dir, 0, "..", 0, ro_rights, ALL, 0)),
    );
    c.case("sub.mkdir_dotdot", mkdir(dir, "../x"));
    c.case("sub.listing", listing(dir));
    let _ = close(dir);

    // Reading and writing what the open mode allows.
    let ro = open_as("file.txt", 0, ro_rights);
    c.case("mode.read_only.read", ro.map_or_else(Err, |fd| read(fd, 5)));
    c.case(
        "mode.read_only.write",
        ro.map_or_else(Err, |fd| write(fd, b"x")),
    );
    c.case(
        "mode.read_only.pwrite",
        ro.map_or_else(Err, |fd| pwrite(fd, b"x", 0)),
    );
    c.case(
        "mode.read_only.set_size",
        ro.map_or_else(Err, |fd| unit(unsafe { raw::fd_filestat_set_size(fd, 1) })),
    );
    c.case(
        "mode.read_only.allocate",
        ro.map_or_else(Err, |fd| unit(unsafe { raw::fd_allocate(fd, 0, 100) })),
    );
    c.case("mode.read_only.fdstat", ro.map_or_else(Err, fdstat));
    let _ = ro.map(close);
    let wo = open_as("created.txt", 0, FILE & !FD_READ);
    c.case(
        "mode.write_only.write",
        wo.map_or_else(Err, |fd| write(fd, b"written")),
    );
    c.case(
        "mode.write_only.read",
        wo.map_or_else(Err, |fd| read(fd, 4)),
    );
    c.case(
        "mode.write_only.pread",
        wo.map_or_else(Err, |fd| pread(fd, 4, 0)),
    );
    c.case("mode.write_only.fdstat", wo.map_or_else(Err, fdstat));
    c.case("mode.write_only.size", wo.map_or_else(Err, filestat));
    let _ = wo.map(close);
    let trunc = open_as("created.txt", O_TRUNC, FILE);
    c.case("mode.trunc.size", trunc.map_or_else(Err, filestat));
    let _ = trunc.map(close);
    let app = open(ROOT, 0, "created.txt", 0, FILE, ALL, FDFLAG_APPEND);
    c.case(
        "mode.append.write1",
        app.map_or_else(Err, |fd| write(fd, b"one")),
    );
    c.case(
        "mode.append.seek0",
        app.map_or_else(Err, |fd| seek(fd, 0, WHENCE_SET)),
    );
    c.case(
        "mode.append.write2",
        app.map_or_else(Err, |fd| write(fd, b"two")),
    );
    c.case("mode.append.fdstat", app.map_or_else(Err, fdstat));
    c.case(
        "mode.append.pread",
        app.map_or_else(Err, |fd| pread(fd, 16, 0)),
    );
    c.case(
        "mode.append.clear_flag",
        app.map_or_else(Err, |fd| unit(unsafe { raw::fd_fdstat_set_flags(fd, 0) })),
    );
    c.case(
        "mode.append.seek0_again",
        app.map_or_else(Err, |fd| seek(fd, 0, WHENCE_SET)),
    );
    c.case(
        "mode.append.write3",
        app.map_or_else(Err, |fd| write(fd, b"ONE")),
    );
    c.case(
        "mode.append.final",
        app.map_or_else(Err, |fd| pread(fd, 16, 0)),
    );
    c.case(
        "mode.append.set_dsync",
        app.map_or_else(Err, |fd| {
            unit(unsafe { raw::fd_fdstat_set_flags(fd, FDFLAG_DSYNC) })
        }),
    );
    let _ = app.map(close);
}

/// Seeks, positional I/O, sizes.
fn positions(c: &mut Cases) {
    let f = open_as("file.txt", 0, FILE);
    let fd = f.unwrap_or(INVALID);
    c.case("seek.end", seek(fd, -1, WHENCE_END));
    c.case("seek.before_start", seek(fd, -100, WHENCE_CUR));
    c.case("seek.negative_set", seek(fd, -1, WHENCE_SET));
    c.case("seek.past_end", seek(fd, 100, WHENCE_SET));
    c.case("seek.read_past_end", read(fd, 4));
    c.case("seek.tell", tell(fd));
    c.case("pread.middle", pread(fd, 5, 6));
    c.case("pread.past_end", pread(fd, 5, 100));
    c.case("pread.tell_unchanged", tell(fd));
    c.case(
        "size.grow",
        unit(unsafe { raw::fd_filestat_set_size(fd, 13) }),
    );
    c.case("size.after_grow", filestat(fd));
    c.case(
        "size.shrink",
        unit(unsafe { raw::fd_filestat_set_size(fd, 11) }),
    );
    c.case(
        "size.too_big",
        unit(unsafe { raw::fd_filestat_set_size(fd, u64::MAX) }),
    );
    c.case(
        "allocate.overflow",
        unit(unsafe { raw::fd_allocate(fd, u64::MAX, 2) }),
    );
    c.case(
        "times.both_now",
        unit(unsafe { raw::fd_filestat_set_times(fd, 0, 0, 1 | 2) }),
    );
    c.case(
        "times.now",
        unit(unsafe { raw::fd_filestat_set_times(fd, 0, 0, 2 | 8) }),
    );
    c.case(
        "renumber.to_invalid",
        unit(unsafe { raw::fd_renumber(fd, INVALID) }),
    );
    c.case(
        "renumber.from_invalid",
        unit(unsafe { raw::fd_renumber(INVALID, fd) }),
    );
    c.case("renumber.self", unit(unsafe { raw::fd_renumber(fd, fd) }));
    let g = open_as("empty", 0, FILE & !FD_WRITE).unwrap_or(INVALID);
    c.case(
        "renumber.onto_open",
        unit(unsafe { raw::fd_renumber(fd, g) }),
    );
    c.case("renumber.moved_reads", pread(g, 5, 0));
    c.case("renumber.old_closed", filestat(fd));
    c.case("close.twice_first", close(g));
    c.case("close.twice_second", close(g));
}

/// Directory operations on odd paths.
fn paths(c: &mut Cases) {
    c.case("mkdir.new", mkdir(ROOT, "made"));
    c.case("mkdir.existing", mkdir(ROOT, "made"));
    c.case("mkdir.over_file", mkdir(ROOT, "file.txt"));
    c.case("mkdir.missing_parent", mkdir(ROOT, "missing/x"));
    c.case("mkdir.below_file", mkdir(ROOT, "file.txt/x"));
    c.case("mkdir.trailing_slash", mkdir(ROOT, "made2/"));
    c.case("mkdir.dot", mkdir(ROOT, "."));
    c.case("mkdir.dotdot", mkdir(ROOT, ".."));
    c.case("mkdir.empty", mkdir(ROOT, ""));
    c.case("mkdir.absolute", mkdir(ROOT, "/abs"));
    c.case("mkdir.escape", mkdir(ROOT, "made/../../x"));
    c.case("mkdir.inner_dotdot", mkdir(ROOT, "made/../made3"));
    c.case("rmdir.not_empty", rmdir(ROOT, "dir"));
    c.case("rmdir.file", rmdir(ROOT, "file.txt"));
    c.case("rmdir.file_slash", rmdir(ROOT, "file.txt/"));
    c.case("rmdir.missing", rmdir(ROOT, "missing"));
    c.case("rmdir.dot", rmdir(ROOT, "."));
    c.case("rmdir.dotdot", rmdir(ROOT, ".."));
    c.case("rmdir.made_dotdot", rmdir(ROOT, "made/.."));
    c.case("rmdir.trailing_slash", rmdir(ROOT, "made2/"));
    // Whatever the answer was, `made2` goes, so the listings agree.
    let _ = rmdir(ROOT, "made2");
    c.case("rmdir.trailing_dot", rmdir(ROOT, "made3/."));
    c.case("rmdir.empty", rmdir(ROOT, ""));
    c.case("rmdir.absolute", rmdir(ROOT, "/made"));
    c.case("unlink.dir", unlink(ROOT, "dir"));
    c.case("unlink.dir_slash", unlink(ROOT, "emptydir/"));
    c.case("unlink.file_slash", unlink(ROOT, "file.txt/"));
    c.case("unlink.missing", unlink(ROOT, "missing"));
    c.case("unlink.dot", unlink(ROOT, "."));
    c.case("unlink.dotdot", unlink(ROOT, ".."));
    c.case("unlink.empty", unlink(ROOT, ""));
    c.case("unlink.absolute", unlink(ROOT, "/file.txt"));
    c.case("unlink.created", unlink(ROOT, "created.txt"));
    c.case("unlink.created_again", unlink(ROOT, "created.txt"));
    c.case("stat.file", path_filestat(ROOT, 0, "file.txt"));
    c.case("stat.dir", path_filestat(ROOT, 0, "dir"));
    c.case("stat.file_slash", path_filestat(ROOT, 0, "file.txt/"));
    c.case("stat.dir_slash", path_filestat(ROOT, 0, "dir/"));
    c.case("stat.missing", path_filestat(ROOT, 0, "missing"));
    c.case("stat.dot", path_filestat(ROOT, 0, "."));
    c.case("stat.dotdot", path_filestat(ROOT, 0, ".."));
    c.case("stat.empty", path_filestat(ROOT, 0, ""));
    c.case("stat.absolute", path_filestat(ROOT, 0, "/file.txt"));
    c.case(
        "stat.follow",
        path_filestat(ROOT, SYMLINK_FOLLOW, "dir/inner.txt"),
    );
    c.case("utimes.file", set_times(ROOT, 0, "file.txt", 1 | 4));
    c.case("utimes.dir", set_times(ROOT, 0, "dir", 2 | 8));
    c.case("utimes.missing", set_times(ROOT, 0, "missing", 1 | 4));
    c.case("utimes.file_slash", set_times(ROOT, 0, "file.txt/", 1 | 4));
    c.case("utimes.bad_flags", set_times(ROOT, 0, "file.txt", 4 | 8));
    c.case("utimes.absolute", set_times(ROOT, 0, "/file.txt", 1 | 4));

    let w = open_as("r1", O_CREAT, FILE).unwrap_or(INVALID);
    let _ = write(w, b"r1");
    let _ = close(w);
    c.case("rename.missing", rename(ROOT, "missing", ROOT, "x"));
    c.case("rename.file_over_dir", rename(ROOT, "r1", ROOT, "emptydir"));
    c.case("rename.dir_over_file", rename(ROOT, "emptydir", ROOT, "r1"));
    c.case(
        "rename.dir_into_itself",
        rename(ROOT, "made", ROOT, "made/inside"),
    );
    c.case(
        "rename.dir_over_nonempty",
        rename(ROOT, "emptydir", ROOT, "dir"),
    );
    c.case("rename.file_slash", rename(ROOT, "r1/", ROOT, "r2"));
    c.case("rename.to_slash", rename(ROOT, "r1", ROOT, "r2/"));
    c.case("rename.dir_to_slash", rename(ROOT, "made", ROOT, "made4/"));
    c.case("rename.onto_itself", rename(ROOT, "r1", ROOT, "r1"));
    c.case("rename.dot", rename(ROOT, ".", ROOT, "x"));
    c.case("rename.to_dot", rename(ROOT, "r1", ROOT, "."));
    c.case("rename.escape", rename(ROOT, "r1", ROOT, "../r1"));
    c.case("rename.absolute", rename(ROOT, "r1", ROOT, "/r1"));
    c.case("rename.empty", rename(ROOT, "", ROOT, "x"));
    c.case("rename.file", rename(ROOT, "r1", ROOT, "r2"));
    c.case(
        "rename.file_over_file",
        rename(ROOT, "r2", ROOT, "matrix.txt"),
    );
    c.case("rename.result", path_filestat(ROOT, 0, "matrix.txt"));
    c.case(
        "rename.dir_over_empty_dir",
        rename(ROOT, "made4", ROOT, "emptydir"),
    );
    c.case("listing.root", listing(ROOT));
}

/// Rights narrowed with `fd_fdstat_set_rights` and by `path_open`.
fn narrowing(c: &mut Cases) {
    let fd = open_as("file.txt", 0, FILE).unwrap_or(INVALID);
    c.case("rights.file_opened", rights(fd));
    c.case("rights.drop_read", set_rights(fd, FILE & !FD_READ, 0));
    c.case("rights.after_drop_read", rights(fd));
    c.case("rights.read_dropped", read(fd, 4));
    c.case("rights.pread_dropped", pread(fd, 4, 0));
    c.case("rights.poll_read_dropped", poll_fd(fd, 1));
    c.case("rights.write_kept", pwrite(fd, b"h", 0));
    c.case("rights.widen", set_rights(fd, FILE, 0));
    c.case(
        "rights.widen_inheriting",
        set_rights(fd, FILE & !FD_READ, FD_READ),
    );
    c.case(
        "rights.drop_set_size",
        set_rights(fd, FILE & !(FD_READ | FD_FILESTAT_SET_SIZE), 0),
    );
    c.case(
        "rights.set_size_dropped",
        unit(unsafe { raw::fd_filestat_set_size(fd, 11) }),
    );
    c.case(
        "rights.drop_seek",
        set_rights(fd, FILE & !(FD_READ | FD_FILESTAT_SET_SIZE | FD_SEEK), 0),
    );
    c.case("rights.seek_dropped", seek(fd, 1, WHENCE_SET));
    c.case("rights.seek_cur0_with_tell", seek(fd, 0, WHENCE_CUR));
    c.case("rights.tell_with_tell", tell(fd));
    c.case("rights.pwrite_without_seek", pwrite(fd, b"h", 0));
    c.case("rights.drop_tell", set_rights(fd, FD_WRITE, 0));
    c.case("rights.tell_dropped", tell(fd));
    c.case("rights.stat_dropped", filestat(fd));
    c.case(
        "rights.times_dropped",
        unit(unsafe { raw::fd_filestat_set_times(fd, 0, 0, 2) }),
    );
    c.case(
        "rights.advise_dropped",
        unit(unsafe { raw::fd_advise(fd, 0, 1, 0) }),
    );
    c.case(
        "rights.allocate_dropped",
        unit(unsafe { raw::fd_allocate(fd, 0, 1) }),
    );
    c.case("rights.sync_dropped", unit(unsafe { raw::fd_sync(fd) }));
    c.case(
        "rights.datasync_dropped",
        unit(unsafe { raw::fd_datasync(fd) }),
    );
    c.case(
        "rights.set_flags_dropped",
        unit(unsafe { raw::fd_fdstat_set_flags(fd, 0) }),
    );
    c.case("rights.write_still", write(fd, b""));
    c.case("rights.drop_all", set_rights(fd, 0, 0));
    c.case("rights.write_dropped", write(fd, b"h"));
    c.case("rights.close_without_rights", close(fd));

    // A directory's rights decide what may be done through it.
    let dir = open_as("dir", O_DIRECTORY, DIR).unwrap_or(INVALID);
    c.case("dir_rights.opened", rights(dir));
    c.case(
        "dir_rights.drop_create_file",
        set_rights(dir, DIR & !PATH_CREATE_FILE, FILE | DIR),
    );
    c.case(
        "dir_rights.creat_dropped",
        open(dir, 0, "new.txt", O_CREAT, FILE, 0, 0).map(|_| String::new()),
    );
    c.case(
        "dir_rights.open_existing",
        open(dir, 0, "inner.txt", 0, FD_READ, 0, 0).and_then(close),
    );
    c.case(
        "dir_rights.drop_trunc",
        set_rights(
            dir,
            DIR & !(PATH_CREATE_FILE | PATH_FILESTAT_SET_SIZE),
            FILE | DIR,
        ),
    );
    c.case(
        "dir_rights.trunc_dropped",
        open(dir, 0, "inner.txt", O_TRUNC, FILE, 0, 0).map(|_| String::new()),
    );
    c.case(
        "dir_rights.inner_intact",
        path_filestat(dir, 0, "inner.txt"),
    );
    let keep = DIR & !(PATH_CREATE_FILE | PATH_FILESTAT_SET_SIZE);
    c.case(
        "dir_rights.inherit_no_write",
        set_rights(dir, keep, FILE & !FD_WRITE),
    );
    let f = open(dir, 0, "inner.txt", 0, FILE, FILE, 0);
    c.case(
        "dir_rights.opened_without_write",
        f.map_or_else(Err, fdstat),
    );
    c.case(
        "dir_rights.write_not_inherited",
        f.map_or_else(Err, |fd| write(fd, b"x")),
    );
    let _ = f.map(close);
    c.case(
        "dir_rights.drop_mkdir",
        set_rights(dir, keep & !PATH_CREATE_DIRECTORY, 0),
    );
    c.case("dir_rights.mkdir_dropped", mkdir(dir, "sub"));
    c.case(
        "dir_rights.drop_readdir",
        set_rights(dir, keep & !(PATH_CREATE_DIRECTORY | FD_READDIR), 0),
    );
    c.case("dir_rights.readdir_dropped", listing(dir));
    let keep = keep & !(PATH_CREATE_DIRECTORY | FD_READDIR);
    c.case(
        "dir_rights.drop_stat",
        set_rights(dir, keep & !PATH_FILESTAT_GET, 0),
    );
    c.case(
        "dir_rights.stat_dropped",
        path_filestat(dir, 0, "inner.txt"),
    );
    c.case(
        "dir_rights.drop_unlink",
        set_rights(dir, keep & !(PATH_FILESTAT_GET | PATH_UNLINK_FILE), 0),
    );
    c.case("dir_rights.unlink_dropped", unlink(dir, "inner.txt"));
    c.case("dir_rights.drop_rename", set_rights(dir, PATH_OPEN, 0));
    c.case(
        "dir_rights.rename_dropped",
        rename(dir, "inner.txt", dir, "moved.txt"),
    );
    c.case(
        "dir_rights.rename_target_dropped",
        rename(ROOT, "r2", dir, "moved.txt"),
    );
    c.case("dir_rights.rmdir_dropped", rmdir(dir, "x"));
    c.case("dir_rights.symlink_dropped", symlink("inner.txt", dir, "l"));
    c.case(
        "dir_rights.link_dropped",
        link(dir, 0, "inner.txt", ROOT, "l"),
    );
    c.case("dir_rights.readlink_dropped", readlink(dir, "inner.txt", 8));
    c.case(
        "dir_rights.utimes_dropped",
        set_times(dir, 0, "inner.txt", 2),
    );
    c.case(
        "dir_rights.open_kept",
        open(dir, 0, "inner.txt", 0, FD_READ, 0, 0).and_then(close),
    );
    c.case("dir_rights.drop_open", set_rights(dir, 0, 0));
    c.case(
        "dir_rights.open_dropped",
        open(dir, 0, "inner.txt", 0, FD_READ, 0, 0).map(|_| String::new()),
    );
    let _ = close(dir);

    // `path_open` gives what was asked for and no more.
    let none = open_as("file.txt", 0, 0);
    c.case("asked.nothing_fdstat", none.map_or_else(Err, rights));
    c.case("asked.nothing_stat", none.map_or_else(Err, filestat));
    c.case(
        "asked.nothing_read",
        none.map_or_else(Err, |fd| read(fd, 4)),
    );
    let _ = none.map(close);
    let d = open_as("dir", O_DIRECTORY, PATH_OPEN);
    c.case("asked.dir_open_only", d.map_or_else(Err, listing));
    let _ = d.map(close);
    c.case("asked.preopen", rights(ROOT));
    c.case("asked.stdin", rights(0));
    c.case("asked.stdout", rights(1));
}

/// Symbolic and hard links.
fn links(c: &mut Cases) {
    // A directory of its own for the links to lead into.
    let _ = mkdir(ROOT, "ldir");
    let _ =
        open_as("ldir/f.txt", O_CREAT, FILE).and_then(|fd| write(fd, b"in ldir").and(close(fd)));
    c.case("symlink.file", symlink("file.txt", ROOT, "l_file"));
    c.case("symlink.dir", symlink("ldir", ROOT, "l_dir"));
    c.case("symlink.dangling", symlink("missing", ROOT, "l_dangling"));
    c.case("symlink.escape", symlink("../outside", ROOT, "l_escape"));
    c.case(
        "symlink.absolute",
        symlink("/etc/passwd", ROOT, "l_absolute"),
    );
    c.case("symlink.loop_a", symlink("l_loop_b", ROOT, "l_loop_a"));
    c.case("symlink.loop_b", symlink("l_loop_a", ROOT, "l_loop_b"));
    c.case("symlink.existing", symlink("file.txt", ROOT, "file.txt"));
    c.case("symlink.over_link", symlink("file.txt", ROOT, "l_file"));
    c.case(
        "symlink.trailing_slash",
        symlink("file.txt", ROOT, "l_slash/"),
    );
    c.case("symlink.empty_link", symlink("file.txt", ROOT, ""));
    c.case(
        "symlink.missing_parent",
        symlink("file.txt", ROOT, "missing/l"),
    );
    c.case("readlink.file", readlink(ROOT, "l_file", 64));
    c.case("readlink.short_buffer", readlink(ROOT, "l_file", 4));
    c.case("readlink.dangling", readlink(ROOT, "l_dangling", 64));
    c.case("readlink.not_link", readlink(ROOT, "file.txt", 64));
    c.case("readlink.missing", readlink(ROOT, "missing", 64));
    c.case("readlink.trailing_slash", readlink(ROOT, "l_dir/", 64));
    c.case("lstat.link", path_filestat(ROOT, 0, "l_file"));
    c.case("stat.link", path_filestat(ROOT, SYMLINK_FOLLOW, "l_file"));
    c.case(
        "stat.dir_link",
        path_filestat(ROOT, SYMLINK_FOLLOW, "l_dir"),
    );
    c.case("stat.dir_link_slash", path_filestat(ROOT, 0, "l_dir/"));
    c.case(
        "stat.dangling",
        path_filestat(ROOT, SYMLINK_FOLLOW, "l_dangling"),
    );
    c.case("lstat.dangling", path_filestat(ROOT, 0, "l_dangling"));
    c.case("stat.loop", path_filestat(ROOT, SYMLINK_FOLLOW, "l_loop_a"));
    c.case(
        "stat.escape",
        path_filestat(ROOT, SYMLINK_FOLLOW, "l_escape"),
    );
    c.case(
        "stat.absolute_target",
        path_filestat(ROOT, SYMLINK_FOLLOW, "l_absolute"),
    );
    c.case(
        "stat.through_dir_link",
        path_filestat(ROOT, 0, "l_dir/f.txt"),
    );
    let read_only = FILE & !FD_WRITE;
    let opened = |r: Result<u32, u16>| -> Outcome {
        let fd = r?;
        let st = filestat(fd);
        let _ = close(fd);
        st
    };
    c.case(
        "open.link_follow",
        opened(open(ROOT, SYMLINK_FOLLOW, "l_file", 0, read_only, ALL, 0)),
    );
    c.case(
        "open.link_nofollow",
        opened(open(ROOT, 0, "l_file", 0, read_only, ALL, 0)),
    );
    c.case(
        "open.dir_link_nofollow",
        opened(open(ROOT, 0, "l_dir", O_DIRECTORY, read_only, ALL, 0)),
    );
    c.case(
        "open.dir_link_follow",
        opened(open(
            ROOT,
            SYMLINK_FOLLOW,
            "l_dir",
            O_DIRECTORY,
            read_only,
            ALL,
            0,
        )),
    );
    c.case(
        "open.file_link_o_directory",
        opened(open(
            ROOT,
            SYMLINK_FOLLOW,
            "l_file",
            O_DIRECTORY,
            read_only,
            ALL,
            0,
        )),
    );
    c.case(
        "open.dangling_follow",
        opened(open(
            ROOT,
            SYMLINK_FOLLOW,
            "l_dangling",
            0,
            read_only,
            ALL,
            0,
        )),
    );
    c.case(
        "open.dangling_creat",
        opened(open(
            ROOT,
            SYMLINK_FOLLOW,
            "l_dangling",
            O_CREAT,
            FILE,
            ALL,
            0,
        )),
    );
    c.case(
        "open.dangling_creat_excl",
        opened(open(
            ROOT,
            SYMLINK_FOLLOW,
            "l_dangling",
            O_CREAT | O_EXCL,
            FILE,
            ALL,
            0,
        )),
    );
    c.case(
        "open.loop",
        opened(open(ROOT, SYMLINK_FOLLOW, "l_loop_a", 0, read_only, ALL, 0)),
    );
    c.case(
        "open.escape",
        opened(open(ROOT, SYMLINK_FOLLOW, "l_escape", 0, read_only, ALL, 0)),
    );
    c.case(
        "open.absolute_target",
        opened(open(
            ROOT,
            SYMLINK_FOLLOW,
            "l_absolute",
            0,
            read_only,
            ALL,
            0,
        )),
    );
    c.case(
        "open.through_dir_link",
        opened(open(ROOT, 0, "l_dir/f.txt", 0, read_only, ALL, 0)),
    );
    c.case(
        "open.link_slash",
        opened(open(ROOT, 0, "l_dir/", 0, read_only, ALL, 0)),
    );
    c.case(
        "open.file_link_slash",
        opened(open(ROOT, SYMLINK_FOLLOW, "l_file/", 0, read_only, ALL, 0)),
    );
    c.case("link.file", link(ROOT, 0, "file.txt", ROOT, "hard.txt"));
    c.case("link.nlink_stat", path_filestat(ROOT, 0, "hard.txt"));
    c.case("link.existing", link(ROOT, 0, "file.txt", ROOT, "hard.txt"));
    c.case("link.dir", link(ROOT, 0, "dir", ROOT, "hard_dir"));
    c.case("link.missing", link(ROOT, 0, "missing", ROOT, "hard2"));
    c.case("link.escape", link(ROOT, 0, "file.txt", ROOT, "../hard"));
    c.case("link.to_slash", link(ROOT, 0, "file.txt", ROOT, "hard3/"));
    c.case(
        "link.symlink_nofollow",
        link(ROOT, 0, "l_file", ROOT, "hard_link_of_link"),
    );
    c.case(
        "link.symlink_nofollow_stat",
        path_filestat(ROOT, 0, "hard_link_of_link"),
    );
    c.case("unlink.symlink", unlink(ROOT, "l_file"));
    c.case("unlink.dir_link_slash", unlink(ROOT, "l_dir/"));
    c.case("unlink.dir_link", unlink(ROOT, "l_dir"));
    c.case("rmdir.dangling_link", rmdir(ROOT, "l_dangling"));
    c.case("rename.link", rename(ROOT, "l_dangling", ROOT, "l_moved"));
    c.case("readlink.moved", readlink(ROOT, "l_moved", 64));
    c.case("listing.links", listing(ROOT));
}

fn main() {
    let mut c = Cases { n: 0 };
    let k = kinds(&mut c);
    matrix(&mut c, &k);
    for &(_, fd) in &k.list[..3] {
        let _ = close(fd);
    }
    opens(&mut c);
    positions(&mut c);
    paths(&mut c);
    narrowing(&mut c);
    links(&mut c);
    // Last: stderr without the right to write.
    c.case("stderr.drop_write", set_rights(2, 0, 0));
    c.case("stderr.write_dropped", write(2, b"x"));
    c.case("end", Ok(String::new()));
}
