//! The running side: a worker takes jobs from the highest band that has
//! one, runs each in an environment of its own, writes its result once and
//! acknowledges it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{self, PullConsumer};
use async_nats::jetstream::kv::CreateErrorKind;
use async_nats::jetstream::{AckKind, Message};
use futures_util::StreamExt as _;
use oanix_env::EnvPlan;
use tokio::io::AsyncReadExt as _;
use tokio_util::sync::CancellationToken;

use crate::error::{NatsError, Result};
use crate::job::{Band, JobResult, JobState, NatsJob, STREAM, now_ms, sha256_hex};
use crate::metrics::Metrics;
use crate::queues::Queues;

/// The longest one request to the server is waited for.
const CALL: Duration = Duration::from_secs(5);

/// What a worker did with one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Handled {
    /// Ran it and wrote its result.
    Ran(String),
    /// Its result was there already (a redelivery after the result was
    /// written): acknowledged, not run.
    AlreadyDone(String),
    /// Ran it, but another delivery's result was written first: this one
    /// was dropped.
    LateResult(String),
    /// Parked it without running it (too many deliveries, or unreadable).
    Parked(String),
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
    metrics: Metrics,
}

impl Worker {
    /// A worker named `name` (it signs its results), caching modules in
    /// the directory `cache`.
    pub fn new(queues: Queues, name: impl Into<String>, cache: impl Into<PathBuf>) -> Self {
        Self {
            queues,
            name: name.into(),
            cache: cache.into(),
            modules: HashMap::new(),
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
                    ..Default::default()
                })
                .await
                .map_err(|e| NatsError::nats(format!("the consumer {}", band.consumer()), e))?;
            out.push((band, c));
        }
        Ok(out)
    }

    /// Takes and runs jobs until `shutdown` is cancelled (the job in hand
    /// is finished first), telling `events` as it goes.
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
        let mut depth_seen = Instant::now() - Duration::from_secs(10);
        while !shutdown.is_cancelled() {
            if depth_seen.elapsed() >= Duration::from_secs(1) {
                depth_seen = Instant::now();
                for (band, consumer) in &consumers {
                    if let Ok(Ok(info)) = tokio::time::timeout(CALL, consumer.get_info()).await {
                        let labels = format!("band=\"{}\"", band.as_str());
                        self.metrics.set(
                            "oanix_worker_queue_depth",
                            &labels,
                            info.num_pending as f64,
                        );
                    }
                }
            }
            let mut taken = None;
            // Highest band first, each asked without waiting.
            for (_, consumer) in &consumers {
                // Bounded: a request made as the server goes away is not
                // answered, and the client does not give up on it by itself.
                let fetched = tokio::time::timeout(CALL, async {
                    let mut batch = consumer.fetch().max_messages(1).messages().await.ok()?;
                    batch.next().await?.ok()
                })
                .await;
                if let Ok(Some(message)) = fetched {
                    taken = Some(message);
                    break;
                }
            }
            match taken {
                Some(message) => {
                    let h = self.handle(message, &mut events).await;
                    let state = match &h {
                        Handled::Ran(_) => "ran",
                        Handled::AlreadyDone(_) => "already_done",
                        Handled::LateResult(_) => "late_result",
                        Handled::Parked(_) => "parked",
                    };
                    self.metrics.add(
                        "oanix_worker_jobs_total",
                        &format!("state=\"{state}\""),
                        1.0,
                    );
                    events(&WorkerEvent::Done(h));
                }
                None => {
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = tokio::time::sleep(Duration::from_millis(10)) => {}
                    }
                }
            }
        }
        Ok(())
    }

    async fn put_result(&self, result: &JobResult) -> std::result::Result<bool, NatsError> {
        let bytes = serde_json::to_vec(result)
            .map_err(|e| NatsError::nats(format!("encoding the result of {}", result.id), e))?;
        match self.queues.results.create(&result.id, bytes.into()).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(false),
            Err(e) => Err(NatsError::nats(
                format!("writing the result of {}", result.id),
                e,
            )),
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

    /// One delivery: parked, skipped, or run with progress acks while it runs.
    async fn handle(&mut self, message: Message, events: &mut impl FnMut(&WorkerEvent)) -> Handled {
        let attempt = message.info().map_or(1, |i| i.delivered);
        let job: NatsJob = match serde_json::from_slice(&message.payload) {
            Ok(j) => j,
            Err(e) => {
                // No id to write a result under: terminated, never redelivered.
                let _ = message.ack_with(AckKind::Term).await;
                return Handled::Parked(format!("unreadable job: {e}"));
            }
        };
        if matches!(
            tokio::time::timeout(CALL, self.queues.result(&job.id)).await,
            Ok(Ok(Some(_)))
        ) {
            let _ = message.ack().await;
            return Handled::AlreadyDone(job.id);
        }
        if attempt > self.queues.config.max_attempts {
            let reason = format!(
                "parked after {} deliveries without a result (the job ended its worker each time)",
                attempt - 1
            );
            let parked = self.parked(&job.id, attempt, reason);
            if self.put_result(&parked).await.is_ok() {
                let _ = message.ack_with(AckKind::Term).await;
            }
            return Handled::Parked(job.id);
        }
        let wasm = match self.module(&job.module).await {
            Ok(w) => w,
            Err(e) => {
                let parked = self.parked(&job.id, attempt, e.to_string());
                if self.put_result(&parked).await.is_ok() {
                    let _ = message.ack_with(AckKind::Term).await;
                }
                return Handled::Parked(job.id);
            }
        };
        events(&WorkerEvent::Took {
            id: job.id.clone(),
            attempt,
        });
        let worker = self.name.clone();
        let id = job.id.clone();
        let mut run = tokio::task::spawn_blocking(move || run_job(&job, &wasm, &worker, attempt));
        // Progress acks keep a long job from being delivered again while it runs.
        let mut progress = tokio::time::interval(self.queues.config.ack_wait / 3);
        progress.tick().await;
        let result = loop {
            tokio::select! {
                r = &mut run => break r,
                _ = progress.tick() => { let _ = message.ack_with(AckKind::Progress).await; }
            }
        };
        let result = match result {
            Ok((r, stats)) => {
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
                self.metrics
                    .observe("oanix_worker_job_duration_seconds", r.duration_ms / 1e3);
                r
            }
            Err(e) => self.parked(&id, attempt, format!("the run panicked: {e}")),
        };
        match self.put_result(&result).await {
            Ok(true) => {
                let _ = message.ack().await;
                Handled::Ran(id)
            }
            Ok(false) => {
                let _ = message.ack().await;
                Handled::LateResult(id)
            }
            // Not acknowledged: delivered again after the ack wait.
            Err(_) => Handled::LateResult(id),
        }
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
fn run_job(job: &NatsJob, wasm: &[u8], worker: &str, attempt: i64) -> (JobResult, RunStats) {
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
    let built = EnvPlan::from_manifest(&job.manifest, &format!("job {}", job.id), Path::new("."))
        .and_then(|mut plan| {
            plan.agent.module = None;
            plan.builder()?.build()
        });
    match built {
        Err(e) => out.error = Some(e.to_string()),
        Ok(env) => {
            stats.env_started = true;
            let mut config = env.run_config().args(job.args.iter().cloned());
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
