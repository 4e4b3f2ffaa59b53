//! `NostrFs`: a Nostr identity as files (`/cap/nostr`): events signed for
//! the agent without it ever seeing the key, NIP-90 job requests, an outbox
//! for the relay executor and a verified inbox.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, LazyLock, MutexGuard};
use std::time::Duration;

use nostr::event::{Event, EventBuilder, FinalizeEvent, Kind, Tag};
use nostr::key::{Keys, PublicKey, SecretKey};
use nostr::nips::nip19::ToBech32;
use oanix_prims::{Access, DynamicEntry, DynamicKind, DynamicNode, FixedFile, FixedTree};
use oanix_vfs::{FileHandle, FsError, OpenFlags, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::cap_core::{CapCore, Change, CoreParts, Wake};
use crate::error::{CapError, Result};
use crate::message::{Fields, parse_object};
use crate::notify::{EventListener, WaitEnd};
use crate::policy::EgressPolicy;
use crate::queue::Recent;
use crate::record::{CapRecord, Capability, Outcome, RecordAction, RecordSink};
use crate::tree::{self, CapFiles, ContentHandle, MessageHandle, StreamHandle, json_bytes};

/// The kinds of NIP-90 job requests; a job's result has the request's kind
/// plus 1000, and feedback is kind 7000.
pub const JOB_REQUEST_KINDS: std::ops::RangeInclusive<u16> = 5000..=5999;
/// The kinds of NIP-90 job results.
pub const JOB_RESULT_KINDS: std::ops::RangeInclusive<u16> = 6000..=6999;
/// The kind of NIP-90 job feedback.
pub const JOB_FEEDBACK_KIND: u16 = 7000;
/// Subscription ids starting with this are the service's own: each job
/// request waiting for its result has one (see [`NostrFs::subscriptions`]).
pub const JOB_SUBSCRIPTION_PREFIX: &str = "job-";
/// Feedback events kept per job request; past this the oldest are dropped.
pub const MAX_JOB_FEEDBACK: usize = 64;
/// The longest subscription id `/subscribe` takes, in characters (relays
/// take ids up to 64).
pub const MAX_SUBSCRIPTION_ID: usize = 64;
/// The longest NIP-42 challenge [`NostrFs::sign_auth`] signs, in bytes.
pub const MAX_AUTH_CHALLENGE: usize = 1024;

/// A NIP-01 subscription filter, serialised as relays expect it (`#e`, `#p`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Filter {
    /// Event ids (hex).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ids: Option<Vec<String>>,
    /// Author public keys (hex).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub authors: Option<Vec<String>>,
    /// Event kinds.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub kinds: Option<Vec<u16>>,
    /// Events referenced by an `e` tag.
    #[serde(rename = "#e", skip_serializing_if = "Option::is_none", default)]
    pub e_tags: Option<Vec<String>>,
    /// Public keys referenced by a `p` tag.
    #[serde(rename = "#p", skip_serializing_if = "Option::is_none", default)]
    pub p_tags: Option<Vec<String>>,
    /// Not before (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub since: Option<u64>,
    /// Not after (seconds since the epoch).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub until: Option<u64>,
    /// At most this many stored events.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub limit: Option<u64>,
}

impl Filter {
    /// A filter matching everything.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds event ids.
    #[must_use]
    pub fn ids<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.ids
            .get_or_insert_with(Vec::new)
            .extend(ids.into_iter().map(Into::into));
        self
    }
    /// Adds authors.
    #[must_use]
    pub fn authors<I: IntoIterator<Item = S>, S: Into<String>>(mut self, authors: I) -> Self {
        self.authors
            .get_or_insert_with(Vec::new)
            .extend(authors.into_iter().map(Into::into));
        self
    }
    /// Adds kinds.
    #[must_use]
    pub fn kinds(mut self, kinds: impl IntoIterator<Item = u16>) -> Self {
        self.kinds.get_or_insert_with(Vec::new).extend(kinds);
        self
    }
    /// Adds `#e` references.
    #[must_use]
    pub fn events<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> Self {
        self.e_tags
            .get_or_insert_with(Vec::new)
            .extend(ids.into_iter().map(Into::into));
        self
    }
    /// Adds `#p` references.
    #[must_use]
    pub fn pubkeys<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keys: I) -> Self {
        self.p_tags
            .get_or_insert_with(Vec::new)
            .extend(keys.into_iter().map(Into::into));
        self
    }
    /// Sets `since`.
    #[must_use]
    pub fn since(mut self, secs: u64) -> Self {
        self.since = Some(secs);
        self
    }
    /// Sets `until`.
    #[must_use]
    pub fn until(mut self, secs: u64) -> Self {
        self.until = Some(secs);
        self
    }
    /// Sets `limit`.
    #[must_use]
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Whether `event` matches (NIP-01: every condition given holds; `limit`
    /// does not apply to single events).
    pub fn matches(&self, event: &Event) -> bool {
        let tag_values = |name: &str| -> Vec<&str> {
            event
                .tags
                .iter()
                .filter(|t| t.kind() == name)
                .filter_map(|t| t.content())
                .collect()
        };
        let any = |want: &Option<Vec<String>>, have: &[&str]| {
            want.as_ref()
                .is_none_or(|w| w.iter().any(|x| have.contains(&x.as_str())))
        };
        let created = event.created_at.as_secs();
        any(&self.ids, &[event.id.to_hex().as_str()])
            && any(&self.authors, &[event.pubkey.to_hex().as_str()])
            && self
                .kinds
                .as_ref()
                .is_none_or(|k| k.contains(&event.kind.as_u16()))
            && any(&self.e_tags, &tag_values("e"))
            && any(&self.p_tags, &tag_values("p"))
            && self.since.is_none_or(|s| created >= s)
            && self.until.is_none_or(|u| created <= u)
    }
}

/// One input of a NIP-90 job request: `["i", data, type, relay, marker]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct JobInput {
    /// The data (text, a URL, an event id, a job id).
    pub data: String,
    /// `text`, `url`, `event` or `job`.
    pub input_type: String,
    /// A relay hint, for `event` and `job` inputs.
    pub relay: Option<String>,
    /// A marker saying how the input is used.
    pub marker: Option<String>,
}

impl JobInput {
    /// A text input.
    pub fn text(data: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            input_type: "text".into(),
            relay: None,
            marker: None,
        }
    }
}

/// A NIP-90 job request, before signing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct JobRequest {
    /// The kind, 5000–5999.
    pub kind: u16,
    /// The inputs.
    pub inputs: Vec<JobInput>,
    /// Parameters: `["param", key, value]`.
    pub params: BTreeMap<String, String>,
    /// The expected output MIME type: `["output", mime]`.
    pub output: Option<String>,
    /// The most the customer will pay, in millisats: `["bid", msats]`.
    pub bid: Option<u64>,
    /// Relays where providers should publish: `["relays", ...]`.
    pub relays: Vec<String>,
    /// Providers asked (hex public keys): `["p", pubkey]`.
    pub providers: Vec<String>,
    /// The content (usually empty).
    pub content: String,
}

impl JobRequest {
    /// A request of `kind` with one text input.
    pub fn new(kind: u16, input: impl Into<String>) -> Self {
        Self {
            kind,
            inputs: vec![JobInput::text(input)],
            ..Self::default()
        }
    }

    /// The tags of the request, checked.
    fn tags(&self) -> Result<Vec<Tag>> {
        if !JOB_REQUEST_KINDS.contains(&self.kind) {
            return Err(CapError::invalid(format!(
                "field `kind`: a job request kind is 5000-5999, found {}",
                self.kind
            )));
        }
        let mut tags = Vec::new();
        for (i, input) in self.inputs.iter().enumerate() {
            if !["text", "url", "event", "job"].contains(&input.input_type.as_str()) {
                return Err(CapError::invalid(format!(
                    "field `inputs[{i}].type`: expected one of text, url, event, job, found `{}`",
                    input.input_type
                )));
            }
            let mut v = vec![input.data.clone(), input.input_type.clone()];
            match (&input.relay, &input.marker) {
                (Some(r), Some(m)) => v.extend([r.clone(), m.clone()]),
                (Some(r), None) => v.push(r.clone()),
                (None, Some(m)) => v.extend([String::new(), m.clone()]),
                (None, None) => {}
            }
            tags.push(Tag::custom("i", v));
        }
        for (k, v) in &self.params {
            tags.push(Tag::custom("param", [k.as_str(), v.as_str()]));
        }
        if let Some(o) = &self.output {
            tags.push(Tag::custom("output", [o.as_str()]));
        }
        if let Some(b) = self.bid {
            tags.push(Tag::custom("bid", [b.to_string()]));
        }
        if !self.relays.is_empty() {
            tags.push(Tag::custom("relays", self.relays.clone()));
        }
        for (i, p) in self.providers.iter().enumerate() {
            PublicKey::from_hex(p).map_err(|_| {
                CapError::invalid(format!(
                    "field `providers[{i}]`: expected a 64-character hex public key"
                ))
            })?;
            tags.push(Tag::custom("p", [p.as_str()]));
        }
        Ok(tags)
    }
}

