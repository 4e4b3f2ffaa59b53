//! `HttpFs`: HTTP requests as files (`/cap/http`), queued for an executor
//! after the egress policy has accepted them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock, MutexGuard};
use std::time::Duration;

use oanix_vfs::deadline::Instant;

use oanix_prims::{Access, DynamicEntry, DynamicKind, DynamicNode, FixedFile, FixedTree};
use oanix_vfs::{FileHandle, FsError, OpenFlags, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use crate::body::Body;
use crate::cap_core::{CapCore, Change, CoreParts, Wake};
use crate::error::{CapError, Result};
use crate::message::parse_object;
use crate::method::HttpMethod;
use crate::notify::{EventListener, WaitEnd};
use crate::policy::{EgressPolicy, HostPattern, is_token};
use crate::queue::{BoundedQueue, Recent};
use crate::record::{CapRecord, Capability, Outcome, RecordAction, RecordSink, sha256_digest};
use crate::tree::{self, CapFiles, ContentHandle, MessageHandle, json_bytes};

/// An HTTP request, as an agent or the host asks for it.
///
/// Build one with a struct literal (`..Default::default()` for the rest) or
/// with [`HttpRequest::get`], [`HttpRequest::post`] and the `with_` methods.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpRequest {
    /// The method.
    pub method: HttpMethod,
    /// The absolute URL.
    pub url: String,
    /// Request headers (names as given; the executor adds framing headers).
    pub headers: HashMap<String, String>,
    /// The body (empty by default).
    pub body: Body,
    /// How long the executor may take, if the agent asked for a limit.
    pub timeout: Option<Duration>,
    /// Hand a redirect back as the response instead of following it (the
    /// egress proxy's clients follow redirects themselves, through the
    /// proxy, each checked again). Off: the executor follows them.
    pub keep_redirects: bool,
}

