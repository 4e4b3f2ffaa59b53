//! Tidy tests: the repository's structural rules, checked as ordinary `#[test]`s.
//!
//! Because these are plain tests in the `xtask` crate, `cargo test --workspace` enforces them
//! and no separate lint runner is needed. Each module holds one family of rules:
//!
//! - [`source`]: every `.rs` file opens with a `//!` line; no ignored or panic-expecting tests.
//! - [`layering`]: which workspace crate may depend on which, from `cargo metadata`.
//! - [`code_map`]: the crate table under "Code map" in `docs/ARCHITECTURE.md` states each
//!   crate's workspace dependencies as `cargo metadata` reports them.
//! - [`modules`]: within a crate, no circle of `use` edges between files (a module is a file).
//! - [`manifests`]: every library crate inherits the workspace lints and has a description.
//!
//! Each rule is a pure function over plain data plus a test that feeds it the real repository,
//! so the rule itself can be tested against made-up input that must fail.

mod code_map;
mod layering;
mod manifests;
mod modules;
mod source;

use std::path::PathBuf;
use std::process::Command;

use serde::Deserialize;

use crate::process;

/// The part of `cargo metadata --format-version 1 --no-deps` the tidy tests read.
#[derive(Debug, Deserialize)]
struct Metadata {
    /// With `--no-deps`, exactly the workspace members.
    packages: Vec<Package>,
}

/// One workspace member.
#[derive(Debug, Deserialize)]
struct Package {
    /// The package name, as in `[package] name`.
    name: String,
    /// `[package] description`, if any.
    description: Option<String>,
    /// The absolute path of the member's `Cargo.toml`.
    manifest_path: PathBuf,
    /// Every declared dependency, one entry per table it appears in.
    dependencies: Vec<Dependency>,
}

/// One declared dependency of a workspace member.
#[derive(Debug, Deserialize)]
struct Dependency {
    /// The depended-on package's name (not a rename).
    name: String,
    /// `None` for normal dependencies, `"dev"` or `"build"` otherwise.
    kind: Option<String>,
    /// Whether the dependency is optional (enabled by a feature).
    #[serde(default)]
    optional: bool,
}

/// Runs `cargo metadata` on the workspace and parses the result.
fn workspace_metadata() -> Metadata {
    let output = Command::new(process::cargo_program())
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(process::workspace_root())
        .output()
        .expect("cargo metadata should start");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata should print valid JSON")
}
