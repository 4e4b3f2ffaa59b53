//! The preview1 conformance guest: `conformance <case>` exercises one group
//! of imports, checks every result against the preview1 specification, and
//! prints `ok <case>` (a failed check panics, which traps).
//!
//! The host side (`tests/it/conformance.rs`) runs every case in a fresh
//! namespace with `/tmp` writable, `/ro` read-only and stdin set.

#![allow(unsafe_code, reason = "calling the preview1 imports directly")]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant, SystemTime};

use oanix_test_guests::errno::*;
use oanix_test_guests::expect_errno;
use oanix_test_guests::raw;

/// The root preopen.
const ROOT: u32 = 3;

const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_SEEK: u64 = 1 << 2;
const RIGHT_FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
const RIGHT_FD_FILESTAT_GET: u64 = 1 << 21;
const RIGHT_FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
const RIGHT_FD_WRITE: u64 = 1 << 6;
const RIGHT_PATH_OPEN: u64 = 1 << 13;
const RIGHT_FD_READDIR: u64 = 1 << 14;
const ALL_RIGHTS: u64 = (1 << 30) - 1;

const O_CREAT: u32 = 1;
const O_DIRECTORY: u32 = 2;
const O_EXCL: u32 = 4;
const O_TRUNC: u32 = 8;
const FDFLAG_APPEND: u32 = 1;

fn fd(f: &File) -> u32 {
    f.as_raw_fd() as u32
}

fn open_raw(dir: u32, path: &str, oflags: u32, base: u64, fdflags: u32) -> Result<u32, u16> {
    let mut out = 0u32;
    let e = unsafe {
        raw::path_open(
            dir,
            0,
            path.as_ptr(),
            path.len() as u32,
            oflags,
            base,
            ALL_RIGHTS,
            fdflags,
            &mut out,
        )
    };
    if e == SUCCESS { Ok(out) } else { Err(e) }
}

fn read_all(fd: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 7];
    loop {
        let iov = [buf.as_mut_ptr() as u32, buf.len() as u32];
        let mut n = 0;
        expect_errno!(raw::fd_read(fd, iov.as_ptr(), 1, &mut n), SUCCESS);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

fn write_raw(fd: u32, data: &[u8]) -> u32 {
    let iov = [data.as_ptr() as u32, data.len() as u32];
    let mut n = 0;
    expect_errno!(raw::fd_write(fd, iov.as_ptr(), 1, &mut n), SUCCESS);
    n
}

fn filestat(fd: u32) -> [u64; 8] {
    let mut buf = [0u8; 64];
    expect_errno!(raw::fd_filestat_get(fd, buf.as_mut_ptr()), SUCCESS);
    decode_filestat(&buf)
}

fn path_filestat(dir: u32, path: &str) -> Result<[u64; 8], u16> {
    let mut buf = [0u8; 64];
    let e = unsafe {
        raw::path_filestat_get(dir, 0, path.as_ptr(), path.len() as u32, buf.as_mut_ptr())
    };
    if e == SUCCESS {
        Ok(decode_filestat(&buf))
    } else {
        Err(e)
    }
}

fn path_filestat_with(dir: u32, lookup: u32, path: &str) -> Result<[u64; 8], u16> {
    let mut buf = [0u8; 64];
    let e = unsafe {
        raw::path_filestat_get(
            dir,
            lookup,
            path.as_ptr(),
            path.len() as u32,
            buf.as_mut_ptr(),
        )
    };
    if e == SUCCESS {
        Ok(decode_filestat(&buf))
    } else {
        Err(e)
    }
}

fn open_raw_with(dir: u32, lookup: u32, path: &str, base: u64) -> Result<u32, u16> {
    let mut out = 0u32;
    let e = unsafe {
        raw::path_open(
            dir,
            lookup,
            path.as_ptr(),
            path.len() as u32,
            0,
            base,
            0,
            0,
            &mut out,
        )
    };
    if e == SUCCESS { Ok(out) } else { Err(e) }
}

/// dev, ino, filetype, nlink, size, atim, mtim, ctim.
fn decode_filestat(b: &[u8; 64]) -> [u64; 8] {
    let u = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().unwrap());
    [u(0), u(8), b[16] as u64, u(24), u(32), u(40), u(48), u(56)]
}

/// filetype, flags, rights base, rights inheriting.
fn fdstat(fd: u32) -> (u8, u16, u64, u64) {
    let mut b = [0u8; 24];
    expect_errno!(raw::fd_fdstat_get(fd, b.as_mut_ptr()), SUCCESS);
    (
        b[0],
        u16::from_le_bytes([b[2], b[3]]),
        u64::from_le_bytes(b[8..16].try_into().unwrap()),
        u64::from_le_bytes(b[16..24].try_into().unwrap()),
    )
}

fn seek(fd: u32, offset: i64, whence: u32) -> Result<u64, u16> {
    let mut out = 0;
    let e = unsafe { raw::fd_seek(fd, offset, whence, &mut out) };
    if e == SUCCESS { Ok(out) } else { Err(e) }
}

/// Reads a directory with `fd_readdir` and a buffer of `buf_len` bytes,
/// following cookies; returns (name, d_next, d_ino, d_type).
fn readdir(fd: u32, buf_len: usize) -> Vec<(String, u64, u64, u8)> {
    let mut out = Vec::new();
    let mut cookie = 0u64;
    let mut buf = vec![0u8; buf_len];
    loop {
        let mut used = 0u32;
        expect_errno!(
            raw::fd_readdir(fd, buf.as_mut_ptr(), buf.len() as u32, cookie, &mut used),
            SUCCESS
        );
        let used = used as usize;
        let mut at = 0;
        let mut progressed = false;
        while at + 24 <= used {
            let next = u64::from_le_bytes(buf[at..at + 8].try_into().unwrap());
            let ino = u64::from_le_bytes(buf[at + 8..at + 16].try_into().unwrap());
            let namlen = u32::from_le_bytes(buf[at + 16..at + 20].try_into().unwrap()) as usize;
            let ty = buf[at + 20];
            if at + 24 + namlen > used {
                break; // truncated entry: continue from its cookie
            }
            let name = String::from_utf8(buf[at + 24..at + 24 + namlen].to_vec()).unwrap();
            out.push((name, next, ino, ty));
            cookie = next;
            progressed = true;
            at += 24 + namlen;
        }
        if used < buf.len() {
            return out;
        }
        assert!(
            progressed,
            "buffer of {buf_len} bytes too small for one entry"
        );
    }
}

