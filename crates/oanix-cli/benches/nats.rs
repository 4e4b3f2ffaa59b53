//! Benchmark: trivial WASI jobs through one NATS JetStream server
//! (Debian's `nats-server`, started here on loopback) with 1, 2 and 4
//! `oanix worker` processes, against the in-process scheduler in the same
//! run. Two measures: a batch of 10 000 jobs submitted at once (jobs per
//! second end to end, and submit-to-result latency, which at saturation is
//! mostly the queue), and jobs submitted one at a time, each awaited
//! (the latency of one job through the cluster).
//!
//! Without `nats-server` on the `PATH` (or `OANIX_NATS_SERVER`) it says so
//! and measures nothing. `OANIX_BENCH_JOBS` changes the batch size.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::panic,
    reason = "benchmark setup and report"
)]

use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oanix_env::EnvPlan;
use oanix_nats::{Band, NatsJob, QueueConfig, Queues};
use oanix_sched::{JobKind, JobSpec, Scheduler, WasiRunner};
use serde_json::Value;

/// A module that returns at once.
const EMPTY: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;

const ONE_AT_A_TIME: usize = 300;

#[path = "../tests/support/nats_server.rs"]
mod server;

fn start_server(program: &Path, store: &Path) -> server::Server {
    server::start(program, store, "127.0.0.1", server::free_port())
}

struct Workers(Vec<Child>);

impl Workers {
    fn start(n: usize, url: &str, dir: &Path) -> Self {
        let mut children = Vec::new();
        for i in 0..n {
            let mut child = Command::new(env!("CARGO_BIN_EXE_oanix"))
                .args([
                    "worker",
                    "--nats",
                    url,
                    "--name",
                    &format!("w{i}"),
                    "--cache",
                ])
                .arg(dir.join("cache"))
                .current_dir(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
            loop {
                let line = lines.next().expect("the worker started").unwrap();
                if line.contains("taking jobs") {
                    break;
                }
            }
            // Its lines are read (and dropped) so that it never blocks on them.
            std::thread::spawn(move || for _ in lines {});
            children.push(child);
        }
        Self(children)
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The in-process scheduler: `jobs` environments built from the manifest,
/// the jobs submitted and run, two at a time (the machine's cores).
fn in_process(manifest: &Path, wasm: &Arc<[u8]>, jobs: usize) -> (Duration, Duration, Duration) {
    let started = Instant::now();
    let plan = EnvPlan::from_manifest_file(manifest).unwrap();
    let mut scheduler = Scheduler::with_max_concurrent(2);
    let mut submitted = Vec::with_capacity(jobs);
    for _ in 0..jobs {
        let env = plan.builder().unwrap().build().unwrap();
        let id = scheduler.register_env(env);
        scheduler
            .submit(JobSpec::new(
                id,
                JobKind::wasi(Arc::clone(wasm), Vec::<String>::new()),
            ))
            .unwrap();
        submitted.push(started.elapsed());
    }
    let mut latencies = Vec::with_capacity(jobs);
    let mut n = 0;
    scheduler.run(Arc::new(WasiRunner::new()), |_| {
        latencies.push(started.elapsed().saturating_sub(submitted[n.min(jobs - 1)]));
        n += 1;
    });
    let wall = started.elapsed();
    latencies.sort();
    (wall, quantile(&latencies, 0.5), quantile(&latencies, 0.99))
}

/// `oanix --json batch --nats`: the whole batch at once.
fn batch(url: &str, manifest: &Path, dir: &Path, jobs: usize, id: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .arg("--json")
        .arg("batch")
        .arg(manifest)
        .args(["--nats", url, "--jobs", &jobs.to_string(), "--batch-id", id])
        .current_dir(dir)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    });
    assert_eq!(report["completed"], jobs, "{report}");
    report
}

/// Jobs submitted one at a time through the library, each followed to its
/// result before the next.
fn one_at_a_time(url: &str, manifest: &str, wasm: &[u8], id: &str) -> (Duration, Duration) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let queues = Queues::connect(url, QueueConfig::default()).await.unwrap();
        let hash = queues.upload_module(wasm).await.unwrap();
        let mut latencies = Vec::with_capacity(ONE_AT_A_TIME);
        for n in 0..ONE_AT_A_TIME + 20 {
            let batch = format!("{id}-{n}");
            let job = NatsJob::new(&batch, 0, Band::Normal, manifest, &hash);
            let ids = vec![job.id.clone()];
            let started = Instant::now();
            queues.submit(std::slice::from_ref(&job)).await.unwrap();
            queues
                .follow(&batch, &ids, Duration::from_secs(30), |_| {})
                .await
                .unwrap();
            // The first few warm the workers' caches.
            if n >= 20 {
                latencies.push(started.elapsed());
            }
        }
        latencies.sort();
        (quantile(&latencies, 0.5), quantile(&latencies, 0.99))
    })
}

