//! `WsConnector`: carries out WsFs connections with tokio-tungstenite
//! (dialing through [`crate::dial`], shared with the Nostr connector).

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use oanix_caps::{Body, CapError, CapRecord, Capability, Outcome, RecordAction, WsFs, WsState};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::config::{ExecutorConfig, RetryPolicy};
use crate::dial::{WsSettings, WsStream, close_frame, dial};
use crate::error::Result;
use crate::executor::{BoxFuture, Executor, ExecutorContext, ShutdownSignal};

/// Carries out the connections of one [`WsFs`].
///
/// Woken by the service's `work_listener`, it gives every connection asked
/// for its own task, at most [`ExecutorConfig::ws_max_concurrent`] open at
/// once (the others wait, still `connecting`). Each task:
///
/// - opens the WebSocket through the SSRF guard (resolve once, check every
///   address, connect only to one that passed), with TLS for `wss` (rustls),
///   within [`ExecutorConfig::ws_connect_timeout`];
/// - sends what the agent writes, text as text and binary as binary, through
///   a write buffer bounded by [`ExecutorConfig::ws_max_write_buffer`];
///   received messages larger than [`ExecutorConfig::ws_max_message`] (or
///   frames larger than [`ExecutorConfig::ws_max_frame`], or messages the
///   policy's `max_response_body` refuses) close the connection with code
///   1009 and say so;
/// - sends a ping once nothing has been received for
///   [`ExecutorConfig::ws_ping_interval`], and takes the peer for dead only
///   when nothing at all (a pong or any other frame) has come back within
///   [`ExecutorConfig::ws_pong_timeout`] of that ping; a peer that stops
///   reading is dead when a write stalls as long;
/// - a peer that breaks the protocol (a malformed frame, an unknown opcode,
///   a text message that is not UTF-8) gets the agent's queued messages
///   first, then a close frame with code 1002 (protocol error) or 1007
///   (invalid UTF-8), and the connection closes with the reason, messages
///   that could not be sent counted in it; it is never reconnected to;
/// - when the connection drops (dead peer, reset, end of stream without a
///   close frame) reconnects following [`ExecutorConfig::ws_reconnect`],
///   keeping the connection id and the unsent messages; without retries
///   left it closes the connection with the reason;
/// - closes cleanly both ways: a close asked by the agent sends a close
///   frame and waits (bounded) for the peer's; a close frame from the peer
///   is answered and ends the connection.
///
/// When the agent's inbox is full, reading from the socket pauses until
/// there is room (TCP then pushes back on the peer).
pub struct WsConnector {
    ws: WsFs,
    settings: Arc<WsSettings>,
    reconnect: RetryPolicy,
    max_concurrent: usize,
}

impl fmt::Debug for WsConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsConnector")
            .field("reconnect", &self.reconnect)
            .field("max_concurrent", &self.max_concurrent)
            .finish_non_exhaustive()
    }
}

impl WsConnector {
    /// A connector for `ws` with `config`.
    pub fn new(ws: WsFs, config: &ExecutorConfig) -> Result<Self> {
        Ok(Self {
            ws,
            settings: Arc::new(WsSettings::from_config(config)?),
            reconnect: config.ws_reconnect,
            max_concurrent: config.ws_max_concurrent.max(1),
        })
    }

