//! The `oanix` command driven as a user would: spawned as a process, its
//! output and exit codes checked.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod cli;
mod egress;
mod mcp;
mod native;
mod nats;
mod snapshot;

use std::path::Path;
use std::process::{Command, Output};

/// Runs `oanix` with `args` in `dir`.
pub fn oanix(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_oanix"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Output as text.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
