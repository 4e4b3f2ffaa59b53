//! Builds the test guests in `tests/guests` for `wasm32-wasip1` (once per
//! test process; cargo makes repeated builds no-ops) and hands out their
//! bytes.
//!
//! They are built into `<target>/tmp/oanix-guests`, where `cargo xtask
//! guests` builds them too. The `wasm32-wasip1` target is added with rustup
//! when it is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Where the guests are built.
fn target_dir() -> PathBuf {
    match std::env::var_os("OANIX_GUEST_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_TARGET_TMPDIR")).join("oanix-guests"),
    }
}

fn cargo_build(manifest: &Path, target_dir: &Path) -> Result<(), String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            "wasm32-wasip1",
            "--manifest-path",
        ])
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn build() -> Result<PathBuf, String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/guests/Cargo.toml");
    let dir = target_dir();
    if let Err(first) = cargo_build(&manifest, &dir) {
        if !first.contains("wasm32-wasip1") {
            return Err(first);
        }
        // Most likely the target is missing: add it and try again.
        let _ = Command::new("rustup")
            .args(["target", "add", "wasm32-wasip1"])
            .status();
        cargo_build(&manifest, &dir)?;
    }
    Ok(dir.join("wasm32-wasip1/release"))
}

/// The bytes of the guest program `name` (a binary of `tests/guests`).
pub(crate) fn guest(name: &str) -> Vec<u8> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let dir = match BUILT.get_or_init(build) {
        Ok(dir) => dir,
        Err(e) => panic!("building the test guests failed:\n{e}"),
    };
    let file = dir.join(format!("{name}.wasm"));
    std::fs::read(&file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()))
}

/// One runtime shared by the tests of this process (as a host would).
pub(crate) fn runtime() -> &'static oanix_wasi::WasiRuntime {
    static RUNTIME: OnceLock<oanix_wasi::WasiRuntime> = OnceLock::new();
    RUNTIME.get_or_init(|| oanix_wasi::WasiRuntime::new().expect("the runtime starts"))
}
