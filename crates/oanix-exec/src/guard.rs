//! The SSRF guard: resolve a host name once, check every address against
//! the egress policy, and connect only to an address that passed; plus the
//! hyper connector built on it and the TLS client configuration.

use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hyper::Uri;
use hyper_util::rt::TokioIo;
use oanix_caps::{EgressPolicy, FailureKind};
use rustls::ClientConfig;
use rustls::pki_types::CertificateDer;
use tokio::net::TcpStream;

use crate::config::ExecutorConfig;
use crate::error::ExecutorError;

/// Why a connection could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectFailure {
    /// The policy refused every address (or the literal address).
    #[error("{0}")]
    Refused(String),
    /// The name did not resolve.
    #[error("could not resolve `{host}`: {message}")]
    Dns {
        /// The host name.
        host: String,
        /// The resolver's error.
        message: String,
    },
    /// Every checked address refused or failed the connection.
    #[error("could not connect to {target}: {message}")]
    Connect {
        /// `host:port`.
        target: String,
        /// The last error.
        message: String,
    },
}

impl ConnectFailure {
    /// The failure kind HttpFs records for it.
    pub fn kind(&self) -> FailureKind {
        match self {
            Self::Refused(_) => FailureKind::Refused,
            Self::Dns { .. } => FailureKind::Dns,
            Self::Connect { .. } => FailureKind::Connect,
        }
    }
}

/// The host of a URL without the brackets of an IPv6 literal.
fn bare_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Resolves `host` once and returns the addresses the policy allows, in the
/// resolver's order. An IP literal is checked as it is. When every address
/// is refused, the error names the first and its class.
pub(crate) async fn resolve_checked(
    host: &str,
    port: u16,
    policy: &EgressPolicy,
) -> Result<Vec<SocketAddr>, ConnectFailure> {
    let host = bare_host(host);
    if let Ok(ip) = host.parse::<IpAddr>() {
        policy
            .check_ip(ip)
            .map_err(|e| ConnectFailure::Refused(refusal(&e.to_string())))?;
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| ConnectFailure::Dns {
            host: host.to_owned(),
            message: e.to_string(),
        })?
        .collect();
    if resolved.is_empty() {
        return Err(ConnectFailure::Dns {
            host: host.to_owned(),
            message: "no addresses".into(),
        });
    }
    let mut first_refusal = None;
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|a| match policy.check_ip(a.ip()) {
            Ok(()) => true,
            Err(e) => {
                first_refusal.get_or_insert_with(|| e.to_string());
                false
            }
        })
        .collect();
    if allowed.is_empty() {
        let why = first_refusal.unwrap_or_default();
        return Err(ConnectFailure::Refused(format!(
            "`{host}` resolves only to refused addresses ({})",
            refusal(&why)
        )));
    }
    Ok(allowed)
}

/// `refused by policy: address 10.0.0.1 is private` → `address 10.0.0.1 is private`.
fn refusal(message: &str) -> String {
    message
        .strip_prefix("refused by policy: ")
        .unwrap_or(message)
        .to_owned()
}

/// Resolves `host` once, checks every address against `policy` (the SSRF
/// guard the executors use), and opens a TCP connection to the first
/// allowed address that answers within `timeout`. For other code that must
/// reach the network under a policy, such as an egress proxy.
pub async fn connect_checked(
    host: &str,
    port: u16,
    policy: &EgressPolicy,
    timeout: Duration,
) -> Result<TcpStream, ConnectFailure> {
    let addrs = resolve_checked(host, port, policy).await?;
    let mut last = String::new();
    for addr in addrs {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = format!("{addr}: {e}"),
            Err(_) => last = format!("{addr}: timed out after {} ms", timeout.as_millis()),
        }
    }
    Err(ConnectFailure::Connect {
        target: format!("{}:{port}", bare_host(host)),
        message: last,
    })
}

/// A hyper connector that opens TCP connections only through
/// [`connect_checked`]. It reads no proxy settings from the environment.
#[derive(Clone)]
pub(crate) struct GuardedConnector {
    policy: PolicySource,
    timeout: Duration,
}