fn main() {
    let Some(program) = server::find() else {
        println!("nats-server is not installed: the JetStream benchmark did not run");
        return;
    };
    let jobs: usize = std::env::var("OANIX_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let wasm = wat::parse_str(EMPTY).unwrap();
    std::fs::write(dir.path().join("empty.wasm"), &wasm).unwrap();
    let manifest_text = "[task]\nid = \"empty\"\n\n[agent]\nmodule = \"empty.wasm\"\n";
    let manifest = dir.path().join("empty.toml");
    std::fs::write(&manifest, manifest_text).unwrap();
    let wasm: Arc<[u8]> = wasm.into();

    let mut rows: Vec<Vec<String>> = Vec::new();
    let header = [
        "engine",
        "workers",
        "jobs",
        "wall",
        "jobs/s",
        "ratio to in-process",
        "p50 submit→result (all at once)",
        "p99",
        "p50 one at a time",
        "p99 one at a time",
    ];
    let (wall, p50, p99) = in_process(&manifest, &wasm, jobs);
    let base = jobs as f64 / wall.as_secs_f64();
    rows.push(vec![
        "in-process scheduler".into(),
        "2 threads".into(),
        jobs.to_string(),
        ms(wall),
        format!("{base:.0}"),
        "1.00".into(),
        ms(p50),
        ms(p99),
        "-".into(),
        "-".into(),
    ]);
    for workers in [1, 2, 4] {
        let store = dir.path().join(format!("js-{workers}"));
        let server = start_server(&program, &store);
        let _w = Workers::start(workers, &server.url, dir.path());
        // A small batch first: modules cached, consumers made.
        batch(
            &server.url,
            &manifest,
            dir.path(),
            50,
            &format!("warm{workers}"),
        );
        let report = batch(
            &server.url,
            &manifest,
            dir.path(),
            jobs,
            &format!("b{workers}"),
        );
        let wall = Duration::from_secs_f64(report["wall_ms"].as_f64().unwrap() / 1e3);
        let rate = jobs as f64 / wall.as_secs_f64();
        let (one_p50, one_p99) =
            one_at_a_time(&server.url, manifest_text, &wasm, &format!("one{workers}"));
        let p = |k: &str| Duration::from_secs_f64(report[k].as_f64().unwrap() / 1e3);
        rows.push(vec![
            "NATS JetStream".into(),
            workers.to_string(),
            jobs.to_string(),
            ms(wall),
            format!("{rate:.0}"),
            format!("{:.2}", rate / base),
            ms(p("p50_ms")),
            ms(p("p99_ms")),
            ms(one_p50),
            ms(one_p99),
        ]);
    }
    println!("## oanix-nats: {jobs} empty WASI jobs through one JetStream server\n");
    println!("| {} |", header.join(" | "));
    println!("|{}", "---|".repeat(header.len()));
    for row in rows {
        println!("| {} |", row.join(" | "));
    }
}
