//! One host call: its view of the run ([`Cx`]), how it fails ([`Fail`]), and
//! [`call`], which gives an import that view and turns the outcome into the
//! `errno` the guest sees.
//!
//! The imports (`imports.rs`) and `poll_oneoff` (`poll.rs`) are both written
//! against this module, so neither needs the other's.

use std::time::Instant;

use oanix_vfs::FsError;
use wasmtime::Caller;

use super::abi::{Errno, Mem};
use super::errno::from_fs_error;
use super::{DeadlineReached, Host};

/// How a host call fails: an `errno` for the guest, or a trap that ends the
/// run (`proc_exit`, the deadline).
pub(crate) enum Fail {
    Errno(Errno),
    Trap(wasmtime::Error),
}

impl From<Errno> for Fail {
    fn from(e: Errno) -> Self {
        Self::Errno(e)
    }
}

impl From<FsError> for Fail {
    fn from(e: FsError) -> Self {
        Self::Errno(from_fs_error(&e))
    }
}

/// What a host call returns: its value, or how it failed.
pub(crate) type HostResult<T = ()> = Result<T, Fail>;

/// One host call's view: the guest's memory and the run's state.
pub(crate) struct Cx<'a> {
    pub(crate) mem: Mem<'a>,
    pub(crate) h: &'a mut Host,
}

impl Cx<'_> {
    /// Traps once the run's deadline has passed (after a call that may
    /// have waited).
    pub(crate) fn check_deadline(&self) -> HostResult {
        match self.h.deadline {
            Some(d) if Instant::now() >= d => Err(Fail::Trap(DeadlineReached.into())),
            _ => Ok(()),
        }
    }
}

/// Runs `f` with the caller's memory and state, and turns its outcome into
/// the `errno` the import returns (or a trap).
pub(super) fn call(
    caller: &mut Caller<'_, Host>,
    f: impl FnOnce(&mut Cx<'_>) -> HostResult,
) -> wasmtime::Result<i32> {
    let memory = caller.data().memory;
    let outcome = match memory {
        Some(m) => {
            let (bytes, h) = m.data_and_store_mut(&mut *caller);
            f(&mut Cx {
                mem: Mem::new(bytes),
                h,
            })
        }
        None => f(&mut Cx {
            mem: Mem::new(&mut []),
            h: caller.data_mut(),
        }),
    };
    match outcome {
        Ok(()) => Ok(0),
        Err(Fail::Errno(e)) => Ok(i32::from(e.0)),
        Err(Fail::Trap(t)) => Err(t),
    }
}
