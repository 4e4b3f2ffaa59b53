//! External cargo subcommands the pipeline uses, how to detect them and how to install them.

use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::process;

/// An external cargo subcommand installed from crates.io with `cargo install`.
#[derive(Debug)]
pub(crate) struct Tool {
    /// The crate that provides the binary, as passed to `cargo install`.
    pub(crate) package: &'static str,
    /// The subcommand name, as in `cargo <subcommand>`.
    pub(crate) subcommand: &'static str,
    /// The version installed, pinned so that CI does not change under us.
    pub(crate) version: &'static str,
}

/// `cargo deny`: license, ban and source policy checks against `deny.toml`.
pub(crate) const CARGO_DENY: Tool = Tool {
    package: "cargo-deny",
    subcommand: "deny",
    version: "0.20.2",
};

/// Every tool `cargo xtask install-tools` installs.
const TOOLS: &[&Tool] = &[&CARGO_DENY];

/// The environment variable naming the `cargo install --root` for tools.
const TOOLS_ROOT_VAR: &str = "OANIX_TOOLS_ROOT";

impl Tool {
    /// The tool's version line (`cargo <subcommand> --version`), or `None` when cargo cannot
    /// find it on `PATH` or in cargo's own bin directory.
    pub(crate) fn installed_version(&self) -> Option<String> {
        let output = process::command("cargo")
            .args([self.subcommand, "--version"])
            .stdin(Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The command a person would type to install the tool by hand.
    pub(crate) fn install_hint(&self) -> String {
        format!(
            "`cargo xtask install-tools` (or `cargo install --locked {} --version {}`)",
            self.package, self.version
        )
    }

    /// Installs the tool unless it is already present.
    fn install(&self) -> Result<()> {
        if let Some(version) = self.installed_version() {
            println!("{} is installed: {version}", self.package);
            return Ok(());
        }
        let mut cmd = process::command("cargo");
        cmd.args([
            "install",
            "--locked",
            self.package,
            "--version",
            self.version,
        ]);
        let root = std::env::var_os(TOOLS_ROOT_VAR).filter(|root| !root.is_empty());
        if let Some(root) = &root {
            cmd.arg("--root").arg(root);
        }
        println!(
            "installing {} (built from source; this takes a few minutes)",
            self.package
        );
        let status = cmd
            .status()
            .with_context(|| format!("could not start `cargo install {}`", self.package))?;
        if !status.success() {
            bail!(
                "`cargo install --locked {}` failed ({status})",
                self.package
            );
        }
        match self.installed_version() {
            Some(version) => println!("{} is installed: {version}", self.package),
            None => match root {
                Some(root) => bail!(
                    "{} was installed into {}/bin, which is not on PATH; add it to PATH",
                    self.package,
                    root.to_string_lossy()
                ),
                None => bail!(
                    "{} was installed but `cargo {}` still cannot find it",
                    self.package,
                    self.subcommand
                ),
            },
        }
        Ok(())
    }
}

/// `cargo xtask install-tools`: installs every tool that is missing.
///
/// Tools go into `$OANIX_TOOLS_ROOT/bin` when that variable is set (the caller puts that
/// directory on `PATH`), otherwise into cargo's default install root.
pub(crate) fn install_all() -> Result<()> {
    for tool in TOOLS {
        tool.install()?;
    }
    Ok(())
}
