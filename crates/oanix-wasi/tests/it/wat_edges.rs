//! Edge cases written as small WAT modules: malformed and unusual modules,
//! guest pointers out of bounds, exits and traps, and the module caches.

use oanix_prims::MemFs;
use oanix_vfs::Namespace;
use oanix_wasi::{RunConfig, RunResult, RuntimeConfig, TrapKind, WasiError, WasiRuntime};

use crate::guests::runtime;

fn ns() -> Namespace {
    Namespace::builder().mount("/tmp", MemFs::new()).build()
}

fn run(wat: &str, config: &RunConfig) -> Result<RunResult, WasiError> {
    runtime().run_bytes(&wat::parse_str(wat).unwrap(), &ns(), config)
}

/// A module whose `_start` exits with the errno `body` leaves on the stack.
fn exits_with(imports: &str, body: &str) -> String {
    format!(
        r#"(module
            (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
            {imports}
            (memory (export "memory") 1)
            (func (export "_start") (call $exit {body})))"#
    )
}

#[test]
fn proc_exit_code_is_reported() {
    let r = run(&exits_with("", "(i32.const 3)"), &RunConfig::new()).unwrap();
    assert_eq!(r.exit_code, Some(3));
    assert!(r.trap.is_none());
}

#[test]
fn bad_pointers_are_faults_not_crashes() {
    let fd_write = r#"(import "wasi_snapshot_preview1" "fd_write"
        (func $fd_write (param i32 i32 i32 i32) (result i32)))"#;
    // The iovec list lies past the end of memory.
    let r = run(
        &exits_with(
            fd_write,
            "(call $fd_write (i32.const 1) (i32.const 65532) (i32.const 1) (i32.const 0))",
        ),
        &RunConfig::new(),
    )
    .unwrap();
    assert_eq!(r.exit_code, Some(21), "EFAULT");
    // An iovec whose buffer runs past the end.
    let body =
        "(i32.store (i32.const 0) (i32.const 65000)) (i32.store (i32.const 4) (i32.const 4096))
        (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16))";
    let r = run(&exits_with(fd_write, body), &RunConfig::new()).unwrap();
    assert_eq!(r.exit_code, Some(21));
    assert!(r.stdout.is_empty());
    // The result pointer is out of bounds.
    let args = r#"(import "wasi_snapshot_preview1" "args_get"
        (func $args_get (param i32 i32) (result i32)))"#;
    let r = run(
        &exits_with(args, "(call $args_get (i32.const -4) (i32.const 0))"),
        &RunConfig::new().arg("x"),
    )
    .unwrap();
    assert_eq!(r.exit_code, Some(21));
}

#[test]
fn a_module_without_memory_gets_faults() {
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (func (export "_start") (call $exit (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 0)))))"#;
    let r = run(wat, &RunConfig::new()).unwrap();
    assert_eq!(r.exit_code, Some(21));
}

#[test]
fn unusual_modules_are_refused_with_errors() {
    let no_start = r#"(module (memory (export "memory") 1))"#;
    assert!(matches!(
        run(no_start, &RunConfig::new()),
        Err(WasiError::Link(_))
    ));
    let foreign = r#"(module (import "env" "f" (func)) (func (export "_start")))"#;
    let err = run(foreign, &RunConfig::new()).unwrap_err();
    assert!(matches!(err, WasiError::Link(_)), "{err}");
    assert!(err.to_string().contains("env"), "{err}");
    let wrong_sig = r#"(module (import "wasi_snapshot_preview1" "fd_close" (func (param i64)))
        (func (export "_start")))"#;
    assert!(matches!(
        run(wrong_sig, &RunConfig::new()),
        Err(WasiError::Link(_))
    ));
    let garbage = runtime().load(b"\0asm\x01\0\0\0garbage");
    assert!(matches!(garbage, Err(WasiError::Compile(_))));
    let start_with_params = r#"(module (func (export "_start") (param i32)))"#;
    assert!(matches!(
        run(start_with_params, &RunConfig::new()),
        Err(WasiError::Link(_))
    ));
}

