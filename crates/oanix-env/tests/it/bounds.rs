//! The bounds an environment sets on what its agent can make the host
//! hold: `/tmp` and every in-memory mount have a capacity (by default, in
//! the manifest, in `[limits]`), runs get the descriptor and I/O limits,
//! and bad limits are errors naming the key. Hostile guests first, then a
//! benign run that must succeed.

use std::path::Path;

use oanix_env::{DEFAULT_OVERLAY_BYTES, DEFAULT_TMP_BYTES, EnvBuilder, OanixEnv};
use oanix_vfs::{FileService, FsErrorKind, write_file};

const ENOSPC: u32 = 51;

fn env(text: &str) -> OanixEnv {
    EnvBuilder::from_manifest_with_env(text, "bounds.toml", Path::new("."), &|_| None)
        .unwrap()
        .build()
        .unwrap()
}

/// A guest that appends 64 KiB to `path` (relative to the root preopen)
/// `chunks` times or until a write fails, and exits with the errno (0 when
/// every chunk was written).
fn filler(path: &str, chunks: u32) -> Vec<u8> {
    let wat = format!(
        r#"(module
          (import "wasi_snapshot_preview1" "path_open"
            (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_write"
            (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 2)
          (data (i32.const 256) "{path}")
          (func (export "_start") (local $err i32) (local $n i32)
            (if (local.tee $err (call $open (i32.const 3) (i32.const 1) (i32.const 256)
                  (i32.const {len}) (i32.const 1) (i64.const -1) (i64.const -1)
                  (i32.const 0) (i32.const 32)))
              (then (call $exit (i32.add (i32.const 100) (local.get $err)))))
            (i32.store (i32.const 0) (i32.const 65536))
            (i32.store (i32.const 4) (i32.const 65536))
            (block $done (loop $again
              (local.set $err (call $fd_write (i32.load (i32.const 32)) (i32.const 0)
                (i32.const 1) (i32.const 16)))
              (br_if $done (local.get $err))
              (local.set $n (i32.add (local.get $n) (i32.const 1)))
              (br_if $done (i32.ge_u (local.get $n) (i32.const {chunks})))
              (br $again)))
            (call $exit (local.get $err))))"#,
        len = path.len()
    );
    wat::parse_str(wat).unwrap()
}

#[test]
fn tmp_has_a_capacity_set_in_limits() {
    let manifest = "[limits]\ntmp_mb = 1\n";
    let hostile = env(manifest);
    assert_eq!(hostile.limits().tmp_capacity(), 1 << 20);
    let r = hostile
        .run_wasi(&filler("tmp/fill", 65_536), hostile.run_config())
        .unwrap();
    assert_eq!(r.exit_code, Some(ENOSPC));
    let held = hostile.namespace().stat("/tmp/fill").unwrap().size;
    assert!(held <= 1 << 20, "{held}");
    // A benign agent in an environment of the same manifest writes a little.
    let benign = env(manifest);
    write_file(benign.namespace(), "/tmp/note", "fits").unwrap();
    let r = benign
        .run_wasi(&filler("tmp/small", 4), benign.run_config())
        .unwrap();
    assert_eq!(r.exit_code, Some(0));
    assert_eq!(benign.namespace().stat("/tmp/small").unwrap().size, 4 << 16);
}

#[test]
fn tmp_and_memfs_mounts_have_a_capacity_by_default() {
    let e = env(
        "[[mount]]\npath = \"/data\"\nkind = \"memfs\"\n\n[[mount]]\npath = \"/small\"\nkind = \"memfs\"\ncapacity_mb = 1\n",
    );
    let l = e.limits().resolved();
    assert_eq!(l.tmp_bytes, Some(DEFAULT_TMP_BYTES));
    assert_eq!(l.overlay_bytes, Some(DEFAULT_OVERLAY_BYTES));
    assert!(l.descriptors.is_some() && l.io_bytes.is_some());
    let ns = e.namespace();
    let too_big = vec![0u8; usize::try_from(DEFAULT_TMP_BYTES).unwrap() + 1];
    for p in ["/tmp/big", "/data/big"] {
        let err = write_file(ns, p, &too_big).unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::NoSpace, "{p}: {err}");
    }
    let err = write_file(ns, "/small/big", vec![0u8; (1 << 20) + 1]).unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::NoSpace);
    // What fits, fits.
    write_file(ns, "/small/ok", vec![0u8; 1 << 19]).unwrap();
    write_file(ns, "/tmp/ok", vec![0u8; 1 << 20]).unwrap();
}

#[test]
fn empty_files_are_bounded_too() {
    // 1 MiB of capacity allows 4,096 entries: an agent cannot pin memory
    // with files that hold nothing.
    let e = env("[limits]\ntmp_mb = 1\n");
    let ns = e.namespace();
    let mut made = 0;
    let err = loop {
        match write_file(ns, &format!("/tmp/e{made}"), "") {
            Ok(()) => made += 1,
            Err(e) => break e,
        }
        assert!(made <= 100_000, "no bound on entries");
    };
    assert_eq!(err.kind(), FsErrorKind::NoSpace);
    assert_eq!(made, 4096);
}

#[test]
fn a_copy_on_write_workspace_has_a_capacity() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a"), "a").unwrap();
    let text = format!(
        "[[mount]]\npath = \"/workspace\"\nkind = \"workspace\"\nhost = {:?}\nmode = \"cow\"\ncapacity_mb = 1\n",
        dir.path().display().to_string()
    );
    let e = env(&text);
    let err = write_file(e.namespace(), "/workspace/big", vec![0u8; (1 << 20) + 1]).unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::NoSpace);
    write_file(e.namespace(), "/workspace/ok", "fits").unwrap();
    assert!(
        !dir.path().join("ok").exists(),
        "nothing reached the directory"
    );
}

#[test]
fn run_limits_reach_the_run_and_bad_limits_are_errors() {
    let e = env("[limits]\ndescriptors = 64\nio_mb = 2\n");
    let l = e.limits();
    assert_eq!((l.descriptors, l.io_bytes), (Some(64), Some(2 << 20)));
    for (text, key) in [
        ("[limits]\ndescriptors = 2\n", "limits.descriptors"),
        ("[limits]\nio_mb = 0\n", "limits.io_mb"),
        ("[limits]\ntmp_bytes = 3\n", "tmp_bytes"),
        (
            "[[mount]]\npath = \"/w\"\nkind = \"workspace\"\nhost = \".\"\nmode = \"ro\"\ncapacity_mb = 1\n",
            "mount[0].capacity_mb",
        ),
    ] {
        let err = EnvBuilder::from_manifest_with_env(text, "bad.toml", Path::new("."), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("bad.toml") && err.contains(key),
            "{text}: {err}"
        );
    }
}
