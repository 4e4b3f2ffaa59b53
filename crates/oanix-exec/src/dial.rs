//! WebSocket dialing shared by the WebSocket and Nostr executors: the SSRF
//! guard (resolve once, check every address), TLS for `wss`, the handshake
//! with size limits, all within the connect timeout.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use oanix_caps::EgressPolicy;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use url::Url;

use crate::config::ExecutorConfig;
use crate::error::Result;
use crate::guard::{self, ConnectFailure};

/// A TCP connection, with TLS or without.
#[derive(Debug)]
pub(crate) enum MaybeTls {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTls {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTls {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open WebSocket.
pub(crate) type WsStream = WebSocketStream<MaybeTls>;

/// The WebSocket settings shared by the WebSocket and Nostr executors.
#[derive(Debug, Clone)]
pub(crate) struct WsSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) tcp_timeout: Duration,
    pub(crate) ping_interval: Option<Duration>,
    pub(crate) pong_timeout: Duration,
    pub(crate) max_message: usize,
    pub(crate) max_frame: usize,
    pub(crate) max_write_buffer: usize,
    pub(crate) tls: Arc<ClientConfig>,
}

impl WsSettings {
    pub(crate) fn from_config(config: &ExecutorConfig) -> Result<Self> {
        Ok(Self {
            connect_timeout: config.ws_connect_timeout,
            tcp_timeout: config.connect_timeout,
            ping_interval: config.ws_ping_interval,
            pong_timeout: config.ws_pong_timeout,
            max_message: config.ws_max_message,
            max_frame: config.ws_max_frame,
            max_write_buffer: config.ws_max_write_buffer,
            tls: guard::tls_config(config, &[b"http/1.1"])?,
        })
    }

    /// How long writing may stall before the peer is taken for dead.
    pub(crate) fn write_timeout(&self) -> Duration {
        self.pong_timeout.max(Duration::from_secs(1))
    }
}

/// Why a WebSocket could not be opened.
#[derive(Debug, Clone)]
pub(crate) struct DialError {
    /// The policy refused it: retrying cannot help.
    pub(crate) refused: bool,
    pub(crate) message: String,
}

/// Opens a WebSocket to `url` (already checked against `policy`): resolves
/// and checks every address, connects to a checked one, does TLS for
/// `wss`, and the handshake, all within the connect timeout; `max_out` is
/// the largest message that will be sent (the write buffer holds at least
/// that much).
pub(crate) async fn dial(
    url: &Url,
    policy: &EgressPolicy,
    s: &WsSettings,
    max_out: usize,
) -> std::result::Result<WsStream, DialError> {
    let fut = async {
        let host = url.host_str().ok_or_else(|| DialError {
            refused: false,
            message: "the url has no host".into(),
        })?;
        let port = url.port_or_known_default().unwrap_or(80);
        let tcp = guard::connect_checked(host, port, policy, s.tcp_timeout)
            .await
            .map_err(|e| DialError {
                refused: matches!(e, ConnectFailure::Refused(_)),
                message: e.to_string(),
            })?;
        let stream = if url.scheme() == "wss" {
            let name =
                ServerName::try_from(guard_host(host).to_owned()).map_err(|e| DialError {
                    refused: false,
                    message: format!("`{host}` is not a valid tls server name ({e})"),
                })?;
            let tls = TlsConnector::from(Arc::clone(&s.tls))
                .connect(name, tcp)
                .await
                .map_err(|e| DialError {
                    refused: false,
                    message: format!("tls: {e}"),
                })?;
            MaybeTls::Tls(Box::new(tls))
        } else {
            MaybeTls::Plain(tcp)
        };
        let write_buffer = (128 << 10).min(s.max_write_buffer);
        let config = WebSocketConfig::default()
            .max_message_size(Some(s.max_message))
            .max_frame_size(Some(s.max_frame))
            .write_buffer_size(write_buffer)
            .max_write_buffer_size(s.max_write_buffer.max(max_out + (64 << 10)));
        let (ws, _response) =
            tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
                .await
                .map_err(|e| DialError {
                    refused: false,
                    message: format!("websocket handshake: {e}"),
                })?;
        Ok(ws)
    };
    match tokio::time::timeout(s.connect_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(DialError {
            refused: false,
            message: format!(
                "no connection within the connect timeout of {} ms",
                s.connect_timeout.as_millis()
            ),
        }),
    }
}

fn guard_host(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// A close frame with `code` and `reason`.
pub(crate) fn close_frame(code: CloseCode, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code,
        reason: reason.into(),
    }
}