fn case_args_env() {
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(args, ["conformance.wasm", "args_env", "two words", "ü"]);
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    assert_eq!(
        vars,
        [
            ("A".to_owned(), "1".to_owned()),
            ("EMPTY".to_owned(), String::new()),
            ("Z".to_owned(), "x=y".to_owned())
        ]
    );
    let (mut n, mut size) = (0, 0);
    expect_errno!(raw::args_sizes_get(&mut n, &mut size), SUCCESS);
    assert_eq!((n, size), (4, 17 + 9 + 10 + 3));
    expect_errno!(raw::environ_sizes_get(&mut n, &mut size), SUCCESS);
    assert_eq!((n, size), (3, 4 + 7 + 6));
    expect_errno!(raw::args_sizes_get(u32::MAX as *mut u32, &mut size), FAULT);
}

fn case_clocks() {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap();
    assert!(now.as_secs() > 1_600_000_000);
    let a = Instant::now();
    let b = Instant::now();
    assert!(b >= a);
    for id in 0..4 {
        let mut res = 0;
        expect_errno!(raw::clock_res_get(id, &mut res), SUCCESS);
        assert!(res > 0);
        let mut t = 0;
        expect_errno!(raw::clock_time_get(id, 1, &mut t), SUCCESS);
        assert!(t > 0);
    }
    let mut t = 0;
    expect_errno!(raw::clock_res_get(4, &mut t), INVAL);
    expect_errno!(raw::clock_time_get(9, 1, &mut t), INVAL);
    expect_errno!(raw::clock_time_get(0, 1, u32::MAX as *mut u64), FAULT);
}

fn case_random() {
    let mut a = [0u8; 64];
    let mut b = [0u8; 64];
    expect_errno!(raw::random_get(a.as_mut_ptr(), 64), SUCCESS);
    expect_errno!(raw::random_get(b.as_mut_ptr(), 64), SUCCESS);
    assert_ne!(a, b);
    assert!(a.iter().any(|&x| x != 0));
    expect_errno!(raw::random_get((u32::MAX - 8) as *mut u8, 64), FAULT);
    expect_errno!(raw::random_get(a.as_mut_ptr(), 0), SUCCESS);
}

fn case_files() {
    fs::write("/tmp/a.txt", b"hello world").unwrap();
    assert_eq!(fs::read("/tmp/a.txt").unwrap(), b"hello world");
    assert_eq!(fs::metadata("/tmp/a.txt").unwrap().len(), 11);
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/tmp/a.txt")
        .unwrap();
    let fd = fd(&f);
    assert_eq!(seek(fd, 6, 0), Ok(6));
    let mut tell = 0;
    expect_errno!(raw::fd_tell(fd, &mut tell), SUCCESS);
    assert_eq!(tell, 6);
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "world");
    assert_eq!(seek(fd, -5, 2), Ok(6));
    assert_eq!(seek(fd, -2, 1), Ok(4));
    assert_eq!(seek(fd, -100, 1), Err(INVAL));
    assert_eq!(seek(fd, 0, 7), Err(INVAL));
    assert_eq!(seek(fd, -1, 0), Err(INVAL));
    // Writing past the end leaves zeros in the gap.
    f.seek(SeekFrom::Start(13)).unwrap();
    f.write_all(b"!").unwrap();
    assert_eq!(fs::read("/tmp/a.txt").unwrap(), b"hello world\0\0!");
    // Several iovecs in one call.
    let parts: [&[u8]; 3] = [b"ab", b"", b"cd"];
    let iovs: Vec<u32> = parts
        .iter()
        .flat_map(|p| [p.as_ptr() as u32, p.len() as u32])
        .collect();
    let mut n = 0;
    f.seek(SeekFrom::Start(0)).unwrap();
    expect_errno!(raw::fd_write(fd, iovs.as_ptr(), 3, &mut n), SUCCESS);
    assert_eq!(n, 4);
    let mut b1 = [0u8; 3];
    let mut b2 = [0u8; 3];
    let riovs = [b1.as_mut_ptr() as u32, 3, b2.as_mut_ptr() as u32, 3];
    f.seek(SeekFrom::Start(0)).unwrap();
    expect_errno!(raw::fd_read(fd, riovs.as_ptr(), 2, &mut n), SUCCESS);
    assert_eq!((n, &b1, &b2), (6, b"abc", b"do "));
    // A bad iovec pointer is a fault, and nothing crashes.
    expect_errno!(
        raw::fd_read(fd, (u32::MAX - 4) as *const u32, 1, &mut n),
        FAULT
    );
    let bad = [u32::MAX - 2, 16];
    expect_errno!(raw::fd_write(fd, bad.as_ptr(), 1, &mut n), FAULT);
}

fn case_append() {
    fs::write("/tmp/log", b"one\n").unwrap();
    let mut f = OpenOptions::new().append(true).open("/tmp/log").unwrap();
    let (_, flags, _, _) = fdstat(fd(&f));
    assert_eq!(flags & 1, 1, "fdstat shows append");
    f.write_all(b"two\n").unwrap();
    assert_eq!(fs::read("/tmp/log").unwrap(), b"one\ntwo\n");
    // Append switched on later, then off again.
    let g = OpenOptions::new().write(true).open("/tmp/log").unwrap();
    let gfd = fd(&g);
    expect_errno!(raw::fd_fdstat_set_flags(gfd, FDFLAG_APPEND), SUCCESS);
    assert_eq!(fdstat(gfd).1 & 1, 1);
    write_raw(gfd, b"three\n");
    assert_eq!(fs::read("/tmp/log").unwrap(), b"one\ntwo\nthree\n");
    expect_errno!(raw::fd_fdstat_set_flags(gfd, 0), SUCCESS);
    seek(gfd, 0, 0).unwrap();
    write_raw(gfd, b"ONE");
    assert_eq!(fs::read("/tmp/log").unwrap(), b"ONE\ntwo\nthree\n");
    // Switching append off on a descriptor opened with it.
    let h = open_raw(
        ROOT,
        "tmp/log",
        0,
        RIGHT_FD_WRITE | RIGHT_FD_SEEK | RIGHT_FD_FDSTAT_SET_FLAGS,
        FDFLAG_APPEND,
    )
    .unwrap();
    expect_errno!(raw::fd_fdstat_set_flags(h, 0), SUCCESS);
    seek(h, 0, 0).unwrap();
    write_raw(h, b"o");
    assert_eq!(fs::read("/tmp/log").unwrap(), b"oNE\ntwo\nthree\n");
    expect_errno!(raw::fd_fdstat_set_flags(h, 1 << 9), INVAL);
    expect_errno!(raw::fd_fdstat_set_flags(99, 0), BADF);
    expect_errno!(raw::fd_close(h), SUCCESS);
}

