//! `oanix`: run an agent in its environment, look inside a namespace, run
//! many jobs through the scheduler.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program: printing is its interface"
)]

mod batch;
mod inspect;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Run AI agents in Plan 9-style namespaces: everything is a file, and an
/// agent can touch only what was mounted for it.
#[derive(Debug, Parser)]
#[command(name = "oanix", version, about, long_about = None)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build an environment, run the agent in it, and report.
    Run(RunArgs),
    /// Print the namespace a manifest describes, as a mount table.
    Ns {
        /// The environment manifest (TOML).
        manifest: PathBuf,
    },
    /// List a directory of a manifest's namespace.
    Ls {
        /// The environment manifest (TOML).
        manifest: PathBuf,
        /// The path in the namespace.
        #[arg(default_value = "/")]
        path: String,
    },
    /// Print a file of a manifest's namespace.
    Cat {
        /// The environment manifest (TOML).
        manifest: PathBuf,
        /// The path in the namespace.
        path: String,
    },
    /// Run many jobs of a manifest's agent through the scheduler.
    Batch(BatchArgs),
}

/// Arguments of `oanix run`.
#[derive(Debug, Args)]
struct RunArgs {
    /// A WASI module (`.wasm`) or an environment manifest (`.toml`).
    target: PathBuf,
    /// A host directory to mount at /workspace.
    #[arg(long)]
    workspace: Option<PathBuf>,
    /// Mount the workspace read-only.
    #[arg(long, conflicts_with = "cow")]
    ro: bool,
    /// Mount the workspace copy-on-write: review the changes afterwards.
    #[arg(long)]
    cow: bool,
    /// Apply the agent's workspace changes without asking (with --cow).
    #[arg(long, conflicts_with = "discard")]
    apply: bool,
    /// Discard the agent's workspace changes without asking (with --cow).
    #[arg(long)]
    discard: bool,
    /// A capability: `http=HOST,...` or `ws=HOST,...` (hosts may start with `*.`).
    #[arg(long = "cap", value_name = "CAP=HOSTS")]
    caps: Vec<String>,
    /// The task specification (JSON) to mount at /task.
    #[arg(long)]
    task: Option<PathBuf>,
    /// Wall-clock limit of the run, in seconds.
    #[arg(long)]
    timeout: Option<f64>,
    /// Arguments for the agent.
    #[arg(last = true)]
    args: Vec<String>,
}

/// Arguments of `oanix batch`.
#[derive(Debug, Args)]
struct BatchArgs {
    /// The environment manifest (TOML); its `[agent]` is the job.
    manifest: PathBuf,
    /// How many jobs (each in an environment of its own).
    #[arg(long, default_value_t = 10)]
    jobs: usize,
    /// How many jobs run at once.
    #[arg(long, default_value_t = 2)]
    concurrency: usize,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Run(args) => run::run(&args, json),
        Command::Ns { manifest } => inspect::ns(&manifest).map(|()| 0),
        Command::Ls { manifest, path } => inspect::ls(&manifest, &path, json).map(|()| 0),
        Command::Cat { manifest, path } => inspect::cat(&manifest, &path).map(|()| 0),
        Command::Batch(args) => batch::batch(&args, json),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // One clear line: the error and its causes.
            let causes: Vec<String> = e.chain().map(ToString::to_string).collect();
            if json {
                println!("{}", serde_json::json!({ "error": causes.join(": ") }));
            } else {
                eprintln!("oanix: error: {}", causes.join(": "));
            }
            ExitCode::from(2)
        }
    }
}
