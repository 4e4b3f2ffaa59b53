//! The preview1 conformance cases: each case of the `conformance` guest runs
//! in a fresh namespace and must print `ok <case>` and exit with 0. Between
//! them, every preview1 import is called and its results checked.

use oanix_prims::{MapFs, MemFs};
use oanix_vfs::Namespace;
use oanix_wasi::{RunConfig, RunResult};

use crate::guests::{guest, runtime};

fn namespace() -> Namespace {
    Namespace::builder()
        .mount("/tmp", MemFs::new())
        .mount(
            "/ro",
            MapFs::builder()
                .file("/file", &b"read-only data"[..])
                .build(),
        )
        .build()
}

fn run_case(case: &str, config: RunConfig) -> RunResult {
    let wasm = guest("conformance");
    let config = config
        .arg0("conformance.wasm")
        .arg(case)
        .preopen("/data", "/ro")
        .stdin_bytes("line1\nline2");
    runtime()
        .run_bytes(&wasm, &namespace(), &config)
        .unwrap_or_else(|e| panic!("{case}: {e}"))
}

fn check(case: &str) {
    let r = run_case(case, RunConfig::new());
    assert!(
        r.success() && r.stdout_text().contains(&format!("ok {case}")),
        "case {case}: exit {:?}, trap {:?}\nstdout: {}\nstderr: {}",
        r.exit_code,
        r.trap,
        r.stdout_text(),
        r.stderr_text()
    );
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            check(stringify!($name));
        }
    )*};
}

cases!(
    clocks,
    random,
    files,
    append,
    pread_pwrite,
    truncate,
    readdir,
    rename,
    unlink,
    dirs,
    open_errors,
    dotdot,
    prestat,
    fdstat,
    filestat,
    times,
    advise_allocate_sync,
    renumber,
    links,
    sockets,
    poll,
    proc,
);

#[test]
fn args_env() {
    // Exactly these arguments and variables, and nothing of the host's.
    let config = RunConfig::new()
        .arg0("conformance.wasm")
        .args(["args_env", "two words", "ü"])
        .env("A", "1")
        .env("EMPTY", "")
        .env("Z", "x=y");
    assert!(std::env::var_os("PATH").is_some());
    let r = runtime()
        .run_bytes(&guest("conformance"), &namespace(), &config)
        .unwrap();
    assert!(r.success(), "{:?} {}", r.trap, r.stderr_text());
    assert!(r.stdout_text().contains("ok args_env"));
}

#[test]
fn stdin_bytes_are_read() {
    let r = run_case("stdin", RunConfig::new());
    assert!(r.success(), "{:?}", r.trap);
    assert_eq!(r.stdout_text(), "echo:line1\nline2");
}

#[test]
fn stdin_from_a_namespace_file() {
    let ns = namespace();
    oanix_vfs::write_file(&ns, "/tmp/input", "line1\nline2").unwrap();
    let config = RunConfig::new()
        .arg0("conformance.wasm")
        .arg("stdin")
        .stdin_file("/tmp/input");
    let r = runtime()
        .run_bytes(&guest("conformance"), &ns, &config)
        .unwrap();
    assert_eq!(r.stdout_text(), "echo:line1\nline2");
    let missing = RunConfig::new().stdin_file("/tmp/none");
    let err = runtime()
        .run_bytes(&guest("conformance"), &ns, &missing)
        .unwrap_err();
    assert!(err.to_string().contains("/tmp/none"), "{err}");
}

#[test]
fn proc_exit_sets_the_exit_code() {
    let r = run_case("exit", RunConfig::new());
    assert_eq!(r.exit_code, Some(7));
    assert!(r.trap.is_none());
    assert_eq!(r.process_exit_code(), 7);
}

#[test]
fn stdout_and_stderr_are_captured_separately() {
    let r = run_case("stdout_stderr", RunConfig::new());
    assert!(r.success());
    assert_eq!(
        r.stdout_text(),
        "to stdout\ngathered line\nok stdout_stderr\n"
    );
    assert_eq!(r.stderr_text(), "to stderr\n");
}

#[test]
fn stdout_is_bounded() {
    let r = run_case("stdout_stderr", RunConfig::new().stdout_limit(5));
    assert!(r.success());
    assert_eq!(r.stdout, b"to st");
    assert!(r.stdout_truncated && !r.stderr_truncated);
}