fn case_pread_pwrite() {
    fs::write("/tmp/p", b"0123456789").unwrap();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/tmp/p")
        .unwrap();
    let fd = fd(&f);
    seek(fd, 2, 0).unwrap();
    let mut buf = [0u8; 4];
    let iov = [buf.as_mut_ptr() as u32, 4];
    let mut n = 0;
    expect_errno!(raw::fd_pread(fd, iov.as_ptr(), 1, 5, &mut n), SUCCESS);
    assert_eq!((n, &buf), (4, b"5678"));
    expect_errno!(raw::fd_pread(fd, iov.as_ptr(), 1, 100, &mut n), SUCCESS);
    assert_eq!(n, 0);
    let data = b"ab";
    let ciov = [data.as_ptr() as u32, 2];
    expect_errno!(raw::fd_pwrite(fd, ciov.as_ptr(), 1, 0, &mut n), SUCCESS);
    assert_eq!(n, 2);
    assert_eq!(seek(fd, 0, 1), Ok(2), "pread/pwrite leave the offset alone");
    assert_eq!(fs::read("/tmp/p").unwrap(), b"ab23456789");
    // Positional I/O on a stream is ESPIPE, on anything else EBADF.
    expect_errno!(raw::fd_pread(0, iov.as_ptr(), 1, 0, &mut n), SPIPE);
    expect_errno!(raw::fd_pwrite(1, ciov.as_ptr(), 1, 0, &mut n), SPIPE);
    expect_errno!(raw::fd_pread(1, iov.as_ptr(), 1, 0, &mut n), BADF);
    expect_errno!(raw::fd_pwrite(0, ciov.as_ptr(), 1, 0, &mut n), BADF);
    expect_errno!(raw::fd_pread(ROOT, iov.as_ptr(), 1, 0, &mut n), BADF);
}

fn case_truncate() {
    fs::write("/tmp/t", b"abcdef").unwrap();
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/tmp/t")
        .unwrap();
    expect_errno!(raw::fd_filestat_set_size(fd(&f), 3), SUCCESS);
    assert_eq!(fs::read("/tmp/t").unwrap(), b"abc");
    f.set_len(5).unwrap();
    assert_eq!(fs::read("/tmp/t").unwrap(), b"abc\0\0");
    assert_eq!(filestat(fd(&f))[4], 5);
    // Truncation on open.
    File::create("/tmp/t").unwrap();
    assert_eq!(fs::read("/tmp/t").unwrap(), b"");
    expect_errno!(raw::fd_filestat_set_size(ROOT, 0), BADF);
    expect_errno!(raw::fd_filestat_set_size(1, 0), BADF);
    // std opens to read without the right to truncate.
    let ro = File::open("/tmp/t").unwrap();
    expect_errno!(raw::fd_filestat_set_size(fd(&ro), 9), NOTCAPABLE);
    // With the right, but not open to write.
    let r = open_raw(
        ROOT,
        "tmp/t",
        0,
        RIGHT_FD_READ | RIGHT_FD_FILESTAT_SET_SIZE,
        0,
    )
    .unwrap();
    expect_errno!(raw::fd_filestat_set_size(r, 9), INVAL);
}

fn case_readdir() {
    fs::create_dir("/tmp/d").unwrap();
    let names = ["a", "bb", "ccc", "a-much-longer-name-than-the-others", "e"];
    for n in names {
        fs::write(format!("/tmp/d/{n}"), n).unwrap();
    }
    fs::create_dir("/tmp/d/sub").unwrap();
    let dir = open_raw(ROOT, "tmp/d", O_DIRECTORY, RIGHT_FD_READDIR, 0).unwrap();
    let mut expected: Vec<&str> = names.to_vec();
    expected.push("sub");
    expected.sort();
    let mut want = vec![".", ".."];
    want.extend(&expected);
    for buf_len in [24 + 40, 100, 4096] {
        let got = readdir(dir, buf_len);
        let got_names: Vec<&str> = got.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(got_names, want, "buffer {buf_len}");
        for (i, e) in got.iter().enumerate() {
            assert_eq!(e.1, i as u64 + 1, "d_next is the next cookie");
        }
        assert_eq!(got[0].3, 3);
        assert_eq!(got.iter().find(|e| e.0 == "sub").unwrap().3, 3);
        assert_eq!(got.iter().find(|e| e.0 == "bb").unwrap().3, 4);
        // d_ino agrees with stat.
        let bb = got.iter().find(|e| e.0 == "bb").unwrap();
        assert_eq!(bb.2, path_filestat(ROOT, "tmp/d/bb").unwrap()[1]);
    }
    // Starting from a cookie skips what came before.
    let mut buf = [0u8; 256];
    let mut used = 0;
    expect_errno!(
        raw::fd_readdir(dir, buf.as_mut_ptr(), 256, 7, &mut used),
        SUCCESS
    );
    let namlen = u32::from_le_bytes(buf[16..20].try_into().unwrap()) as usize;
    assert_eq!(&buf[24..24 + namlen], want[7].as_bytes());
    expect_errno!(
        raw::fd_readdir(dir, buf.as_mut_ptr(), 256, 100, &mut used),
        SUCCESS
    );
    assert_eq!(used, 0);
    // std's read_dir agrees (without . and ..).
    let mut std_names: Vec<String> = fs::read_dir("/tmp/d")
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    std_names.sort();
    assert_eq!(std_names, expected);
    let f = File::open("/tmp/d/a").unwrap();
    expect_errno!(
        raw::fd_readdir(fd(&f), buf.as_mut_ptr(), 256, 0, &mut used),
        NOTDIR
    );
    expect_errno!(
        raw::fd_readdir(77, buf.as_mut_ptr(), 256, 0, &mut used),
        BADF
    );
    // The namespace root lists its mounts.
    let root: Vec<String> = readdir(ROOT, 512).into_iter().map(|e| e.0).collect();
    assert!(
        root.contains(&"tmp".to_owned()) && root.contains(&"ro".to_owned()),
        "{root:?}"
    );
}

