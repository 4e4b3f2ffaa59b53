//! Capability services: HTTP, WebSocket and Nostr as files, behind an egress
//! policy, with a provenance record of everything that passes.

mod body;
mod error;
mod http;
mod message;
#[cfg(feature = "nostr")]
mod nostr;
mod notify;
pub mod policy;
mod record;
mod tree;
mod ws;

/// The `nostr` crate, re-exported so that executors use the same version.
#[cfg(feature = "nostr")]
pub use ::nostr as nostr_crate;
pub use body::Body;
pub use error::{CapError, Result};
pub use http::{
    FailureKind, HttpFailure, HttpFs, HttpFsBuilder, HttpLimits, HttpMethod, HttpOutcome,
    HttpRequest, HttpResponse, HttpStatus, PendingRequest,
};
#[cfg(feature = "nostr")]
pub use nostr::{
    Filter, JOB_FEEDBACK_KIND, JOB_REQUEST_KINDS, JOB_RESULT_KINDS, JobInput, JobRequest, NostrFs,
    NostrFsBuilder, NostrLimits, NostrStatus, OutboxEvent,
};
pub use notify::{EventListener, Listener};
pub use policy::{EgressPolicy, HostPattern, IpClass};
pub use record::{CapRecord, Capability, Outcome, RecordLog, RecordSink, sha256_digest};
pub use ws::{WsConnStatus, WsFs, WsFsBuilder, WsLimits, WsMessage, WsState, WsStatus};

/// The egress policy of [`HttpFs`]: the same type as every capability's.
pub type HttpPolicy = EgressPolicy;
