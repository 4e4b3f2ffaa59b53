//! Provenance records: one [`CapRecord`] for every request, connection,
//! message and event that passes through a capability, delivered to a sink.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use oanix_vfs::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A name of the host's own for a capability or an action in records
/// ([`Capability::Custom`], [`RecordAction::Custom`]): 1 to 32 characters,
/// lowercase ASCII letters, digits, `-` and `_`, starting with a letter.
///
/// ```
/// use oanix_caps::RecordName;
///
/// assert_eq!(RecordName::new("clock")?.as_str(), "clock");
/// assert!(RecordName::new("Clock").is_err());
/// # Ok::<(), oanix_caps::CapError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordName(Arc<str>);

impl RecordName {
    /// The longest name, in bytes.
    pub const MAX_LEN: usize = 32;

    /// `name`, if it is a valid record name.
    pub fn new(name: &str) -> crate::error::Result<Self> {
        let problem = if name.is_empty() || name.len() > Self::MAX_LEN {
            Some("a record name has 1 to 32 characters")
        } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            Some("a record name starts with a lowercase letter")
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        {
            Some("a record name has only lowercase letters, digits, `-` and `_`")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(crate::error::CapError::Invalid(format!(
                "record name `{name}`: {problem}"
            ))),
            None => Ok(Self(Arc::from(name))),
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RecordName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which capability produced a record: one of the library's three, or one
/// of the host's own ([`Custom`](Self::Custom)). Serialised as its name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// [`HttpFs`](crate::HttpFs).
    Http,
    /// [`WsFs`](crate::WsFs).
    Ws,
    /// `NostrFs`.
    Nostr,
    /// A capability of the host's own, by its name.
    Custom(RecordName),
}

impl Capability {
    /// A capability of the host's own named `name` (a known name gives the
    /// library's variant).
    pub fn custom(name: &str) -> crate::error::Result<Self> {
        Ok(Self::from_name(RecordName::new(name)?))
    }

    fn from_name(name: RecordName) -> Self {
        match name.as_str() {
            "http" => Self::Http,
            "ws" => Self::Ws,
            "nostr" => Self::Nostr,
            _ => Self::Custom(name),
        }
    }

    /// The lowercase name (`"http"`, `"ws"`, `"nostr"`, or the custom name).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Http => "http",
            Self::Ws => "ws",
            Self::Nostr => "nostr",
            Self::Custom(name) => name.as_str(),
        }
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Capability {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Capability {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::custom(&name).map_err(serde::de::Error::custom)
    }
}

/// What a record is about. Serialised (in records, files and
/// `events.jsonl`) as the lowercase word [`as_str`](Self::as_str) gives;
/// the host's own capabilities name their own actions
/// ([`Custom`](Self::Custom)).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RecordAction {
    /// An HTTP request accepted, refused or failed to queue.
    Request,
    /// An HTTP response or failure delivered.
    Response,
    /// An HTTP attempt retried by the executor.
    Retry,
    /// An HTTP redirect followed or refused by the executor.
    Redirect,
    /// An egress policy replaced while the capability runs.
    Policy,
    /// A `CONNECT` tunnel through the egress proxy: opened, refused, or closed
    /// with the bytes it carried.
    Tunnel,
    /// A WebSocket connection asked for.
    Open,
    /// A WebSocket connection made.
    Connected,
    /// A WebSocket message queued for sending.
    Send,
    /// A WebSocket message or Nostr event received (or dropped).
    Receive,
    /// A WebSocket connection closed.
    Close,
    /// A dropped WebSocket about to be dialled again.
    Reconnect,
    /// A dropped WebSocket connected again.
    Reconnected,
    /// A Nostr event signed into the outbox.
    Sign,
    /// A Nostr event published to a relay, refused by it, or retried.
    Publish,
    /// A relay answered that it already had the event.
    Duplicate,
    /// A relay added to a NostrFs, or refused by its policy.
    Relay,
    /// A relay connection made, refused or failed.
    Connect,
    /// A relay connection dropped.
    Disconnect,
    /// A relay's `NOTICE`, or a relay message that was ignored.
    Notice,
    /// A relay's end of stored events for a subscription.
    Eose,
    /// A subscription the relay closed.
    Closed,
    /// A relay asked for NIP-42 authentication.
    Auth,
    /// An action of a capability of the host's own, by its name.
    Custom(RecordName),
}

impl RecordAction {
    /// Every action, in declaration order.
    pub const ALL: &'static [Self] = &[
        Self::Request,
        Self::Response,
        Self::Retry,
        Self::Redirect,
        Self::Tunnel,
        Self::Policy,
        Self::Open,
        Self::Connected,
        Self::Send,
        Self::Receive,
        Self::Close,
        Self::Reconnect,
        Self::Reconnected,
        Self::Sign,
        Self::Publish,
        Self::Duplicate,
        Self::Relay,
        Self::Connect,
        Self::Disconnect,
        Self::Notice,
        Self::Eose,
        Self::Closed,
        Self::Auth,
    ];

