//! The proxy's server: connections accepted within a bound, plain HTTP
//! requests handed to the environment's `HttpFs`, `CONNECT` tunnels checked
//! and carried.

use std::convert::Infallible;
use std::net::TcpListener;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use oanix_caps::{
    Body, CapError, CapRecord, Capability, FailureKind, HttpFs, HttpMethod, HttpOutcome,
    HttpRequest, Outcome, RecordAction,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::ca::CertAuthority;
use crate::error::{ProxyError, Result};
use crate::secrets::{Secret, Secrets};
use crate::sni::{self, Hello};

/// Bounds and timeouts of a proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Client connections served at once; more are closed as they come
    /// (and recorded). Default 128.
    pub max_connections: usize,
    /// How long a forwarded request may take, executor included. Default 120 s.
    pub request_timeout: Duration,
    /// How long a tunnel's upstream connection may take to open, and a
    /// client to send its ClientHello. Default 10 s.
    pub connect_timeout: Duration,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        Self {
            max_connections: 128,
            request_timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// An egress proxy over an environment's HTTP capability: its policy, its
/// guard, its executor and its records apply to everything that passes.
#[derive(Debug, Clone)]
pub struct Proxy {
    http: HttpFs,
    config: ProxyConfig,
    secrets: Secrets,
    ca: Option<Arc<CertAuthority>>,
}

/// A proxy serving a listener; dropping it (or [`shutdown`](Self::shutdown))
/// stops accepting and closes every connection it serves.
#[derive(Debug)]
pub struct ProxyHandle {
    stop: watch::Sender<bool>,
    addr: std::net::SocketAddr,
}

impl ProxyHandle {
    /// The address the proxy listens on.
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// Stops the proxy: no new connections, open ones closed.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for ProxyHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl Proxy {
    /// A proxy for `http`'s policy and executor, with the default bounds.
    ///
    /// Plain requests are carried out by the executor attached to `http`
    /// (an environment's, when built with executors); without one they wait
    /// until the request timeout and fail.
    pub fn new(http: HttpFs) -> Self {
        Self {
            http,
            config: ProxyConfig::default(),
            secrets: Secrets::default(),
            ca: None,
        }
    }

    /// Adds secrets: each placeholder is replaced by the value in requests
    /// to the secret's hosts, and refused (and recorded) anywhere else. HTTPS
    /// to a host a secret is bound to is read by the proxy, which presents
    /// the agent a certificate of an authority made here for it
    /// ([`ca_pem`](Self::ca_pem), to be trusted in the sandbox); upstream TLS
    /// is verified by the executor as usual. Other hosts stay tunnelled.
    pub fn with_secrets(mut self, secrets: impl IntoIterator<Item = Secret>) -> Result<Self> {
        self.secrets.0.extend(secrets);
        if !self.secrets.0.is_empty() && self.ca.is_none() {
            self.ca = Some(Arc::new(CertAuthority::new("OANIX environment proxy")?));
        }
        Ok(self)
    }

    /// The certificate (PEM) the agent must trust for the hosts whose TLS
    /// the proxy reads; `None` without secrets.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca.as_deref().map(CertAuthority::pem)
    }

    /// Sets the bounds.
    #[must_use]
    pub fn with_config(mut self, config: ProxyConfig) -> Self {
        self.config = config;
        self
    }

    /// Serves `listener` until the handle is dropped, on the process's
    /// shared runtime ([`oanix_exec::shared_runtime`]), the one an
    /// environment's executors run on.
    pub fn serve(&self, listener: TcpListener) -> Result<ProxyHandle> {
        let handle = oanix_exec::shared_runtime().map_err(ProxyError::Runtime)?;
        self.serve_on(listener, handle)
    }

    /// Serves `listener` until the handle is dropped, on the runtime of
    /// `handle` (time and I/O enabled). Serving on the runtime the
    /// `HttpFs`'s executor runs on saves each plain or read request two
    /// wake-ups of another runtime's threads on its way to the executor and
    /// back.
    pub fn serve_on(
        &self,
        listener: TcpListener,
        handle: tokio::runtime::Handle,
    ) -> Result<ProxyHandle> {
        let addr = listener.local_addr().map_err(ProxyError::Listener)?;
        listener
            .set_nonblocking(true)
            .map_err(ProxyError::Listener)?;
        let listener = {
            let _guard = handle.enter();
            tokio::net::TcpListener::from_std(listener).map_err(ProxyError::Listener)?
        };
        let (stop, stopped) = watch::channel(false);
        let state = Arc::new(State {
            http: self.http.clone(),
            config: self.config.clone(),
            secrets: self.secrets.clone(),
            ca: self.ca.clone(),
        });
        handle.spawn(accept_loop(state, listener, stopped));
        Ok(ProxyHandle { stop, addr })
    }
}

struct State {
    http: HttpFs,
    config: ProxyConfig,
    secrets: Secrets,
    ca: Option<Arc<CertAuthority>>,
}

impl State {
    fn record(&self, action: RecordAction, target: &str, outcome: Outcome, detail: &str) {
        let mut record = CapRecord::new(Capability::Http, action, target, outcome);
        if !detail.is_empty() {
            record.detail = Some(detail.to_owned());
        }
        self.http.emit_record(record);
    }
}

async fn accept_loop(
    state: Arc<State>,
    listener: tokio::net::TcpListener,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(state.config.max_connections.max(1)));
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => accepted,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let Ok((stream, peer)) = accepted else {
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            state.record(
                RecordAction::Request,
                &peer.to_string(),
                Outcome::Refused,
                "the proxy's connection limit is reached",
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(handle(state, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            drop(slot);
        });
    }
    connections.abort_all();
}

type Reply = Response<Full<Bytes>>;

/// A response of the proxy itself: a status and one line the client shows.
fn answer(status: StatusCode, message: &str) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(format!("oanix proxy: {message}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn handle(state: Arc<State>, req: Request<Incoming>) -> Reply {
    if req.method() == Method::CONNECT {
        tunnel(state, req).await
    } else {
        forward(state, req).await
    }
}

/// Headers that belong to one hop and are never passed on.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

async fn forward(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let uri = req.uri().clone();
    let (Some(_), Some(authority)) = (uri.scheme(), uri.authority()) else {
        return answer(
            StatusCode::BAD_REQUEST,
            "expected an absolute URL (this is a proxy: set HTTP_PROXY)",
        );
    };
    let host = canonical_host(authority.host());
    send(&state, req, uri.to_string(), &host).await
}

/// Carries out one request to `url` (on `host`) through the HttpFs, with
/// the secrets in place; answers what came back.
async fn send(state: &State, req: Request<Incoming>, url: String, host: &str) -> Reply {
    let Ok(method) = HttpMethod::from_str(req.method().as_str()) else {
        return answer(
            StatusCode::METHOD_NOT_ALLOWED,
            &format!("method {} is not supported", req.method()),
        );
    };
    let mut headers = std::collections::HashMap::<String, String>::new();
    for (name, value) in req.headers() {
        let name = name.as_str();
        if HOP_BY_HOP.contains(&name) {
            continue;
        }
        let Ok(value) = value.to_str() else { continue };
        headers
            .entry(name.to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(value);
            })
            .or_insert_with(|| value.to_owned());
    }
    if let Err(name) = state.secrets.apply(host, &url, &mut headers) {
        let why = format!("the placeholder of secret {name} may not be sent to {host}");
        state.record(RecordAction::Request, host, Outcome::Refused, &why);
        return answer(StatusCode::FORBIDDEN, &format!("refused: {why}"));
    }
    let limit = usize::try_from(state.http.policy().max_request_body()).unwrap_or(usize::MAX);
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return answer(
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the request body is larger than the policy allows ({limit} bytes)"),
            );
        }
    };
    let shown = url.clone();
    let request = HttpRequest {
        method,
        url,
        headers,
        body: Body::from_bytes(body.to_vec()),
        timeout: None,
        // The client follows a redirect itself, through the proxy again.
        keep_redirects: true,
    };
    let id = match state.http.try_submit(request) {
        Ok(id) => id,
        Err(e) => {
            return answer(
                StatusCode::FORBIDDEN,
                &format!("refused by the egress policy: {e}"),
            );
        }
    };
    let waited = wait_outcome(&state.http, &id, state.config.request_timeout).await;
    match waited {
        Ok(HttpOutcome::Response(reply)) => {
            let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::BAD_GATEWAY);
            let mut r = Response::new(Full::new(Bytes::from(reply.body.into_bytes())));
            *r.status_mut() = status;
            for (name, value) in &reply.headers {
                if HOP_BY_HOP.contains(&name.to_ascii_lowercase().as_str()) {
                    continue;
                }
                if let (Ok(n), Ok(v)) = (
                    hyper::header::HeaderName::from_bytes(name.as_bytes()),
                    hyper::header::HeaderValue::from_str(value),
                ) {
                    r.headers_mut().append(n, v);
                }
            }
            r
        }
        Ok(HttpOutcome::Failure(f)) => {
            let status = match f.kind {
                FailureKind::Refused => StatusCode::FORBIDDEN,
                FailureKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            };
            answer(
                status,
                &format!("{shown}: {}", redact(&f.message, &state.secrets)),
            )
        }
        Ok(_) => answer(StatusCode::BAD_GATEWAY, &format!("{shown}: no response")),
        Err(e) => answer(StatusCode::GATEWAY_TIMEOUT, &format!("{shown}: {e}")),
    }
}

