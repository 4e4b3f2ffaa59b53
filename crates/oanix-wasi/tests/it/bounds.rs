//! Hostile guests against every bound a guest can make the host spend:
//! bytes moved per call (gathered writes, scattered reads), descriptors per
//! guest and across the process, and errors that must reach the guest
//! (a failed final flush at `fd_close`). Each hostile run is followed by a
//! benign one that must succeed.

use std::process::Command;

use oanix_prims::MemFs;
use oanix_services::{TaskFs, TaskMeta, TaskSpec, WorkspaceFs, host_files};
use oanix_vfs::{FileService, Namespace, OpenFlags, write_file};
use oanix_wasi::{DEFAULT_MAX_DESCRIPTORS, RunConfig, RunResult};

use crate::guests::runtime;

const ENFILE: u32 = 41;
const EMFILE: u32 = 33;
const EINVAL: u32 = 28;

fn run(wat: &str, ns: &Namespace, config: &RunConfig) -> RunResult {
    runtime()
        .run_bytes(&wat::parse_str(wat).unwrap(), ns, config)
        .unwrap()
}

fn tmp_ns() -> (Namespace, MemFs) {
    let tmp = MemFs::new();
    let ns = Namespace::builder().mount("/tmp", tmp.clone()).build();
    (ns, tmp)
}

/// The imports every guest here uses, and a `$open` helper:
/// `(call $open_at PATH_PTR PATH_LEN OFLAGS)` leaves `errno` and stores the
/// descriptor at address 8.
const PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite"
    (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close"
    (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func $open_at (param $ptr i32) (param $len i32) (param $oflags i32) (result i32)
    (call $path_open (i32.const 3) (i32.const 1) (local.get $ptr) (local.get $len)
      (local.get $oflags) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 8)))
  ;; `n` iovecs at 1024, every one pointing at the same `len` bytes at `buf`.
  (func $same_iovecs (param $n i32) (param $buf i32) (param $len i32)
    (local $i i32)
    (block $done (loop $fill
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store (i32.add (i32.const 1024) (i32.mul (local.get $i) (i32.const 8)))
        (local.get $buf))
      (i32.store (i32.add (i32.const 1028) (i32.mul (local.get $i) (i32.const 8)))
        (local.get $len))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $fill))))
"#;

/// A guest that gathers `n` iovecs of `len` bytes each, all on the same
/// memory, in one `fd_write` to stdout (or one `fd_pwrite` to
/// `/tmp/out`), and exits with the number of KiB the call reported.
fn gather_guest(n: u32, len: u32, pwrite: bool) -> String {
    let pages = (1024 + n * 8) / 65536 + 2 + len / 65536 + 1;
    let buf = (1024 + n * 8).next_multiple_of(65536);
    let call = if pwrite {
        r#"(if (local.tee $err (call $open_at (i32.const 64) (i32.const 7) (i32.const 1)))
             (then (call $exit (i32.add (i32.const 1000000) (local.get $err)))))
           (local.set $err (call $fd_pwrite (i32.load (i32.const 8)) (i32.const 1024)
             (i32.const N) (i64.const 0) (i32.const 16)))"#
    } else {
        r#"(local.set $err (call $fd_write (i32.const 1) (i32.const 1024) (i32.const N)
             (i32.const 16)))"#
    };
    format!(
        r#"(module {PRELUDE}
          (memory (export "memory") {pages})
          (data (i32.const 64) "tmp/out")
          (func (export "_start") (local $err i32)
            (call $same_iovecs (i32.const {n}) (i32.const {buf}) (i32.const {len}))
            {call}
            (if (local.get $err) (then (call $exit (i32.add (i32.const 2000000) (local.get $err)))))
            (call $exit (i32.div_u (i32.load (i32.const 16)) (i32.const 1024)))))"#,
        call = call.replace('N', &n.to_string()),
    )
}

