//! Native jobs through the built-in runner: each in a sandbox over its
//! environment's namespace, beside WASI jobs in one pool.

use std::sync::Arc;
use std::time::Duration;

use oanix_env::EnvBuilder;
use oanix_prims::MemFs;
use oanix_sched::{JobKind, JobOutcome, JobSpec, Scheduler, WasiRunner};
use oanix_services::LogsFs;
use oanix_vfs::read_to_string;

fn env() -> oanix_env::OanixEnv {
    EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/workspace", MemFs::new())
        .mount("/tmp", MemFs::new())
        .build()
        .unwrap()
}

#[test]
fn native_jobs_run_in_their_environments_beside_wasi_jobs() {
    let mut scheduler = Scheduler::with_max_concurrent(2);
    let mut envs = Vec::new();
    let mut ids = Vec::new();
    for i in 0..4 {
        let e = env();
        let id = scheduler.register_env(e.clone());
        let job = JobSpec::new(
            id,
            JobKind::native([
                "sh".to_owned(),
                "-c".to_owned(),
                format!("echo job-$N > /workspace/out.txt; exit {i}"),
            ]),
        )
        .env("N", i.to_string())
        .with_priority(i);
        ids.push(scheduler.submit(job).unwrap());
        envs.push(e);
    }
    let slow = env();
    let slow_id = scheduler.register_env(slow.clone());
    let slow_job = scheduler
        .submit(
            JobSpec::new(slow_id, JobKind::native(["sleep", "30"]))
                .with_timeout_duration(Duration::from_millis(300)),
        )
        .unwrap();
    let wasm: Arc<[u8]> =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_start")))"#)
            .unwrap()
            .into();
    let wasi_env = scheduler.register_env(env());
    let wasi_job = scheduler
        .submit(JobSpec::new(
            wasi_env,
            JobKind::wasi(wasm, Vec::<String>::new()),
        ))
        .unwrap();
    let mut results = Vec::new();
    scheduler.run(Arc::new(WasiRunner::new()), |r| results.push(r.clone()));
    assert_eq!(results.len(), 6);
    for (i, (job, e)) in ids.iter().zip(&envs).enumerate() {
        let r = results.iter().find(|r| r.job_id == *job).unwrap();
        assert_eq!(r.exit_code, Some(i32::try_from(i).unwrap()), "{r:?}");
        let expected = if i == 0 {
            JobOutcome::Succeeded
        } else {
            JobOutcome::Failed
        };
        assert_eq!(r.outcome, expected);
        let out = read_to_string(e.namespace(), "/workspace/out.txt").unwrap();
        assert_eq!(out, format!("job-{i}\n"));
    }
    let slow = results.iter().find(|r| r.job_id == slow_job).unwrap();
    assert_eq!(slow.outcome, JobOutcome::TimedOut, "{slow:?}");
    let wasi = results.iter().find(|r| r.job_id == wasi_job).unwrap();
    assert_eq!(wasi.outcome, JobOutcome::Succeeded, "{wasi:?}");
}

#[test]
fn a_native_job_that_cannot_start_fails_with_the_reason() {
    let mut scheduler = Scheduler::with_max_concurrent(1);
    let id = scheduler.register_env(env());
    let job = scheduler
        .submit(JobSpec::new(id, JobKind::native(["no-such-program-oanix"])))
        .unwrap();
    let empty = scheduler
        .submit(JobSpec::new(id, JobKind::native(Vec::<String>::new())))
        .unwrap();
    let mut results = Vec::new();
    scheduler.run(Arc::new(WasiRunner::new()), |r| results.push(r.clone()));
    let r = results.iter().find(|r| r.job_id == job).unwrap();
    assert_eq!(r.outcome, JobOutcome::Failed);
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("no-such-program-oanix"),
        "{r:?}"
    );
    let r = results.iter().find(|r| r.job_id == empty).unwrap();
    assert!(
        r.error.as_deref().unwrap().contains("no native command"),
        "{r:?}"
    );
}
