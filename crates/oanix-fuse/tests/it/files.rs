//! What programs do with files, through `std::fs` on the mount: renames
//! over files, unlinked open files, appends, truncation, `fsync`, `mmap`,
//! links, listings under change, stable inode numbers, modes.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirEntryExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::process::Command;

use oanix_fuse::{CachePolicy, MountOptions};
use oanix_prims::{MapFs, MemFs};
use oanix_vfs::Namespace;

use crate::support::Mounted;

/// `/data` (a read-only map with a link), `/work` and `/tmp` (memory).
fn namespace() -> Namespace {
    let data = MapFs::builder()
        .file("/hello.txt", "hello\n")
        .file("/big.bin", vec![7u8; 300_000])
        .file("/sub/deep.txt", "deep\n")
        .symlink("/to-hello", "hello.txt")
        .build();
    Namespace::builder()
        .mount("/data", data)
        .mount("/work", MemFs::new())
        .mount("/tmp", MemFs::new())
        .build()
}

fn mounted() -> Mounted {
    Mounted::new(
        namespace(),
        MountOptions::new().policy("/data", CachePolicy::Immutable),
    )
}

#[test]
fn files_read_write_and_list_as_on_any_file_system() {
    let m = mounted();
    assert_eq!(
        fs::read_to_string(m.p("data/hello.txt")).unwrap(),
        "hello\n"
    );
    assert_eq!(fs::read(m.p("data/big.bin")).unwrap(), vec![7u8; 300_000]);
    fs::write(m.p("work/a.txt"), "one").unwrap();
    fs::create_dir_all(m.p("work/d/e")).unwrap();
    fs::write(m.p("work/d/e/f"), "two").unwrap();
    assert_eq!(fs::read_to_string(m.p("work/d/e/f")).unwrap(), "two");
    let mut names: Vec<String> = fs::read_dir(m.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["data", "tmp", "work"]);
    let md = fs::metadata(m.p("data/big.bin")).unwrap();
    assert_eq!(md.len(), 300_000);
    assert_eq!(md.permissions().mode() & 0o777, 0o444, "read-only files");
    assert_eq!(
        fs::metadata(m.p("work/a.txt"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o644
    );
    assert_eq!(
        fs::metadata(m.p("work/d")).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let e = fs::write(m.p("data/hello.txt"), "no").unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EROFS));
    let e = fs::create_dir(m.p("work/d")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    let e = fs::remove_dir(m.p("work/d")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::ENOTEMPTY));
}

#[test]
fn rename_over_an_existing_file_replaces_it_and_keeps_the_moved_inode() {
    let m = mounted();
    fs::write(m.p("work/new"), "new content").unwrap();
    fs::write(m.p("work/old"), "old").unwrap();
    let ino = fs::metadata(m.p("work/new")).unwrap().ino();
    // The replaced file stays readable through a descriptor opened before.
    let mut replaced = File::open(m.p("work/old")).unwrap();
    fs::rename(m.p("work/new"), m.p("work/old")).unwrap();
    assert_eq!(fs::read_to_string(m.p("work/old")).unwrap(), "new content");
    assert_eq!(fs::metadata(m.p("work/old")).unwrap().ino(), ino);
    assert_eq!(
        fs::metadata(m.p("work/new")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    let mut s = String::new();
    replaced.read_to_string(&mut s).unwrap();
    assert_eq!(s, "old");
    // A directory renamed over an empty one, with its contents.
    fs::create_dir_all(m.p("work/src/inner")).unwrap();
    fs::write(m.p("work/src/inner/f"), "f").unwrap();
    fs::create_dir(m.p("work/dst")).unwrap();
    let inner = fs::metadata(m.p("work/src/inner/f")).unwrap().ino();
    fs::rename(m.p("work/src"), m.p("work/dst")).unwrap();
    assert_eq!(fs::read_to_string(m.p("work/dst/inner/f")).unwrap(), "f");
    assert_eq!(fs::metadata(m.p("work/dst/inner/f")).unwrap().ino(), inner);
    // renameat2: RENAME_NOREPLACE refuses to replace, RENAME_EXCHANGE is
    // not offered.
    fs::write(m.p("work/x"), "x").unwrap();
    let renameat2 = |a: &str, b: &str, flags: u32| -> i32 {
        let script = "import ctypes, os, sys\n\
             libc = ctypes.CDLL(None, use_errno=True)\n\
             r = libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), int(sys.argv[3]))\n\
             print(0 if r == 0 else ctypes.get_errno())\n";
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(m.p(a))
            .arg(m.p(b))
            .arg(flags.to_string())
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(renameat2("work/x", "work/old", 1), libc::EEXIST);
    assert_eq!(fs::read_to_string(m.p("work/old")).unwrap(), "new content");
    assert_eq!(renameat2("work/x", "work/y", 1), 0);
    assert_eq!(fs::read_to_string(m.p("work/y")).unwrap(), "x");
    assert_eq!(renameat2("work/y", "work/old", 2), libc::EINVAL);
    // Across mounts of the namespace: EXDEV, which `mv` handles by copying.
    let e = fs::rename(m.p("work/old"), m.p("tmp/old")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EXDEV));
}

#[test]
fn an_unlinked_open_file_keeps_its_data() {
    let m = mounted();
    fs::write(m.p("work/gone"), "still here").unwrap();
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.p("work/gone"))
        .unwrap();
    fs::remove_file(m.p("work/gone")).unwrap();
    assert!(!m.p("work/gone").exists());
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "still here");
    f.write_all(b"!").unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut s = String::new();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "still here!");
    assert_eq!(f.metadata().unwrap().len(), 11, "fstat of an unlinked file");
    // The name is free for a new file.
    fs::write(m.p("work/gone"), "new").unwrap();
    assert_eq!(fs::read_to_string(m.p("work/gone")).unwrap(), "new");
}

