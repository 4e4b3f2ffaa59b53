//! `oanix snapshot` (save an environment's state), `oanix snapshots`
//! (list, verify and prune a store) and `oanix compare` (several agents
//! from one snapshot, side by side).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Args;
use oanix_env::{EnvPlan, EnvSnapshot, OanixEnv};
use oanix_sched::{JobKind, JobOutcome, JobResult, JobSpec, Scheduler, WasiRunner};
use oanix_store::Store;

use crate::run::{self, RunArgs};

/// Arguments of `oanix snapshot`.
#[derive(Debug, Args)]
pub(crate) struct SnapshotArgs {
    /// Where to save it: `DIR/NAME.snap` (the store `DIR` is created if
    /// need be; a snapshot of that name is replaced atomically).
    #[arg(long, short = 'o', value_name = "DIR/NAME.snap")]
    out: PathBuf,
    /// Run the agent first, and save the state it leaves (its workspace
    /// changes are kept in the snapshot, not applied).
    #[arg(long = "run")]
    run_agent: bool,
    /// The environment, as `oanix run` takes it.
    #[command(flatten)]
    env: RunArgs,
}

/// `oanix snapshot`.
pub(crate) fn snapshot(args: &mut SnapshotArgs, json: bool) -> Result<u8> {
    args.env.allow_no_agent = !args.run_agent;
    let env = run::plan(&args.env)?.builder()?.build()?;
    if args.run_agent {
        run_quietly(&env)?;
    }
    let snap = env.snapshot()?;
    let report = snap.save_file(&args.out)?;
    let (store, name) = Store::locate(&args.out)?;
    let info = store.open_snapshot(&name)?.info();
    if json {
        println!(
            "{}",
            serde_json::json!({
                "snapshot": report.path,
                "env": env.id().to_string(),
                "status": env.status(),
                "mounts": info.mounts.iter().map(|(p, k)| serde_json::json!({"path": p, "kind": k})).collect::<Vec<_>>(),
                "files": info.files,
                "bytes": info.bytes,
                "bytes_written": report.bytes_written,
                "blobs": report.blobs,
                "blobs_shared": report.shared,
            })
        );
    } else {
        let mounts: Vec<String> = info
            .mounts
            .iter()
            .map(|(p, k)| format!("{p} ({k})"))
            .collect();
        eprintln!(
            "snapshot: {} — {} file(s), {} bytes ({} written, {} of {} blobs already stored); mounts: {}",
            report.path.display(),
            info.files,
            info.bytes,
            report.bytes_written,
            report.shared,
            report.blobs,
            mounts.join(", ")
        );
    }
    Ok(0)
}

/// Runs the environment's agent, its output kept in its logs.
fn run_quietly(env: &OanixEnv) -> Result<()> {
    if env.agent().is_native() {
        oanix_native::NativeRun::new(env).run()?;
    } else {
        env.run_agent()?;
    }
    Ok(())
}

/// Arguments of `oanix snapshots`.
#[derive(Debug, Args)]
pub(crate) struct SnapshotsArgs {
    /// The store: a directory of `NAME.snap` files.
    store: PathBuf,
    /// Read and verify every byte of every snapshot.
    #[arg(long)]
    verify: bool,
    /// Keep only the N newest snapshots, remove the others and the packs
    /// only they used.
    #[arg(long, value_name = "N")]
    keep: Option<usize>,
}

