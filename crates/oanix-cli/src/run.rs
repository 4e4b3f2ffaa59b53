//! `oanix run`: build the environment, run the agent, stream its output,
//! report, and review its workspace changes.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use oanix_caps::{EgressPolicy, HttpFs, WsFs};
use oanix_env::{EnvBuilder, EnvStatus, OanixEnv};
use oanix_prims::{MemFs, MemLimits};
use oanix_services::{
    LogStream, LogsFs, TaskFs, TaskMeta, TaskSpec, WorkspaceFs, WorkspaceOverlay,
};
use oanix_vfs::MountFlags;
use oanix_wasi::TrapKind;

use crate::RunArgs;

/// Exit code when the agent ran out of time.
const EXIT_TIMEOUT: u8 = 124;
/// Exit code when the agent trapped or the environment failed otherwise.
const EXIT_FAILED: u8 = 1;

/// Copies one log stream to our own output while the agent runs.
struct Streamer {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Streamer {
    fn start(logs: &LogsFs) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        for (stream, to_stdout) in [(LogStream::Stdout, true), (LogStream::Stderr, false)] {
            let mut follower = logs.follow(stream);
            let stop = Arc::clone(&stop);
            threads.push(std::thread::spawn(move || {
                let write = |bytes: &[u8]| {
                    // Output is best effort: a closed pipe must not fail the run.
                    if to_stdout {
                        let mut out = std::io::stdout().lock();
                        let _ = out.write_all(bytes).and_then(|()| out.flush());
                    } else {
                        let mut err = std::io::stderr().lock();
                        let _ = err.write_all(bytes).and_then(|()| err.flush());
                    }
                };
                loop {
                    // Woken by each write; the timeout only bounds how late
                    // the stop request is seen.
                    match follower.next_timeout(Duration::from_millis(100)) {
                        Some(bytes) => write(&bytes),
                        None if stop.load(Ordering::SeqCst) => {
                            while let Some(bytes) = follower.try_next() {
                                write(&bytes);
                            }
                            break;
                        }
                        None => {}
                    }
                }
            }));
        }
        Self { stop, threads }
    }

    fn finish(self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            let _ = t.join();
        }
    }
}

/// Parses `http=host1,host2` or `ws=host`.
fn capability(spec: &str) -> Result<(String, EgressPolicy)> {
    let Some((kind, hosts)) = spec.split_once('=') else {
        bail!("--cap {spec:?}: expected CAP=HOST,... (for example http=api.example.com)");
    };
    let hosts: Vec<&str> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect();
    if hosts.is_empty() {
        bail!("--cap {spec:?}: no hosts given");
    }
    let policy = EgressPolicy::allow_hosts(hosts.iter().copied());
    policy
        .validate()
        .with_context(|| format!("--cap {spec:?}"))?;
    match kind {
        "http" | "ws" => Ok((kind.to_owned(), policy)),
        other => bail!("--cap {spec:?}: unknown capability {other:?} (expected http or ws)"),
    }
}

fn builder(args: &RunArgs) -> Result<EnvBuilder> {
    let is_manifest = args.target.extension().is_some_and(|e| e == "toml");
    let mut b = if is_manifest {
        EnvBuilder::from_manifest_file(&args.target)?
    } else {
        if !args.target.is_file() {
            bail!(
                "{} is not a file (expected a .wasm module or a .toml manifest)",
                args.target.display()
            );
        }
        EnvBuilder::new()
            .mount("/logs", LogsFs::new())
            .mount(
                "/tmp",
                MemFs::with_limits(MemLimits::capacity(oanix_env::DEFAULT_TMP_BYTES)),
            )
            .agent_module(&args.target)
    };
    if let Some(path) = &args.task {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the task {}", path.display()))?;
        let spec: TaskSpec = serde_json::from_str(&text)
            .with_context(|| format!("the task {} is not a task specification", path.display()))?;
        b = b.mount("/task", TaskFs::new(spec, TaskMeta::default()));
    } else if !b.has_mount("/task") {
        let spec = TaskSpec {
            id: "run".into(),
            task_type: "run".into(),
            description: String::new(),
            input: serde_json::Value::Null,
        };
        b = b.mount("/task", TaskFs::new(spec, TaskMeta::default()));
    }
    if let Some(dir) = &args.workspace {
        if !dir.is_dir() {
            bail!("--workspace {}: not a directory", dir.display());
        }
        let flags = MountFlags::replace();
        b = if args.cow {
            let overlay = WorkspaceOverlay::with_capacity(dir, oanix_env::DEFAULT_OVERLAY_BYTES)?;
            b.mount_with("/workspace", overlay, flags)
        } else if args.ro {
            b.mount_with("/workspace", WorkspaceFs::readonly(dir)?, flags)
        } else {
            b.mount_with("/workspace", WorkspaceFs::new(dir)?, flags)
        };
    } else if args.ro || args.cow {
        bail!("--ro and --cow need --workspace DIR");
    }
    for spec in &args.caps {
        let (kind, policy) = capability(spec)?;
        b = if kind == "http" {
            b.mount("/cap/http", HttpFs::builder().policy(policy).build())
        } else {
            b.mount("/cap/ws", WsFs::builder().policy(policy).build())
        };
    }
    if let Some(t) = args.timeout {
        if !(t.is_finite() && t > 0.0) {
            bail!("--timeout {t}: expected a positive number of seconds");
        }
        b = b.timeout(Duration::from_secs_f64(t));
    }
    // Capabilities are live: their requests are carried out under their policies.
    Ok(b.executors(oanix_exec::ExecutorConfig::default())
        .agent_args(args.args.iter().cloned()))
}

