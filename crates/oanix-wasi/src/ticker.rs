//! The epoch ticker: one thread per runtime that advances the engine's epoch
//! at a fixed period while at least one run with a timeout is in progress,
//! and sleeps on a condition variable otherwise.
//!
//! A run's store checks the wall clock against its deadline at each tick
//! (its epoch callback), so the tick period is only the precision of the
//! timeout, not the timeout itself.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;

#[derive(Default)]
struct State {
    active: usize,
    /// Whether the thread is in its ticking loop (it leaves it at the first
    /// tick that finds no run in progress).
    ticking: bool,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The ticker thread and its control.
pub(crate) struct Ticker {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker").finish_non_exhaustive()
    }
}

/// Keeps the ticker running while it lives.
pub(crate) struct Active {
    shared: Arc<Shared>,
}

impl Drop for Active {
    fn drop(&mut self) {
        let mut st = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        st.active = st.active.saturating_sub(1);
    }
}

impl Ticker {
    /// Starts the thread (it sleeps until a run needs it).
    pub(crate) fn start(engine: Engine, period: Duration) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
        });
        let inner = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("oanix-wasi-epoch".to_owned())
            .spawn(move || {
                let mut st = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if st.stop {
                        break;
                    }
                    if st.active == 0 {
                        st.ticking = false;
                        st = inner.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
                        continue;
                    }
                    st.ticking = true;
                    // The period is the ticker's job, not a synchronisation:
                    // waiting on the condition variable lets `stop` cut it short.
                    st = inner
                        .wake
                        .wait_timeout(st, period)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    engine.increment_epoch();
                }
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Marks a run as in progress until the returned guard drops.
    pub(crate) fn activate(&self) -> Active {
        let mut st = self
            .shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        st.active += 1;
        // Runs that follow each other closely find the thread still ticking
        // and cost no wake-up.
        if !st.ticking {
            st.ticking = true;
            self.shared.wake.notify_all();
        }
        Active {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        {
            let mut st = self
                .shared
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            st.stop = true;
            self.shared.wake.notify_all();
        }
        if let Some(t) = self.thread.take() {
            // A panic in the ticker thread has nothing left to report.
            let _ = t.join();
        }
    }
}
