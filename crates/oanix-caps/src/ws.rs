//! `WsFs`: WebSocket connections as files (`/cap/ws`), opened and fed by an
//! executor after the egress policy has accepted their URL.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, MutexGuard};
use std::time::Duration;

use oanix_prims::{Access, DynamicEntry, DynamicKind, DynamicNode, FixedFile, FixedTree};
use oanix_vfs::{FileHandle, FsError, OpenFlags, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::body::Body;
use crate::cap_core::{CapCore, Change, CoreParts, Wake};
use crate::error::{CapError, Result};
use crate::message::parse_object;
use crate::notify::{EventListener, WaitEnd};
use crate::policy::EgressPolicy;
use crate::queue::{BoundedQueue, Recent};
use crate::record::{CapRecord, Capability, Outcome, RecordAction, RecordSink};
use crate::tree::{self, CapFiles, ContentHandle, MessageHandle, StreamHandle, json_bytes};

/// A WebSocket message: text or binary, kept distinct end to end.
pub type WsMessage = Body;

/// The state of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum WsState {
    /// Asked for; the executor has not connected yet. Messages written now
    /// wait in the outbox.
    Connecting,
    /// Connected.
    Open,
    /// Asked to close; the executor has not closed it yet.
    Closing,
    /// Closed (or failed to connect); what was received can still be read.
    Closed,
}

impl WsState {
    /// The state as a word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Open => "open",
            Self::Closing => "closing",
            Self::Closed => "closed",
        }
    }
}

/// The bounds and waits of a [`WsFs`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsLimits {
    /// Connections not closed, at most. Default 16.
    pub max_connections: usize,
    /// Closed connections kept for reading their last messages; past this
    /// the oldest are forgotten. Default 16.
    pub max_closed: usize,
    /// Messages waiting to be sent, per connection. Default 64.
    pub max_outbox: usize,
    /// Messages received and not read, per connection. Default 256.
    pub max_inbox: usize,
    /// The largest message written to `control`, in bytes. Default 64 KiB.
    /// (Message sizes are the policy's `max_request_body` out and
    /// `max_response_body` in.)
    pub max_control: usize,
    /// How long a read of `in` waits for a message. Default 60 s (and never
    /// past the thread's [`deadline`](oanix_vfs::deadline)).
    pub wait: Duration,
}

impl Default for WsLimits {
    fn default() -> Self {
        Self {
            max_connections: 16,
            max_closed: 16,
            max_outbox: 64,
            max_inbox: 256,
            max_control: 64 << 10,
            wait: Duration::from_secs(60),
        }
    }
}

impl WsLimits {
    /// Sets `max_connections`.
    #[must_use]
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n;
        self
    }
    /// Sets `max_closed`.
    #[must_use]
    pub fn max_closed(mut self, n: usize) -> Self {
        self.max_closed = n;
        self
    }
    /// Sets `max_outbox`.
    #[must_use]
    pub fn max_outbox(mut self, n: usize) -> Self {
        self.max_outbox = n;
        self
    }
    /// Sets `max_inbox`.
    #[must_use]
    pub fn max_inbox(mut self, n: usize) -> Self {
        self.max_inbox = n;
        self
    }
    /// Sets `wait`.
    #[must_use]
    pub fn wait(mut self, d: Duration) -> Self {
        self.wait = d;
        self
    }
}

/// What `conns/{id}/status` shows about one connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WsConnStatus {
    /// The connection's id.
    pub id: String,
    /// Its URL.
    pub url: String,
    /// Its state.
    pub state: WsState,
    /// Messages waiting to be sent.
    pub outbox: usize,
    /// Messages received and not read.
    pub inbox: usize,
    /// Messages accepted for sending so far.
    pub sent: u64,
    /// Messages received so far.
    pub received: u64,
    /// Bytes accepted for sending so far.
    pub sent_bytes: u64,
    /// Bytes received so far.
    pub received_bytes: u64,
    /// Why it closed or failed, if it did.
    pub error: Option<String>,
    /// When it was asked for.
    pub opened_at: Timestamp,
}

/// The counters of a [`WsFs`], as `status` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WsStatus {
    /// Connections by state.
    pub connecting: usize,
    /// Open connections.
    pub open: usize,
    /// Connections asked to close.
    pub closing: usize,
    /// Closed connections still kept.
    pub closed: usize,
    /// Connections asked for since the start.
    pub opened: u64,
    /// Connections refused by the policy or a limit.
    pub refused: u64,
    /// Malformed control messages.
    pub invalid: u64,
    /// Readers blocked waiting for a message now.
    pub waiting_readers: usize,
}

