//! Benchmark: MemFs (bare and through a 7-mount Namespace) against the `vfs`
//! crate's `MemoryFS` and `std::fs` on tmpfs, at 1 000 and 10 000 files.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::hint::black_box;
use std::io::{Read, Write};
use std::path::PathBuf;

use oanix_bench::{Stats, Table, measure};
use oanix_prims::MemFs;
use oanix_vfs::{FileService, Namespace, OpenFlags};
use vfs::FileSystem;

const DIR_SIZE: usize = 100;
const KIB: [u8; 1024] = [0x5a; 1024];

/// The four subjects behind one interface: `path` is relative (`d3/f17`).
trait Subject {
    fn stat(&self, path: &str);
    fn read_1k(&self, path: &str, buf: &mut [u8]);
    fn create_write_1k(&self, path: &str);
    fn mkdir(&self, path: &str);
    fn readdir(&self, path: &str) -> usize;
}

struct Oanix<F: FileService> {
    fs: F,
    prefix: &'static str,
}

impl<F: FileService> Oanix<F> {
    fn p(&self, path: &str) -> String {
        format!("{}/{path}", self.prefix)
    }
}

impl<F: FileService> Subject for Oanix<F> {
    fn stat(&self, path: &str) {
        black_box(self.fs.stat(path).unwrap());
    }
    fn read_1k(&self, path: &str, buf: &mut [u8]) {
        let mut h = self.fs.open(path, OpenFlags::read_only()).unwrap();
        black_box(h.read(buf).unwrap());
    }
    fn create_write_1k(&self, path: &str) {
        let mut h = self.fs.open(path, OpenFlags::create_truncate()).unwrap();
        h.write(&KIB).unwrap();
    }
    fn mkdir(&self, path: &str) {
        self.fs.mkdir(path).unwrap();
    }
    fn readdir(&self, path: &str) -> usize {
        black_box(self.fs.readdir(path).unwrap()).len()
    }
}

struct VfsMem(vfs::MemoryFS);

impl Subject for VfsMem {
    fn stat(&self, path: &str) {
        black_box(self.0.metadata(path).unwrap());
    }
    fn read_1k(&self, path: &str, buf: &mut [u8]) {
        let mut f = self.0.open_file(path).unwrap();
        black_box(f.read(buf).unwrap());
    }
    fn create_write_1k(&self, path: &str) {
        let mut f = self.0.create_file(path).unwrap();
        f.write_all(&KIB).unwrap();
    }
    fn mkdir(&self, path: &str) {
        self.0.create_dir(path).unwrap();
    }
    fn readdir(&self, path: &str) -> usize {
        black_box(self.0.read_dir(path).unwrap().count())
    }
}

struct StdFs(PathBuf);

impl Subject for StdFs {
    fn stat(&self, path: &str) {
        black_box(std::fs::metadata(self.0.join(&path[1..])).unwrap());
    }
    fn read_1k(&self, path: &str, buf: &mut [u8]) {
        let mut f = std::fs::File::open(self.0.join(&path[1..])).unwrap();
        black_box(f.read(buf).unwrap());
    }
    fn create_write_1k(&self, path: &str) {
        let mut f = std::fs::File::create(self.0.join(&path[1..])).unwrap();
        f.write_all(&KIB).unwrap();
    }
    fn mkdir(&self, path: &str) {
        std::fs::create_dir(self.0.join(&path[1..])).unwrap();
    }
    fn readdir(&self, path: &str) -> usize {
        let mut n = 0;
        for e in std::fs::read_dir(self.0.join(&path[1..])).unwrap() {
            black_box(e.unwrap().file_name());
            n += 1;
        }
        n
    }
}

/// Fills a subject with `n` files of 1 KiB in directories of 100.
fn populate(s: &dyn Subject, n: usize, root: &str) {
    for d in 0..n / DIR_SIZE {
        s.mkdir(&format!("{root}/d{d}"));
        for f in 0..DIR_SIZE {
            s.create_write_1k(&format!("{root}/d{d}/f{f}"));
        }
    }
    s.mkdir(&format!("{root}/new"));
}

