//! `cargo xtask bench`: runs every crate's benchmark binaries.
//!
//! Benchmarks are `harness = false` bench targets that print Markdown tables, which go into
//! `docs/PERFORMANCE.md` together with the date, machine and command.

use anyhow::{Context, Result, bail};

use crate::process;

/// Runs `cargo bench --workspace --all-features` followed by `extra` (for example `-- --quick`).
///
/// When `extra` selects packages itself (`-p`, `--package`, `--manifest-path` before any `--`),
/// `--workspace` is left out so the selection applies.
pub(crate) fn run(extra: &[String]) -> Result<()> {
    // The environment benchmark runs the hello-wasi agent.
    crate::wasm::hello_wasi(&["--build-only".to_owned()])?;
    let mut cmd = process::command("cargo");
    cmd.args(["bench", "--all-features"]);
    if !selects_packages(extra) {
        cmd.arg("--workspace");
    }
    cmd.args(extra);
    let status = cmd.status().context("could not start `cargo bench`")?;
    if !status.success() {
        bail!("`cargo bench` failed ({status})");
    }
    Ok(())
}

/// Whether cargo's own arguments (those before `--`) choose packages.
fn selects_packages(args: &[String]) -> bool {
    args.iter().take_while(|arg| *arg != "--").any(|arg| {
        arg.starts_with("-p")
            || arg == "--package"
            || arg.starts_with("--package=")
            || arg == "--manifest-path"
            || arg.starts_with("--manifest-path=")
    })
}

#[cfg(test)]
mod tests {
    use super::selects_packages;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|arg| (*arg).to_owned()).collect()
    }

    #[test]
    fn package_selection_is_seen_only_before_the_separator() {
        assert!(!selects_packages(&args(&[])));
        assert!(selects_packages(&args(&["-p", "oanix-vfs"])));
        assert!(selects_packages(&args(&["-poanix-vfs"])));
        assert!(selects_packages(&args(&["--package=oanix-vfs"])));
        assert!(!selects_packages(&args(&["--", "-p"])));
        assert!(!selects_packages(&args(&["--bench", "namespace"])));
    }
}