/// `oanix snapshots`.
pub(crate) fn snapshots(args: &SnapshotsArgs, json: bool) -> Result<u8> {
    if !args.store.is_dir() {
        bail!(
            "{} is not a directory (a snapshot store)",
            args.store.display()
        );
    }
    let store = Store::open(&args.store)?;
    let pruned = match args.keep {
        Some(keep) => Some(store.prune(keep)?),
        None => None,
    };
    let list = store.list()?;
    if args.verify {
        for info in &list {
            store
                .open_snapshot(&info.name)
                .and_then(|s| s.verify())
                .with_context(|| format!("verifying {}", info.name))?;
        }
    }
    if json {
        let snaps: Vec<_> = list
            .iter()
            .map(|i| {
                serde_json::json!({
                    "name": i.name,
                    "created": i.created,
                    "source": i.source,
                    "files": i.files,
                    "bytes": i.bytes,
                    "mounts": i.mounts.iter().map(|(p, k)| serde_json::json!({"path": p, "kind": k})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "snapshots": snaps,
                "verified": args.verify,
                "pruned": pruned.as_ref().map(|p| &p.removed),
            })
        );
    } else {
        if let Some(p) = &pruned {
            eprintln!(
                "pruned: {} snapshot(s), {} pack(s), {} bytes",
                p.removed.len(),
                p.gc.packs_removed,
                p.gc.bytes_removed
            );
        }
        println!("| snapshot | taken (ns) | of | files | bytes |");
        println!("|---|---:|---|---:|---:|");
        for i in &list {
            println!(
                "| {} | {} | {} | {} | {} |",
                i.name,
                i.created.as_nanos(),
                i.source,
                i.files,
                i.bytes
            );
        }
        if args.verify {
            eprintln!("verified: {} snapshot(s)", list.len());
        }
    }
    Ok(0)
}

/// Arguments of `oanix compare`.
#[derive(Debug, Args)]
pub(crate) struct CompareArgs {
    /// The snapshot every agent starts from (`DIR/NAME.snap`).
    #[arg(long, value_name = "SNAP")]
    from: PathBuf,
    /// The agents: WASI modules (`.wasm`) or manifests (`.toml`, whose
    /// `[agent]` may be a native command, with its capabilities).
    #[arg(required = true, num_args = 1..)]
    agents: Vec<PathBuf>,
    /// A capability for every agent: `http=HOST,...` or `ws=HOST,...`.
    #[arg(long = "cap", value_name = "CAP=HOSTS")]
    caps: Vec<String>,
    /// Wall-clock limit of each run, in seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// How many agents run at once.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
    /// Arguments for every agent.
    #[arg(last = true)]
    args: Vec<String>,
}

/// One agent's run, as compared.
struct Compared {
    agent: PathBuf,
    env: OanixEnv,
    result: Option<JobResult>,
}

/// The plan of one agent of `oanix compare`.
fn agent_plan(agent: &std::path::Path, args: &CompareArgs) -> Result<EnvPlan> {
    let mut plan = if agent.extension().is_some_and(|e| e == "toml") {
        EnvPlan::from_manifest_file(agent)?
    } else if agent.extension().is_some_and(|e| e == "wasm") && agent.is_file() {
        let mut plan = EnvPlan::new();
        plan.agent.module = Some(agent.to_owned());
        plan
    } else {
        bail!(
            "{}: an agent is a .wasm module or a .toml manifest that is a file",
            agent.display()
        );
    };
    if plan.agent.module.is_none() && plan.agent.command.is_empty() {
        bail!("{}: names no agent", agent.display());
    }
    run::apply_caps_and_timeout(&mut plan, &args.caps, args.timeout)?;
    Ok(plan)
}

/// `oanix compare`: returns 0 when every agent succeeded.
pub(crate) fn compare(args: &CompareArgs, json: bool) -> Result<u8> {
    if args.concurrency == 0 {
        bail!("--concurrency 0: at least one agent must run at a time");
    }
    let snap = EnvSnapshot::load_file(&args.from)
        .with_context(|| format!("loading {}", args.from.display()))?;
    let mut scheduler = Scheduler::with_max_concurrent(args.concurrency);
    let mut runs = Vec::with_capacity(args.agents.len());
    for agent in &args.agents {
        let plan = agent_plan(agent, args)?;
        let env = plan
            .builder_from(&snap)
            .with_context(|| format!("{}: starting from {}", agent.display(), args.from.display()))?
            .build()?;
        let kind = if env.agent().is_native() {
            JobKind::native(args.args.clone())
        } else {
            let module = env.agent().module.clone().unwrap_or_default();
            let wasm: Arc<[u8]> = std::fs::read(&module)
                .with_context(|| format!("reading {}", module.display()))?
                .into();
            JobKind::wasi(wasm, args.args.clone())
        };
        let id = scheduler.register_env(env.clone());
        scheduler.submit(JobSpec::new(id, kind))?;
        runs.push(Compared {
            agent: agent.clone(),
            env,
            result: None,
        });
    }
    scheduler.run(Arc::new(WasiRunner::new()), |r| {
        if let Some(run) = runs.iter_mut().find(|c| c.env.id() == r.env_id) {
            run.result = Some(r.clone());
        }
    });
    let mut reports = Vec::with_capacity(runs.len());
    for run in &runs {
        reports.push(report(run)?);
    }
    let all_ok = runs.iter().all(|r| {
        r.result
            .as_ref()
            .is_some_and(|r| r.outcome == JobOutcome::Succeeded)
    });
    if json {
        println!(
            "{}",
            serde_json::json!({ "snapshot": args.from, "agents": reports })
        );
    } else {
        print_table(&reports);
    }
    Ok(u8::from(!all_ok))
}

/// What one agent did: status, exit code, result, workspace changes and
/// diff (the changes are then discarded: a comparison applies nothing).
fn report(run: &Compared) -> Result<serde_json::Value> {
    let env = &run.env;
    let result = env
        .task()
        .map(|t| t.result().map_err(|e| e.to_string()))
        .transpose();
    let (changes, diff) = match env.workspace() {
        Some(ws) => {
            let changes = ws.changes()?;
            let diff = ws.diff()?;
            ws.discard();
            (serde_json::to_value(&changes)?, diff)
        }
        None => (serde_json::json!([]), String::new()),
    };
    let job = run.result.as_ref();
    Ok(serde_json::json!({
        "agent": run.agent,
        "env": env.id().to_string(),
        // The scheduler reports the job; the task says what the agent said.
        "status": job.map_or("not run".to_owned(), |j| format!("{:?}", j.outcome).to_lowercase()),
        "task": env.task().map(|t| t.status()),
        "exit_code": job.and_then(|j| j.exit_code),
        "duration_ms": job.map(|j| j.duration.as_secs_f64() * 1e3),
        "error": job.and_then(|j| j.error.clone()),
        "result": match result {
            Ok(Some(Some(v))) => v,
            Ok(_) => serde_json::Value::Null,
            Err(e) => serde_json::json!({ "invalid": e }),
        },
        "changes": changes,
        "diff": diff,
    }))
}

fn print_table(reports: &[serde_json::Value]) {
    println!("| agent | status | exit | time | result | changes |");
    println!("|---|---|---:|---:|---|---:|");
    for r in reports {
        let agent = r["agent"].as_str().unwrap_or("?");
        let status = r["status"].as_str().unwrap_or("?");
        let exit = r["exit_code"]
            .as_i64()
            .map_or("-".into(), |c| c.to_string());
        let time = r["duration_ms"]
            .as_f64()
            .map_or("-".into(), |t| format!("{t:.1} ms"));
        let changes = r["changes"].as_array().map_or(0, Vec::len);
        println!(
            "| {agent} | {status} | {exit} | {time} | {} | {changes} |",
            r["result"]
        );
    }
    for r in reports {
        let diff = r["diff"].as_str().unwrap_or("");
        println!();
        println!("## {}", r["agent"].as_str().unwrap_or("?"));
        if let Some(e) = r["error"].as_str() {
            println!("error: {e}");
        }
        if diff.is_empty() {
            println!("(no workspace changes)");
        } else {
            print!("{diff}");
            if !diff.ends_with('\n') {
                println!();
            }
        }
    }
}
