//! The worker pool: the limit holds, timeouts and cancels are reported, and
//! a failing (even panicking) job does not affect the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use oanix_env::{EnvBuilder, OanixEnv};
use oanix_sched::{
    CancelToken, JobFailure, JobKind, JobOutcome, JobResult, JobSpec, RunOutcome, Scheduler,
};

/// A runner whose behaviour each job names in its command.
struct Scripted {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl Scripted {
    fn new() -> Arc<Self> {
        Arc::new(Self {
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
        })
    }
}

impl oanix_sched::JobRunner for Scripted {
    fn run(&self, _env: &OanixEnv, job: &JobSpec, cancel: &CancelToken) -> RunOutcome {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let JobKind::Script { command } = &job.kind else {
            self.running.fetch_sub(1, Ordering::SeqCst);
            return Err("scripts only".into());
        };
        let out = match command.as_str() {
            "ok" => Ok(0),
            "exit 2" => Ok(2),
            "error" => Err(JobFailure::Error("it broke".into())),
            "panic" => {
                self.running.fetch_sub(1, Ordering::SeqCst);
                panic!("a runner bug");
            }
            // Runs until told to stop (at most a minute, so a broken
            // scheduler fails the test instead of hanging it).
            "hang" => {
                cancel.wait(Duration::from_secs(60));
                Ok(0)
            }
            "busy" => {
                // Long enough for others to overlap it.
                cancel.wait(Duration::from_millis(20));
                Ok(0)
            }
            other => Err(format!("unknown script {other}").into()),
        };
        self.running.fetch_sub(1, Ordering::SeqCst);
        out
    }
}

fn run(s: &mut Scheduler, runner: Arc<Scripted>) -> HashMap<uuid::Uuid, JobResult> {
    let mut results = HashMap::new();
    s.run(runner, |r| {
        assert!(
            results.insert(r.job_id, r.clone()).is_none(),
            "one result per job"
        );
    });
    results
}

#[test]
fn the_concurrency_limit_is_never_exceeded() {
    for max in [1, 2, 4] {
        let mut s = Scheduler::with_max_concurrent(max);
        let env = s.register_env(EnvBuilder::new().build().unwrap());
        for _ in 0..24 {
            s.submit(JobSpec::new(env, JobKind::script("busy")))
                .unwrap();
        }
        let runner = Scripted::new();
        let results = run(&mut s, Arc::clone(&runner));
        assert_eq!(results.len(), 24);
        let peak = runner.peak.load(Ordering::SeqCst);
        assert!(peak <= max, "peak {peak} > limit {max}");
        assert!(
            max == 1 || peak > 1,
            "jobs did run side by side (peak {peak})"
        );
        assert_eq!(s.status().completed_count, 24);
        assert!(s.is_idle());
    }
}

#[test]
fn failures_and_panics_stay_with_their_job() {
    let mut s = Scheduler::with_max_concurrent(2);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    let ids: Vec<(String, uuid::Uuid)> = ["ok", "error", "panic", "exit 2", "ok", "nonsense"]
        .iter()
        .map(|c| {
            let id = s.submit(JobSpec::new(env, JobKind::script(*c))).unwrap();
            ((*c).to_owned(), id)
        })
        .collect();
    let results = run(&mut s, Scripted::new());
    let outcome = |c: &str| {
        let id = ids.iter().find(|(k, _)| k == c).unwrap().1;
        results[&id].clone()
    };
    assert_eq!(outcome("ok").outcome, JobOutcome::Succeeded);
    assert_eq!(outcome("error").error.as_deref(), Some("it broke"));
    assert_eq!(outcome("panic").outcome, JobOutcome::Failed);
    assert!(outcome("panic").error.unwrap().contains("panicked"));
    assert_eq!(outcome("exit 2").exit_code, Some(2));
    assert_eq!(outcome("nonsense").outcome, JobOutcome::Failed);
    assert_eq!(s.status().completed_count, 2);
    assert_eq!(s.status().failed_count, 4);
}

#[test]
fn a_job_past_its_timeout_is_reported_at_its_deadline_and_others_go_on() {
    let mut s = Scheduler::with_max_concurrent(2);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    let hang = s
        .submit(
            JobSpec::new(env, JobKind::script("hang"))
                .with_timeout_duration(Duration::from_millis(100)),
        )
        .unwrap();
    let quick: Vec<uuid::Uuid> = (0..5)
        .map(|_| s.submit(JobSpec::new(env, JobKind::script("ok"))).unwrap())
        .collect();
    let started = std::time::Instant::now();
    let results = run(&mut s, Scripted::new());
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the hanging job was stopped, not waited for"
    );
    assert_eq!(results[&hang].outcome, JobOutcome::TimedOut);
    for id in quick {
        assert_eq!(results[&id].outcome, JobOutcome::Succeeded);
    }
    assert_eq!(s.status().timed_out_count, 1);
}

#[test]
fn no_runner_for_scripts_means_the_job_fails_with_a_reason() {
    let mut s = Scheduler::with_max_concurrent(1);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    let id = s
        .submit(JobSpec::new(env, JobKind::script("rm -rf /")))
        .unwrap();
    let mut results = Vec::new();
    s.run(Arc::new(oanix_sched::WasiRunner::new()), |r| {
        results.push(r.clone())
    });
    assert_eq!(results[0].job_id, id);
    assert_eq!(results[0].outcome, JobOutcome::Failed);
    assert_eq!(
        results[0].error.as_deref(),
        Some("no runner for script jobs")
    );
}

#[test]
fn tick_runs_one_job_on_this_thread() {
    let mut s = Scheduler::with_max_concurrent(1);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    s.submit(JobSpec::new(env, JobKind::script("ok"))).unwrap();
    let runner = Scripted::new();
    let r = s.tick(runner.as_ref()).unwrap().unwrap();
    assert_eq!(r.outcome, JobOutcome::Succeeded);
    assert!(s.tick(runner.as_ref()).unwrap().is_none());
}

#[test]
fn cancelling_a_running_job_from_another_thread_stops_it() {
    let mut s = Scheduler::with_max_concurrent(1);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    let id = s
        .submit(JobSpec::new(env, JobKind::script("hang")))
        .unwrap();
    let job = s.next().unwrap();
    let token = s.cancel_token(&id).unwrap();
    let barrier = Arc::new(Barrier::new(2));
    let (b, env_handle) = (Arc::clone(&barrier), s.env(&env).unwrap().clone());
    let runner = Scripted::new();
    let worker = {
        let runner = Arc::clone(&runner);
        std::thread::spawn(move || {
            b.wait();
            oanix_sched::JobRunner::run(runner.as_ref(), &env_handle, &job, &token)
        })
    };
    barrier.wait();
    assert!(s.cancel(&id).unwrap().is_none());
    let outcome = worker.join().unwrap();
    assert_eq!(outcome, Ok(0));
    assert_eq!(s.complete(&id, 0).unwrap().outcome, JobOutcome::Cancelled);
}
