//! Benchmark: freezing and forking a copy-on-write workspace of 10 000 files
//! (100 directories of 100 files of 1 KiB, a `MapFs`) with 1 000 files
//! changed, against copying the changed layer file by file into a new
//! `MemFs` (what a fork costs without structural sharing), in the same run.
//! Heap per fork is counted by a counting allocator.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark setup and report"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use oanix_bench::{Counting, Table, format_ns, live_bytes, measure, measure_each};
use oanix_prims::{CowFs, MapFs, MemFs, MemLimits};
use oanix_vfs::{FileService, read_file, walk, write_file};

#[global_allocator]
static ALLOC: Counting = Counting;

const DIRS: usize = 100;
const PER_DIR: usize = 100;
const CHANGED: usize = 1000;

fn base() -> MapFs {
    let body = vec![b'x'; 1024];
    let mut b = MapFs::builder();
    for d in 0..DIRS {
        for f in 0..PER_DIR {
            b = b.file(&format!("/d{d}/f{f}.txt"), body.clone());
        }
    }
    b.build()
}

/// What a fork costs without sharing: every file of the upper layer read
/// and written into a new file system.
fn deep_copy(upper: &MemFs) -> MemFs {
    let copy = MemFs::new();
    for e in walk(upper, "/") {
        let e = e.unwrap();
        if e.kind.is_dir() {
            copy.mkdir(&e.path).unwrap();
        } else {
            write_file(&copy, &e.path, read_file(upper, &e.path).unwrap()).unwrap();
        }
    }
    copy
}

fn main() {
    let base: Arc<dyn FileService> = Arc::new(base());
    let cow = CowFs::from_arc(Arc::clone(&base));
    for i in 0..CHANGED {
        let p = format!("/d{}/f{}.txt", i % DIRS, i / DIRS);
        write_file(&cow, &p, format!("changed {i}\n")).unwrap();
    }
    let started = Instant::now();

    let mut table = Table::new(
        "snapshot and fork: a CoW workspace of 10 000 files over MapFs, 1 000 changed",
        &["OANIX (freeze, shared bytes)", "copy of the changed layer"],
    );
    let freeze = measure_each(200, |_| {
        black_box(cow.freeze());
    });
    let copy = measure_each(50, |_| {
        black_box(deep_copy(cow.upper()));
    });
    table.row("snapshot", vec![Some(freeze), Some(copy)]);

    let frozen = cow.freeze();
    let fork = measure_each(200, |_| {
        black_box(CowFs::from_frozen(Arc::clone(&base), &frozen, MemLimits::default()).unwrap());
    });
    table.row("fork of one child", vec![Some(fork), Some(copy)]);

    // A thousand forks, kept alive: time and heap per child.
    let before = live_bytes();
    let t = Instant::now();
    let children: Vec<CowFs> = (0..1000)
        .map(|_| CowFs::from_frozen(Arc::clone(&base), &frozen, MemLimits::default()).unwrap())
        .collect();
    let thousand = t.elapsed();
    let heap_per_child = (live_bytes() - before) as f64 / 1000.0;
    // Each child reads what it was given.
    assert_eq!(
        read_file(&children[999], "/d1/f0.txt").unwrap(),
        b"changed 1\n"
    );
    drop(children);

    let read_first = measure(|i| {
        let child = CowFs::from_frozen(Arc::clone(&base), &frozen, MemLimits::default()).unwrap();
        black_box(read_file(&child, &format!("/d{}/f0.txt", i % 100)).unwrap());
    });
    table.row("fork, then a first read", vec![Some(read_first), None]);
    table.note(format!(
        "1 000 forks kept alive: {} in all, {:.1} KiB of heap per child (the bytes of the \
         1 000 changed files are shared, not copied). Targets: snapshot ≤ 50 µs, fork ≤ 20 µs \
         and ≤ 16 KiB per child, 1 000 forks ≤ 20 ms. A freeze visits every entry of the \
         changed layer (1 100 entries here); a fork builds its index at its first use; the \
         base is shared and never visited. \
         Measured in {:.1} s.",
        format_ns(thousand.as_nanos() as f64),
        heap_per_child / 1024.0,
        started.elapsed().as_secs_f64(),
    ));
    table.print();
}