/// The bounds and waits of a [`NostrFs`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NostrLimits {
    /// Signed events waiting to be published, at most. Default 256.
    pub max_outbox: usize,
    /// Received events kept; past this the oldest are dropped. Default 1024.
    pub max_inbox: usize,
    /// The largest message written to `submit`, `request` or `subscribe`.
    /// Default 64 KiB.
    pub max_message: usize,
    /// Relays, at most. Default 16.
    pub max_relays: usize,
    /// Subscriptions, at most. Default 32.
    pub max_subscriptions: usize,
    /// Job requests whose results are awaited. Default 256.
    pub max_jobs: usize,
    /// Outcomes of events that left the outbox kept for
    /// `published/{id}.json`; past this the oldest are forgotten. Default 1024.
    pub max_published: usize,
    /// Matching events queued per subscription opened through
    /// `/subscribe`, waiting to be read from `subs/{id}/events`; past this
    /// the oldest is dropped and counted (`dropped` in `subs/{id}/status`).
    /// Default 256.
    pub max_sub_events: usize,
    /// How long a read of `jobs/{id}.json` or `subs/{id}/events` waits.
    /// Default 60 s (and never past the thread's
    /// [`deadline`](oanix_vfs::deadline)).
    pub wait: Duration,
}

impl Default for NostrLimits {
    fn default() -> Self {
        Self {
            max_outbox: 256,
            max_inbox: 1024,
            max_message: 64 << 10,
            max_relays: 16,
            max_subscriptions: 32,
            max_jobs: 256,
            max_published: 1024,
            max_sub_events: 256,
            wait: Duration::from_secs(60),
        }
    }
}

impl NostrLimits {
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
    /// Sets `max_message`.
    #[must_use]
    pub fn max_message(mut self, n: usize) -> Self {
        self.max_message = n;
        self
    }
    /// Sets `max_published`.
    #[must_use]
    pub fn max_published(mut self, n: usize) -> Self {
        self.max_published = n;
        self
    }
    /// Sets `max_sub_events`.
    #[must_use]
    pub fn max_sub_events(mut self, n: usize) -> Self {
        self.max_sub_events = n;
        self
    }
    /// Sets `wait`.
    #[must_use]
    pub fn wait(mut self, d: Duration) -> Self {
        self.wait = d;
        self
    }
}

/// An event in the outbox, with the relays that have accepted it so far.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxEvent {
    /// The signed event.
    pub event: Event,
    /// Relays it was published to.
    pub sent_to: Vec<String>,
    /// Relays that refused it for good, with their reasons.
    pub rejected: Vec<(String, String)>,
}

/// What became of an event that left the outbox ([`NostrFs::delivery`],
/// `published/{id}.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivered {
    /// The event's kind.
    pub kind: u16,
    /// Relays that accepted it (none: every relay refused it).
    pub sent_to: Vec<String>,
    /// Relays that refused it, with their reasons.
    pub rejected: Vec<(String, String)>,
}

/// The counters of a [`NostrFs`], as `status` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NostrStatus {
    /// Events waiting to be published.
    pub outbox: usize,
    /// Events received and kept.
    pub inbox: usize,
    /// Subscriptions: the host's and the service's own, one per job
    /// request awaiting its result.
    pub subscriptions: usize,
    /// Events signed since the start.
    pub signed: u64,
    /// Events that left the outbox (published to every relay).
    pub published: u64,
    /// Events that left the outbox because every relay refused them.
    pub rejected: u64,
    /// Valid events received.
    pub received: u64,
    /// Received events dropped because their id or signature was wrong.
    pub invalid_dropped: u64,
    /// Received events dropped as copies of one already received (from
    /// another relay, or again from the same one).
    pub duplicates: u64,
    /// Received events dropped to stay within `max_inbox`.
    pub evicted: u64,
    /// Malformed messages written by the agent.
    pub invalid_messages: u64,
    /// Readers blocked waiting for a job result now.
    pub waiting_readers: usize,
}

#[derive(Debug)]
struct Outgoing {
    event: Event,
    sent_to: BTreeSet<String>,
    rejected: BTreeMap<String, String>,
}

/// What became of an event that left the outbox.
#[derive(Debug)]
struct Delivery {
    kind: u16,
    sent_to: BTreeSet<String>,
    rejected: BTreeMap<String, String>,
}

/// A job request sent from here: what it waits for and what came.
#[derive(Debug)]
struct Job {
    kind: u16,
    providers: Vec<String>,
    result: Option<Event>,
    feedback: VecDeque<Event>,
}

impl Job {
    /// Whether `event` (a result or feedback naming this request) comes
    /// from a provider the request asked, or any when it named none.
    fn asked_for(&self, event: &Event) -> bool {
        self.providers.is_empty() || self.providers.contains(&event.pubkey.to_hex())
    }
}

/// The id of the service's own subscription for job request `id`: the
/// prefix and the first 32 hex digits (relays take ids up to 64 characters).
fn job_subscription_id(id: &str) -> String {
    let short = id.get(..32).unwrap_or(id);
    format!("{JOB_SUBSCRIPTION_PREFIX}{short}")
}

/// A subscription opened through `/subscribe`: its filter and the matching
/// events not yet read from `subs/{id}/events`.
#[derive(Debug)]
struct SubStream {
    filter: Filter,
    queue: VecDeque<Event>,
    matched: u64,
    dropped: u64,
}

#[derive(Debug)]
struct Incoming {
    event: Event,
    relay: String,
    received_at: Timestamp,
}

#[derive(Debug)]
struct NostrState {
    relays: BTreeSet<String>,
    auth_relays: BTreeSet<String>,
    outbox: BTreeMap<String, Outgoing>,
    inbox: Recent<Incoming>,
    jobs: Recent<Job>,
    delivered: Recent<Delivery>,
    subscriptions: BTreeMap<String, Vec<Filter>>,
    streams: BTreeMap<String, SubStream>,
    next_sub: u64,
    signed: u64,
    published: u64,
    rejected: u64,
    received: u64,
    invalid_dropped: u64,
    duplicates: u64,
    evicted: u64,
    invalid_messages: u64,
}

impl NostrState {
    fn new(limits: &NostrLimits) -> Self {
        Self {
            relays: BTreeSet::new(),
            auth_relays: BTreeSet::new(),
            outbox: BTreeMap::new(),
            inbox: Recent::new(limits.max_inbox),
            jobs: Recent::new(limits.max_jobs),
            delivered: Recent::up_to(limits.max_published),
            subscriptions: BTreeMap::new(),
            streams: BTreeMap::new(),
            next_sub: 0,
            signed: 0,
            published: 0,
            rejected: 0,
            received: 0,
            invalid_dropped: 0,
            duplicates: 0,
            evicted: 0,
            invalid_messages: 0,
        }
    }
}

struct NostrInner {
    keys: Keys,
    pubkey: String,
    npub: String,
    core: CapCore<NostrState, NostrLimits>,
}

/// The Nostr capability. The secret key stays inside the service: no file
/// shows it and `Debug` does not print it.
///
/// Cloning is cheap and gives another handle on the same service.
///
/// | file | access | content |
/// |---|---|---|
/// | `/identity/pubkey`, `/identity/npub` | read | the public key, hex and bech32 |
/// | `/relays` | read | the relays, one per line |
/// | `/submit` | write (read gives the event id) | an event template, signed into the outbox |
/// | `/request` | write (read gives the event id) | a NIP-90 job request, signed into the outbox |
/// | `/outbox/{id}.json` | read | a signed event not yet published everywhere |
/// | `/inbox/{id}.json` | read, remove | a received (verified) event |
/// | `/jobs/{id}.json` | read (blocks) | the result of a job request sent from here, with its feedback |
/// | `/feedback/{id}.json` | read | the feedback so far of a job request sent from here (does not block) |
/// | `/published/{id}.json` | read | what became of an event that left the outbox: relays that accepted it, relays that refused it and why |
/// | `/subscribe` | write (read gives the subscription id) | a NIP-01 filter, or `{"id": ..., "filter": ...}`: opens a subscription (see [`subscribe_message`](Self::subscribe_message)) |
/// | `/subs/{id}/filter.json` | read | the subscription's filter |
/// | `/subs/{id}/events` | read (blocks), size 0 | the next matching event per read, as one line of JSON, oldest first; end of file once the subscription is closed; a nonblocking handle answers `WouldBlock` when none is queued |
/// | `/subs/{id}/status` | read | events queued, matched and dropped (past [`NostrLimits::max_sub_events`] the oldest is dropped) |
/// | `/subs/{id}` | remove | closes the subscription (relays get `CLOSE`) |
/// | `/status` | read | identity, relays, counters |
#[derive(Clone)]
pub struct NostrFs {
    inner: Arc<NostrInner>,
}