#[test]
fn gathered_writes_move_at_most_max_io_bytes_per_call() {
    let (ns, tmp) = tmp_ns();
    // 64 iovecs of 1 MiB on the same memory: 64 MiB asked, 1 MiB moved.
    let config = RunConfig::new().max_io_bytes(1 << 20);
    let r = run(&gather_guest(64, 1 << 20, false), &ns, &config);
    assert_eq!(r.exit_code, Some(1024), "KiB written to stdout");
    assert_eq!(r.stdout.len(), 1 << 20);
    let r = run(&gather_guest(64, 1 << 20, true), &ns, &config);
    assert_eq!(r.exit_code, Some(1024), "KiB written by fd_pwrite");
    assert_eq!(tmp.stat("/out").unwrap().size, 1 << 20);
    // With the default (16 MiB), 65,536 iovecs of 1 MiB — 64 GiB, which
    // would abort the host if gathered — move 16 MiB.
    let r = run(
        &gather_guest(65_536, 1 << 20, false),
        &ns,
        &RunConfig::new(),
    );
    assert_eq!(r.exit_code, Some(16 << 10));
    // A benign run after: one message gathered from three buffers.
    let benign = format!(
        r#"(module {PRELUDE}
          (memory (export "memory") 1)
          (data (i32.const 200) "one two three")
          (func (export "_start")
            (i32.store (i32.const 1024) (i32.const 200)) (i32.store (i32.const 1028) (i32.const 4))
            (i32.store (i32.const 1032) (i32.const 204)) (i32.store (i32.const 1036) (i32.const 4))
            (i32.store (i32.const 1040) (i32.const 208)) (i32.store (i32.const 1044) (i32.const 5))
            (call $exit (call $fd_write (i32.const 1) (i32.const 1024) (i32.const 3) (i32.const 16)))))"#
    );
    let r = run(&benign, &ns, &RunConfig::new());
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(r.stdout, b"one two three");
}

#[test]
fn scattered_reads_move_at_most_max_io_bytes_per_call() {
    let (ns, _tmp) = tmp_ns();
    write_file(&ns, "/tmp/big", vec![7u8; 8 << 20]).unwrap();
    let guest = format!(
        r#"(module {PRELUDE}
          (memory (export "memory") 20)
          (data (i32.const 64) "tmp/big")
          (func (export "_start") (local $err i32)
            (if (local.tee $err (call $open_at (i32.const 64) (i32.const 7) (i32.const 0)))
              (then (call $exit (i32.add (i32.const 1000000) (local.get $err)))))
            (call $same_iovecs (i32.const 64) (i32.const 65536) (i32.const 1048576))
            (if (local.tee $err (call $fd_read (i32.load (i32.const 8)) (i32.const 1024)
                  (i32.const 64) (i32.const 16)))
              (then (call $exit (i32.add (i32.const 2000000) (local.get $err)))))
            (call $exit (i32.div_u (i32.load (i32.const 16)) (i32.const 1024)))))"#
    );
    let r = run(&guest, &ns, &RunConfig::new().max_io_bytes(1 << 20));
    assert_eq!(r.exit_code, Some(1024), "KiB read in one call");
    // The default lets the whole 8 MiB through in one call.
    let r = run(&guest, &ns, &RunConfig::new());
    assert_eq!(r.exit_code, Some(8 << 10));
}

/// A guest that opens `path` (created if missing) until an open fails,
/// keeping every descriptor, and exits with `opened * 100 + errno`.
fn hoarder(path: &str) -> String {
    format!(
        r#"(module {PRELUDE}
          (memory (export "memory") 1)
          (data (i32.const 64) "{path}")
          (func (export "_start") (local $n i32) (local $err i32)
            (block $done (loop $again
              (local.set $err (call $open_at (i32.const 64) (i32.const {len}) (i32.const 1)))
              (br_if $done (local.get $err))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br_if $done (i32.ge_u (local.get $n) (i32.const 100000)))
              (br $again)))
            (call $exit (i32.add (i32.mul (local.get $n) (i32.const 100)) (local.get $err)))))"#,
        len = path.len()
    )
}

#[test]
fn a_guest_holds_at_most_max_descriptors() {
    let (ns, _tmp) = tmp_ns();
    // Three standard streams and the root preopen are open from the start.
    let r = run(&hoarder("tmp/f"), &ns, &RunConfig::new());
    let free = u32::try_from(DEFAULT_MAX_DESCRIPTORS).unwrap() - 4;
    assert_eq!(r.exit_code, Some(free * 100 + EMFILE));
    let r = run(
        &hoarder("tmp/f"),
        &ns,
        &RunConfig::new().max_descriptors(10),
    );
    assert_eq!(r.exit_code, Some(6 * 100 + EMFILE));
    // Benign: one open, one close.
    let benign = format!(
        r#"(module {PRELUDE}
          (memory (export "memory") 1)
          (data (i32.const 64) "tmp/f")
          (func (export "_start")
            (drop (call $open_at (i32.const 64) (i32.const 5) (i32.const 1)))
            (call $exit (call $fd_close (i32.load (i32.const 8))))))"#
    );
    assert_eq!(
        run(&benign, &ns, &RunConfig::new().max_descriptors(10)).exit_code,
        Some(0)
    );
}