#[derive(Debug)]
struct Conn {
    url: String,
    state: WsState,
    outbox: BoundedQueue<WsMessage>,
    inbox: BoundedQueue<WsMessage>,
    sent: u64,
    received: u64,
    sent_bytes: u64,
    received_bytes: u64,
    error: Option<String>,
    opened_at: Timestamp,
}

#[derive(Debug)]
struct WsTable {
    next_id: u64,
    conns: BTreeMap<String, Conn>,
    /// The ids of the closed connections still in `conns`, oldest first:
    /// past `max_closed` the oldest are forgotten, and removed from `conns`.
    closed: Recent<()>,
    opened: u64,
    refused: u64,
    invalid: u64,
}

/// The WebSocket capability: agents open connections through `control`,
/// write messages to `conns/{id}/out` (text) or `conns/{id}/out.bin`
/// (binary) and read them from `conns/{id}/in`; an executor connects, sends
/// and delivers. See the [crate docs](crate) for the file protocol.
///
/// Cloning is cheap and gives another handle on the same service.
///
/// | file | access | content |
/// |---|---|---|
/// | `/control` | write (read gives the id) | `{"url": ...}` opens, `{"close": id}` closes |
/// | `/status` | read | counters, connections, limits, policy |
/// | `/conns/{id}/out` | write | each write one text message (UTF-8) |
/// | `/conns/{id}/out.bin` | write | each write one binary message |
/// | `/conns/{id}/in` | read (blocks) | one framed message per read to the end |
/// | `/conns/{id}/status` | read | the connection's state and counters |
/// | `/conns/{id}/url` | read | the URL |
///
/// # Messages in
///
/// Reading `in` to the end (until a read returns 0) takes the oldest
/// received message, FIFO, waiting for one. What it gives is a header line
/// and the payload: `text <len>\n` or `binary <len>\n`, then exactly `<len>`
/// bytes, so `text 0\n` is an empty text message and a binary message is
/// labelled binary even when its bytes are valid UTF-8. Once the connection
/// is closed and every message has been read, a read returns 0 at once,
/// before any header: reading nothing at all is the end of the connection
/// and never a message. With `read(2)`: read until 0; no bytes means the
/// connection ended, otherwise the bytes up to the first `\n` say the type
/// and length of what follows. ([`frame_message`] makes the same bytes.)
///
/// # Messages out
///
/// Each `write` to `out` (text, which must be UTF-8) or `out.bin` (binary)
/// is one whole message, a zero-length `write` included: it sends one empty
/// message. A handle opened with `truncate` (as
/// [`write_file`](oanix_vfs::write_file) opens it) on which nothing was
/// written sends one empty message when it is flushed or closed, so
/// `write_file(path, "")` sends an empty message although it makes no
/// `write` call; a handle opened without `truncate` sends nothing unless
/// written.
#[derive(Debug, Clone)]
pub struct WsFs {
    inner: Arc<CapCore<WsTable, WsLimits>>,
}

/// Builds a [`WsFs`]; see [`WsFs::builder`].
#[derive(Debug, Default)]
pub struct WsFsBuilder {
    parts: CoreParts<WsLimits>,
}

impl WsFsBuilder {
    /// Sets the egress policy (the default refuses everything).
    #[must_use]
    pub fn policy(mut self, policy: EgressPolicy) -> Self {
        self.parts.policy = policy;
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn limits(mut self, limits: WsLimits) -> Self {
        self.parts.limits = limits;
        self
    }

    /// Sends a [`CapRecord`] of every connection and message to `sink`.
    #[must_use]
    pub fn record_sink(mut self, sink: RecordSink) -> Self {
        self.parts.sink = Some(sink);
        self
    }

    /// Builds the service.
    pub fn build(self) -> WsFs {
        let state = WsTable {
            next_id: 1,
            conns: BTreeMap::new(),
            closed: Recent::up_to(self.parts.limits.max_closed),
            opened: 0,
            refused: 0,
            invalid: 0,
        };
        WsFs {
            inner: Arc::new(CapCore::new(state, self.parts)),
        }
    }
}

impl Default for WsFs {
    fn default() -> Self {
        Self::new()
    }
}

fn unknown(id: &str) -> CapError {
    CapError::UnknownId {
        kind: "connection",
        id: id.to_owned(),
    }
}

fn wrong_state(id: &str, state: WsState) -> CapError {
    CapError::WrongState {
        kind: "connection",
        id: id.to_owned(),
        state: state.as_str().to_owned(),
    }
}

impl WsFs {
    /// A service with the default policy, which refuses every URL: give it a
    /// policy with [`WsFs::builder`].
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// Starts building a service.
    pub fn builder() -> WsFsBuilder {
        WsFsBuilder::default()
    }

