//! Child processes for tasks: the workspace root, the cargo to call and the `CI` switch.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root: the parent of this crate's directory.
///
/// `cargo run` says where that is at run time; the path compiled in is only the fallback,
/// since one target directory shared by several checkouts (CI's cache) may hold a binary
/// built in another checkout, even one since deleted.
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.clone(), Path::to_path_buf)
}

/// The cargo that started this task (`$CARGO`), or `cargo` from `PATH`.
pub(crate) fn cargo_program() -> OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"))
}

/// A command for `program`, where the name `cargo` means [`cargo_program`], run from the
/// workspace root.
pub(crate) fn command(program: &str) -> Command {
    let mut cmd = if program == "cargo" {
        Command::new(cargo_program())
    } else {
        Command::new(program)
    };
    cmd.current_dir(workspace_root());
    cmd
}

/// Whether we run under CI: `CI` is set to anything but empty, `0` or `false`.
///
/// Under CI a missing tool is an error; on a developer machine its step is skipped with a note.
pub(crate) fn is_ci() -> bool {
    std::env::var_os("CI").is_some_and(|value| !matches!(value.to_str(), Some("" | "0" | "false")))
}