impl HttpRequest {
    /// A request with `method` to `url`, no headers, no body.
    pub fn new(method: HttpMethod, url: impl Into<String>) -> Self {
        Self {
            method,
            url: url.into(),
            ..Self::default()
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>) -> Self {
        Self::new(HttpMethod::Get, url)
    }

    /// A `POST` of `body` to `url`.
    pub fn post(url: impl Into<String>, body: impl Into<Body>) -> Self {
        Self::new(HttpMethod::Post, url).with_body(body)
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The headers sorted by name (what files and executors show and send).
    pub fn sorted_headers(&self) -> BTreeMap<&str, &str> {
        self.headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// A response with a text body: the simple form, built with a struct
/// literal or [`HttpResponse::new`] and the `with_` methods, and delivered
/// with [`HttpFs::complete_request`], which turns it into an [`HttpReply`].
/// A binary body, or an exact duration, needs an [`HttpReply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The id of the request answered.
    pub request_id: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase (`OK`), possibly empty.
    pub status_text: String,
    /// Response headers (repeated headers joined with `, `).
    pub headers: HashMap<String, String>,
    /// The body, as text.
    pub body: String,
    /// How long the exchange took, in milliseconds.
    pub duration_ms: u64,
    /// When it completed (see [`now`](crate::now)).
    pub completed_at: Timestamp,
}

impl HttpResponse {
    /// A response to `request_id` with `status`, completed now, empty otherwise.
    pub fn new(request_id: impl Into<String>, status: u16) -> Self {
        Self {
            request_id: request_id.into(),
            status,
            status_text: String::new(),
            headers: HashMap::new(),
            body: String::new(),
            duration_ms: 0,
            completed_at: Timestamp::now(),
        }
    }

    /// Sets the reason phrase.
    #[must_use]
    pub fn with_status_text(mut self, text: impl Into<String>) -> Self {
        self.status_text = text.into();
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the duration (whole milliseconds).
    #[must_use]
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration_ms = millis(duration);
        self
    }
}

/// A response as the service keeps it and `responses/{id}.json` shows it:
/// a text or binary [`Body`], headers in order, the exact duration. What
/// executors that see binary bodies deliver; [`HttpResponse`] converts
/// into one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpReply {
    /// The id of the request answered.
    pub request_id: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase (`OK`), possibly empty.
    pub status_text: String,
    /// Response headers (repeated headers joined with `, `).
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Body,
    /// How long the exchange took.
    pub duration: Duration,
    /// When it completed.
    pub completed_at: Timestamp,
}

impl HttpReply {
    /// A reply to `request_id` with `status`, completed now, empty otherwise.
    pub fn new(request_id: impl Into<String>, status: u16) -> Self {
        Self {
            request_id: request_id.into(),
            status,
            status_text: String::new(),
            headers: BTreeMap::new(),
            body: Body::default(),
            duration: Duration::ZERO,
            completed_at: Timestamp::now(),
        }
    }

    /// Sets the reason phrase.
    #[must_use]
    pub fn with_status_text(mut self, text: impl Into<String>) -> Self {
        self.status_text = text.into();
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    /// Replaces the headers.
    #[must_use]
    pub fn with_headers(mut self, headers: BTreeMap<String, String>) -> Self {
        self.headers = headers;
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn with_body(mut self, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets the duration.
    #[must_use]
    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = duration;
        self
    }
}

impl From<HttpResponse> for HttpReply {
    fn from(r: HttpResponse) -> Self {
        Self {
            request_id: r.request_id,
            status: r.status,
            status_text: r.status_text,
            headers: r.headers.into_iter().collect(),
            body: Body::Text(r.body),
            duration: Duration::from_millis(r.duration_ms),
            completed_at: r.completed_at,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailureKind {
    /// The request's timeout passed.
    Timeout,
    /// The host name could not be resolved.
    Dns,
    /// No connection could be made.
    Connect,
    /// The policy refused it when connecting (a resolved address, say).
    Refused,
    /// The response was larger than the policy allows.
    TooLarge,
    /// The peer broke the protocol (TLS, HTTP).
    Protocol,
    /// The executor shut down or the request was cancelled.
    Cancelled,
    /// The host submitted a malformed request
    /// ([`HttpFs::submit_request`]; an agent's fails at write instead).
    Invalid,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// The kind as it appears in files (`"timeout"`, `"too_large"`...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Dns => "dns",
            Self::Connect => "connect",
            Self::Refused => "refused",
            Self::TooLarge => "too_large",
            Self::Protocol => "protocol",
            Self::Cancelled => "cancelled",
            Self::Invalid => "invalid",
            Self::Other => "other",
        }
    }
}

/// A request that failed, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpFailure {
    /// The id of the request.
    pub request_id: String,
    /// What kind of failure.
    pub kind: FailureKind,
    /// The reason, in words.
    pub message: String,
    /// How long after submission it failed.
    pub duration: Duration,
    /// When it failed.
    pub failed_at: Timestamp,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpOutcome {
    /// A response arrived (whatever its status).
    Response(HttpReply),
    /// No response: the request failed.
    Failure(HttpFailure),
}

impl HttpOutcome {
    /// The response, if one arrived.
    pub fn response(&self) -> Option<&HttpReply> {
        match self {
            Self::Response(r) => Some(r),
            Self::Failure(_) => None,
        }
    }

    /// The failure, if the request failed.
    pub fn failure(&self) -> Option<&HttpFailure> {
        match self {
            Self::Response(_) => None,
            Self::Failure(f) => Some(f),
        }
    }

    /// The JSON document of `responses/{id}.json`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        match self {
            Self::Response(r) => {
                m.insert("id".into(), json!(r.request_id));
                m.insert("ok".into(), json!(true));
                m.insert("status".into(), json!(r.status));
                m.insert("status_text".into(), json!(r.status_text));
                m.insert("headers".into(), json!(r.headers));
                r.body.put_json(&mut m);
                m.insert("duration_ms".into(), json!(millis(r.duration)));
                m.insert("completed_at".into(), json!(r.completed_at));
            }
            Self::Failure(f) => {
                m.insert("id".into(), json!(f.request_id));
                m.insert("ok".into(), json!(false));
                m.insert(
                    "error".into(),
                    json!({"kind": f.kind.as_str(), "message": f.message}),
                );
                m.insert("duration_ms".into(), json!(millis(f.duration)));
                m.insert("completed_at".into(), json!(f.failed_at));
            }
        }
        Value::Object(m)
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A request handed to an executor: what the agent asked, plus what the
/// executor needs to carry it out safely.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PendingRequest {
    /// The request's id.
    pub id: String,
    /// The request as the agent wrote it (no injected headers).
    pub request: HttpRequest,
    /// The URL, parsed. An agent's request was checked against the policy
    /// when written; a host's ([`HttpFs::submit_request`]) was not, so an
    /// executor checks it ([`EgressPolicy::check_http`]) before connecting.
    pub url: Url,
    /// The policy: the executor checks every resolved address with
    /// [`EgressPolicy::check_ip`] and limits the response body to
    /// `max_response_body`.
    pub policy: Arc<EgressPolicy>,
    /// How long the executor may take (the request's own timeout, or the
    /// service's default, at most the service's maximum).
    pub timeout: Duration,
    /// When the request was accepted.
    pub submitted_at: Timestamp,
}

impl PendingRequest {
    /// The headers to put on the wire: the agent's, with the policy's
    /// injected headers for this host replacing any of the same name.
    pub fn headers_to_send(&self) -> Vec<(String, String)> {
        let injected = self
            .url
            .host_str()
            .map(|h| self.policy.injected_headers(h))
            .unwrap_or_default();
        let mut out: Vec<(String, String)> = self
            .request
            .sorted_headers()
            .into_iter()
            .filter(|(n, _)| !injected.iter().any(|(i, _)| i.eq_ignore_ascii_case(n)))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        out.extend(injected);
        out
    }
}

/// The bounds and waits of an [`HttpFs`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpLimits {
    /// Requests accepted and not yet answered (queued or in flight), at most.
    /// Default 64.
    pub max_pending: usize,
    /// The largest message written to `request`, in bytes. Default 16 MiB
    /// (the request body limit itself is the policy's).
    pub max_message: usize,
    /// Responses kept for reading; past this the oldest are dropped. Default 256.
    pub max_responses: usize,
    /// The timeout of a request that names none. Default 30 s.
    pub default_timeout: Duration,
    /// The longest timeout a request may ask for. Default 300 s.
    pub max_timeout: Duration,
    /// How long a read of a response that has not arrived waits. Default 60 s
    /// (and never past the thread's [`deadline`](oanix_vfs::deadline)).
    pub wait: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_pending: 64,
            max_message: 16 << 20,
            max_responses: 256,
            default_timeout: Duration::from_secs(30),
            max_timeout: Duration::from_secs(300),
            wait: Duration::from_secs(60),
        }
    }
}

impl HttpLimits {
    /// Sets `max_pending`.
    #[must_use]
    pub fn max_pending(mut self, n: usize) -> Self {
        self.max_pending = n;
        self
    }
    /// Sets `max_message`.
    #[must_use]
    pub fn max_message(mut self, bytes: usize) -> Self {
        self.max_message = bytes;
        self
    }
    /// Sets `max_responses`.
    #[must_use]
    pub fn max_responses(mut self, n: usize) -> Self {
        self.max_responses = n;
        self
    }
    /// Sets `default_timeout`.
    #[must_use]
    pub fn default_timeout(mut self, d: Duration) -> Self {
        self.default_timeout = d;
        self
    }
    /// Sets `max_timeout`.
    #[must_use]
    pub fn max_timeout(mut self, d: Duration) -> Self {
        self.max_timeout = d;
        self
    }
    /// Sets `wait`.
    #[must_use]
    pub fn wait(mut self, d: Duration) -> Self {
        self.wait = d;
        self
    }
}

/// The counters of an [`HttpFs`], as `status` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HttpStatus {
    /// Requests waiting for an executor.
    pub queued: usize,
    /// Requests taken by an executor and not yet answered.
    pub in_flight: usize,
    /// Responses (and failures) kept for reading.
    pub responses: usize,
    /// Requests accepted since the start.
    pub submitted: u64,
    /// Requests answered with a response.
    pub completed: u64,
    /// Requests that failed.
    pub failed: u64,
    /// Requests refused by the policy or a limit.
    pub refused: u64,
    /// Malformed messages.
    pub invalid: u64,
    /// Responses dropped unread to stay within `max_responses`.
    pub evicted: u64,
    /// Readers blocked waiting for a response now.
    pub waiting_readers: usize,
    /// The `max_pending` limit.
    pub max_pending: usize,
}