impl fmt::Debug for NostrFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NostrFs")
            .field("pubkey", &self.inner.pubkey)
            .finish_non_exhaustive()
    }
}

/// Builds a [`NostrFs`]; see [`NostrFs::builder`].
#[derive(Debug, Default)]
pub struct NostrFsBuilder {
    parts: CoreParts<NostrLimits>,
    relays: Vec<String>,
    auth_relays: Vec<String>,
}

impl NostrFsBuilder {
    /// Sets the egress policy for relays (the default refuses every relay):
    /// [`NostrFs::add_relay`] checks each relay URL against it, and the
    /// relay executor checks it again, with every resolved address, when it
    /// connects. For example
    /// `EgressPolicy::allow_hosts(["relay.damus.io"]).build()?` allows that
    /// relay over `wss`.
    #[must_use]
    pub fn policy(mut self, policy: EgressPolicy) -> Self {
        self.parts.policy = policy;
        self
    }
    /// Sets the limits.
    #[must_use]
    pub fn limits(mut self, limits: NostrLimits) -> Self {
        self.parts.limits = limits;
        self
    }
    /// Adds a relay (checked when built).
    #[must_use]
    pub fn relay(mut self, url: impl Into<String>) -> Self {
        self.relays.push(url.into());
        self
    }
    /// Lets the service answer `relay`'s NIP-42 authentication challenges
    /// with its key (see [`NostrFs::set_authentication`]; off by default).
    #[must_use]
    pub fn authenticate(mut self, relay: impl Into<String>) -> Self {
        self.auth_relays.push(relay.into());
        self
    }
    /// Sends a [`CapRecord`] of every signature, publication and reception to `sink`.
    #[must_use]
    pub fn record_sink(mut self, sink: RecordSink) -> Self {
        self.parts.sink = Some(sink);
        self
    }
    /// Builds the service with the 32-byte secret key `secret`.
    pub fn build(self, secret: [u8; 32]) -> Result<NostrFs> {
        let sk = SecretKey::from_slice(&secret)
            .map_err(|_| CapError::Key("not a valid secp256k1 secret key".into()))?;
        self.build_with_keys(Keys::new(sk))
    }
    /// Builds the service with a fresh random key.
    pub fn generate(self) -> Result<NostrFs> {
        self.build_with_keys(Keys::generate())
    }
    /// Builds the service with `keys`.
    pub fn build_with_keys(self, keys: Keys) -> Result<NostrFs> {
        let pk = keys.public_key();
        let npub = match pk.to_bech32() {
            Ok(n) => n,
            Err(never) => match never {},
        };
        let fs = NostrFs {
            inner: Arc::new(NostrInner {
                pubkey: pk.to_hex(),
                npub,
                keys,
                core: CapCore::new(NostrState::new(&self.parts.limits), self.parts),
            }),
        };
        for r in self.relays {
            fs.add_relay(&r)?;
        }
        for r in self.auth_relays {
            fs.set_authentication(&r, true);
        }
        Ok(fs)
    }
}

impl NostrFs {
    /// A new service like this one — the same relays, authentication,
    /// policy and limits — with queues, subscriptions and counters of its
    /// own: the same identity, or a fresh key with `fresh_keys`. What a
    /// fork of an environment gets.
    ///
    /// # Errors
    /// As [`NostrFsBuilder::build_with_keys`] (a relay refused by the
    /// policy, which this service's relays are not).
    pub fn fork(&self, fresh_keys: bool) -> Result<NostrFs> {
        let mut b = NostrFs::builder()
            .policy((*self.policy()).clone())
            .limits(self.limits().clone());
        for relay in self.relays() {
            if self.authenticates(&relay) {
                b = b.authenticate(relay.clone());
            }
            b = b.relay(relay);
        }
        if fresh_keys {
            b.generate()
        } else {
            b.build_with_keys(self.inner.keys.clone())
        }
    }

    /// A service signing with the 32-byte secret key `secret`.
    pub fn new(secret: [u8; 32]) -> Result<Self> {
        Self::builder().build(secret)
    }

    /// A service with a fresh random key.
    pub fn generate() -> Result<Self> {
        Self::builder().generate()
    }

    /// Starts building a service.
    pub fn builder() -> NostrFsBuilder {
        NostrFsBuilder::default()
    }

    /// The public key, hex.
    pub fn pubkey(&self) -> &str {
        &self.inner.pubkey
    }

    /// The public key, bech32 (`npub1...`).
    pub fn npub(&self) -> &str {
        &self.inner.npub
    }

    /// The egress policy for relays (the relay executor checks relay URLs
    /// and resolved addresses with it).
    pub fn policy(&self) -> Arc<EgressPolicy> {
        self.core().policy()
    }

    /// The limits.
    pub fn limits(&self) -> &NostrLimits {
        self.core().limits()
    }

    /// Sets (or clears) where records go.
    pub fn set_record_sink(&self, sink: Option<RecordSink>) {
        self.core().set_sink(sink);
    }

    /// Sends a record made by an executor (a relay connection, a notice, a
    /// duplicate) to the service's sink, if one is set.
    pub fn emit_record(&self, record: CapRecord) {
        self.core().emit(record);
    }

    fn core(&self) -> &CapCore<NostrState, NostrLimits> {
        &self.inner.core
    }

