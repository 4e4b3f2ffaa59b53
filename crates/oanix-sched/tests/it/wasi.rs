//! WASI jobs through the built-in runner.

use std::sync::Arc;
use std::time::Duration;

use oanix_env::EnvBuilder;
use oanix_prims::MemFs;
use oanix_sched::{JobKind, JobOutcome, JobSpec, Scheduler, WasiRunner};
use oanix_vfs::read_to_string;

fn exit_with(code: u32) -> Arc<[u8]> {
    wat::parse_str(format!(
        r#"(module
          (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
          (memory (export "memory") 1)
          (func (export "_start") (call $exit (i32.const {code}))))"#
    ))
    .unwrap()
    .into()
}

fn spin() -> Arc<[u8]> {
    wat::parse_str(
        r#"(module (memory (export "memory") 1) (func (export "_start") (loop (br 0))))"#,
    )
    .unwrap()
    .into()
}

/// Prints "ran" to stdout.
fn hello() -> Arc<[u8]> {
    wat::parse_str(
        r#"(module
          (import "wasi_snapshot_preview1" "fd_write"
            (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 64) "ran\n")
          (func (export "_start")
            (i32.store (i32.const 0) (i32.const 64))
            (i32.store (i32.const 4) (i32.const 4))
            (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))"#,
    )
    .unwrap()
    .into()
}

#[test]
fn wasi_jobs_run_in_their_environment_with_their_timeouts() {
    let mut s = Scheduler::with_max_concurrent(2);
    let logs = oanix_services::LogsFs::new();
    let env = s.register_env(
        EnvBuilder::new()
            .mount("/logs", logs.clone())
            .mount("/tmp", MemFs::new())
            .build()
            .unwrap(),
    );
    let ok = s
        .submit(JobSpec::new(env, JobKind::wasi(exit_with(0), ["a"])))
        .unwrap();
    let three = s
        .submit(JobSpec::new(
            env,
            JobKind::wasi(exit_with(3), Vec::<String>::new()),
        ))
        .unwrap();
    let printed = s
        .submit(JobSpec::new(
            env,
            JobKind::wasi(hello(), Vec::<String>::new()),
        ))
        .unwrap();
    let looping = s
        .submit(
            JobSpec::new(env, JobKind::wasi(spin(), Vec::<String>::new()))
                .with_timeout_duration(Duration::from_millis(200)),
        )
        .unwrap();
    let mut results = std::collections::HashMap::new();
    s.run(Arc::new(WasiRunner::new()), |r| {
        results.insert(r.job_id, r.clone());
    });
    assert_eq!(results[&ok].outcome, JobOutcome::Succeeded);
    assert_eq!(results[&three].exit_code, Some(3));
    assert_eq!(results[&printed].outcome, JobOutcome::Succeeded);
    assert_eq!(results[&looping].outcome, JobOutcome::TimedOut);
    let ns = s.env(&env).unwrap().namespace().clone();
    assert_eq!(read_to_string(&ns, "/logs/stdout.log").unwrap(), "ran\n");
}

#[test]
fn a_missing_module_file_fails_its_job() {
    let mut s = Scheduler::with_max_concurrent(1);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    let id = s
        .submit(JobSpec::new(
            env,
            JobKind::wasi_file("/nonexistent/agent.wasm", Vec::<String>::new()),
        ))
        .unwrap();
    let mut results = Vec::new();
    s.run(Arc::new(WasiRunner::new()), |r| results.push(r.clone()));
    assert_eq!(results[0].job_id, id);
    assert!(results[0].error.as_deref().unwrap().contains("cannot read"));
}
