//! Integration tests of oanix-vfs: the `Namespace` against the shared
//! conformance suite and the reference model, and its own rules (mounts,
//! unions, binds, the mount table, bad input).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test setup: a panic is how a test reports a failure"
)]

mod bad_input;
mod binds;
mod conformance;
mod model;
mod mounts;
mod table;
mod unions;

use oanix_vfs::{FileService, FsError, FsErrorKind, Result};

/// The names listed in `dir`.
fn names<F: FileService + ?Sized>(fs: &F, dir: &str) -> Vec<String> {
    fs.readdir(dir)
        .unwrap_or_else(|e| panic!("readdir({dir:?}) failed: {e}"))
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// The kind of the error `result` must be.
fn kind<T>(result: Result<T>) -> FsErrorKind {
    match result {
        Ok(_) => panic!("succeeded; an error was expected"),
        Err(e) => e.kind(),
    }
}

/// The error `result` must be (for results whose value is not `Debug`).
fn error<T>(result: Result<T>) -> FsError {
    match result {
        Ok(_) => panic!("succeeded; an error was expected"),
        Err(e) => e,
    }
}