    /// The state, locked, to read: every change goes through the core's
    /// `commit` or `apply`.
    fn state(&self) -> MutexGuard<'_, NostrState> {
        self.inner.core.lock()
    }

    /// Adds a relay (`ws://` or `wss://` URL). Relays are the host's choice:
    /// agents cannot add them through the files. The URL must pass the
    /// service's policy ([`NostrFsBuilder::policy`]; the default refuses
    /// every relay): a relay it does not allow is refused (`Refused`, with
    /// the reason) and not added.
    pub fn add_relay(&self, url: &str) -> Result<()> {
        let parsed = url::Url::parse(url)
            .map_err(|e| CapError::invalid(format!("relay `{url}`: not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "ws" | "wss") {
            return Err(CapError::invalid(format!(
                "relay `{url}`: expected a ws:// or wss:// URL"
            )));
        }
        if let Err(e) = self.core().policy().check_ws(url) {
            self.core().record(|| {
                CapRecord::new(
                    Capability::Nostr,
                    RecordAction::Relay,
                    url,
                    Outcome::Refused,
                )
                .with_detail(e.to_string())
            });
            return Err(match e {
                CapError::Refused(why) => CapError::Refused(format!("relay `{url}`: {why}")),
                other => other,
            });
        }
        let cap = self.core().limits().max_relays;
        self.core().commit(|st, _| {
            if !st.relays.contains(url) && st.relays.len() >= cap {
                return Err(CapError::QueueFull {
                    what: "relays".into(),
                    capacity: cap,
                });
            }
            st.relays.insert(url.to_owned());
            Ok(Change::new((), Wake::Work))
        })
    }

    /// Removes a relay; whether it was there.
    pub fn remove_relay(&self, url: &str) -> bool {
        self.core().apply(|st, _| {
            let removed = st.relays.remove(url);
            Change::new(removed, if removed { Wake::Work } else { Wake::None })
        })
    }

    /// Lets the service answer `relay`'s NIP-42 authentication challenges
    /// (`["AUTH", challenge]`) with its key, or stops it. Off for every
    /// relay by default: authenticating tells the relay who is connecting,
    /// so it is the host's choice, per relay; agents cannot change it
    /// through the files.
    pub fn set_authentication(&self, relay: &str, allowed: bool) {
        self.core().apply(|st, _| {
            if allowed {
                st.auth_relays.insert(relay.to_owned());
            } else {
                st.auth_relays.remove(relay);
            }
            Change::new((), Wake::Work)
        });
    }

    /// Whether the service answers `relay`'s NIP-42 challenges.
    pub fn authenticates(&self, relay: &str) -> bool {
        self.state().auth_relays.contains(relay)
    }

    /// Signs the NIP-42 authentication event (kind 22242, tags `relay` and
    /// `challenge`) answering `relay`'s `challenge`, for the relay executor
    /// to send as `["AUTH", event]`; it does not go to the outbox. Refused
    /// (`Refused`) unless [`authenticates`](Self::authenticates) holds for
    /// `relay`, and (`Invalid`) for a challenge longer than
    /// [`MAX_AUTH_CHALLENGE`] bytes.
    pub fn sign_auth(&self, relay: &str, challenge: &str) -> Result<Event> {
        if !self.authenticates(relay) {
            return Err(CapError::Refused(format!(
                "relay `{relay}`: authentication is not enabled for it"
            )));
        }
        if challenge.len() > MAX_AUTH_CHALLENGE {
            return Err(CapError::invalid(format!(
                "relay `{relay}`: a challenge of {} bytes is longer than {MAX_AUTH_CHALLENGE}",
                challenge.len()
            )));
        }
        let event = EventBuilder::new(Kind::Authentication, "")
            .tags([
                Tag::custom("relay", [relay]),
                Tag::custom("challenge", [challenge]),
            ])
            .finalize(&self.inner.keys)
            .map_err(|e| CapError::Signature(e.to_string()))?;
        self.core().record(|| {
            CapRecord::new(
                Capability::Nostr,
                RecordAction::Auth,
                relay,
                Outcome::Queued,
            )
            .with_id(event.id.to_hex())
            .with_detail("signed an answer to the relay's challenge")
        });
        Ok(event)
    }

    /// The relays.
    pub fn relays(&self) -> Vec<String> {
        self.state().relays.iter().cloned().collect()
    }

    /// Signs an event of `kind` with `content` and `tags` and queues it in
    /// the outbox; returns it.
    pub fn sign_event(
        &self,
        kind: u16,
        content: &str,
        tags: Vec<Tag>,
        created_at: Option<u64>,
    ) -> Result<Event> {
        if self.state().outbox.len() >= self.core().limits().max_outbox {
            return Err(CapError::QueueFull {
                what: "outbox".into(),
                capacity: self.core().limits().max_outbox,
            });
        }
        let mut builder = EventBuilder::new(Kind::from_u16(kind), content).tags(tags);
        if let Some(t) = created_at {
            builder = builder.custom_created_at(nostr::types::Timestamp::from_secs(t));
        }
        let event = builder
            .finalize(&self.inner.keys)
            .map_err(|e| CapError::Signature(e.to_string()))?;
        let id = event.id.to_hex();
        let cap = self.core().limits().max_outbox;
        self.core().commit(|st, recording| {
            if st.outbox.len() >= cap {
                return Err(CapError::QueueFull {
                    what: "outbox".into(),
                    capacity: cap,
                });
            }
            st.signed += 1;
            if JOB_REQUEST_KINDS.contains(&kind) {
                let providers = event
                    .tags
                    .iter()
                    .filter(|t| t.kind() == "p")
                    .filter_map(|t| t.content())
                    .map(str::to_owned)
                    .collect();
                st.jobs.insert(
                    id.clone(),
                    Job {
                        kind,
                        providers,
                        result: None,
                        feedback: VecDeque::new(),
                    },
                );
            }
            st.outbox.insert(
                id.clone(),
                Outgoing {
                    event: event.clone(),
                    sent_to: BTreeSet::new(),
                    rejected: BTreeMap::new(),
                },
            );
            Ok(Change::new(event, Wake::Work).recorded(recording, || {
                CapRecord::new(
                    Capability::Nostr,
                    RecordAction::Sign,
                    format!("kind:{kind}"),
                    Outcome::Queued,
                )
                .with_id(&id)
                .with_body(content.as_bytes())
            }))
        })
    }

    /// Signs a NIP-90 job request and queues it.
    pub fn create_job(&self, job: &JobRequest) -> Result<Event> {
        let tags = job.tags()?;
        self.sign_event(job.kind, &job.content, tags, None)
    }

    /// Signs a NIP-90 job request of `kind` with one text input and `params`.
    pub fn create_job_request(
        &self,
        kind: u16,
        input: &str,
        params: HashMap<String, String>,
    ) -> Result<Event> {
        let mut job = JobRequest::new(kind, input);
        job.params = params.into_iter().collect();
        self.create_job(&job)
    }

    fn check_size(&self, message: &[u8]) -> Result<()> {
        if message.len() > self.core().limits().max_message {
            return Err(CapError::TooLarge {
                what: "message",
                limit: self.core().limits().max_message as u64,
            });
        }
        Ok(())
    }

    /// Parses and signs an event template as written to `submit`:
    /// `{"kind": 1, "content": "...", "tags": [["t", "x"]], "created_at": 1700000000}`
    /// (`content`, `tags` and `created_at` optional). Returns the event id.
    pub fn submit_message(&self, message: &[u8]) -> Result<String> {
        let parsed = self.check_size(message).and_then(|()| {
            let f = parse_object(message)?;
            f.check_known(&["kind", "content", "tags", "created_at"])?;
            let kind = kind_field(&f)?;
            let content = f.opt_str("content")?.unwrap_or_default().to_owned();
            let tags = tags_field(&f)?;
            let created_at = f.opt_u64("created_at")?;
            Ok((kind, content, tags, created_at))
        });
        let (kind, content, tags, created_at) = self.count_invalid(parsed)?;
        self.sign_event(kind, &content, tags, created_at)
            .map(|e| e.id.to_hex())
    }

    /// Parses and signs a NIP-90 job request as written to `request` (see
    /// the crate docs for the fields). Returns the event id.
    pub fn request_message(&self, message: &[u8]) -> Result<String> {
        let parsed = self.check_size(message).and_then(|()| parse_job(message));
        let job = self.count_invalid(parsed)?;
        let tags = self.count_invalid(job.tags())?;
        self.sign_event(job.kind, &job.content, tags, None)
            .map(|e| e.id.to_hex())
    }

    fn count_invalid<T>(&self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.core().apply(|st, _| {
                st.invalid_messages += 1;
                Change::new((), Wake::None)
            });
        }
        r
    }

    /// The events waiting to be published, oldest id first.
    pub fn outbox_events(&self) -> Vec<OutboxEvent> {
        self.state()
            .outbox
            .values()
            .map(|o| OutboxEvent {
                event: o.event.clone(),
                sent_to: o.sent_to.iter().cloned().collect(),
                rejected: o
                    .rejected
                    .iter()
                    .map(|(r, why)| (r.clone(), why.clone()))
                    .collect(),
            })
            .collect()
    }

    /// A listener woken when there is work for the relay executor: an event
    /// to publish, a relay or a subscription added or removed.
    pub fn work_listener(&self) -> EventListener {
        self.core().work_listener()
    }

    /// A listener woken when an event is received.
    pub fn inbox_listener(&self) -> EventListener {
        self.core().ready().listen()
    }

    /// Records that `relay` accepted the event; once every relay has
    /// answered (accepted, or refused with [`mark_rejected`](Self::mark_rejected)),
    /// the event leaves the outbox (the return value says whether it did).
    pub fn mark_sent(&self, event_id: &str, relay: &str) -> Result<bool> {
        self.mark_answer(event_id, relay, None)
    }

    /// Records that `relay` refused the event for good (`OK false` with a
    /// reason such as `invalid:` or `blocked:`): the reason shows in
    /// `outbox/{id}.json` and in the record. Once every relay has answered,
    /// the event leaves the outbox; if none accepted it, it counts as
    /// rejected. Returns whether it left the outbox.
    pub fn mark_rejected(&self, event_id: &str, relay: &str, reason: &str) -> Result<bool> {
        self.mark_answer(event_id, relay, Some(reason))
    }

    fn mark_answer(&self, event_id: &str, relay: &str, rejected: Option<&str>) -> Result<bool> {
        self.core().commit(|st, recording| {
            let Some(o) = st.outbox.get_mut(event_id) else {
                return Err(CapError::UnknownId {
                    kind: "event",
                    id: event_id.to_owned(),
                });
            };
            match rejected {
                None => {
                    o.rejected.remove(relay);
                    o.sent_to.insert(relay.to_owned());
                }
                Some(reason) => {
                    if !o.sent_to.contains(relay) {
                        o.rejected.insert(relay.to_owned(), reason.to_owned());
                    }
                }
            }
            let done = st
                .relays
                .iter()
                .all(|r| o.sent_to.contains(r) || o.rejected.contains_key(r));
            if done {
                if o.sent_to.is_empty() {
                    st.rejected += 1;
                } else {
                    st.published += 1;
                }
                if let Some(o) = st.outbox.remove(event_id) {
                    st.delivered.insert(
                        event_id.to_owned(),
                        Delivery {
                            kind: o.event.kind.as_u16(),
                            sent_to: o.sent_to,
                            rejected: o.rejected,
                        },
                    );
                }
            }
            Ok(Change::new(done, Wake::None).recorded(recording, || {
                let record = match rejected {
                    None => {
                        CapRecord::new(Capability::Nostr, RecordAction::Publish, relay, Outcome::Ok)
                    }
                    Some(reason) => CapRecord::new(
                        Capability::Nostr,
                        RecordAction::Publish,
                        relay,
                        Outcome::Failed,
                    )
                    .with_detail(format!("rejected: {reason}")),
                };
                record.with_id(event_id)
            }))
        })
    }

    /// Delivers an event received from `relay`. Its id and signature are
    /// verified first: an invalid event is counted, recorded and dropped
    /// (`Signature` error). Returns `false` for an event already received.
    pub fn receive_event(&self, relay: &str, event: Event) -> Result<bool> {
        let id = event.id.to_hex();
        if let Err(e) = event.verify() {
            return self.core().apply(|st, recording| {
                st.invalid_dropped += 1;
                Change::refusal(CapError::Signature(format!("event {id}: {e}"))).recorded(
                    recording,
                    || {
                        CapRecord::new(
                            Capability::Nostr,
                            RecordAction::Receive,
                            relay,
                            Outcome::Failed,
                        )
                        .with_id(&id)
                        .with_detail(format!("dropped: {e}"))
                    },
                )
            });
        }
        let kind = event.kind.as_u16();
        self.core().apply(|st, recording| {
            if st.inbox.contains(&id) {
                st.duplicates += 1;
                return Change::new(Ok(false), Wake::None);
            }
            let mut wake = Wake::Ready;
            if JOB_RESULT_KINDS.contains(&kind) || kind == JOB_FEEDBACK_KIND {
                let requests: Vec<String> = event
                    .tags
                    .iter()
                    .filter(|t| t.kind() == "e")
                    .filter_map(|t| t.content())
                    .map(str::to_owned)
                    .collect();
                for req in requests {
                    let Some(job) = st.jobs.get_mut(&req) else {
                        continue;
                    };
                    if !job.asked_for(&event) {
                        continue;
                    }
                    if kind == JOB_FEEDBACK_KIND {
                        if job.feedback.len() >= MAX_JOB_FEEDBACK {
                            job.feedback.pop_front();
                        }
                        job.feedback.push_back(event.clone());
                    } else if job.result.is_none() && kind == job.kind + 1000 {
                        job.result = Some(event.clone());
                        // Its subscription is no longer wanted.
                        wake = Wake::Both;
                    }
                }
            }
            let change = Change::new(Ok(true), wake).recorded(recording, || {
                CapRecord::new(Capability::Nostr, RecordAction::Receive, relay, Outcome::Ok)
                    .with_id(&id)
                    .with_body(event.content.as_bytes())
                    .with_detail(format!(
                        "kind {kind}, {} bytes of content",
                        event.content.len()
                    ))
            });
            let per_sub = self.core().limits().max_sub_events;
            for sub in st.streams.values_mut() {
                if !sub.filter.matches(&event) {
                    continue;
                }
                sub.matched += 1;
                if per_sub == 0 {
                    sub.dropped += 1;
                    continue;
                }
                if sub.queue.len() >= per_sub {
                    sub.queue.pop_front();
                    sub.dropped += 1;
                }
                sub.queue.push_back(event.clone());
            }
            st.evicted += st.inbox.insert(
                id.clone(),
                Incoming {
                    event,
                    relay: relay.to_owned(),
                    received_at: Timestamp::now(),
                },
            );
            st.received += 1;
            change
        })
    }

    /// Parses a relay's JSON event and delivers it (see [`receive_event`](Self::receive_event)).
    pub fn receive_event_json(&self, relay: &str, json: &str) -> Result<bool> {
        match Event::from_json(json) {
            Ok(e) => self.receive_event(relay, e),
            Err(e) => {
                self.core().apply(|st, _| {
                    st.invalid_dropped += 1;
                    Change::new((), Wake::None)
                });
                Err(CapError::invalid(format!("not a nostr event ({e})")))
            }
        }
    }

    /// The received events, oldest first.
    pub fn inbox_events(&self) -> Vec<Event> {
        let st = self.state();
        st.inbox
            .oldest_first()
            .map(|(_, i)| i.event.clone())
            .collect()
    }

    /// The result of a job request sent from here, if it has arrived.
    pub fn job_result(&self, request_id: &str) -> Option<Event> {
        self.state().jobs.get(request_id)?.result.clone()
    }

    /// The feedback (kind 7000) received so far for a job request sent
    /// from here, oldest first (at most [`MAX_JOB_FEEDBACK`]); `None` for
    /// an unknown request.
    pub fn job_feedback(&self, request_id: &str) -> Option<Vec<Event>> {
        let st = self.state();
        let job = st.jobs.get(request_id)?;
        Some(job.feedback.iter().cloned().collect())
    }

    /// Waits up to `timeout` (bounded by the thread's deadline) for the
    /// result of a job request sent from here.
    pub fn wait_job_result(&self, request_id: &str, timeout: Duration) -> Result<Event> {
        self.wait_job(request_id, false, timeout).map(|(e, _)| e)
    }

    fn wait_job(
        &self,
        request_id: &str,
        nonblocking: bool,
        timeout: Duration,
    ) -> Result<(Event, Vec<Event>)> {
        let r = self.core().ready().wait_for(nonblocking, timeout, || {
            let st = self.state();
            match st.jobs.get(request_id) {
                None => Some(Err(CapError::UnknownId {
                    kind: "job request",
                    id: request_id.to_owned(),
                })),
                Some(job) => job
                    .result
                    .as_ref()
                    .map(|r| Ok((r.clone(), job.feedback.iter().cloned().collect::<Vec<_>>()))),
            }
        });
        match r {
            Ok(v) => v,
            Err(WaitEnd::WouldBlock) => {
                Err(CapError::WouldBlock(format!("result of {request_id}")))
            }
            Err(WaitEnd::TimedOut) => Err(CapError::TimedOut(format!("result of {request_id}"))),
        }
    }

    /// Adds (or replaces) subscription `sub_id` for the relay executor.
    /// Ids starting with [`JOB_SUBSCRIPTION_PREFIX`] are the service's own
    /// and refused (`Invalid`). Replacing a subscription opened through
    /// `/subscribe` ends its `subs/{id}/` directory.
    pub fn add_subscription(&self, sub_id: impl Into<String>, filters: Vec<Filter>) -> Result<()> {
        let sub_id = sub_id.into();
        if sub_id.starts_with(JOB_SUBSCRIPTION_PREFIX) {
            return Err(CapError::invalid(format!(
                "subscription `{sub_id}`: ids starting with `{JOB_SUBSCRIPTION_PREFIX}` are reserved for job requests"
            )));
        }
        let cap = self.core().limits().max_subscriptions;
        self.core().commit(|st, _| {
            if !st.subscriptions.contains_key(&sub_id) && st.subscriptions.len() >= cap {
                return Err(CapError::QueueFull {
                    what: "subscriptions".into(),
                    capacity: cap,
                });
            }
            let wake = if st.streams.remove(&sub_id).is_some() {
                Wake::Both
            } else {
                Wake::Work
            };
            st.subscriptions.insert(sub_id, filters);
            Ok(Change::new((), wake))
        })
    }

    /// The subscriptions, by id: the host's, then one for every job
    /// request sent from here whose result has not arrived
    /// (`job-` and the first 32 hex digits of the request id), asking for
    /// kinds `request kind + 1000` and 7000 referencing the request (`#e`),
    /// from the providers it names (`authors`) if it names any. A job's
    /// subscription goes away once its result has arrived.
    pub fn subscriptions(&self) -> Vec<(String, Vec<Filter>)> {
        let st = self.state();
        let mut subs: Vec<(String, Vec<Filter>)> = st
            .subscriptions
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (id, job) in st.jobs.oldest_first() {
            if job.result.is_some() {
                continue;
            }
            let mut filter = Filter::new()
                .kinds([job.kind + 1000, JOB_FEEDBACK_KIND])
                .events([id.as_str()]);
            if !job.providers.is_empty() {
                filter = filter.authors(job.providers.iter().map(String::as_str));
            }
            subs.push((job_subscription_id(id), vec![filter]));
        }
        subs
    }

    /// Counts a received event dropped by the relay executor as a copy of
    /// one already received (from another relay, or again).
    pub fn note_duplicate(&self) {
        self.core().apply(|st, _| {
            st.duplicates += 1;
            Change::new((), Wake::None)
        });
    }

    /// What became of an event that left the outbox (published to at least
    /// one relay, or refused by all): `None` while it is still in the
    /// outbox, for an unknown id, or once forgotten (the last
    /// [`NostrLimits::max_published`] are kept).
    pub fn delivery(&self, event_id: &str) -> Option<Delivered> {
        self.state().delivered.get(event_id).map(|d| Delivered {
            kind: d.kind,
            sent_to: d.sent_to.iter().cloned().collect(),
            rejected: d
                .rejected
                .iter()
                .map(|(r, why)| (r.clone(), why.clone()))
                .collect(),
        })
    }

    /// Removes a subscription (and, for one opened through `/subscribe`,
    /// its `subs/{id}/` directory: readers of its `events` see the end);
    /// whether it was there.
    pub fn remove_subscription(&self, sub_id: &str) -> bool {
        self.core().apply(|st, _| {
            let removed = st.subscriptions.remove(sub_id).is_some();
            let streamed = st.streams.remove(sub_id).is_some();
            let wake = match (removed, streamed) {
                (_, true) => Wake::Both,
                (true, false) => Wake::Work,
                (false, false) => Wake::None,
            };
            Change::new(removed || streamed, wake)
        })
    }

    /// Opens a subscription as written to `/subscribe` and returns its id.
    /// The message is one NIP-01 filter object
    /// (`{"kinds": [1], "authors": ["<hex>"], "since": 1700000000}`; fields
    /// `ids`, `authors`, `kinds`, `#e`, `#p`, `since`, `until`, `limit`),
    /// which gets the id `sub-{n}`, or `{"id": "name", "filter": {...}}`
    /// to choose the id (1 to [`MAX_SUBSCRIPTION_ID`] characters of
    /// `A-Z a-z 0-9 . _ -`, not starting with [`JOB_SUBSCRIPTION_PREFIX`],
    /// not already a subscription). Event ids and public keys must be 64
    /// lowercase hex digits. At most [`NostrLimits::max_subscriptions`]
    /// subscriptions (with the host's) are open (`QueueFull`).
    pub fn subscribe_message(&self, message: &[u8]) -> Result<String> {
        let parsed = self
            .check_size(message)
            .and_then(|()| parse_subscribe(message));
        let (id, filter) = self.count_invalid(parsed)?;
        let cap = self.core().limits().max_subscriptions;
        self.core().commit(|st, _| {
            if st.subscriptions.len() >= cap {
                return Err(CapError::QueueFull {
                    what: "subscriptions".into(),
                    capacity: cap,
                });
            }
            let id = match id {
                Some(id) if st.subscriptions.contains_key(&id) => {
                    return Err(CapError::invalid(format!(
                        "field `id`: subscription `{id}` is already open"
                    )));
                }
                Some(id) => id,
                None => loop {
                    st.next_sub += 1;
                    let id = format!("sub-{}", st.next_sub);
                    if !st.subscriptions.contains_key(&id) {
                        break id;
                    }
                },
            };
            st.subscriptions.insert(id.clone(), vec![filter.clone()]);
            st.streams.insert(
                id.clone(),
                SubStream {
                    filter,
                    queue: VecDeque::new(),
                    matched: 0,
                    dropped: 0,
                },
            );
            Ok(Change::new(id, Wake::Work))
        })
    }

    /// Takes the next event queued for subscription `id` (opened through
    /// `/subscribe`), waiting up to `timeout` (bounded by the thread's
    /// deadline) for one; `None` once the subscription is closed.
    pub fn wait_subscription_event(&self, id: &str, timeout: Duration) -> Result<Option<Event>> {
        self.next_sub_event(id, false, timeout)
    }

    fn next_sub_event(
        &self,
        id: &str,
        nonblocking: bool,
        timeout: Duration,
    ) -> Result<Option<Event>> {
        let r = self.core().ready().wait_for(nonblocking, timeout, || {
            self.core().apply(|st, _| {
                let taken = match st.streams.get_mut(id) {
                    None => Some(None),
                    Some(sub) => sub.queue.pop_front().map(Some),
                };
                Change::new(taken, Wake::None)
            })
        });
        match r {
            Ok(v) => Ok(v),
            Err(WaitEnd::WouldBlock) => Err(CapError::WouldBlock(format!("event on {id}"))),
            Err(WaitEnd::TimedOut) => Err(CapError::TimedOut(format!("event on {id}"))),
        }
    }

    /// The counters.
    pub fn status(&self) -> NostrStatus {
        let st = self.state();
        NostrStatus {
            outbox: st.outbox.len(),
            inbox: st.inbox.len(),
            subscriptions: st.subscriptions.len()
                + st.jobs
                    .oldest_first()
                    .filter(|(_, j)| j.result.is_none())
                    .count(),
            signed: st.signed,
            published: st.published,
            rejected: st.rejected,
            received: st.received,
            invalid_dropped: st.invalid_dropped,
            duplicates: st.duplicates,
            evicted: st.evicted,
            invalid_messages: st.invalid_messages,
            waiting_readers: self.core().ready().waiting(),
        }
    }

    fn status_json(&self) -> Value {
        json!({
            "service": "nostr",
            "pubkey": self.inner.pubkey,
            "npub": self.inner.npub,
            "relays": self.relays(),
            "counters": self.status(),
        })
    }
}

