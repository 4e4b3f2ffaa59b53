//! `oanix run`: build the environment, run the agent, stream its output,
//! report, and review its workspace changes.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use oanix_env::{
    EnvPlan, EnvStatus, MountPlan, OanixEnv, Origin, PolicyPlan, TaskPlan, WorkspaceMode,
};
use oanix_services::{LogStream, LogsFs, TaskMeta, TaskSpec};
use oanix_wasi::TrapKind;

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

/// The host's control of a running environment's HTTP policy: a TOML
/// file with a `[capabilities.http]` section, read again whenever it
/// changes; its policy replaces the environment's (the change is recorded
/// by the capability). A file that does not parse is reported and changes
/// nothing.
struct PolicyControl {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl PolicyControl {
    fn start(env: &OanixEnv, path: &std::path::Path) -> Result<Self> {
        let Some(http) = env.http().cloned() else {
            bail!("--policy-file needs an HTTP capability (--cap http=... or [capabilities.http])");
        };
        let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let mut seen = modified(path);
        let path = path.to_path_buf();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                let now = modified(&path);
                if now == seen {
                    continue;
                }
                seen = now;
                let base = path.parent().unwrap_or(std::path::Path::new("."));
                let policy = std::fs::read_to_string(&path)
                    .map_err(anyhow::Error::from)
                    .and_then(|text| {
                        let name = path.display().to_string();
                        Ok(EnvPlan::from_manifest(&text, &name, base)?.http_policy()?)
                    });
                match policy {
                    Ok(Some(policy)) => {
                        http.set_policy(policy);
                        eprintln!("policy: {} applied", path.display());
                    }
                    Ok(None) => eprintln!(
                        "policy: {} has no [capabilities.http]; nothing changed",
                        path.display()
                    ),
                    Err(e) => eprintln!("policy: {e:#}; nothing changed"),
                }
            }
        });
        Ok(Self { stop, thread })
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.thread.join();
    }
}

/// Parses `http=host1,host2` or `ws=host` into the capability's name and
/// its policy (the hosts' patterns are checked when the plan is built).
pub(crate) fn capability(spec: &str) -> Result<(&str, PolicyPlan)> {
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
    match kind {
        "http" | "ws" => Ok((kind, PolicyPlan::allow_hosts(hosts))),
        other => bail!("--cap {spec:?}: unknown capability {other:?} (expected http or ws)"),
    }
}

/// The plan the arguments describe: the manifest's (or an empty one for a
/// module), with the flags translated into it.
pub(crate) fn plan(args: &RunArgs) -> Result<EnvPlan> {
    let mut plan = match &args.target {
        Some(target) if target.extension().is_some_and(|e| e == "toml") => {
            EnvPlan::from_manifest_file(target)?
        }
        Some(target) => {
            if !target.is_file() {
                bail!(
                    "{} is not a file (expected a .wasm module or a .toml manifest; \
                     a native command goes after --)",
                    target.display()
                );
            }
            let mut plan = EnvPlan::new();
            plan.agent.module = Some(target.clone());
            plan
        }
        None if args.args.is_empty() && !args.allow_no_agent => {
            bail!("nothing to run: give a .wasm module, a .toml manifest, or -- COMMAND ARGS...")
        }
        None => EnvPlan::new(),
    };
    if let Some(from) = &args.from {
        plan.from = Some(from.clone());
        plan.set_origin("from", Origin::given(format!("--from {}", from.display())));
    }
    if plan.agent.module.is_none() && plan.agent.command.is_empty() && !args.args.is_empty() {
        // No agent named: the arguments after `--` are a native command.
        plan.agent.command = args.args.clone();
        plan.set_origin("agent.command", Origin::given("-- COMMAND".to_owned()));
    } else {
        plan.agent.args.extend(args.args.iter().cloned());
    }
    if let Some(path) = &args.task {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the task {}", path.display()))?;
        let spec: TaskSpec = serde_json::from_str(&text)
            .with_context(|| format!("the task {} is not a task specification", path.display()))?;
        plan.task = Some(TaskPlan {
            spec,
            meta: TaskMeta::default(),
        });
        plan.set_origin("task", Origin::given(format!("--task {}", path.display())));
    } else if plan.task.is_none() && plan.from.is_none() {
        // `oanix run` always gives the agent a task to answer in (a
        // snapshot brings its own).
        plan.task = Some(TaskPlan {
            spec: TaskSpec {
                id: "run".into(),
                task_type: "run".into(),
                description: String::new(),
                input: serde_json::Value::Null,
            },
            meta: TaskMeta::default(),
        });
    }
    let mode = args.workspace_mode();
    match (&args.workspace, mode) {
        (Some(dir), mode) => plan.replace_mount(
            MountPlan::workspace("/workspace", dir, mode.unwrap_or_default()),
            Origin::given(format!("--workspace {}", dir.display())),
        ),
        (None, Some(_)) => bail!("--workspace-mode, --ro, --rw and --cow need --workspace DIR"),
        (None, None) => {}
    }
    apply_caps_and_timeout(&mut plan, &args.caps, args.timeout)?;
    Ok(plan)
}