    /// The egress policy (executors check resolved addresses with it).
    pub fn policy(&self) -> Arc<EgressPolicy> {
        self.core().policy()
    }

    /// The limits.
    pub fn limits(&self) -> &WsLimits {
        self.core().limits()
    }

    /// Sets (or clears) where records go.
    pub fn set_record_sink(&self, sink: Option<RecordSink>) {
        self.core().set_sink(sink);
    }

    /// Sends a record made by an executor (a reconnection, a ping timeout)
    /// to the service's sink, if one is set.
    pub fn emit_record(&self, record: CapRecord) {
        self.core().emit(record);
    }

    fn core(&self) -> &CapCore<WsTable, WsLimits> {
        &self.inner
    }

    /// The state, locked, to read: every change goes through the core's
    /// `commit` or `apply`.
    fn state(&self) -> MutexGuard<'_, WsTable> {
        self.inner.lock()
    }

    /// Asks for a connection to `url` for the host; returns its id. The
    /// executor connects it.
    ///
    /// Host code is trusted: `url` must be a `ws` or `wss` URL with a host
    /// and the connection bound applies, but the egress policy is not
    /// applied here. It is applied where it matters: an agent's `{"url"}`
    /// written to `control` is checked at once
    /// ([`open_checked`](Self::open_checked)), and the executor checks every
    /// URL against the policy, and every resolved address against the SSRF
    /// guard, when it connects, so a connection the policy does not allow
    /// closes `refused` without a byte sent. The opening is recorded like
    /// any other.
    pub fn open_connection(&self, url: &str) -> Result<String> {
        self.open(url, Submitter::Host)
    }

    /// Asks for a connection to `url` under the egress policy, as an
    /// agent's write to `control` does: a URL the policy refuses gives
    /// `Refused` and opens nothing.
    pub fn open_checked(&self, url: &str) -> Result<String> {
        self.open(url, Submitter::Agent)
    }

    fn open(&self, url: &str, by: Submitter) -> Result<String> {
        let checked = match by {
            Submitter::Agent => self.core().policy().check_ws(url).map(drop),
            Submitter::Host => ws_url(url),
        };
        let limits = self.core().limits();
        self.core().apply(|st, recording| {
            if let Err(e) = checked {
                let refused = !matches!(e, CapError::Invalid(_));
                if refused {
                    st.refused += 1;
                } else {
                    st.invalid += 1;
                }
                let detail = e.to_string();
                return Change::refusal(e).recorded(recording && refused, || {
                    CapRecord::new(Capability::Ws, RecordAction::Open, url, Outcome::Refused)
                        .with_detail(detail)
                });
            }
            let live = st
                .conns
                .values()
                .filter(|c| c.state != WsState::Closed)
                .count();
            let cap = limits.max_connections;
            if live >= cap {
                st.refused += 1;
                let e = CapError::QueueFull {
                    what: "connections".into(),
                    capacity: cap,
                };
                let detail = e.to_string();
                return Change::refusal(e).recorded(recording, || {
                    CapRecord::new(Capability::Ws, RecordAction::Open, url, Outcome::Refused)
                        .with_detail(detail)
                });
            }
            let id = format!("conn-{}", st.next_id);
            st.next_id += 1;
            st.opened += 1;
            st.conns.insert(
                id.clone(),
                Conn {
                    url: url.to_owned(),
                    state: WsState::Connecting,
                    outbox: BoundedQueue::new(limits.max_outbox),
                    inbox: BoundedQueue::new(limits.max_inbox),
                    sent: 0,
                    received: 0,
                    sent_bytes: 0,
                    received_bytes: 0,
                    error: None,
                    opened_at: Timestamp::now(),
                },
            );
            Change::new(Ok(id.clone()), Wake::Work).recorded(recording, || {
                let r = CapRecord::new(Capability::Ws, RecordAction::Open, url, Outcome::Queued)
                    .with_id(&id);
                match by {
                    Submitter::Agent => r,
                    Submitter::Host => r.with_detail("from the host"),
                }
            })
        })
    }

