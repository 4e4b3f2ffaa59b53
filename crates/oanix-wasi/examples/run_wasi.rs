//! `run_wasi`: runs a WASI preview1 command in an OANIX namespace.
//!
//! ```text
//! cargo run -p oanix-wasi --example run_wasi -- [OPTIONS] MODULE.wasm [ARGS...]
//!
//!   --dir HOST[::GUEST]   mount the host directory HOST at GUEST and preopen it
//!                         (GUEST defaults to HOST); may be repeated
//!   --env KEY=VALUE       set an environment variable for the guest; may be repeated
//!   --stdin FILE          give the host file FILE to the guest as stdin
//!   --timeout SECONDS     the wall-clock limit (default 30)
//!   --fuel N              a fuel budget
//! ```
//!
//! Without `--dir`, the guest runs in a complete agent namespace: `/task`
//! (a `TaskFs` with a sample task), `/workspace` (a small project, behind a
//! copy-on-write overlay), `/logs` (a `LogsFs`) and `/tmp`; afterwards a
//! short report (the task's result, what changed in the workspace, the logs)
//! goes to stderr after the guest's own output.
//!
//! With `--dir`, only those directories exist and are preopened, in order
//! (the shape conformance runners expect). Either way the guest's stdout and
//! stderr are printed unchanged and the process exits with the guest's exit
//! code (134 after a trap).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program: it reports on stdout and stderr"
)]

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use oanix_prims::{CowFs, MapFs, MemFs};
use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, WorkspaceFs};
use oanix_vfs::{Namespace, read_to_string};
use oanix_wasi::{RunConfig, WasiRuntime};

/// What the command line asked for.
#[derive(Debug, Default)]
struct Cli {
    dirs: Vec<(String, String)>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
    timeout: Option<f64>,
    fuel: Option<u64>,
    module: String,
    args: Vec<String>,
}

const USAGE: &str = "usage: run_wasi [--dir HOST[::GUEST]]... [--env KEY=VALUE]... \
[--stdin FILE] [--timeout SECONDS] [--fuel N] MODULE.wasm [ARGS...]";

fn parse(mut argv: impl Iterator<Item = String>) -> Result<Cli> {
    let mut cli = Cli::default();
    let value = |argv: &mut dyn Iterator<Item = String>, flag: &str| {
        argv.next()
            .with_context(|| format!("`{flag}` needs a value\n{USAGE}"))
    };
    while let Some(arg) = argv.next() {
        match arg.as_str() {
            "--dir" => {
                let spec = value(&mut argv, "--dir")?;
                let (host, guest) = match spec.split_once("::") {
                    Some((h, g)) => (h.to_owned(), g.to_owned()),
                    None => (spec.clone(), spec.clone()),
                };
                cli.dirs.push((host, guest));
            }
            "--env" => {
                let kv = value(&mut argv, "--env")?;
                let (k, v) = kv
                    .split_once('=')
                    .with_context(|| format!("`--env {kv}`: expected KEY=VALUE"))?;
                cli.env.push((k.to_owned(), v.to_owned()));
            }
            "--stdin" => cli.stdin = Some(value(&mut argv, "--stdin")?),
            "--timeout" => {
                cli.timeout = Some(
                    value(&mut argv, "--timeout")?
                        .parse()
                        .context("--timeout")?,
                );
            }
            "--fuel" => cli.fuel = Some(value(&mut argv, "--fuel")?.parse().context("--fuel")?),
            "-h" | "--help" => bail!("{USAGE}"),
            "--" => {
                cli.module = argv.next().with_context(|| USAGE.to_owned())?;
                break;
            }
            flag if flag.starts_with("--") => bail!("unknown option `{flag}`\n{USAGE}"),
            _ => {
                cli.module = arg;
                break;
            }
        }
    }
    if cli.module.is_empty() {
        bail!("no module given\n{USAGE}");
    }
    cli.args = argv.collect();
    Ok(cli)
}

/// The namespace path a `--dir` guest name is mounted at.
fn mount_point(guest: &str) -> Result<String> {
    let joined = format!("/{}", guest.trim_start_matches('/'));
    Ok(oanix_vfs::path::normalize(&joined)
        .with_context(|| format!("`--dir ...::{guest}`"))?
        .into_owned())
}

/// The sample agent environment.
struct AgentEnv {
    ns: Namespace,
    task: TaskFs,
    logs: LogsFs,
    workspace: CowFs,
}

