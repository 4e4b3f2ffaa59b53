//! The process-wide budget of host file descriptors that agents may hold
//! open through [`WorkspaceFs`](crate::WorkspaceFs).
//!
//! Every open workspace file is a real descriptor of the host process. Each
//! guest has its own descriptor limit (its runtime's), but guests add up:
//! without a shared bound, a few guests together exhaust the process's
//! `RLIMIT_NOFILE` and the host's own opens (its logs, its sockets, its
//! module cache) start failing. This budget is shared by every
//! `WorkspaceFs` of the process: when it is spent, an agent's open fails
//! with [`FsError::TooManyOpen`](oanix_vfs::FsError::TooManyOpen) (`ENFILE`
//! for a WASI guest) and the host keeps the rest of its descriptors.
//!
//! The default is half of the process's soft `RLIMIT_NOFILE` at the first
//! open (at least 16, at most 1,048,576); [`set_limit`] changes it.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The smallest default budget, whatever the process limit says.
const MIN_DEFAULT: u64 = 16;
/// The largest default budget.
const MAX_DEFAULT: u64 = 1 << 20;

static IN_USE: AtomicU64 = AtomicU64::new(0);
/// 0 until set or first read.
static LIMIT: AtomicU64 = AtomicU64::new(0);
static DEFAULT: OnceLock<u64> = OnceLock::new();

fn default_limit() -> u64 {
    *DEFAULT.get_or_init(|| {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(MAX_DEFAULT * 2);
        (soft / 2).clamp(MIN_DEFAULT, MAX_DEFAULT)
    })
}

/// How many workspace files agents may hold open at once, across the
/// whole process.
pub fn limit() -> u64 {
    match LIMIT.load(Ordering::Relaxed) {
        0 => default_limit(),
        n => n,
    }
}

/// Sets the process-wide budget (at least 1). Files already open stay open;
/// new opens fail while more than `n` are open.
pub fn set_limit(n: u64) {
    LIMIT.store(n.max(1), Ordering::Relaxed);
}

/// How many workspace files are open now, across the process.
pub fn in_use() -> u64 {
    IN_USE.load(Ordering::Relaxed)
}

/// One descriptor's share of the budget, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot(());

impl Slot {
    /// Takes one share, or answers the limit that is reached.
    pub(crate) fn take() -> Result<Self, u64> {
        let limit = limit();
        IN_USE
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .map(|_| Self(()))
            .map_err(|_| limit)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        IN_USE.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_below_the_process_limit() {
        let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .unwrap_or(u64::MAX);
        let d = default_limit();
        assert!(d >= MIN_DEFAULT);
        assert!(d <= soft / 2 || d == MIN_DEFAULT, "{d} of {soft}");
    }
}
