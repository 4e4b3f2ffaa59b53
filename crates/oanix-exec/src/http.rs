//! `HttpExecutor`: carries out HttpFs requests with hyper, behind the SSRF
//! guard, with timeouts, safe retries, hand-followed redirects and a capped
//! response body.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use oanix_caps::{
    Body, CapRecord, Capability, FailureKind, HttpFs, HttpMethod, HttpReply, Outcome,
    PendingRequest, RecordAction,
};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use url::Url;

use crate::config::{ExecutorConfig, RetryPolicy};
use crate::error::Result;
use crate::executor::{BoxFuture, Executor, ExecutorContext};
use crate::guard::{self, GuardedConnector};

type HyperClient = Client<HttpsConnector<GuardedConnector>, Full<Bytes>>;

/// Headers an agent's request loses when a redirect leaves its origin.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// The user agent sent when a request names none.
const USER_AGENT: &str = concat!("oanix-exec/", env!("CARGO_PKG_VERSION"));

/// Carries out the requests of one [`HttpFs`].
///
/// Woken by the service's `work_listener`, it takes queued requests (as many
/// as [`ExecutorConfig::http_max_concurrent`] allows in flight) and runs each
/// on its own task:
///
/// - **Connections** go through the SSRF guard: the host name is resolved
///   once, every address is checked with [`EgressPolicy::check_ip`](oanix_caps::EgressPolicy::check_ip), and the
///   TCP connection goes only to an address that passed. Connections are
///   pooled and reused per origin; HTTPS uses rustls (ring, Mozilla roots
///   plus [`ExecutorConfig::tls_root_certificates`]) and offers HTTP/2.
///   Proxy environment variables are ignored.
/// - **Timeouts**: each attempt (connect, send, whole body) is bounded by
///   [`ExecutorConfig::http_timeout`]; everything together by the request's
///   own timeout (from the service).
/// - **Retries** follow [`ExecutorConfig::http_retry`], only where safe: a
///   failure to connect (nothing was sent) for any method; a timeout, a
///   broken connection or a 502/503/504/429 answer only for idempotent
///   methods (GET, HEAD, PUT, DELETE, OPTIONS). A policy refusal is never
///   retried.
/// - **Redirects** (301, 302, 303, 307, 308) are followed by hand, at most
///   [`ExecutorConfig::http_max_redirects`] hops, with the policy checked
///   again for every new URL (and the guard for every new connection).
///   303, and 301/302 after a POST, become a GET without body. Credentials
///   the agent set (`authorization`, `cookie`) are dropped when a redirect
///   changes origin; injected headers follow the policy for each host.
/// - **The response body** is limited to the policy's `max_response_body`:
///   a larger declared length fails at once, a larger stream as soon as it
///   passes the limit (`too_large`).
///
/// Every outcome reaches the service (`complete_request` or `fail_request`
/// with a [`FailureKind`]); retries and redirects are recorded as
/// [`CapRecord`]s through the service's sink.
pub struct HttpExecutor {
    http: HttpFs,
    inner: Arc<Inner>,
}

struct Inner {
    client: HyperClient,
    /// The service, whose policy is read at each use (it may change).
    http: HttpFs,
    attempt_timeout: Duration,
    retry: RetryPolicy,
    max_redirects: usize,
    max_concurrent: usize,
}