    /// Asks for a connection to close (nothing happens if it is already
    /// closing or closed). A connection never connected closes at once.
    pub fn close_connection(&self, id: &str) -> Result<()> {
        self.core().commit(|st, _| {
            let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
            match c.state {
                WsState::Open | WsState::Connecting => c.state = WsState::Closing,
                WsState::Closing | WsState::Closed => return Ok(Change::new((), Wake::None)),
            }
            Ok(Change::new((), Wake::Both))
        })
    }

    /// Parses and applies one message written to `control`; returns the id
    /// of the connection opened or closed.
    pub fn control_message(&self, message: &[u8]) -> Result<String> {
        let r = self.parse_control(message);
        match r {
            Ok(Control::Open(url)) => self.open_checked(&url),
            Ok(Control::Close(id)) => self.close_connection(&id).map(|()| id),
            Err(e) => {
                self.core().apply(|st, _| {
                    st.invalid += 1;
                    Change::new((), Wake::None)
                });
                Err(e)
            }
        }
    }

    fn parse_control(&self, message: &[u8]) -> Result<Control> {
        if message.len() > self.core().limits().max_control {
            return Err(CapError::TooLarge {
                what: "message",
                limit: self.core().limits().max_control as u64,
            });
        }
        let f = parse_object(message)?;
        f.check_known(&["url", "close"])?;
        match (f.opt_str("url")?, f.opt_str("close")?) {
            (Some(_), Some(_)) => Err(CapError::invalid(
                "fields `url` and `close` cannot both be given",
            )),
            (Some(url), None) => Ok(Control::Open(url.to_owned())),
            (None, Some(id)) => Ok(Control::Close(id.to_owned())),
            (None, None) => Err(CapError::invalid(
                "expected field `url` (to open a connection) or `close` (to close one)",
            )),
        }
    }

    /// Connections waiting for the executor to connect them, as (id, url).
    pub fn connecting_connections(&self) -> Vec<(String, String)> {
        self.state()
            .conns
            .iter()
            .filter(|(_, c)| c.state == WsState::Connecting)
            .map(|(id, c)| (id.clone(), c.url.clone()))
            .collect()
    }

