//! Stopping long-running commands (`mcp --http`, `worker`) cleanly.

use anyhow::{Context, Result};
use tokio_util::sync::CancellationToken;

/// A token cancelled at the first SIGINT or SIGTERM. Must be called inside
/// the runtime.
pub(crate) fn stop_on_signals() -> Result<CancellationToken> {
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("watching SIGTERM")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        stop.cancel();
    });
    Ok(shutdown)
}
