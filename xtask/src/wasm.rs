//! WebAssembly builds: the `wasm32-wasip1` target, the test guests of oanix-wasi
//! (`cargo xtask guests`) and the hello-wasi example (`cargo xtask hello-wasi`).

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

use crate::process;

/// The target the guests are built for.
const TARGET: &str = "wasm32-wasip1";

/// The test guests' manifest, relative to the workspace root.
const GUESTS_MANIFEST: &str = "crates/oanix-wasi/tests/guests/Cargo.toml";

/// The hello-wasi example's manifest, relative to the workspace root.
const HELLO_MANIFEST: &str = "examples/hello-wasi/Cargo.toml";

/// Where the hello-wasi module lands.
const HELLO_WASM: &str = "examples/hello-wasi/target/wasm32-wasip1/release/hello-wasi.wasm";

/// Adds the `wasm32-wasip1` target with rustup when it is not installed.
pub(crate) fn ensure_target() -> Result<()> {
    let installed = process::command("rustup")
        .args(["target", "list", "--installed"])
        .output();
    match installed {
        Ok(out) if out.status.success() => {
            if String::from_utf8_lossy(&out.stdout)
                .lines()
                .any(|l| l.trim() == TARGET)
            {
                return Ok(());
            }
        }
        // No rustup: the toolchain is managed some other way; let cargo say
        // whether the target is there.
        _ => return Ok(()),
    }
    println!("==> installing the {TARGET} target");
    let status = process::command("rustup")
        .args(["target", "add", TARGET])
        .status()
        .context("could not run rustup")?;
    if !status.success() {
        bail!("`rustup target add {TARGET}` failed ({status})");
    }
    Ok(())
}

/// The directory the workspace builds into (`CARGO_TARGET_DIR` or `target/`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|d| {
            if d.is_absolute() {
                d
            } else {
                process::workspace_root().join(d)
            }
        })
        .unwrap_or_else(|| process::workspace_root().join("target"))
}

/// Runs `cargo build --release --target wasm32-wasip1` for `manifest`.
fn build(manifest: &str, target_dir: Option<PathBuf>) -> Result<()> {
    let mut cmd = process::command("cargo");
    cmd.args([
        "build",
        "--release",
        "--target",
        TARGET,
        "--manifest-path",
        manifest,
    ]);
    if let Some(dir) = target_dir {
        cmd.arg("--target-dir").arg(dir);
    }
    cmd.env_remove("CARGO_TARGET_DIR");
    let status = cmd.status().context("could not start cargo")?;
    if !status.success() {
        bail!("building {manifest} for {TARGET} failed ({status})");
    }
    Ok(())
}

/// `cargo xtask guests`: builds the test guests where the oanix-wasi tests
/// look for them (`<target>/tmp/oanix-guests`, the tests' `CARGO_TARGET_TMPDIR`).
pub(crate) fn guests() -> Result<()> {
    ensure_target()?;
    println!("==> building the oanix-wasi test guests");
    build(
        GUESTS_MANIFEST,
        Some(target_dir().join("tmp").join("oanix-guests")),
    )
}

/// `cargo xtask hello-wasi`: builds the example agent and runs it with the
/// `run_wasi` example in a full namespace (`--build-only` stops after the build).
pub(crate) fn hello_wasi(args: &[String]) -> Result<()> {
    let build_only = match args {
        [] => false,
        [flag] if flag == "--build-only" => true,
        _ => bail!("`hello-wasi` takes only `--build-only`"),
    };
    ensure_target()?;
    println!("==> building examples/hello-wasi for {TARGET}");
    build(HELLO_MANIFEST, None)?;
    println!("    built {HELLO_WASM}");
    if build_only {
        return Ok(());
    }
    println!("==> cargo run -p oanix-wasi --example run_wasi -- {HELLO_WASM}");
    let status = process::command("cargo")
        .args([
            "run",
            "--quiet",
            "-p",
            "oanix-wasi",
            "--example",
            "run_wasi",
            "--",
            HELLO_WASM,
        ])
        .status()
        .context("could not start cargo")?;
    if !status.success() {
        bail!("hello-wasi did not run to completion ({status})");
    }
    Ok(())
}

/// `cargo xtask demo`: builds the hello-wasi agent and runs it with the
/// `oanix` command in the demo environment (`examples/demo.toml`), then runs
/// the native Python agent of `examples/native-demo.toml` on the same
/// project, passing any further arguments to both `oanix run`s (the default
/// is `--discard`).
pub(crate) fn demo(args: &[String]) -> Result<()> {
    ensure_target()?;
    println!("==> building examples/hello-wasi for {TARGET}");
    build(HELLO_MANIFEST, None)?;
    let extra: Vec<String> = if args.is_empty() {
        vec!["--discard".to_owned()]
    } else {
        args.to_vec()
    };
    for (manifest, what) in [
        ("examples/demo.toml", "the WASI agent"),
        ("examples/native-demo.toml", "the native agent (python3)"),
    ] {
        println!("==> {what}: oanix run {manifest} {}", extra.join(" "));
        let status = process::command("cargo")
            .args(["run", "--quiet", "-p", "oanix-cli", "--", "run", manifest])
            .args(&extra)
            .status()
            .context("could not start cargo")?;
        if !status.success() {
            bail!("{what} did not complete ({status})");
        }
    }
    Ok(())
}