#[test]
fn appends_truncation_and_fsync() {
    let m = mounted();
    let path = m.p("work/log");
    let mut a = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .unwrap();
    let mut b = OpenOptions::new().append(true).open(&path).unwrap();
    a.write_all(b"1").unwrap();
    b.write_all(b"2").unwrap();
    a.write_all(b"3").unwrap();
    a.sync_all().unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "123");
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    f.set_len(1).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "1");
    f.set_len(4).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"1\0\0\0");
    f.sync_data().unwrap();
    assert_eq!(f.metadata().unwrap().len(), 4);
    // truncate(2) by path, and O_TRUNC.
    let out = Command::new("truncate")
        .args(["-s", "2"])
        .arg(&path)
        .status()
        .unwrap();
    assert!(out.success());
    assert_eq!(fs::read(&path).unwrap(), b"1\0");
    File::create(&path).unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 0);
}

#[test]
fn mmap_reads_the_file() {
    let m = mounted();
    let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(m.p("work/mapped"), &data).unwrap();
    for rel in ["work/mapped", "data/big.bin"] {
        let script = "import mmap, sys, hashlib\n\
             f = open(sys.argv[1], 'rb')\n\
             m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\n\
             print(len(m), hashlib.sha256(m[:]).hexdigest())\n";
        let out = Command::new("python3")
            .args(["-c", script])
            .arg(m.p(rel))
            .output()
            .expect("python3 runs the mmap check");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want_data = fs::read(m.p(rel)).unwrap();
        let got = String::from_utf8(out.stdout).unwrap();
        let len: usize = got.split_whitespace().next().unwrap().parse().unwrap();
        assert_eq!(len, want_data.len(), "{rel}");
        let hash = Command::new("sha256sum").arg(m.p(rel)).output().unwrap();
        let hash = String::from_utf8(hash.stdout).unwrap();
        assert_eq!(
            got.split_whitespace().nth(1),
            hash.split_whitespace().next(),
            "{rel}: mmap and read agree"
        );
    }
}