fn kind_field(f: &Fields) -> Result<u16> {
    let k = f.req_u64("kind")?;
    u16::try_from(k)
        .map_err(|_| CapError::invalid(format!("field `kind`: expected 0-65535, found {k}")))
}

fn tags_field(f: &Fields) -> Result<Vec<Tag>> {
    let rows = f.opt_str_matrix("tags")?.unwrap_or_default();
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            Tag::parse(row).map_err(|_| {
                CapError::invalid(format!(
                    "field `tags[{i}]`: a tag needs at least one element"
                ))
            })
        })
        .collect()
}

fn parse_job(message: &[u8]) -> Result<JobRequest> {
    let f = parse_object(message)?;
    f.check_known(&[
        "kind",
        "input",
        "inputs",
        "params",
        "output",
        "bid",
        "relays",
        "providers",
        "content",
    ])?;
    let kind = kind_field(&f)?;
    let mut inputs = Vec::new();
    if let Some(text) = f.opt_str("input")? {
        inputs.push(JobInput::text(text));
    }
    match f.value("inputs") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let Value::Object(_) = item else {
                    return Err(CapError::invalid(format!(
                        "field `inputs[{i}]`: expected an object, found {}",
                        crate::message::type_name(item)
                    )));
                };
                let sub = parse_object(item.to_string().as_bytes())?;
                sub.check_known(&["data", "type", "relay", "marker"])
                    .map_err(|e| prefix(e, &format!("inputs[{i}]")))?;
                inputs.push(JobInput {
                    data: sub
                        .req_str("data")
                        .map_err(|e| prefix(e, &format!("inputs[{i}]")))?
                        .to_owned(),
                    input_type: sub
                        .opt_str("type")
                        .map_err(|e| prefix(e, &format!("inputs[{i}]")))?
                        .unwrap_or("text")
                        .to_owned(),
                    relay: sub.opt_str("relay")?.map(str::to_owned),
                    marker: sub.opt_str("marker")?.map(str::to_owned),
                });
            }
        }
        Some(other) => {
            return Err(CapError::invalid(format!(
                "field `inputs`: expected an array of objects, found {}",
                crate::message::type_name(other)
            )));
        }
    }
    Ok(JobRequest {
        kind,
        inputs,
        params: f.opt_string_map("params")?.unwrap_or_default(),
        output: f.opt_str("output")?.map(str::to_owned),
        bid: f.opt_u64("bid")?,
        relays: f.opt_str_array("relays")?.unwrap_or_default(),
        providers: f.opt_str_array("providers")?.unwrap_or_default(),
        content: f.opt_str("content")?.unwrap_or_default().to_owned(),
    })
}

