//! `WsFs`: WebSocket connections as files (`/cap/ws`), opened and fed by an
//! executor after the egress policy has accepted their URL.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use oanix_vfs::{DirEntry, FileHandle, FsError, OpenFlags, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::body::Body;
use crate::error::{CapError, Result};
use crate::message::parse_object;
use crate::notify::{EventListener, Signal, WaitEnd};
use crate::policy::EgressPolicy;
use crate::record::{CapRecord, Capability, Outcome, RecordSink, Recorder};
use crate::tree::{self, CapTree, ContentHandle, MessageHandle, Node, StreamHandle, json_bytes};

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
    outbox: VecDeque<WsMessage>,
    inbox: VecDeque<WsMessage>,
    sent: u64,
    received: u64,
    sent_bytes: u64,
    received_bytes: u64,
    error: Option<String>,
    opened_at: Timestamp,
}

#[derive(Debug, Default)]
struct WsTable {
    next_id: u64,
    conns: BTreeMap<String, Conn>,
    closed_order: VecDeque<String>,
    opened: u64,
    refused: u64,
    invalid: u64,
}

#[derive(Debug)]
struct WsInner {
    state: Mutex<WsTable>,
    policy: Arc<EgressPolicy>,
    limits: WsLimits,
    work: Signal,
    data: Signal,
    recorder: Recorder,
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
/// | `/conns/{id}/in` | read (blocks) | one whole message per read to the end |
/// | `/conns/{id}/status` | read | the connection's state and counters |
/// | `/conns/{id}/url` | read | the URL |
#[derive(Debug, Clone)]
pub struct WsFs {
    inner: Arc<WsInner>,
}

/// Builds a [`WsFs`]; see [`WsFs::builder`].
#[derive(Default)]
pub struct WsFsBuilder {
    policy: EgressPolicy,
    limits: WsLimits,
    sink: Option<RecordSink>,
}

impl fmt::Debug for WsFsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsFsBuilder")
            .field("policy", &self.policy)
            .field("limits", &self.limits)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

impl WsFsBuilder {
    /// Sets the egress policy (the default refuses everything).
    #[must_use]
    pub fn policy(mut self, policy: EgressPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the limits.
    #[must_use]
    pub fn limits(mut self, limits: WsLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sends a [`CapRecord`] of every connection and message to `sink`.
    #[must_use]
    pub fn record_sink(mut self, sink: RecordSink) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Builds the service.
    pub fn build(self) -> WsFs {
        WsFs {
            inner: Arc::new(WsInner {
                state: Mutex::new(WsTable {
                    next_id: 1,
                    ..WsTable::default()
                }),
                policy: Arc::new(self.policy),
                limits: self.limits,
                work: Signal::default(),
                data: Signal::default(),
                recorder: Recorder::new(self.sink),
            }),
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
    pub fn policy(&self) -> &Arc<EgressPolicy> {
        &self.inner.policy
    }

    /// The limits.
    pub fn limits(&self) -> &WsLimits {
        &self.inner.limits
    }

    /// Sets (or clears) where records go.
    pub fn set_record_sink(&self, sink: Option<RecordSink>) {
        self.inner.recorder.set(sink);
    }

    /// Sends a record made by an executor (a reconnection, a ping timeout)
    /// to the service's sink, if one is set.
    pub fn emit_record(&self, record: CapRecord) {
        self.inner.recorder.emit(record);
    }

    fn state(&self) -> MutexGuard<'_, WsTable> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn record(&self, make: impl FnOnce() -> CapRecord) {
        if self.inner.recorder.active() {
            self.inner.recorder.emit(make());
        }
    }

    /// Asks for a connection to `url` (checked against the policy); returns
    /// its id. The executor connects it.
    pub fn open_connection(&self, url: &str) -> Result<String> {
        if let Err(e) = self.inner.policy.check_ws(url) {
            let refused = !matches!(e, CapError::Invalid(_));
            let mut st = self.state();
            if refused {
                st.refused += 1;
            } else {
                st.invalid += 1;
            }
            drop(st);
            if refused {
                self.record(|| {
                    CapRecord::new(Capability::Ws, "open", url, Outcome::Refused)
                        .with_detail(e.to_string())
                });
            }
            return Err(e);
        }
        let mut st = self.state();
        let live = st
            .conns
            .values()
            .filter(|c| c.state != WsState::Closed)
            .count();
        let cap = self.inner.limits.max_connections;
        if live >= cap {
            st.refused += 1;
            drop(st);
            let e = CapError::QueueFull {
                what: "connections".into(),
                capacity: cap,
            };
            self.record(|| {
                CapRecord::new(Capability::Ws, "open", url, Outcome::Refused)
                    .with_detail(e.to_string())
            });
            return Err(e);
        }
        let id = format!("conn-{}", st.next_id);
        st.next_id += 1;
        st.opened += 1;
        st.conns.insert(
            id.clone(),
            Conn {
                url: url.to_owned(),
                state: WsState::Connecting,
                outbox: VecDeque::new(),
                inbox: VecDeque::new(),
                sent: 0,
                received: 0,
                sent_bytes: 0,
                received_bytes: 0,
                error: None,
                opened_at: Timestamp::now(),
            },
        );
        drop(st);
        self.record(|| CapRecord::new(Capability::Ws, "open", url, Outcome::Queued).with_id(&id));
        self.inner.work.notify();
        Ok(id)
    }

    /// Asks for a connection to close (nothing happens if it is already
    /// closing or closed). A connection never connected closes at once.
    pub fn close_connection(&self, id: &str) -> Result<()> {
        let mut st = self.state();
        let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
        match c.state {
            WsState::Open => c.state = WsState::Closing,
            WsState::Connecting => c.state = WsState::Closing,
            WsState::Closing | WsState::Closed => return Ok(()),
        }
        drop(st);
        self.inner.work.notify();
        self.inner.data.notify();
        Ok(())
    }

    /// Parses and applies one message written to `control`; returns the id
    /// of the connection opened or closed.
    pub fn control_message(&self, message: &[u8]) -> Result<String> {
        let r = self.parse_control(message);
        match r {
            Ok(Control::Open(url)) => self.open_connection(&url),
            Ok(Control::Close(id)) => self.close_connection(&id).map(|()| id),
            Err(e) => {
                self.state().invalid += 1;
                Err(e)
            }
        }
    }

    fn parse_control(&self, message: &[u8]) -> Result<Control> {
        if message.len() > self.inner.limits.max_control {
            return Err(CapError::TooLarge {
                what: "message",
                limit: self.inner.limits.max_control as u64,
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
        self.inner.work.listen()
    }

    /// A listener woken when a message arrives or a connection changes state.
    pub fn message_listener(&self) -> EventListener {
        self.inner.data.listen()
    }

    /// The executor connected `id`.
    pub fn set_connected(&self, id: &str) -> Result<()> {
        let mut st = self.state();
        let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
        if c.state != WsState::Connecting {
            return Err(wrong_state(id, c.state));
        }
        c.state = WsState::Open;
        let url = c.url.clone();
        let flush = !c.outbox.is_empty();
        drop(st);
        self.record(|| CapRecord::new(Capability::Ws, "connected", url, Outcome::Ok).with_id(id));
        if flush {
            self.inner.work.notify();
        }
        self.inner.data.notify();
        Ok(())
    }

    /// The connection closed (or could not be made): `error` says why, or
    /// `None` for a clean close. Unsent messages are dropped; received ones
    /// can still be read.
    pub fn set_closed(&self, id: &str, error: Option<String>) -> Result<()> {
        let mut st = self.state();
        let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
        if c.state == WsState::Closed {
            return Ok(());
        }
        c.state = WsState::Closed;
        c.outbox.clear();
        c.error = error.clone();
        let url = c.url.clone();
        st.closed_order.push_back(id.to_owned());
        let max_closed = self.inner.limits.max_closed;
        while st.closed_order.len() > max_closed {
            let Some(old) = st.closed_order.pop_front() else {
                break;
            };
            st.conns.remove(&old);
        }
        drop(st);
        self.record(|| {
            let outcome = if error.is_some() {
                Outcome::Failed
            } else {
                Outcome::Ok
            };
            let r = CapRecord::new(Capability::Ws, "close", url, outcome).with_id(id);
            match &error {
                Some(e) => r.with_detail(e.clone()),
                None => r,
            }
        });
        self.inner.data.notify();
        Ok(())
    }

    /// Queues a message to send on `id` (connecting or open). A full outbox
    /// gives `QueueFull` and changes nothing; so does a message larger than
    /// the policy's `max_request_body` (`TooLarge`).
    pub fn send_message(&self, id: &str, message: impl Into<WsMessage>) -> Result<()> {
        let message = message.into();
        let limit = self.inner.policy.max_request_body;
        let mut st = self.state();
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
        let cap = self.inner.limits.max_outbox;
        if c.outbox.len() >= cap {
            return Err(CapError::QueueFull {
                what: format!("outbox of {id}"),
                capacity: cap,
            });
        }
        c.sent += 1;
        c.sent_bytes += message.len() as u64;
        let record = self.inner.recorder.active().then(|| {
            CapRecord::new(Capability::Ws, "send", &c.url, Outcome::Queued)
                .with_id(id)
                .with_body(message.as_bytes())
                .with_detail(kind_of(&message))
        });
        let open = c.state == WsState::Open;
        c.outbox.push_back(message);
        drop(st);
        if let Some(r) = record {
            self.inner.recorder.emit(r);
        }
        if open {
            self.inner.work.notify();
        }
        Ok(())
    }

    /// Takes every message waiting to be sent on `id`, oldest first.
    pub fn drain_outbox(&self, id: &str) -> Result<Vec<WsMessage>> {
        let mut st = self.state();
        let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
        Ok(c.outbox.drain(..).collect())
    }

    /// Delivers a message received on `id` (open or closing). A full inbox
    /// gives `QueueFull` (the executor decides whether to wait or drop); a
    /// message larger than the policy's `max_response_body` gives `TooLarge`.
    pub fn receive_message(&self, id: &str, message: impl Into<WsMessage>) -> Result<()> {
        let message = message.into();
        let limit = self.inner.policy.max_response_body;
        let mut st = self.state();
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
        let cap = self.inner.limits.max_inbox;
        if c.inbox.len() >= cap {
            return Err(CapError::QueueFull {
                what: format!("inbox of {id}"),
                capacity: cap,
            });
        }
        c.received += 1;
        c.received_bytes += message.len() as u64;
        let record = self.inner.recorder.active().then(|| {
            CapRecord::new(Capability::Ws, "receive", &c.url, Outcome::Ok)
                .with_id(id)
                .with_body(message.as_bytes())
                .with_detail(kind_of(&message))
        });
        c.inbox.push_back(message);
        drop(st);
        if let Some(r) = record {
            self.inner.recorder.emit(r);
        }
        self.inner.data.notify();
        Ok(())
    }

    /// Takes the oldest received message of `id`, without waiting.
    pub fn read_message(&self, id: &str) -> Result<Option<WsMessage>> {
        let mut st = self.state();
        let c = st.conns.get_mut(id).ok_or_else(|| unknown(id))?;
        Ok(c.inbox.pop_front())
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
        let r = self.inner.data.wait_for(nonblocking, timeout, || {
            let mut st = self.state();
            let Some(c) = st.conns.get_mut(id) else {
                return Some(Err(unknown(id)));
            };
            match c.inbox.pop_front() {
                Some(m) => Some(Ok(Some(m))),
                None if c.state == WsState::Closed => Some(Ok(None)),
                None => None,
            }
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
            waiting_readers: self.inner.data.waiting(),
        }
    }

    fn status_json(&self) -> Value {
        let p = &self.inner.policy;
        let l = &self.inner.limits;
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
                "schemes": p.schemes,
                "hosts": p.hosts,
                "deny_hosts": p.deny_hosts,
                "ports": p.ports,
                "max_message_out": p.max_request_body,
                "max_message_in": p.max_response_body,
            },
        })
    }
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

/// The files of one connection directory, with their writability.
const CONN_FILES: &[(&str, bool)] = &[
    ("in", false),
    ("out", true),
    ("out.bin", true),
    ("status", false),
    ("url", false),
];

/// `"/conns/conn-1/out"` → `Some(("conn-1", Some("out")))`, `"/conns/conn-1"`
/// → `Some(("conn-1", None))`.
fn split_conn(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path.strip_prefix("/conns/")?;
    match rest.split_once('/') {
        Some((id, file)) if !file.contains('/') => Some((id, Some(file))),
        Some(_) => None,
        None => Some((rest, None)),
    }
}

impl CapTree for WsFs {
    fn node(&self, path: &str) -> Option<Node> {
        match path {
            "/" | "/conns" => Some(Node::Dir),
            "/control" => Some(Node::File {
                writable: true,
                size: 0,
            }),
            "/status" => Some(Node::File {
                writable: false,
                size: 0,
            }),
            _ => {
                let (id, file) = split_conn(path)?;
                if !self.state().conns.contains_key(id) {
                    return None;
                }
                match file {
                    None => Some(Node::Dir),
                    Some(f) => CONN_FILES
                        .iter()
                        .find(|(n, _)| *n == f)
                        .map(|(_, w)| Node::File {
                            writable: *w,
                            size: 0,
                        }),
                }
            }
        }
    }

    fn entries(&self, path: &str) -> Vec<DirEntry> {
        let ro = Node::File {
            writable: false,
            size: 0,
        };
        match path {
            "/" => vec![
                tree::entry("/", "conns", Node::Dir),
                tree::entry(
                    "/",
                    "control",
                    Node::File {
                        writable: true,
                        size: 0,
                    },
                ),
                tree::entry("/", "status", ro),
            ],
            "/conns" => self
                .state()
                .conns
                .keys()
                .map(|id| tree::entry(path, id, Node::Dir))
                .collect(),
            _ => CONN_FILES
                .iter()
                .map(|(n, w)| {
                    tree::entry(
                        path,
                        n,
                        Node::File {
                            writable: *w,
                            size: 0,
                        },
                    )
                })
                .collect(),
        }
    }

    fn open_file(&self, path: &str, flags: OpenFlags) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        let p = path.to_owned();
        match path {
            "/control" => {
                let svc = self.clone();
                return Ok(MessageHandle::boxed(
                    path,
                    flags,
                    Box::new(move |msg| {
                        svc.control_message(msg)
                            .map(Some)
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ));
            }
            "/status" => return Ok(ContentHandle::ready(path, json_bytes(&self.status_json()))),
            _ => {}
        }
        let Some((id, Some(file))) = split_conn(path) else {
            return Err(FsError::not_found(path));
        };
        let id = id.to_owned();
        let svc = self.clone();
        match file {
            "out" => Ok(MessageHandle::boxed(
                path,
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
            )),
            "out.bin" => Ok(MessageHandle::boxed(
                path,
                flags,
                Box::new(move |msg| {
                    svc.send_message(&id, Body::Binary(msg.to_vec()))
                        .map(|()| None)
                        .map_err(|e| e.into_fs_error(&p))
                }),
            )),
            "in" => {
                let nonblocking = flags.nonblocking;
                let wait = self.inner.limits.wait;
                Ok(StreamHandle::boxed(
                    path,
                    Box::new(move || {
                        svc.next_message(&id, nonblocking, wait)
                            .map(|m| m.map(Body::into_bytes))
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ))
            }
            "status" => {
                let s = self
                    .connection_status(&id)
                    .ok_or_else(|| FsError::not_found(path))?;
                Ok(ContentHandle::ready(path, json_bytes(&s)))
            }
            "url" => {
                let st = self.state();
                let c = st.conns.get(&id).ok_or_else(|| FsError::not_found(path))?;
                Ok(ContentHandle::ready(path, c.url.clone().into_bytes()))
            }
            _ => Err(FsError::not_found(path)),
        }
    }
}

tree::cap_file_service!(WsFs, "wsfs");