    async fn serve(self, ctx: ExecutorContext) -> Result<()> {
        let sem = Arc::new(Semaphore::new(self.max_concurrent));
        let mut active: HashSet<String> = HashSet::new();
        let mut tasks: JoinSet<String> = JoinSet::new();
        let shutdown = ctx.shutdown().clone();
        loop {
            while let Some(done) = tasks.try_join_next() {
                if let Ok(id) = done {
                    active.remove(&id);
                }
            }
            let listener = self.ws.work_listener();
            for (id, url) in self.ws.connecting_connections() {
                if active.insert(id.clone()) {
                    let conn = Conn {
                        ws: self.ws.clone(),
                        id,
                        url,
                        settings: Arc::clone(&self.settings),
                        reconnect: self.reconnect,
                        shutdown: shutdown.clone(),
                    };
                    let sem = Arc::clone(&sem);
                    tasks.spawn(async move {
                        let id = conn.id.clone();
                        conn.run(sem).await;
                        id
                    });
                }
            }
            for id in self.ws.closing_connections() {
                if !active.contains(&id) {
                    let _ = self.ws.set_closed(&id, None);
                }
            }
            tokio::select! {
                biased;
                _ = shutdown.triggered() => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(id) = done {
                        active.remove(&id);
                    }
                }
                _ = listener => {}
                _ = ctx.fallback_tick() => {}
            }
        }
        // Each connection closes itself on the signal; give them the grace.
        let _ = tokio::time::timeout(ctx.grace(), async {
            while let Some(done) = tasks.join_next().await {
                if let Ok(id) = done {
                    active.remove(&id);
                }
            }
        })
        .await;
        tasks.abort_all();
        for id in active {
            let _ = self.ws.set_closed(
                &id,
                Some(with_unsent(
                    &self.ws,
                    &id,
                    0,
                    "closed: the executor shut down".into(),
                )),
            );
        }
        Ok(())
    }
}

impl Executor for WsConnector {
    fn name(&self) -> &str {
        "ws"
    }

    fn run(self: Box<Self>, ctx: ExecutorContext) -> BoxFuture<'static, Result<()>> {
        Box::pin(self.serve(ctx))
    }
}

/// `reason`, plus how many messages were never sent, if any.
fn with_unsent(ws: &WsFs, id: &str, pending: usize, reason: String) -> String {
    let unsent = pending + ws.connection_status(id).map_or(0, |s| s.outbox);
    if unsent == 0 {
        reason
    } else {
        format!("{reason}; {unsent} unsent messages dropped")
    }
}

/// How a session on one open socket ended.
enum SessionEnd {
    /// The connection is over: closed cleanly (`None`) or for good with a
    /// reason.
    Closed(Option<String>),
    /// The connection dropped; reconnecting may help.
    Dropped(String),
}

/// One connection of the service, from connecting to closed.
struct Conn {
    ws: WsFs,
    id: String,
    url: String,
    settings: Arc<WsSettings>,
    reconnect: RetryPolicy,
    shutdown: ShutdownSignal,
}

impl Conn {
    fn record(&self, action: RecordAction, outcome: Outcome, detail: String) {
        self.ws.emit_record(
            CapRecord::new(Capability::Ws, action, &self.url, outcome)
                .with_id(&self.id)
                .with_detail(detail),
        );
    }

    fn close(&self, pending: usize, reason: Option<String>) {
        let reason = reason.map(|r| with_unsent(&self.ws, &self.id, pending, r));
        let _ = self.ws.set_closed(&self.id, reason);
    }