/// The fields a filter written to `/subscribe` may have.
const FILTER_FIELDS: &[&str] = &[
    "ids", "authors", "kinds", "#e", "#p", "since", "until", "limit",
];

/// Parses a message written to `/subscribe`: the id asked for, if any,
/// and the filter.
fn parse_subscribe(message: &[u8]) -> Result<(Option<String>, Filter)> {
    let f = parse_object(message)?;
    if f.value("filter").is_none() {
        return Ok((None, parse_filter(&f)?));
    }
    f.check_known(&["id", "filter"])?;
    let id = f.opt_str("id")?.map(str::to_owned);
    if let Some(id) = &id {
        check_sub_id(id)?;
    }
    let inner = f
        .value("filter")
        .map(|v| serde_json::to_vec(v).unwrap_or_default())
        .unwrap_or_default();
    let filter = parse_object(&inner)
        .and_then(|inner| parse_filter(&inner))
        .map_err(|e| prefix(e, "filter"))?;
    Ok((id, filter))
}

/// Checks a subscription id chosen in `/subscribe`.
fn check_sub_id(id: &str) -> Result<()> {
    let fine = !id.is_empty()
        && id.len() <= MAX_SUBSCRIPTION_ID
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if !fine {
        return Err(CapError::invalid(format!(
            "field `id`: expected 1 to {MAX_SUBSCRIPTION_ID} characters of A-Z a-z 0-9 . _ -"
        )));
    }
    if id.starts_with(JOB_SUBSCRIPTION_PREFIX) {
        return Err(CapError::invalid(format!(
            "field `id`: ids starting with `{JOB_SUBSCRIPTION_PREFIX}` are reserved for job requests"
        )));
    }
    Ok(())
}

