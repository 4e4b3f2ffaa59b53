//! The OANIX scheduler: prioritised jobs run in environments, within a
//! concurrency limit.
//!
//! Register [`OanixEnv`](oanix_env::OanixEnv)s, submit [`JobSpec`]s that
//! name them, and let the [`Scheduler`] decide what runs next: the highest
//! priority first, submission order among equals, never more than
//! `max_concurrent` at once. Jobs can be cancelled while they wait or while
//! they run, and a job that outlives its timeout is reported as timed out.
//!
//! What a job *does* is up to a [`JobRunner`]. The built-in [`WasiRunner`]
//! runs [`JobKind::Wasi`] modules in the environment's namespace and, with the
//! `native` feature, [`JobKind::Native`] commands in a Linux sandbox whose
//! root is that namespace (`oanix-native`); script and custom jobs go to a
//! runner you supply — OANIX never runs host commands outside a sandbox on
//! its own.
//!
//! # Where it sits
//!
//! On top of `oanix-env` (and `oanix-native` with the `native` feature); the
//! `oanix` command's `batch` uses it.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use oanix_env::EnvBuilder;
//! use oanix_sched::{CancelToken, JobKind, JobOutcome, JobSpec, Scheduler};
//!
//! let mut scheduler = Scheduler::with_max_concurrent(2);
//! let env = scheduler.register_env(EnvBuilder::new().build()?);
//! let low = scheduler.submit(JobSpec::new(env, JobKind::script("echo low")))?;
//! let urgent = scheduler
//!     .submit(JobSpec::new(env, JobKind::script("echo urgent")).with_priority(10).tag("urgent"))?;
//!
//! // By hand: the urgent job comes first.
//! let job = scheduler.next().unwrap();
//! assert_eq!(job.id, urgent);
//! scheduler.complete(&job.id, 0)?;
//!
//! // Or on the pool, with a runner of your own for script jobs.
//! let runner = Arc::new(|_: &oanix_env::OanixEnv, job: &JobSpec, _: &CancelToken| {
//!     match &job.kind {
//!         JobKind::Script { command } if command.starts_with("echo") => Ok(0),
//!         _ => Err("not supported".into()),
//!     }
//! });
//! let mut results = Vec::new();
//! scheduler.run(runner, |r| results.push(r.clone()));
//! assert_eq!(results.len(), 1);
//! assert_eq!((results[0].job_id, results[0].outcome), (low, JobOutcome::Succeeded));
//! assert_eq!(scheduler.status().completed_count, 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod error;
mod job;
mod queue;
mod scheduler;

pub use error::{Result, SchedError};
pub use job::{
    CancelToken, JobFailure, JobKind, JobOutcome, JobResult, JobRunner, JobSpec, RunOutcome,
    WasiRunner, WasmSource,
};
pub use scheduler::{Scheduler, SchedulerStatus};
