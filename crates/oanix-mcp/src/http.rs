//! The streamable HTTP transport: rmcp's service behind a bearer-token
//! check, served by hyper on a listener the caller binds.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_service::Service as _;

use crate::error::{McpServeError, Result};
use crate::server::McpServer;

/// How the HTTP transport is served.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HttpOptions {
    /// The bearer token every request must carry (`Authorization: Bearer
    /// TOKEN`). Required when the listener is not on a loopback address.
    pub token: Option<String>,
    /// Host names (or `host:port`) accepted in the `Host` header besides
    /// the loopback names and the listener's own address: the guard against
    /// DNS rebinding.
    pub allowed_hosts: Vec<String>,
    /// The path the endpoint is served at. Default `/mcp`.
    pub path: Option<String>,
}

impl HttpOptions {
    /// Requires `token` as a bearer token.
    #[must_use]
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Checks that a listener on `addr` may serve with these options: one
    /// that is not on a loopback address needs a token.
    ///
    /// # Errors
    /// [`McpServeError::TokenRequired`].
    pub fn check(&self, addr: SocketAddr) -> Result<()> {
        if !addr.ip().is_loopback() && self.token.as_deref().is_none_or(str::is_empty) {
            return Err(McpServeError::TokenRequired { addr });
        }
        Ok(())
    }

    /// Accepts `host` in the `Host` header.
    #[must_use]
    pub fn allow_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }
}

/// Compares in time independent of where the strings differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn plain(status: StatusCode, text: &'static str) -> Response<BoxBody<Bytes, Infallible>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())).boxed());
    *response.status_mut() = status;
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// Serves `server` over the streamable HTTP transport on `listener` until
/// `shutdown` is cancelled. Each HTTP session gets its own
/// [`McpServer::session`]; all of them share the environment.
///
/// # Errors
/// [`McpServeError::TokenRequired`] when the listener is not on a loopback
/// address and no token is given; [`McpServeError::Io`] when accepting
/// fails.
pub async fn serve_http(
    server: McpServer,
    listener: TcpListener,
    options: HttpOptions,
    shutdown: CancellationToken,
) -> Result<()> {
    let addr: SocketAddr = listener
        .local_addr()
        .map_err(|e| McpServeError::io("the listener", &e))?;
    options.check(addr)?;
    let mut hosts = vec![
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
        "::1".to_owned(),
        "[::1]".to_owned(),
        addr.ip().to_string(),
        addr.to_string(),
    ];
    hosts.extend(options.allowed_hosts.iter().cloned());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(hosts)
        .with_cancellation_token(shutdown.child_token());
    let factory = server.clone();
    let service: StreamableHttpService<McpServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(factory.session()), Arc::default(), config);
    let path = Arc::new(options.path.clone().unwrap_or_else(|| "/mcp".to_owned()));
    let token = Arc::new(options.token.clone().filter(|t| !t.is_empty()));
    loop {
        let (stream, _) = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // A connection that failed before it was accepted (reset, no
                // descriptors left) is that connection's problem.
                Err(_) => continue,
            },
        };
        // Responses go out in more than one write: without this, a small
        // answer waits for the peer's delayed ACK (40 ms on Linux).
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let (path, token) = (Arc::clone(&path), Arc::clone(&token));
        let conn_shutdown = shutdown.clone();
        tokio::spawn(async move {
            let handler = hyper::service::service_fn(move |request: Request<Incoming>| {
                let mut service = service.clone();
                let (path, token) = (Arc::clone(&path), Arc::clone(&token));
                async move {
                    if request.uri().path() != path.as_str() {
                        return Ok::<_, Infallible>(plain(StatusCode::NOT_FOUND, "not found\n"));
                    }
                    if let Some(token) = token.as_deref() {
                        let given = request
                            .headers()
                            .get(hyper::header::AUTHORIZATION)
                            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
                        if !given.is_some_and(|g| same(g, token.as_bytes())) {
                            return Ok(plain(
                                StatusCode::UNAUTHORIZED,
                                "a bearer token is required\n",
                            ));
                        }
                    }
                    service.call(request).await
                }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), handler);
            tokio::select! {
                _ = conn => {}
                () = conn_shutdown.cancelled() => {}
            }
        });
    }
}