/// Adds the `--cap` capabilities and the `--timeout` to `plan`.
pub(crate) fn apply_caps_and_timeout(
    plan: &mut EnvPlan,
    caps: &[String],
    timeout: Option<f64>,
) -> Result<()> {
    for spec in caps {
        let (kind, policy) = capability(spec)?;
        if kind == "http" {
            plan.http = Some(policy);
        } else {
            plan.ws = Some(policy);
        }
        plan.set_origin(
            &format!("capabilities.{kind}"),
            Origin::given(format!("--cap {spec}")),
        );
    }
    if let Some(t) = timeout {
        plan.limits.timeout_secs = Some(t);
        plan.set_origin(
            "limits.timeout_secs",
            Origin::given(format!("--timeout {t}")),
        );
    }
    Ok(())
}

/// What to do with the workspace changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Review {
    Apply,
    Discard,
}

pub(crate) fn review(env: &OanixEnv, args: &RunArgs, json: bool) -> Result<serde_json::Value> {
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
        return Ok(serde_json::json!({ "changes": [], "diff": "", "applied": false }));
    }
    let diff = ws.diff()?;
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
            Ok(serde_json::json!({ "changes": listed, "diff": diff, "applied": true }))
        }
        Review::Discard => {
            ws.discard();
            if !json && args.discard {
                eprintln!("workspace: changes discarded");
            }
            Ok(serde_json::json!({ "changes": listed, "diff": diff, "applied": false }))
        }
    }
}

