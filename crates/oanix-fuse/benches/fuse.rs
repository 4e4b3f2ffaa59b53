//! Benchmark: a namespace through the kernel (FUSE) against the same files
//! on tmpfs (`/dev/shm`): reading many small files, statting them, one
//! 50 MiB sequential read, creating and deleting files, and editing a
//! 50 MiB file through the copy-on-write overlay.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark setup"
)]

use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use oanix_bench::{Table, measure_each};
use oanix_fuse::{CachePolicy, FuseMount, MountOptions};
use oanix_prims::{CowFs, MapFs, MemFs};
use oanix_vfs::Namespace;

const DIRS: usize = 10;
const PER_DIR: usize = 100;
const SMALL: usize = 4096;
const BIG: usize = 50 << 20;

fn small_names() -> Vec<String> {
    (0..DIRS)
        .flat_map(|d| (0..PER_DIR).map(move |f| format!("d{d:02}/f{f:03}.txt")))
        .collect()
}

fn read_all(root: &Path, names: &[String], buf: &mut Vec<u8>) {
    for n in names {
        buf.clear();
        File::open(root.join(n)).unwrap().read_to_end(buf).unwrap();
        black_box(buf.len());
    }
}

fn stat_all(root: &Path, names: &[String]) {
    for n in names {
        black_box(fs::metadata(root.join(n)).unwrap().len());
    }
}

fn read_big(path: &Path, buf: &mut [u8]) {
    let mut f = File::open(path).unwrap();
    let mut total = 0;
    loop {
        let n = f.read(buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert_eq!(total, BIG);
}

fn create_delete(dir: &Path, round: u64) {
    let data = [0x5a; SMALL];
    let sub = dir.join(format!("r{round}"));
    fs::create_dir(&sub).unwrap();
    for i in 0..100 {
        fs::write(sub.join(format!("f{i}")), data).unwrap();
    }
    for i in 0..100 {
        fs::remove_file(sub.join(format!("f{i}"))).unwrap();
    }
    fs::remove_dir(&sub).unwrap();
}

fn edit(path: &Path, round: u64) {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let offset = (round * 1_048_573) % (BIG as u64 - SMALL as u64);
    f.write_all_at(&[round as u8; SMALL], offset).unwrap();
    let mut back = [0; SMALL];
    f.read_exact_at(&mut back, offset).unwrap();
    black_box(back);
}

fn main() {
    if let Err(e) = FuseMount::check_available() {
        panic!("the fuse benchmark needs FUSE: {e}");
    }
    let names = small_names();
    let small = vec![b'x'; SMALL];
    let big: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();

    // The OANIX side: a read-only map (immutable), a memory file system,
    // and an overlay over a map holding the big file.
    let mut data = MapFs::builder().file("/big.bin", big.clone());
    for n in &names {
        data = data.file(&format!("/{n}"), small.clone());
    }
    let base = MapFs::builder().file("/big.bin", big.clone()).build();
    let ns = Namespace::builder()
        .mount("/data", data.build())
        .mount("/work", MemFs::new())
        .mount("/cached", MemFs::new())
        .mount("/ws", CowFs::new(base))
        .build();
    let mnt = tempfile::tempdir().unwrap();
    let options = MountOptions::new()
        .policy("/data", CachePolicy::Immutable)
        .policy("/cached", CachePolicy::Cached(Duration::from_secs(1)))
        .policy("/ws", CachePolicy::Cached(Duration::from_secs(1)));
    let mount = FuseMount::mount(ns, mnt.path(), options).unwrap();
    let fuse_root = mnt.path().to_path_buf();

    // The peer: the same files on tmpfs.
    let shm = tempfile::tempdir_in("/dev/shm").unwrap();
    let tmpfs: PathBuf = shm.path().to_path_buf();
    for d in 0..DIRS {
        fs::create_dir_all(tmpfs.join(format!("data/d{d:02}"))).unwrap();
    }
    for n in &names {
        fs::write(tmpfs.join("data").join(n), &small).unwrap();
    }
    fs::write(tmpfs.join("data/big.bin"), &big).unwrap();
    fs::create_dir(tmpfs.join("work")).unwrap();
    fs::create_dir(tmpfs.join("cached")).unwrap();
    fs::create_dir(tmpfs.join("ws")).unwrap();
    fs::write(tmpfs.join("ws/big.bin"), &big).unwrap();
    drop(big);

    let mut buf = Vec::with_capacity(SMALL * 2);
    let mut chunk = vec![0u8; 1 << 20];
    let subjects = [fuse_root.clone(), tmpfs.clone()];

    let mut reads = Table::new(
        "FUSE mount vs tmpfs: reading (immutable map, warm caches)",
        &["oanix-fuse", "tmpfs"],
    );
    let cells = subjects
        .iter()
        .map(|root| {
            let data = root.join("data");
            Some(measure_each(20, |_| read_all(&data, &names, &mut buf)))
        })
        .collect();
    reads.row("open+read+close 1 000 files of 4 KiB", cells);
    let cells = subjects
        .iter()
        .map(|root| {
            let data = root.join("data");
            Some(measure_each(20, |_| stat_all(&data, &names)))
        })
        .collect();
    reads.row("stat 1 000 files", cells);
    let cells = subjects
        .iter()
        .map(|root| {
            let big = root.join("data/big.bin");
            Some(measure_each(10, |_| read_big(&big, &mut chunk)))
        })
        .collect();
    reads.row("read 50 MiB sequentially (1 MiB reads)", cells);
    reads.print();

    let mut writes = Table::new(
        "FUSE mount vs tmpfs: writing (memory file system, writable policy)",
        &["oanix-fuse", "tmpfs"],
    );
    let cells = subjects
        .iter()
        .map(|root| {
            let work = root.join("work");
            Some(measure_each(20, |i| create_delete(&work, i)))
        })
        .collect();
    writes.row(
        "mkdir, create+write 100 files of 4 KiB, delete them, rmdir (writable)",
        cells,
    );
    let cells = subjects
        .iter()
        .map(|root| {
            let dir = root.join("cached");
            Some(measure_each(20, |i| create_delete(&dir, i)))
        })
        .collect();
    writes.row("the same, cached for 1 s", cells);
    for root in &subjects {
        for n in &names[..100] {
            let p = root.join("work").join(n);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, &small).unwrap();
        }
    }
    let cells = subjects
        .iter()
        .map(|root| {
            let work = root.join("work");
            Some(measure_each(20, |_| stat_all(&work, &names[..100])))
        })
        .collect();
    writes.row("stat 100 files (writable: each asks the service)", cells);
    let cells = subjects
        .iter()
        .map(|root| {
            let big = root.join("ws/big.bin");
            // The first edit copies the file up; the rows time the edits after.
            edit(&big, 0);
            Some(measure_each(50, |i| edit(&big, i + 1)))
        })
        .collect();
    writes.row(
        "edit a 50 MiB file (overlay; open, write 4 KiB, read it back, close)",
        cells,
    );
    let cells = subjects
        .iter()
        .map(|root| {
            let big = root.join("ws/big.bin");
            Some(measure_each(10, |_| read_big(&big, &mut chunk)))
        })
        .collect();
    writes.row("read the edited 50 MiB file", cells);
    writes.print();

    mount.unmount().unwrap();
}