/// Waits, without holding a thread, up to `timeout` for the outcome of
/// request `id` of `http`, and removes it from the service.
async fn wait_outcome(
    http: &HttpFs,
    id: &str,
    timeout: Duration,
) -> oanix_caps::Result<HttpOutcome> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        // Listen before looking, so that a delivery in between still wakes.
        let delivered = http.response_listener();
        match http.get_response(id) {
            Ok(outcome) => {
                let _ = http.remove_response(id);
                return Ok(outcome);
            }
            Err(CapError::WouldBlock(_)) => {}
            Err(e) => return Err(e),
        }
        if tokio::time::timeout_at(deadline, delivered).await.is_err() {
            return Err(CapError::TimedOut(format!("response to {id}")));
        }
    }
}

/// `text` with every secret's value shown as its name.
fn redact(text: &str, secrets: &Secrets) -> String {
    secrets.0.iter().fold(text.to_owned(), |t, s| {
        t.replace(s.value_str(), &format!("<secret {}>", s.name()))
    })
}

/// `host` without a trailing dot, lowercase, without IPv6 brackets.
fn canonical_host(host: &str) -> String {
    host.trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

async fn tunnel(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let Some(authority) = req.uri().authority().cloned() else {
        return answer(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
    };
    let host = canonical_host(authority.host());
    let port = authority.port_u16().unwrap_or(443);
    let target = format!("{host}:{port}");
    let bracketed = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.clone()
    };
    if let Err(e) = state
        .http
        .policy()
        .check_url(&format!("https://{bracketed}:{port}/"))
    {
        let why = e.to_string();
        state.record(RecordAction::Tunnel, &target, Outcome::Refused, &why);
        return answer(
            StatusCode::FORBIDDEN,
            &format!("refused by the egress policy: {why}"),
        );
    }
    if let Some(ca) = state
        .ca
        .clone()
        .filter(|_| state.secrets.any_bound_to(&host))
    {
        return intercept(state, req, ca, host, port, target);
    }
    // Resolve once under the guard, and connect, before saying yes: a
    // refused address is a refused CONNECT the client can report.
    let upstream = match oanix_exec::connect_checked(
        &bracketed,
        port,
        &state.http.policy(),
        state.config.connect_timeout,
    )
    .await
    {
        Ok(stream) => stream,
        Err(e) => {
            let (outcome, status) = if e.kind() == FailureKind::Refused {
                (Outcome::Refused, StatusCode::FORBIDDEN)
            } else {
                (Outcome::Failed, StatusCode::BAD_GATEWAY)
            };
            let why = e.to_string();
            state.record(RecordAction::Tunnel, &target, outcome, &why);
            let prefix = if outcome == Outcome::Refused {
                "refused by the egress policy: "
            } else {
                ""
            };
            return answer(status, &format!("{prefix}{why}"));
        }
    };
    tokio::spawn(async move {
        let Some(upgraded) = upgrade(&state, req, &target).await else {
            return;
        };
        let mut client = upgraded;
        match carry(&state, &mut client, upstream, &host).await {
            Ok((up, down, digest)) => {
                let mut record =
                    CapRecord::new(Capability::Http, RecordAction::Tunnel, &target, Outcome::Ok);
                record.bytes = up + down;
                record.digest = Some(digest);
                record.detail = Some(format!("{up} bytes out, {down} bytes in"));
                state.http.emit_record(record);
            }
            Err((outcome, why)) => state.record(RecordAction::Tunnel, &target, outcome, &why),
        }
    });
    Response::new(Full::new(Bytes::new()))
}

/// The client's side of a `CONNECT` once answered, or `None` (recorded).
async fn upgrade(
    state: &State,
    req: Request<Incoming>,
    target: &str,
) -> Option<TokioIo<hyper::upgrade::Upgraded>> {
    match hyper::upgrade::on(req).await {
        Ok(u) => Some(TokioIo::new(u)),
        Err(e) => {
            state.record(
                RecordAction::Tunnel,
                target,
                Outcome::Failed,
                &e.to_string(),
            );
            None
        }
    }
}

/// Checks the ClientHello against `host`, then copies both ways between the
/// client and `upstream`; returns the bytes each way and the digest of the
/// hello.
async fn carry(
    state: &State,
    client: &mut TokioIo<hyper::upgrade::Upgraded>,
    mut upstream: tokio::net::TcpStream,
    host: &str,
) -> std::result::Result<(u64, u64, String), (Outcome, String)> {
    let mut hello = Vec::with_capacity(1024);
    let deadline = state.config.connect_timeout;
    let read_hello = async {
        loop {
            match sni::parse(&hello) {
                Hello::Incomplete => {}
                other => return Ok(other),
            }
            let mut chunk = [0u8; 4096];
            let n = client.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("the client closed the tunnel before its TLS ClientHello".to_owned());
            }
            hello.extend_from_slice(&chunk[..n]);
            if hello.len() > sni::MAX_HELLO {
                return Ok(Hello::NotTls);
            }
        }
    };
    let seen = match tokio::time::timeout(deadline, read_hello).await {
        Ok(Ok(seen)) => seen,
        Ok(Err(why)) => return Err((Outcome::Failed, why)),
        Err(_) => return Err((Outcome::Failed, "no TLS ClientHello in time".to_owned())),
    };
    let is_ip = host.parse::<std::net::IpAddr>().is_ok();
    match seen {
        Hello::Name(name) if canonical_host(&name) == host => {}
        Hello::NoName if is_ip => {}
        Hello::Name(name) => {
            return Err((
                Outcome::Refused,
                format!("the TLS server name {name} is not the CONNECT host {host}"),
            ));
        }
        Hello::NoName => {
            return Err((
                Outcome::Refused,
                "the TLS ClientHello names no server".to_owned(),
            ));
        }
        Hello::NotTls | Hello::Incomplete => {
            return Err((
                Outcome::Refused,
                "a tunnel carries TLS only, and this is not a TLS ClientHello".to_owned(),
            ));
        }
    }
    let digest = format!("sha256:{:x}", Sha256::digest(&hello));
    upstream
        .write_all(&hello)
        .await
        .map_err(|e| (Outcome::Failed, e.to_string()))?;
    // Large buffers: a download moves in a few big copies, not many 8 KiB ones.
    let (up, down) =
        tokio::io::copy_bidirectional_with_sizes(client, &mut upstream, 256 << 10, 256 << 10)
            .await
            .unwrap_or((0, 0));
    Ok((up + hello.len() as u64, down, digest))
}