impl fmt::Debug for HttpExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpExecutor")
            .field("attempt_timeout", &self.inner.attempt_timeout)
            .field("retry", &self.inner.retry)
            .field("max_redirects", &self.inner.max_redirects)
            .field("max_concurrent", &self.inner.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl HttpExecutor {
    /// An executor for `http` with `config`.
    pub fn new(http: HttpFs, config: &ExecutorConfig) -> Result<Self> {
        let source = http.clone();
        // hyper-rustls sets the ALPN protocols itself (h2, http/1.1).
        let tls = guard::tls_config(config, &[])?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*tls).clone())
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(GuardedConnector::new(
                Arc::new(move || source.policy()),
                config.connect_timeout,
            ));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(config.http_pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Self {
            http: http.clone(),
            inner: Arc::new(Inner {
                client,
                http: http.clone(),
                attempt_timeout: config.http_timeout,
                retry: config.http_retry,
                max_redirects: config.http_max_redirects,
                max_concurrent: config.http_max_concurrent.max(1),
            }),
        })
    }

    async fn serve(self, ctx: ExecutorContext) -> Result<()> {
        let sem = Arc::new(Semaphore::new(self.inner.max_concurrent));
        let in_flight: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut tasks = JoinSet::new();
        let shutdown = ctx.shutdown();
        loop {
            while tasks.try_join_next().is_some() {}
            let first = tokio::select! {
                biased;
                _ = shutdown.triggered() => break,
                p = Arc::clone(&sem).acquire_owned() => match p {
                    Ok(p) => p,
                    Err(_) => break,
                },
            };
            let listener = self.http.work_listener();
            let batch = self.http.take_pending_batch(1 + sem.available_permits());
            if batch.is_empty() {
                drop(first);
                tokio::select! {
                    biased;
                    _ = shutdown.triggered() => break,
                    _ = listener => {}
                    _ = ctx.fallback_tick() => {}
                }
                continue;
            }
            let mut first = Some(first);
            for p in batch {
                let permit = match first.take() {
                    Some(p) => Some(p),
                    None => Arc::clone(&sem).try_acquire_owned().ok(),
                };
                lock(&in_flight).insert(p.id.clone());
                let http = self.http.clone();
                let inner = Arc::clone(&self.inner);
                let in_flight = Arc::clone(&in_flight);
                tasks.spawn(async move {
                    let id = p.id.clone();
                    inner.execute(&http, p).await;
                    lock(&in_flight).remove(&id);
                    drop(permit);
                });
            }
        }
        // Shutdown: no new work; in-flight requests get the grace period.
        let grace = ctx.grace();
        let _ =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
        let cut: Vec<String> = lock(&in_flight).drain().collect();
        for id in cut {
            let _ = self.http.fail_request(
                &id,
                FailureKind::Cancelled,
                format!(
                    "the executor shut down before the response arrived (grace {} ms)",
                    grace.as_millis()
                ),
            );
        }
        for id in self.http.queued_ids() {
            if self.http.take_pending(&id).is_ok() {
                let _ = self.http.fail_request(
                    &id,
                    FailureKind::Cancelled,
                    "not sent: the executor shut down",
                );
            }
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Executor for HttpExecutor {
    fn name(&self) -> &str {
        "http"
    }

    fn run(self: Box<Self>, ctx: ExecutorContext) -> BoxFuture<'static, Result<()>> {
        Box::pin(self.serve(ctx))
    }
}

/// Why an exchange failed.
#[derive(Debug)]
struct Failure {
    kind: FailureKind,
    message: String,
}

impl Failure {
    fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// One answer from the server, body read.
struct Answer {
    status: StatusCode,
    headers: hyper::HeaderMap,
    body: Bytes,
}

/// The outcome of one attempt, and whether retrying it is safe.
enum Attempt {
    Answer(Answer),
    Failed { failure: Failure, retry_safe: bool },
}

fn idempotent(method: HttpMethod) -> bool {
    matches!(
        method,
        HttpMethod::Get
            | HttpMethod::Head
            | HttpMethod::Put
            | HttpMethod::Delete
            | HttpMethod::Options
    )
}

fn hyper_method(method: HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        // `HttpMethod` is non-exhaustive; a method added there is sent by name.
        other => Method::from_bytes(other.as_str().as_bytes()).unwrap_or(Method::GET),
    }
}

/// Whole milliseconds, rounded up (a 100 ms window shows as 100, not 99).
fn ms(d: Duration) -> u128 {
    d.as_micros().div_ceil(1000)
}

impl Inner {
    /// Runs one request to its end and delivers the outcome.
    async fn execute(&self, http: &HttpFs, p: PendingRequest) {
        let started = Instant::now();
        let deadline = started + p.timeout;
        let result = tokio::time::timeout_at(deadline, self.exchange(http, &p, deadline)).await;
        let outcome = match result {
            Ok(Ok(answer)) => {
                let mut headers = BTreeMap::new();
                for (name, value) in &answer.headers {
                    let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
                    headers
                        .entry(name.as_str().to_owned())
                        .and_modify(|old: &mut String| {
                            old.push_str(", ");
                            old.push_str(&v);
                        })
                        .or_insert(v);
                }
                let response = HttpReply::new(&p.id, answer.status.as_u16())
                    .with_status_text(answer.status.canonical_reason().unwrap_or(""))
                    .with_headers(headers)
                    .with_body(Body::from_bytes(answer.body.to_vec()))
                    .with_duration(started.elapsed());
                match http.complete_request(response) {
                    Err(e @ oanix_caps::CapError::TooLarge { .. }) => {
                        Failure::new(FailureKind::TooLarge, e.to_string())
                    }
                    // Delivered, or the request is gone (failed at shutdown).
                    _ => return,
                }
            }
            Ok(Err(f)) => f,
            Err(_) => Failure::new(
                FailureKind::Timeout,
                format!(
                    "no complete response within the request's timeout of {} ms",
                    ms(p.timeout)
                ),
            ),
        };
        let _ = http.fail_request(&p.id, outcome.kind, outcome.message);
    }

    /// Follows redirects and retries until an answer that is not a
    /// redirect, or a failure.
    async fn exchange(
        &self,
        http: &HttpFs,
        p: &PendingRequest,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        // An agent's request passed the policy when it was written; a
        // host's did not (host code is trusted to queue, not to reach what
        // the policy refuses): every request is checked before the first
        // connection.
        let mut url = self
            .http
            .policy()
            .check_http(
                p.request.method,
                p.url.as_str(),
                p.request.body.len() as u64,
            )
            .map_err(|e| {
                let kind = match e {
                    oanix_caps::CapError::TooLarge { .. } => FailureKind::TooLarge,
                    oanix_caps::CapError::Invalid(_) => FailureKind::Invalid,
                    _ => FailureKind::Refused,
                };
                Failure::new(kind, e.to_string())
            })?;
        let mut method = p.request.method;
        let mut body = Bytes::copy_from_slice(p.request.body.as_bytes());
        let mut agent_headers: Vec<(String, String)> = p
            .request
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let origin = origin_of(&url);
        let mut hops = 0;
        loop {
            let answer = self
                .with_retries(http, p, &url, method, &agent_headers, &body, deadline)
                .await?;
            let status = answer.status.as_u16();
            if !matches!(status, 301 | 302 | 303 | 307 | 308) || p.request.keep_redirects {
                return Ok(answer);
            }
            let Some(raw_location) = answer.headers.get(hyper::header::LOCATION) else {
                return Ok(answer);
            };
            // Servers send non-ASCII locations (UTF-8, full-width digits...);
            // they are followed — and checked — like any other, never handed
            // to the agent as a bare redirect.
            let Ok(location) = std::str::from_utf8(raw_location.as_bytes()) else {
                let shown = String::from_utf8_lossy(raw_location.as_bytes()).into_owned();
                http.emit_record(
                    CapRecord::new(
                        Capability::Http,
                        RecordAction::Redirect,
                        &shown,
                        Outcome::Refused,
                    )
                    .with_id(&p.id)
                    .with_detail("the location is not UTF-8"),
                );
                return Err(Failure::new(
                    FailureKind::Refused,
                    format!("redirect to `{shown}` refused: the location is not UTF-8"),
                ));
            };
            hops += 1;
            if hops > self.max_redirects {
                return Err(Failure::new(
                    FailureKind::Protocol,
                    format!(
                        "too many redirects (more than {}), the last to `{location}`",
                        self.max_redirects
                    ),
                ));
            }
            let next = url.join(location).map_err(|e| {
                Failure::new(
                    FailureKind::Protocol,
                    format!("redirect to an invalid location `{location}` ({e})"),
                )
            })?;
            if status == 303 || (matches!(status, 301 | 302) && method == HttpMethod::Post) {
                method = HttpMethod::Get;
                body = Bytes::new();
            }
            if let Err(e) = self
                .http
                .policy()
                .check_http(method, next.as_str(), body.len() as u64)
            {
                http.emit_record(
                    CapRecord::new(
                        Capability::Http,
                        RecordAction::Redirect,
                        next.as_str(),
                        Outcome::Refused,
                    )
                    .with_id(&p.id)
                    .with_detail(e.to_string()),
                );
                return Err(Failure::new(
                    FailureKind::Refused,
                    format!("redirect to `{next}` refused: {e}"),
                ));
            }
            http.emit_record(
                CapRecord::new(
                    Capability::Http,
                    RecordAction::Redirect,
                    next.as_str(),
                    Outcome::Ok,
                )
                .with_id(&p.id)
                .with_detail(format!("{status} from {url}")),
            );
            if origin_of(&next) != origin {
                agent_headers.retain(|(n, _)| {
                    !CREDENTIAL_HEADERS.contains(&n.to_ascii_lowercase().as_str())
                });
            }
            url = next;
        }
    }

    /// One hop: attempts with retries where safe.
    #[allow(clippy::too_many_arguments, reason = "one hop's whole state")]
    async fn with_retries(
        &self,
        http: &HttpFs,
        p: &PendingRequest,
        url: &Url,
        method: HttpMethod,
        agent_headers: &[(String, String)],
        body: &Bytes,
        deadline: Instant,
    ) -> Result<Answer, Failure> {
        let mut retry = 0;
        loop {
            let attempt = self
                .attempt(url, method, agent_headers, body.clone(), deadline)
                .await;
            let (reason, retry_after) = match attempt {
                Attempt::Answer(a) => {
                    let transient = matches!(a.status.as_u16(), 429 | 502 | 503 | 504);
                    if !(transient && idempotent(method)) {
                        return Ok(a);
                    }
                    let after = retry_after(&a.headers);
                    if self.retry.delay(retry).is_none() {
                        return Ok(a);
                    }
                    (format!("status {}", a.status.as_u16()), after)
                }
                Attempt::Failed {
                    failure,
                    retry_safe,
                } => {
                    if !retry_safe || self.retry.delay(retry).is_none() {
                        return Err(failure);
                    }
                    (failure.message, None)
                }
            };
            let Some(delay) = self.retry.delay(retry) else {
                continue;
            };
            let delay = retry_after.map_or(delay, |a| a.max(delay));
            if Instant::now() + delay >= deadline {
                return Err(Failure::new(
                    FailureKind::Timeout,
                    format!(
                        "{reason}; no time left for retry {} within the request's timeout",
                        retry + 1
                    ),
                ));
            }
            http.emit_record(
                CapRecord::new(
                    Capability::Http,
                    RecordAction::Retry,
                    url.as_str(),
                    Outcome::Queued,
                )
                .with_id(&p.id)
                .with_detail(format!(
                    "retry {} in {} ms after: {reason}",
                    retry + 1,
                    ms(delay)
                )),
            );
            tokio::time::sleep(delay).await;
            retry += 1;
        }
    }

    /// One request on the wire and its whole body, within one attempt's time.
    async fn attempt(
        &self,
        url: &Url,
        method: HttpMethod,
        agent_headers: &[(String, String)],
        body: Bytes,
        deadline: Instant,
    ) -> Attempt {
        let now = Instant::now();
        let limit = (now + self.attempt_timeout).min(deadline);
        let window = limit.saturating_duration_since(now);
        let request = match self.build_request(url, method, agent_headers, body) {
            Ok(r) => r,
            Err(failure) => {
                return Attempt::Failed {
                    failure,
                    retry_safe: false,
                };
            }
        };
        let max = self.http.policy().max_response_body();
        let fut = async {
            let response = match self.client.request(request).await {
                Ok(r) => r,
                Err(e) => return classify_send_error(&e, method),
            };
            let (parts, mut incoming) = response.into_parts();
            if let Some(len) = parts
                .headers
                .get(hyper::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                && len > max
            {
                return Attempt::Failed {
                    failure: Failure::new(
                        FailureKind::TooLarge,
                        format!(
                            "the response body ({len} bytes) is larger than the policy allows ({max} bytes)"
                        ),
                    ),
                    retry_safe: false,
                };
            }
            let mut collected = bytes::BytesMut::new();
            while let Some(frame) = incoming.frame().await {
                match frame {
                    Ok(frame) => {
                        if let Ok(data) = frame.into_data() {
                            if collected.len() as u64 + data.len() as u64 > max {
                                return Attempt::Failed {
                                    failure: Failure::new(
                                        FailureKind::TooLarge,
                                        format!(
                                            "the response body is larger than the policy allows ({max} bytes)"
                                        ),
                                    ),
                                    retry_safe: false,
                                };
                            }
                            collected.extend_from_slice(&data);
                        }
                    }
                    Err(e) => {
                        return Attempt::Failed {
                            failure: Failure::new(
                                FailureKind::Protocol,
                                format!(
                                    "the response body broke off after {} bytes: {}",
                                    collected.len(),
                                    guard::error_chain(&e)
                                ),
                            ),
                            retry_safe: idempotent(method),
                        };
                    }
                }
            }
            Attempt::Answer(Answer {
                status: parts.status,
                headers: parts.headers,
                body: collected.freeze(),
            })
        };
        match tokio::time::timeout_at(limit, fut).await {
            Ok(a) => a,
            Err(_) => Attempt::Failed {
                failure: Failure::new(
                    FailureKind::Timeout,
                    format!(
                        "no complete response from {} within {} ms",
                        url.host_str().unwrap_or(""),
                        ms(window)
                    ),
                ),
                retry_safe: idempotent(method),
            },
        }
    }

    fn build_request(
        &self,
        url: &Url,
        method: HttpMethod,
        agent_headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Request<Full<Bytes>>, Failure> {
        let policy = self.http.policy();
        let injected = if policy.injections().is_empty() {
            Vec::new()
        } else {
            policy.injected_headers(url.host_str().unwrap_or_default())
        };
        let mut builder = Request::builder()
            .method(hyper_method(method))
            .uri(url.as_str());
        let mut has_agent = false;
        for (name, value) in agent_headers {
            if injected.iter().any(|(i, _)| i.eq_ignore_ascii_case(name)) {
                continue;
            }
            has_agent |= name.eq_ignore_ascii_case("user-agent");
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Failure::new(FailureKind::Other, format!("bad header name `{name}`"))
            })?;
            let v = HeaderValue::from_str(value).map_err(|_| {
                Failure::new(FailureKind::Other, format!("bad value for header `{name}`"))
            })?;
            builder = builder.header(n, v);
        }
        for (name, value) in injected {
            has_agent |= name == "user-agent";
            let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Failure::new(FailureKind::Other, format!("bad injected header `{name}`"))
            })?;
            // The value is a secret: the message names the header only.
            let v = HeaderValue::from_str(&value).map_err(|_| {
                Failure::new(
                    FailureKind::Other,
                    format!("bad value for injected header `{name}`"),
                )
            })?;
            builder = builder.header(n, v);
        }
        if !has_agent {
            builder = builder.header(hyper::header::USER_AGENT, USER_AGENT);
        }
        builder
            .body(Full::new(body))
            .map_err(|e| Failure::new(FailureKind::Other, format!("bad request: {e}")))
    }
}