/// What to do with the workspace changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Review {
    Apply,
    Discard,
}

fn review(env: &OanixEnv, args: &RunArgs, json: bool) -> Result<serde_json::Value> {
    let Some(ws) = env.workspace() else {
        return Ok(serde_json::Value::Null);
    };
    let changes = ws.changes()?;
    if !json {
        if changes.is_empty() {
            eprintln!("workspace: no changes");
        } else {
            eprintln!("workspace changes:");
            for c in &changes {
                let (mark, sizes) = match (c.before, c.after) {
                    (None, Some(a)) => ("A", format!("{} bytes", a.size)),
                    (Some(b), None) => ("D", format!("{} bytes", b.size)),
                    (Some(b), Some(a)) => ("M", format!("{} -> {} bytes", b.size, a.size)),
                    (None, None) => ("?", String::new()),
                };
                eprintln!("  {mark} {} ({sizes})", c.path);
            }
        }
    }
    if changes.is_empty() {
        return Ok(serde_json::json!({ "changes": [], "applied": false }));
    }
    let decision = if args.apply {
        Review::Apply
    } else if args.discard {
        Review::Discard
    } else if !json && std::io::stdin().is_terminal() {
        eprint!("apply these changes to the workspace? [y/N] ");
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the answer")?;
        if matches!(line.trim(), "y" | "Y" | "yes") {
            Review::Apply
        } else {
            Review::Discard
        }
    } else {
        if !json {
            eprintln!("workspace: changes not applied (use --apply or --discard)");
        }
        Review::Discard
    };
    let listed = serde_json::to_value(&changes)?;
    match decision {
        Review::Apply => {
            let report = ws.commit().context("applying the workspace changes")?;
            if !json {
                eprintln!("workspace: applied {} change(s)", report.applied.len());
            }
            Ok(serde_json::json!({ "changes": listed, "applied": true }))
        }
        Review::Discard => {
            ws.discard();
            if !json && args.discard {
                eprintln!("workspace: changes discarded");
            }
            Ok(serde_json::json!({ "changes": listed, "applied": false }))
        }
    }
}

/// `oanix run`; returns the process exit code.
pub(crate) fn run(args: &RunArgs, json: bool) -> Result<u8> {
    let env = builder(args)?.build()?;
    let streamer = match (json, env.logs()) {
        (false, Some(logs)) => Some(Streamer::start(logs)),
        _ => None,
    };
    let result = env.run_agent();
    if let Some(s) = streamer {
        s.finish();
    }
    let result = result?;
    let status = env.status();
    let task_result = env
        .task()
        .map(|t| t.result().map_err(|e| e.to_string()))
        .transpose();
    let workspace = review(&env, args, json)?;
    let code = match (&status, &result.trap) {
        (_, Some(trap)) if trap.kind == TrapKind::Timeout => EXIT_TIMEOUT,
        (EnvStatus::Failed { .. }, _) => EXIT_FAILED,
        (EnvStatus::Completed { exit_code }, _) => u8::try_from(*exit_code).unwrap_or(u8::MAX),
        _ => EXIT_FAILED,
    };
    if json {
        let report = serde_json::json!({
            "env": env.id().to_string(),
            "status": status,
            "exit_code": result.exit_code,
            "trap": result.trap.as_ref().map(ToString::to_string),
            "duration_ms": result.duration.as_secs_f64() * 1e3,
            "stdout": String::from_utf8_lossy(&result.stdout),
            "stderr": String::from_utf8_lossy(&result.stderr),
            "result": match &task_result {
                Ok(Some(Some(v))) => v.clone(),
                Ok(_) => serde_json::Value::Null,
                Err(e) => serde_json::json!({ "invalid": e }),
            },
            "workspace": workspace,
            "limits": limits_report(&env),
        });
        println!("{report}");
    } else {
        eprintln!(
            "status: {status} in {:.1} ms",
            result.duration.as_secs_f64() * 1e3
        );
        match task_result {
            Ok(Some(Some(v))) => eprintln!("result: {v}"),
            Ok(_) => {}
            Err(e) => eprintln!("result: invalid: {e}"),
        }
    }
    Ok(code)
}

/// Every bound the run had, defaults filled in.
fn limits_report(env: &OanixEnv) -> serde_json::Value {
    let l = env.limits().resolved();
    serde_json::json!({
        "timeout_secs": l.timeout.map(|t| t.as_secs_f64()),
        "memory_bytes": l.memory_bytes,
        "fuel": l.fuel,
        "descriptors": l.descriptors,
        "io_bytes": l.io_bytes,
        "tmp_bytes": l.tmp_bytes,
        "memfs_bytes": l.memfs_bytes,
        "overlay_bytes": l.overlay_bytes,
        "host_open_files": oanix_services::host_files::limit(),
    })
}
