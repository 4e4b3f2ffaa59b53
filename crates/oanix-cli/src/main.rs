//! `oanix`: run an agent in its environment, look inside a namespace, run
//! many jobs through the scheduler, snapshot environments and compare
//! agents started from one, and serve an environment over MCP.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line program: printing is its interface"
)]

mod batch;
mod inspect;
mod mcp;
mod nats;
mod run;
mod signals;
mod snapshot;
mod telemetry;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use batch::BatchArgs;
use mcp::McpArgs;
use nats::{CancelArgs, WorkerArgs};
use run::RunArgs;
use snapshot::{CompareArgs, SnapshotArgs, SnapshotsArgs};

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
    /// Build an environment (as `run` takes it), optionally run its agent,
    /// and save its state as a snapshot file.
    Snapshot(SnapshotArgs),
    /// List the snapshots of a store; verify them; prune old ones.
    Snapshots(SnapshotsArgs),
    /// Run several agents from one snapshot through the scheduler and show
    /// their status, result and workspace diff side by side.
    Compare(CompareArgs),
    /// Serve an environment over the Model Context Protocol (stdio, or
    /// streamable HTTP with --http): its namespace as tools and resources
    /// for an MCP client; report and review the workspace when it ends.
    Mcp(McpArgs),
    /// Run jobs taken from a NATS JetStream server (`oanix batch --nats`
    /// submits them), each in an environment of its own, until stopped.
    Worker(WorkerArgs),
    /// Cancel jobs submitted with `oanix batch --nats`: those without a
    /// result get a cancelled one, and a worker running one stops it.
    Cancel(CancelArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Run(args) => run::run(&args, json),
        Command::Ns { manifest } => inspect::ns(&manifest).map(|()| 0),
        Command::Ls { manifest, path } => inspect::ls(&manifest, &path, json).map(|()| 0),
        Command::Cat { manifest, path } => inspect::cat(&manifest, &path).map(|()| 0),
        Command::Batch(args) => match &args.nats {
            Some(url) => nats::batch(&args, url, json),
            None => batch::batch(&args, json),
        },
        Command::Snapshot(mut args) => snapshot::snapshot(&mut args, json),
        Command::Snapshots(args) => snapshot::snapshots(&args, json),
        Command::Compare(args) => snapshot::compare(&args, json),
        Command::Mcp(mut args) => mcp::mcp(&mut args),
        Command::Worker(args) => nats::worker(&args),
        Command::Cancel(args) => nats::cancel(&args, json),
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
