//! The running side: a worker takes jobs from the highest band that has
//! one, runs each in an environment of its own, writes its result once and
//! acknowledges it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{self, PullConsumer};
use async_nats::jetstream::{AckKind, Message};
use futures_util::StreamExt as _;
use oanix_env::EnvPlan;
use tokio::io::AsyncReadExt as _;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::error::{NatsError, Result};
use crate::job::{Band, CANCELS, JobResult, JobState, NatsJob, STREAM, now_ms, sha256_hex};
use crate::metrics::Metrics;
use crate::queues::{Queues, put_result};

/// The longest one request to the server is waited for.
const CALL: Duration = Duration::from_secs(5);

/// How long an idle worker waits for word of a new job before it asks the
/// bands again.
const IDLE: Duration = Duration::from_secs(1);

/// How much work (by the recent jobs' durations) a worker takes at once.
const PREFETCH_WORK: Duration = Duration::from_millis(20);

/// The most jobs a worker takes at once.
const MAX_PREFETCH: usize = 32;

/// The most results a worker has being written at once.
const MAX_WRITES: usize = 256;

/// How long a worker keeps trying to write a result the server does not
/// take (it went away, or the worker is cut off from it).
const RESULT_PATIENCE: Duration = Duration::from_secs(120);

/// The most parsed manifests a worker keeps.
const PLANS: usize = 64;

/// What a worker did with one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled {
    /// Ran it and wrote its result.
    Ran(String),
    /// Its result was there already (a redelivery after the result was
    /// written, or a job cancelled before it ran): acknowledged, not run.
    AlreadyDone(String),
    /// Ran it, but another delivery's result was written first: this one
    /// was dropped.
    LateResult(String),
    /// Parked it without running it (too many deliveries, or unreadable).
    Parked(String),
    /// It was cancelled while it ran, and stopped.
    Cancelled(String),
}

/// What a worker tells as it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WorkerEvent {
    /// It took job `id` (delivery `attempt`) and is about to run it.
    Took {
        /// The job.
        id: String,
        /// Which delivery (1 for the first).
        attempt: i64,
    },
    /// It is done with a delivery.
    Done(Handled),
}

/// A worker of one cluster.
#[derive(Debug)]
pub struct Worker {
    queues: Queues,
    name: String,
    cache: PathBuf,
    modules: HashMap<String, Arc<[u8]>>,
    plans: HashMap<String, EnvPlan>,
    /// The recent jobs' mean run time, in seconds.
    mean_run: Option<f64>,
    cancels: Arc<std::sync::Mutex<Cancels>>,
    metrics: Metrics,
}

/// The cancellations a worker has heard of, and the job it runs.
#[derive(Debug, Default)]
struct Cancels {
    heard: std::collections::HashSet<String>,
    running: Option<(String, Arc<AtomicBool>)>,
}

/// The most cancellations a worker remembers (a job cancelled before is
/// found by its result anyway).
const HEARD: usize = 100_000;

impl Cancels {
    /// Job `id` was cancelled: stopped if it runs, not started if held.
    fn heard(&mut self, id: &str) {
        if let Some((running, stop)) = &self.running
            && running == id
        {
            stop.store(true, Ordering::Relaxed);
        }
        if self.heard.len() >= HEARD {
            self.heard.clear();
        }
        self.heard.insert(id.to_owned());
    }
}

/// Results being written, each acknowledging its delivery when done.
type Writes = tokio::task::JoinSet<Handled>;

impl Worker {
    /// A worker named `name` (it signs its results), caching modules in
    /// the directory `cache`.
    pub fn new(queues: Queues, name: impl Into<String>, cache: impl Into<PathBuf>) -> Self {
        Self {
            queues,
            name: name.into(),
            cache: cache.into(),
            modules: HashMap::new(),
            plans: HashMap::new(),
            mean_run: None,
            cancels: Arc::default(),
            metrics: Metrics::worker(),
        }
    }