fn case_rename() {
    fs::write("/tmp/x", b"x").unwrap();
    fs::write("/tmp/y", b"y").unwrap();
    fs::rename("/tmp/x", "/tmp/y").unwrap();
    assert_eq!(fs::read("/tmp/y").unwrap(), b"x");
    assert!(fs::metadata("/tmp/x").is_err());
    fs::create_dir_all("/tmp/dir/inner").unwrap();
    let r = |a: &str, b: &str| unsafe {
        raw::path_rename(
            ROOT,
            a.as_ptr(),
            a.len() as u32,
            ROOT,
            b.as_ptr(),
            b.len() as u32,
        )
    };
    assert_eq!(r("tmp/dir", "tmp/dir/inner/moved"), INVAL);
    assert_eq!(r("tmp/missing", "tmp/z"), NOENT);
    assert_eq!(r("tmp/y", "tmp/dir"), ISDIR);
    assert_eq!(r("tmp/dir", "tmp/y"), NOTDIR);
    fs::create_dir("/tmp/empty").unwrap();
    assert_eq!(r("tmp/empty", "tmp/dir"), NOTEMPTY);
    assert_eq!(r("tmp/dir", "tmp/dir2"), SUCCESS);
    assert!(fs::metadata("/tmp/dir2/inner").unwrap().is_dir());
    assert_eq!(r("tmp/y", "ro/y"), XDEV);
    assert_eq!(r("tmp/y/", "tmp/z"), NOTDIR);
    let a = "tmp/y";
    let e = unsafe { raw::path_rename(1, a.as_ptr(), 5, ROOT, a.as_ptr(), 5) };
    assert_eq!(e, NOTDIR);
}

fn case_unlink() {
    fs::write("/tmp/u", b"still here").unwrap();
    let mut f = File::open("/tmp/u").unwrap();
    fs::remove_file("/tmp/u").unwrap();
    assert!(fs::metadata("/tmp/u").is_err());
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "still here", "an unlinked open file stays readable");
    let u = |p: &str| unsafe { raw::path_unlink_file(ROOT, p.as_ptr(), p.len() as u32) };
    assert_eq!(u("tmp/u"), NOENT);
    fs::create_dir("/tmp/ud").unwrap();
    assert_eq!(u("tmp/ud"), ISDIR);
    fs::write("/tmp/uf", b"").unwrap();
    assert_eq!(u("tmp/uf/"), NOTDIR);
    assert_eq!(u("ro/file"), ROFS);
    assert_eq!(u("tmp/uf"), SUCCESS);
}

fn case_dirs() {
    let mk = |p: &str| unsafe { raw::path_create_directory(ROOT, p.as_ptr(), p.len() as u32) };
    let rm = |p: &str| unsafe { raw::path_remove_directory(ROOT, p.as_ptr(), p.len() as u32) };
    assert_eq!(mk("tmp/m"), SUCCESS);
    assert_eq!(mk("tmp/m"), EXIST);
    assert_eq!(mk("tmp/nope/m"), NOENT);
    assert_eq!(mk("ro/m"), ROFS);
    fs::write("/tmp/m/f", b"").unwrap();
    assert_eq!(mk("tmp/m/f/g"), NOTDIR);
    assert_eq!(rm("tmp/m"), NOTEMPTY);
    assert_eq!(rm("tmp/m/f"), NOTDIR);
    assert_eq!(rm("tmp/missing"), NOENT);
    fs::remove_file("/tmp/m/f").unwrap();
    assert_eq!(rm("tmp/m/"), SUCCESS);
    assert!(fs::metadata("/tmp/m").is_err());
    assert_eq!(rm("."), INVAL);
    assert_eq!(rm("tmp"), PERM, "a mount point cannot be removed");
    assert_eq!(mk(""), NOENT);
    assert_eq!(mk(&"n".repeat(300)), NAMETOOLONG);
}

fn case_open_errors() {
    assert_eq!(
        open_raw(ROOT, "tmp/missing", 0, RIGHT_FD_READ, 0),
        Err(NOENT)
    );
    fs::write("/tmp/f", b"data").unwrap();
    assert_eq!(
        open_raw(ROOT, "tmp/f", O_DIRECTORY, RIGHT_FD_READ, 0),
        Err(NOTDIR)
    );
    assert_eq!(open_raw(ROOT, "tmp/f/", 0, RIGHT_FD_READ, 0), Err(NOTDIR));
    assert_eq!(
        open_raw(ROOT, "tmp/f", O_CREAT | O_EXCL, RIGHT_FD_WRITE, 0),
        Err(EXIST)
    );
    assert_eq!(open_raw(ROOT, "tmp", 0, RIGHT_FD_WRITE, 0), Err(ISDIR));
    assert_eq!(open_raw(ROOT, "ro/file", 0, RIGHT_FD_WRITE, 0), Err(ROFS));
    assert_eq!(
        open_raw(ROOT, "ro/new", O_CREAT, RIGHT_FD_WRITE, 0),
        Err(ROFS)
    );
    assert_eq!(
        open_raw(ROOT, "tmp/f", 1 << 6, RIGHT_FD_READ, 0),
        Err(INVAL)
    );
    assert_eq!(
        open_raw(ROOT, "tmp/f", 0, RIGHT_FD_READ, 1 << 8),
        Err(INVAL)
    );
    assert_eq!(open_raw(1, "tmp/f", 0, RIGHT_FD_READ, 0), Err(NOTDIR));
    assert_eq!(open_raw(55, "tmp/f", 0, RIGHT_FD_READ, 0), Err(BADF));
    let f = open_raw(ROOT, "tmp/f", 0, RIGHT_FD_READ, 0).unwrap();
    assert_eq!(open_raw(f, "x", 0, RIGHT_FD_READ, 0), Err(NOTDIR));
    // Read-only and write-only descriptors.
    let mut n = 0;
    let data = b"zz";
    let ciov = [data.as_ptr() as u32, 2];
    expect_errno!(raw::fd_write(f, ciov.as_ptr(), 1, &mut n), BADF);
    let w = open_raw(ROOT, "tmp/f", 0, RIGHT_FD_WRITE, 0).unwrap();
    let mut buf = [0u8; 4];
    let iov = [buf.as_mut_ptr() as u32, 4];
    expect_errno!(raw::fd_read(w, iov.as_ptr(), 1, &mut n), BADF);
    // Directories: no reads, no writes, no seeks.
    expect_errno!(raw::fd_read(ROOT, iov.as_ptr(), 1, &mut n), BADF);
    expect_errno!(raw::fd_write(ROOT, ciov.as_ptr(), 1, &mut n), BADF);
    assert_eq!(seek(ROOT, 0, 0), Err(BADF));
    // Streams.
    assert_eq!(seek(1, 0, 0), Err(SPIPE));
    expect_errno!(raw::fd_read(1, iov.as_ptr(), 1, &mut n), BADF);
    expect_errno!(raw::fd_write(0, ciov.as_ptr(), 1, &mut n), BADF);
    // Closing.
    expect_errno!(raw::fd_close(f), SUCCESS);
    expect_errno!(raw::fd_close(f), BADF);
    expect_errno!(raw::fd_close(999), BADF);
    // Truncating creation and exclusive creation.
    let t = open_raw(
        ROOT,
        "tmp/f",
        O_TRUNC,
        RIGHT_FD_WRITE | RIGHT_FD_FILESTAT_GET,
        0,
    )
    .unwrap();
    assert_eq!(filestat(t)[4], 0);
    let c = open_raw(
        ROOT,
        "tmp/new",
        O_CREAT | O_EXCL,
        RIGHT_FD_WRITE | RIGHT_FD_FILESTAT_GET,
        0,
    )
    .unwrap();
    assert_eq!(filestat(c)[2], 4);
    // A path that is not UTF-8.
    let bad = [0xffu8, 0xfe];
    let mut out = 0;
    let e = unsafe { raw::path_open(ROOT, 0, bad.as_ptr(), 2, 0, RIGHT_FD_READ, 0, 0, &mut out) };
    assert_eq!(e, 25, "EILSEQ");
    let e = unsafe {
        raw::path_open(
            ROOT,
            0,
            u32::MAX as *const u8,
            10,
            0,
            RIGHT_FD_READ,
            0,
            0,
            &mut out,
        )
    };
    assert_eq!(e, FAULT);
}