/// A tunnel to a host a secret is bound to: the proxy ends the agent's TLS
/// with a certificate of the environment's authority and carries each
/// request inside through [`send`] (secrets in place, the executor's own
/// TLS to the host).
fn intercept(
    state: Arc<State>,
    req: Request<Incoming>,
    ca: Arc<CertAuthority>,
    host: String,
    port: u16,
    target: String,
) -> Reply {
    let config = match ca.server_config(&host) {
        Ok(c) => c,
        Err(e) => {
            state.record(
                RecordAction::Tunnel,
                &target,
                Outcome::Failed,
                &e.to_string(),
            );
            return answer(StatusCode::BAD_GATEWAY, &e.to_string());
        }
    };
    tokio::spawn(async move {
        let Some(upgraded) = upgrade(&state, req, &target).await else {
            return;
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let accepted =
            tokio::time::timeout(state.config.connect_timeout, acceptor.accept(upgraded)).await;
        let tls = match accepted {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                let why = format!(
                    "TLS with the agent failed (does it trust the environment's authority?): {e}"
                );
                state.record(RecordAction::Tunnel, &target, Outcome::Failed, &why);
                return;
            }
            Err(_) => {
                state.record(
                    RecordAction::Tunnel,
                    &target,
                    Outcome::Failed,
                    "no TLS handshake in time",
                );
                return;
            }
        };
        state.record(
            RecordAction::Tunnel,
            &target,
            Outcome::Ok,
            "read by the proxy: a secret is bound to this host",
        );
        let authority = if port == 443 {
            if host.contains(':') {
                format!("[{host}]")
            } else {
                host.clone()
            }
        } else if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let state = Arc::clone(&state);
            let host = host.clone();
            let url = format!(
                "https://{authority}{}",
                req.uri().path_and_query().map_or("/", |p| p.as_str())
            );
            async move { Ok::<_, Infallible>(send(&state, req, url, &host).await) }
        });
        let _ = hyper::server::conn::http1::Builder::new()
            .keep_alive(true)
            .serve_connection(TokioIo::new(tls), service)
            .await;
    });
    Response::new(Full::new(Bytes::new()))
}