    /// The worker's metrics (jobs by how they ended, durations, environment
    /// starts, queue depth, capability requests by outcome), live.
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    async fn consumers(&self) -> Result<Vec<(Band, PullConsumer)>> {
        let stream = self
            .queues
            .js
            .get_stream(STREAM)
            .await
            .map_err(|e| NatsError::nats(format!("the stream {STREAM}"), e))?;
        let mut out = Vec::new();
        for band in Band::ALL {
            // Made, or updated to this worker's settings (the server edits
            // an existing durable consumer given the same name).
            let c: PullConsumer = stream
                .create_consumer(consumer::pull::Config {
                    durable_name: Some(band.consumer()),
                    filter_subject: band.subject(),
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: self.queues.config.ack_wait,
                    // Workers park a job themselves past max_attempts, so
                    // that its reason is written down.
                    max_deliver: -1,
                    // Several workers' requests wait at once.
                    max_waiting: 512,
                    ..Default::default()
                })
                .await
                .map_err(|e| NatsError::nats(format!("the consumer {}", band.consumer()), e))?;
            out.push((band, c));
        }
        Ok(out)
    }

    /// How many jobs to take at once: about [`PREFETCH_WORK`] of them by
    /// the recent run times, one while those are not known.
    fn prefetch(&self) -> usize {
        match self.mean_run {
            None => 1,
            Some(mean) => {
                let n = PREFETCH_WORK.as_secs_f64() / mean.max(1e-6);
                (n as usize).clamp(1, MAX_PREFETCH)
            }
        }
    }

    /// Up to `n` jobs of the highest band that has any, without waiting.
    async fn take(consumers: &[(Band, PullConsumer)], n: usize) -> Vec<Message> {
        for (_, consumer) in consumers {
            // Bounded: a request made as the server goes away is not
            // answered, and the client does not give up on it by itself.
            let fetched = tokio::time::timeout(CALL, async {
                let mut out = Vec::new();
                let Ok(mut batch) = consumer.fetch().max_messages(n).messages().await else {
                    return out;
                };
                while let Some(Ok(message)) = batch.next().await {
                    out.push(message);
                }
                out
            })
            .await;
            if let Ok(taken) = fetched
                && !taken.is_empty()
            {
                return taken;
            }
        }
        Vec::new()
    }

    /// Takes and runs jobs until `shutdown` is cancelled (the job in hand
    /// is finished first, jobs taken with it are handed back), telling
    /// `events` as it goes.
    ///
    /// A server that goes away is waited for (the client reconnects);
    /// fetches that fail meanwhile are retried.
    ///
    /// # Errors
    /// [`NatsError::Nats`] when the stream or its consumers do not exist.
    pub async fn run(
        &mut self,
        shutdown: CancellationToken,
        mut events: impl FnMut(&WorkerEvent),
    ) -> Result<()> {
        let consumers = self.consumers().await?;
        let client = self.queues.js.client();
        let listener = {
            let prefix = format!("{CANCELS}.");
            let mut told = client
                .subscribe(format!("{CANCELS}.>"))
                .await
                .map_err(|e| NatsError::nats("listening for cancellations", e))?;
            let cancels = Arc::clone(&self.cancels);
            tokio::spawn(async move {
                while let Some(m) = told.next().await {
                    if let Some(id) = m.subject.strip_prefix(prefix.as_str())
                        && let Ok(mut c) = cancels.lock()
                    {
                        c.heard(id);
                    }
                }
            })
        };
        let mut writes = Writes::new();
        let mut depth_seen = Instant::now() - Duration::from_secs(10);
        while !shutdown.is_cancelled() {
            if depth_seen.elapsed() >= Duration::from_secs(1) {
                depth_seen = Instant::now();
                self.queue_depth(&consumers).await;
            }
            while let Some(done) = writes.try_join_next() {
                self.told(done, &mut events);
            }
            let n = self.prefetch();
            let mut taken = Self::take(&consumers, n).await;
            if taken.is_empty() {
                // Idle: listen for a job published on any band, then ask
                // again (a job published before the subscription took is in
                // the stream, and the second ask finds it).
                let heard = client.subscribe("oanix.jobs.>").await.ok();
                taken = Self::take(&consumers, n).await;
                if taken.is_empty() {
                    let wake = async {
                        match heard {
                            Some(mut s) => {
                                let _ = tokio::time::timeout(IDLE, s.next()).await;
                            }
                            None => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    };
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = wake => {}
                        Some(done) = writes.join_next(), if !writes.is_empty() => {
                            self.told(done, &mut events);
                        }
                    }
                    continue;
                }
            }
            self.run_taken(taken, &shutdown, &mut writes, &mut events)
                .await;
            while writes.len() > MAX_WRITES {
                if let Some(done) = writes.join_next().await {
                    self.told(done, &mut events);
                }
            }
        }
        while let Some(done) = writes.join_next().await {
            self.told(done, &mut events);
        }
        listener.abort();
        Ok(())
    }