/// A cheap pseudo-random file path among the `n` files.
fn pick(i: u64, n: usize, root: &str) -> String {
    let x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 17;
    let k = (x % n as u64) as usize;
    format!("{root}/d{}/f{}", k / DIR_SIZE, k % DIR_SIZE)
}

fn bench_subject(s: &dyn Subject, n: usize, root: &str, tag: &str) -> Vec<Stats> {
    // Paths are formatted outside the timed closures' critical part as far as
    // possible: every subject pays the same formatting cost.
    let paths: Vec<String> = (0..4096).map(|i| pick(i, n, root)).collect();
    let mut buf = [0u8; 1024];
    let stat = measure(|i| s.stat(&paths[(i % 4096) as usize]));
    let read = measure(|i| s.read_1k(&paths[(i % 4096) as usize], &mut buf));
    // Listings first, while the file system holds exactly N files.
    let dir = format!("{root}/d{}", (n / DIR_SIZE) / 2);
    assert_eq!(s.readdir(&dir), DIR_SIZE);
    let readdir = measure(|_| {
        s.readdir(&dir);
    });
    // New files and directories go into directories of 100 entries, like
    // the populated tree (making each directory is part of the timed work,
    // once per 100 operations, for every subject alike).
    let create = measure(|i| {
        if i % 100 == 0 {
            s.mkdir(&format!("{root}/new/{tag}c{}", i / 100));
        }
        s.create_write_1k(&format!("{root}/new/{tag}c{}/f{}", i / 100, i % 100));
    });
    let mkdir = measure(|i| {
        if i % 100 == 0 {
            s.mkdir(&format!("{root}/new/{tag}m{}", i / 100));
        }
        s.mkdir(&format!("{root}/new/{tag}m{}/d{}", i / 100, i % 100));
    });
    vec![stat, read, create, mkdir, readdir]
}

fn seven_mounts(workspace: MemFs) -> Namespace {
    Namespace::builder()
        .mount("/task", MemFs::new())
        .mount("/workspace", workspace)
        .mount("/logs", MemFs::new())
        .mount("/tmp", MemFs::new())
        .mount("/cap/http", MemFs::new())
        .mount("/cap/ws", MemFs::new())
        .mount("/cap/nostr", MemFs::new())
        .build()
}

fn main() {
    let shm = PathBuf::from("/dev/shm");
    let tmp_root = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    for n in [1_000usize, 10_000] {
        let mem = Oanix {
            fs: MemFs::new(),
            prefix: "",
        };
        populate(&mem, n, "");
        let ns_mem = MemFs::new();
        let ns = Oanix {
            fs: seven_mounts(ns_mem),
            prefix: "/workspace",
        };
        populate(&ns, n, ns.prefix);
        let peer = VfsMem(vfs::MemoryFS::new());
        populate(&peer, n, "");
        let dir = tmp_root.join(format!("oanix-bench-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stdfs = StdFs(dir.clone());
        populate(&stdfs, n, "");
        let _ = ns.p("");

        let results = [
            bench_subject(&mem, n, "", "a"),
            bench_subject(&ns, n, "/workspace", "b"),
            bench_subject(&peer, n, "", "c"),
            bench_subject(&stdfs, n, "", "d"),
        ];
        std::fs::remove_dir_all(&dir).unwrap();

        let mut table = Table::new(
            &format!(
                "File operations, N = {n} files (median per op, p99 of batches in parentheses)"
            ),
            &[
                "MemFs",
                "MemFs in 7-mount Namespace",
                "vfs::MemoryFS",
                "std::fs on tmpfs",
            ],
        );
        let ops = [
            "stat",
            "open + read 1 KiB",
            "create + write 1 KiB",
            "mkdir",
            "readdir (100 entries)",
        ];
        for (k, op) in ops.iter().enumerate() {
            table.row(op, results.iter().map(|r| Some(r[k])).collect());
        }
        let overhead: Vec<String> = ops
            .iter()
            .enumerate()
            .map(|(k, op)| {
                format!(
                    "{op}: {:+.0} ns",
                    results[1][k].median_ns - results[0][k].median_ns
                )
            })
            .collect();
        table.note(format!(
            "Namespace overhead over bare MemFs: {}.",
            overhead.join("; ")
        ));
        table.note(format!("tmpfs directory: {}", tmp_root.display()));
        table.print();
    }
}
