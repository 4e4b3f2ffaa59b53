//! `Scheduler`: a priority queue of jobs over registered environments, and
//! the pool that runs them.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use oanix_env::OanixEnv;
use oanix_vfs::deadline::Instant;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Result, SchedError};
use crate::job::{CancelToken, JobFailure, JobOutcome, JobResult, JobRunner, JobSpec, RunOutcome};
use crate::queue::PendingQueue;

/// Counts of what the scheduler holds and has done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SchedulerStatus {
    /// Jobs waiting.
    pub pending_count: usize,
    /// Jobs taken and not finished.
    pub running_count: usize,
    /// Jobs that exited 0.
    pub completed_count: u64,
    /// Jobs that failed (non-zero exit or error).
    pub failed_count: u64,
    /// Jobs stopped at their timeout.
    pub timed_out_count: u64,
    /// Jobs cancelled.
    pub cancelled_count: u64,
    /// The concurrency limit.
    pub max_concurrent: usize,
    /// Registered environments.
    pub env_count: usize,
}

struct Running {
    env_id: Uuid,
    timeout: Option<Duration>,
    started: Instant,
    /// Made when someone asks for it: most jobs never need one.
    cancel: Option<CancelToken>,
}

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A prioritised job queue over environments, with a concurrency limit.
///
/// Every operation is O(log n) in the number of jobs held: a binary heap
/// of (priority, submission number) over a slab of jobs, with an index from
/// job id to slot so that a pending job can be cancelled without a scan.
///
/// Drive it by hand ([`next`](Self::next) / [`complete`](Self::complete)),
/// one job at a time on this thread ([`tick`](Self::tick)), or on a pool of
/// worker threads ([`run`](Self::run)).
pub struct Scheduler {
    envs: Map<Uuid, OanixEnv>,
    queue: PendingQueue,
    running: Map<Uuid, Running>,
    max_concurrent: usize,
    status: SchedulerStatus,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("status", &self.status())
            .finish()
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::with_max_concurrent(cores)
    }
}

impl Scheduler {
    /// A scheduler running at most as many jobs at once as there are cores.
    pub fn new() -> Self {
        Self::default()
    }

    /// A scheduler running at most `max` jobs at once (at least 1).
    pub fn with_max_concurrent(max: usize) -> Self {
        Self {
            envs: Map::default(),
            queue: PendingQueue::default(),
            running: Map::default(),
            max_concurrent: max.max(1),
            status: SchedulerStatus::default(),
        }
    }

    /// Registers an environment; jobs name it by the returned id.
    pub fn register_env(&mut self, env: OanixEnv) -> Uuid {
        let id = env.id();
        self.envs.insert(id, env);
        id
    }

    /// A registered environment.
    pub fn env(&self, id: &Uuid) -> Option<&OanixEnv> {
        self.envs.get(id)
    }

    /// Queues a job; returns its id.
    pub fn submit(&mut self, job: JobSpec) -> Result<Uuid> {
        if !self.envs.contains_key(&job.env_id) {
            return Err(SchedError::UnknownEnv(job.env_id));
        }
        if self.queue.contains(&job.id) || self.running.contains_key(&job.id) {
            return Err(SchedError::DuplicateJob(job.id));
        }
        let id = job.id;
        self.queue.push(job);
        Ok(id)
    }