    async fn queue_depth(&self, consumers: &[(Band, PullConsumer)]) {
        for (band, consumer) in consumers {
            if let Ok(Ok(info)) = tokio::time::timeout(CALL, consumer.get_info()).await {
                let labels = format!("band=\"{}\"", band.as_str());
                self.metrics
                    .set("oanix_worker_queue_depth", &labels, info.num_pending as f64);
            }
        }
    }

    /// Counts and tells a finished write (a panicked one is not told).
    fn told(
        &self,
        done: std::result::Result<Handled, tokio::task::JoinError>,
        events: &mut impl FnMut(&WorkerEvent),
    ) {
        if let Ok(h) = done {
            self.count(&h);
            events(&WorkerEvent::Done(h));
        }
    }

    fn count(&self, h: &Handled) {
        let state = match h {
            Handled::Ran(_) => "ran",
            Handled::AlreadyDone(_) => "already_done",
            Handled::LateResult(_) => "late_result",
            Handled::Parked(_) => "parked",
            Handled::Cancelled(_) => "cancelled",
        };
        self.metrics.add(
            "oanix_worker_jobs_total",
            &format!("state=\"{state}\""),
            1.0,
        );
    }

    /// Runs the jobs taken together, one after the other, progress acks
    /// going out for all that are not done yet; after a shutdown those not
    /// started are handed back at once.
    async fn run_taken(
        &mut self,
        taken: Vec<Message>,
        shutdown: &CancellationToken,
        writes: &mut Writes,
        events: &mut impl FnMut(&WorkerEvent),
    ) {
        let client = self.queues.js.client();
        let held: Arc<std::sync::Mutex<Vec<async_nats::Subject>>> = Arc::new(
            std::sync::Mutex::new(taken.iter().filter_map(|m| m.reply.clone()).collect()),
        );
        // Progress acks keep the jobs from being delivered again while they
        // wait or run.
        let ticker = {
            let held = Arc::clone(&held);
            let every = self.queues.config.ack_wait / 3;
            tokio::spawn(async move {
                let mut progress = tokio::time::interval(every);
                progress.tick().await;
                loop {
                    progress.tick().await;
                    let replies = held.lock().map(|h| h.clone()).unwrap_or_default();
                    for reply in replies {
                        let _ = client.publish(reply, "+WPI".into()).await;
                    }
                }
            })
        };
        // Whose results are there already (a redelivery of a finished job,
        // a job cancelled or resubmitted), asked for all at once.
        let queues = &self.queues;
        let done: Vec<bool> = futures_util::future::join_all(taken.iter().map(|m| async move {
            let Ok(job) = serde_json::from_slice::<NatsJob>(&m.payload) else {
                return false;
            };
            matches!(
                tokio::time::timeout(CALL, queues.result(&job.id)).await,
                Ok(Ok(Some(_)))
            )
        }))
        .await;
        for (message, done) in taken.into_iter().zip(done) {
            if shutdown.is_cancelled() {
                // Handed back: another worker takes it without waiting for
                // the ack wait.
                let _ = message.ack_with(AckKind::Nak(None)).await;
            } else if let Some(h) = self.handle(message, done, events, writes).await {
                self.count(&h);
                events(&WorkerEvent::Done(h));
            }
            if let Ok(mut h) = held.lock() {
                h.remove(0);
            }
        }
        ticker.abort();
    }

