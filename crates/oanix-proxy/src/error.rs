//! Why a proxy could not start.

/// Why a proxy could not start serving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The listener could not be used.
    #[error("the proxy's listener: {0}")]
    Listener(#[source] std::io::Error),
    /// The proxies' runtime could not be started.
    #[error("starting the proxy's runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// The result of this crate's operations.
pub type Result<T, E = ProxyError> = std::result::Result<T, E>;