    /// An action of the host's own named `name` (a known word gives the
    /// library's variant).
    pub fn custom(name: &str) -> crate::error::Result<Self> {
        let name = RecordName::new(name)?;
        Ok(Self::ALL
            .iter()
            .find(|a| a.as_str() == name.as_str())
            .cloned()
            .unwrap_or(Self::Custom(name)))
    }

    /// The action as a lowercase word (`"request"`, `"reconnected"`...).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
            Self::Retry => "retry",
            Self::Redirect => "redirect",
            Self::Tunnel => "tunnel",
            Self::Policy => "policy",
            Self::Open => "open",
            Self::Connected => "connected",
            Self::Send => "send",
            Self::Receive => "receive",
            Self::Close => "close",
            Self::Reconnect => "reconnect",
            Self::Reconnected => "reconnected",
            Self::Sign => "sign",
            Self::Publish => "publish",
            Self::Duplicate => "duplicate",
            Self::Relay => "relay",
            Self::Connect => "connect",
            Self::Disconnect => "disconnect",
            Self::Notice => "notice",
            Self::Eose => "eose",
            Self::Closed => "closed",
            Self::Auth => "auth",
            Self::Custom(name) => name.as_str(),
        }
    }
}

impl Serialize for RecordAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RecordAction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::custom(&name).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for RecordAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for RecordAction {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RecordAction {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// How the recorded action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Outcome {
    /// Accepted and queued for an executor.
    Queued,
    /// Done successfully.
    Ok,
    /// Refused by the egress policy (or by a limit) before anything left.
    Refused,
    /// Attempted and failed (connection error, timeout, invalid signature...).
    Failed,
}

/// One provenance record.
///
/// Records never contain header values, injected secrets or keys: only what
/// happened, to what, when, how it ended, how many bytes were involved and a
/// SHA-256 digest of the body or payload. They serialise to one JSON object
/// per line, ready for an event log such as `/logs/events.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CapRecord {
    /// When it happened.
    pub at: Timestamp,
    /// The capability.
    pub capability: Capability,
    /// What happened.
    pub action: RecordAction,
    /// The id of the request, connection or event, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    /// The target: a URL, a relay, an event kind.
    pub target: String,
    /// How it ended.
    pub outcome: Outcome,
    /// Bytes of body or payload involved.
    pub bytes: u64,
    /// `sha256:` and the hex digest of the body or payload, when there is one.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub digest: Option<String>,
    /// More about the outcome: the refusal reason, the HTTP status, the error.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

impl CapRecord {
    /// A record of `action` on `target`, now, with no bytes.
    pub fn new(
        capability: Capability,
        action: RecordAction,
        target: impl Into<String>,
        outcome: Outcome,
    ) -> Self {
        Self {
            at: Timestamp::now(),
            capability,
            action,
            id: None,
            target: target.into(),
            outcome,
            bytes: 0,
            digest: None,
            detail: None,
        }
    }

    /// Sets the id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the byte count and the digest from a body.
    #[must_use]
    pub fn with_body(mut self, body: &[u8]) -> Self {
        self.bytes = body.len() as u64;
        self.digest = Some(sha256_digest(body));
        self
    }

    /// Sets the byte count without a digest.
    #[must_use]
    pub fn with_bytes(mut self, bytes: u64) -> Self {
        self.bytes = bytes;
        self
    }

    /// Sets the detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// The record as one line of JSON (without the newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `sha256:` followed by the lowercase hex SHA-256 of `data`.
pub fn sha256_digest(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// Where records go: called once per record, on the thread that caused it,
/// never while a service holds its own lock (so a sink may call back into the
/// service).
pub type RecordSink = Arc<dyn Fn(&CapRecord) + Send + Sync>;

/// The optional sink of one service, settable after construction.
#[derive(Default)]
pub(crate) struct Recorder {
    sink: RwLock<Option<RecordSink>>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self
            .sink
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some();
        f.debug_struct("Recorder").field("sink", &set).finish()
    }
}

impl Recorder {
    pub(crate) fn new(sink: Option<RecordSink>) -> Self {
        Self {
            sink: RwLock::new(sink),
        }
    }

    pub(crate) fn set(&self, sink: Option<RecordSink>) {
        *self.sink.write().unwrap_or_else(PoisonError::into_inner) = sink;
    }

