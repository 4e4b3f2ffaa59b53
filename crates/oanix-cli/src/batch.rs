//! `oanix batch`: many jobs of one agent (a WASI module or a native
//! command), each in an environment of its own, through the scheduler, with
//! a progress line and a summary.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use oanix_env::EnvPlan;
use oanix_sched::{JobKind, JobOutcome, JobSpec, Scheduler, WasiRunner};

/// The `q` quantile of sorted durations.
pub(crate) fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn progress(done: usize, total: usize) {
    const WIDTH: usize = 30;
    let filled = done * WIDTH / total.max(1);
    let mut err = std::io::stderr().lock();
    let _ = write!(
        err,
        "\r[{}{}] {done}/{total}",
        "#".repeat(filled),
        " ".repeat(WIDTH - filled)
    );
    let _ = err.flush();
}

/// `oanix batch`; returns the exit code (0 when every job succeeded).
pub(crate) fn batch(args: &BatchArgs, json: bool) -> Result<u8> {
    if args.jobs == 0 {
        bail!("--jobs 0: nothing to run");
    }
    if args.concurrency == 0 {
        bail!("--concurrency 0: at least one job must run at a time");
    }
    let manifest: &Path = &args.manifest;
    // Read the manifest and the agent once; every job gets an environment
    // of its own from the same plan, and shares the module's bytes.
    let plan = EnvPlan::from_manifest_file(manifest)?;
    let kind = if plan.agent.is_native() {
        // Each job runs the environment's own command, arguments and sandbox.
        JobKind::native(Vec::<String>::new())
    } else {
        let Some(module) = plan.agent.module.clone() else {
            bail!(
                "{}: the manifest names no [agent] module or command",
                manifest.display()
            );
        };
        let wasm: Arc<[u8]> = std::fs::read(&module)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", module.display()))?
            .into();
        JobKind::wasi(wasm, Vec::<String>::new())
    };
    let mut scheduler = Scheduler::with_max_concurrent(args.concurrency);
    for _ in 0..args.jobs {
        let env = plan.builder()?.build()?;
        let id = scheduler.register_env(env);
        scheduler.submit(JobSpec::new(id, kind.clone()))?;
    }
    let show_progress = !json && std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut results = Vec::with_capacity(args.jobs);
    scheduler.run(Arc::new(WasiRunner::new()), |r| {
        results.push(r.clone());
        if show_progress {
            progress(results.len(), args.jobs);
        }
    });
    if show_progress {
        eprintln!();
    }
    let wall = started.elapsed();
    let count = |o: JobOutcome| results.iter().filter(|r| r.outcome == o).count();
    let (done, failed, timed_out, cancelled) = (
        count(JobOutcome::Succeeded),
        count(JobOutcome::Failed),
        count(JobOutcome::TimedOut),
        count(JobOutcome::Cancelled),
    );
    let mut durations: Vec<Duration> = results.iter().map(|r| r.duration).collect();
    durations.sort();
    let (p50, p99) = (quantile(&durations, 0.5), quantile(&durations, 0.99));
    if json {
        println!(
            "{}",
            serde_json::json!({
                "jobs": args.jobs,
                "concurrency": args.concurrency,
                "done": done,
                "failed": failed,
                "timed_out": timed_out,
                "cancelled": cancelled,
                "p50_ms": p50.as_secs_f64() * 1e3,
                "p99_ms": p99.as_secs_f64() * 1e3,
                "wall_ms": wall.as_secs_f64() * 1e3,
                "results": results,
            })
        );
    } else {
        println!("| jobs | done | failed | timed out | p50 | p99 | wall |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        println!(
            "| {} | {done} | {failed} | {timed_out} | {:.2} ms | {:.2} ms | {:.1} ms |",
            args.jobs,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            wall.as_secs_f64() * 1e3
        );
        for r in results
            .iter()
            .filter(|r| r.outcome != JobOutcome::Succeeded)
            .take(5)
        {
            println!(
                "{} {:?}: {}",
                r.job_id,
                r.outcome,
                r.error.as_deref().unwrap_or("")
            );
        }
    }
    Ok(u8::from(done != args.jobs))
}

/// Arguments of `oanix batch`.
#[derive(Debug, Args)]
pub(crate) struct BatchArgs {
    /// The environment manifest (TOML); its `[agent]` is the job.
    pub(crate) manifest: PathBuf,
    /// How many jobs (each in an environment of its own).
    #[arg(long, default_value_t = 10)]
    pub(crate) jobs: usize,
    /// How many jobs run at once.
    #[arg(long, default_value_t = 2)]
    pub(crate) concurrency: usize,
    /// Submit the jobs to the NATS JetStream server at URL (for `oanix
    /// worker`s to run) instead of running them here, and follow their
    /// results.
    #[arg(long, value_name = "URL")]
    pub(crate) nats: Option<String>,
    /// The jobs' priority band with --nats: high, normal or low.
    #[arg(long, default_value = "normal", value_name = "BAND")]
    pub(crate) priority: String,
    /// The batch's id with --nats (job ids are ID.N; submitting the same id
    /// again within two minutes adds nothing). A fresh one by default.
    #[arg(long, value_name = "ID")]
    pub(crate) batch_id: Option<String>,
    /// With --nats: serve Prometheus metrics at http://ADDR/metrics while
    /// the batch runs (the address is printed).
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics: Option<String>,
    /// With --metrics: keep serving them this many seconds after the last
    /// result.
    #[arg(long, value_name = "SECS")]
    pub(crate) metrics_linger: Option<f64>,
}