    /// Connections waiting for the executor to close them.
    pub fn closing_connections(&self) -> Vec<String> {
        self.state()
            .conns
            .iter()
            .filter(|(_, c)| c.state == WsState::Closing)
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Open connections with messages waiting to be sent.
    pub fn outbox_ready(&self) -> Vec<String> {
        self.state()
            .conns
            .iter()
            .filter(|(_, c)| c.state == WsState::Open && !c.outbox.is_empty())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// A listener woken when there is work for the executor: a connection
    /// to open or close, or a message to send.
    pub fn work_listener(&self) -> EventListener {
        self.core().work_listener()
    }

    /// A listener woken when a message arrives or a connection changes state.
    pub fn message_listener(&self) -> EventListener {
        self.core().ready().listen()
    }

    /// The executor connected `id`.
    pub fn set_connected(&self, id: &str) -> Result<()> {
        self.core().commit(|st, recording| {
            let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
            if c.state != WsState::Connecting {
                return Err(wrong_state(id, c.state));
            }
            c.state = WsState::Open;
            // Messages queued while connecting are the executor's to send now.
            let wake = if c.outbox.is_empty() {
                Wake::Ready
            } else {
                Wake::Both
            };
            Ok(Change::new((), wake).recorded(recording, || {
                CapRecord::new(Capability::Ws, RecordAction::Connected, &c.url, Outcome::Ok)
                    .with_id(id)
            }))
        })
    }

    /// The connection closed (or could not be made): `error` says why, or
    /// `None` for a clean close. Unsent messages are dropped; received ones
    /// can still be read.
    pub fn set_closed(&self, id: &str, error: Option<String>) -> Result<()> {
        self.core().commit(|st, recording| {
            let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
            if c.state == WsState::Closed {
                return Ok(Change::new((), Wake::None));
            }
            c.state = WsState::Closed;
            c.outbox.clear();
            c.error.clone_from(&error);
            let change = Change::new((), Wake::Ready).recorded(recording, || {
                let outcome = if error.is_some() {
                    Outcome::Failed
                } else {
                    Outcome::Ok
                };
                let r = CapRecord::new(Capability::Ws, RecordAction::Close, &c.url, outcome)
                    .with_id(id);
                match error {
                    Some(e) => r.with_detail(e),
                    None => r,
                }
            });
            for old in st.closed.insert_evicting(id.to_owned(), ()) {
                st.conns.remove(&old);
            }
            Ok(change)
        })
    }

    /// Queues a message to send on `id` (connecting or open). A full outbox
    /// gives `QueueFull` and changes nothing; so does a message larger than
    /// the policy's `max_request_body` (`TooLarge`).
    pub fn send_message(&self, id: &str, message: impl Into<WsMessage>) -> Result<()> {
        let message = message.into();
        let limit = self.core().policy().max_request_body();
        self.core().commit(|st, recording| {
            let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
            if !matches!(c.state, WsState::Connecting | WsState::Open) {
                return Err(wrong_state(id, c.state));
            }
            if message.len() as u64 > limit {
                return Err(CapError::TooLarge {
                    what: "message",
                    limit,
                });
            }
            let bytes = message.len() as u64;
            let change = Change::new(
                (),
                if c.state == WsState::Open {
                    Wake::Work
                } else {
                    Wake::None
                },
            )
            .recorded(recording, || {
                CapRecord::new(Capability::Ws, RecordAction::Send, &c.url, Outcome::Queued)
                    .with_id(id)
                    .with_body(message.as_bytes())
                    .with_detail(kind_of(&message))
            });
            c.outbox.push(message, || format!("outbox of {id}"))?;
            c.sent += 1;
            c.sent_bytes += bytes;
            Ok(change)
        })
    }

    /// Takes every message waiting to be sent on `id`, oldest first.
    pub fn drain_outbox(&self, id: &str) -> Result<Vec<WsMessage>> {
        self.core().commit(|st, _| {
            let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
            Ok(Change::new(c.outbox.drain(), Wake::None))
        })
    }

    /// Delivers a message received on `id` (open or closing). A full inbox
    /// gives `QueueFull` (the executor decides whether to wait or drop); a
    /// message larger than the policy's `max_response_body` gives `TooLarge`.
    pub fn receive_message(&self, id: &str, message: impl Into<WsMessage>) -> Result<()> {
        let message = message.into();
        let limit = self.core().policy().max_response_body();
        self.core().commit(|st, recording| {
            let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
            if !matches!(c.state, WsState::Open | WsState::Closing) {
                return Err(wrong_state(id, c.state));
            }
            if message.len() as u64 > limit {
                return Err(CapError::TooLarge {
                    what: "message",
                    limit,
                });
            }
            let bytes = message.len() as u64;
            let change = Change::new((), Wake::Ready).recorded(recording, || {
                CapRecord::new(Capability::Ws, RecordAction::Receive, &c.url, Outcome::Ok)
                    .with_id(id)
                    .with_body(message.as_bytes())
                    .with_detail(kind_of(&message))
            });
            c.inbox.push(message, || format!("inbox of {id}"))?;
            c.received += 1;
            c.received_bytes += bytes;
            Ok(change)
        })
    }

    /// Takes the oldest received message of `id`, without waiting.
    pub fn read_message(&self, id: &str) -> Result<Option<WsMessage>> {
        self.core().commit(|st, _| {
            let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
            Ok(Change::new(c.inbox.pop(), Wake::None))
        })
    }

    /// Takes the oldest received message of `id`, waiting up to `timeout`
    /// (bounded by the thread's deadline); `None` once the connection is
    /// closed and every message has been read.
    pub fn wait_message(&self, id: &str, timeout: Duration) -> Result<Option<WsMessage>> {
        self.next_message(id, false, timeout)
    }

    fn next_message(
        &self,
        id: &str,
        nonblocking: bool,
        timeout: Duration,
    ) -> Result<Option<WsMessage>> {
        let r = self.core().ready().wait_for(nonblocking, timeout, || {
            self.core().apply(|st, _| {
                let taken = match st.conns.get_mut(id) {
                    None => Some(Err(unknown(id))),
                    Some(c) => match c.inbox.pop() {
                        Some(m) => Some(Ok(Some(m))),
                        None if c.state == WsState::Closed => Some(Ok(None)),
                        None => None,
                    },
                };
                Change::new(taken, Wake::None)
            })
        });
        match r {
            Ok(v) => v,
            Err(WaitEnd::WouldBlock) => Err(CapError::WouldBlock(format!("message on {id}"))),
            Err(WaitEnd::TimedOut) => Err(CapError::TimedOut(format!("message on {id}"))),
        }
    }

    /// The state of a connection.
    pub fn connection_state(&self, id: &str) -> Option<WsState> {
        self.state().conns.get(id).map(|c| c.state)
    }

    /// What `conns/{id}/status` shows.
    pub fn connection_status(&self, id: &str) -> Option<WsConnStatus> {
        self.state().conns.get(id).map(|c| conn_status(id, c))
    }

    /// The counters.
    pub fn status(&self) -> WsStatus {
        let st = self.state();
        let count = |s: WsState| st.conns.values().filter(|c| c.state == s).count();
        WsStatus {
            connecting: count(WsState::Connecting),
            open: count(WsState::Open),
            closing: count(WsState::Closing),
            closed: count(WsState::Closed),
            opened: st.opened,
            refused: st.refused,
            invalid: st.invalid,
            waiting_readers: self.core().ready().waiting(),
        }
    }

    fn status_json(&self) -> Value {
        let p = self.core().policy();
        let l = &self.core().limits();
        let conns: Vec<Value> = self
            .state()
            .conns
            .iter()
            .map(|(id, c)| json!({"id": id, "url": c.url, "state": c.state}))
            .collect();
        json!({
            "service": "ws",
            "counters": self.status(),
            "connections": conns,
            "limits": {
                "max_connections": l.max_connections,
                "max_closed": l.max_closed,
                "max_outbox": l.max_outbox,
                "max_inbox": l.max_inbox,
                "max_control": l.max_control,
                "wait_ms": u64::try_from(l.wait.as_millis()).unwrap_or(u64::MAX),
            },
            "policy": {
                "schemes": p.schemes(),
                "hosts": p.hosts(),
                "deny_hosts": p.deny_hosts(),
                "ports": p.ports(),
                "max_message_out": p.max_request_body(),
                "max_message_in": p.max_response_body(),
            },
        })
    }
}

/// Who asked for a connection: an agent's URL is checked against the policy
/// at once, the host's only by the executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Submitter {
    Agent,
    Host,
}

/// Checks that `url` is a `ws` or `wss` URL with a host.
fn ws_url(url: &str) -> Result<()> {
    let parsed = url::Url::parse(url)
        .map_err(|e| CapError::invalid(format!("field `url`: not an absolute URL ({e})")))?;
    if !matches!(parsed.scheme(), "ws" | "wss") || parsed.host().is_none() {
        return Err(CapError::invalid(format!(
            "field `url`: expected a ws or wss URL with a host, found `{url}`"
        )));
    }
    Ok(())
}

enum Control {
    Open(String),
    Close(String),
}

fn kind_of(m: &WsMessage) -> &'static str {
    match m {
        Body::Text(_) => "text",
        Body::Binary(_) => "binary",
    }
}