    /// Whether anyone listens (lets callers skip building records).
    pub(crate) fn active(&self) -> bool {
        self.sink
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    pub(crate) fn emit(&self, record: CapRecord) {
        let sink = self
            .sink
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(sink) = sink {
            sink(&record);
        }
    }
}

/// A bounded in-memory collection of records: the simplest sink, handy for
/// tests and for hosts that read records back later.
///
/// ```
/// use oanix_caps::{HttpFs, RecordLog};
///
/// let log = RecordLog::new(1000);
/// let http = HttpFs::builder().record_sink(log.sink()).build();
/// # let _ = http;
/// assert!(log.records().is_empty());
/// ```
#[derive(Debug, Clone)]
pub struct RecordLog {
    inner: Arc<Mutex<LogInner>>,
}

#[derive(Debug)]
struct LogInner {
    records: VecDeque<CapRecord>,
    capacity: usize,
    dropped: u64,
}

impl RecordLog {
    /// A log keeping the last `capacity` records.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(LogInner {
                records: VecDeque::new(),
                capacity: capacity.max(1),
                dropped: 0,
            })),
        }
    }

    /// A sink that appends to this log.
    pub fn sink(&self) -> RecordSink {
        let inner = Arc::clone(&self.inner);
        Arc::new(move |r: &CapRecord| {
            let mut g = inner.lock().unwrap_or_else(PoisonError::into_inner);
            if g.records.len() >= g.capacity {
                g.records.pop_front();
                g.dropped += 1;
            }
            g.records.push_back(r.clone());
        })
    }

    /// The records kept, oldest first.
    pub fn records(&self) -> Vec<CapRecord> {
        let g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.records.iter().cloned().collect()
    }

    /// How many older records were dropped to stay within the capacity.
    pub fn dropped(&self) -> u64 {
        self.inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped
    }

    /// Removes and returns the records kept.
    pub fn take(&self) -> Vec<CapRecord> {
        let mut g = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        g.records.drain(..).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_serialise_to_one_json_line() {
        let r = CapRecord::new(
            Capability::Http,
            RecordAction::Request,
            "https://a.example/",
            Outcome::Queued,
        )
        .with_id("req-1")
        .with_body(b"abc");
        let line = r.to_json_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["capability"], "http");
        assert_eq!(v["outcome"], "queued");
        assert_eq!(v["action"], "request");
        assert_eq!(v["bytes"], 3);
        assert_eq!(
            v["digest"],
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(v.get("detail").is_none());
        let back: CapRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn actions_serialise_to_their_words() {
        for a in RecordAction::ALL {
            let json = serde_json::to_value(a).unwrap();
            assert_eq!(json, a.as_str());
            assert_eq!(a.to_string(), a.as_str());
            let back: RecordAction = serde_json::from_value(json).unwrap();
            assert_eq!(back, *a);
        }
        let words: std::collections::BTreeSet<_> =
            RecordAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(words.len(), RecordAction::ALL.len());
        // Any other valid name is an action of the host's own; an invalid one is refused.
        let custom: RecordAction = serde_json::from_str("\"tick\"").unwrap();
        assert_eq!(custom, RecordAction::custom("tick").unwrap());
        assert!(matches!(custom, RecordAction::Custom(_)));
        assert_eq!(serde_json::to_string(&custom).unwrap(), "\"tick\"");
        for bad in ["\"Tick\"", "\"\"", "\"1x\"", "\"a b\"", "\"tick!\""] {
            assert!(serde_json::from_str::<RecordAction>(bad).is_err(), "{bad}");
        }
        assert_eq!(RecordAction::custom("retry").unwrap(), RecordAction::Retry);
    }

    #[test]
    fn capabilities_of_the_hosts_own_have_names() {
        for (name, known) in [
            ("http", true),
            ("ws", true),
            ("nostr", true),
            ("clock", false),
        ] {
            let c = Capability::custom(name).unwrap();
            assert_eq!(c.as_str(), name);
            assert_eq!(matches!(c, Capability::Custom(_)), !known, "{name}");
            let json = serde_json::to_value(&c).unwrap();
            assert_eq!(json, name);
            assert_eq!(serde_json::from_value::<Capability>(json).unwrap(), c);
        }
        let long = "a".repeat(RecordName::MAX_LEN + 1);
        for bad in ["", "Clock", "9lives", "cl ock", "clock/1", long.as_str()] {
            let e = Capability::custom(bad).unwrap_err().to_string();
            assert!(e.contains("record name"), "{bad}: {e}");
        }
    }

    #[test]
    fn record_log_is_bounded() {
        let log = RecordLog::new(2);
        let sink = log.sink();
        for i in 0..3 {
            sink(&CapRecord::new(
                Capability::Ws,
                RecordAction::Send,
                format!("t{i}"),
                Outcome::Ok,
            ));
        }
        let kept: Vec<_> = log.records().into_iter().map(|r| r.target).collect();
        assert_eq!(kept, ["t1", "t2"]);
        assert_eq!(log.dropped(), 1);
        assert_eq!(log.take().len(), 2);
        assert!(log.records().is_empty());
    }
}