fn case_dotdot() {
    fs::write("/tmp/dd", b"dd").unwrap();
    // `..` inside the directory is fine; above it the path leaves the
    // directory the call was given: EPERM, as an absolute path is.
    let f = open_raw(ROOT, "tmp/../tmp/./dd", 0, RIGHT_FD_READ, 0).unwrap();
    assert_eq!(read_all(f), b"dd");
    assert_eq!(open_raw(ROOT, "../tmp/dd", 0, RIGHT_FD_READ, 0), Err(PERM));
    assert_eq!(
        open_raw(ROOT, "..", O_DIRECTORY, RIGHT_FD_READDIR, 0),
        Err(PERM)
    );
    assert_eq!(open_raw(ROOT, "/tmp/dd", 0, RIGHT_FD_READ, 0), Err(PERM));
    assert_eq!(path_filestat(ROOT, ".."), Err(PERM));
    assert!(fs::read("/../../tmp/dd").is_err());
    let root_stat = path_filestat(ROOT, ".").unwrap();
    // From a directory opened below, `..` may not climb above it.
    let t = open_raw(
        ROOT,
        "tmp",
        O_DIRECTORY,
        RIGHT_FD_READDIR | RIGHT_PATH_OPEN,
        0,
    )
    .unwrap();
    assert_eq!(open_raw(t, "../tmp/dd", 0, RIGHT_FD_READ, 0), Err(PERM));
    let back = open_raw(t, "./x/../dd", 0, RIGHT_FD_READ, 0);
    assert_eq!(back, Err(NOENT), "the component before `..` must exist");
    // The `..` entry of a listing is the parent.
    let listing = readdir(t, 512);
    assert_eq!(listing[1].0, "..");
    assert_eq!(listing[1].2, root_stat[1]);
}

fn case_prestat() {
    let mut pre = [0u32; 2];
    expect_errno!(raw::fd_prestat_get(ROOT, pre.as_mut_ptr()), SUCCESS);
    assert_eq!(pre[0] & 0xff, 0, "a directory preopen");
    assert_eq!(pre[1], 1);
    let mut name = [0u8; 8];
    expect_errno!(
        raw::fd_prestat_dir_name(ROOT, name.as_mut_ptr(), 1),
        SUCCESS
    );
    assert_eq!(name[0], b'/');
    expect_errno!(
        raw::fd_prestat_dir_name(ROOT, name.as_mut_ptr(), 0),
        NAMETOOLONG
    );
    expect_errno!(raw::fd_prestat_get(0, pre.as_mut_ptr()), BADF);
    // The extra preopen.
    expect_errno!(raw::fd_prestat_get(4, pre.as_mut_ptr()), SUCCESS);
    expect_errno!(
        raw::fd_prestat_dir_name(4, name.as_mut_ptr(), pre[1]),
        SUCCESS
    );
    assert_eq!(&name[..pre[1] as usize], b"/data");
    expect_errno!(raw::fd_prestat_get(5, pre.as_mut_ptr()), BADF);
    // The extra preopen's `..` may not leave it.
    assert_eq!(open_raw(4, "../../file", 0, RIGHT_FD_READ, 0), Err(PERM));
    let f = open_raw(4, "file", 0, RIGHT_FD_READ, 0).unwrap();
    assert_eq!(read_all(f), b"read-only data");
    // An open descriptor that is no preopen has no name.
    let mut name = [0u8; 8];
    expect_errno!(raw::fd_prestat_dir_name(f, name.as_mut_ptr(), 8), NOTDIR);
    expect_errno!(raw::fd_prestat_dir_name(77, name.as_mut_ptr(), 8), BADF);
    assert_eq!(fs::read("/data/file").unwrap(), b"read-only data");
}