    async fn run(self, sem: Arc<Semaphore>) {
        // Wait for a slot under the connection limit; an agent may close the
        // connection meanwhile.
        let _permit = loop {
            let listener = self.ws.work_listener();
            if matches!(
                self.ws.connection_state(&self.id),
                None | Some(WsState::Closing | WsState::Closed)
            ) {
                self.close(0, None);
                return;
            }
            tokio::select! {
                p = Arc::clone(&sem).acquire_owned() => match p {
                    Ok(p) => break p,
                    Err(_) => {
                        self.close(0, Some("closed: the executor shut down before connecting".into()));
                        return;
                    }
                },
                _ = listener => {}
                _ = self.shutdown.triggered() => {
                    self.close(0, Some("closed: the executor shut down before connecting".into()));
                    return;
                }
            }
        };
        let policy = self.ws.policy();
        // An agent's URL passed the policy when it was written; the host's
        // did not (host code is trusted to ask, not to reach what the
        // policy refuses): every URL is checked before connecting.
        let url = match policy.check_ws(&self.url) {
            Ok(url) => url,
            Err(e) => {
                let reason = match e {
                    CapError::Refused(why) => format!("refused: {why}"),
                    other => other.to_string(),
                };
                self.close(0, Some(reason));
                return;
            }
        };
        let max_out = usize::try_from(policy.max_request_body()).unwrap_or(usize::MAX);
        let mut pending: VecDeque<Message> = VecDeque::new();
        let mut connected_once = false;
        let mut retry = 0;
        loop {
            if matches!(
                self.ws.connection_state(&self.id),
                None | Some(WsState::Closing | WsState::Closed)
            ) {
                self.close(pending.len(), None);
                return;
            }
            let dialed = tokio::select! {
                r = dial(&url, &policy, &self.settings, max_out) => r,
                _ = self.shutdown.triggered() => {
                    self.close(pending.len(), Some("closed: the executor shut down while connecting".into()));
                    return;
                }
            };
            let reason = match dialed {
                Ok(stream) => {
                    if connected_once {
                        self.record(
                            RecordAction::Reconnected,
                            Outcome::Ok,
                            format!("after {retry} retries"),
                        );
                    } else if let Err(e) = self.ws.set_connected(&self.id) {
                        // Closed by the agent while connecting.
                        let mut stream = stream;
                        let _ = tokio::time::timeout(
                            Duration::from_secs(1),
                            stream.close(Some(close_frame(CloseCode::Normal, "closed"))),
                        )
                        .await;
                        let closed = matches!(e, CapError::WrongState { .. });
                        self.close(pending.len(), (!closed).then(|| e.to_string()));
                        return;
                    }
                    connected_once = true;
                    retry = 0;
                    match self.session(stream, &mut pending).await {
                        SessionEnd::Closed(reason) => {
                            self.close(pending.len(), reason);
                            return;
                        }
                        SessionEnd::Dropped(reason) => reason,
                    }
                }
                Err(e) if e.refused => {
                    self.close(pending.len(), Some(format!("refused: {}", e.message)));
                    return;
                }
                Err(e) => e.message,
            };
            let Some(delay) = self.reconnect.delay(retry) else {
                self.close(pending.len(), Some(reason));
                return;
            };
            self.record(
                RecordAction::Reconnect,
                Outcome::Queued,
                format!(
                    "retry {} in {} ms after: {reason}",
                    retry + 1,
                    delay.as_millis()
                ),
            );
            retry += 1;
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.triggered() => {
                    self.close(pending.len(), Some(format!("closed: the executor shut down while reconnecting after: {reason}")));
                    return;
                }
            }
        }
    }

    /// Moves messages between the socket and the service until the
    /// connection ends.
    async fn session(&self, stream: WsStream, pending: &mut VecDeque<Message>) -> SessionEnd {
        let (mut sink, mut source) = stream.split();
        let s = &self.settings;
        let mut keepalive = Keepalive::new(s.ping_interval, s.pong_timeout);
        loop {
            let listener = self.ws.work_listener();
            match self.ws.connection_state(&self.id) {
                Some(WsState::Open) => {}
                Some(WsState::Closing) => {
                    return self.close_handshake(&mut sink, &mut source).await;
                }
                _ => return SessionEnd::Closed(None),
            }
            if let Ok(out) = self.ws.drain_outbox(&self.id) {
                pending.extend(out.into_iter().map(to_message));
            }
            if !pending.is_empty() {
                let write = async {
                    for m in pending.iter() {
                        sink.feed(m.clone()).await?;
                    }
                    sink.flush().await
                };
                match tokio::time::timeout(s.write_timeout(), write).await {
                    Ok(Ok(())) => pending.clear(),
                    Ok(Err(e)) => return SessionEnd::Dropped(format!("send failed: {e}")),
                    Err(_) => {
                        return SessionEnd::Dropped(format!(
                            "the peer stopped reading (a write stalled for {} ms)",
                            s.write_timeout().as_millis()
                        ));
                    }
                }
                continue;
            }
            let due = keepalive.due();
            let tick = async {
                match due {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = self.shutdown.triggered() => {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        sink.send(Message::Close(Some(close_frame(CloseCode::Away, "going away")))),
                    ).await;
                    return SessionEnd::Closed(Some("closed: the executor shut down".into()));
                }
                incoming = source.next() => {
                    keepalive.heard();
                    match incoming {
                        Some(Ok(Message::Text(t))) => {
                            if let Some(end) = self.deliver(Body::Text(t.as_str().to_owned()), &mut sink).await {
                                return end;
                            }
                        }
                        Some(Ok(Message::Binary(b))) => {
                            if let Some(end) = self.deliver(Body::Binary(b.to_vec()), &mut sink).await {
                                return end;
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            // tungstenite queued the reply; send it.
                            let _ = tokio::time::timeout(Duration::from_secs(1), sink.flush()).await;
                            return SessionEnd::Closed(peer_close_reason(frame.as_ref()));
                        }
                        Some(Ok(_)) => {
                            // Ping, pong or raw frame: the peer is alive. A
                            // ping's pong goes out with the next flush.
                            let _ = sink.flush().await;
                        }
                        Some(Err(e)) => return self.read_error(e, &mut sink, pending).await,
                        None => return SessionEnd::Dropped("the peer dropped the connection without a close frame".into()),
                    }
                }
                _ = listener => {}
                _ = tick => {
                    if keepalive.ping_unanswered() {
                        return SessionEnd::Dropped(format!(
                            "the peer is dead: a ping went unanswered for {} ms",
                            s.pong_timeout.as_millis()
                        ));
                    }
                    let sent = tokio::time::timeout(s.write_timeout(), sink.send(Message::Ping(Vec::new().into()))).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        return SessionEnd::Dropped("could not send a ping".into());
                    }
                    keepalive.pinged();
                }
            }
        }
    }

    async fn read_error(
        &self,
        e: tokio_tungstenite::tungstenite::Error,
        sink: &mut futures_util::stream::SplitSink<WsStream, Message>,
        pending: &mut VecDeque<Message>,
    ) -> SessionEnd {
        use tokio_tungstenite::tungstenite::Error as E;
        match e {
            E::Capacity(c) => {
                let reason = format!(
                    "received a message over the limit ({c}; at most {} bytes per message, {} per frame)",
                    self.settings.max_message, self.settings.max_frame
                );
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    sink.send(Message::Close(Some(close_frame(
                        CloseCode::Size,
                        "too big",
                    )))),
                )
                .await;
                SessionEnd::Closed(Some(reason))
            }
            E::Protocol(
                tokio_tungstenite::tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            ) => {
                SessionEnd::Dropped("the peer dropped the connection without a close frame".into())
            }
            E::Protocol(p) => {
                self.protocol_violation(
                    sink,
                    pending,
                    CloseCode::Protocol,
                    format!("protocol error: {p}"),
                )
                .await
            }
            E::Utf8(why) => {
                self.protocol_violation(
                    sink,
                    pending,
                    CloseCode::Invalid,
                    format!("protocol error: a text message is not UTF-8 ({why})"),
                )
                .await
            }
            other => SessionEnd::Dropped(format!("connection lost: {other}")),
        }
    }

    /// The peer broke the protocol: sends what the agent queued, then a close
    /// frame with `code`, and ends the connection for good (a peer that
    /// breaks the protocol is not reconnected to). Messages that could not
    /// be sent stay in `pending`, to be counted in the reason.
    async fn protocol_violation(
        &self,
        sink: &mut futures_util::stream::SplitSink<WsStream, Message>,
        pending: &mut VecDeque<Message>,
        code: CloseCode,
        reason: String,
    ) -> SessionEnd {
        let wait = self.settings.write_timeout();
        if let Ok(out) = self.ws.drain_outbox(&self.id) {
            pending.extend(out.into_iter().map(to_message));
        }
        let flush = async {
            while let Some(m) = pending.front() {
                sink.feed(m.clone()).await?;
                pending.pop_front();
            }
            sink.flush().await
        };
        let flushed = matches!(tokio::time::timeout(wait, flush).await, Ok(Ok(())));
        if flushed {
            let why = if code == CloseCode::Invalid {
                "invalid utf-8"
            } else {
                "protocol error"
            };
            let _ = tokio::time::timeout(
                wait,
                sink.send(Message::Close(Some(close_frame(code, why)))),
            )
            .await;
        }
        SessionEnd::Closed(Some(reason))
    }

    /// Hands a received message to the service, waiting while the inbox is
    /// full; `Some` ends the session.
    async fn deliver(
        &self,
        message: Body,
        sink: &mut futures_util::stream::SplitSink<WsStream, Message>,
    ) -> Option<SessionEnd> {
        let mut message = message;
        loop {
            let listener = self.ws.work_listener();
            let copy = message.clone();
            match self.ws.receive_message(&self.id, message) {
                Ok(()) => return None,
                Err(CapError::QueueFull { .. }) => {
                    message = copy;
                    // Reads do not notify; look again shortly, or at once
                    // on any activity of the service.
                    tokio::select! {
                        _ = self.shutdown.triggered() => {
                            return Some(SessionEnd::Closed(Some("closed: the executor shut down".into())));
                        }
                        _ = listener => {}
                        _ = tokio::time::sleep(Duration::from_millis(5)) => {}
                    }
                }
                Err(e @ CapError::TooLarge { .. }) => {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        sink.send(Message::Close(Some(close_frame(
                            CloseCode::Size,
                            "too big",
                        )))),
                    )
                    .await;
                    return Some(SessionEnd::Closed(Some(format!(
                        "received a message the policy refuses: {e}"
                    ))));
                }
                Err(_) => return Some(SessionEnd::Closed(None)),
            }
        }
    }

    /// The agent asked to close: send a close frame, deliver what still
    /// arrives, and wait (bounded) for the peer's close frame.
    async fn close_handshake(
        &self,
        sink: &mut futures_util::stream::SplitSink<WsStream, Message>,
        source: &mut futures_util::stream::SplitStream<WsStream>,
    ) -> SessionEnd {
        let wait = self.settings.write_timeout();
        let sent = tokio::time::timeout(
            wait,
            sink.send(Message::Close(Some(close_frame(
                CloseCode::Normal,
                "closed",
            )))),
        )
        .await;
        if !matches!(sent, Ok(Ok(()))) {
            return SessionEnd::Closed(None);
        }
        let drain = async {
            while let Some(m) = source.next().await {
                match m {
                    Ok(Message::Text(t)) => {
                        let _ = self
                            .ws
                            .receive_message(&self.id, Body::Text(t.as_str().to_owned()));
                    }
                    Ok(Message::Binary(b)) => {
                        let _ = self.ws.receive_message(&self.id, Body::Binary(b.to_vec()));
                    }
                    Ok(Message::Close(_)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        let _ = tokio::time::timeout(wait, drain).await;
        SessionEnd::Closed(None)
    }
}

/// The frame that sends `m`, text as text and binary as binary.
fn to_message(m: Body) -> Message {
    match m {
        Body::Text(t) => Message::text(t),
        Body::Binary(b) => Message::binary(b),
    }
}

/// When to ping and when to give up: a ping goes out after
/// `interval` of silence, and the peer is dead only when nothing arrives
/// within `timeout` of a ping actually sent.
struct Keepalive {
    interval: Option<Duration>,
    timeout: Duration,
    last_heard: Instant,
    ping_sent: Option<Instant>,
}

impl Keepalive {
    fn new(interval: Option<Duration>, timeout: Duration) -> Self {
        Self {
            interval,
            timeout,
            last_heard: Instant::now(),
            ping_sent: None,
        }
    }

    /// Something arrived: the peer is alive, any ping is answered.
    fn heard(&mut self) {
        self.last_heard = Instant::now();
        self.ping_sent = None;
    }

    /// A ping went out now.
    fn pinged(&mut self) {
        self.ping_sent = Some(Instant::now());
    }

    /// When to act next: the end of the wait for the ping sent, or the time
    /// to send one; `None` without keepalive.
    fn due(&self) -> Option<Instant> {
        let interval = self.interval?;
        Some(match self.ping_sent {
            Some(at) => at + self.timeout,
            None => self.last_heard + interval,
        })
    }

    /// Whether a ping was sent and its wait is over with nothing heard.
    fn ping_unanswered(&self) -> bool {
        self.ping_sent
            .is_some_and(|at| Instant::now() >= at + self.timeout)
    }
}

/// `None` for a normal close, the code and reason otherwise.
fn peer_close_reason(frame: Option<&CloseFrame>) -> Option<String> {
    match frame {
        None => None,
        Some(f) if matches!(f.code, CloseCode::Normal | CloseCode::Away) => None,
        Some(f) => Some(format!(
            "closed by the peer: code {}{}",
            u16::from(f.code),
            if f.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", f.reason)
            }
        )),
    }
}