#[test]
fn traps_are_named() {
    let r = run(
        r#"(module (func (export "_start") unreachable))"#,
        &RunConfig::new(),
    )
    .unwrap();
    let trap = r.trap.unwrap();
    assert_eq!(trap.kind, TrapKind::Guest);
    assert!(trap.message.contains("unreachable"), "{}", trap.message);
    assert_eq!(r.exit_code, None);
    assert_eq!(trap.kind.to_string(), "guest trap");
}

#[test]
fn limits_apply_while_instantiating() {
    // Initial memory over the limit.
    let big = r#"(module (memory (export "memory") 100) (func (export "_start")))"#;
    let r = run(big, &RunConfig::new().memory_limit(1 << 20)).unwrap();
    assert_eq!(r.trap.map(|t| t.kind), Some(TrapKind::MemoryLimit));
    // A start function that never ends.
    let spin = r#"(module (func $s (loop $l (br $l))) (start $s) (func (export "_start")))"#;
    let r = run(spin, &RunConfig::new().fuel(100_000)).unwrap();
    assert_eq!(r.trap.map(|t| t.kind), Some(TrapKind::OutOfFuel));
}

#[test]
fn modules_are_cached_by_content() {
    let rt = WasiRuntime::with_config(RuntimeConfig::new().pooling(None)).unwrap();
    let wasm = wat::parse_str(r#"(module (func (export "_start")))"#).unwrap();
    let a = rt.load(&wasm).unwrap();
    let b = rt.load(&wasm).unwrap();
    assert_eq!(a.sha256(), b.sha256());
    assert_eq!(rt.cached_modules(), 1);
    let other = wat::parse_str(r#"(module (func (export "_start") nop))"#).unwrap();
    assert_ne!(rt.load(&other).unwrap().sha256(), a.sha256());
    assert_eq!(rt.cached_modules(), 2);
}

#[test]
fn compiled_modules_are_kept_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(exits_with("", "(i32.const 5)")).unwrap();
    let config = RuntimeConfig::new().pooling(None).cache_dir(dir.path());
    {
        let rt = WasiRuntime::with_config(config.clone()).unwrap();
        let r = rt.run_bytes(&wasm, &ns(), &RunConfig::new()).unwrap();
        assert_eq!(r.exit_code, Some(5));
    }
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "cwasm");
    // A second runtime loads it from disk.
    let rt = WasiRuntime::with_config(config.clone()).unwrap();
    assert_eq!(
        rt.run_bytes(&wasm, &ns(), &RunConfig::new())
            .unwrap()
            .exit_code,
        Some(5)
    );
    // A damaged entry is compiled again and replaced.
    std::fs::write(&files[0], b"not a module").unwrap();
    let rt = WasiRuntime::with_config(config).unwrap();
    assert_eq!(
        rt.run_bytes(&wasm, &ns(), &RunConfig::new())
            .unwrap()
            .exit_code,
        Some(5)
    );
    assert_ne!(std::fs::read(&files[0]).unwrap(), b"not a module");
    // A cache that cannot be written costs compilations, never a run.
    let not_a_dir = dir.path().join("not-a-dir");
    std::fs::write(&not_a_dir, b"").unwrap();
    let rt =
        WasiRuntime::with_config(RuntimeConfig::new().pooling(None).cache_dir(&not_a_dir)).unwrap();
    assert_eq!(
        rt.run_bytes(&wasm, &ns(), &RunConfig::new())
            .unwrap()
            .exit_code,
        Some(5)
    );
}

#[test]
fn preopens_must_be_directories() {
    let wasm = wat::parse_str(r#"(module (func (export "_start")))"#).unwrap();
    let ns = ns();
    oanix_vfs::write_file(&ns, "/tmp/file", "x").unwrap();
    let err = runtime()
        .run_bytes(&wasm, &ns, &RunConfig::new().preopen("/f", "/tmp/file"))
        .unwrap_err();
    assert!(matches!(err, WasiError::Preopen { .. }), "{err}");
    let err = runtime()
        .run_bytes(&wasm, &ns, &RunConfig::new().preopen("/m", "/missing"))
        .unwrap_err();
    assert!(err.to_string().contains("/missing"), "{err}");
}

#[test]
fn an_enormous_timeout_means_none() {
    let r = run(
        &exits_with("", "(i32.const 0)"),
        &RunConfig::new().timeout(std::time::Duration::MAX),
    )
    .unwrap();
    assert_eq!(r.exit_code, Some(0));
}
