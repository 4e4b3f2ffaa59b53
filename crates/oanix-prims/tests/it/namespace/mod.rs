//! The `Namespace` with real services mounted: against the shared
//! conformance suite and the reference model, and its own rules (mounts,
//! unions, binds, the mount table, bad input). These tests live here rather
//! than in oanix-vfs because they need the file systems of this crate, and
//! oanix-vfs depends on no other OANIX crate, not even for its tests.

mod bad_input;
mod binds;
mod conformance;
mod model;
mod mounts;
mod table;
mod unions;

use oanix_vfs::{FileService, FsError, FsErrorKind, Result};

/// The names listed in `dir`.
pub(crate) fn names<F: FileService + ?Sized>(fs: &F, dir: &str) -> Vec<String> {
    fs.readdir(dir)
        .unwrap_or_else(|e| panic!("readdir({dir:?}) failed: {e}"))
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// The kind of the error `result` must be.
pub(crate) fn kind<T>(result: Result<T>) -> FsErrorKind {
    match result {
        Ok(_) => panic!("succeeded; an error was expected"),
        Err(e) => e.kind(),
    }
}

/// The error `result` must be (for results whose value is not `Debug`).
pub(crate) fn error<T>(result: Result<T>) -> FsError {
    match result {
        Ok(_) => panic!("succeeded; an error was expected"),
        Err(e) => e,
    }
}