fn case_fdstat() {
    // The streams are captured, not terminals.
    assert_eq!(fdstat(0).0, 0);
    assert_eq!(fdstat(1).0, 0);
    assert_eq!(fdstat(ROOT).0, 3);
    fs::write("/tmp/s", b"s").unwrap();
    let f = open_raw(ROOT, "tmp/s", 0, RIGHT_FD_READ | RIGHT_FD_WRITE, 0).unwrap();
    let (ty, flags, base, _) = fdstat(f);
    assert_eq!((ty, flags), (4, 0));
    assert_eq!(
        base & (RIGHT_FD_READ | RIGHT_FD_WRITE),
        RIGHT_FD_READ | RIGHT_FD_WRITE
    );
    expect_errno!(raw::fd_fdstat_set_rights(f, RIGHT_FD_READ, 0), SUCCESS);
    assert_eq!(fdstat(f).2, RIGHT_FD_READ);
    expect_errno!(
        raw::fd_fdstat_set_rights(f, RIGHT_FD_READ | RIGHT_FD_WRITE, 0),
        NOTCAPABLE
    );
    let r = open_raw(ROOT, "tmp/s", 0, RIGHT_FD_READ, 0).unwrap();
    assert_eq!(
        fdstat(r).2 & RIGHT_FD_WRITE,
        0,
        "a read-only descriptor has no write right"
    );
    expect_errno!(raw::fd_fdstat_get(42, [0u8; 24].as_mut_ptr()), BADF);
    expect_errno!(raw::fd_fdstat_get(ROOT, u32::MAX as *mut u8), FAULT);
    // Only a file's flags change.
    expect_errno!(raw::fd_fdstat_set_flags(1, FDFLAG_APPEND), BADF);
    expect_errno!(raw::fd_fdstat_set_flags(ROOT, 0), BADF);
    // The streams' rights narrow too.
    expect_errno!(raw::fd_fdstat_set_rights(0, 0, 0), SUCCESS);
    let mut buf = [0u8; 4];
    let iov = [buf.as_mut_ptr() as u32, 4];
    let mut n = 0;
    expect_errno!(raw::fd_read(0, iov.as_ptr(), 1, &mut n), NOTCAPABLE);
}

fn case_filestat() {
    fs::write("/tmp/i1", b"12345").unwrap();
    fs::write("/tmp/i2", b"").unwrap();
    let a = path_filestat(ROOT, "tmp/i1").unwrap();
    let b = path_filestat(ROOT, "tmp/i1").unwrap();
    let c = path_filestat(ROOT, "tmp/i2").unwrap();
    assert_eq!(a[1], b[1], "stable inode");
    assert_ne!(a[1], c[1], "distinct inodes");
    assert_eq!(a[0], c[0], "same device within a mount");
    assert_ne!(
        a[0],
        path_filestat(ROOT, "ro/file").unwrap()[0],
        "another mount, another device"
    );
    assert_eq!((a[2], a[3], a[4]), (4, 1, 5));
    let f = File::open("/tmp/i1").unwrap();
    let fs_ = filestat(fd(&f));
    assert_eq!((fs_[0], fs_[1], fs_[4]), (a[0], a[1], 5));
    assert_eq!(path_filestat(ROOT, "tmp").unwrap()[2], 3);
    assert_eq!(path_filestat(ROOT, "tmp/i1/"), Err(NOTDIR));
    assert_eq!(path_filestat(ROOT, "tmp/none"), Err(NOENT));
    assert_eq!(filestat(1)[2], 0, "a stream is no terminal");
    let md = fs::metadata("/tmp/i1").unwrap();
    assert!(md.is_file() && md.len() == 5);
    assert!(md.modified().is_ok());
}

fn case_times() {
    fs::write("/tmp/tm", b"").unwrap();
    let p = "tmp/tm";
    let set = |at: u64, mt: u64, fl: u32| unsafe {
        raw::path_filestat_set_times(ROOT, 0, p.as_ptr(), p.len() as u32, at, mt, fl)
    };
    // ATIM together with ATIM_NOW is invalid whatever the service.
    assert_eq!(set(0, 0, 1 | 2), INVAL);
    assert_eq!(set(0, 0, 4 | 8), INVAL);
    assert_eq!(set(0, 0, 1 << 5), INVAL);
    let e = set(1_000_000_000, 2_000_000_000, 1 | 4);
    assert!(e == SUCCESS || e == NOTSUP, "errno {e}");
    if e == SUCCESS {
        assert_eq!(path_filestat(ROOT, p).unwrap()[6], 2_000_000_000);
    }
    let f = File::open("/tmp/tm").unwrap();
    let e = unsafe { raw::fd_filestat_set_times(fd(&f), 0, 3_000_000_000, 4) };
    assert!(e == SUCCESS || e == NOTSUP, "errno {e}");
    expect_errno!(raw::fd_filestat_set_times(fd(&f), 0, 0, 3), INVAL);
    expect_errno!(raw::fd_filestat_set_times(90, 0, 0, 4), BADF);
}

fn case_advise_allocate_sync() {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open("/tmp/al")
        .unwrap();
    let fd = fd(&f);
    expect_errno!(raw::fd_advise(fd, 0, 10, 0), SUCCESS);
    expect_errno!(raw::fd_advise(fd, 0, 10, 5), SUCCESS);
    expect_errno!(raw::fd_advise(fd, 0, 10, 6), INVAL);
    expect_errno!(raw::fd_advise(ROOT, 0, 10, 0), BADF);
    expect_errno!(raw::fd_advise(77, 0, 10, 0), BADF);
    expect_errno!(raw::fd_allocate(fd, 10, 90), SUCCESS);
    assert_eq!(filestat(fd)[4], 100);
    expect_errno!(raw::fd_allocate(fd, 0, 10), SUCCESS);
    assert_eq!(filestat(fd)[4], 100, "allocate never shrinks");
    expect_errno!(raw::fd_allocate(fd, u64::MAX, 2), 22);
    expect_errno!(raw::fd_allocate(ROOT, 0, 1), BADF);
    expect_errno!(raw::fd_sync(fd), SUCCESS);
    expect_errno!(raw::fd_datasync(fd), SUCCESS);
    expect_errno!(raw::fd_sync(ROOT), BADF);
    expect_errno!(raw::fd_datasync(ROOT), BADF);
    expect_errno!(raw::fd_sync(66), BADF);
    expect_errno!(raw::fd_datasync(66), BADF);
    f.sync_all().unwrap();
}

fn case_renumber() {
    fs::write("/tmp/r1", b"first").unwrap();
    fs::write("/tmp/r2", b"second").unwrap();
    let a = open_raw(ROOT, "tmp/r1", 0, RIGHT_FD_READ, 0).unwrap();
    let b = open_raw(ROOT, "tmp/r2", 0, RIGHT_FD_READ, 0).unwrap();
    expect_errno!(raw::fd_renumber(a, b), SUCCESS);
    assert_eq!(read_all(b), b"first");
    let mut st = [0u8; 24];
    expect_errno!(raw::fd_fdstat_get(a, st.as_mut_ptr()), BADF);
    expect_errno!(raw::fd_renumber(a, b), BADF);
    expect_errno!(raw::fd_renumber(b, 200), BADF);
    expect_errno!(raw::fd_renumber(b, b), SUCCESS);
    // The lowest free number is reused.
    let c = open_raw(ROOT, "tmp/r2", 0, RIGHT_FD_READ, 0).unwrap();
    assert_eq!(c, a);
}

