//! External tools the pipeline uses (cargo subcommands and programs), how to detect them and
//! how to install them.

use std::process::Stdio;

use anyhow::{Context, Result, bail};

use crate::process;

/// An external tool installed from crates.io with `cargo install`.
#[derive(Debug)]
pub(crate) struct Tool {
    /// The crate that provides the binary, as passed to `cargo install`.
    pub(crate) package: &'static str,
    /// How the tool is run, which is also how its presence is detected.
    pub(crate) command: ToolCommand,
    /// The version installed, pinned so that CI does not change under us.
    pub(crate) version: &'static str,
    /// Further arguments to `cargo install` (`--locked`, features).
    pub(crate) install_args: &'static [&'static str],
}

/// How a [`Tool`] is run.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ToolCommand {
    /// As `cargo <subcommand>`.
    Cargo(&'static str),
    /// As a program on `PATH`.
    Binary(&'static str),
}

/// `cargo deny`: license, ban and source policy checks against `deny.toml`.
pub(crate) const CARGO_DENY: Tool = Tool {
    package: "cargo-deny",
    command: ToolCommand::Cargo("deny"),
    version: "0.20.2",
    install_args: &["--locked"],
};

/// `wasm-bindgen` (and `wasm-bindgen-test-runner`): generates the JavaScript glue of
/// oanix-web and runs its tests. Its version must be the `wasm-bindgen` crate's, pinned with
/// `=` in the root `Cargo.toml`.
///
/// Not `--locked`: the lock file it ships names versions the package registry this project
/// uses does not carry. Without default features it has no TLS client, so it can download
/// nothing (it needs nothing: browsers and Node come from the system).
pub(crate) const WASM_BINDGEN: Tool = Tool {
    package: "wasm-bindgen-cli",
    command: ToolCommand::Binary("wasm-bindgen"),
    version: "0.2.130",
    install_args: &["--no-default-features"],
};

/// `nostr-rs-relay`: an independent Nostr relay (SQLite), the peer oanix-exec's relay tests and
/// benchmark start on 127.0.0.1 with a config file of their own.
///
/// Building it needs `protoc` (Debian's `protobuf-compiler`, which `.ci/run` installs). Not
/// `--locked`: the lock file it ships pins `time` 0.3.25, which current rustc no longer compiles.
/// `--debug`: a test peer needs no optimisation, and the cold build takes about 7 minutes on two
/// cores instead of about 18.
pub(crate) const NOSTR_RS_RELAY: Tool = Tool {
    package: "nostr-rs-relay",
    command: ToolCommand::Binary("nostr-rs-relay"),
    version: "0.8.12",
    install_args: &["--debug"],
};

/// Every tool `cargo xtask install-tools` installs.
const TOOLS: &[&Tool] = &[&CARGO_DENY, &WASM_BINDGEN, &NOSTR_RS_RELAY];

/// The environment variable naming the `cargo install --root` for tools.
const TOOLS_ROOT_VAR: &str = "OANIX_TOOLS_ROOT";

impl Tool {
    /// The tool's version line (`cargo <subcommand> --version` or `<binary> --version`), or
    /// `None` when it cannot be found on `PATH` (or, for cargo subcommands, in cargo's own bin
    /// directory) or is not the pinned version.
    pub(crate) fn installed_version(&self) -> Option<String> {
        let mut cmd = match self.command {
            ToolCommand::Cargo(subcommand) => {
                let mut cmd = process::command("cargo");
                cmd.arg(subcommand);
                cmd
            }
            ToolCommand::Binary(binary) => process::command(binary),
        };
        let output = cmd.arg("--version").stdin(Stdio::null()).output().ok()?;
        if !output.status.success() {
            return None;
        }
        let line = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        line.split_whitespace()
            .any(|word| word == self.version)
            .then_some(line)
    }

    /// The command a person would type to install the tool by hand.
    pub(crate) fn install_hint(&self) -> String {
        format!(
            "`cargo xtask install-tools` (or `cargo install {} {} --version {}`)",
            self.install_args.join(" "),
            self.package,
            self.version
        )
    }

    /// Installs the tool unless it is already present.
    fn install(&self) -> Result<()> {
        if let Some(version) = self.installed_version() {
            println!("{} is installed: {version}", self.package);
            return Ok(());
        }
        let mut cmd = process::command("cargo");
        cmd.arg("install").args(self.install_args).args([
            self.package,
            "--version",
            self.version,
            "--force",
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
            bail!("`cargo install {}` failed ({status})", self.package);
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
                    "{} {} was installed but is still not found on PATH",
                    self.package,
                    self.version
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
