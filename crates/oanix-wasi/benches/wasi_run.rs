//! Benchmark: a short WASI guest run (read a 1 KiB file, print its length,
//! write a file) under OANIX over a MemFs namespace, against wasmtime-wasi 48
//! with preopened tmpfs directories in its fastest configuration (pooling
//! allocator, `allow_blocking_current_thread(true)`), and against the copy
//! approach (namespace copied into a temporary directory before the run and
//! back after it, then wasmtime-wasi), with 0, 1,000 and 10,000 other files
//! in the namespace. Then guest file-read throughput over a 64 MiB file.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    reason = "benchmark setup and report"
)]

#[path = "../tests/it/guests.rs"]
#[allow(
    dead_code,
    reason = "shared with the tests; not every helper is used here"
)]
mod guests;

use std::path::{Path, PathBuf};

use oanix_bench::{Stats, Table, format_ns, measure, measure_each};
use oanix_prims::MemFs;
use oanix_vfs::{FileService, Namespace, create_dir_all, read_file, walk, write_file};
use oanix_wasi::{RunConfig, RuntimeConfig, WasiModule, WasiRuntime};
use wasmtime::{
    Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig, Store,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

const SIZES: [usize; 3] = [0, 1_000, 10_000];
const BIG: usize = 64 << 20;

/// The namespace data: `/input` (1 KiB) and `n` other files, 100 per directory.
fn fill(fs: &dyn FileService, n: usize) {
    write_file(fs, "/input", [0x5au8; 1024]).unwrap();
    for i in 0..n {
        let dir = format!("/files/d{}", i / 100);
        if i % 100 == 0 {
            create_dir_all(fs, &dir).unwrap();
        }
        write_file(fs, &format!("{dir}/f{i}"), b"some file content\n").unwrap();
    }
}

/// A directory on tmpfs when there is one.
fn tmpfs_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(d) = tempfile::Builder::new()
            .prefix("oanix-bench")
            .tempdir_in(shm)
    {
        return d;
    }
    tempfile::tempdir().unwrap()
}

/// wasmtime-wasi 48, as fast as it goes: pooling allocator (with the same
/// resident-memory reuse OANIX's runtime uses), blocking file calls on the
/// current thread, the module pre-linked once.
struct Peer {
    engine: Engine,
    pre: InstancePre<WasiP1Ctx>,
}

impl Peer {
    fn new(wasm: &[u8]) -> Self {
        let mut pool = PoolingAllocationConfig::new();
        if PoolingAllocationConfig::is_pagemap_scan_available() {
            pool.linear_memory_keep_resident(2 << 20)
                .table_keep_resident(64 << 10)
                .pagemap_scan(wasmtime::Enabled::Yes);
        }
        let mut config = wasmtime::Config::new();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).unwrap();
        let mut linker: Linker<WasiP1Ctx> = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |t| t).unwrap();
        let module = Module::new(&engine, wasm).unwrap();
        let pre = linker.instantiate_pre(&module).unwrap();
        Self { engine, pre }
    }

    /// Runs the guest with `data` and `tmp` preopened; returns its stdout.
    fn run(&self, mode: &str, data: &Path, tmp: &Path) -> Vec<u8> {
        let stdout = MemoryOutputPipe::new(1 << 20);
        let ctx = WasiCtxBuilder::new()
            .args(&["bench.wasm", mode])
            .stdout(stdout.clone())
            .allow_blocking_current_thread(true)
            .preopened_dir(data, "/data", FsPerms::ReadWrite)
            .unwrap()
            .preopened_dir(tmp, "/tmp", FsPerms::ReadWrite)
            .unwrap()
            .build_p1();
        let mut store = Store::new(&self.engine, ctx);
        let instance = self.pre.instantiate(&mut store).unwrap();
        let start = instance
            .get_typed_func::<(), ()>(&mut store, "_start")
            .unwrap();
        start.call(&mut store, ()).unwrap();
        drop(store);
        stdout.contents().to_vec()
    }
}

/// Copies the files under `from` in `ns` to the host directory `to`.
fn copy_out(ns: &Namespace, from: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in walk(ns, from) {
        let entry = entry.unwrap();
        let rel = entry
            .path
            .strip_prefix(from)
            .unwrap()
            .trim_start_matches('/');
        let host = to.join(rel);
        if entry.kind.is_dir() {
            std::fs::create_dir_all(&host).unwrap();
        } else {
            std::fs::write(&host, read_file(ns, &entry.path).unwrap()).unwrap();
        }
    }
}

/// Copies the host directory `from` back into `ns` at `to`.
fn copy_in(from: &Path, ns: &Namespace, to: &str) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let path = format!("{to}/{name}");
        if entry.file_type().unwrap().is_dir() {
            create_dir_all(ns, &path).unwrap();
            copy_in(&entry.path(), ns, &path);
        } else {
            write_file(ns, &path, std::fs::read(entry.path()).unwrap()).unwrap();
        }
    }
}

/// The copy approach: the namespace's `/data` and `/tmp` copied into a
/// temporary directory, the guest run there, `/tmp` copied back.
fn copy_run(peer: &Peer, ns: &Namespace) {
    let dir = tmpfs_dir();
    let (data, tmp) = (dir.path().join("data"), dir.path().join("tmp"));
    copy_out(ns, "/data", &data);
    copy_out(ns, "/tmp", &tmp);
    let out = peer.run("small", &data, &tmp);
    assert_eq!(out, b"1024\n");
    copy_in(&tmp, ns, "/tmp");
}