    /// Writes a parked result now and terminates its delivery.
    async fn park(&self, message: &Message, id: &str, attempt: i64, reason: String) {
        let parked = self.parked(id, attempt, reason);
        if matches!(
            tokio::time::timeout(CALL, put_result(&self.queues.results, &parked)).await,
            Ok(Ok(_))
        ) {
            let _ = message.ack_with(AckKind::Term).await;
        }
    }

    fn parked(&self, id: &str, attempt: i64, reason: String) -> JobResult {
        JobResult {
            id: id.to_owned(),
            state: JobState::Parked,
            exit_code: None,
            error: Some(reason),
            result: None,
            stdout_sha256: sha256_hex(b""),
            stderr_sha256: sha256_hex(b""),
            stdout_head: String::new(),
            worker: self.name.clone(),
            attempt,
            duration_ms: 0.0,
            finished_ms: now_ms(),
        }
    }

    /// One delivery: skipped (`done`: its result exists), parked, or run;
    /// a run's result is written in `writes` (`None` is returned), the rest
    /// are told at once.
    async fn handle(
        &mut self,
        message: Message,
        done: bool,
        events: &mut impl FnMut(&WorkerEvent),
        writes: &mut Writes,
    ) -> Option<Handled> {
        let attempt = message.info().map_or(1, |i| i.delivered);
        let job: NatsJob = match serde_json::from_slice(&message.payload) {
            Ok(j) => j,
            Err(e) => {
                // No id to write a result under: terminated, never redelivered.
                let _ = message.ack_with(AckKind::Term).await;
                return Some(Handled::Parked(format!("unreadable job: {e}")));
            }
        };
        let heard = self.cancels.lock().is_ok_and(|c| c.heard.contains(&job.id));
        if done || heard {
            let _ = message.ack().await;
            return Some(Handled::AlreadyDone(job.id));
        }
        if attempt > self.queues.config.max_attempts {
            let reason = format!(
                "parked after {} deliveries without a result (the job ended its worker each time)",
                attempt - 1
            );
            self.park(&message, &job.id, attempt, reason).await;
            return Some(Handled::Parked(job.id));
        }
        let wasm = match self.module(&job.module).await {
            Ok(w) => w,
            Err(e) => {
                self.park(&message, &job.id, attempt, e.to_string()).await;
                return Some(Handled::Parked(job.id));
            }
        };
        let plan = self.plan(&job);
        let worker = self.name.clone();
        let id = job.id.clone();
        let stop = Arc::new(AtomicBool::new(false));
        // Under the lock the listener takes: a cancellation heard from here
        // on sets `stop`.
        let heard = match self.cancels.lock() {
            Ok(c) if c.heard.contains(&id) => true,
            Ok(mut c) => {
                c.running = Some((id.clone(), Arc::clone(&stop)));
                false
            }
            Err(_) => false,
        };
        if heard {
            let _ = message.ack().await;
            return Some(Handled::AlreadyDone(id));
        }
        events(&WorkerEvent::Took {
            id: id.clone(),
            attempt,
        });
        // The run continues the submitter's trace (the message's headers).
        let span = tracing::info_span!(
            "oanix.job.run",
            job = %id,
            attempt,
            worker = %self.name,
            state = tracing::field::Empty,
        );
        crate::trace::continue_in(&span, message.headers.as_ref());
        let in_span = span.clone();
        let run = move || {
            in_span.in_scope(|| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_job(&job, plan, &wasm, &worker, attempt, stop)
                }))
            })
        };
        // On a runtime with several threads the run takes this one (the
        // others go on with the network); otherwise it gets a thread.
        let ran = if tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(run)
        } else {
            tokio::task::spawn_blocking(run)
                .await
                .unwrap_or_else(|e| Err(Box::new(e.to_string())))
        };
        if let Ok(mut c) = self.cancels.lock() {
            c.running = None;
        }
        let result = match ran {
            Ok((r, stats)) => {
                self.ran(&r, stats);
                r
            }
            Err(panic) => {
                let why = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                self.parked(&id, attempt, format!("the run panicked: {why}"))
            }
        };
        span.record("state", format!("{:?}", result.state).to_lowercase());
        if result.state == JobState::Cancelled {
            // Its cancelled result is written already.
            let _ = message.ack().await;
            return Some(Handled::Cancelled(id));
        }
        let results = self.queues.results.clone();
        let written = tracing::info_span!(
            parent: &span,
            "oanix.job.result",
            job = %id,
            outcome = tracing::field::Empty,
        );
        drop(span);
        let outcome = written.clone();
        let write = async move {
            // Tried again while the server does not answer: a finished
            // job's result is worth the wait.
            let started = Instant::now();
            loop {
                match tokio::time::timeout(CALL, put_result(&results, &result)).await {
                    Ok(Ok(true)) => {
                        let _ = message.ack().await;
                        return Handled::Ran(id);
                    }
                    Ok(Ok(false)) => {
                        let _ = message.ack().await;
                        return Handled::LateResult(id);
                    }
                    // Not acknowledged: delivered again after the ack wait.
                    _ if started.elapsed() > RESULT_PATIENCE => return Handled::LateResult(id),
                    _ => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        };
        writes.spawn(
            async move {
                let h = write.await;
                let how = match &h {
                    Handled::Ran(_) => "written",
                    _ => "dropped: another result came first",
                };
                outcome.record("outcome", how);
                h
            }
            .instrument(written),
        );
        None
    }

    /// Counts a run in the metrics and in the mean run time.
    fn ran(&mut self, r: &JobResult, stats: RunStats) {
        if stats.env_started {
            self.metrics
                .add("oanix_worker_environment_starts_total", "", 1.0);
        }
        for (outcome, n) in stats.http {
            self.metrics.add(
                "oanix_worker_capability_requests_total",
                &format!("capability=\"http\",outcome=\"{outcome}\""),
                n as f64,
            );
        }
        let secs = r.duration_ms / 1e3;
        self.metrics
            .observe("oanix_worker_job_duration_seconds", secs);
        self.mean_run = Some(match self.mean_run {
            None => secs,
            Some(m) => 0.8 * m + 0.2 * secs,
        });
    }

    /// The job's plan: its manifest parsed once per worker.
    fn plan(&mut self, job: &NatsJob) -> std::result::Result<EnvPlan, String> {
        if let Some(plan) = self.plans.get(&job.manifest) {
            return Ok(plan.clone());
        }
        let mut plan = EnvPlan::from_manifest(
            &job.manifest,
            &format!("the manifest of job {}", job.id),
            Path::new("."),
        )
        .map_err(|e| e.to_string())?;
        plan.agent.module = None;
        if self.plans.len() >= PLANS {
            self.plans.clear();
        }
        self.plans.insert(job.manifest.clone(), plan.clone());
        Ok(plan)
    }

    /// The module with hash `hash`: from memory, the cache directory, or
    /// the object store (checked against its hash, then cached).
    async fn module(&mut self, hash: &str) -> Result<Arc<[u8]>> {
        if let Some(m) = self.modules.get(hash) {
            return Ok(Arc::clone(m));
        }
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NatsError::Corrupt {
                expected: hash.to_owned(),
                found: "(not a SHA-256)".into(),
            });
        }
        let path = self.cache.join(format!("{hash}.wasm"));
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) if sha256_hex(&b) == hash => b,
            _ => {
                let mut object = self
                    .queues
                    .modules
                    .get(hash)
                    .await
                    .map_err(|e| NatsError::nats(format!("fetching module {hash}"), e))?;
                let mut b = Vec::new();
                object
                    .read_to_end(&mut b)
                    .await
                    .map_err(|e| NatsError::nats(format!("reading module {hash}"), e))?;
                let found = sha256_hex(&b);
                if found != hash {
                    return Err(NatsError::Corrupt {
                        expected: hash.to_owned(),
                        found,
                    });
                }
                save(&self.cache, &path, &b).await?;
                b
            }
        };
        let bytes: Arc<[u8]> = bytes.into();
        self.modules.insert(hash.to_owned(), Arc::clone(&bytes));
        Ok(bytes)
    }
}