/// Who submitted a request: an agent's is checked against the policy at
/// once, the host's only by the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Submitter {
    Agent,
    Host,
}

/// Parses an absolute `http` or `https` URL (the form check of a host's
/// request; the policy is the executor's to apply).
fn http_url(url: &str) -> Result<Url> {
    let parsed = Url::parse(url)
        .map_err(|e| CapError::invalid(format!("field `url`: not an absolute URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(CapError::invalid(format!(
            "field `url`: expected an http or https URL with a host, found `{url}`"
        )));
    }
    Ok(parsed)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PendingState {
    Queued,
    InFlight,
}

#[derive(Debug)]
struct Entry {
    request: HttpRequest,
    url: Url,
    timeout: Duration,
    state: PendingState,
    submitted_at: Timestamp,
    started: Instant,
}

/// The state of an [`HttpFs`]. `max_pending` bounds the requests queued
/// and in flight together: `queue` holds the ids of the queued ones (a
/// [`BoundedQueue`] of capacity `max_pending`, pushed to with the in-flight
/// count as the share held elsewhere), `pending` every entry, queued or in
/// flight, so the in-flight count is the difference.
#[derive(Debug)]
struct HttpState {
    next_id: u64,
    queue: BoundedQueue<String>,
    pending: HashMap<String, Entry>,
    responses: Recent<HttpOutcome>,
    submitted: u64,
    completed: u64,
    failed: u64,
    refused: u64,
    invalid: u64,
    evicted: u64,
}

impl HttpState {
    /// Requests taken by an executor and not yet answered: the entries not
    /// queued (every queued id has its entry).
    fn in_flight(&self) -> usize {
        self.pending.len().saturating_sub(self.queue.len())
    }

    /// A new request id.
    fn new_id(&mut self) -> String {
        let id = format!("req-{}", self.next_id);
        self.next_id += 1;
        id
    }
}

/// The HTTP capability: agents write requests to `request` and read the
/// answers from `responses/{id}.json`; an executor takes the requests and
/// delivers the answers. See the [crate docs](crate) for the file protocol.
///
/// Cloning is cheap and gives another handle on the same service.
///
/// | file | access | content |
/// |---|---|---|
/// | `/request` | write (read gives the id) | one JSON request per write |
/// | `/pending/{id}.json` | read | a request not answered yet |
/// | `/responses/{id}.json` | read (blocks), remove | the response or failure |
/// | `/status` | read | counters, limits and the policy (without secrets) |
#[derive(Debug, Clone)]
pub struct HttpFs {
    inner: Arc<CapCore<HttpState, HttpLimits>>,
}

/// Builds an [`HttpFs`]; see [`HttpFs::builder`].
#[derive(Debug, Default)]
pub struct HttpFsBuilder {
    parts: CoreParts<HttpLimits>,
}

