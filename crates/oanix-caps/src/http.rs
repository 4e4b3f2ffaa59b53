//! `HttpFs`: HTTP requests as files (`/cap/http`), queued for an executor
//! after the egress policy has accepted them.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use oanix_vfs::deadline::Instant;

use oanix_vfs::{DirEntry, FileHandle, FsError, OpenFlags, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use url::Url;

use crate::body::Body;
use crate::error::{CapError, Result};
use crate::message::parse_object;
use crate::notify::{EventListener, Signal, WaitEnd};
use crate::policy::{EgressPolicy, is_token};
use crate::record::{CapRecord, Capability, Outcome, RecordSink, Recorder, sha256_digest};
use crate::tree::{self, CapTree, ContentHandle, MessageHandle, Node, json_bytes};

/// An HTTP method.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum HttpMethod {
    /// `GET`.
    #[default]
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
    /// `OPTIONS`.
    Options,
}

impl HttpMethod {
    /// The method's name, in capitals.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Head => "HEAD",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
        }
    }
}

impl FromStr for HttpMethod {
    type Err = CapError;
    /// Parses a method name, ignoring case.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_uppercase().as_str() {
            "GET" => Self::Get,
            "HEAD" => Self::Head,
            "POST" => Self::Post,
            "PUT" => Self::Put,
            "PATCH" => Self::Patch,
            "DELETE" => Self::Delete,
            "OPTIONS" => Self::Options,
            _ => {
                return Err(CapError::invalid(format!(
                    "field `method`: `{s}` is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
                )));
            }
        })
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An HTTP request, as an agent asks for it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The method.
    pub method: HttpMethod,
    /// The absolute URL.
    pub url: String,
    /// Request headers (names as given; the executor adds framing headers).
    pub headers: BTreeMap<String, String>,
    /// The body (empty by default).
    pub body: Body,
    /// How long the executor may take, if the agent asked for a limit.
    pub timeout: Option<Duration>,
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
}

/// A response, as an executor delivers it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpResponse {
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

impl HttpResponse {
    /// A response to `request_id` with `status`, completed now, empty otherwise.
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
    Response(HttpResponse),
    /// No response: the request failed.
    Failure(HttpFailure),
}