/// Writes `bytes` to `path` whole or not at all.
async fn save(dir: &Path, path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |e: std::io::Error| NatsError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    tokio::fs::create_dir_all(dir).await.map_err(io)?;
    let temp = path.with_extension(format!("part-{}", std::process::id()));
    tokio::fs::write(&temp, bytes).await.map_err(io)?;
    tokio::fs::rename(&temp, path).await.map_err(io)
}

/// What a run adds to the worker's metrics.
#[derive(Debug, Default)]
struct RunStats {
    env_started: bool,
    http: Vec<(&'static str, u64)>,
}

/// Runs `job` in an environment built from its manifest.
fn run_job(
    job: &NatsJob,
    plan: std::result::Result<EnvPlan, String>,
    wasm: &[u8],
    worker: &str,
    attempt: i64,
    stop: Arc<AtomicBool>,
) -> (JobResult, RunStats) {
    let mut stats = RunStats::default();
    let started = Instant::now();
    let mut out = JobResult {
        id: job.id.clone(),
        state: JobState::Failed,
        exit_code: None,
        error: None,
        result: None,
        stdout_sha256: sha256_hex(b""),
        stderr_sha256: sha256_hex(b""),
        stdout_head: String::new(),
        worker: worker.to_owned(),
        attempt,
        duration_ms: 0.0,
        finished_ms: 0,
    };
    let built = plan.and_then(|plan| {
        plan.builder()
            .and_then(|b| b.build())
            .map_err(|e| e.to_string())
    });
    match built {
        Err(e) => out.error = Some(e),
        Ok(env) => {
            stats.env_started = true;
            let mut config = env
                .run_config()
                .args(job.args.iter().cloned())
                .stop_flag(stop);
            if let Some(t) = job.timeout_secs.filter(|t| t.is_finite() && *t > 0.0) {
                config = config.timeout(Duration::from_secs_f64(t));
            }
            match env.run_wasi(wasm, config) {
                Ok(r) => {
                    out.stdout_sha256 = sha256_hex(&r.stdout);
                    out.stderr_sha256 = sha256_hex(&r.stderr);
                    let head = &r.stdout[..r.stdout.len().min(4096)];
                    out.stdout_head = String::from_utf8_lossy(head).into_owned();
                    match (&r.trap, r.exit_code) {
                        (Some(trap), _) if trap.kind == oanix_wasi::TrapKind::Cancelled => {
                            out.state = JobState::Cancelled;
                            out.error = Some(trap.to_string());
                        }
                        (Some(trap), _) => out.error = Some(trap.to_string()),
                        (None, code) => {
                            out.state = JobState::Completed;
                            out.exit_code = Some(i64::from(code.unwrap_or(0)));
                        }
                    }
                }
                Err(e) => out.error = Some(e.to_string()),
            }
            if let Some(task) = env.task() {
                out.result = task.result().ok().flatten();
            }
            if let Some(http) = env.http() {
                let st = http.status();
                stats.http = vec![
                    ("completed", st.completed),
                    ("failed", st.failed),
                    ("refused", st.refused),
                    ("invalid", st.invalid),
                ];
            }
        }
    }
    out.duration_ms = started.elapsed().as_secs_f64() * 1e3;
    out.finished_ms = now_ms();
    (out, stats)
}
