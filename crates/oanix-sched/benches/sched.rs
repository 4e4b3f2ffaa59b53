//! Benchmark: what an environment costs (time and memory, 10 000 alive at
//! once), the cold start of an agent, and the scheduler's own throughput.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark setup and report"
)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use oanix_bench::{Counting, Stats, Table, format_ns, live_bytes, measure, measure_each};
use oanix_caps::nostr_crate::key::Keys;
use oanix_caps::{EgressPolicy, HttpFs, NostrFs, WsFs};
use oanix_env::{EnvBuilder, OanixEnv};
use oanix_prims::MemFs;
use oanix_sched::{JobKind, JobSpec, Scheduler, WasiRunner};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec};

#[global_allocator]
static ALLOC: Counting = Counting;

fn spec(n: u64) -> TaskSpec {
    TaskSpec {
        id: format!("job-{n}"),
        task_type: "bench".into(),
        description: "measure".into(),
        input: serde_json::Value::Null,
    }
}

/// An environment with the seven standard mounts.
fn seven(n: u64, keys: &Keys) -> OanixEnv {
    EnvBuilder::new()
        .mount("/task", TaskFs::new(spec(n), TaskMeta::default()))
        .mount("/workspace", MemFs::new())
        .mount("/logs", LogsFs::new())
        .mount("/tmp", MemFs::new())
        .mount(
            "/cap/http",
            HttpFs::builder()
                .policy(
                    EgressPolicy::allow_hosts(["api.example.com"])
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .mount("/cap/ws", WsFs::new())
        .mount(
            "/cap/nostr",
            NostrFs::builder().build_with_keys(keys.clone()).unwrap(),
        )
        .build()
        .unwrap()
}

fn environments() -> Table {
    let keys = Keys::generate();
    let build = measure(|i| {
        black_box(seven(i, &keys));
    });
    const ALIVE: usize = 10_000;
    let before = live_bytes();
    let started = Instant::now();
    let envs: Vec<OanixEnv> = (0..ALIVE as u64).map(|i| seven(i, &keys)).collect();
    let build_all = started.elapsed();
    let bytes = (live_bytes() - before) as f64 / ALIVE as f64;
    assert_eq!(envs.len(), ALIVE);
    drop(envs);
    let mut table = Table::new(
        "An environment with the seven standard mounts (task, workspace, logs, tmp, http, ws, nostr)",
        &["OANIX"],
    );
    table.row("build one environment", vec![Some(build)]);
    table.note(format!(
        "{ALIVE} environments alive at once: built in {}, {:.1} KiB of heap each",
        format_ns(build_all.as_nanos() as f64),
        bytes / 1024.0
    ));
    table
}

fn hello_wasi() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let p = root.join("examples/hello-wasi/target/wasm32-wasip1/release/hello-wasi.wasm");
    p.is_file().then_some(p)
}

fn cold_start() -> Table {
    let mut table = Table::new(
        "Cold start of an agent: build the environment, run hello-wasi to completion",
        &["OANIX"],
    );
    let Some(module) = hello_wasi() else {
        table.note("hello-wasi is not built: run `cargo xtask hello-wasi --build-only` first");
        return table;
    };
    let wasm = std::fs::read(module).unwrap();
    let project = tempfile_project();
    let keys = Keys::generate();
    let run = |i: u64| {
        let env = EnvBuilder::new()
            .mount("/task", TaskFs::new(spec(i), TaskMeta::default()))
            .mount("/workspace", project.clone())
            .mount("/logs", LogsFs::new())
            .mount("/tmp", MemFs::new())
            .mount(
                "/cap/nostr",
                NostrFs::builder().build_with_keys(keys.clone()).unwrap(),
            )
            .build()
            .unwrap();
        let r = env.run_wasi(&wasm, env.run_config()).unwrap();
        assert_eq!(r.exit_code, Some(0));
    };
    // The first run compiles the module; later runs find it cached.
    let started = Instant::now();
    run(u64::MAX);
    let first = started.elapsed();
    let warm = measure_each(1_000, run);
    table.row(
        "build + run hello-wasi (p50, p99 over 1 000 runs)",
        vec![Some(warm)],
    );
    table.note(format!(
        "the very first run, which compiles the module: {}",
        format_ns(first.as_nanos() as f64)
    ));
    table
}

/// The demo project, held in memory so that runs measure OANIX, not disk.
fn tempfile_project() -> MemFs {
    let fs = MemFs::new();
    fs.mkdir("/src").unwrap();
    oanix_vfs::write_file(&fs, "/README.md", "# demo\n").unwrap();
    oanix_vfs::write_file(&fs, "/src/main.rs", "fn main() {}\n").unwrap();
    fs
}

use oanix_vfs::FileService as _;

fn scheduler() -> Table {
    const JOBS: u64 = 1_000_000;
    let mut s = Scheduler::with_max_concurrent(usize::MAX);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    let kind = JobKind::script("x");
    let started = Instant::now();
    for i in 0..JOBS {
        s.submit(JobSpec::new(env, kind.clone()).with_priority((i % 16) as i32))
            .unwrap();
    }
    let mut done = 0u64;
    while let Some(job) = s.next() {
        s.complete(&job.id, 0).unwrap();
        done += 1;
    }
    let million = started.elapsed();
    assert_eq!(done, JOBS);
    let per_job = Stats {
        median_ns: million.as_nanos() as f64 / JOBS as f64,
        p99_ns: million.as_nanos() as f64 / JOBS as f64,
        ops: JOBS,
    };

    let mut table = Table::new("Scheduler", &["OANIX"]);
    table.row(
        "submit + next + complete, per job (1 000 000 jobs)",
        vec![Some(per_job)],
    );
    table.note(format!(
        "1 000 000 jobs submitted, taken and completed in {}",
        format_ns(million.as_nanos() as f64)
    ));

    // Trivial WASI jobs on the pool, two at a time.
    let wasm: Arc<[u8]> =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "_start")))"#)
            .unwrap()
            .into();
    let mut s = Scheduler::with_max_concurrent(2);
    let env = s.register_env(EnvBuilder::new().build().unwrap());
    const WASI_JOBS: usize = 2_000;
    for _ in 0..WASI_JOBS {
        s.submit(JobSpec::new(
            env,
            JobKind::wasi(Arc::clone(&wasm), Vec::<String>::new()),
        ))
        .unwrap();
    }
    let started = Instant::now();
    let mut ok = 0;
    s.run(Arc::new(WasiRunner::new()), |r| {
        if r.outcome == oanix_sched::JobOutcome::Succeeded {
            ok += 1;
        }
    });
    let took = started.elapsed();
    assert_eq!(ok, WASI_JOBS);
    table.note(format!(
        "trivial WASI jobs at max_concurrent = 2: {:.0} jobs/s ({WASI_JOBS} jobs in {})",
        WASI_JOBS as f64 / took.as_secs_f64(),
        format_ns(took.as_nanos() as f64)
    ));
    table
}

fn main() {
    environments().print();
    cold_start().print();
    scheduler().print();
}