fn conn_status(id: &str, c: &Conn) -> WsConnStatus {
    WsConnStatus {
        id: id.to_owned(),
        url: c.url.clone(),
        state: c.state,
        outbox: c.outbox.len(),
        inbox: c.inbox.len(),
        sent: c.sent,
        received: c.received,
        sent_bytes: c.sent_bytes,
        received_bytes: c.received_bytes,
        error: c.error.clone(),
        opened_at: c.opened_at,
    }
}

/// A file of a connection directory, `/conns/{id}/...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnFile {
    /// `in`: the received messages, a stream.
    In,
    /// `out`: text messages to send.
    Out,
    /// `out.bin`: binary messages to send.
    OutBin,
    /// `status`.
    Status,
    /// `url`.
    Url,
}

impl ConnFile {
    /// Every file of a connection directory, with its name.
    const ALL: [(&'static str, Self); 5] = [
        ("in", Self::In),
        ("out", Self::Out),
        ("out.bin", Self::OutBin),
        ("status", Self::Status),
        ("url", Self::Url),
    ];

    /// Who may write it: the message files `out` and `out.bin`.
    fn access(self) -> Access {
        match self {
            Self::Out | Self::OutBin => Access::Writable,
            Self::In | Self::Status | Self::Url => Access::ReadOnly,
        }
    }
}

/// The declared names of a [`WsFs`], each with its typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WsNode {
    /// `/control`: the message file.
    Control,
    /// `/status`.
    Status,
    /// `/conns`: a directory per connection.
    ConnsDir,
}

