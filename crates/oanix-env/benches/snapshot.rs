//! Benchmark: snapshots of whole environments, forks of them, and the
//! store, side by side with the peers the numbers are read against.
//!
//! - Environment: task, logs, `/tmp` and a copy-on-write workspace of
//!   10 000 files of 1 KiB with 1 000 changed — over a `MapFs` and over a
//!   real directory. `OanixEnv::snapshot`, `EnvSnapshot::fork` of one, a
//!   thousand forks kept alive (heap per child counted).
//! - Store: save and load of a 100 MiB snapshot (100 files of 1 MiB)
//!   against `cp` of the same bytes, in the same run and directory; the
//!   time from opening a saved 10 000-file snapshot to its first read.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark setup and report"
)]

use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use oanix_bench::{Counting, Stats, Table, live_bytes, measure_each};
use oanix_env::{EnvBuilder, EnvSnapshot, OanixEnv};
use oanix_prims::{CowFs, MapFs, MemFs};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, WorkspaceOverlay};
use oanix_store::Store;
use oanix_vfs::{FileService, read_file, write_file};

#[global_allocator]
static ALLOC: Counting = Counting;

const DIRS: usize = 100;
const PER_DIR: usize = 100;
const CHANGED: usize = 1000;

fn task() -> TaskFs {
    TaskFs::new(
        TaskSpec {
            id: "bench".into(),
            task_type: "bench".into(),
            description: String::new(),
            input: serde_json::Value::Null,
        },
        TaskMeta::default(),
    )
}

/// An environment whose `/workspace` is `workspace`, 1 000 files changed.
fn env_over(workspace: oanix_env::Mount) -> OanixEnv {
    let env = EnvBuilder::new()
        .mount("/task", task())
        .mount("/logs", LogsFs::new())
        .mount("/tmp", MemFs::new())
        .mount("/workspace", workspace)
        .build()
        .unwrap();
    for i in 0..CHANGED {
        let p = format!("/workspace/d{}/f{}.txt", i % DIRS, i / DIRS);
        write_file(env.namespace(), &p, format!("changed {i}\n")).unwrap();
    }
    env
}

/// Snapshot, fork, fork and a first read, 1 000 forks: the rows of one
/// subject.
fn forks(env: &OanixEnv) -> (Stats, Stats, Stats, f64, f64) {
    let snapshot = measure_each(100, |_| {
        black_box(env.snapshot().unwrap());
    });
    let snap = env.snapshot().unwrap();
    let fork = measure_each(100, |_| {
        black_box(snap.restore().unwrap());
    });
    let first_read = measure_each(100, |i| {
        let fork = snap.restore().unwrap();
        let p = format!("/workspace/d{}/f0.txt", i % DIRS as u64);
        black_box(read_file(fork.namespace(), &p).unwrap());
    });
    let before = live_bytes();
    let t = Instant::now();
    let children = snap.fork(1000).unwrap();
    let thousand = t.elapsed().as_nanos() as f64;
    let heap = (live_bytes() - before) as f64 / 1000.0;
    assert_eq!(
        read_file(children[999].namespace(), "/workspace/d1/f0.txt").unwrap(),
        b"changed 1\n"
    );
    drop(children);
    (snapshot, fork, first_read, thousand, heap)
}

/// A stats value of one timing.
fn once(ns: f64) -> Stats {
    Stats {
        median_ns: ns,
        p99_ns: ns,
        ops: 1,
    }
}

fn cp(from: &Path, to: &Path) -> f64 {
    let t = Instant::now();
    let ok = Command::new("cp")
        .arg("-r")
        .arg(from)
        .arg(to)
        .status()
        .unwrap()
        .success();
    assert!(ok, "cp failed");
    t.elapsed().as_nanos() as f64
}

fn mb_per_s(bytes: u64, ns: f64) -> f64 {
    bytes as f64 / ns * 1e3
}

