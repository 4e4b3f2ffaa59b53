//! OANIX jobs across machines on NATS JetStream.
//!
//! The in-process scheduler (`oanix-sched`) stays the default on one
//! machine. Past one machine, jobs go through a NATS server (or cluster)
//! with JetStream:
//!
//! - **Jobs** ([`NatsJob`]) are published to the work-queue stream
//!   `OANIX_JOBS`, one subject per priority [`Band`]
//!   (`oanix.jobs.high|normal|low`), each with its id as the message id, so
//!   a job submitted twice within two minutes is stored once. A job carries
//!   its manifest and names its WASI module by SHA-256; the module is
//!   uploaded once to the object store `oanix_modules`
//!   ([`Queues::upload_module`]) and cached by each worker (checked against
//!   its hash).
//! - **Workers** ([`Worker`]) share one durable pull consumer per band and
//!   take from the highest band that has a job each time they take. A
//!   worker takes several jobs at once when jobs are short — about 20 ms
//!   of work by the recent run times, at most 32, one while they are not
//!   known or long — so the ordering is strict at each take: a higher
//!   band's job published meanwhile waits at most for the jobs that worker
//!   already holds (a lower band's job taken runs to its end). A job runs
//!   in an environment of its own built from its manifest (parsed once per
//!   worker); while a worker holds jobs it sends progress acks for them, so
//!   the ack wait ([`QueueConfig::ack_wait`]) bounds how long a dead or
//!   cut-off worker holds a job, not how long a job may run. Results are
//!   written while the next job runs. An idle worker listens on the bands'
//!   subjects and asks again as soon as a job is published (and each
//!   second), rather than polling.
//! - **Results** ([`JobResult`]: state, exit code, `/task/result.json`,
//!   digests of the output, worker, attempt) are written to the key-value
//!   bucket `oanix_results` under the job id with a create that fails when
//!   the key exists. That makes a job's effect happen once: a worker asks
//!   for the results of the jobs it takes (all at once) and acknowledges
//!   without running those that have one (a redelivery of a finished job, a
//!   cancelled job, a batch submitted again after the two minutes of
//!   deduplication); a second run (its first worker was cut off but
//!   finished) finds the key taken and its late result is dropped. A result
//!   the server does not take is tried again for two minutes. The job may
//!   *run* more than once — at least once delivery — but it has one result
//!   (exactly once in effect).
//! - **Cancellation** ([`Queues::cancel`]) writes a `Cancelled` result with
//!   the same create (a job that finished first keeps its result) and tells
//!   the workers on `oanix.cancel.ID`: one running the job stops its guest
//!   at the next epoch tick (a host call it is blocked in is not
//!   interrupted; its timeout still ends it), one holding it does not start
//!   it, and one that takes it later finds its result.
//! - **Poison jobs**: a job delivered more than [`QueueConfig::max_attempts`]
//!   times without a result (it killed each worker that took it) is not run
//!   again: its result is `Parked` with the reason, and the message is
//!   terminated.
//!
//! [`Queues::follow`] watches a batch's results as they come, including
//! those written before it started, and watches again when the server
//! comes back after a restart.
//!
//! # Metrics
//!
//! [`Metrics`] in the Prometheus text format, served by [`serve_metrics`]
//! at `/metrics`: a worker's jobs by how they ended, their durations,
//! environment starts, the queue depth of each band and its jobs' HTTP
//! capability requests by outcome ([`Worker::metrics`]); a batch's jobs by
//! state and its submit-to-result latencies ([`Metrics::batch`]).
//!
//! # Traces
//!
//! Submissions, runs and result writes are `tracing` spans (`oanix.submit`,
//! `oanix.follow`, `oanix.job.run`, `oanix.job.result`). With the feature
//! `otel` the submitting span's W3C trace context travels in each job
//! message's headers (through OpenTelemetry's global propagator) and a
//! worker's run span continues it, so that a collector shows one trace from
//! the submission through every worker to each result. The library
//! installs no subscriber; `oanix worker` and `oanix batch --nats` export
//! over OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.
//!
//! # Where it sits
//!
//! Above `oanix-env` (the environments jobs run in) and `oanix-wasi`; the
//! `oanix worker` and `oanix batch --nats` commands use it.

mod batch;
mod error;
mod job;
mod metrics;
mod queues;
mod trace;
mod worker;

pub use error::{NatsError, Result};
pub use job::{Band, JobResult, JobState, MODULES, NatsJob, RESULTS, STREAM, now_ms, sha256_hex};
pub use metrics::{Metrics, serve_metrics};
pub use queues::{QueueConfig, Queues};
pub use worker::{Handled, Worker, WorkerEvent};

impl NatsJob {
    /// Job `n` of batch `batch`: `manifest` run with the module of hash
    /// `module`, in `band`.
    pub fn new(batch: &str, n: usize, band: Band, manifest: &str, module: &str) -> Self {
        Self {
            id: format!("{batch}.{n}"),
            batch: batch.to_owned(),
            band,
            manifest: manifest.to_owned(),
            module: module.to_owned(),
            args: Vec::new(),
            timeout_secs: None,
            submitted_ms: now_ms(),
        }
    }
}