/// The body of [`host_descriptors_are_bounded_across_guests`], run in a
/// process of its own: it lowers the process's descriptor limit, which no
/// other test may see.
fn descriptor_budget_child() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let hard = getrlimit(Resource::Nofile).maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(256),
            maximum: hard,
        },
    )
    .unwrap();
    // The default budget is half the process limit.
    assert_eq!(host_files::limit(), 128);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("f"), "x").unwrap();
    let ws = WorkspaceFs::new(dir.path()).unwrap();
    let ns = Namespace::builder().mount("/workspace", ws).build();
    // The host holds 28 workspace files itself: they count too.
    let held: Vec<_> = (0..28)
        .map(|_| ns.open("/workspace/f", OpenFlags::read_only()).unwrap())
        .collect();
    // Six guests at once, each allowed 4,096 descriptors: together they get
    // the 100 the budget has left, then ENFILE.
    let config = RunConfig::new().max_descriptors(4096);
    let rt = runtime();
    let wasm = rt
        .load(&wat::parse_str(hoarder("workspace/f")).unwrap())
        .unwrap();
    let barrier = std::sync::Barrier::new(6);
    let codes: Vec<u32> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    // Each guest exits as soon as an open fails, giving its
                    // descriptors back; some may still find room then.
                    rt.run(&wasm, &ns, &config).unwrap().exit_code.unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for code in &codes {
        assert_eq!(code % 100, ENFILE, "{codes:?}");
        assert!(code / 100 <= 100, "{codes:?}");
    }
    // The host's own opens still work while its budget is spent by its
    // own handles, and no guest kept a descriptor.
    assert_eq!(host_files::in_use(), 28);
    let own: Vec<_> = (0..64)
        .map(|_| std::fs::File::open(dir.path().join("f")).unwrap())
        .collect();
    drop(own);
    drop(held);
    assert_eq!(host_files::in_use(), 0);
    // A benign guest runs after.
    let r = rt
        .run(&wasm, &ns, &RunConfig::new().max_descriptors(8))
        .unwrap();
    assert_eq!(r.exit_code, Some(4 * 100 + EMFILE));
}

#[test]
fn host_descriptors_are_bounded_across_guests() {
    const CHILD: &str = "OANIX_DESCRIPTOR_BUDGET_CHILD";
    if std::env::var_os(CHILD).is_some() {
        descriptor_budget_child();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "bounds::host_descriptors_are_bounded_across_guests",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the child failed:\n{stdout}\n{stderr}"
    );
}

#[test]
fn a_failed_final_flush_reaches_the_guest_at_close() {
    let spec = TaskSpec {
        id: "t".into(),
        task_type: "t".into(),
        description: String::new(),
        input: serde_json::Value::Null,
    };
    let task = TaskFs::new(spec, TaskMeta::default());
    let ns = Namespace::builder().mount("/task", task.clone()).build();
    let guest = |body: &str| {
        format!(
            r#"(module {PRELUDE}
              (memory (export "memory") 1)
              (data (i32.const 64) "task/result.json")
              (data (i32.const 128) "{body}")
              (func (export "_start") (local $err i32)
                (if (local.tee $err (call $open_at (i32.const 64) (i32.const 16) (i32.const 9)))
                  (then (call $exit (i32.add (i32.const 100) (local.get $err)))))
                (i32.store (i32.const 1024) (i32.const 128))
                (i32.store (i32.const 1028) (i32.const {len}))
                (if (local.tee $err (call $fd_write (i32.load (i32.const 8)) (i32.const 1024)
                      (i32.const 1) (i32.const 16)))
                  (then (call $exit (i32.add (i32.const 200) (local.get $err)))))
                (call $exit (call $fd_close (i32.load (i32.const 8))))))"#,
            len = body.len(),
            body = body.replace('"', "\\\"")
        )
    };
    let r = run(&guest("not json"), &ns, &RunConfig::new());
    assert_eq!(
        r.exit_code,
        Some(EINVAL),
        "close reports the invalid result"
    );
    // Benign: valid JSON closes cleanly.
    let r = run(&guest(r#"{"ok": true}"#), &ns, &RunConfig::new());
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(
        task.result().unwrap(),
        Some(serde_json::json!({"ok": true}))
    );
}