impl HttpFsBuilder {
    /// Sets the egress policy (the default refuses everything).
    #[must_use]
    pub fn policy(mut self, policy: EgressPolicy) -> Self {
        self.parts.policy = policy;
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn limits(mut self, limits: HttpLimits) -> Self {
        self.parts.limits = limits;
        self
    }

    /// Sends a [`CapRecord`] of every request and outcome to `sink`.
    #[must_use]
    pub fn record_sink(mut self, sink: RecordSink) -> Self {
        self.parts.sink = Some(sink);
        self
    }

    /// Builds the service.
    pub fn build(self) -> HttpFs {
        let state = HttpState {
            next_id: 1,
            queue: BoundedQueue::new(self.parts.limits.max_pending),
            pending: HashMap::new(),
            responses: Recent::new(self.parts.limits.max_responses),
            submitted: 0,
            completed: 0,
            failed: 0,
            refused: 0,
            invalid: 0,
            evicted: 0,
        };
        HttpFs {
            inner: Arc::new(CapCore::new(state, self.parts)),
        }
    }
}

impl Default for HttpFs {
    fn default() -> Self {
        Self::new()
    }
}

const REQUEST_FIELDS: &[&str] = &[
    "method",
    "url",
    "headers",
    "body",
    "body_base64",
    "timeout_ms",
];

/// Headers the executor sets itself; a request may not.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "proxy-connection",
];

impl HttpFs {
    /// A service with the default policy, which refuses every request: give
    /// it a policy with [`HttpFs::builder`].
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts building a service.
    pub fn builder() -> HttpFsBuilder {
        HttpFsBuilder::default()
    }

    /// The egress policy now.
    pub fn policy(&self) -> Arc<EgressPolicy> {
        self.core().policy()
    }

    /// Replaces the egress policy while the service runs (for example,
    /// allowing the package index for an install step, then closing it):
    /// every request submitted from now on is checked against it, and an
    /// executor checks redirects, resolved addresses, injected headers and
    /// response limits with it from its next request on. Requests already
    /// accepted keep the policy they were accepted under. The change is
    /// recorded (`policy`, with what the new policy allows).
    pub fn set_policy(&self, policy: EgressPolicy) {
        let hosts: Vec<&str> = policy.hosts().iter().map(HostPattern::as_str).collect();
        let detail = format!("allow_hosts = [{}]", hosts.join(", "));
        self.core().set_policy(policy);
        let mut record = CapRecord::new(
            Capability::Http,
            RecordAction::Policy,
            "policy",
            Outcome::Ok,
        );
        record.detail = Some(detail);
        self.emit_record(record);
    }

    /// The limits.
    pub fn limits(&self) -> &HttpLimits {
        self.core().limits()
    }

    /// Sets (or clears) where records go.
    pub fn set_record_sink(&self, sink: Option<RecordSink>) {
        self.core().set_sink(sink);
    }

    /// Sends a record made by an executor (a retry, a redirect, a refusal
    /// when connecting) to the service's sink, if one is set.
    pub fn emit_record(&self, record: CapRecord) {
        self.core().emit(record);
    }

    fn core(&self) -> &CapCore<HttpState, HttpLimits> {
        &self.inner
    }