fn oanix_ns(n: usize) -> Namespace {
    let data = MemFs::new();
    fill(&data, n);
    Namespace::builder()
        .mount("/data", data)
        .mount("/tmp", MemFs::new())
        .build()
}

fn oanix_run(rt: &WasiRuntime, module: &WasiModule, ns: &Namespace, config: &RunConfig) {
    let r = rt.run(module, ns, config).unwrap();
    assert!(r.success(), "{:?}", r.trap);
    assert_eq!(r.stdout, b"1024\n");
}

fn main() {
    let wasm = guests::guest("bench");
    let rt = WasiRuntime::with_config(RuntimeConfig::new()).unwrap();
    let module = rt.load(&wasm).unwrap();
    let peer = Peer::new(&wasm);
    let small = RunConfig::new().arg0("bench.wasm").arg("small");
    let quick = std::env::var_os("OANIX_BENCH_QUICK").is_some_and(|v| v != "0");

    let mut table = Table::new(
        "one short guest run: read a 1 KiB file, print its length, write a file",
        &[
            "OANIX (MemFs namespace)",
            "wasmtime-wasi 48 (tmpfs preopens)",
            "copy to temp dir + wasmtime-wasi",
        ],
    );
    // All namespaces are built first and OANIX is measured on them one
    // after the other, so that the sizes are compared under equal conditions.
    let namespaces: Vec<Namespace> = SIZES.iter().map(|&n| oanix_ns(n)).collect();
    let oanix: Vec<Stats> = namespaces
        .iter()
        .map(|ns| measure(|_| oanix_run(&rt, &module, ns, &small)))
        .collect();
    let oanix_times: Vec<f64> = oanix.iter().map(|s| s.median_ns).collect();
    for ((n, ns), oanix) in SIZES.iter().zip(&namespaces).zip(&oanix) {
        let host = tmpfs_dir();
        let (data, tmp) = (host.path().join("data"), host.path().join("tmp"));
        std::fs::create_dir_all(&data).unwrap();
        std::fs::create_dir_all(&tmp).unwrap();
        let mirror = MemFs::new();
        fill(&mirror, *n);
        copy_out(
            &Namespace::builder().mount("/d", mirror).build(),
            "/d",
            &data,
        );
        let wasi = measure(|_| {
            assert_eq!(peer.run("small", &data, &tmp), b"1024\n");
        });

        let copies = if quick { 3 } else { 10 };
        let copy: Stats = measure_each(copies, |_| copy_run(&peer, ns));
        table.row(
            &format!("run, {n} other files"),
            vec![Some(*oanix), Some(wasi), Some(copy)],
        );
    }
    let flat = oanix_times.iter().copied().fold(f64::MIN, f64::max)
        / oanix_times.iter().copied().fold(f64::MAX, f64::min);
    table.note(format!(
        "OANIX run time across 0 / 1,000 / 10,000 files: slowest/fastest = {flat:.2} (target ≤ 1.10)"
    ));
    table.note(
        "targets: OANIX ≤ 0.5× wasmtime-wasi; the copy column is what copying the namespace \
         into a temporary directory and back would cost per run",
    );
    table.print();

    // Throughput: a 64 MiB file read through a 1 MiB guest buffer.
    let mut thr = Table::new(
        "guest file read, 64 MiB through a 1 MiB buffer (whole run)",
        &["OANIX (MemFs)", "wasmtime-wasi 48 (tmpfs)"],
    );
    let data = MemFs::new();
    write_file(&data, "/big", vec![7u8; BIG]).unwrap();
    let ns = Namespace::builder()
        .mount("/data", data)
        .mount("/tmp", MemFs::new())
        .build();
    let big = RunConfig::new().arg0("bench.wasm").arg("big");
    let expected = format!("{BIG}\n");
    let n = if quick { 3 } else { 20 };
    let oanix = measure_each(n, |_| {
        let r = rt.run(&module, &ns, &big).unwrap();
        assert_eq!(r.stdout_text(), expected);
    });
    let host = tmpfs_dir();
    let (hdata, htmp): (PathBuf, PathBuf) = (host.path().join("data"), host.path().join("tmp"));
    std::fs::create_dir_all(&hdata).unwrap();
    std::fs::create_dir_all(&htmp).unwrap();
    std::fs::write(hdata.join("big"), vec![7u8; BIG]).unwrap();
    let wasi = measure_each(n, |_| {
        assert_eq!(peer.run("big", &hdata, &htmp), expected.as_bytes());
    });
    thr.row("read 64 MiB", vec![Some(oanix), Some(wasi)]);
    let gbps = |s: &Stats| BIG as f64 / s.median_ns;
    thr.note(format!(
        "throughput: OANIX {:.2} GB/s, wasmtime-wasi {:.2} GB/s (target ≥ 1 GB/s from MemFs); \
         OANIX run {}",
        gbps(&oanix),
        gbps(&wasi),
        format_ns(oanix.median_ns)
    ));
    thr.print();
}
