//! The queue by hand: priorities, FIFO among equals, limits, cancel, errors.

use oanix_env::EnvBuilder;
use oanix_sched::{JobKind, JobOutcome, JobSpec, SchedError, Scheduler};

fn sched(max: usize) -> (Scheduler, uuid::Uuid) {
    let mut s = Scheduler::with_max_concurrent(max);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    (s, env)
}

#[test]
fn higher_priority_first_and_submission_order_among_equals() {
    let (mut s, env) = sched(100);
    let mut expected = Vec::new();
    let mut ids = Vec::new();
    for (n, p) in [0, 5, 0, 10, 5, -1, 10, 0].into_iter().enumerate() {
        let id = s
            .submit(JobSpec::new(env, JobKind::script(format!("job {n}"))).with_priority(p))
            .unwrap();
        ids.push((p, n, id));
    }
    ids.sort_by_key(|(p, n, _)| (std::cmp::Reverse(*p), *n));
    expected.extend(ids.iter().map(|(_, _, id)| *id));
    let mut taken = Vec::new();
    while let Some(job) = s.next() {
        taken.push(job.id);
    }
    assert_eq!(taken, expected);
}

#[test]
fn next_respects_the_concurrency_limit() {
    let (mut s, env) = sched(2);
    for _ in 0..5 {
        s.submit(JobSpec::new(env, JobKind::script("x"))).unwrap();
    }
    let a = s.next().unwrap();
    let b = s.next().unwrap();
    assert!(s.next().is_none(), "two are running: the limit");
    assert_eq!(s.status().running_count, 2);
    assert_eq!(s.status().pending_count, 3);
    let r = s.complete(&a.id, 0).unwrap();
    assert_eq!(r.outcome, JobOutcome::Succeeded);
    assert!(s.next().is_some());
    assert!(s.next().is_none());
    let r = s.complete(&b.id, 4).unwrap();
    assert_eq!((r.outcome, r.exit_code), (JobOutcome::Failed, Some(4)));
    let status = s.status();
    assert_eq!((status.completed_count, status.failed_count), (1, 1));
}

#[test]
fn cancel_pending_and_running_jobs() {
    let (mut s, env) = sched(1);
    let first = s.submit(JobSpec::new(env, JobKind::script("a"))).unwrap();
    let second = s.submit(JobSpec::new(env, JobKind::script("b"))).unwrap();
    let r = s.cancel(&second).unwrap().unwrap();
    assert_eq!(r.outcome, JobOutcome::Cancelled);
    assert!(!s.is_pending(&second));
    let job = s.next().unwrap();
    assert_eq!(job.id, first);
    assert!(
        s.cancel(&first).unwrap().is_none(),
        "running: asked to stop"
    );
    assert!(s.cancel_token(&first).unwrap().is_cancelled());
    let r = s.complete(&first, 0).unwrap();
    assert_eq!(r.outcome, JobOutcome::Cancelled);
    assert!(s.is_idle());
    assert_eq!(s.status().cancelled_count, 2);
    assert_eq!(s.cancel(&first).unwrap_err(), SchedError::UnknownJob(first));
}

#[test]
fn refusals() {
    let (mut s, env) = sched(1);
    let stranger = uuid::Uuid::new_v4();
    assert_eq!(
        s.submit(JobSpec::new(stranger, JobKind::script("x")))
            .unwrap_err(),
        SchedError::UnknownEnv(stranger)
    );
    let job = JobSpec::new(env, JobKind::script("x"));
    s.submit(job.clone()).unwrap();
    assert_eq!(
        s.submit(job.clone()).unwrap_err(),
        SchedError::DuplicateJob(job.id)
    );
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        s.complete(&unknown, 0).unwrap_err(),
        SchedError::UnknownJob(unknown)
    );
    assert_eq!(
        SchedError::UnknownJob(unknown).to_string(),
        format!("unknown job {unknown}")
    );
    assert_eq!(s.status().pending_count, 1, "nothing changed");
}

#[test]
fn many_jobs_go_through_the_queue_in_order() {
    let (mut s, env) = sched(100_000);
    for i in 0..100_000u32 {
        s.submit(JobSpec::new(env, JobKind::script("x")).with_priority((i % 7) as i32))
            .unwrap();
    }
    let mut last = i32::MAX;
    let mut n = 0;
    while let Some(job) = s.next() {
        assert!(job.priority <= last);
        last = job.priority;
        s.complete(&job.id, 0).unwrap();
        n += 1;
    }
    assert_eq!(n, 100_000);
    assert_eq!(s.status().completed_count, 100_000);
}