    /// The state, locked, to read: every change goes through the core's
    /// `commit` or `apply`.
    fn state(&self) -> MutexGuard<'_, HttpState> {
        self.inner.lock()
    }

    /// Parses one message written to `request` (see the crate docs for the
    /// format).
    pub fn parse_request(&self, message: &[u8]) -> Result<HttpRequest> {
        if message.len() > self.core().limits().max_message {
            return Err(CapError::TooLarge {
                what: "message",
                limit: self.core().limits().max_message as u64,
            });
        }
        let f = parse_object(message)?;
        f.check_known(REQUEST_FIELDS)?;
        let method = match f.opt_str("method")? {
            Some(m) => m.parse()?,
            None => HttpMethod::Get,
        };
        let url = f.req_str("url")?.to_owned();
        let headers = f
            .opt_string_map("headers")?
            .unwrap_or_default()
            .into_iter()
            .collect();
        let body = crate::body::Body::from_fields(&f)?;
        let timeout = match f.opt_u64("timeout_ms")? {
            Some(0) => {
                return Err(CapError::invalid(
                    "field `timeout_ms`: expected a positive number of milliseconds, found 0",
                ));
            }
            Some(ms) => Some(Duration::from_millis(ms)),
            None => None,
        };
        Ok(HttpRequest {
            method,
            url,
            headers,
            body,
            timeout,
            keep_redirects: false,
        })
    }

    fn validate(&self, request: &HttpRequest) -> Result<Duration> {
        for (name, value) in &request.headers {
            if !is_token(name) {
                return Err(CapError::invalid(format!(
                    "field `headers`: `{name}` is not a valid header name"
                )));
            }
            if value.contains(['\r', '\n', '\0']) {
                return Err(CapError::invalid(format!(
                    "field `headers.{name}`: the value has a line break or NUL"
                )));
            }
            let lower = name.to_ascii_lowercase();
            if RESERVED_HEADERS.contains(&lower.as_str()) {
                return Err(CapError::invalid(format!(
                    "field `headers.{name}`: set by the executor, not by the request"
                )));
            }
        }
        let max = self.core().limits().max_timeout;
        match request.timeout {
            Some(t) if t > max => Err(CapError::invalid(format!(
                "field `timeout_ms`: at most {} ms, found {}",
                millis(max),
                millis(t)
            ))),
            Some(t) if t.is_zero() => Err(CapError::invalid(
                "field `timeout_ms`: expected a positive number of milliseconds, found 0",
            )),
            Some(t) => Ok(t),
            None => Ok(self.core().limits().default_timeout.min(max)),
        }
    }

    /// Submits a request from the host and returns its id at once.
    ///
    /// Host code is trusted: the request is checked for form (header names
    /// and values, the timeout, an absolute `http` or `https` URL) and the
    /// bounds, but not against the egress policy, and it is recorded like
    /// any other. The executor checks the policy (and every resolved
    /// address) before connecting, so with
    /// [`HttpExecutor`](https://docs.rs/oanix-exec) a request the policy
    /// does not allow still fails, as `refused`, without being sent.
    ///
    /// A malformed request, or one over a bound (the pending queue is
    /// full), still gets an id: its outcome is at once a failure of kind
    /// [`FailureKind::Invalid`] or [`FailureKind::Refused`] with the reason.
    /// [`try_submit`](Self::try_submit) returns those errors instead and
    /// applies the policy, as an agent's write to `request` does.
    pub fn submit_request(&self, request: HttpRequest) -> String {
        match self.accept(request, Submitter::Host) {
            Ok(id) => id,
            Err(refused) => self.refuse_now(&refused.1, &refused.0),
        }
    }

    /// Submits a request under the egress policy and the bounds, as an
    /// agent's write to `request` does, and returns its id. On any error
    /// (malformed, refused by the policy, queue full) nothing is queued and
    /// no id is given.
    pub fn try_submit(&self, request: HttpRequest) -> Result<String> {
        self.accept(request, Submitter::Agent)
            .map_err(|refused| refused.0)
    }

    fn accept(
        &self,
        request: HttpRequest,
        by: Submitter,
    ) -> std::result::Result<String, Box<(CapError, HttpRequest)>> {
        let core = self.core();
        let checked = self.validate(&request).and_then(|timeout| {
            let url = match by {
                Submitter::Agent => core.policy().check_http(
                    request.method,
                    &request.url,
                    request.body.len() as u64,
                )?,
                Submitter::Host => http_url(&request.url)?,
            };
            Ok((timeout, url))
        });
        let (timeout, url) = match checked {
            Ok(v) => v,
            Err(e) => return Err(self.refuse(e, request, by)),
        };
        let mut slot = Some(request);
        let queued = core.commit(|st, recording| {
            let id = format!("req-{}", st.next_id);
            let in_flight = st.in_flight();
            st.queue
                .push_sharing(id.clone(), in_flight, || "pending requests".into())?;
            let request = slot.take().ok_or_else(|| CapError::invalid("no request"))?;
            st.next_id += 1;
            st.submitted += 1;
            let change = Change::new(id.clone(), Wake::Work).recorded(recording, || {
                let detail = match by {
                    Submitter::Agent => request.method.as_str().to_owned(),
                    Submitter::Host => format!("{}, from the host", request.method),
                };
                CapRecord::new(
                    Capability::Http,
                    RecordAction::Request,
                    &request.url,
                    Outcome::Queued,
                )
                .with_id(&id)
                .with_body(request.body.as_bytes())
                .with_detail(detail)
            });
            st.pending.insert(
                id,
                Entry {
                    request,
                    url,
                    timeout,
                    state: PendingState::Queued,
                    submitted_at: Timestamp::now(),
                    started: Instant::now(),
                },
            );
            Ok(change)
        });
        match (queued, slot) {
            (Ok(id), _) => Ok(id),
            (Err(e), Some(request)) => Err(self.refuse(e, request, by)),
            (Err(e), None) => Err(Box::new((e, HttpRequest::default()))),
        }
    }

    /// Counts a request refused (by the policy or a bound) or malformed,
    /// records an agent's refusal, and gives the error back with the
    /// request.
    fn refuse(
        &self,
        e: CapError,
        request: HttpRequest,
        by: Submitter,
    ) -> Box<(CapError, HttpRequest)> {
        let refused = !matches!(e, CapError::Invalid(_));
        self.core().apply(|st, recording| {
            if refused {
                st.refused += 1;
            } else {
                st.invalid += 1;
            }
            Change::new((), Wake::None).recorded(
                recording && refused && by == Submitter::Agent,
                || {
                    CapRecord::new(
                        Capability::Http,
                        RecordAction::Request,
                        &request.url,
                        Outcome::Refused,
                    )
                    .with_body(request.body.as_bytes())
                    .with_detail(e.to_string())
                },
            )
        });
        Box::new((e, request))
    }

    /// Gives a host's request that could not be queued an id whose outcome
    /// is already the failure.
    fn refuse_now(&self, request: &HttpRequest, e: &CapError) -> String {
        let kind = match e {
            CapError::Invalid(_) => FailureKind::Invalid,
            _ => FailureKind::Refused,
        };
        self.core().apply(|st, recording| {
            let id = st.new_id();
            let failure = HttpFailure {
                request_id: id.clone(),
                kind,
                message: e.to_string(),
                duration: Duration::ZERO,
                failed_at: Timestamp::now(),
            };
            st.evicted += st
                .responses
                .insert(id.clone(), HttpOutcome::Failure(failure));
            Change::new(id.clone(), Wake::Ready).recorded(recording, || {
                CapRecord::new(
                    Capability::Http,
                    RecordAction::Request,
                    &request.url,
                    Outcome::Refused,
                )
                .with_id(&id)
                .with_body(request.body.as_bytes())
                .with_detail(format!("from the host: {e}"))
            })
        })
    }

    /// Parses a message as written to `request` and submits it under the
    /// policy ([`try_submit`](Self::try_submit)).
    pub fn submit_message(&self, message: &[u8]) -> Result<String> {
        match self.parse_request(message) {
            Ok(r) => self.try_submit(r),
            Err(e) => {
                self.core().apply(|st, _| {
                    st.invalid += 1;
                    Change::new((), Wake::None)
                });
                Err(e)
            }
        }
    }

    /// Whether requests are waiting for an executor.
    pub fn has_pending(&self) -> bool {
        !self.state().queue.is_empty()
    }

    /// A listener woken when a request is queued: executors take it, check
    /// [`has_pending`](Self::has_pending) (or take a batch), and `.await` or
    /// wait on it when there was nothing.
    pub fn work_listener(&self) -> EventListener {
        self.core().work_listener()
    }

    /// A listener woken when a response or failure is delivered.
    pub fn response_listener(&self) -> EventListener {
        self.core().ready().listen()
    }

    fn pending_from(&self, id: &str, e: &mut Entry) -> PendingRequest {
        e.state = PendingState::InFlight;
        PendingRequest {
            id: id.to_owned(),
            request: e.request.clone(),
            url: e.url.clone(),
            policy: self.core().policy(),
            timeout: e.timeout,
            submitted_at: e.submitted_at,
        }
    }

    /// Takes one queued request for execution; it is then in flight until
    /// completed or failed.
    pub fn take_pending(&self, id: &str) -> Result<PendingRequest> {
        self.core().commit(|st, _| {
            let taken = self.take_one(st, id)?;
            Ok(Change::new(taken, Wake::None))
        })
    }

    /// Marks queued request `id` in flight and takes it off the queue.
    fn take_one(&self, st: &mut HttpState, id: &str) -> Result<PendingRequest> {
        let Some(e) = st.pending.get_mut(id) else {
            if let Some(outcome) = st.responses.get(id) {
                let state = match outcome {
                    HttpOutcome::Response(r) => format!("already answered (status {})", r.status),
                    HttpOutcome::Failure(f) => {
                        format!("already finished ({}: {})", f.kind.as_str(), f.message)
                    }
                };
                return Err(CapError::WrongState {
                    kind: "request",
                    id: id.to_owned(),
                    state,
                });
            }
            return Err(CapError::UnknownId {
                kind: "request",
                id: id.to_owned(),
            });
        };
        if e.state == PendingState::InFlight {
            return Err(CapError::WrongState {
                kind: "request",
                id: id.to_owned(),
                state: "in flight".into(),
            });
        }
        st.queue.remove_first(|q| q == id);
        Ok(self.pending_from(id, e))
    }

    /// Takes up to `limit` queued requests, oldest first.
    pub fn take_pending_batch(&self, limit: usize) -> Vec<PendingRequest> {
        self.core().apply(|st, _| {
            let mut out = Vec::new();
            while out.len() < limit {
                let Some(id) = st.queue.pop() else {
                    break;
                };
                if let Some(e) = st.pending.get_mut(&id) {
                    out.push(self.pending_from(&id, e));
                }
            }
            Change::new(out, Wake::None)
        })
    }

    /// The ids of the requests queued, oldest first.
    pub fn queued_ids(&self) -> Vec<String> {
        self.state().queue.iter().cloned().collect()
    }

    /// Ends pending request `id` with the outcome `outcome` makes from its
    /// entry (an error changes nothing): keeps it for reading (dropping the
    /// oldest past the bound), counts it as completed or failed, and
    /// records it (`record` is given the request's URL), in the core's one
    /// change sequence.
    fn finish(
        &self,
        id: &str,
        outcome: impl FnOnce(&Entry) -> Result<HttpOutcome>,
        record: impl FnOnce(&str, &HttpOutcome) -> CapRecord,
    ) -> Result<()> {
        self.core().commit(|st, recording| {
            let entry = st.pending.get(id).ok_or_else(|| CapError::UnknownId {
                kind: "request",
                id: id.to_owned(),
            })?;
            let outcome = outcome(entry)?;
            let change = Change::new((), Wake::Ready)
                .recorded(recording, || record(&entry.request.url, &outcome));
            let queued = entry.state == PendingState::Queued;
            st.pending.remove(id);
            if queued {
                st.queue.remove_first(|q| q == id);
            }
            match &outcome {
                HttpOutcome::Response(_) => st.completed += 1,
                HttpOutcome::Failure(_) => st.failed += 1,
            }
            st.evicted += st.responses.insert(id.to_owned(), outcome);
            Ok(change)
        })
    }

    /// Delivers the response to a pending request. A body larger than the
    /// policy's `max_response_body` is refused with `TooLarge` and changes
    /// nothing (the executor then fails the request).
    ///
    /// Takes an [`HttpResponse`] (a text body) or an [`HttpReply`] (any body).
    pub fn complete_request(&self, response: impl Into<HttpReply>) -> Result<()> {
        let response: HttpReply = response.into();
        let limit = self.core().policy().max_response_body();
        let id = response.request_id.clone();
        self.finish(
            &id,
            |_| {
                if response.body.len() as u64 > limit {
                    return Err(CapError::TooLarge {
                        what: "response body",
                        limit,
                    });
                }
                Ok(HttpOutcome::Response(response))
            },
            |target, outcome| {
                let record = CapRecord::new(
                    Capability::Http,
                    RecordAction::Response,
                    target,
                    Outcome::Ok,
                )
                .with_id(&id);
                match outcome.response() {
                    Some(r) => record
                        .with_body(r.body.as_bytes())
                        .with_detail(format!("status {}", r.status)),
                    None => record,
                }
            },
        )
    }

    /// Records that a pending request failed, and why.
    pub fn fail_request(
        &self,
        id: &str,
        kind: FailureKind,
        message: impl Into<String>,
    ) -> Result<()> {
        let message = message.into();
        self.finish(
            id,
            |e| {
                Ok(HttpOutcome::Failure(HttpFailure {
                    request_id: id.to_owned(),
                    kind,
                    message,
                    duration: e.started.elapsed(),
                    failed_at: Timestamp::now(),
                }))
            },
            |target, outcome| {
                let message = outcome.failure().map_or("", |f| f.message.as_str());
                CapRecord::new(
                    Capability::Http,
                    RecordAction::Response,
                    target,
                    Outcome::Failed,
                )
                .with_id(id)
                .with_detail(format!("{}: {message}", kind.as_str()))
            },
        )
    }

    /// The outcome of a request: the response or the failure, once it has
    /// arrived; `WouldBlock` while the request is pending, `UnknownId` for
    /// an id never given, or whose outcome was removed or evicted.
    pub fn get_response(&self, id: &str) -> Result<HttpOutcome> {
        let st = self.state();
        if let Some(o) = st.responses.get(id) {
            return Ok(o.clone());
        }
        if st.pending.contains_key(id) {
            return Err(CapError::WouldBlock(format!("response to {id}")));
        }
        Err(CapError::UnknownId {
            kind: "request",
            id: id.to_owned(),
        })
    }

    /// Removes and returns the outcome of a request.
    pub fn remove_response(&self, id: &str) -> Option<HttpOutcome> {
        self.core()
            .apply(|st, _| Change::new(st.responses.remove(id), Wake::None))
    }

    /// Waits up to `timeout` (bounded by the thread's deadline) for the
    /// outcome of a request.
    pub fn wait_response(&self, id: &str, timeout: Duration) -> Result<HttpOutcome> {
        self.wait_outcome(id, false, timeout)
    }

    fn wait_outcome(&self, id: &str, nonblocking: bool, timeout: Duration) -> Result<HttpOutcome> {
        let r = self.core().ready().wait_for(nonblocking, timeout, || {
            let st = self.state();
            if let Some(o) = st.responses.get(id) {
                return Some(Some(o.clone()));
            }
            if st.pending.contains_key(id) {
                None
            } else {
                Some(None)
            }
        });
        match r {
            Ok(Some(o)) => Ok(o),
            Ok(None) => Err(CapError::UnknownId {
                kind: "request",
                id: id.to_owned(),
            }),
            Err(WaitEnd::WouldBlock) => Err(CapError::WouldBlock(format!("response to {id}"))),
            Err(WaitEnd::TimedOut) => Err(CapError::TimedOut(format!("response to {id}"))),
        }
    }

    /// The counters.
    pub fn status(&self) -> HttpStatus {
        let st = self.state();
        HttpStatus {
            queued: st.queue.len(),
            in_flight: st.in_flight(),
            responses: st.responses.len(),
            submitted: st.submitted,
            completed: st.completed,
            failed: st.failed,
            refused: st.refused,
            invalid: st.invalid,
            evicted: st.evicted,
            waiting_readers: self.core().ready().waiting(),
            max_pending: self.core().limits().max_pending,
        }
    }

    fn status_json(&self) -> Value {
        let p = self.core().policy();
        let l = &self.core().limits();
        json!({
            "service": "http",
            "counters": self.status(),
            "limits": {
                "max_pending": l.max_pending,
                "max_message": l.max_message,
                "max_responses": l.max_responses,
                "default_timeout_ms": millis(l.default_timeout),
                "max_timeout_ms": millis(l.max_timeout),
                "wait_ms": millis(l.wait),
            },
            "policy": {
                "schemes": p.schemes(),
                "hosts": p.hosts(),
                "deny_hosts": p.deny_hosts(),
                "ports": p.ports(),
                "methods": p.methods(),
                "max_request_body": p.max_request_body(),
                "max_response_body": p.max_response_body(),
            },
        })
    }

    fn pending_json(id: &str, e: &Entry) -> Value {
        let headers = e.request.sorted_headers();
        json!({
            "id": id,
            "state": match e.state { PendingState::Queued => "queued", PendingState::InFlight => "in_flight" },
            "method": e.request.method.as_str(),
            "url": e.request.url,
            "headers": headers,
            "body_bytes": e.request.body.len(),
            "body_digest": sha256_digest(e.request.body.as_bytes()),
            "timeout_ms": millis(e.timeout),
            "submitted_at": e.submitted_at,
        })
    }
}

