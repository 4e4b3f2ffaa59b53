//! Deadlines for blocking file calls.
//!
//! Some files block: reading a capability's response waits until it arrives.
//! A service bounds each wait by its own timeout, and a caller that has a
//! deadline of its own — a WASI run with a wall-clock limit, a job with a
//! timeout — sets it here for the calls it makes, so that no blocking call
//! outlives it. File calls run on the caller's thread, so the deadline is
//! kept per thread.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use oanix_vfs::deadline;
//!
//! let soon = Instant::now() + Duration::from_millis(5);
//! deadline::scoped(soon, || {
//!     // A service that would wait up to 30 s waits 5 ms at most here.
//!     assert!(deadline::bound(Duration::from_secs(30)) <= Duration::from_millis(5));
//! });
//! assert_eq!(deadline::current(), None);
//! ```

use std::cell::Cell;
use std::time::Duration;

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub use web_time::Instant;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use std::time::Instant;

thread_local! {
    static DEADLINE: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// Runs `f` with `deadline` in force for this thread's file calls (the
/// earlier one wins when deadlines nest); the previous deadline is restored
/// afterwards, even if `f` panics.
pub fn scoped<R>(deadline: Instant, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Instant>);
    impl Drop for Restore {
        fn drop(&mut self) {
            DEADLINE.with(|d| d.set(self.0));
        }
    }
    let previous = current();
    let effective = match previous {
        Some(p) if p < deadline => p,
        _ => deadline,
    };
    let _restore = Restore(previous);
    DEADLINE.with(|d| d.set(Some(effective)));
    f()
}

/// The deadline in force on this thread, if any.
pub fn current() -> Option<Instant> {
    DEADLINE.with(Cell::get)
}

/// How long a blocking call may wait: `timeout`, cut short by the deadline
/// in force (zero once it has passed).
pub fn bound(timeout: Duration) -> Duration {
    match current() {
        Some(d) => timeout.min(d.saturating_duration_since(Instant::now())),
        None => timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_keeps_the_earlier_deadline_and_restores() {
        let now = Instant::now();
        let far = now + Duration::from_secs(60);
        let near = now + Duration::from_secs(1);
        scoped(near, || {
            scoped(far, || assert_eq!(current(), Some(near)));
            assert_eq!(current(), Some(near));
        });
        assert_eq!(current(), None);
        let passed = scoped(now, || bound(Duration::from_secs(5)));
        assert_eq!(passed, Duration::ZERO);
    }
}
