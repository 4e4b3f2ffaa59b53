//! Capability services: HTTP, WebSocket and Nostr as files, behind an egress
//! policy, with a provenance record of everything that passes.
//!
//! In OANIX an agent reaches the network only through capability files. If
//! `/cap/http` is not mounted in its namespace, the agent has no network; if
//! it is, every request it writes passes through an [`EgressPolicy`] and is
//! recorded. Egress is denied by default, by construction.
//!
//! This crate holds the services and never opens a socket. Executors (the
//! `oanix-exec` crate) take the queued work, do the real I/O, and deliver the
//! answers back through each service's programmatic API.
//!
//! # Principal types
//!
//! - [`HttpFs`] (`/cap/http`): HTTP requests and responses.
//! - [`WsFs`] (`/cap/ws`): WebSocket connections and their messages.
//! - `NostrFs` (`/cap/nostr`, feature `nostr`): a Nostr identity that signs
//!   events and NIP-90 job requests for the agent, never showing it the key,
//!   and verifies what arrives; a job request subscribes to its own results
//!   and feedback (`jobs/{id}.json`, `feedback/{id}.json`), and what became
//!   of each published event stays readable (`published/{id}.json`); an
//!   agent subscribes by writing a filter to `subscribe` and reads the
//!   matching events from `subs/{id}/events`.
//! - [`EgressPolicy`] (also named [`HttpPolicy`]): schemes, host allow and
//!   deny lists with wildcards, ports, methods, body limits, header injection
//!   per host, and [`EgressPolicy::check_ip`] for executors to call on every
//!   resolved address (loopback, private, link-local, CGNAT, multicast,
//!   documentation and reserved ranges, IPv4 inside IPv6, refused unless
//!   allowed). Pure functions, no DNS.
//! - [`CapRecord`], [`RecordSink`], [`RecordLog`]: one record per request,
//!   connection, message and event (what, when, outcome, bytes, SHA-256 of the
//!   body), never with header values or secrets, ready to be routed into
//!   `/logs/events.jsonl`.
//! - [`CapError`]: the error of the programmatic API; on the file side the
//!   same errors arrive as [`FsError`](oanix_vfs::FsError)s naming the file
//!   ([`CapError::into_fs_error`]).
//!
//! # The file protocol
//!
//! One design for all three services, in the manner of Plan 9's control files:
//!
//! - **One write, one message.** Each `write` to a request or control file
//!   (`/cap/http/request`, `/cap/ws/control`, `/cap/ws/conns/{id}/out`,
//!   `/cap/nostr/submit`, `/cap/nostr/request`, `/cap/nostr/subscribe`) is one whole message: write it
//!   in one call (as [`oanix_vfs::write_file`] does). On `conns/{id}/out`
//!   and `out.bin` a zero-length write is one empty message, and so is a
//!   handle opened with `truncate` and flushed or closed without a write
//!   (`write_file(path, "")`).
//! - **Validated at once.** A malformed message fails that write with
//!   `InvalidInput` and a message saying which field is wrong and what was
//!   expected (`field `url`: expected a string, found a number`); a message
//!   the policy refuses fails with `PermissionDenied` and the reason; an
//!   oversize one with `TooLarge` and the limit; a full queue with
//!   `WouldBlock`. In every case nothing is queued.
//! - **Read back the id.** After a successful write, reading the same open
//!   handle gives the id the message was given (`req-1`, `conn-1`, an event
//!   id), like reading Plan 9's `clone`. Before a write it reads as empty.
//! - **Responses block.** Reading a response that is not there yet
//!   (`responses/{id}.json`, `conns/{id}/in`, `jobs/{id}.json`) waits until it
//!   arrives, so a WASI guest can write a request and read the answer with no
//!   busy loop. The wait is bounded by the service's limit and by the
//!   thread's [`deadline`](oanix_vfs::deadline); it ends with `TimedOut`.
//!   Opened with [`OpenFlags::nonblocking`](oanix_vfs::OpenFlags), the read
//!   fails with `WouldBlock` at once instead; `status` files and the
//!   `pending/` and `outbox/` directories show where things stand without
//!   waiting.
//! - **Sizes are what a read gives.** `stat` and listings report the size a
//!   read of the file returns now (the `status` files and every `.json`
//!   document included). Three kinds of file have no size until read and
//!   stat as 0: message files (`request`, `control`, `submit`, `out`...),
//!   the streams `conns/{id}/in` and `subs/{id}/events`, and answers that have not arrived
//!   (`responses/{id}.json` of a pending request, `jobs/{id}.json` without
//!   its result), whose reads wait.
//! - **Everything else is plain files.** Listings are sorted; errors name the
//!   path; files an agent may not write answer `ReadOnly`; creating, removing
//!   or renaming what the service owns answers `PermissionDenied` (removing a
//!   delivered response or inbox event is allowed: it frees it; removing
//!   `/cap/nostr/subs/{id}` closes that subscription).
//!
//! The messages:
//!
//! | file | message |
//! |---|---|
//! | `/cap/http/request` | `{"method": "POST", "url": "https://...", "headers": {"accept": "..."}, "body": "text"` or `"body_base64": "...", "timeout_ms": 5000}`; only `url` is required (`method` defaults to `GET`) |
//! | `/cap/ws/control` | `{"url": "wss://..."}` opens, `{"close": "conn-1"}` closes |
//! | `/cap/ws/conns/{id}/out`, `out.bin` | the payload itself: a text message (UTF-8), a binary message |
//! | `/cap/ws/conns/{id}/in` (read) | `text <len>\n` or `binary <len>\n`, then the `<len>` payload bytes: one message per read to the end; a read giving nothing at all is the end of the connection (closed, every message read), never a message |
//! | `/cap/nostr/submit` | `{"kind": 1, "content": "...", "tags": [["t", "x"]], "created_at": 1700000000}` |
//! | `/cap/nostr/subscribe` | a NIP-01 filter `{"ids", "authors", "kinds", "#e", "#p", "since", "until", "limit"}` (id `sub-{n}` assigned), or `{"id": "mine", "filter": {...}}`; a read on the same handle gives the subscription id |
//! | `/cap/nostr/subs/{id}/events` (read) | the next matching event as one line of JSON per read to the end, oldest first; a read giving nothing is the end (the subscription was closed) |
//! | `/cap/nostr/request` | `{"kind": 5050, "input": "...", "inputs": [{"data", "type", "relay", "marker"}], "params": {...}, "output": "text/plain", "bid": 1000, "relays": [...], "providers": [...]}` |
//!
//! Responses read as JSON documents: `responses/{id}.json` holds
//! `{"id", "ok": true, "status", "status_text", "headers", "body"` or
//! `"body_base64", "duration_ms", "completed_at"}`, or
//! `{"id", "ok": false, "error": {"kind", "message"}, ...}` for a failure.
//!
//! # Host calls and agent writes
//!
//! The egress policy bounds the agent. What an agent writes to the files is
//! checked against it at once and refused with the reason. The host's own
//! programmatic calls are trusted: [`HttpFs::submit_request`] and
//! [`WsFs::open_connection`] check the form of what they are given (and the
//! bounds) and record it, but leave the policy to the executor, which checks
//! every URL against it, and every resolved address against the SSRF guard,
//! before it connects: a host's request the policy does not allow fails
//! `refused` without a byte sent. [`HttpFs::try_submit`] and
//! [`WsFs::open_checked`] apply the policy at once, as the files do.
//! [`HttpFs::submit_request`] returns the id directly: a request that cannot
//! be queued (malformed, or the queue is full) still gets one, whose outcome
//! is at once the failure with the reason.
//!
//! # Executors
//!
//! Services notify whoever executes their requests; executors never poll.
//! Each service hands out [`EventListener`]s (`work_listener()`): take one,
//! check for work (`take_pending_batch`, `connecting_connections`,
//! `outbox_events`...), and when there was none, `.await` it from any async
//! runtime or wait on it with [`Listener::wait_timeout`] from sync code. A
//! notification sent between the check and the wait is not lost. Executors
//! get the policy with the work ([`PendingRequest::policy`], [`WsFs::policy`])
//! because some checks — the resolved address — can only be made when
//! connecting.
//!
//! # Bounds
//!
//! Every queue is bounded, with documented defaults: [`HttpLimits`]
//! (pending requests, message size, responses kept, timeouts, wait),
//! [`WsLimits`] (connections, outbox and inbox per connection, wait) and
//! `NostrLimits` (outbox, inbox, relays, subscriptions, jobs, published
//! outcomes, wait); body and
//! message sizes come from the policy.
//!
//! # Feature flags
//!
//! - `nostr` (off by default): `NostrFs`, on the `nostr` crate (re-exported as
//!   `nostr_crate` so executors use the same version). Without it the crate
//!   builds without the secp256k1 C library.
//!
//! # Example
//!
//! An agent calls an API through the files while an in-process completer
//! stands in for the executor:
//!
//! ```
//! use std::sync::Arc;
//! use oanix_caps::{EgressPolicy, HttpFs, HttpResponse, Listener, RecordLog};
//! use oanix_vfs::{FileService, Namespace, OpenFlags, read_to_end, read_to_string};
//!
//! let log = RecordLog::new(100);
//! let http = Arc::new(
//!     HttpFs::builder()
//!         .policy(
//!             EgressPolicy::allow_hosts(["api.example.com"])
//!                 .inject_header("api.example.com", "authorization", "Bearer s3cret")
//!                 .build()?,
//!         )
//!         .record_sink(log.sink())
//!         .build(),
//! );
//!
//! // The executor's side: wake on work, answer it.
//! let executor = {
//!     let http = Arc::clone(&http);
//!     std::thread::spawn(move || loop {
//!         let listener = http.work_listener();
//!         let batch = http.take_pending_batch(8);
//!         if batch.is_empty() {
//!             listener.wait();
//!             continue;
//!         }
//!         for p in batch {
//!             // A real executor checks every resolved address with
//!             // p.policy.check_ip(..) and sends p.headers_to_send().
//!             assert!(p.headers_to_send().iter().any(|(n, _)| n == "authorization"));
//!             http.complete_request(HttpResponse::new(&p.id, 200).with_body("{\"n\":1}"))
//!                 .unwrap();
//!         }
//!         return;
//!     })
//! };
//!
//! // The agent's side: files only.
//! let ns = Namespace::builder().mount("/cap/http", Arc::clone(&http)).build();
//! let mut req = ns.open("/cap/http/request", OpenFlags::read_write())?;
//! req.write(br#"{"url": "https://api.example.com/items"}"#)?;
//! let mut id = Vec::new();
//! read_to_end(req.as_mut(), &mut id)?;
//! let id = String::from_utf8(id).unwrap();
//! // Blocks until the executor has answered.
//! let response = read_to_string(&ns, &format!("/cap/http/responses/{id}.json"))?;
//! assert!(response.contains("\"status\": 200"));
//! executor.join().unwrap();
//!
//! // Refused at write time, with the reason.
//! let err = oanix_vfs::write_file(&ns, "/cap/http/request", r#"{"url": "https://evil.example/"}"#)
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "permission denied: /cap/http/request: host `evil.example` is not in the allow list"
//! );
//! // Everything was recorded; the injected secret appears nowhere.
//! let records = log.records();
//! assert_eq!(records.len(), 3);
//! assert!(records.iter().all(|r| !r.to_json_line().contains("s3cret")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where it sits
//!
//! Depends on `oanix-vfs` and `oanix-prims` (for `FixedTree`) only, never
//! on `oanix-services` beside it. The executors in `oanix-exec` drive these
//! services; the environment routes their records into its event log.

