//! `oanix worker --nats URL` and `oanix batch --nats URL`: jobs across
//! machines through NATS JetStream.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use oanix_env::EnvPlan;
use oanix_nats::{Band, Handled, JobState, NatsJob, QueueConfig, Queues, Worker, WorkerEvent};
use tracing::Instrument as _;

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
    /// Serve Prometheus metrics at http://ADDR/metrics (port 0 picks one;
    /// the address is printed).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
}

/// Arguments of `oanix cancel`.
#[derive(Debug, Args)]
pub(crate) struct CancelArgs {
    /// The NATS server (`nats://HOST:4222`).
    #[arg(long, value_name = "URL")]
    nats: String,
    /// Why (written in each cancelled job's result).
    #[arg(long, default_value = "cancelled by the user")]
    reason: String,
    /// Job ids (`BATCH.N`), or `BATCH.FIRST-LAST` for a range of a batch's
    /// jobs (`b1.0-999`).
    #[arg(required = true, value_name = "JOB")]
    jobs: Vec<String>,
}

/// The job ids `spec` names: `BATCH.N`, or `BATCH.FIRST-LAST`.
fn job_ids(spec: &str) -> Result<Vec<String>> {
    let Some((batch, n)) = spec.rsplit_once('.') else {
        bail!("{spec:?}: a job id is BATCH.N (or BATCH.FIRST-LAST)");
    };
    if batch.is_empty() {
        bail!("{spec:?}: no batch before the '.'");
    }
    let number = |s: &str| {
        s.parse::<usize>()
            .with_context(|| format!("{spec:?}: {s:?} is not a job number"))
    };
    match n.split_once('-') {
        None => Ok(vec![format!("{batch}.{}", number(n)?)]),
        Some((first, last)) => {
            let (first, last) = (number(first)?, number(last)?);
            if first > last {
                bail!("{spec:?}: the range ends before it starts");
            }
            Ok((first..=last).map(|i| format!("{batch}.{i}")).collect())
        }
    }
}

/// `oanix cancel`: cancels the jobs named, prints how many were.
pub(crate) fn cancel(args: &CancelArgs, json: bool) -> Result<u8> {
    let mut ids = Vec::new();
    for spec in &args.jobs {
        ids.extend(job_ids(spec)?);
    }
    runtime()?.block_on(async {
        let queues = Queues::connect(&args.nats, QueueConfig::default()).await?;
        let cancelled = queues.cancel(&ids, &args.reason).await?;
        if json {
            println!(
                "{}",
                serde_json::json!({ "named": ids.len(), "cancelled": cancelled })
            );
        } else {
            println!(
                "{cancelled} of {} jobs cancelled (the others had a result already)",
                ids.len()
            );
        }
        anyhow::Ok(0)
    })
}