fn main() {
    let started = Instant::now();
    // A real directory of 10 000 files, and the same as a MapFs.
    let host = tempfile::tempdir().unwrap();
    let body = vec![b'x'; 1024];
    let mut map = MapFs::builder();
    for d in 0..DIRS {
        std::fs::create_dir_all(host.path().join(format!("d{d}"))).unwrap();
        for f in 0..PER_DIR {
            std::fs::write(host.path().join(format!("d{d}/f{f}.txt")), &body).unwrap();
            map = map.file(&format!("/d{d}/f{f}.txt"), body.clone());
        }
    }
    let base: Arc<dyn FileService> = Arc::new(map.build());
    let over_map = env_over(CowFs::from_arc(Arc::clone(&base)).into());
    let over_dir = env_over(WorkspaceOverlay::new(host.path()).unwrap().into());

    let mut table = Table::new(
        "environment snapshot and fork: task, logs, /tmp and a CoW workspace of 10 000 files, 1 000 changed",
        &["over MapFs", "over a real directory"],
    );
    let (s1, f1, r1, t1, h1) = forks(&over_map);
    let (s2, f2, r2, t2, h2) = forks(&over_dir);
    table.row("OanixEnv::snapshot", vec![Some(s1), Some(s2)]);
    table.row(
        "EnvSnapshot::restore (fork of one)",
        vec![Some(f1), Some(f2)],
    );
    table.row(
        "fork, then a first read of the workspace",
        vec![Some(r1), Some(r2)],
    );
    table.row(
        "1 000 forks kept alive",
        vec![Some(once(t1)), Some(once(t2))],
    );
    table.note(format!(
        "heap per child (forks not yet used): {:.1} KiB over MapFs, {:.1} KiB over the \
         directory. A fork's in-memory trees are built at their first use. Targets: snapshot \
         ≤ 50 µs, fork ≤ 20 µs and ≤ 16 KiB per child, 1 000 forks ≤ 20 ms (the fastest \
         published VM fork: 815 ms for 1 000).",
        h1 / 1024.0,
        h2 / 1024.0
    ));
    table.print();

    // The store: 100 MiB in 100 files of 1 MiB, distinct bytes.
    let work = tempfile::tempdir().unwrap();
    let mem = MemFs::new();
    let files = work.path().join("files");
    std::fs::create_dir_all(&files).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..100 {
        let mut data = vec![0u8; 1 << 20];
        for chunk in data.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        std::fs::write(files.join(format!("f{i}.bin")), &data).unwrap();
        write_file(&mem, &format!("/f{i}.bin"), data).unwrap();
    }
    let big = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/data", mem)
        .build()
        .unwrap();
    let snap = big.snapshot().unwrap();
    let bytes = 100u64 << 20;
    let mut round = 0;
    let save = measure_each(5, |_| {
        round += 1;
        let store = Store::open(work.path().join(format!("store{round}"))).unwrap();
        black_box(snap.save(&store, "big").unwrap());
    });
    let cp_in = measure_each(5, |i| {
        black_box(cp(&files, &work.path().join(format!("copy{i}"))));
    });
    let store = Store::open(work.path().join("store1")).unwrap();
    let load = measure_each(5, |_| {
        black_box(EnvSnapshot::load(&store, "big").unwrap());
    });
    let cp_out = measure_each(5, |i| {
        black_box(cp(
            &work.path().join("store1"),
            &work.path().join(format!("out{i}")),
        ));
    });
    let mut io = Table::new(
        "store: a 100 MiB snapshot (100 files of 1 MiB) against cp -r of the same bytes",
        &["oanix-store", "cp -r"],
    );
    io.row(
        "save (hash, write, fsync, rename)",
        vec![Some(save), Some(cp_in)],
    );
    io.row(
        "load (read, verify every blob)",
        vec![Some(load), Some(cp_out)],
    );
    io.note(format!(
        "throughput: save {:.0} MB/s, cp of the files {:.0} MB/s; load {:.0} MB/s, cp of the \
         store {:.0} MB/s (cp does not sync; the save syncs the pack and the manifest). Target \
         ≥ 500 MB/s.",
        mb_per_s(bytes, save.median_ns),
        mb_per_s(bytes, cp_in.median_ns),
        mb_per_s(bytes, load.median_ns),
        mb_per_s(bytes, cp_out.median_ns),
    ));
    io.print();

    // A saved 10 000-file snapshot: open to a first read.
    let store = Store::open(work.path().join("tenk")).unwrap();
    over_dir.snapshot().unwrap().save(&store, "tenk").unwrap();
    let first_read = measure_each(50, |i| {
        let s = store.open_snapshot("tenk").unwrap();
        let p = format!("/d{}/f{}.txt", i % DIRS as u64, (i / DIRS as u64) % 10);
        black_box(s.read_file("/workspace", &p).unwrap().unwrap());
    });
    let restore = measure_each(10, |_| {
        let env = EnvSnapshot::load(&store, "tenk")
            .unwrap()
            .restore()
            .unwrap();
        black_box(read_file(env.namespace(), "/workspace/d0/f0.txt").unwrap());
    });
    // A snapshot whose tree is 10 000 files, all of them in the store.
    let many = MemFs::new();
    for d in 0..DIRS {
        many.mkdir(&format!("/d{d}")).ok();
        for f in 0..PER_DIR {
            write_file(&many, &format!("/d{d}/f{f}.txt"), format!("file {d}/{f}\n")).unwrap();
        }
    }
    let tenk_mem = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/data", many)
        .build()
        .unwrap();
    tenk_mem
        .snapshot()
        .unwrap()
        .save(&store, "tenk-mem")
        .unwrap();
    let first_read_mem = measure_each(50, |i| {
        let s = store.open_snapshot("tenk-mem").unwrap();
        let p = format!("/d{}/f{}.txt", i % DIRS as u64, (i * 7) % PER_DIR as u64);
        black_box(s.read_file("/data", &p).unwrap().unwrap());
    });
    let restore_mem = measure_each(10, |_| {
        let env = EnvSnapshot::load(&store, "tenk-mem")
            .unwrap()
            .restore()
            .unwrap();
        black_box(read_file(env.namespace(), "/data/d0/f0.txt").unwrap());
    });
    let mut open = Table::new(
        "saved snapshots: the 10 000-file CoW workspace, and a MemFs of 10 000 files",
        &["oanix-store"],
    );
    open.row(
        "CoW layer (1 000 files stored): open, first read",
        vec![Some(first_read)],
    );
    open.row(
        "CoW layer: load every blob, restore, first read",
        vec![Some(restore)],
    );
    open.row(
        "MemFs (10 000 files stored): open, first read",
        vec![Some(first_read_mem)],
    );
    open.row(
        "MemFs: load every blob, restore, first read",
        vec![Some(restore_mem)],
    );
    open.note(format!(
        "Target: a first read ≤ 5 ms. Measured in {:.1} s.",
        started.elapsed().as_secs_f64()
    ));
    open.print();
}
