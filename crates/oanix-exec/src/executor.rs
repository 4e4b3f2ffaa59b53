//! The `Executor` trait every executor implements, the context it runs
//! with and the shutdown signal: a leaf that the executors and the manager
//! import.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use event_listener::Event;
use tokio::runtime::Handle;

use crate::config::ExecutorConfig;
use crate::error::Result;

/// A boxed future that can move between threads: what [`Executor::run`]
/// returns, so that the trait stays object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Something that carries out a capability service's work: takes what the
/// service queued, does the I/O, delivers the outcome back.
///
/// The trait is object-safe; the manager holds executors as
/// `Box<dyn Executor>` and spawns each one's [`run`](Self::run) future on
/// its runtime. The three built-in executors ([`HttpExecutor`](crate::HttpExecutor),
/// [`WsConnector`](crate::WsConnector), [`NostrRelayConnector`](crate::NostrRelayConnector))
/// implement it like anyone else's.
///
/// A `run` future must:
///
/// - wake on its service's notifications (`work_listener()`), not on a timer
///   ([`ExecutorContext::poll_interval`] is only a fallback);
/// - return soon after [`ExecutorContext::shutdown`] fires, taking no new
///   work after it, giving in-flight work [`ExecutorContext::grace`] to
///   finish and failing what remains with a reason the agent can read.
///
/// ```
/// use oanix_caps::{EgressPolicy, HttpFs, HttpResponse};
/// use oanix_exec::{BoxFuture, Executor, ExecutorConfig, ExecutorContext, ExecutorError, ExecutorManager};
///
/// /// Answers every request with 204, without touching the network.
/// struct NoContent(HttpFs);
///
/// impl Executor for NoContent {
///     fn name(&self) -> &str {
///         "no-content"
///     }
///     fn run(self: Box<Self>, ctx: ExecutorContext) -> BoxFuture<'static, Result<(), ExecutorError>> {
///         Box::pin(async move {
///             while !ctx.shutdown().is_triggered() {
///                 let listener = self.0.work_listener();
///                 let batch = self.0.take_pending_batch(16);
///                 if batch.is_empty() {
///                     tokio::select! {
///                         _ = listener => {}
///                         _ = ctx.shutdown().triggered() => {}
///                     }
///                     continue;
///                 }
///                 for p in batch {
///                     self.0.complete_request(HttpResponse::new(&p.id, 204))?;
///                 }
///             }
///             Ok(())
///         })
///     }
/// }
///
/// let http = HttpFs::builder().policy(EgressPolicy::allow_hosts(["example.com"]).build()?).build();
/// let mut manager = ExecutorManager::new(ExecutorConfig::default())?;
/// manager.attach(NoContent(http.clone()));
/// manager.start()?;
/// let id = http.try_submit(oanix_caps::HttpRequest::get("https://example.com/"))?;
/// let outcome = http.wait_response(&id, std::time::Duration::from_secs(10))?;
/// assert_eq!(outcome.response().map(|r| r.status), Some(204));
/// manager.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Executor: Send + 'static {
    /// A short name, for errors and records (`"http"`, `"ws"`, `"nostr"`).
    fn name(&self) -> &str;

    /// Runs until the context's shutdown fires, then winds down (see the
    /// trait docs) and returns.
    fn run(self: Box<Self>, ctx: ExecutorContext) -> BoxFuture<'static, Result<()>>;
}

/// Everything an executor runs with: the configuration, the runtime and the
/// shutdown signal.
#[derive(Debug, Clone)]
pub struct ExecutorContext {
    config: Arc<ExecutorConfig>,
    handle: Handle,
    shutdown: ShutdownSignal,
}

impl ExecutorContext {
    /// A context sharing the manager's configuration and shutdown signal.
    pub(crate) fn from_parts(
        config: Arc<ExecutorConfig>,
        handle: Handle,
        shutdown: ShutdownSignal,
    ) -> Self {
        Self {
            config,
            handle,
            shutdown,
        }
    }

    /// A context on `handle` with `config`, and the trigger of its shutdown
    /// signal: for running an executor without a manager (tests, or a host
    /// with its own supervision).
    pub fn new(config: ExecutorConfig, handle: Handle) -> (Self, ShutdownTrigger) {
        let signal = ShutdownSignal::default();
        (
            Self {
                config: Arc::new(config),
                handle,
                shutdown: signal.clone(),
            },
            ShutdownTrigger(signal),
        )
    }

    /// The configuration.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// The runtime the executor runs on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The shutdown signal.
    pub fn shutdown(&self) -> &ShutdownSignal {
        &self.shutdown
    }

    /// How long in-flight work may take to finish once shutdown fires.
    pub fn grace(&self) -> Duration {
        self.config.shutdown_grace
    }

    /// The fallback wake-up period, if configured (see
    /// [`ExecutorConfig::poll_interval`]).
    pub fn poll_interval(&self) -> Option<Duration> {
        self.config.poll_interval
    }

    /// Waits for the fallback wake-up period, or forever when there is none:
    /// for `select!`ing beside a service's listener.
    pub async fn fallback_tick(&self) {
        match self.config.poll_interval {
            Some(every) => tokio::time::sleep(every).await,
            None => std::future::pending().await,
        }
    }
}

/// The receiving side of a shutdown: cheap to clone, checked with
/// [`is_triggered`](Self::is_triggered) or awaited with
/// [`triggered`](Self::triggered).
#[derive(Clone, Default)]
pub struct ShutdownSignal {
    inner: Arc<SignalInner>,
}

#[derive(Default)]
struct SignalInner {
    fired: AtomicBool,
    event: Event,
}

impl fmt::Debug for ShutdownSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShutdownSignal")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

impl ShutdownSignal {
    /// Whether shutdown has begun.
    pub fn is_triggered(&self) -> bool {
        self.inner.fired.load(Ordering::SeqCst)
    }

    /// Completes once shutdown has begun (at once if it has).
    pub async fn triggered(&self) {
        loop {
            let listener = self.inner.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.await;
        }
    }

    pub(crate) fn fire(&self) {
        self.inner.fired.store(true, Ordering::SeqCst);
        self.inner.event.notify(usize::MAX);
    }
}

/// Begins a shutdown: see [`ExecutorContext::new`].
#[derive(Debug, Clone)]
pub struct ShutdownTrigger(ShutdownSignal);

impl ShutdownTrigger {
    /// Fires the signal (once; later calls do nothing).
    pub fn trigger(&self) {
        self.0.fire();
    }
}