mod body;
mod cap_core;
mod error;
mod http;
mod message;
mod method;
#[cfg(feature = "nostr")]
mod nostr;
mod notify;
pub mod policy;
mod queue;
mod record;
mod tree;
mod ws;

/// The `nostr` crate, re-exported so that executors use the same version.
#[cfg(feature = "nostr")]
pub use ::nostr as nostr_crate;
pub use body::Body;
pub use error::{CapError, Result};
pub use http::{
    FailureKind, HttpFailure, HttpFs, HttpFsBuilder, HttpLimits, HttpOutcome, HttpReply,
    HttpRequest, HttpResponse, HttpStatus, PendingRequest,
};
pub use method::HttpMethod;
#[cfg(feature = "nostr")]
pub use nostr::{
    Delivered, Filter, JOB_FEEDBACK_KIND, JOB_REQUEST_KINDS, JOB_RESULT_KINDS,
    JOB_SUBSCRIPTION_PREFIX, JobInput, JobRequest, MAX_AUTH_CHALLENGE, MAX_JOB_FEEDBACK,
    MAX_SUBSCRIPTION_ID, NostrFs, NostrFsBuilder, NostrLimits, NostrStatus, OutboxEvent,
};
pub use notify::{EventListener, Listener};
pub use policy::{EgressPolicy, EgressPolicyBuilder, HostPattern, IpClass, SecretValue};
pub use record::{
    CapRecord, Capability, Outcome, RecordAction, RecordLog, RecordName, RecordSink, sha256_digest,
};
pub use ws::{
    WsConnStatus, WsFs, WsFsBuilder, WsLimits, WsMessage, WsState, WsStatus, frame_message,
};

/// The egress policy of [`HttpFs`]: the same type as every capability's.
pub type HttpPolicy = EgressPolicy;

/// The current time, as [`HttpResponse::completed_at`] and every record
/// take it.
pub fn now() -> oanix_vfs::Timestamp {
    oanix_vfs::Timestamp::now()
}