fn agent_env() -> Result<AgentEnv> {
    let task = TaskFs::new(
        TaskSpec {
            id: "hello-001".into(),
            task_type: "summary".into(),
            description: "List the workspace and summarise it".into(),
            input: serde_json::json!({"path": "/workspace"}),
        },
        TaskMeta::default().with_timeout_secs(30),
    );
    let project = MapFs::builder()
        .file("/README.md", &b"# demo\n\nA tiny project.\n"[..])
        .file(
            "/src/main.rs",
            &b"fn main() {\n    println!(\"hi\");\n}\n"[..],
        )
        .file(
            "/src/lib.rs",
            &b"pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}\n"[..],
        )
        .build();
    let workspace = CowFs::new(project);
    let logs = LogsFs::new();
    let ns = Namespace::builder()
        .mount("/task", task.clone())
        .mount("/workspace", workspace.clone())
        .mount("/logs", logs.clone())
        .mount("/tmp", MemFs::new())
        .build();
    Ok(AgentEnv {
        ns,
        task,
        logs,
        workspace,
    })
}

fn run(cli: Cli) -> Result<ExitCode> {
    let wasm = std::fs::read(&cli.module).with_context(|| format!("reading {}", cli.module))?;
    let name = std::path::Path::new(&cli.module)
        .file_name()
        .map_or_else(|| cli.module.clone(), |n| n.to_string_lossy().into_owned());
    let mut config = RunConfig::new().arg0(name).args(cli.args.iter().cloned());
    for (k, v) in &cli.env {
        config = config.env(k, v);
    }
    if let Some(secs) = cli.timeout {
        let timeout = Duration::try_from_secs_f64(secs)
            .with_context(|| format!("--timeout {secs}: expected a number of seconds"))?;
        config = config.timeout(timeout);
    }
    if let Some(fuel) = cli.fuel {
        config = config.fuel(fuel);
    }
    if let Some(file) = &cli.stdin {
        config =
            config.stdin_bytes(std::fs::read(file).with_context(|| format!("reading {file}"))?);
    }
    let runtime = WasiRuntime::new()?;

    let (ns, env) = if cli.dirs.is_empty() {
        let env = agent_env()?;
        (env.ns.clone(), Some(env))
    } else {
        let mut builder = Namespace::builder();
        config = config.clear_preopens();
        for (host, guest) in &cli.dirs {
            let at = mount_point(guest)?;
            let fs = WorkspaceFs::new(host).with_context(|| format!("--dir {host}"))?;
            builder = builder.mount(&at, fs);
            config = config.preopen(guest, at);
        }
        (builder.try_build()?, None)
    };

    if let Some(env) = &env {
        env.task.set_running()?;
    }
    let result = runtime.run_bytes(&wasm, &ns, &config)?;
    std::io::stdout().write_all(&result.stdout)?;
    std::io::stdout().flush()?;
    std::io::stderr().write_all(&result.stderr)?;

    if let Some(env) = &env {
        let mut err = std::io::stderr();
        writeln!(err, "--- run_wasi report ---")?;
        match &result.trap {
            Some(trap) => writeln!(err, "trapped: {}", trap.kind)?,
            None => writeln!(err, "exit code: {:?}", result.exit_code.unwrap_or(0))?,
        }
        writeln!(err, "duration: {:?}", result.duration)?;
        match env.task.result()? {
            Some(value) => {
                env.task.set_completed()?;
                writeln!(err, "/task/result.json: {value}")?;
            }
            None => {
                env.task.set_failed("the agent wrote no result")?;
                writeln!(err, "/task/result.json: (none)")?;
            }
        }
        for change in env.workspace.changes()? {
            writeln!(err, "workspace change: {:?} {}", change.kind, change.path)?;
        }
        let logged = read_to_string(&env.logs, "/stdout.log")?;
        writeln!(err, "/logs/stdout.log: {} bytes", logged.len())?;
    }
    Ok(ExitCode::from(
        u8::try_from(result.process_exit_code()).unwrap_or(1),
    ))
}

fn main() -> ExitCode {
    let cli = match parse(std::env::args().skip(1)) {
        Ok(cli) => cli,
        Err(e) => {
            eprintln!("run_wasi: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("run_wasi: {e:#}");
            ExitCode::from(1)
        }
    }
}