/// Parses and checks one NIP-01 filter object.
fn parse_filter(f: &Fields) -> Result<Filter> {
    f.check_known(FILTER_FIELDS)?;
    let hex = |name: &str| -> Result<Option<Vec<String>>> {
        let Some(list) = f.opt_str_array(name)? else {
            return Ok(None);
        };
        for (i, v) in list.iter().enumerate() {
            if v.len() != 64 || !v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err(CapError::invalid(format!(
                    "field `{name}[{i}]`: expected 64 lowercase hex digits"
                )));
            }
        }
        Ok(Some(list))
    };
    let kinds = match f.value("kinds") {
        None | Some(Value::Null) => None,
        Some(Value::Array(list)) => {
            let mut kinds = Vec::with_capacity(list.len());
            for (i, v) in list.iter().enumerate() {
                let k = v
                    .as_u64()
                    .and_then(|k| u16::try_from(k).ok())
                    .ok_or_else(|| {
                        CapError::invalid(format!(
                            "field `kinds[{i}]`: expected an integer from 0 to 65535"
                        ))
                    })?;
                kinds.push(k);
            }
            Some(kinds)
        }
        Some(other) => {
            return Err(CapError::invalid(format!(
                "field `kinds`: expected an array of integers, found {}",
                crate::message::type_name(other)
            )));
        }
    };
    let filter = Filter {
        ids: hex("ids")?,
        authors: hex("authors")?,
        kinds,
        e_tags: hex("#e")?,
        p_tags: hex("#p")?,
        since: f.opt_u64("since")?,
        until: f.opt_u64("until")?,
        limit: f.opt_u64("limit")?,
    };
    if let (Some(since), Some(until)) = (filter.since, filter.until)
        && since > until
    {
        return Err(CapError::invalid(
            "field `until`: expected no earlier than `since`",
        ));
    }
    Ok(filter)
}

/// Puts `inputs[i].` in front of the field a nested error names.
fn prefix(e: CapError, at: &str) -> CapError {
    match e {
        // "field `x`", "missing field `x`" and "unknown field `x`" alike.
        CapError::Invalid(m) => {
            CapError::Invalid(m.replacen("field `", &format!("field `{at}."), 1))
        }
        other => other,
    }
}

fn event_json(event: &Event) -> Value {
    serde_json::to_value(event).unwrap_or(Value::Null)
}

/// The declared names of a [`NostrFs`], each with its typed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NostrNode {
    /// `/submit`: the message file for event templates.
    Submit,
    /// `/request`: the message file for job requests.
    Request,
    /// `/subscribe`: the message file for subscription filters.
    Subscribe,
    /// `/status`.
    Status,
    /// `/relays`.
    Relays,
    /// `/identity/pubkey`.
    Pubkey,
    /// `/identity/npub`.
    Npub,
    /// `/outbox`: a signed event per file.
    OutboxDir,
    /// `/inbox`: a received event per file.
    InboxDir,
    /// `/jobs`: a job request per file.
    JobsDir,
    /// `/feedback`: a job request's feedback per file.
    FeedbackDir,
    /// `/published`: an event that left the outbox per file.
    PublishedDir,
    /// `/subs`: a directory per subscription opened through `/subscribe`.
    SubsDir,
}

/// A file of `subs/{id}/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubFile {
    /// `filter.json`: the filter, as sent to relays.
    Filter,
    /// `events`: the stream of matching events.
    Events,
    /// `status`: queued, matched and dropped counts.
    Status,
}

impl SubFile {
    /// Every file of a subscription's directory, by name.
    const ALL: [(&'static str, SubFile); 3] = [
        ("events", SubFile::Events),
        ("filter.json", SubFile::Filter),
        ("status", SubFile::Status),
    ];
}

/// An item of a [`NostrFs`], below one of its dynamic directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NostrItem {
    /// `/outbox/{id}.json`.
    Outbox(String),
    /// `/inbox/{id}.json`.
    Inbox(String),
    /// `/jobs/{id}.json`.
    Job(String),
    /// `/feedback/{id}.json`.
    Feedback(String),
    /// `/published/{id}.json`.
    Published(String),
    /// `/subs/{id}`.
    Sub(String),
    /// `/subs/{id}/{file}`.
    SubFile(String, SubFile),
}

impl NostrFs {
    /// The content of a declared file whose content is known now (`None`
    /// for message files and directories).
    fn file_content(&self, file: NostrNode) -> Option<Vec<u8>> {
        match file {
            NostrNode::Status => Some(json_bytes(&self.status_json())),
            NostrNode::Relays => {
                let mut text = String::new();
                for r in self.relays() {
                    text.push_str(&r);
                    text.push('\n');
                }
                Some(text.into_bytes())
            }
            NostrNode::Pubkey => Some(self.inner.pubkey.clone().into_bytes()),
            NostrNode::Npub => Some(self.inner.npub.clone().into_bytes()),
            NostrNode::Submit
            | NostrNode::Request
            | NostrNode::Subscribe
            | NostrNode::SubsDir
            | NostrNode::OutboxDir
            | NostrNode::InboxDir
            | NostrNode::JobsDir
            | NostrNode::FeedbackDir
            | NostrNode::PublishedDir => None,
        }
    }

    /// The content of an item (`None` for a job whose result has not
    /// arrived, or an item gone).
    fn item_content(&self, item: &NostrItem) -> Option<Vec<u8>> {
        match item {
            NostrItem::Outbox(id) => {
                let st = self.state();
                st.outbox.get(id).map(outbox_json)
            }
            NostrItem::Inbox(id) => {
                let st = self.state();
                st.inbox.get(id).map(inbox_json)
            }
            NostrItem::Job(id) => {
                let st = self.state();
                let job = st.jobs.get(id)?;
                let feedback: Vec<Event> = job.feedback.iter().cloned().collect();
                job.result.as_ref().map(|r| job_json(id, r, &feedback))
            }
            NostrItem::Feedback(id) => {
                let st = self.state();
                st.jobs.get(id).map(|j| feedback_json(id, j))
            }
            NostrItem::Published(id) => {
                let st = self.state();
                st.delivered.get(id).map(|d| delivered_json(id, d))
            }
            NostrItem::SubFile(id, file) => {
                let st = self.state();
                st.streams
                    .get(id)
                    .and_then(|sub| sub_file_bytes(id, sub, *file))
            }
            NostrItem::Sub(_) => None,
        }
    }
}

/// The content of a subscription's file that has one now (`filter.json`,
/// `status`; `events` is a stream).
fn sub_file_bytes(id: &str, sub: &SubStream, file: SubFile) -> Option<Vec<u8>> {
    match file {
        SubFile::Filter => Some(json_bytes(&sub.filter)),
        SubFile::Status => Some(json_bytes(&json!({
            "id": id,
            "queued": sub.queue.len(),
            "matched": sub.matched,
            "dropped": sub.dropped,
        }))),
        SubFile::Events => None,
    }
}

/// One read of `subs/{id}/events`: the event as one line of JSON.
fn sub_event_bytes(event: &Event) -> Vec<u8> {
    let mut v = serde_json::to_vec(&event_json(event)).unwrap_or_default();
    v.push(b'\n');
    v
}

/// The content of `outbox/{id}.json`.
fn outbox_json(o: &Outgoing) -> Vec<u8> {
    json_bytes(
        &json!({"event": event_json(&o.event), "sent_to": o.sent_to, "rejected": o.rejected}),
    )
}

/// The content of `inbox/{id}.json`.
fn inbox_json(i: &Incoming) -> Vec<u8> {
    json_bytes(
        &json!({"event": event_json(&i.event), "relay": i.relay, "received_at": i.received_at}),
    )
}

/// The content of `jobs/{id}.json` once the result is there.
fn job_json(request: &str, result: &Event, feedback: &[Event]) -> Vec<u8> {
    let feedback: Vec<Value> = feedback.iter().map(event_json).collect();
    json_bytes(&json!({"request": request, "result": event_json(result), "feedback": feedback}))
}

/// The content of `feedback/{id}.json`.
fn feedback_json(request: &str, job: &Job) -> Vec<u8> {
    let feedback: Vec<Value> = job.feedback.iter().map(event_json).collect();
    json_bytes(&json!({
        "request": request,
        "result_arrived": job.result.is_some(),
        "feedback": feedback,
    }))
}

