//! `ExecutorManager`: runs executors (the built-in ones and anyone's) on a
//! tokio runtime and stops them gracefully.

use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use event_listener::Event;
use oanix_caps::{HttpFs, NostrFs, WsFs};
use tokio::runtime::{Handle, Runtime};
use tokio::task::AbortHandle;

use crate::config::ExecutorConfig;
use crate::error::{ExecutorError, Result};
use crate::executor::{Executor, ExecutorContext, ShutdownSignal};
use crate::http::HttpExecutor;
use crate::nostr::NostrRelayConnector;
use crate::ws::WsConnector;

enum RuntimeSlot {
    Owned(Runtime),
    Borrowed,
}

struct Running {
    id: usize,
    name: String,
    abort: AbortHandle,
}

/// Runs executors on a tokio runtime and stops them gracefully.
///
/// The manager either owns a multi-threaded runtime ([`new`](Self::new),
/// [`ExecutorConfig::worker_threads`] threads) or runs on one the host
/// already has ([`with_handle`](Self::with_handle)). Attach executors —
/// the built-in ones with [`attach_http`](Self::attach_http),
/// [`attach_ws`](Self::attach_ws) and [`attach_nostr`](Self::attach_nostr),
/// any [`Executor`] with [`attach`](Self::attach) — then
/// [`start`](Self::start) them. Executors attached after `start` start at
/// once.
///
/// [`shutdown`](Self::shutdown) fires the shutdown signal, waits up to
/// [`ExecutorConfig::shutdown_grace`] (plus a second) for every executor to
/// wind down, aborts the rest and reports them. Dropping the manager
/// without `shutdown` fires the signal and returns at once.
pub struct ExecutorManager {
    config: Arc<ExecutorConfig>,
    runtime: RuntimeSlot,
    handle: Handle,
    waiting: Vec<Box<dyn Executor>>,
    running: Vec<Running>,
    started: bool,
    shutdown: ShutdownSignal,
    finished: Arc<Finished>,
    next_id: usize,
    init_error: Option<ExecutorError>,
}

impl fmt::Debug for ExecutorManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecutorManager")
            .field(
                "owns_runtime",
                &matches!(self.runtime, RuntimeSlot::Owned(_)),
            )
            .field(
                "waiting",
                &self.waiting.iter().map(|e| e.name()).collect::<Vec<_>>(),
            )
            .field(
                "running",
                &self
                    .running
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("started", &self.started)
            .finish()
    }
}

/// The runtime shared by the process: two worker threads, time and I/O
/// enabled, built at the first call and kept for the life of the process.
///
/// Environments run their executors on it, and the egress proxy serves on
/// it: a request the proxy hands to an executor and the answer coming back
/// then stay on one runtime's threads instead of waking another's twice.
///
/// # Errors
/// [`ExecutorError::Runtime`] if the runtime cannot be built (no threads).
pub fn shared_runtime() -> Result<Handle> {
    static RUNTIME: std::sync::OnceLock<tokio::runtime::Runtime> = std::sync::OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt.handle().clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("oanix-shared")
        .enable_all()
        .build()
        .map_err(ExecutorError::Runtime)?;
    Ok(RUNTIME.get_or_init(|| rt).handle().clone())
}