fn case_links() {
    fs::write("/tmp/l", b"target").unwrap();
    fs::create_dir("/tmp/ld").unwrap();
    let sym = |target: &str, link: &str| unsafe {
        raw::path_symlink(
            target.as_ptr(),
            target.len() as u32,
            ROOT,
            link.as_ptr(),
            link.len() as u32,
        )
    };
    let hard = |from: &str, to: &str, follow: u32| unsafe {
        raw::path_link(
            ROOT,
            follow,
            from.as_ptr(),
            from.len() as u32,
            ROOT,
            to.as_ptr(),
            to.len() as u32,
        )
    };
    let readlink = |p: &str, len: u32| {
        let mut buf = [0u8; 32];
        let mut used = 0;
        let e = unsafe {
            raw::path_readlink(
                ROOT,
                p.as_ptr(),
                p.len() as u32,
                buf.as_mut_ptr(),
                len,
                &mut used,
            )
        };
        if e == SUCCESS {
            Ok(String::from_utf8(buf[..used as usize].to_vec()).unwrap())
        } else {
            Err(e)
        }
    };
    // Symbolic links hold their target verbatim; it is resolved relative
    // to the link's directory.
    assert_eq!(sym("l", "tmp/sl"), SUCCESS);
    assert_eq!(sym("ld", "tmp/sd"), SUCCESS);
    assert_eq!(sym("gone", "tmp/dangling"), SUCCESS);
    assert_eq!(sym("l", "tmp/sl"), EXIST);
    assert_eq!(sym("l", "tmp/missing/x"), NOENT);
    assert_eq!(sym("/tmp/l", "tmp/abs"), PERM, "an absolute target");
    assert_eq!(sym("", "tmp/empty"), NOENT);
    assert_eq!(sym("l", "ro/x"), ROFS);
    expect_errno!(
        raw::path_symlink(b"l".as_ptr(), 1, 50, b"x".as_ptr(), 1),
        BADF
    );
    assert_eq!(readlink("tmp/sl", 32), Ok("l".into()));
    assert_eq!(
        readlink("tmp/dangling", 2),
        Ok("go".into()),
        "cut to the buffer"
    );
    assert_eq!(readlink("tmp/l", 32), Err(INVAL));
    assert_eq!(readlink("tmp/none", 32), Err(NOENT));
    assert_eq!(fs::read("/tmp/sl").unwrap(), b"target");
    // With and without `symlink_follow`.
    assert_eq!(path_filestat_with(ROOT, 1, "tmp/sl").unwrap()[2], 4);
    assert_eq!(path_filestat_with(ROOT, 0, "tmp/sl").unwrap()[2], 7);
    assert_eq!(path_filestat_with(ROOT, 0, "tmp/sd/").unwrap()[2], 3);
    assert_eq!(path_filestat_with(ROOT, 1, "tmp/dangling"), Err(NOENT));
    assert_eq!(open_raw_with(ROOT, 0, "tmp/sl", RIGHT_FD_READ), Err(LOOP));
    let f = open_raw_with(ROOT, 1, "tmp/sl", RIGHT_FD_READ).unwrap();
    assert_eq!(read_all(f), b"target");
    let names: Vec<(String, u8)> = readdir(
        open_raw(ROOT, "tmp", O_DIRECTORY, RIGHT_FD_READDIR, 0).unwrap(),
        512,
    )
    .into_iter()
    .map(|e| (e.0, e.3))
    .collect();
    assert!(names.contains(&("sl".to_owned(), 7)), "{names:?}");
    // Loops end.
    assert_eq!(sym("loop", "tmp/loop"), SUCCESS);
    assert_eq!(path_filestat_with(ROOT, 1, "tmp/loop"), Err(LOOP));
    // Hard links: a second name of the same file.
    assert_eq!(hard("tmp/l", "tmp/h", 0), SUCCESS);
    let (a, b) = (
        path_filestat(ROOT, "tmp/l").unwrap(),
        path_filestat(ROOT, "tmp/h").unwrap(),
    );
    assert_eq!((a[1], a[3], b[3]), (b[1], 2, 2), "one inode, two names");
    assert_eq!(hard("tmp/l", "tmp/h", 0), EXIST);
    assert_eq!(hard("tmp/ld", "tmp/h2", 0), PERM);
    assert_eq!(hard("tmp/missing", "tmp/h2", 0), NOENT);
    assert_eq!(hard("tmp/l", "ro/h", 0), XDEV);
    // A link itself is linked, unless `symlink_follow` asks for its target.
    assert_eq!(hard("tmp/sl", "tmp/h_sym", 0), SUCCESS);
    assert_eq!(path_filestat_with(ROOT, 0, "tmp/h_sym").unwrap()[2], 7);
    assert_eq!(hard("tmp/sl", "tmp/h_target", 1), SUCCESS);
    assert_eq!(path_filestat_with(ROOT, 0, "tmp/h_target").unwrap()[3], 3);
    // Unlinking a link leaves its target.
    let u = |p: &str| unsafe { raw::path_unlink_file(ROOT, p.as_ptr(), p.len() as u32) };
    assert_eq!(u("tmp/dangling"), SUCCESS);
    assert_eq!(u("tmp/sd/"), ISDIR);
    assert_eq!(u("tmp/sd"), SUCCESS);
    assert!(fs::metadata("/tmp/ld").unwrap().is_dir());
    assert_eq!(u("tmp/h"), SUCCESS);
    assert_eq!(path_filestat(ROOT, "tmp/l").unwrap()[3], 2);
}

