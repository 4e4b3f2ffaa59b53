//! Executors: the real network behind the capability files. An agent writes
//! `/cap/http/request` and a real HTTP request goes out; it opens
//! `/cap/ws/control` and a real WebSocket connects; it submits to
//! `/cap/nostr` and relays receive the event.
//!
//! The capability services of `oanix-caps` are synchronous and do no I/O:
//! they check what the agent writes against an egress policy, queue it,
//! and wait for someone to deliver the outcome. The executors here are that
//! someone. They run on tokio, share the services (cheap clones of the same
//! service), take the queued work, perform it, and hand the results back
//! through the services' executor API, where blocked readers wake.
//!
//! # Principal types
//!
//! - [`ExecutorManager`]: owns a tokio runtime (or runs on a
//!   [`Handle`](tokio::runtime::Handle) the host passes in), starts the
//!   executors attached to it and stops them gracefully.
//! - [`Executor`]: the object-safe trait every executor implements — the
//!   three below, and any the host writes to replace them
//!   ([`ExecutorManager::attach`]).
//! - [`HttpExecutor`] for `HttpFs`, [`WsConnector`] for `WsFs`,
//!   [`NostrRelayConnector`] (NIP-01) for `NostrFs`.
//! - [`ExecutorConfig`] (with [`ExecutorConfig::builder`]) and
//!   [`RetryPolicy`] (exponential backoff with jitter); [`ExecutorError`].
//!
//! # How executors wake
//!
//! Nothing polls. Each service hands out `work_listener()`s
//! (event-listener `EventListener`s); an executor takes a listener, looks
//! for work, and when there is none awaits the listener. A notification
//! sent between the look and the wait is not lost. So a request written by
//! an agent reaches the network after one task wake-up — microseconds, not
//! the tens of milliseconds a timer would add. [`ExecutorConfig::poll_interval`]
//! exists only as a fallback against a service that forgets to notify; it
//! is off by default.
//!
//! # The SSRF guard
//!
//! The services check every URL against the policy's schemes, hosts and
//! ports when the agent writes it. What they cannot check is where a host
//! name leads. The executors do, at every connection: the name is resolved
//! **once**, **every** address is checked with `EgressPolicy::check_ip`
//! (loopback, private, link-local such as the cloud metadata address
//! 169.254.169.254, carrier-grade NAT, multicast, documentation and
//! reserved ranges, and IPv4 hidden in IPv6 forms — mapped, compatible,
//! NAT64, 6to4 — are refused unless the policy allows them), and the TCP
//! connection goes only to an address that passed, so a second resolution
//! cannot lead elsewhere (no DNS rebinding between check and use). Redirects
//! are followed by hand and each new URL passes the policy again. Proxy
//! environment variables are ignored: no request goes anywhere but where
//! the policy said.
//!
//! Limits of the guard: it trusts the system resolver's answer of the
//! moment; it cannot see what an allowed host does next (an allowed public
//! server may itself fetch internal URLs); a policy that allows loopback or
//! private addresses allows every service there; and host patterns match
//! names, so `*` with private addresses allowed reaches the whole private
//! network.
//!
//! # Shutdown
//!
//! [`ExecutorManager::shutdown`] takes no new work, lets in-flight work run
//! for [`ExecutorConfig::shutdown_grace`], then fails what remains with a
//! reason the agent can read (`cancelled: the executor shut down before
//! the response arrived`); requests still queued fail as not sent;
//! WebSockets close with a close frame and the reason, counting unsent
//! messages; Nostr subscriptions are closed and unpublished events stay in
//! the outbox. Nothing is dropped without a trace.
//!
//! # Records
//!
//! The services record every request, response, connection, message and
//! event with its outcome; the executors add what only they see (retries,
//! redirects, reconnections, relay notices, `OK` answers, duplicates)
//! through the same sink (`emit_record`), so one log has the whole story.
//!
//! # Example
//!
//! An agent fetches a page from a server on this machine through the files
//! (the policy has to allow loopback explicitly):
//!
//! ```
//! use std::io::{Read, Write};
//! use oanix_caps::{EgressPolicy, HttpFs};
//! use oanix_exec::{ExecutorConfig, ExecutorManager};
//! use oanix_vfs::{Namespace, read_to_string, write_file};
//!
//! // A one-shot HTTP server on 127.0.0.1.
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let port = listener.local_addr()?.port();
//! let server = std::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut conn, _) = listener.accept()?;
//!     let mut buf = [0u8; 4096];
//!     let _ = conn.read(&mut buf)?;
//!     conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
//! });
//!
//! let http = HttpFs::builder()
//!     .policy(
//!         EgressPolicy::allow_hosts(["127.0.0.1"])
//!             .schemes(["http"])
//!             .ports([port])
//!             .allow_loopback(true)
//!             .build()?,
//!     )
//!     .build();
//! let mut executors = ExecutorManager::new(ExecutorConfig::default())?;
//! executors.attach_http(&http);
//! executors.start()?;
//!
//! let ns = Namespace::builder().mount("/cap/http", http.clone()).build();
//! write_file(&ns, "/cap/http/request", format!(r#"{{"url": "http://127.0.0.1:{port}/"}}"#))?;
//! let response = read_to_string(&ns, "/cap/http/responses/req-1.json")?;
//! assert!(response.contains("\"status\": 200"));
//! assert!(response.contains("\"body\": \"hello\""));
//!
//! executors.shutdown()?;
//! server.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where it sits
//!
//! Depends on `oanix-caps` (the services it drives), `oanix-vfs` and the
//! network stack: tokio, hyper 1 with hyper-util's pooled client, rustls
//! with ring (no OpenSSL), tokio-tungstenite. The facade re-exports it as
//! `oanix::executor` behind the `executor` feature.

mod config;
mod dial;
mod error;
mod executor;
mod guard;
mod http;
mod manager;
mod nostr;
mod ws;

pub use config::{ExecutorConfig, ExecutorConfigBuilder, RetryPolicy};
pub use error::{ExecutorError, Result};
pub use executor::{BoxFuture, Executor, ExecutorContext, ShutdownSignal, ShutdownTrigger};
pub use guard::{ConnectFailure, connect_checked};
pub use http::HttpExecutor;
pub use manager::{ExecutorManager, shared_runtime};
pub use nostr::NostrRelayConnector;
pub use ws::WsConnector;
