//! Benchmark: WorkspaceFs against `std::fs` and `cap-std` on the same tmpfs
//! directory; the cost of following links on disk through a namespace; CowFs
//! copy-up of a 50 MiB file; `changes()` over 10 000 files.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::hint::black_box;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use oanix_bench::{Stats, Table, format_ns, measure, measure_each};
use oanix_prims::{CowFs, MemFs};
use oanix_services::WorkspaceFs;
use oanix_vfs::{FileService, Namespace, OpenFlags, write_file};

const FILES: usize = 1_000;
const KIB: [u8; 1024] = [0x42; 1024];

fn tmp_root() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let base = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("oanix-bench-ws-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn populate(dir: &Path) {
    for d in 0..FILES / 100 {
        std::fs::create_dir_all(dir.join(format!("d{d}"))).unwrap();
        for f in 0..100 {
            std::fs::write(dir.join(format!("d{d}/f{f}")), KIB).unwrap();
        }
    }
    std::fs::create_dir_all(dir.join("new")).unwrap();
}

fn rel(i: u64) -> String {
    let k = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 20) as usize % FILES;
    format!("d{}/f{}", k / 100, k % 100)
}

fn file_ops(dir: &Path) -> Table {
    let paths: Vec<String> = (0..1024).map(rel).collect();
    let vpaths: Vec<String> = paths.iter().map(|p| format!("/{p}")).collect();
    let ws = WorkspaceFs::new(dir).unwrap();
    let cap = cap_std::fs::Dir::open_ambient_dir(dir, cap_std::ambient_authority()).unwrap();
    let mut buf = [0u8; 1024];

    let ours = [
        measure(|i| {
            black_box(ws.stat(&vpaths[(i % 1024) as usize]).unwrap());
        }),
        measure(|i| {
            let mut h = ws
                .open(&vpaths[(i % 1024) as usize], OpenFlags::read_only())
                .unwrap();
            black_box(h.read(&mut buf).unwrap());
        }),
        measure(|i| {
            let mut h = ws
                .open(&format!("/new/a{i}"), OpenFlags::create_truncate())
                .unwrap();
            h.write(&KIB).unwrap();
        }),
    ];
    let with_cap = [
        measure(|i| {
            black_box(cap.metadata(&paths[(i % 1024) as usize]).unwrap());
        }),
        measure(|i| {
            let mut f = cap.open(&paths[(i % 1024) as usize]).unwrap();
            black_box(f.read(&mut buf).unwrap());
        }),
        measure(|i| {
            let mut f = cap.create(format!("new/b{i}")).unwrap();
            f.write_all(&KIB).unwrap();
        }),
    ];
    let with_std = [
        measure(|i| {
            black_box(std::fs::metadata(dir.join(&paths[(i % 1024) as usize])).unwrap());
        }),
        measure(|i| {
            let mut f = std::fs::File::open(dir.join(&paths[(i % 1024) as usize])).unwrap();
            black_box(f.read(&mut buf).unwrap());
        }),
        measure(|i| {
            let mut f = std::fs::File::create(dir.join(format!("new/c{i}"))).unwrap();
            f.write_all(&KIB).unwrap();
        }),
    ];
    let mut table = Table::new(
        &format!("WorkspaceFs on tmpfs, {FILES} files (median per op, p99 of batches)"),
        &["WorkspaceFs", "cap-std Dir", "std::fs"],
    );
    for (k, op) in ["stat", "open + read 1 KiB", "create + write 1 KiB"]
        .iter()
        .enumerate()
    {
        table.row(
            op,
            vec![Some(ours[k]), Some(with_cap[k]), Some(with_std[k])],
        );
    }
    table.note(format!("directory: {}", dir.display()));
    table
}

