//! An OANIX environment served over the Model Context Protocol (MCP), so
//! that any MCP client — an LLM application, an agent framework — works in
//! it through tools and resources.
//!
//! An [`McpServer`] holds one [`OanixEnv`](oanix_env::OanixEnv). Its tools
//! are thin layers over the namespace, each doing what an agent would do
//! with files and failing with the message the agent would see:
//!
//! | tool | what it does |
//! |---|---|
//! | `list_dir`, `stat`, `find` | list a directory; a file's kind, size and times; names under a path matching a glob |
//! | `read_file` | text or base64, from `offset`, at most `length` bytes |
//! | `write_file`, `append_file` | all of the content or nothing (a failed write leaves the file as it was) |
//! | `mkdir`, `remove`, `rename` | as the namespace does them |
//! | `http_request` | through `/cap/http`: the egress policy decides, the capability records |
//! | `run` | a WASI module from the namespace, or (feature `native`) a command in the sandbox |
//! | `task_status`, `set_result` | the task's status and spec; `/task/result.json` |
//! | `checkpoint`, `list_checkpoints` | where the environment keeps checkpoints |
//!
//! Namespace files are resources, `oanix://NAME/path`: the files under
//! `/task`, `/logs` and `/env` are listed, every file answers to the
//! template. A client subscribes to a file — with `resources/subscribe`
//! (protocol versions before 2026-07-28) or `subscriptions/listen` — and
//! is told when it changes: at once after a tool call that changed it, and
//! within [`McpConfig::poll_interval`] when something else did (a running
//! command, an executor).
//!
//! # Errors a client sees
//!
//! - Arguments a tool does not take (unknown tools, missing or mistyped
//!   fields, relative paths, writes over [`McpConfig::max_write_bytes`]):
//!   a JSON-RPC error `-32602` (invalid params) naming the tool and the
//!   field; nothing is done.
//! - A file operation that fails (not found, read-only, a path that leaves
//!   the root, a host the egress policy refuses): a tool result with
//!   `isError` and the namespace's own message (`permission denied:
//!   /cap/http/request: host `evil.example` is not in the allow list`);
//!   nothing changed.
//! - An unknown resource: resource not found with the path (`-32002`
//!   before protocol 2026-07-28, `-32602` from then on, as the protocol says).
//!
//! Every call — tools, resource reads, subscriptions — is an event in the
//! environment's `/logs/events.jsonl`, with its arguments (contents and
//! bodies by their length only), its outcome and its duration.
//!
//! # Lifecycle
//!
//! The environment is `Running` from the first session's `initialize` (or
//! the first request of a client of the 2026-07-28 protocol, which does
//! not initialize) until the host calls [`McpServer::finish`] — for
//! `oanix mcp`, when the client closes stdio or the HTTP server is
//! stopped; the command then reports the status and result and reviews
//! the copy-on-write workspace as `oanix run` does.
//!
//! # Transports
//!
//! [`serve_stdio`] (and [`serve_io`] over any byte streams) for clients
//! that start the server as a process; [`serve_http`], the streamable HTTP
//! transport, for clients that connect to it. HTTP checks the `Host`
//! header against loopback names and the listener's own address (DNS
//! rebinding), and a bearer token ([`HttpOptions::token`]) — required when
//! the listener is not on a loopback address.
//!
//! # Security boundary
//!
//! A client reaches exactly what an agent in the environment reaches: the
//! namespace's mounts, under their services' rules, and the network only
//! through the capabilities' policies. Paths are absolute namespace paths;
//! `..` cannot leave the root (the namespace's path rules). Limits of its
//! own: the per-call bounds of [`McpConfig`]. A client with the HTTP token
//! (or the stdio pipe) is one agent: there is no per-tool authorization.
//!
//! # Where it sits
//!
//! Above `oanix-env` (the environment, its capabilities and its WASI
//! runs) and `oanix-services`; with `native`, `oanix-native`.
//! The `oanix mcp` command serves a manifest's environment.
//!
//! # Example
//!
//! ```
//! use oanix_env::EnvBuilder;
//! use oanix_mcp::McpServer;
//! use oanix_prims::MemFs;
//!
//! let env = EnvBuilder::new().mount("/workspace", MemFs::new()).build()?;
//! let server = McpServer::new(env, "demo");
//! assert_eq!(server.resource_uri("/task/status.json"), "oanix://demo/task/status.json");
//! # Ok::<(), oanix_env::EnvError>(())
//! ```

mod config;
mod error;
mod http;
mod ops;
mod resources;
mod server;
mod tools;

pub use config::McpConfig;
pub use error::{McpServeError, Result};
pub use http::{HttpOptions, serve_http};
pub use server::McpServer;
pub use tools::TOOL_NAMES;

use rmcp::ServiceExt as _;

/// Serves `server` on a pair of byte streams (a pipe, a socket) until the
/// client closes its side.
///
/// # Errors
/// [`McpServeError::Session`] when the session cannot start (the client
/// spoke no MCP) or ends with a transport failure.
pub async fn serve_io<R, W>(server: McpServer, reader: R, writer: W) -> Result<()>
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let running = server
        .serve((reader, writer))
        .await
        .map_err(|e| McpServeError::Session(e.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|e| McpServeError::Session(e.to_string()))?;
    Ok(())
}

/// Serves `server` on this process's standard input and output until the
/// client closes them. When both are pipes (as MCP clients start servers),
/// they are driven without a blocking thread per message.
///
/// # Errors
/// As [`serve_io`].
pub async fn serve_stdio(server: McpServer) -> Result<()> {
    let (stdin, stdout) = rmcp::transport::stdio_pipes();
    serve_io(server, stdin, stdout).await
}
