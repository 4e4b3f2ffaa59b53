//! `oanix mcp`: serve a manifest's environment over the Model Context
//! Protocol, on stdio or streamable HTTP; report and review on exit.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use oanix_mcp::{HttpOptions, McpConfig, McpServer};

use crate::run::{self, RunArgs};

/// Arguments of `oanix mcp`.
#[derive(Debug, Args)]
pub(crate) struct McpArgs {
    /// Serve over the streamable HTTP transport at ADDR (`127.0.0.1:8080`;
    /// port 0 picks one) instead of stdio. The endpoint is `/mcp`; the
    /// address it listens on is printed to stderr.
    #[arg(long, value_name = "ADDR")]
    http: Option<String>,
    /// The bearer token HTTP clients must send (required when ADDR is not
    /// a loopback address); also read from OANIX_MCP_TOKEN.
    #[arg(long)]
    token: Option<String>,
    /// A further host name HTTP clients may use in `Host` (the loopback
    /// names and the listen address are always accepted).
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// The environment's name in resource URIs (`oanix://NAME/path`); the
    /// manifest's file name without `.toml` by default.
    #[arg(long)]
    name: Option<String>,
    /// The most bytes one write may carry.
    #[arg(long, value_name = "BYTES")]
    max_write_bytes: Option<u64>,
    /// The most bytes one read returns.
    #[arg(long, value_name = "BYTES")]
    max_read_bytes: Option<u64>,
    /// Write the final report (status, result, workspace changes and diff)
    /// as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// The environment, as `oanix run` takes it.
    #[command(flatten)]
    run: RunArgs,
}

/// `oanix mcp`; returns the process exit code.
pub(crate) fn mcp(args: &mut McpArgs) -> Result<u8> {
    args.run.allow_no_agent = true;
    let env = run::plan(&args.run)?.builder()?.build()?;
    let name = match (&args.name, &args.run.target) {
        (Some(n), _) => n.clone(),
        (None, Some(t)) => t
            .file_stem()
            .map_or_else(|| "env".to_owned(), |s| s.to_string_lossy().into_owned()),
        (None, None) => "env".to_owned(),
    };
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
    {
        bail!(
            "--name {name:?}: use letters, digits, '-', '.' and '_' (it is the host of oanix:// URIs)"
        );
    }
    let mut config = McpConfig::default();
    if let Some(t) = env.limits().timeout {
        config = config.run_timeout(t);
    }
    if let Some(n) = args.max_write_bytes {
        config = config.max_write_bytes(n);
    }
    if let Some(n) = args.max_read_bytes {
        config = config.max_read_bytes(n);
    }
    let server = McpServer::with_config(env.clone(), name, config);
    // One session on stdio is served best by one thread (no hand-off
    // between threads per message); HTTP serves many connections.
    let runtime = match &args.http {
        None => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(_) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    }
    .context("starting the runtime")?;
    let served = runtime.block_on(async {
        match &args.http {
            None => oanix_mcp::serve_stdio(server.clone())
                .await
                .map_err(anyhow::Error::from),
            Some(addr) => serve_http(server.clone(), addr, args).await,
        }
    });
    // What the client left running (requests in flight) ends with the
    // runtime; the environment's state is final after this.
    runtime.shutdown_timeout(Duration::from_secs(2));
    let status = match &served {
        Ok(()) => server.finish(0)?,
        Err(e) => {
            if !env.is_finished() {
                let _ = env.set_running();
                let _ = env.set_failed(format!("the MCP session failed: {e:#}"));
            }
            env.status()
        }
    };
    let task_result = env
        .task()
        .map(|t| t.result().map_err(|e| e.to_string()))
        .transpose();
    let workspace = run::review(&env, &args.run, false)?;
    eprintln!("status: {status}");
    match &task_result {
        Ok(Some(Some(v))) => eprintln!("result: {v}"),
        Ok(_) => {}
        Err(e) => eprintln!("result: invalid: {e}"),
    }
    if let Some(path) = &args.report {
        let report = serde_json::json!({
            "env": env.id().to_string(),
            "status": status,
            "result": match &task_result {
                Ok(Some(Some(v))) => v.clone(),
                Ok(_) => serde_json::Value::Null,
                Err(e) => serde_json::json!({ "invalid": e }),
            },
            "workspace": workspace,
            "error": served.as_ref().err().map(|e| format!("{e:#}")),
        });
        // Whole or not at all: written beside, then renamed over.
        let temp = path.with_extension("oanix-partial");
        std::fs::write(&temp, format!("{report:#}\n"))
            .and_then(|()| std::fs::rename(&temp, path))
            .with_context(|| format!("writing the report {}", path.display()))?;
    }
    served?;
    Ok(0)
}

/// Serves over HTTP until SIGINT or SIGTERM.
async fn serve_http(server: McpServer, addr: &str, args: &McpArgs) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("--http {addr}: cannot listen"))?;
    let local = listener.local_addr().context("the listener's address")?;
    let mut options = HttpOptions::default();
    // A token on the command line is visible to every local user (ps), so
    // the environment variable is the one to use.
    if let Some(t) = args
        .token
        .clone()
        .or_else(|| std::env::var("OANIX_MCP_TOKEN").ok())
    {
        options = options.token(t);
    }
    for h in &args.allow_hosts {
        options = options.allow_host(h.clone());
    }
    options.check(local)?;
    let shutdown = crate::signals::stop_on_signals()?;
    let serving = oanix_mcp::serve_http(server, listener, options, shutdown);
    eprintln!("oanix mcp: serving on http://{local}/mcp");
    serving.await?;
    Ok(())
}
