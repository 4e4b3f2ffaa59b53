//! What serving can fail with.

use std::net::SocketAddr;

/// Why a server could not serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpServeError {
    /// A transport's I/O failed.
    #[error("{what}: {message}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's message.
        message: String,
    },
    /// The HTTP listener is reachable from other machines and no bearer
    /// token was given.
    #[error(
        "{addr} is not a loopback address: serving an environment there needs a bearer token \
         (--token or OANIX_MCP_TOKEN)"
    )]
    TokenRequired {
        /// The listener's address.
        addr: SocketAddr,
    },
    /// The MCP session could not start or ended with a protocol failure.
    #[error("MCP session: {0}")]
    Session(String),
}

impl McpServeError {
    pub(crate) fn io(what: &str, e: &std::io::Error) -> Self {
        Self::Io {
            what: what.to_owned(),
            message: e.to_string(),
        }
    }
}

/// The result of serving.
pub type Result<T> = std::result::Result<T, McpServeError>;
