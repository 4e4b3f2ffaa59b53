//! Builds the C test guests in `tests/guests/c` for `wasm32-wasi` with clang,
//! lld and wasi-libc (Debian's `clang`, `lld` and `wasi-libc`, which
//! `.ci/run` installs), once per test process.
//!
//! Debian's wasi-libc puts its headers and libraries where clang looks for
//! the `wasm32-wasi` target by default; a sysroot at
//! `/usr/share/wasi-sysroot` (the layout of the wasi-sdk) is used when it
//! exists. The compiler's own builtins library is not part of those
//! packages, so the guests link against libc alone (`-nodefaultlibs -lc`)
//! plus `tests/guests/c/builtins.c`, which holds the one builtin the calls
//! they make need.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The packages the C guests need, named in every failure.
const NEEDS: &str = "the C guests need clang, lld (wasm-ld) and wasi-libc: \
    `apt-get install clang lld wasi-libc` (CI installs them in .ci/run)";

fn compile(name: &str) -> Result<PathBuf, String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/guests/c/{name}.c"));
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("oanix-guests/c");
    std::fs::create_dir_all(&out_dir).map_err(|e| format!("{}: {e}", out_dir.display()))?;
    let out = out_dir.join(format!("{name}.wasm"));
    let clang = std::env::var("OANIX_CLANG").unwrap_or_else(|_| "clang".to_owned());
    let mut cmd = Command::new(&clang);
    cmd.args([
        "--target=wasm32-wasi",
        "-O1",
        "-Wall",
        "-Werror",
        "-nodefaultlibs",
    ]);
    let sysroot = Path::new("/usr/share/wasi-sysroot");
    if sysroot.is_dir() {
        cmd.arg(format!("--sysroot={}", sysroot.display()));
    }
    let builtins = source.with_file_name("builtins.c");
    cmd.arg("-o")
        .arg(&out)
        .arg(&source)
        .arg(&builtins)
        .arg("-lc");
    let output = cmd
        .output()
        .map_err(|e| format!("cannot run {clang}: {e}; {NEEDS}"))?;
    if !output.status.success() {
        return Err(format!(
            "{clang} failed to build {}:\n{}\n{NEEDS}",
            source.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(out)
}

/// The bytes of the C guest `name` (`tests/guests/c/{name}.c`); panics,
/// naming the packages to install, when it cannot be built.
pub(crate) fn build(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<Mutex<HashMap<String, Result<PathBuf, String>>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let result = built
        .entry(name.to_owned())
        .or_insert_with(|| compile(name))
        .clone();
    drop(built);
    match result {
        Ok(path) => std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        Err(e) => panic!("{e}"),
    }
}
