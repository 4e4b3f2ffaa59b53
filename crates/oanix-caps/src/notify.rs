//! Notifications without polling: how executors learn of new work and how
//! blocking reads learn that what they wait for has arrived.
//!
//! Each service owns a few [`Signal`]s (work queued, response arrived...). A
//! waiter takes a listener *first*, then checks the state, then waits on the
//! listener only if there was nothing to do; a notification sent between the
//! check and the wait is not lost. The listeners are
//! [`event_listener::EventListener`]s: an async executor `.await`s them (no
//! particular runtime needed), sync code calls `wait_timeout` (from the
//! re-exported [`Listener`] trait).

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[cfg(not(target_family = "wasm"))]
use oanix_vfs::deadline::Instant;

use event_listener::Event;
pub use event_listener::{EventListener, Listener};
#[cfg(not(target_family = "wasm"))]
use oanix_vfs::deadline;

/// A broadcast notification: every listener taken before [`notify`](Self::notify)
/// is woken.
#[derive(Default)]
pub(crate) struct Signal {
    event: Event,
    waiting: AtomicUsize,
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("waiting", &self.waiting())
            .finish()
    }
}

/// Why a wait ended without a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    /// The caller asked not to wait and nothing was there.
    WouldBlock,
    /// The wait's time ran out.
    #[cfg_attr(
        target_family = "wasm",
        allow(dead_code, reason = "nothing waits there")
    )]
    TimedOut,
}

impl Signal {
    /// A listener for the next notification.
    pub(crate) fn listen(&self) -> EventListener {
        self.event.listen()
    }

    /// Wakes every current listener.
    pub(crate) fn notify(&self) {
        self.event.notify(usize::MAX);
    }

    /// How many threads are blocked in [`wait_for`](Self::wait_for) now.
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Calls `check` until it gives a value, waiting for a notification
    /// between calls: at most `timeout` in all, cut short by the thread's
    /// [`deadline`]; not at all when `nonblocking`.
    pub(crate) fn wait_for<T>(
        &self,
        nonblocking: bool,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<T, WaitEnd> {
        if let Some(v) = check() {
            return Ok(v);
        }
        // A browser's thread cannot block: there every read is non-blocking.
        if nonblocking || cfg!(target_family = "wasm") {
            return Err(WaitEnd::WouldBlock);
        }
        self.wait_blocking(timeout, check)
    }

    #[cfg(target_family = "wasm")]
    fn wait_blocking<T>(
        &self,
        _timeout: Duration,
        _check: impl FnMut() -> Option<T>,
    ) -> Result<T, WaitEnd> {
        Err(WaitEnd::WouldBlock)
    }

    #[cfg(not(target_family = "wasm"))]
    fn wait_blocking<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut() -> Option<T>,
    ) -> Result<T, WaitEnd> {
        let start = Instant::now();
        let limit = deadline::bound(timeout);
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        loop {
            let listener = self.listen();
            if let Some(v) = check() {
                return Ok(v);
            }
            let left = limit.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(WaitEnd::TimedOut);
            }
            // A `None` is a timeout; the loop checks the state and the time
            // once more either way.
            let _ = listener.wait_timeout(left);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn wait_for_returns_at_once_when_ready_or_nonblocking() {
        let s = Signal::default();
        assert_eq!(s.wait_for(false, Duration::ZERO, || Some(1)), Ok(1));
        assert_eq!(
            s.wait_for(true, Duration::from_secs(60), || None::<u8>),
            Err(WaitEnd::WouldBlock)
        );
        assert_eq!(
            s.wait_for(false, Duration::ZERO, || None::<u8>),
            Err(WaitEnd::TimedOut)
        );
    }

    #[test]
    fn wait_for_is_woken_by_notify() {
        let s = Arc::new(Signal::default());
        let flag = Arc::new(AtomicBool::new(false));
        let (s2, f2) = (Arc::clone(&s), Arc::clone(&flag));
        let waiter = std::thread::spawn(move || {
            s2.wait_for(false, Duration::from_secs(60), || {
                f2.load(Ordering::SeqCst).then_some(7)
            })
        });
        while s.waiting() == 0 {
            std::thread::yield_now();
        }
        flag.store(true, Ordering::SeqCst);
        s.notify();
        assert_eq!(waiter.join().unwrap(), Ok(7));
        assert_eq!(s.waiting(), 0);
    }

    #[test]
    fn the_thread_deadline_bounds_the_wait() {
        let s = Signal::default();
        let start = Instant::now();
        let end = deadline::scoped(start + Duration::from_millis(20), || {
            s.wait_for(false, Duration::from_secs(60), || None::<u8>)
        });
        assert_eq!(end, Err(WaitEnd::TimedOut));
        assert!(start.elapsed() < Duration::from_secs(30));
    }
}