/// The declared names of an [`HttpFs`], each with its typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HttpNode {
    /// `/request`: the message file.
    Request,
    /// `/status`.
    Status,
    /// `/pending`: a request not answered yet per file.
    PendingDir,
    /// `/responses`: an outcome per file.
    ResponsesDir,
}

/// An item of an [`HttpFs`], below one of its dynamic directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HttpItem {
    /// `/pending/{id}.json`.
    Pending(String),
    /// `/responses/{id}.json` (there while the request is pending: a read
    /// waits for the outcome).
    Response(String),
}

impl HttpFs {
    fn status_bytes(&self) -> Vec<u8> {
        json_bytes(&self.status_json())
    }

    fn pending_bytes(&self, id: &str) -> Option<Vec<u8>> {
        let st = self.state();
        st.pending
            .get(id)
            .map(|e| json_bytes(&Self::pending_json(id, e)))
    }

    fn response_bytes(&self, id: &str) -> Option<Vec<u8>> {
        let st = self.state();
        st.responses.get(id).map(|o| json_bytes(&o.to_json()))
    }
}

impl CapFiles for HttpFs {
    type File = HttpNode;
    type Item = HttpItem;

    fn tree() -> &'static FixedTree<HttpNode> {
        static TREE: LazyLock<FixedTree<HttpNode>> = LazyLock::new(|| {
            FixedTree::builder()
                .file("/request", HttpNode::Request, Access::Writable)
                .file("/status", HttpNode::Status, Access::ReadOnly)
                .dynamic_dir("/pending", HttpNode::PendingDir)
                .dynamic_dir("/responses", HttpNode::ResponsesDir)
                .build()
        });
        &TREE
    }

    fn resolve(&self, dir: &HttpNode, rest: &str) -> Option<(HttpItem, DynamicKind)> {
        let id = tree::item_id(rest, ".json")?;
        let st = self.state();
        let item = match dir {
            HttpNode::PendingDir if st.pending.contains_key(id) => HttpItem::Pending(id.to_owned()),
            HttpNode::ResponsesDir if st.responses.contains(id) || st.pending.contains_key(id) => {
                HttpItem::Response(id.to_owned())
            }
            _ => return None,
        };
        Some((item, DynamicKind::File(Access::ReadOnly)))
    }

    fn list(&self, dir: &HttpNode, _item: Option<&HttpItem>) -> Vec<DynamicEntry> {
        let st = self.state();
        let entry =
            |id: &str, bytes: Vec<u8>| DynamicEntry::file(format!("{id}.json"), bytes.len() as u64);
        match dir {
            HttpNode::PendingDir => st
                .pending
                .iter()
                .map(|(id, e)| entry(id, json_bytes(&Self::pending_json(id, e))))
                .collect(),
            HttpNode::ResponsesDir => st
                .responses
                .oldest_first()
                .map(|(id, o)| entry(id, json_bytes(&o.to_json())))
                .collect(),
            HttpNode::Request | HttpNode::Status => Vec::new(),
        }
    }

    fn file_size(&self, file: &HttpNode) -> u64 {
        match file {
            HttpNode::Status => self.status_bytes().len() as u64,
            HttpNode::Request | HttpNode::PendingDir | HttpNode::ResponsesDir => 0,
        }
    }

    fn item_size(&self, item: &HttpItem) -> u64 {
        // A response not there yet is a read that waits: size 0 until it
        // arrives.
        let bytes = match item {
            HttpItem::Pending(id) => self.pending_bytes(id),
            HttpItem::Response(id) => self.response_bytes(id),
        };
        bytes.map_or(0, |b| b.len() as u64)
    }

    fn open_file(
        &self,
        file: &FixedFile<'_, HttpNode>,
        flags: OpenFlags,
    ) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        let (path, id) = (file.path(), file.id());
        let p = path.to_owned();
        match file.value() {
            HttpNode::Request => {
                let svc = self.clone();
                Ok(MessageHandle::boxed(
                    path,
                    id,
                    flags,
                    Box::new(move |msg| {
                        svc.submit_message(msg)
                            .map(Some)
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ))
            }
            HttpNode::Status => Ok(ContentHandle::ready(path, id, self.status_bytes())),
            HttpNode::PendingDir | HttpNode::ResponsesDir => Err(FsError::is_a_directory(path)),
        }
    }

    fn open_item(
        &self,
        item: DynamicNode<'_, HttpNode, HttpItem>,
        flags: OpenFlags,
    ) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        let (p, file_id) = (item.path().to_owned(), item.id());
        match item.into_node() {
            HttpItem::Pending(id) => {
                let bytes = self
                    .pending_bytes(&id)
                    .ok_or_else(|| FsError::not_found(&p))?;
                Ok(ContentHandle::ready(&p, file_id, bytes))
            }
            HttpItem::Response(id) => {
                let svc = self.clone();
                let nonblocking = flags.nonblocking;
                let wait = self.core().limits().wait;
                Ok(ContentHandle::lazy(
                    &p.clone(),
                    file_id,
                    Box::new(move || {
                        svc.wait_outcome(&id, nonblocking, wait)
                            .map(|o| json_bytes(&o.to_json()))
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ))
            }
        }
    }

    fn remove_item(&self, item: DynamicNode<'_, HttpNode, HttpItem>) -> oanix_vfs::Result<()> {
        let path = item.path();
        let HttpItem::Response(id) = item.node() else {
            return Err(tree::fixed(path));
        };
        if self.remove_response(id).is_some() {
            return Ok(());
        }
        if self.state().pending.contains_key(id) {
            return Err(FsError::permission_denied(
                path,
                "the response has not arrived yet",
            ));
        }
        Err(FsError::not_found(path))
    }
}

tree::cap_file_service!(HttpFs, "httpfs");

#[cfg(test)]
mod tests;