impl HttpOutcome {
    /// The response, if one arrived.
    pub fn response(&self) -> Option<&HttpResponse> {
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
    /// The URL, parsed and already checked against the policy.
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
            .headers
            .iter()
            .filter(|(n, _)| !injected.iter().any(|(i, _)| i.eq_ignore_ascii_case(n)))
            .map(|(n, v)| (n.clone(), v.clone()))
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

#[derive(Debug, Default)]
struct HttpState {
    next_id: u64,
    queue: VecDeque<String>,
    pending: HashMap<String, Entry>,
    responses: HashMap<String, HttpOutcome>,
    order: VecDeque<String>,
    submitted: u64,
    completed: u64,
    failed: u64,
    refused: u64,
    invalid: u64,
    evicted: u64,
}

#[derive(Debug)]
struct HttpInner {
    state: Mutex<HttpState>,
    policy: Arc<EgressPolicy>,
    limits: HttpLimits,
    work: Signal,
    done: Signal,
    recorder: Recorder,
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
    inner: Arc<HttpInner>,
}

/// Builds an [`HttpFs`]; see [`HttpFs::builder`].
#[derive(Default)]
pub struct HttpFsBuilder {
    policy: EgressPolicy,
    limits: HttpLimits,
    sink: Option<RecordSink>,
}

impl fmt::Debug for HttpFsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFsBuilder")
            .field("policy", &self.policy)
            .field("limits", &self.limits)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

impl HttpFsBuilder {
    /// Sets the egress policy (the default refuses everything).
    #[must_use]
    pub fn policy(mut self, policy: EgressPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn limits(mut self, limits: HttpLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sends a [`CapRecord`] of every request and outcome to `sink`.
    #[must_use]
    pub fn record_sink(mut self, sink: RecordSink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Builds the service.
    pub fn build(self) -> HttpFs {
        HttpFs {
            inner: Arc::new(HttpInner {
                state: Mutex::new(HttpState {
                    next_id: 1,
                    ..HttpState::default()
                }),
                policy: Arc::new(self.policy),
                limits: self.limits,
                work: Signal::default(),
                done: Signal::default(),
                recorder: Recorder::new(self.sink),
            }),
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

    /// The egress policy.
    pub fn policy(&self) -> &Arc<EgressPolicy> {
        &self.inner.policy
    }

    /// The limits.
    pub fn limits(&self) -> &HttpLimits {
        &self.inner.limits
    }

    /// Sets (or clears) where records go.
    pub fn set_record_sink(&self, sink: Option<RecordSink>) {
        self.inner.recorder.set(sink);
    }

    /// Sends a record made by an executor (a retry, a redirect, a refusal
    /// when connecting) to the service's sink, if one is set.
    pub fn emit_record(&self, record: CapRecord) {
        self.inner.recorder.emit(record);
    }

    fn state(&self) -> MutexGuard<'_, HttpState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Parses one message written to `request` (see the crate docs for the
    /// format).
    pub fn parse_request(&self, message: &[u8]) -> Result<HttpRequest> {
        if message.len() > self.inner.limits.max_message {
            return Err(CapError::TooLarge {
                what: "message",
                limit: self.inner.limits.max_message as u64,
            });
        }
        let f = parse_object(message)?;
        f.check_known(REQUEST_FIELDS)?;
        let method = match f.opt_str("method")? {
            Some(m) => m.parse()?,
            None => HttpMethod::Get,
        };
        let url = f.req_str("url")?.to_owned();
        let headers = f.opt_string_map("headers")?.unwrap_or_default();
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
        let max = self.inner.limits.max_timeout;
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
            None => Ok(self.inner.limits.default_timeout.min(max)),
        }
    }

    /// Accepts a request: checks it, applies the policy and the bounds, and
    /// queues it for an executor. Returns its id. On any error nothing is
    /// queued.
    pub fn submit_request(&self, request: HttpRequest) -> Result<String> {
        let recorder = &self.inner.recorder;
        let timeout = match self.validate(&request) {
            Ok(t) => t,
            Err(e) => {
                self.state().invalid += 1;
                return Err(e);
            }
        };
        let url = match self.inner.policy.check_http(
            request.method,
            &request.url,
            request.body.len() as u64,
        ) {
            Ok(u) => u,
            Err(e) => {
                let refused = !matches!(e, CapError::Invalid(_));
                {
                    let mut st = self.state();
                    if refused {
                        st.refused += 1;
                    } else {
                        st.invalid += 1;
                    }
                }
                if refused && recorder.active() {
                    recorder.emit(
                        CapRecord::new(Capability::Http, "request", &request.url, Outcome::Refused)
                            .with_body(request.body.as_bytes())
                            .with_detail(e.to_string()),
                    );
                }
                return Err(e);
            }
        };
        let id = {
            let mut st = self.state();
            let cap = self.inner.limits.max_pending;
            if st.pending.len() >= cap {
                st.refused += 1;
                drop(st);
                let e = CapError::QueueFull {
                    what: "pending requests".into(),
                    capacity: cap,
                };
                if recorder.active() {
                    recorder.emit(
                        CapRecord::new(Capability::Http, "request", &request.url, Outcome::Refused)
                            .with_body(request.body.as_bytes())
                            .with_detail(e.to_string()),
                    );
                }
                return Err(e);
            }
            let id = format!("req-{}", st.next_id);
            st.next_id += 1;
            st.submitted += 1;
            st.queue.push_back(id.clone());
            let record = recorder.active().then(|| {
                CapRecord::new(Capability::Http, "request", &request.url, Outcome::Queued)
                    .with_id(&id)
                    .with_body(request.body.as_bytes())
                    .with_detail(request.method.as_str())
            });
            st.pending.insert(
                id.clone(),
                Entry {
                    request,
                    url,
                    timeout,
                    state: PendingState::Queued,
                    submitted_at: Timestamp::now(),
                    started: Instant::now(),
                },
            );
            drop(st);
            if let Some(r) = record {
                recorder.emit(r);
            }
            id
        };
        self.inner.work.notify();
        Ok(id)
    }

    /// Parses a message as written to `request` and submits it.
    pub fn submit_message(&self, message: &[u8]) -> Result<String> {
        match self.parse_request(message) {
            Ok(r) => self.submit_request(r),
            Err(e) => {
                self.state().invalid += 1;
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
        self.inner.work.listen()
    }

    /// A listener woken when a response or failure is delivered.
    pub fn response_listener(&self) -> EventListener {
        self.inner.done.listen()
    }

    fn pending_from(&self, id: &str, e: &mut Entry) -> PendingRequest {
        e.state = PendingState::InFlight;
        PendingRequest {
            id: id.to_owned(),
            request: e.request.clone(),
            url: e.url.clone(),
            policy: Arc::clone(&self.inner.policy),
            timeout: e.timeout,
            submitted_at: e.submitted_at,
        }
    }

    /// Takes one queued request for execution; it is then in flight until
    /// completed or failed.
    pub fn take_pending(&self, id: &str) -> Result<PendingRequest> {
        let mut st = self.state();
        let st = &mut *st;
        let Some(e) = st.pending.get_mut(id) else {
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
        st.queue.retain(|q| q != id);
        Ok(self.pending_from(id, e))
    }

    /// Takes up to `limit` queued requests, oldest first.
    pub fn take_pending_batch(&self, limit: usize) -> Vec<PendingRequest> {
        let mut st = self.state();
        let st = &mut *st;
        let mut out = Vec::new();
        while out.len() < limit {
            let Some(id) = st.queue.pop_front() else {
                break;
            };
            if let Some(e) = st.pending.get_mut(&id) {
                out.push(self.pending_from(&id, e));
            }
        }
        out
    }

    /// The ids of the requests queued, oldest first.
    pub fn queued_ids(&self) -> Vec<String> {
        self.state().queue.iter().cloned().collect()
    }

    fn finish(&self, id: &str, outcome: HttpOutcome, record: CapRecord) {
        let mut st = self.state();
        st.pending.remove(id);
        st.queue.retain(|q| q != id);
        match &outcome {
            HttpOutcome::Response(_) => st.completed += 1,
            HttpOutcome::Failure(_) => st.failed += 1,
        }
        st.responses.insert(id.to_owned(), outcome);
        st.order.push_back(id.to_owned());
        while st.responses.len() > self.inner.limits.max_responses.max(1) {
            let Some(old) = st.order.pop_front() else {
                break;
            };
            if st.responses.remove(&old).is_some() {
                st.evicted += 1;
            }
        }
        drop(st);
        self.inner.done.notify();
        self.inner.recorder.emit(record);
    }

    fn target_of(&self, id: &str) -> Result<String> {
        match self.state().pending.get(id) {
            Some(e) => Ok(e.request.url.clone()),
            None => Err(CapError::UnknownId {
                kind: "request",
                id: id.to_owned(),
            }),
        }
    }

    /// Delivers the response to a pending request. A body larger than the
    /// policy's `max_response_body` is refused with `TooLarge` and changes
    /// nothing (the executor then fails the request).
    pub fn complete_request(&self, response: HttpResponse) -> Result<()> {
        let target = self.target_of(&response.request_id)?;
        let limit = self.inner.policy.max_response_body;
        if response.body.len() as u64 > limit {
            return Err(CapError::TooLarge {
                what: "response body",
                limit,
            });
        }
        let record = CapRecord::new(Capability::Http, "response", target, Outcome::Ok)
            .with_id(&response.request_id)
            .with_body(response.body.as_bytes())
            .with_detail(format!("status {}", response.status));
        let id = response.request_id.clone();
        self.finish(&id, HttpOutcome::Response(response), record);
        Ok(())
    }

    /// Records that a pending request failed, and why.
    pub fn fail_request(
        &self,
        id: &str,
        kind: FailureKind,
        message: impl Into<String>,
    ) -> Result<()> {
        let (target, started) = match self.state().pending.get(id) {
            Some(e) => (e.request.url.clone(), e.started),
            None => {
                return Err(CapError::UnknownId {
                    kind: "request",
                    id: id.to_owned(),
                });
            }
        };
        let failure = HttpFailure {
            request_id: id.to_owned(),
            kind,
            message: message.into(),
            duration: started.elapsed(),
            failed_at: Timestamp::now(),
        };
        let record = CapRecord::new(Capability::Http, "response", target, Outcome::Failed)
            .with_id(id)
            .with_detail(format!("{}: {}", kind.as_str(), failure.message));
        self.finish(id, HttpOutcome::Failure(failure), record);
        Ok(())
    }

    /// The outcome of a request, if it has arrived (and was not removed or evicted).
    pub fn get_response(&self, id: &str) -> Option<HttpOutcome> {
        self.state().responses.get(id).cloned()
    }

    /// Removes and returns the outcome of a request.
    pub fn remove_response(&self, id: &str) -> Option<HttpOutcome> {
        let mut st = self.state();
        let out = st.responses.remove(id);
        if out.is_some() {
            st.order.retain(|o| o != id);
        }
        out
    }

    /// Waits up to `timeout` (bounded by the thread's deadline) for the
    /// outcome of a request.
    pub fn wait_response(&self, id: &str, timeout: Duration) -> Result<HttpOutcome> {
        self.wait_outcome(id, false, timeout)
    }

    fn wait_outcome(&self, id: &str, nonblocking: bool, timeout: Duration) -> Result<HttpOutcome> {
        let r = self.inner.done.wait_for(nonblocking, timeout, || {
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
        let in_flight = st
            .pending
            .values()
            .filter(|e| e.state == PendingState::InFlight)
            .count();
        HttpStatus {
            queued: st.queue.len(),
            in_flight,
            responses: st.responses.len(),
            submitted: st.submitted,
            completed: st.completed,
            failed: st.failed,
            refused: st.refused,
            invalid: st.invalid,
            evicted: st.evicted,
            waiting_readers: self.inner.done.waiting(),
            max_pending: self.inner.limits.max_pending,
        }
    }

    fn status_json(&self) -> Value {
        let p = &self.inner.policy;
        let l = &self.inner.limits;
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
                "schemes": p.schemes,
                "hosts": p.hosts,
                "deny_hosts": p.deny_hosts,
                "ports": p.ports,
                "methods": p.methods,
                "max_request_body": p.max_request_body,
                "max_response_body": p.max_response_body,
            },
        })
    }

    fn pending_json(id: &str, e: &Entry) -> Value {
        let headers: BTreeMap<&str, &str> = e
            .request
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
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

/// `"/responses/req-3.json"` → `Some("req-3")` for `dir = "/responses"`.
pub(crate) fn id_in<'a>(path: &'a str, dir: &str, ext: &str) -> Option<&'a str> {
    let name = path.strip_prefix(dir)?.strip_prefix('/')?;
    let id = name.strip_suffix(ext)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

impl CapTree for HttpFs {
    fn node(&self, path: &str) -> Option<Node> {
        match path {
            "/" | "/pending" | "/responses" => Some(Node::Dir),
            "/request" => Some(Node::File {
                writable: true,
                size: 0,
            }),
            "/status" => Some(Node::File {
                writable: false,
                size: 0,
            }),
            _ => {
                let st = self.state();
                let exists = if let Some(id) = id_in(path, "/pending", ".json") {
                    st.pending.contains_key(id)
                } else if let Some(id) = id_in(path, "/responses", ".json") {
                    st.responses.contains_key(id) || st.pending.contains_key(id)
                } else {
                    false
                };
                exists.then_some(Node::File {
                    writable: false,
                    size: 0,
                })
            }
        }
    }

    fn entries(&self, path: &str) -> Vec<DirEntry> {
        let file = Node::File {
            writable: false,
            size: 0,
        };
        match path {
            "/" => vec![
                tree::entry("/", "pending", Node::Dir),
                tree::entry(
                    "/",
                    "request",
                    Node::File {
                        writable: true,
                        size: 0,
                    },
                ),
                tree::entry("/", "responses", Node::Dir),
                tree::entry("/", "status", file),
            ],
            "/pending" => self
                .state()
                .pending
                .keys()
                .map(|id| tree::entry(path, &format!("{id}.json"), file))
                .collect(),
            "/responses" => self
                .state()
                .responses
                .keys()
                .map(|id| tree::entry(path, &format!("{id}.json"), file))
                .collect(),
            _ => Vec::new(),
        }
    }

    fn open_file(&self, path: &str, flags: OpenFlags) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        match path {
            "/request" => {
                let svc = self.clone();
                let p = path.to_owned();
                Ok(MessageHandle::boxed(
                    path,
                    flags,
                    Box::new(move |msg| {
                        svc.submit_message(msg)
                            .map(Some)
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ))
            }
            "/status" => Ok(ContentHandle::ready(path, json_bytes(&self.status_json()))),
            _ => {
                if let Some(id) = id_in(path, "/pending", ".json") {
                    let st = self.state();
                    let e = st.pending.get(id).ok_or_else(|| FsError::not_found(path))?;
                    return Ok(ContentHandle::ready(
                        path,
                        json_bytes(&Self::pending_json(id, e)),
                    ));
                }
                if let Some(id) = id_in(path, "/responses", ".json") {
                    let svc = self.clone();
                    let id = id.to_owned();
                    let p = path.to_owned();
                    let nonblocking = flags.nonblocking;
                    let wait = self.inner.limits.wait;
                    return Ok(ContentHandle::lazy(
                        path,
                        Box::new(move || {
                            svc.wait_outcome(&id, nonblocking, wait)
                                .map(|o| json_bytes(&o.to_json()))
                                .map_err(|e| e.into_fs_error(&p))
                        }),
                    ));
                }
                Err(FsError::not_found(path))
            }
        }
    }

    fn remove_file(&self, path: &str) -> oanix_vfs::Result<()> {
        if let Some(id) = id_in(path, "/responses", ".json") {
            if self.remove_response(id).is_some() {
                return Ok(());
            }
            if self.state().pending.contains_key(id) {
                return Err(FsError::permission_denied(
                    path,
                    "the response has not arrived yet",
                ));
            }
            return Err(FsError::not_found(path));
        }
        Err(tree::fixed(path))
    }
}

tree::cap_file_service!(HttpFs, "httpfs");

#[cfg(test)]
mod tests;