/// The content of `published/{id}.json`.
fn delivered_json(id: &str, d: &Delivery) -> Vec<u8> {
    let outcome = if d.sent_to.is_empty() {
        "rejected"
    } else {
        "published"
    };
    json_bytes(&json!({
        "id": id,
        "kind": d.kind,
        "outcome": outcome,
        "sent_to": d.sent_to,
        "rejected": d.rejected,
    }))
}

impl CapFiles for NostrFs {
    type File = NostrNode;
    type Item = NostrItem;

    fn tree() -> &'static FixedTree<NostrNode> {
        static TREE: LazyLock<FixedTree<NostrNode>> = LazyLock::new(|| {
            FixedTree::builder()
                .file("/submit", NostrNode::Submit, Access::Writable)
                .file("/request", NostrNode::Request, Access::Writable)
                .file("/status", NostrNode::Status, Access::ReadOnly)
                .file("/relays", NostrNode::Relays, Access::ReadOnly)
                .file("/identity/pubkey", NostrNode::Pubkey, Access::ReadOnly)
                .file("/identity/npub", NostrNode::Npub, Access::ReadOnly)
                .dynamic_dir("/outbox", NostrNode::OutboxDir)
                .dynamic_dir("/inbox", NostrNode::InboxDir)
                .dynamic_dir("/jobs", NostrNode::JobsDir)
                .dynamic_dir("/feedback", NostrNode::FeedbackDir)
                .dynamic_dir("/published", NostrNode::PublishedDir)
                .file("/subscribe", NostrNode::Subscribe, Access::Writable)
                .dynamic_dir("/subs", NostrNode::SubsDir)
                .build()
        });
        &TREE
    }

    fn resolve(&self, dir: &NostrNode, rest: &str) -> Option<(NostrItem, DynamicKind)> {
        if *dir == NostrNode::SubsDir {
            let (id, found) = match rest.split_once('/') {
                None => (rest, (NostrItem::Sub(rest.to_owned()), DynamicKind::Dir)),
                Some((id, name)) => {
                    let (_, file) = SubFile::ALL.iter().find(|(n, _)| *n == name)?;
                    let found = (
                        NostrItem::SubFile(id.to_owned(), *file),
                        DynamicKind::File(Access::ReadOnly),
                    );
                    (id, found)
                }
            };
            return self.state().streams.contains_key(id).then_some(found);
        }
        let id = tree::item_id(rest, ".json")?;
        let st = self.state();
        let item = match dir {
            NostrNode::OutboxDir if st.outbox.contains_key(id) => NostrItem::Outbox(id.to_owned()),
            NostrNode::InboxDir if st.inbox.contains(id) => NostrItem::Inbox(id.to_owned()),
            NostrNode::JobsDir if st.jobs.contains(id) => NostrItem::Job(id.to_owned()),
            NostrNode::FeedbackDir if st.jobs.contains(id) => NostrItem::Feedback(id.to_owned()),
            NostrNode::PublishedDir if st.delivered.contains(id) => {
                NostrItem::Published(id.to_owned())
            }
            _ => return None,
        };
        Some((item, DynamicKind::File(Access::ReadOnly)))
    }

    fn list(&self, dir: &NostrNode, item: Option<&NostrItem>) -> Vec<DynamicEntry> {
        if *dir == NostrNode::SubsDir {
            let st = self.state();
            return match item {
                None => st.streams.keys().map(DynamicEntry::dir).collect(),
                Some(NostrItem::Sub(id)) => {
                    let Some(sub) = st.streams.get(id) else {
                        return Vec::new();
                    };
                    SubFile::ALL
                        .iter()
                        .map(|(name, f)| {
                            // `events` is a stream: size 0.
                            let size = sub_file_bytes(id, sub, *f).map_or(0, |b| b.len() as u64);
                            DynamicEntry::file(*name, size)
                        })
                        .collect()
                }
                Some(_) => Vec::new(),
            };
        }
        let ids: Vec<String> = {
            let st = self.state();
            match dir {
                NostrNode::OutboxDir => st.outbox.keys().cloned().collect(),
                NostrNode::InboxDir => st.inbox.keys().cloned().collect(),
                NostrNode::JobsDir | NostrNode::FeedbackDir => st.jobs.keys().cloned().collect(),
                NostrNode::PublishedDir => st.delivered.keys().cloned().collect(),
                _ => Vec::new(),
            }
        };
        let make = match dir {
            NostrNode::OutboxDir => NostrItem::Outbox,
            NostrNode::InboxDir => NostrItem::Inbox,
            NostrNode::FeedbackDir => NostrItem::Feedback,
            NostrNode::PublishedDir => NostrItem::Published,
            _ => NostrItem::Job,
        };
        ids.into_iter()
            .map(|id| {
                let size = self.item_size(&make(id.clone()));
                DynamicEntry::file(format!("{id}.json"), size)
            })
            .collect()
    }

    fn file_size(&self, file: &NostrNode) -> u64 {
        self.file_content(*file).map_or(0, |b| b.len() as u64)
    }

    fn item_size(&self, item: &NostrItem) -> u64 {
        // A job whose result has not arrived is a read that waits: size 0
        // until it arrives.
        self.item_content(item).map_or(0, |b| b.len() as u64)
    }

    fn open_file(
        &self,
        file: &FixedFile<'_, NostrNode>,
        flags: OpenFlags,
    ) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        let (path, id) = (file.path(), file.id());
        let p = path.to_owned();
        let svc = self.clone();
        match file.value() {
            NostrNode::Submit => Ok(MessageHandle::boxed(
                path,
                id,
                flags,
                Box::new(move |m| {
                    svc.submit_message(m)
                        .map(Some)
                        .map_err(|e| e.into_fs_error(&p))
                }),
            )),
            NostrNode::Request => Ok(MessageHandle::boxed(
                path,
                id,
                flags,
                Box::new(move |m| {
                    svc.request_message(m)
                        .map(Some)
                        .map_err(|e| e.into_fs_error(&p))
                }),
            )),
            NostrNode::Subscribe => Ok(MessageHandle::boxed(
                path,
                id,
                flags,
                Box::new(move |m| {
                    svc.subscribe_message(m)
                        .map(Some)
                        .map_err(|e| e.into_fs_error(&p))
                }),
            )),
            other => {
                let bytes = self
                    .file_content(*other)
                    .ok_or_else(|| FsError::is_a_directory(path))?;
                Ok(ContentHandle::ready(path, id, bytes))
            }
        }
    }

    fn open_item(
        &self,
        item: DynamicNode<'_, NostrNode, NostrItem>,
        flags: OpenFlags,
    ) -> oanix_vfs::Result<Box<dyn FileHandle>> {
        let (p, file_id) = (item.path().to_owned(), item.id());
        match item.into_node() {
            NostrItem::Job(id) => {
                let svc = self.clone();
                let nonblocking = flags.nonblocking;
                let wait = self.core().limits().wait;
                Ok(ContentHandle::lazy(
                    &p.clone(),
                    file_id,
                    Box::new(move || {
                        svc.wait_job(&id, nonblocking, wait)
                            .map(|(e, feedback)| job_json(&id, &e, &feedback))
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ))
            }
            NostrItem::SubFile(id, SubFile::Events) => {
                let svc = self.clone();
                let nonblocking = flags.nonblocking;
                let wait = self.core().limits().wait;
                Ok(StreamHandle::boxed(
                    &p.clone(),
                    file_id,
                    Box::new(move || {
                        svc.next_sub_event(&id, nonblocking, wait)
                            .map(|e| e.map(|e| sub_event_bytes(&e)))
                            .map_err(|e| e.into_fs_error(&p))
                    }),
                ))
            }
            NostrItem::Sub(_) => Err(FsError::is_a_directory(&p)),
            other => {
                let bytes = self
                    .item_content(&other)
                    .ok_or_else(|| FsError::not_found(&p))?;
                Ok(ContentHandle::ready(&p, file_id, bytes))
            }
        }
    }

    /// Removing an inbox event drops it; removing `subs/{id}` closes that
    /// subscription (its queued events go with it); everything else is fixed.
    fn remove_item(&self, item: DynamicNode<'_, NostrNode, NostrItem>) -> oanix_vfs::Result<()> {
        let removed = match item.node() {
            NostrItem::Inbox(id) => self
                .core()
                .apply(|st, _| Change::new(st.inbox.remove(id).is_some(), Wake::None)),
            NostrItem::Sub(id) => self.remove_subscription(id),
            _ => return Err(tree::fixed(item.path())),
        };
        if removed {
            return Ok(());
        }
        Err(FsError::not_found(item.path()))
    }
}

tree::cap_file_service!(NostrFs, "nostrfs");
