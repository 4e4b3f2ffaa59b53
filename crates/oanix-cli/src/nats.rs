//! `oanix worker --nats URL` and `oanix batch --nats URL`: jobs across
//! machines through NATS JetStream.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use oanix_env::EnvPlan;
use oanix_nats::{Band, Handled, JobState, NatsJob, QueueConfig, Queues, Worker, WorkerEvent};

use crate::batch::{BatchArgs, quantile};

/// Arguments of `oanix worker`.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The NATS server (`nats://HOST:4222`).
    #[arg(long, value_name = "URL")]
    nats: String,
    /// The worker's name in results (host name and process id by default).
    #[arg(long)]
    name: Option<String>,
    /// Where modules are cached (`~/.cache/oanix/modules` by default).
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// Seconds a taken job may go unacknowledged before another worker gets it.
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    ack_wait: f64,
    /// Deliveries a job gets before it is parked instead of run.
    #[arg(long, default_value_t = 3)]
    max_attempts: i64,
    /// Stop after this many jobs (run for ever by default).
    #[arg(long)]
    max_jobs: Option<u64>,
}

fn config(ack_wait: f64, max_attempts: i64) -> Result<QueueConfig> {
    if !(ack_wait.is_finite() && ack_wait >= 1.0) {
        bail!("--ack-wait {ack_wait}: at least 1 second");
    }
    if max_attempts < 1 {
        bail!("--max-attempts {max_attempts}: at least 1");
    }
    let mut c = QueueConfig::default();
    c.ack_wait = Duration::from_secs_f64(ack_wait);
    c.max_attempts = max_attempts;
    Ok(c)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the runtime")
}

/// `oanix worker`: runs jobs until SIGINT or SIGTERM (or `--max-jobs`).
pub(crate) fn worker(args: &WorkerArgs) -> Result<u8> {
    let name = args.name.clone().unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map_or_else(|_| "host".to_owned(), |h| h.trim().to_owned());
        format!("{host}-{}", std::process::id())
    });
    let cache = match &args.cache {
        Some(c) => c.clone(),
        None => std::env::var_os("HOME")
            .map_or_else(|| PathBuf::from("."), PathBuf::from)
            .join(".cache/oanix/modules"),
    };
    let config = config(args.ack_wait, args.max_attempts)?;
    runtime()?.block_on(async {
        let queues = Queues::connect(&args.nats, config).await?;
        let shutdown = crate::signals::stop_on_signals()?;
        eprintln!("oanix worker {name}: taking jobs from {}", args.nats);
        let mut worker = Worker::new(queues, name, cache);
        let mut count = 0u64;
        let max = args.max_jobs;
        let limit = shutdown.clone();
        worker
            .run(shutdown, |event| {
                let h = match event {
                    WorkerEvent::Took { id, attempt } => {
                        eprintln!("took {id} (delivery {attempt})");
                        return;
                    }
                    WorkerEvent::Done(h) => h,
                    _ => return,
                };
                match h {
                    Handled::Ran(id) => eprintln!("ran {id}"),
                    Handled::AlreadyDone(id) => eprintln!("{id}: done already, acknowledged"),
                    Handled::LateResult(id) => {
                        eprintln!(
                            "{id}: another delivery's result came first; this one was dropped"
                        );
                    }
                    Handled::Parked(id) => eprintln!("{id}: parked"),
                    _ => {}
                }
                count += 1;
                if max.is_some_and(|m| count >= m) {
                    limit.cancel();
                }
            })
            .await?;
        anyhow::Ok(0)
    })
}

/// `oanix batch --nats URL`: submits the jobs and follows their results.
pub(crate) fn batch(args: &BatchArgs, url: &str, json: bool) -> Result<u8> {
    let Some(band) = Band::parse(&args.priority) else {
        bail!(
            "--priority {:?}: expected high, normal or low",
            args.priority
        );
    };
    let manifest_text = std::fs::read_to_string(&args.manifest)
        .with_context(|| format!("reading {}", args.manifest.display()))?;
    let plan = EnvPlan::from_manifest_file(&args.manifest)?;
    let Some(module) = plan.agent.module.clone() else {
        bail!(
            "{}: --nats runs WASI jobs; the manifest names no [agent] module",
            args.manifest.display()
        );
    };
    let wasm = std::fs::read(&module).with_context(|| format!("reading {}", module.display()))?;
    let batch = args
        .batch_id
        .clone()
        .unwrap_or_else(|| format!("b{}-{}", oanix_nats::now_ms(), std::process::id()));
    if batch.is_empty()
        || !batch
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
    {
        bail!("--batch-id {batch:?}: use letters, digits, '-' and '_'");
    }
    runtime()?.block_on(async {
        let queues = Queues::connect(url, QueueConfig::default()).await?;
        let hash = queues.upload_module(&wasm).await?;
        let jobs: Vec<NatsJob> = (0..args.jobs)
            .map(|n| NatsJob::new(&batch, n, band, &manifest_text, &hash))
            .collect();
        let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let started = std::time::Instant::now();
        let follow = {
            let queues = queues.clone();
            let (batch, ids) = (batch.clone(), ids.clone());
            tokio::spawn(async move { queues.follow(&batch, &ids, |_| {}).await })
        };
        queues.submit(&jobs).await?;
        if !json {
            eprintln!("batch {batch}: {} jobs submitted to {url}", jobs.len());
        }
        let results = follow.await.context("following the results")??;
        let wall = started.elapsed();
        let submitted: std::collections::HashMap<&str, u64> = jobs
            .iter()
            .map(|j| (j.id.as_str(), j.submitted_ms))
            .collect();
        let mut latencies: Vec<Duration> = results
            .values()
            .map(|r| {
                let from = submitted
                    .get(r.id.as_str())
                    .copied()
                    .unwrap_or(r.finished_ms);
                Duration::from_millis(r.finished_ms.saturating_sub(from))
            })
            .collect();
        latencies.sort();
        let count = |s: JobState| results.values().filter(|r| r.state == s).count();
        let ok = results
            .values()
            .filter(|r| r.state == JobState::Completed && r.exit_code == Some(0))
            .count();
        let (completed, failed, parked) = (
            count(JobState::Completed),
            count(JobState::Failed),
            count(JobState::Parked),
        );
        let (p50, p99) = (quantile(&latencies, 0.5), quantile(&latencies, 0.99));
        if json {
            let mut sorted: Vec<_> = results.values().collect();
            sorted.sort_by(|a, b| a.id.cmp(&b.id));
            println!(
                "{}",
                serde_json::json!({
                    "batch": batch,
                    "jobs": args.jobs,
                    "completed": completed,
                    "failed": failed,
                    "parked": parked,
                    "p50_ms": p50.as_secs_f64() * 1e3,
                    "p99_ms": p99.as_secs_f64() * 1e3,
                    "wall_ms": wall.as_secs_f64() * 1e3,
                    "results": sorted,
                })
            );
        } else {
            println!("| jobs | completed | failed | parked | p50 submit→result | p99 | wall |");
            println!("|---:|---:|---:|---:|---:|---:|---:|");
            println!(
                "| {} | {completed} | {failed} | {parked} | {} ms | {} ms | {:.1} ms |",
                args.jobs,
                p50.as_millis(),
                p99.as_millis(),
                wall.as_secs_f64() * 1e3
            );
        }
        anyhow::Ok(u8::from(ok != args.jobs))
    })
}