/// Binds `addr` and serves `metrics` there until `shutdown`.
async fn metrics_endpoint(
    addr: &str,
    metrics: oanix_nats::Metrics,
    shutdown: tokio_util::sync::CancellationToken,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--metrics {addr}: cannot listen"))?;
    let local = listener.local_addr().context("the metrics address")?;
    eprintln!("metrics on http://{local}/metrics");
    tokio::spawn(oanix_nats::serve_metrics(metrics, listener, shutdown));
    Ok(())
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
    let _telemetry = crate::telemetry::init("oanix-worker")?;
    runtime()?.block_on(async {
        let queues = Queues::connect(&args.nats, config).await?;
        let shutdown = crate::signals::stop_on_signals()?;
        eprintln!("oanix worker {name}: taking jobs from {}", args.nats);
        let mut worker = Worker::new(queues, name, cache);
        if let Some(addr) = &args.metrics {
            metrics_endpoint(addr, worker.metrics(), shutdown.clone()).await?;
        }
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
                    Handled::Cancelled(id) => eprintln!("{id}: cancelled, stopped"),
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
    let _telemetry = crate::telemetry::init("oanix-batch")?;
    let root = tracing::info_span!("oanix.batch", batch = %batch, jobs = args.jobs);
    let run = async {
        let queues = Queues::connect(url, QueueConfig::default()).await?;
        let hash = queues.upload_module(&wasm).await?;
        let jobs: Vec<NatsJob> = (0..args.jobs)
            .map(|n| NatsJob::new(&batch, n, band, &manifest_text, &hash))
            .collect();
        let ids: Vec<String> = jobs.iter().map(|j| j.id.clone()).collect();
        let started = std::time::Instant::now();
        let metrics = oanix_nats::Metrics::batch();
        metrics.set("oanix_batch_jobs", "state=\"pending\"", jobs.len() as f64);
        let stop_metrics = tokio_util::sync::CancellationToken::new();
        if let Some(addr) = &args.metrics {
            metrics_endpoint(addr, metrics.clone(), stop_metrics.clone()).await?;
        }
        let follow = {
            let queues = queues.clone();
            let (batch, ids) = (batch.clone(), ids.clone());
            let submitted: std::collections::HashMap<String, u64> = jobs
                .iter()
                .map(|j| (j.id.clone(), j.submitted_ms))
                .collect();
            let metrics = metrics.clone();
            tokio::spawn(
                async move {
                    queues
                        .follow(&batch, &ids, Duration::from_secs(60), |r| {
                            let state = match r.state {
                                JobState::Completed => "completed",
                                JobState::Failed => "failed",
                                JobState::Cancelled => "cancelled",
                                _ => "parked",
                            };
                            metrics.add("oanix_batch_jobs", "state=\"pending\"", -1.0);
                            metrics.add("oanix_batch_jobs", &format!("state=\"{state}\""), 1.0);
                            let from = submitted.get(&r.id).copied().unwrap_or(r.finished_ms);
                            let secs = r.finished_ms.saturating_sub(from) as f64 / 1e3;
                            metrics.observe("oanix_batch_submit_to_result_seconds", secs);
                        })
                        .await
                }
                .in_current_span(),
            )
        };
        // SIGINT or SIGTERM cancels the jobs without a result; the batch
        // then ends as the cancelled results come in.
        let stop = crate::signals::stop_on_signals()?;
        let cancel = {
            let (queues, ids, stop) = (queues.clone(), ids.clone(), stop.clone());
            tokio::spawn(async move {
                stop.cancelled().await;
                eprintln!("cancelling the jobs without a result");
                queues.cancel(&ids, "the batch was stopped").await
            })
        };
        tokio::select! {
            submitted = queues.submit(&jobs) => submitted?,
            () = stop.cancelled() => {}
        }
        if !json {
            eprintln!("batch {batch}: {} jobs submitted to {url}", jobs.len());
        }
        let mut follow = follow;
        let results = tokio::select! {
            r = &mut follow => r.context("following the results")??,
            c = cancel => {
                c.context("cancelling")??;
                follow.await.context("following the results")??
            }
        };
        if let Some(secs) = args.metrics_linger {
            // Kept up for a scraper's last look.
            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
        }
        stop_metrics.cancel();
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
        let (completed, failed, parked, cancelled) = (
            count(JobState::Completed),
            count(JobState::Failed),
            count(JobState::Parked),
            count(JobState::Cancelled),
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
                    "cancelled": cancelled,
                    "p50_ms": p50.as_secs_f64() * 1e3,
                    "p99_ms": p99.as_secs_f64() * 1e3,
                    "wall_ms": wall.as_secs_f64() * 1e3,
                    "results": sorted,
                })
            );
        } else {
            println!(
                "| jobs | completed | failed | parked | cancelled | p50 submit→result | p99 | wall |"
            );
            println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
            println!(
                "| {} | {completed} | {failed} | {parked} | {cancelled} | {} ms | {} ms | {:.1} ms |",
                args.jobs,
                p50.as_millis(),
                p99.as_millis(),
                wall.as_secs_f64() * 1e3
            );
        }
        anyhow::Ok(u8::from(ok != args.jobs))
    };
    runtime()?.block_on(run.instrument(root))
}