fn case_sockets() {
    // No descriptor is a socket: an open one is ENOTSOCK, any other EBADF.
    let mut out = 0u32;
    let mut flags = 0u16;
    let iov = [0u32, 0];
    for fd in [0, 1, ROOT] {
        expect_errno!(raw::sock_accept(fd, 0, &mut out), NOTSOCK);
        expect_errno!(
            raw::sock_recv(fd, iov.as_ptr(), 1, 0, &mut out, &mut flags),
            NOTSOCK
        );
        expect_errno!(raw::sock_send(fd, iov.as_ptr(), 1, 0, &mut out), NOTSOCK);
        expect_errno!(raw::sock_shutdown(fd, 3), NOTSOCK);
    }
    expect_errno!(raw::sock_accept(99, 0, &mut out), BADF);
    expect_errno!(
        raw::sock_recv(99, iov.as_ptr(), 1, 0, &mut out, &mut flags),
        BADF
    );
    expect_errno!(raw::sock_send(99, iov.as_ptr(), 1, 0, &mut out), BADF);
    expect_errno!(raw::sock_shutdown(99, 3), BADF);
}

/// A clock subscription (relative, monotonic) of `ns` nanoseconds.
fn clock_sub(userdata: u64, ns: u64) -> [u8; 48] {
    let mut s = [0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = 0;
    s[16..20].copy_from_slice(&1u32.to_le_bytes());
    s[24..32].copy_from_slice(&ns.to_le_bytes());
    s
}

fn fd_sub(userdata: u64, kind: u8, fd: u32) -> [u8; 48] {
    let mut s = [0u8; 48];
    s[0..8].copy_from_slice(&userdata.to_le_bytes());
    s[8] = kind;
    s[16..20].copy_from_slice(&fd.to_le_bytes());
    s
}

fn poll(subs: &[[u8; 48]]) -> Result<Vec<(u64, u16, u8, u64)>, u16> {
    let flat: Vec<u8> = subs.iter().flatten().copied().collect();
    let mut events = vec![0u8; 32 * subs.len().max(1)];
    let mut n = 0u32;
    let e = unsafe {
        raw::poll_oneoff(
            flat.as_ptr(),
            events.as_mut_ptr(),
            subs.len() as u32,
            &mut n,
        )
    };
    if e != SUCCESS {
        return Err(e);
    }
    Ok((0..n as usize)
        .map(|i| {
            let ev = &events[i * 32..i * 32 + 32];
            (
                u64::from_le_bytes(ev[0..8].try_into().unwrap()),
                u16::from_le_bytes([ev[8], ev[9]]),
                ev[10],
                u64::from_le_bytes(ev[16..24].try_into().unwrap()),
            )
        })
        .collect())
}

fn case_poll() {
    let start = Instant::now();
    let ev = poll(&[clock_sub(7, 20_000_000)]).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(20));
    assert_eq!(ev, [(7, 0, 0, 0)]);
    // stdin is ready at once, with what it holds.
    let start = Instant::now();
    let ev = poll(&[clock_sub(1, 10_000_000_000), fd_sub(2, 1, 0)]).unwrap();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(ev, [(2, 0, 1, 11)]);
    let ev = poll(&[fd_sub(3, 2, 1)]).unwrap();
    assert_eq!(ev, [(3, 0, 2, 0)]);
    let ev = poll(&[fd_sub(4, 1, 99)]).unwrap();
    assert_eq!(ev, [(4, BADF, 1, 0)]);
    fs::write("/tmp/pf", b"12345").unwrap();
    let f = File::open("/tmp/pf").unwrap();
    let ev = poll(&[fd_sub(5, 1, fd(&f))]).unwrap();
    assert_eq!(ev, [(5, 0, 1, 5)]);
    let mut bad = clock_sub(6, 1);
    bad[16] = 9;
    assert_eq!(poll(&[bad]).unwrap(), [(6, INVAL, 0, 0)]);
    assert_eq!(poll(&[]), Err(INVAL));
    let mut wrong = clock_sub(8, 1);
    wrong[8] = 7;
    assert_eq!(poll(&[wrong]), Err(INVAL));
    // Absolute deadlines in the past fire at once.
    let mut abs = clock_sub(9, 1);
    abs[40] = 1;
    assert_eq!(poll(&[abs]).unwrap(), [(9, 0, 0, 0)]);
    let mut n = 0u32;
    expect_errno!(
        raw::poll_oneoff(u32::MAX as *const u8, [0u8; 32].as_mut_ptr(), 1, &mut n),
        FAULT
    );
    // thread::sleep is poll_oneoff underneath.
    let start = Instant::now();
    std::thread::sleep(Duration::from_millis(5));
    assert!(start.elapsed() >= Duration::from_millis(5));
}

fn case_proc() {
    expect_errno!(raw::sched_yield(), SUCCESS);
    expect_errno!(raw::proc_raise(6), NOTSUP);
}

fn case_stdin() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).unwrap();
    assert_eq!(input, "line1\nline2");
    print!("echo:{input}");
}

fn case_exit() {
    std::process::exit(7);
}

fn case_stdout_stderr() {
    println!("to stdout");
    eprintln!("to stderr");
    let parts: [&[u8]; 2] = [b"gathered ", b"line\n"];
    let iovs: Vec<u32> = parts
        .iter()
        .flat_map(|p| [p.as_ptr() as u32, p.len() as u32])
        .collect();
    let mut n = 0;
    expect_errno!(raw::fd_write(1, iovs.as_ptr(), 2, &mut n), SUCCESS);
    assert_eq!(n, 14);
}

fn main() {
    let case = std::env::args().nth(1).unwrap_or_default();
    match case.as_str() {
        "args_env" => case_args_env(),
        "clocks" => case_clocks(),
        "random" => case_random(),
        "files" => case_files(),
        "append" => case_append(),
        "pread_pwrite" => case_pread_pwrite(),
        "truncate" => case_truncate(),
        "readdir" => case_readdir(),
        "rename" => case_rename(),
        "unlink" => case_unlink(),
        "dirs" => case_dirs(),
        "open_errors" => case_open_errors(),
        "dotdot" => case_dotdot(),
        "prestat" => case_prestat(),
        "fdstat" => case_fdstat(),
        "filestat" => case_filestat(),
        "times" => case_times(),
        "advise_allocate_sync" => case_advise_allocate_sync(),
        "renumber" => case_renumber(),
        "links" => case_links(),
        "sockets" => case_sockets(),
        "poll" => case_poll(),
        "proc" => case_proc(),
        "stdin" => case_stdin(),
        "exit" => case_exit(),
        "stdout_stderr" => case_stdout_stderr(),
        other => panic!("unknown case {other:?}"),
    }
    if case != "stdin" {
        println!("ok {case}");
    }
}
