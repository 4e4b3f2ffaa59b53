//! Why a proxy could not start.

/// Why a proxy could not start serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The listener could not be used.
    #[error("the proxy's listener: {0}")]
    Listener(#[source] std::io::Error),
    /// A secret that cannot be used (its name, its hosts, its value).
    #[error("{0}")]
    InvalidSecret(String),
    /// The certificate authority or a certificate could not be made.
    #[error("the proxy's certificates: {0}")]
    Tls(String),
    /// The runtime the proxies serve on could not be started.
    #[error("starting the proxy's runtime: {0}")]
    Runtime(#[source] oanix_exec::ExecutorError),
}

/// The result of this crate's operations.
pub type Result<T, E = ProxyError> = std::result::Result<T, E>;