/// `oanix run`; returns the process exit code.
pub(crate) fn run(args: &RunArgs, json: bool) -> Result<u8> {
    let env = plan(args)?.builder()?.build()?;
    let streamer = match (json, env.logs()) {
        (false, Some(logs)) => Some(Streamer::start(logs)),
        _ => None,
    };
    if env.agent().is_native() {
        let control = match &args.policy_file {
            Some(path) => Some(PolicyControl::start(&env, path)?),
            None => None,
        };
        let outcome = oanix_native::NativeRun::new(&env).run();
        if let Some(c) = control {
            c.stop();
        }
        if let Some(s) = streamer {
            s.finish();
        }
        return report_native(&env, args, json, outcome?);
    }
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

/// The end of a native run: the review of the workspace, the report, the
/// exit code (the command's, `128 + signal`, or 124 for the timeout).
fn report_native(
    env: &OanixEnv,
    args: &RunArgs,
    json: bool,
    outcome: oanix_native::NativeOutcome,
) -> Result<u8> {
    let status = env.status();
    let task_result = env
        .task()
        .map(|t| t.result().map_err(|e| e.to_string()))
        .transpose();
    let workspace = review(env, args, json)?;
    let code = u8::try_from(outcome.shell_code()).unwrap_or(EXIT_FAILED);
    let (exit_code, signal) = match outcome.exit {
        oanix_native::Exit::Code(c) => (Some(c), None),
        oanix_native::Exit::Signal(s) => (None, Some(s)),
        _ => (None, None),
    };
    let logs = |stream| {
        env.logs().map_or_else(String::new, |l| {
            String::from_utf8_lossy(&l.contents(stream)).into_owned()
        })
    };
    if json {
        let report = serde_json::json!({
            "env": env.id().to_string(),
            "status": status,
            "exit_code": exit_code,
            "signal": signal,
            "timed_out": outcome.exit == oanix_native::Exit::TimedOut,
            "duration_ms": outcome.duration.as_secs_f64() * 1e3,
            "stdout": logs(LogStream::Stdout),
            "stderr": logs(LogStream::Stderr),
            "result": match &task_result {
                Ok(Some(Some(v))) => v.clone(),
                Ok(_) => serde_json::Value::Null,
                Err(e) => serde_json::json!({ "invalid": e }),
            },
            "workspace": workspace,
            "notes": outcome.notes,
        });
        println!("{report}");
    } else {
        for note in &outcome.notes {
            eprintln!("note: {note}");
        }
        eprintln!(
            "status: {status} in {:.1} ms",
            outcome.duration.as_secs_f64() * 1e3
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

/// Arguments of `oanix run`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("mode").args(["workspace_mode", "ro", "rw", "cow"])))]
pub(crate) struct RunArgs {
    /// A WASI module (`.wasm`) or an environment manifest (`.toml`); without
    /// one, the arguments after `--` are a native command to run in a
    /// sandbox whose root is the environment (`oanix run -- python3 agent.py`).
    pub(crate) target: Option<PathBuf>,
    /// A host directory to mount at /workspace (copy-on-write unless
    /// --workspace-mode says otherwise), replacing the manifest's.
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// How --workspace is mounted: `cow` (the default: the agent's changes
    /// stay in memory for review, and reach the directory only when
    /// applied), `ro` (writes refused) or `rw` (the agent writes the real
    /// directory as it runs).
    #[arg(long, value_enum, value_name = "MODE")]
    workspace_mode: Option<ModeArg>,
    /// Short for --workspace-mode ro.
    #[arg(long)]
    ro: bool,
    /// Short for --workspace-mode rw: the agent writes the real directory.
    #[arg(long)]
    rw: bool,
    /// Short for --workspace-mode cow (the default).
    #[arg(long)]
    cow: bool,
    /// Apply the agent's workspace changes without asking (copy-on-write).
    #[arg(long, conflicts_with = "discard")]
    apply: bool,
    /// Discard the agent's workspace changes without asking (copy-on-write).
    #[arg(long)]
    discard: bool,
    /// A capability: `http=HOST,...` or `ws=HOST,...` (hosts may start with
    /// `*.`); it reaches those hosts over https/wss and nothing else.
    #[arg(long = "cap", value_name = "CAP=HOSTS")]
    caps: Vec<String>,
    /// A TOML file with a `[capabilities.http]` section that the host may
    /// edit while a native agent runs: each change replaces the HTTP policy
    /// (for example, open the package index for an install, then close it).
    #[arg(long, value_name = "FILE")]
    policy_file: Option<PathBuf>,
    /// The task specification (JSON) to mount at /task.
    #[arg(long)]
    task: Option<PathBuf>,
    /// Wall-clock limit of the run, in seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// Start from a saved snapshot (`DIR/NAME.snap`): its task, logs and
    /// files, as a fork of it; the manifest or flags add the agent, the
    /// capabilities and further mounts.
    #[arg(long, value_name = "SNAP")]
    from: Option<PathBuf>,
    /// Build the environment even when no agent is named (for `oanix
    /// snapshot` of an environment without running anything).
    #[arg(skip)]
    pub(crate) allow_no_agent: bool,
    /// Arguments for the agent, or the native command and its arguments
    /// when no agent is named.
    #[arg(last = true)]
    args: Vec<String>,
}

/// A workspace mode on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ModeArg {
    /// Copy-on-write: changes are reviewed, then applied or discarded.
    Cow,
    /// Read-only.
    Ro,
    /// Read-write on the real directory.
    Rw,
}

impl RunArgs {
    /// The workspace mode the flags ask for, if any.
    pub(crate) fn workspace_mode(&self) -> Option<WorkspaceMode> {
        let short = [
            (self.ro, WorkspaceMode::Ro),
            (self.rw, WorkspaceMode::Rw),
            (self.cow, WorkspaceMode::Cow),
        ];
        let from_short = short.into_iter().find(|(on, _)| *on).map(|(_, m)| m);
        self.workspace_mode
            .map(|m| match m {
                ModeArg::Cow => WorkspaceMode::Cow,
                ModeArg::Ro => WorkspaceMode::Ro,
                ModeArg::Rw => WorkspaceMode::Rw,
            })
            .or(from_short)
    }
}