/// Where a connector reads the policy, at each connection (it may change
/// while the executor runs).
pub(crate) type PolicySource = Arc<dyn Fn() -> Arc<EgressPolicy> + Send + Sync>;

impl std::fmt::Debug for GuardedConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedConnector")
            .field("policy", &(self.policy)())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl GuardedConnector {
    pub(crate) fn new(policy: PolicySource, timeout: Duration) -> Self {
        Self { policy, timeout }
    }
}

impl tower_service::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectFailure;
    type Future = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, ConnectFailure>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let policy = (self.policy)();
        let timeout = self.timeout;
        Box::pin(async move {
            let host = uri.host().ok_or_else(|| ConnectFailure::Connect {
                target: uri.to_string(),
                message: "the url has no host".into(),
            })?;
            let port = uri
                .port_u16()
                .unwrap_or(if uri.scheme_str() == Some("https") {
                    443
                } else {
                    80
                });
            let stream = connect_checked(host, port, &policy, timeout).await?;
            Ok(TokioIo::new(stream))
        })
    }
}

/// The rustls client configuration: ring, the Mozilla roots unless turned
/// off, plus the configured extra roots; `alpn` protocols offered.
pub(crate) fn tls_config(
    config: &ExecutorConfig,
    alpn: &[&[u8]],
) -> Result<Arc<ClientConfig>, ExecutorError> {
    let mut roots = rustls::RootCertStore::empty();
    if config.tls_webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    for der in &config.tls_root_certificates {
        roots
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| ExecutorError::Tls(format!("bad root certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ExecutorError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(tls))
}

/// Walks an error's source chain for a [`ConnectFailure`].
pub(crate) fn find_connect_failure<'a>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a ConnectFailure> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(f) = err.downcast_ref::<ConnectFailure>() {
            return Some(f);
        }
        cur = err.source();
    }
    None
}

/// Whether an error's source chain holds an I/O error of `kind`.
pub(crate) fn has_io_kind(e: &(dyn std::error::Error + 'static), kind: io::ErrorKind) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>()
            && io.kind() == kind
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// The messages of an error and its sources, joined by `: `, without
/// repeating a message its source already says.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> EgressPolicy {
        EgressPolicy::allow_hosts(["*"])
            .schemes(["http"])
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn literal_addresses_are_checked_before_any_connection() {
        for host in [
            "127.0.0.1",
            "169.254.169.254",
            "10.1.2.3",
            "100.64.0.1",
            "[::1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:169.254.169.254]",
            "[64:ff9b::a9fe:a9fe]",
            "0.0.0.0",
        ] {
            let e = resolve_checked(host, 80, &policy()).await.unwrap_err();
            assert!(matches!(e, ConnectFailure::Refused(_)), "{host}: {e}");
        }
        let e = resolve_checked("169.254.169.254", 80, &policy())
            .await
            .unwrap_err();
        assert_eq!(e.to_string(), "address 169.254.169.254 is link-local");
        let ok = resolve_checked(
            "127.0.0.1",
            8080,
            &policy().to_builder().allow_loopback(true).build().unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(ok, vec!["127.0.0.1:8080".parse().unwrap()]);
    }

    #[tokio::test]
    async fn names_resolving_to_loopback_are_refused_unless_allowed() {
        let e = resolve_checked("localhost", 80, &policy())
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("`localhost` resolves only to refused addresses (address"),
            "{e}"
        );
        let ok = resolve_checked(
            "localhost",
            80,
            &policy().to_builder().allow_loopback(true).build().unwrap(),
        )
        .await
        .unwrap();
        assert!(ok.iter().all(|a| a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_failure() {
        // Bind then drop a listener: its port is (almost surely) closed now.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let e = connect_checked(
            "127.0.0.1",
            port,
            &policy().to_builder().allow_loopback(true).build().unwrap(),
            Duration::from_secs(5),
        )
        .await
        .unwrap_err();
        assert_eq!(e.kind(), FailureKind::Connect, "{e}");
    }
}