#[test]
fn symbolic_links_resolve_as_the_kernel_resolves_them() {
    let m = mounted();
    // A link in a read-only map, relative.
    assert_eq!(fs::read_to_string(m.p("data/to-hello")).unwrap(), "hello\n");
    assert_eq!(
        fs::read_link(m.p("data/to-hello")).unwrap().to_str(),
        Some("hello.txt")
    );
    assert!(
        fs::symlink_metadata(m.p("data/to-hello"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // Links made through the mount: relative, to a directory, dangling,
    // and absolute (namespace paths).
    fs::create_dir(m.p("work/dir")).unwrap();
    fs::write(m.p("work/dir/f"), "in dir").unwrap();
    std::os::unix::fs::symlink("dir/f", m.p("work/rel")).unwrap();
    std::os::unix::fs::symlink("dir", m.p("work/ld")).unwrap();
    std::os::unix::fs::symlink("nowhere", m.p("work/dangling")).unwrap();
    std::os::unix::fs::symlink("/data/sub/deep.txt", m.p("work/abs")).unwrap();
    assert_eq!(fs::read_to_string(m.p("work/rel")).unwrap(), "in dir");
    assert_eq!(fs::read_to_string(m.p("work/ld/f")).unwrap(), "in dir");
    assert_eq!(
        fs::read_to_string(m.p("work/dangling")).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        fs::read_link(m.p("work/abs")).unwrap().to_str(),
        Some("/data/sub/deep.txt")
    );
    let e = std::os::unix::fs::symlink("x", m.p("work/rel")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    // An absolute target resolves from the reading process's root: with the
    // mount as its root, that is the namespace.
    let script = "import os, sys\n\
         os.chroot(sys.argv[1])\n\
         os.chdir('/')\n\
         sys.stdout.write(open('/work/abs').read())\n\
         sys.stdout.write(open('/work/ld/f').read())\n";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(m.root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "deep\nin dir");
    // Removing the link leaves its target.
    fs::remove_file(m.p("work/ld")).unwrap();
    assert!(m.p("work/dir/f").exists());
}

#[test]
fn hard_links_share_one_inode_and_count_their_names() {
    let m = mounted();
    fs::write(m.p("work/first"), "shared").unwrap();
    fs::create_dir(m.p("work/other")).unwrap();
    fs::hard_link(m.p("work/first"), m.p("work/other/second")).unwrap();
    let a = fs::metadata(m.p("work/first")).unwrap();
    let b = fs::metadata(m.p("work/other/second")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!((a.nlink(), b.nlink()), (2, 2));
    fs::write(m.p("work/other/second"), "changed").unwrap();
    assert_eq!(fs::read_to_string(m.p("work/first")).unwrap(), "changed");
    fs::remove_file(m.p("work/first")).unwrap();
    let b = fs::metadata(m.p("work/other/second")).unwrap();
    assert_eq!(b.nlink(), 1);
    assert_eq!(
        fs::read_to_string(m.p("work/other/second")).unwrap(),
        "changed"
    );
    let e = fs::hard_link(m.p("work/other"), m.p("work/dirlink")).unwrap_err();
    assert_eq!(
        e.raw_os_error(),
        Some(libc::EPERM),
        "no hard links to directories"
    );
    let e = fs::hard_link(m.p("work/other/second"), m.p("tmp/x")).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(libc::EXDEV));
}

#[test]
fn a_listing_read_while_entries_change_gives_its_snapshot_once() {
    let m = mounted();
    let dir = m.p("work/many");
    fs::create_dir(&dir).unwrap();
    // Long names, so that the listing takes several requests of the
    // kernel (each fills a buffer of `st_blksize`, 128 KiB).
    let name = |i: usize| format!("entry-{i:04}-{}", "x".repeat(90));
    let names: BTreeSet<String> = (0..2000).map(name).collect();
    for n in &names {
        File::create(dir.join(n)).unwrap();
    }
    let mut listing = fs::read_dir(&dir).unwrap();
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.push(
            listing
                .next()
                .unwrap()
                .unwrap()
                .file_name()
                .into_string()
                .unwrap(),
        );
    }
    // Meanwhile: entries the listing has not reached yet go, new ones come.
    for i in 1500..2000 {
        fs::remove_file(dir.join(name(i))).unwrap();
    }
    for i in 0..300 {
        File::create(dir.join(format!("late-{i:04}"))).unwrap();
    }
    for e in listing {
        seen.push(e.unwrap().file_name().into_string().unwrap());
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no entry twice");
    assert_eq!(unique, names, "exactly the entries there at opendir");
    // A new listing sees the directory as it is now.
    let now = fs::read_dir(&dir).unwrap().count();
    assert_eq!(now, 1500 + 300);
}

#[test]
fn inode_numbers_are_stable_and_listings_agree_with_stat() {
    let m = mounted();
    fs::create_dir_all(m.p("work/a/b")).unwrap();
    fs::write(m.p("work/a/b/f"), "x").unwrap();
    let ino = fs::metadata(m.p("work/a/b/f")).unwrap().ino();
    assert_eq!(fs::metadata(m.p("work/a/b/f")).unwrap().ino(), ino);
    let listed = fs::read_dir(m.p("work/a/b"))
        .unwrap()
        .map(|e| e.unwrap())
        .find(|e| e.file_name() == "f")
        .unwrap();
    assert_eq!(listed.ino(), ino, "d_ino is st_ino");
    fs::rename(m.p("work/a"), m.p("work/z")).unwrap();
    assert_eq!(fs::metadata(m.p("work/z/b/f")).unwrap().ino(), ino);
    // After the kernel forgets its inodes, the numbers are the same.
    let _ = fs::write("/proc/sys/vm/drop_caches", "2");
    assert_eq!(fs::metadata(m.p("work/z/b/f")).unwrap().ino(), ino);
    let data = fs::metadata(m.p("data/hello.txt")).unwrap().ino();
    assert_ne!(
        data, ino,
        "numbers are unique across the namespace's mounts"
    );
    assert_eq!(fs::metadata(m.p("data/hello.txt")).unwrap().ino(), data);
}

#[test]
fn modes_are_kept_by_the_mount() {
    let m = mounted();
    let script = m.p("work/run.sh");
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&script)
        .unwrap();
    f.write_all(b"#!/bin/sh\necho ran\n").unwrap();
    drop(f);
    assert_eq!(
        fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let denied = Command::new(&script).output();
    assert!(denied.is_err(), "not executable yet");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(
        fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let out = Command::new(&script).output().unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "ran\n");
    // access(2) answers as for root: writable unless the service is
    // read-only, executable with an execute bit.
    let test = |args: &str| m.sh_output(&format!("test {args}")).status.success();
    assert!(test("-x work/run.sh") && test("-w work/run.sh"));
    assert!(!test("-w data/hello.txt") && !test("-x data/hello.txt"));
    assert!(test("-r data/hello.txt") && test("-x data/sub"));
    // Owners too (accepted, and shown).
    let uid = fs::metadata(&script).unwrap().uid();
    std::os::unix::fs::chown(&script, Some(uid), Some(4242)).unwrap();
    assert_eq!(fs::metadata(&script).unwrap().gid(), 4242);
}
