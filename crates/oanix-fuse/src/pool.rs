//! The blocking pool: where operations on live files run, so that a read
//! waiting for a capability's answer never holds one of the threads that
//! take the kernel's requests.
//!
//! Threads are started as work arrives, up to a bound; past it, work waits
//! in a queue (never on a request thread). Each job owns the kernel's reply
//! and sends it itself. A job that panics answers `EIO` (its reply is
//! dropped, which fuser turns into an error) and its thread lives on.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;

/// One piece of work.
type Job = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    shutdown: bool,
}

struct Inner {
    state: Mutex<State>,
    work: Condvar,
    max: usize,
}

/// The pool; cloning shares it.
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("Pool")
            .field("threads", &state.threads)
            .field("idle", &state.idle)
            .field("queued", &state.queue.len())
            .field("max", &self.inner.max)
            .finish()
    }
}

impl Pool {
    /// A pool of at most `max` threads (at least one).
    pub(crate) fn new(max: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                work: Condvar::new(),
                max: max.max(1),
            }),
        }
    }

    /// Runs `job` on a pool thread. If no thread can be started (the
    /// system refuses) and none is left to run the queue, it runs on the
    /// calling thread instead, so that its reply is always sent.
    pub(crate) fn run(&self, job: impl FnOnce() + Send + 'static) {
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if state.shutdown {
            drop(state);
            run_caught(Box::new(job));
            return;
        }
        state.queue.push_back(Box::new(job));
        // Idle threads take queued jobs; a job beyond them needs a thread
        // of its own (an idle thread that was woken but has not run yet
        // still counts as idle, so none is counted twice).
        let start = state.queue.len() > state.idle && state.threads < self.inner.max;
        if start {
            state.threads += 1;
        }
        drop(state);
        self.inner.work.notify_one();
        if !start {
            return;
        }
        let inner = self.inner.clone();
        let started = thread::Builder::new()
            .name("oanix-fuse-io".to_owned())
            .spawn(move || worker(&inner));
        if started.is_err() {
            let mut state = self
                .inner
                .state
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            state.threads -= 1;
            let job = (state.threads == 0)
                .then(|| state.queue.pop_back())
                .flatten();
            drop(state);
            if let Some(job) = job {
                run_caught(job);
            }
        }
    }

    /// Lets the threads end once the queue is empty.
    pub(crate) fn shutdown(&self) {
        let mut state = self
            .inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        state.shutdown = true;
        drop(state);
        self.inner.work.notify_all();
    }
}

fn run_caught(job: Job) {
    // The job's reply, dropped in the unwinding, answers EIO.
    let _ = catch_unwind(AssertUnwindSafe(job));
}

fn worker(inner: &Inner) {
    let mut state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if let Some(job) = state.queue.pop_front() {
            drop(state);
            run_caught(job);
            state = inner.state.lock().unwrap_or_else(PoisonError::into_inner);
            continue;
        }
        if state.shutdown {
            state.threads -= 1;
            return;
        }
        state.idle += 1;
        state = inner
            .work
            .wait(state)
            .unwrap_or_else(PoisonError::into_inner);
        state.idle -= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_blocked_job_does_not_hold_up_the_next() {
        let pool = Pool::new(4);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel::<&'static str>();
        let d1 = done_tx.clone();
        pool.run(move || {
            let _ = release_rx.recv();
            let _ = d1.send("slow");
        });
        pool.run(move || {
            let _ = done_tx.send("fast");
        });
        assert_eq!(done_rx.recv().ok(), Some("fast"));
        release_tx.send(()).ok();
        assert_eq!(done_rx.recv().ok(), Some("slow"));
        pool.shutdown();
    }

    #[test]
    fn jobs_queued_at_once_behind_one_idle_thread_each_get_a_thread() {
        let pool = Pool::new(4);
        let (done_tx, done_rx) = mpsc::channel();
        pool.run(move || {
            let _ = done_tx.send(());
        });
        done_rx.recv().ok();
        // Wait until that thread is idle (it has nothing left to do).
        while pool.inner.state.lock().map(|s| s.idle).unwrap_or(0) == 0 {
            thread::yield_now();
        }
        let (entered_tx, entered_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let release_rx = Arc::new(Mutex::new(release_rx));
        for _ in 0..2 {
            let (entered, release) = (entered_tx.clone(), release_rx.clone());
            pool.run(move || {
                let _ = entered.send(());
                let _ = release.lock().map(|r| r.recv());
            });
        }
        for _ in 0..2 {
            assert!(
                entered_rx
                    .recv_timeout(std::time::Duration::from_secs(60))
                    .is_ok(),
                "both blocking jobs run at once"
            );
        }
        drop(release_tx);
        pool.shutdown();
    }

    #[test]
    fn past_the_bound_work_waits_and_a_panic_costs_nothing() {
        let pool = Pool::new(1);
        let (tx, rx) = mpsc::channel();
        #[allow(clippy::panic, reason = "the pool must survive a panicking job")]
        pool.run(|| panic!("a service panicked"));
        for i in 0..3 {
            let tx = tx.clone();
            pool.run(move || {
                let _ = tx.send(i);
            });
        }
        let got: Vec<i32> = (0..3).filter_map(|_| rx.recv().ok()).collect();
        assert_eq!(got, [0, 1, 2], "one thread runs the queue in order");
        pool.shutdown();
    }
}