impl ExecutorManager {
    /// A manager with a runtime of its own.
    pub fn new(config: ExecutorConfig) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("oanix-exec")
            .enable_all()
            .build()
            .map_err(ExecutorError::Runtime)?;
        let handle = runtime.handle().clone();
        Ok(Self::make(config, RuntimeSlot::Owned(runtime), handle))
    }

    /// A manager that runs its executors on `handle` (a runtime the host
    /// owns and keeps alive; it needs the time and I/O drivers enabled).
    pub fn with_handle(config: ExecutorConfig, handle: Handle) -> Self {
        Self::make(config, RuntimeSlot::Borrowed, handle)
    }

    fn make(config: ExecutorConfig, runtime: RuntimeSlot, handle: Handle) -> Self {
        Self {
            config: Arc::new(config),
            runtime,
            handle,
            waiting: Vec::new(),
            running: Vec::new(),
            started: false,
            shutdown: ShutdownSignal::default(),
            finished: Arc::default(),
            next_id: 0,
            init_error: None,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// The runtime's handle (for spawning the host's own tasks beside the
    /// executors).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Attaches an executor; it starts with [`start`](Self::start), or at
    /// once if the manager is started.
    pub fn attach(&mut self, executor: impl Executor) {
        self.attach_boxed(Box::new(executor));
    }

    /// Attaches a boxed executor.
    pub fn attach_boxed(&mut self, executor: Box<dyn Executor>) {
        if self.started {
            self.spawn(executor);
        } else {
            self.waiting.push(executor);
        }
    }

    fn keep_error<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                if self.init_error.is_none() {
                    self.init_error = Some(e);
                }
                None
            }
        }
    }

    /// Attaches an [`HttpExecutor`] for `http` (an `Arc<HttpFs>`, a
    /// `&HttpFs`...). An error building it (a bad root certificate) is
    /// reported by [`start`](Self::start).
    pub fn attach_http(&mut self, http: impl Deref<Target = HttpFs>) {
        let built = HttpExecutor::new(http.clone(), &self.config);
        if let Some(e) = self.keep_error(built) {
            self.attach(e);
        }
    }

    /// Attaches a [`WsConnector`] for `ws`.
    pub fn attach_ws(&mut self, ws: impl Deref<Target = WsFs>) {
        let built = WsConnector::new(ws.clone(), &self.config);
        if let Some(e) = self.keep_error(built) {
            self.attach(e);
        }
    }

    /// Attaches a [`NostrRelayConnector`] for `nostr`.
    pub fn attach_nostr(&mut self, nostr: impl Deref<Target = NostrFs>) {
        let built = NostrRelayConnector::new(nostr.clone(), &self.config);
        if let Some(e) = self.keep_error(built) {
            self.attach(e);
        }
    }

    fn context(&self) -> ExecutorContext {
        ExecutorContext::from_parts(
            Arc::clone(&self.config),
            self.handle.clone(),
            self.shutdown.clone(),
        )
    }

    fn spawn(&mut self, executor: Box<dyn Executor>) {
        let name = executor.name().to_owned();
        let ctx = self.context();
        let task = self.handle.spawn(executor.run(ctx));
        let abort = task.abort_handle();
        let finished = Arc::clone(&self.finished);
        let reported = name.clone();
        let id = self.next_id;
        self.next_id += 1;
        // A second task reports how the executor ended, panics included.
        self.handle.spawn(async move {
            let outcome = match task.await {
                Ok(r) => r,
                Err(e) if e.is_panic() => Err(ExecutorError::Panicked {
                    name: reported.clone(),
                }),
                Err(_) => Ok(()),
            };
            finished.push(id, outcome);
        });
        self.running.push(Running { id, name, abort });
    }

    /// Starts every attached executor.
    pub fn start(&mut self) -> Result<()> {
        if let Some(e) = self.init_error.take() {
            return Err(e);
        }
        if self.started {
            return Err(ExecutorError::AlreadyStarted);
        }
        self.started = true;
        for executor in std::mem::take(&mut self.waiting) {
            self.spawn(executor);
        }
        Ok(())
    }

    /// Whether [`start`](Self::start) has run.
    pub fn is_started(&self) -> bool {
        self.started
    }

    /// Stops every executor gracefully and waits for them (blocking the
    /// calling thread; from async code use
    /// [`shutdown_async`](Self::shutdown_async)). Returns the first error an
    /// executor ended with, or `ShutdownTimeout` naming those that had to
    /// be aborted.
    pub fn shutdown(mut self) -> Result<()> {
        self.shutdown.fire();
        let deadline = Instant::now() + self.config.shutdown_grace + Duration::from_secs(1);
        self.finished.wait_blocking(self.running.len(), deadline);
        let r = self.finish();
        if let RuntimeSlot::Owned(rt) = std::mem::replace(&mut self.runtime, RuntimeSlot::Borrowed)
        {
            // Waiting for a runtime's threads is not allowed from inside a
            // runtime; there, let them finish in the background.
            if Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(1));
            }
        }
        r
    }

    /// [`shutdown`](Self::shutdown) for async callers: awaits instead of
    /// blocking. With a runtime of its own, the manager shuts it down in the
    /// background at the end.
    pub async fn shutdown_async(mut self) -> Result<()> {
        self.shutdown.fire();
        let deadline =
            tokio::time::Instant::now() + self.config.shutdown_grace + Duration::from_secs(1);
        self.finished.wait_async(self.running.len(), deadline).await;
        let r = self.finish();
        if let RuntimeSlot::Owned(rt) = std::mem::replace(&mut self.runtime, RuntimeSlot::Borrowed)
        {
            rt.shutdown_background();
        }
        r
    }

    fn finish(&mut self) -> Result<()> {
        let results = std::mem::take(&mut *self.finished.lock());
        let mut late = Vec::new();
        for r in &self.running {
            if !results.iter().any(|(id, _)| *id == r.id) {
                r.abort.abort();
                late.push(r.name.clone());
            }
        }
        self.running.clear();
        for (_, r) in results {
            r?;
        }
        if late.is_empty() {
            Ok(())
        } else {
            Err(ExecutorError::ShutdownTimeout { names: late })
        }
    }
}