/// Opening and reading through links on disk, resolved by a namespace,
/// against the same files by their own paths.
fn links(dir: &Path) -> Table {
    for d in 0..FILES / 100 {
        std::os::unix::fs::symlink(format!("d{d}"), dir.join(format!("ld{d}"))).unwrap();
        for f in 0..10 {
            std::os::unix::fs::symlink(format!("d{d}/f{f}"), dir.join(format!("lf{d}_{f}")))
                .unwrap();
        }
    }
    let ns = Namespace::builder()
        .mount("/ws", WorkspaceFs::new(dir).unwrap())
        .build();
    let plain: Vec<String> = (0..1024).map(|i| format!("/ws/{}", rel(i))).collect();
    let via_dir: Vec<String> = (0..1024u64).map(|i| format!("/ws/l{}", rel(i))).collect();
    let via_file: Vec<String> = (0..1024u64)
        .map(|i| format!("/ws/lf{}_{}", i % 10, (i / 10) % 10))
        .collect();
    let mut buf = [0u8; 1024];
    let mut row = |paths: &[String]| {
        [
            measure(|i| {
                black_box(ns.stat(&paths[(i % 1024) as usize]).unwrap());
            }),
            measure(|i| {
                let mut h = ns
                    .open(&paths[(i % 1024) as usize], OpenFlags::read_only())
                    .unwrap();
                black_box(h.read(&mut buf).unwrap());
            }),
        ]
    };
    let (plain, via_dir, via_file) = (row(&plain), row(&via_dir), row(&via_file));
    let mut table = Table::new(
        "WorkspaceFs in a namespace, links on disk followed (median per op, p99 of batches)",
        &["no link", "a directory link", "a file link"],
    );
    for (k, op) in ["stat", "open + read 1 KiB"].iter().enumerate() {
        table.row(
            op,
            vec![Some(plain[k]), Some(via_dir[k]), Some(via_file[k])],
        );
    }
    table.note("`/ws/ld3/f7` (ld3 -> d3) and `/ws/lf3_7` (-> d3/f7) against `/ws/d3/f7`");
    table
}

fn copy_up(dir: &Path) -> Table {
    const SIZE: usize = 50 << 20;
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    std::fs::write(dir.join("big.bin"), &data).unwrap();
    let base = std::sync::Arc::new(WorkspaceFs::readonly(dir).unwrap());
    let copy_up = measure_each(20, |_| {
        let cow = CowFs::from_arc(base.clone());
        let mut h = cow.open("/big.bin", OpenFlags::read_write()).unwrap();
        h.write_at(b"x", 0).unwrap();
        black_box(&h);
    });
    let memcpy = measure_each(20, |_| {
        black_box(data.clone());
    });
    let read = measure_each(20, |_| {
        black_box(std::fs::read(dir.join("big.bin")).unwrap());
    });
    let mut table = Table::new(
        "CowFs copy-up of a 50 MiB file (first write through the overlay)",
        &["CowFs copy-up", "memcpy (Vec clone)", "std::fs::read"],
    );
    table.row("50 MiB", vec![Some(copy_up), Some(memcpy), Some(read)]);
    let gbps = |s: Stats| SIZE as f64 / s.median_ns;
    table.note(format!(
        "throughput: copy-up {:.2} GB/s, memcpy {:.2} GB/s, read {:.2} GB/s",
        gbps(copy_up),
        gbps(memcpy),
        gbps(read)
    ));
    table
}

fn changes_10k() -> Table {
    let base = MemFs::new();
    for d in 0..100 {
        base.mkdir(&format!("/d{d}")).unwrap();
        for f in 0..100 {
            write_file(&base, &format!("/d{d}/f{f}"), KIB).unwrap();
        }
    }
    let clean = CowFs::new(base.clone());
    let none = measure_each(50, |_| {
        black_box(clean.changes().unwrap());
    });
    let cow = CowFs::new(base.clone());
    for k in 0..100 {
        write_file(&cow, &format!("/d{k}/f1"), b"changed").unwrap();
        write_file(&cow, &format!("/d{k}/added"), b"new").unwrap();
        cow.remove(&format!("/d{k}/f2")).unwrap();
    }
    let some = measure_each(50, |_| {
        assert_eq!(cow.changes().unwrap().len(), 300);
    });
    let all = CowFs::new(base);
    for d in 0..100 {
        for f in 0..100 {
            write_file(&all, &format!("/d{d}/f{f}"), b"rewritten").unwrap();
        }
    }
    let every = measure_each(10, |_| {
        assert_eq!(all.changes().unwrap().len(), 10_000);
    });
    let mut table = Table::new(
        "CowFs::changes() over a base of 10 000 files (per call)",
        &["changes()"],
    );
    table.row("no change", vec![Some(none)]);
    table.row(
        "300 changes (100 modified, added, deleted)",
        vec![Some(some)],
    );
    table.row("all 10 000 files modified", vec![Some(every)]);
    table.note(format!(
        "cost follows what changed, not the size of the base: {} for none, {} for 300",
        format_ns(none.median_ns),
        format_ns(some.median_ns)
    ));
    table
}

fn main() {
    let dir = tmp_root();
    populate(&dir);
    file_ops(&dir).print();
    links(&dir).print();
    copy_up(&dir).print();
    std::fs::remove_dir_all(&dir).unwrap();
    changes_10k().print();
}