/// An item of a [`WsFs`], below `/conns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WsItem {
    /// `/conns/{id}`.
    Conn(String),
    /// `/conns/{id}/{file}`.
    ConnFile(String, ConnFile),
}

impl WsFs {
    fn status_bytes(&self) -> Vec<u8> {
        json_bytes(&self.status_json())
    }

    fn conn_bytes(&self, id: &str, file: ConnFile) -> Option<Vec<u8>> {
        let st = self.state();
        conn_file_bytes(id, st.conns.get(id)?, file)
    }
}

/// The content of a connection's file that has one now (`status`, `url`).
fn conn_file_bytes(id: &str, c: &Conn, file: ConnFile) -> Option<Vec<u8>> {
    match file {
        ConnFile::Status => Some(json_bytes(&conn_status(id, c))),
        ConnFile::Url => Some(c.url.clone().into_bytes()),
        ConnFile::In | ConnFile::Out | ConnFile::OutBin => None,
    }
}

impl CapFiles for WsFs {
    type File = WsNode;
    type Item = WsItem;

    fn tree() -> &'static FixedTree<WsNode> {
        static TREE: LazyLock<FixedTree<WsNode>> = LazyLock::new(|| {
            FixedTree::builder()
                .file("/control", WsNode::Control, Access::Writable)
                .file("/status", WsNode::Status, Access::ReadOnly)
                .dynamic_dir("/conns", WsNode::ConnsDir)
                .build()
        });
        &TREE
    }

    fn resolve(&self, dir: &WsNode, rest: &str) -> Option<(WsItem, DynamicKind)> {
        if *dir != WsNode::ConnsDir {
            return None;
        }
        let (id, found) = match rest.split_once('/') {
            None => (rest, (WsItem::Conn(rest.to_owned()), DynamicKind::Dir)),
            Some((id, name)) => {
                let (_, file) = ConnFile::ALL.iter().find(|(n, _)| *n == name)?;
                let kind = DynamicKind::File(file.access());
                (id, (WsItem::ConnFile(id.to_owned(), *file), kind))
            }
        };
        self.state().conns.contains_key(id).then_some(found)
    }

    fn list(&self, _dir: &WsNode, item: Option<&WsItem>) -> Vec<DynamicEntry> {
        let st = self.state();
        match item {
            None => st.conns.keys().map(DynamicEntry::dir).collect(),
            Some(WsItem::Conn(id)) => {
                let Some(c) = st.conns.get(id) else {
                    return Vec::new();
                };
                ConnFile::ALL
                    .iter()
                    .map(|(name, f)| {
                        // `in` is a stream of messages: its size is not known.
                        let size = conn_file_bytes(id, c, *f).map_or(0, |b| b.len() as u64);
                        DynamicEntry::file(*name, size)
                    })
                    .collect()
            }
            Some(WsItem::ConnFile(..)) => Vec::new(),
        }
    }

    fn file_size(&self, file: &WsNode) -> u64 {
        match file {
            WsNode::Status => self.status_bytes().len() as u64,
            WsNode::Control | WsNode::ConnsDir => 0,
        }
    }

    fn item_size(&self, item: &WsItem) -> u64 {
        match item {
            WsItem::Conn(_) => 0,
            WsItem::ConnFile(id, file) => self.conn_bytes(id, *file).map_or(0, |b| b.len() as u64),
        }
    }

    fn open_file(
        &self,
        file: &FixedFile<'_, WsNode>,
        flags: OpenFlags,
    ) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        let (path, id) = (file.path(), file.id());
        let p = path.to_owned();
        match file.value() {
            WsNode::Control => {
                let svc = self.clone();
                Ok(MessageHandle::boxed(
                    path,
                    id,
                    flags,
                    Box::new(move |msg| {
                        svc.control_message(msg)
                            .map(Some)
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ))
            }
            WsNode::Status => Ok(ContentHandle::ready(path, id, self.status_bytes())),
            WsNode::ConnsDir => Err(FsError::is_a_directory(path)),
        }
    }

    fn open_item(
        &self,
        item: DynamicNode<'_, WsNode, WsItem>,
        flags: OpenFlags,
    ) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        let (p, file_id) = (item.path().to_owned(), item.id());
        let path = p.clone();
        let svc = self.clone();
        match item.into_node() {
            WsItem::ConnFile(id, ConnFile::Out) => Ok(OutHandle::boxed(
                MessageHandle::boxed(
                    &path,
                    file_id,
                    flags,
                    Box::new(move |msg| {
                        let text = std::str::from_utf8(msg).map_err(|_| {
                            FsError::invalid_input(
                                &p,
                                "a text message must be UTF-8 (write binary messages to `out.bin`)",
                            )
                        })?;
                        svc.send_message(&id, Body::Text(text.to_owned()))
                            .map(|()| None)
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ),
                flags,
            )),
            WsItem::ConnFile(id, ConnFile::OutBin) => Ok(OutHandle::boxed(
                MessageHandle::boxed(
                    &path,
                    file_id,
                    flags,
                    Box::new(move |msg| {
                        svc.send_message(&id, Body::Binary(msg.to_vec()))
                            .map(|()| None)
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ),
                flags,
            )),
            WsItem::ConnFile(id, ConnFile::In) => {
                let nonblocking = flags.nonblocking;
                let wait = self.core().limits().wait;
                Ok(StreamHandle::boxed(
                    &path,
                    file_id,
                    Box::new(move || {
                        svc.next_message(&id, nonblocking, wait)
                            .map(|m| m.map(|m| frame_message(&m)))
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ))
            }
            WsItem::ConnFile(id, file) => {
                let bytes = self
                    .conn_bytes(&id, file)
                    .ok_or_else(|| FsError::not_found(&path))?;
                Ok(ContentHandle::ready(&path, file_id, bytes))
            }
            WsItem::Conn(_) => Err(FsError::is_a_directory(&path)),
        }
    }
}

/// The bytes a read of `conns/{id}/in` gives for `message`: the header line
/// `text <len>\n` or `binary <len>\n`, then the payload.
pub fn frame_message(message: &WsMessage) -> Vec<u8> {
    let payload = message.as_bytes();
    let mut out = format!("{} {}\n", kind_of(message), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A handle on `out` or `out.bin`: each write one message (a zero-length
/// write one empty message), and a handle opened with `truncate` and never
/// written sends one empty message when flushed or closed.
struct OutHandle {
    inner: Box<dyn FileHandle>,
    /// Opened with `truncate` and nothing written yet.
    empty_pending: bool,
}

impl OutHandle {
    fn boxed(inner: Box<dyn FileHandle>, flags: OpenFlags) -> Box<dyn FileHandle> {
        Box::new(Self {
            inner,
            empty_pending: flags.truncate && flags.can_write(),
        })
    }

    /// Sends the empty message a truncating open stands for, once.
    fn send_pending_empty(&mut self) -> oanix_vfs::Result<()> {
        if self.empty_pending {
            self.empty_pending = false;
            self.inner.write(&[])?;
        }
        Ok(())
    }
}

impl FileHandle for OutHandle {
    fn read(&mut self, buf: &mut [u8]) -> oanix_vfs::Result<usize> {
        self.inner.read(buf)
    }

    fn write(&mut self, buf: &[u8]) -> oanix_vfs::Result<usize> {
        // A write is the message: the truncating open stands for nothing more.
        self.empty_pending = false;
        self.inner.write(buf)
    }

    fn seek(&mut self, pos: std::io::SeekFrom) -> oanix_vfs::Result<u64> {
        self.inner.seek(pos)
    }

    fn flush(&mut self) -> oanix_vfs::Result<()> {
        self.send_pending_empty()?;
        self.inner.flush()
    }

    fn stat(&self) -> oanix_vfs::Result<oanix_vfs::Metadata> {
        self.inner.stat()
    }

    fn set_len(&mut self, len: u64) -> oanix_vfs::Result<()> {
        self.inner.set_len(len)
    }

    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> oanix_vfs::Result<usize> {
        self.inner.read_at(buf, offset)
    }

    fn write_at(&mut self, buf: &[u8], _offset: u64) -> oanix_vfs::Result<usize> {
        self.write(buf)
    }
}

impl Drop for OutHandle {
    fn drop(&mut self) {
        // Closing is the last chance to send it; a failure here has no one
        // to be reported to (`flush` reports it).
        let _ = self.send_pending_empty();
    }
}

tree::cap_file_service!(WsFs, "wsfs");