    /// Takes the most urgent pending job, if one may start now (fewer than
    /// `max_concurrent` running); it counts as running until completed.
    #[allow(
        clippy::should_implement_trait,
        reason = "the seeds' name; not an iterator"
    )]
    pub fn next(&mut self) -> Option<JobSpec> {
        if self.running.len() >= self.max_concurrent {
            return None;
        }
        let job = self.queue.pop()?;
        self.running.insert(
            job.id,
            Running {
                env_id: job.env_id,
                timeout: job.timeout,
                started: Instant::now(),
                cancel: None,
            },
        );
        Some(job)
    }

    /// Records that a running job exited with `exit_code`.
    pub fn complete(&mut self, job_id: &Uuid, exit_code: i32) -> Result<JobResult> {
        self.finish(job_id, Ok(exit_code))
    }

    /// Records that a running job failed.
    pub fn fail(&mut self, job_id: &Uuid, error: impl Into<String>) -> Result<JobResult> {
        self.finish(job_id, Err(JobFailure::Error(error.into())))
    }

    fn finish(&mut self, job_id: &Uuid, outcome: RunOutcome) -> Result<JobResult> {
        let running = self
            .running
            .remove(job_id)
            .ok_or(SchedError::UnknownJob(*job_id))?;
        let (outcome, exit_code, error) = match outcome {
            Ok(0) => (JobOutcome::Succeeded, Some(0), None),
            Ok(code) => (
                JobOutcome::Failed,
                Some(code),
                Some(format!("exited with code {code}")),
            ),
            Err(JobFailure::TimedOut) => (
                JobOutcome::TimedOut,
                None,
                Some("ran past its timeout".to_owned()),
            ),
            Err(JobFailure::Error(e)) => (JobOutcome::Failed, None, Some(e)),
        };
        let cancelled = running
            .cancel
            .as_ref()
            .is_some_and(CancelToken::is_cancelled);
        let outcome = if cancelled && outcome != JobOutcome::TimedOut {
            JobOutcome::Cancelled
        } else {
            outcome
        };
        self.count(outcome);
        Ok(JobResult {
            job_id: *job_id,
            env_id: running.env_id,
            outcome,
            exit_code,
            duration: running.started.elapsed(),
            error,
        })
    }

    fn count(&mut self, outcome: JobOutcome) {
        match outcome {
            JobOutcome::Succeeded => self.status.completed_count += 1,
            JobOutcome::Failed => self.status.failed_count += 1,
            JobOutcome::TimedOut => self.status.timed_out_count += 1,
            JobOutcome::Cancelled => self.status.cancelled_count += 1,
        }
    }

    /// Cancels a job: a pending one is removed (and its result returned);
    /// a running one is asked to stop through its [`CancelToken`] and is
    /// reported as cancelled when it ends.
    pub fn cancel(&mut self, job_id: &Uuid) -> Result<Option<JobResult>> {
        if let Some(job) = self.queue.remove(job_id) {
            self.count(JobOutcome::Cancelled);
            return Ok(Some(JobResult {
                job_id: job.id,
                env_id: job.env_id,
                outcome: JobOutcome::Cancelled,
                exit_code: None,
                duration: Duration::ZERO,
                error: Some("cancelled before it started".to_owned()),
            }));
        }
        match self.cancel_token(job_id) {
            Some(token) => {
                token.cancel();
                Ok(None)
            }
            None => Err(SchedError::UnknownJob(*job_id)),
        }
    }

    /// The cancel token of a running job.
    pub fn cancel_token(&mut self, job_id: &Uuid) -> Option<CancelToken> {
        let r = self.running.get_mut(job_id)?;
        Some(r.cancel.get_or_insert_with(CancelToken::new).clone())
    }

    /// Whether a job is waiting.
    pub fn is_pending(&self, job_id: &Uuid) -> bool {
        self.queue.contains(job_id)
    }

    /// Whether nothing is pending or running.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty() && self.running.is_empty()
    }

    /// Counts now.
    pub fn status(&self) -> SchedulerStatus {
        SchedulerStatus {
            pending_count: self.queue.len(),
            running_count: self.running.len(),
            max_concurrent: self.max_concurrent,
            env_count: self.envs.len(),
            ..self.status
        }
    }

    /// Runs the next job on this thread with `runner`; `None` when nothing
    /// could start.
    pub fn tick(&mut self, runner: &dyn JobRunner) -> Result<Option<JobResult>> {
        let Some(job) = self.next() else {
            return Ok(None);
        };
        let Some(env) = self.envs.get(&job.env_id).cloned() else {
            return self
                .finish(&job.id, Err(JobFailure::Error("environment gone".into())))
                .map(Some);
        };
        let cancel = self.cancel_token(&job.id).unwrap_or_default();
        let outcome = runner.run(&env, &job, &cancel);
        let outcome = self
            .past_timeout(&job.id)
            .map_or(outcome, |_| Err(JobFailure::TimedOut));
        self.finish(&job.id, outcome).map(Some)
    }

    /// `Some(())` when a running job has outlived its timeout.
    fn past_timeout(&self, job_id: &Uuid) -> Option<()> {
        let r = self.running.get(job_id)?;
        let timeout = r.timeout?;
        (r.started.elapsed() > timeout).then_some(())
    }

    /// Runs every queued job on up to `max_concurrent` worker threads with
    /// `runner`, calling `on_result` as each ends, until none is left.
    ///
    /// A job that outlives its timeout is reported as timed out at its
    /// deadline (its cancel token is set; a WASI job also stops itself at
    /// the same deadline), and its late end is ignored. A panicking runner
    /// fails its job, not the pool.
    pub fn run(&mut self, runner: Arc<dyn JobRunner>, mut on_result: impl FnMut(&JobResult)) {
        let (done_tx, done_rx) = mpsc::channel::<(Uuid, RunOutcome)>();
        std::thread::scope(|scope| {
            // One channel per worker, so that a job goes to an idle thread.
            let mut idle: Vec<mpsc::Sender<(OanixEnv, JobSpec, CancelToken)>> = Vec::new();
            let mut workers = Vec::new();
            for _ in 0..self.max_concurrent {
                let (tx, rx) = mpsc::channel::<(OanixEnv, JobSpec, CancelToken)>();
                let done = done_tx.clone();
                let runner = Arc::clone(&runner);
                workers.push(scope.spawn(move || {
                    for (env, job, cancel) in rx {
                        let outcome =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                runner.run(&env, &job, &cancel)
                            }))
                            .unwrap_or_else(|_| {
                                Err(JobFailure::Error("the runner panicked".into()))
                            });
                        if done.send((job.id, outcome)).is_err() {
                            break;
                        }
                    }
                }));
                idle.push(tx);
            }
            // Which worker runs which job, to give the worker back.
            let mut busy: HashMap<Uuid, mpsc::Sender<(OanixEnv, JobSpec, CancelToken)>> =
                HashMap::new();
            // Jobs already reported as timed out, whose worker is still busy.
            let mut abandoned: HashMap<Uuid, mpsc::Sender<(OanixEnv, JobSpec, CancelToken)>> =
                HashMap::new();
            loop {
                while !idle.is_empty() {
                    let Some(job) = self.next() else { break };
                    let env = self.envs.get(&job.env_id).cloned();
                    let cancel = self.cancel_token(&job.id).unwrap_or_default();
                    let Some(env) = env else {
                        if let Ok(r) = self.finish(&job.id, Err("environment gone".into())) {
                            on_result(&r);
                        }
                        continue;
                    };
                    let Some(worker) = idle.pop() else { break };
                    let id = job.id;
                    if worker.send((env, job, cancel)).is_err() {
                        if let Ok(r) = self.finish(&id, Err("a worker stopped".into())) {
                            on_result(&r);
                        }
                        continue;
                    }
                    busy.insert(id, worker);
                }
                if busy.is_empty() && abandoned.is_empty() && self.queue.is_empty() {
                    break;
                }
                // Wait for an end, or for the nearest deadline.
                let wait = self.nearest_deadline();
                let received = match wait {
                    Some(left) => done_rx.recv_timeout(left),
                    None => done_rx
                        .recv()
                        .map_err(|_| mpsc::RecvTimeoutError::Disconnected),
                };
                match received {
                    Ok((id, outcome)) => {
                        if let Some(worker) = abandoned.remove(&id) {
                            idle.push(worker);
                            continue;
                        }
                        if let Some(worker) = busy.remove(&id) {
                            idle.push(worker);
                        }
                        let outcome = self
                            .past_timeout(&id)
                            .map_or(outcome, |_| Err(JobFailure::TimedOut));
                        if let Ok(r) = self.finish(&id, outcome) {
                            on_result(&r);
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        let late: Vec<Uuid> = self
                            .running
                            .keys()
                            .filter(|id| self.past_timeout(id).is_some())
                            .copied()
                            .collect();
                        for id in late {
                            if let Some(token) = self.cancel_token(&id) {
                                token.cancel();
                            }
                            if let Some(worker) = busy.remove(&id) {
                                abandoned.insert(id, worker);
                            }
                            if let Ok(r) = self.finish(&id, Err(JobFailure::TimedOut)) {
                                on_result(&r);
                            }
                        }
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            }
            drop(idle);
            drop(busy);
            drop(abandoned);
            for w in workers {
                let _ = w.join();
            }
        });
    }

    /// How long until the earliest running job's deadline.
    fn nearest_deadline(&self) -> Option<Duration> {
        self.running
            .values()
            .filter_map(|r| Some(r.timeout?.saturating_sub(r.started.elapsed())))
            .min()
            .map(|d| d + Duration::from_millis(1))
    }
}