/// How executors ended, filled in by the reporting tasks and waited on by
/// `shutdown` (blocking, through the condition variable) or `shutdown_async`
/// (through the event).
#[derive(Default)]
struct Finished {
    results: Mutex<Vec<(usize, Result<()>)>>,
    cond: Condvar,
    event: Event,
}

impl Finished {
    fn push(&self, id: usize, r: Result<()>) {
        self.lock().push((id, r));
        self.cond.notify_all();
        self.event.notify(usize::MAX);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(usize, Result<()>)>> {
        self.results.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until `n` executors have ended or `deadline` passes.
    fn wait_blocking(&self, n: usize, deadline: Instant) {
        let mut done = self.lock();
        while done.len() < n {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            done = match self.cond.wait_timeout(done, left) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    async fn wait_async(&self, n: usize, deadline: tokio::time::Instant) {
        loop {
            let listener = self.event.listen();
            if self.lock().len() >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, listener).await.is_err() {
                return;
            }
        }
    }
}

impl Drop for ExecutorManager {
    fn drop(&mut self) {
        self.shutdown.fire();
        if let RuntimeSlot::Owned(rt) = std::mem::replace(&mut self.runtime, RuntimeSlot::Borrowed)
        {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::BoxFuture;

    struct Failing;

    impl Executor for Failing {
        fn name(&self) -> &str {
            "failing"
        }
        fn run(self: Box<Self>, ctx: ExecutorContext) -> BoxFuture<'static, Result<()>> {
            Box::pin(async move {
                ctx.shutdown().triggered().await;
                Err(ExecutorError::Executor {
                    name: "failing".into(),
                    message: "could not wind down".into(),
                })
            })
        }
    }

    struct Stubborn;

    impl Executor for Stubborn {
        fn name(&self) -> &str {
            "stubborn"
        }
        fn run(self: Box<Self>, _ctx: ExecutorContext) -> BoxFuture<'static, Result<()>> {
            Box::pin(std::future::pending())
        }
    }

    fn quick() -> ExecutorConfig {
        ExecutorConfig::builder()
            .worker_threads(1)
            .shutdown_grace(Duration::from_millis(50))
            .build()
    }

    #[test]
    fn start_twice_is_an_error_and_errors_come_back_from_shutdown() {
        let mut m = ExecutorManager::new(quick()).unwrap();
        m.attach(Failing);
        m.start().unwrap();
        assert!(matches!(m.start(), Err(ExecutorError::AlreadyStarted)));
        let e = m.shutdown().unwrap_err();
        assert_eq!(
            e.to_string(),
            "executor `failing` failed: could not wind down"
        );
    }

    #[test]
    fn executors_that_do_not_stop_are_aborted_and_named() {
        let mut m = ExecutorManager::new(quick()).unwrap();
        m.attach(Stubborn);
        m.start().unwrap();
        match m.shutdown() {
            Err(ExecutorError::ShutdownTimeout { names }) => assert_eq!(names, ["stubborn"]),
            other => panic!("expected a timeout, got {other:?}"),
        }
    }

    #[test]
    fn a_manager_runs_on_a_runtime_the_host_owns() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut m = ExecutorManager::with_handle(quick(), rt.handle().clone());
        m.start().unwrap();
        m.attach(Failing); // attached after start: runs at once
        let r = rt.block_on(m.shutdown_async());
        assert!(matches!(r, Err(ExecutorError::Executor { .. })));
    }
}