/// `scheme://host:port`, for telling when a redirect changes origin.
fn origin_of(url: &Url) -> (String, Option<String>, Option<u16>) {
    (
        url.scheme().to_owned(),
        url.host_str().map(str::to_owned),
        url.port_or_known_default(),
    )
}

/// A `Retry-After` given in seconds, at most a minute.
fn retry_after(headers: &hyper::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(hyper::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(60)))
}

fn classify_send_error(e: &hyper_util::client::legacy::Error, method: HttpMethod) -> Attempt {
    if let Some(cf) = guard::find_connect_failure(e) {
        let retry_safe = !matches!(cf, guard::ConnectFailure::Refused(_));
        return Attempt::Failed {
            failure: Failure::new(cf.kind(), cf.to_string()),
            retry_safe,
        };
    }
    let chain = guard::error_chain(e);
    if e.is_connect() {
        // Connected, but TLS failed: a retry would fail the same way.
        return Attempt::Failed {
            failure: Failure::new(FailureKind::Protocol, chain),
            retry_safe: false,
        };
    }
    let reset = guard::has_io_kind(e, std::io::ErrorKind::ConnectionReset)
        || guard::has_io_kind(e, std::io::ErrorKind::BrokenPipe)
        || guard::has_io_kind(e, std::io::ErrorKind::UnexpectedEof);
    let kind = if reset {
        FailureKind::Connect
    } else {
        FailureKind::Protocol
    };
    Attempt::Failed {
        failure: Failure::new(kind, chain),
        retry_safe: idempotent(method),
    }
}
