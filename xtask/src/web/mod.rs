//! `cargo xtask web`: builds the Namespace Explorer (oanix-web for `wasm32-unknown-unknown`,
//! `wasm-bindgen`, `wasm-opt` when present, the static page) and serves it on 127.0.0.1.
//!
//! The site lands in `<target>/web/site`: the files of `crates/oanix-web/www` plus `pkg/`, the
//! module `wasm-bindgen` generates. Any static server that sends `.wasm` as `application/wasm`
//! can serve it; `--serve` starts the one in [`serve`].

pub(crate) mod browser;
mod serve;
mod webdriver;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::process;
use crate::tools::{self, Tool};

/// The target the page's module is built for.
const TARGET: &str = "wasm32-unknown-unknown";

/// The cargo profile of the page's module (in the root `Cargo.toml`: release, optimised for
/// size, with link-time optimisation).
const PROFILE: &str = "web";

/// The page's static files, relative to the workspace root.
const WWW: &str = "crates/oanix-web/www";

/// The port `--serve` uses unless `--port` says otherwise.
const DEFAULT_PORT: u16 = 8080;

/// What `cargo xtask web` produced.
#[derive(Debug)]
pub(crate) struct Site {
    /// The directory to serve.
    pub(crate) root: PathBuf,
    /// The size of the module as built (after `wasm-bindgen`), in bytes.
    pub(crate) wasm_bytes: u64,
    /// The size after `wasm-opt`, when it ran.
    pub(crate) optimized_bytes: Option<u64>,
}

/// `cargo xtask web [--serve] [--port N]`.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let mut serve_it = false;
    let mut port = DEFAULT_PORT;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--serve" => serve_it = true,
            "--port" => {
                let value = args.next().context("`--port` needs a number")?;
                port = value
                    .parse()
                    .with_context(|| format!("`--port {value}`: expected a port number"))?;
            }
            other => bail!("`web` takes `--serve` and `--port N`, got `{other}`"),
        }
    }
    let site = build()?;
    if serve_it {
        let server = serve::Server::start(&site.root, port)?;
        println!(
            "==> serving {} on http://{}/ (Ctrl-C to stop)",
            site.root.display(),
            server.addr()
        );
        server.wait();
    }
    Ok(())
}

/// The directory the workspace builds into (`CARGO_TARGET_DIR` or `target/`).
pub(crate) fn target_dir() -> PathBuf {
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

/// Where the site and the browser test's output go: `<target>/web`.
pub(crate) fn web_dir() -> PathBuf {
    target_dir().join("web")
}

/// Checks that `tool` is installed at its pinned version.
fn require(tool: &Tool) -> Result<()> {
    if tool.installed_version().is_none() {
        bail!(
            "{} {} is not installed (or not on PATH); install it with {}",
            tool.package,
            tool.version,
            tool.install_hint()
        );
    }
    Ok(())
}

/// Builds the site into `<target>/web/site`.
pub(crate) fn build() -> Result<Site> {
    require(&tools::WASM_BINDGEN)?;
    println!("==> building oanix-web for {TARGET} (profile `{PROFILE}`)");
    let status = process::command("cargo")
        .args([
            "build",
            "-p",
            "oanix-web",
            "--target",
            TARGET,
            "--profile",
            PROFILE,
        ])
        .status()
        .context("could not start cargo")?;
    if !status.success() {
        bail!("building oanix-web for {TARGET} failed ({status})");
    }
    let module = target_dir()
        .join(TARGET)
        .join(PROFILE)
        .join("oanix_web.wasm");

    let root = web_dir().join("site");
    if root.exists() {
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("could not clear {}", root.display()))?;
    }
    copy_dir(&process::workspace_root().join(WWW), &root)?;
    let pkg = root.join("pkg");
    println!("==> wasm-bindgen → {}", pkg.display());
    let status = process::command("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--remove-name-section",
        ])
        .args(["--remove-producers-section", "--out-dir"])
        .arg(&pkg)
        .arg(&module)
        .status()
        .context("could not start wasm-bindgen")?;
    if !status.success() {
        bail!("wasm-bindgen failed ({status})");
    }
    let wasm = pkg.join("oanix_web_bg.wasm");
    let wasm_bytes = file_size(&wasm)?;
    let optimized_bytes = optimize(&wasm)?;
    match optimized_bytes {
        Some(after) => println!(
            "==> oanix_web_bg.wasm: {} as built, {} after wasm-opt",
            kib(wasm_bytes),
            kib(after)
        ),
        None => println!(
            "==> oanix_web_bg.wasm: {} as built (no usable wasm-opt)",
            kib(wasm_bytes)
        ),
    }
    Ok(Site {
        root,
        wasm_bytes,
        optimized_bytes,
    })
}

/// Runs `wasm-opt -Oz` on `wasm` in place when `wasm-opt` is on `PATH` (Debian's `binaryen`);
/// returns the new size, or `None` when there is no `wasm-opt`. A `wasm-opt` that fails (too old
/// for the module's features) leaves the module as built, with a note.
fn optimize(wasm: &Path) -> Result<Option<u64>> {
    let present = process::command("wasm-opt")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        return Ok(None);
    }
    let out = wasm.with_extension("opt.wasm");
    let status = process::command("wasm-opt")
        .args([
            "-Oz",
            "--enable-bulk-memory",
            "--enable-nontrapping-float-to-int",
        ])
        .args([
            "--enable-sign-ext",
            "--enable-mutable-globals",
            "--enable-reference-types",
        ])
        .args(["--enable-multivalue"])
        .arg(wasm)
        .arg("-o")
        .arg(&out)
        .status()
        .context("could not start wasm-opt")?;
    if !status.success() {
        println!("note: wasm-opt failed ({status}); the module is used as built");
        let _ = std::fs::remove_file(&out);
        return Ok(None);
    }
    std::fs::rename(&out, wasm).with_context(|| format!("could not replace {}", wasm.display()))?;
    file_size(wasm).map(Some)
}

fn file_size(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{} is missing", path.display()))?
        .len())
}

/// A size in KiB with one decimal, like `412.3 KiB`.
pub(crate) fn kib(bytes: u64) -> String {
    // Sizes of a web module fit an f64 exactly.
    let k = bytes as f64 / 1024.0;
    format!("{k:.1} KiB")
}

/// Copies the directory `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("could not create {}", to.display()))?;
    for entry in
        std::fs::read_dir(from).with_context(|| format!("could not list {}", from.display()))?
    {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("could not copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::process;
    use crate::tools::WASM_BINDGEN;

    /// `wasm-bindgen` refuses a module made by another version of the crate, so the tool
    /// `install-tools` installs must be exactly the version the workspace pins.
    #[test]
    fn wasm_bindgen_cli_is_the_crate_version() {
        let manifest = std::fs::read_to_string(process::workspace_root().join("Cargo.toml"))
            .expect("the workspace manifest should be readable");
        let manifest: toml::Table = manifest.parse().expect("the manifest should be TOML");
        let pin = manifest["workspace"]["dependencies"]["wasm-bindgen"]
            .as_str()
            .expect("wasm-bindgen should be pinned as a version string");
        assert_eq!(
            pin,
            format!("={}", WASM_BINDGEN.version),
            "pin wasm-bindgen with `=` to the version of WASM_BINDGEN in xtask/src/tools.rs"
        );
    }
}
