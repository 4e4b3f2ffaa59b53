//! `NostrRelayConnector`: NIP-01 with every relay of a NostrFs: publishes
//! the outbox with `OK` handling, keeps the subscriptions, and delivers
//! verified, de-duplicated events to the inbox.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use oanix_caps::nostr_crate::event::Event;
use oanix_caps::nostr_crate::filter::Filter as NostrFilter;
use oanix_caps::nostr_crate::message::{ClientMessage, RelayMessage, SubscriptionId};
use oanix_caps::{CapRecord, Capability, EgressPolicy, Filter, NostrFs, Outcome, RecordAction};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use url::Url;

use crate::config::{ExecutorConfig, RetryPolicy};
use crate::dial::{self, WsSettings, WsStream};
use crate::error::Result;
use crate::executor::{BoxFuture, Executor, ExecutorContext, ShutdownSignal};

/// Carries out the relay work of one [`NostrFs`] (NIP-01).
///
/// It keeps one connection to every relay the service lists (opened with
/// the same machinery as [`WsConnector`](crate::WsConnector): the relay URL
/// checked against the service's own policy ([`NostrFs::policy`], which
/// refuses every relay by default), the SSRF guard on every resolved
/// address, TLS, size limits, pings and dead-peer detection) and, woken by the service's `work_listener`:
///
/// - **publishes** every outbox event to every relay that has not accepted
///   it (`["EVENT", ...]`) and reads the relay's `OK`: `true` marks the
///   event sent to that relay ([`NostrFs::mark_sent`]), even when it comes
///   after the connector stopped waiting for it; an `OK` for an unknown
///   event, or with an empty or malformed id, is recorded with the relay's
///   message (a `publish` record); `false` with
///   `duplicate:` counts as accepted; `rate-limited:`, `error:` or no `OK`
///   within [`ExecutorConfig::nostr_ok_timeout`] are transient and retried
///   following [`ExecutorConfig::nostr_publish_retry`]; any other reason
///   (`invalid:`, `blocked:`, `auth-required:`, `pow:`...) is a refusal,
///   recorded with the relay's words ([`NostrFs::mark_rejected`]);
/// - **subscribes** with `["REQ", id, filters...]` for each of the service's
///   subscriptions, sends `["CLOSE", id]` when one is removed, and records
///   `EOSE`, `NOTICE` and `CLOSED` (a subscription the relay closed is not
///   asked for again on that connection unless its filters change);
/// - **receives** events: each is checked against the subscription's
///   filters, verified (id and signature) by the service, and de-duplicated
///   across relays (the ids of the last
///   [`ExecutorConfig::nostr_seen_capacity`] events are remembered; each
///   copy dropped counts in the service's `duplicates`), then delivered to
///   the inbox; the service's subscriptions include one per job request
///   awaiting its result ([`NostrFs::subscriptions`]), so results and
///   feedback arrive without the host subscribing;
/// - **reconnects** after a drop following
///   [`ExecutorConfig::nostr_reconnect`], then sends the subscriptions again
///   and re-publishes every event that relay has not acknowledged.
///
/// Relays differ and the connector copes: a duplicate may be answered
/// `OK true` or `OK false`; some relays answer a refused subscription with
/// `NOTICE` rather than `CLOSED`; some drop the connection without a close
/// frame. NIP-42 authentication is performed only with relays the host
/// enabled it for ([`NostrFs::set_authentication`]): the challenge is
/// answered with `["AUTH", event]` signed by the service
/// ([`NostrFs::sign_auth`]), an `auth-required:` refusal is retried, and
/// once the relay accepts, waiting events and the subscriptions it closed
/// are sent again. With other relays, events refused with `auth-required:`
/// are recorded as rejected by them.
pub struct NostrRelayConnector {
    nostr: NostrFs,
    shared: Arc<Shared>,
}

struct Shared {
    settings: WsSettings,
    policy: Arc<EgressPolicy>,
    ok_timeout: Duration,
    publish_retry: RetryPolicy,
    reconnect: RetryPolicy,
    seen: Mutex<Seen>,
}

impl fmt::Debug for NostrRelayConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NostrRelayConnector")
            .field("ok_timeout", &self.shared.ok_timeout)
            .field("publish_retry", &self.shared.publish_retry)
            .field("reconnect", &self.shared.reconnect)
            .finish_non_exhaustive()
    }
}

/// The ids of recently received events, oldest first out.
#[derive(Debug, Default)]
struct Seen {
    ids: HashSet<String>,
    order: VecDeque<String>,
    capacity: usize,
}

impl Seen {
    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn insert(&mut self, id: String) {
        if self.ids.insert(id.clone()) {
            self.order.push_back(id);
            while self.order.len() > self.capacity.max(1) {
                if let Some(old) = self.order.pop_front() {
                    self.ids.remove(&old);
                }
            }
        }
    }
}

impl NostrRelayConnector {
    /// A connector for `nostr` with `config`.
    pub fn new(nostr: NostrFs, config: &ExecutorConfig) -> Result<Self> {
        let policy = nostr.policy();
        Ok(Self {
            nostr,
            shared: Arc::new(Shared {
                settings: WsSettings::from_config(config)?,
                policy,
                ok_timeout: config.nostr_ok_timeout,
                publish_retry: config.nostr_publish_retry,
                reconnect: config.nostr_reconnect,
                seen: Mutex::new(Seen {
                    capacity: config.nostr_seen_capacity,
                    ..Seen::default()
                }),
            }),
        })
    }

    async fn serve(self, ctx: ExecutorContext) -> Result<()> {
        let shutdown = ctx.shutdown().clone();
        let mut running: HashSet<String> = HashSet::new();
        let mut tasks: JoinSet<String> = JoinSet::new();
        loop {
            while let Some(done) = tasks.try_join_next() {
                if let Ok(url) = done {
                    running.remove(&url);
                }
            }
            let listener = self.nostr.work_listener();
            for url in self.nostr.relays() {
                if running.insert(url.clone()) {
                    let relay = Relay {
                        nostr: self.nostr.clone(),
                        url,
                        shared: Arc::clone(&self.shared),
                        shutdown: shutdown.clone(),
                    };
                    tasks.spawn(async move {
                        let url = relay.url.clone();
                        relay.run().await;
                        url
                    });
                }
            }
            tokio::select! {
                biased;
                _ = shutdown.triggered() => break,
                Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                    if let Ok(url) = done {
                        running.remove(&url);
                    }
                }
                _ = listener => {}
                _ = ctx.fallback_tick() => {}
            }
        }
        let _ = tokio::time::timeout(ctx.grace(), async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        tasks.abort_all();
        Ok(())
    }
}

impl Executor for NostrRelayConnector {
    fn name(&self) -> &str {
        "nostr"
    }

    fn run(self: Box<Self>, ctx: ExecutorContext) -> BoxFuture<'static, Result<()>> {
        Box::pin(self.serve(ctx))
    }
}

/// How a session with a relay ended.
enum End {
    /// Shutdown, or the relay was removed: stop.
    Stop,
    /// The connection dropped: reconnect.
    Dropped(String),
}

/// The connection to one relay, across reconnections.
struct Relay {
    nostr: NostrFs,
    url: String,
    shared: Arc<Shared>,
    shutdown: ShutdownSignal,
}

/// A publication waiting for the relay's `OK`, or for its next try.
#[derive(Debug, Clone, Copy)]
struct Publication {
    /// Tries so far.
    tries: u32,
    /// When the `OK` is due (in flight) or when to try again (waiting).
    due: Instant,
    /// Whether an `EVENT` is out and unanswered.
    in_flight: bool,
}

/// What one connection has told the relay.
#[derive(Debug, Default)]
struct Session {
    /// Subscriptions sent with `REQ`, with their filters.
    subs: HashMap<String, Vec<Filter>>,
    /// Subscriptions the relay closed, with the filters they had then.
    closed_by_relay: HashMap<String, Vec<Filter>>,
    /// Events published or to publish again.
    publications: HashMap<String, Publication>,
    /// Events whose retries are used up on this connection.
    given_up: HashSet<String>,
    /// A NIP-42 `["AUTH", event]` answer to send.
    auth_reply: Option<String>,
    /// The ids of authentication events sent, until the relay's `OK`.
    auth_events: HashSet<String>,
}

type Sink = SplitSink<WsStream, Message>;

impl Relay {
    fn record(&self, action: RecordAction, outcome: Outcome, detail: impl Into<String>) {
        self.nostr.emit_record(
            CapRecord::new(Capability::Nostr, action, &self.url, outcome).with_detail(detail),
        );
    }

    fn listed(&self) -> bool {
        self.nostr.relays().contains(&self.url)
    }

    /// Waits until the relay is removed or shutdown begins.
    async fn park(&self) {
        loop {
            let listener = self.nostr.work_listener();
            if !self.listed() || self.shutdown.is_triggered() {
                return;
            }
            tokio::select! {
                _ = listener => {}
                _ = self.shutdown.triggered() => return,
            }
        }
    }

    async fn run(self) {
        let url = match Url::parse(&self.url) {
            Ok(u) => u,
            Err(e) => {
                self.record(
                    RecordAction::Connect,
                    Outcome::Failed,
                    format!("not a url ({e})"),
                );
                return self.park().await;
            }
        };
        if let Err(e) = self.shared.policy.check_ws(url.as_str()) {
            self.record(RecordAction::Connect, Outcome::Refused, e.to_string());
            return self.park().await;
        }
        let mut retry = 0;
        loop {
            if !self.listed() || self.shutdown.is_triggered() {
                return;
            }
            let dialed = tokio::select! {
                r = dial::dial(&url, &self.shared.policy, &self.shared.settings, 1 << 20) => r,
                _ = self.shutdown.triggered() => return,
            };
            let reason = match dialed {
                Ok(stream) => {
                    self.record(
                        RecordAction::Connect,
                        Outcome::Ok,
                        format!("after {retry} retries"),
                    );
                    retry = 0;
                    match self.session(stream).await {
                        End::Stop => return,
                        End::Dropped(reason) => {
                            self.record(RecordAction::Disconnect, Outcome::Failed, &reason);
                            reason
                        }
                    }
                }
                Err(e) if e.refused => {
                    self.record(RecordAction::Connect, Outcome::Refused, e.message);
                    return self.park().await;
                }
                Err(e) => {
                    self.record(RecordAction::Connect, Outcome::Failed, &e.message);
                    e.message
                }
            };
            let Some(delay) = self.shared.reconnect.delay(retry) else {
                self.record(
                    RecordAction::Connect,
                    Outcome::Failed,
                    format!("gave up after {retry} retries: {reason}"),
                );
                return self.park().await;
            };
            retry += 1;
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.shutdown.triggered() => return,
            }
        }
    }

    async fn session(&self, stream: WsStream) -> End {
        let (mut sink, mut source) = stream.split();
        let mut state = Session::default();
        let s = &self.shared.settings;
        let mut last_heard = Instant::now();
        let mut next_ping = s.ping_interval.map(|every| Instant::now() + every);
        loop {
            let listener = self.nostr.work_listener();
            if !self.listed() {
                self.goodbye(&mut sink, &state).await;
                return End::Stop;
            }
            if let Err(e) = self.sync(&mut sink, &mut state).await {
                return End::Dropped(e);
            }
            let mut wake = state
                .publications
                .values()
                .map(|p| p.due)
                .min()
                .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
            if let Some(p) = next_ping {
                wake = wake.min(p);
            }
            tokio::select! {
                biased;
                _ = self.shutdown.triggered() => {
                    self.goodbye(&mut sink, &state).await;
                    return End::Stop;
                }
                incoming = source.next() => {
                    last_heard = Instant::now();
                    match incoming {
                        Some(Ok(Message::Text(t))) => self.handle(t.as_str(), &mut state),
                        Some(Ok(Message::Binary(_))) => {
                            self.record(RecordAction::Notice, Outcome::Failed, "ignored a binary message");
                        }
                        Some(Ok(Message::Close(_))) => {
                            let _ = tokio::time::timeout(Duration::from_secs(1), sink.flush()).await;
                            return End::Dropped("the relay closed the connection".into());
                        }
                        Some(Ok(_)) => {
                            let _ = sink.flush().await;
                        }
                        Some(Err(e)) => return End::Dropped(format!("connection lost: {e}")),
                        None => return End::Dropped("the relay dropped the connection without a close frame".into()),
                    }
                }
                _ = listener => {}
                _ = tokio::time::sleep_until(wake) => {
                    self.expire(&mut state);
                    if let (Some(every), Some(at)) = (s.ping_interval, next_ping)
                        && Instant::now() >= at
                    {
                        let silent = last_heard.elapsed();
                        if silent >= every + s.pong_timeout {
                            return End::Dropped(format!(
                                "the relay is dead: nothing received for {} ms, pings unanswered",
                                silent.as_millis()
                            ));
                        }
                        if silent >= every
                            && !matches!(
                                tokio::time::timeout(s.write_timeout(), sink.send(Message::Ping(Vec::new().into()))).await,
                                Ok(Ok(()))
                            )
                        {
                            return End::Dropped("could not send a ping".into());
                        }
                        next_ping = Some(Instant::now() + every.min(s.pong_timeout));
                    }
                }
            }
        }
    }

    /// Closes the subscriptions and the connection, politely and briefly.
    async fn goodbye(&self, sink: &mut Sink, state: &Session) {
        let bye = async {
            for id in state.subs.keys() {
                sink.feed(Message::text(close_message(id))).await?;
            }
            sink.feed(Message::Close(Some(dial::close_frame(
                CloseCode::Away,
                "going away",
            ))))
            .await?;
            sink.flush().await
        };
        let _ = tokio::time::timeout(Duration::from_secs(1), bye).await;
    }

    /// Brings the relay up to date: subscriptions and publications.
    async fn sync(&self, sink: &mut Sink, state: &mut Session) -> std::result::Result<(), String> {
        let mut out: Vec<String> = Vec::new();
        out.extend(state.auth_reply.take());
        let wanted = self.nostr.subscriptions();
        for (id, filters) in &wanted {
            if state.subs.get(id) == Some(filters) {
                continue;
            }
            if state.closed_by_relay.get(id) == Some(filters) {
                continue;
            }
            state.closed_by_relay.remove(id);
            match req_message(id, filters) {
                Ok(m) => out.push(m),
                Err(why) => self.record(
                    RecordAction::Closed,
                    Outcome::Failed,
                    format!("subscription {id}: not sent: {why}"),
                ),
            }
            state.subs.insert(id.clone(), filters.clone());
        }
        let gone: Vec<String> = state
            .subs
            .keys()
            .filter(|id| !wanted.iter().any(|(w, _)| w == *id))
            .cloned()
            .collect();
        for id in gone {
            out.push(close_message(&id));
            state.subs.remove(&id);
        }
        let now = Instant::now();
        let mut live: BTreeSet<String> = BTreeSet::new();
        for ev in self.nostr.outbox_events() {
            let id = ev.event.id.to_hex();
            live.insert(id.clone());
            if ev.sent_to.contains(&self.url)
                || ev.rejected.iter().any(|(r, _)| *r == self.url)
                || state.given_up.contains(&id)
            {
                state.publications.remove(&id);
                continue;
            }
            let entry = state.publications.entry(id).or_insert(Publication {
                tries: 0,
                due: now,
                in_flight: false,
            });
            if entry.in_flight || entry.due > now {
                continue;
            }
            entry.tries += 1;
            entry.in_flight = true;
            entry.due = now + self.shared.ok_timeout;
            match ClientMessage::event(ev.event).try_as_json() {
                Ok(m) => out.push(m),
                Err(e) => {
                    entry.in_flight = false;
                    self.record(
                        RecordAction::Publish,
                        Outcome::Failed,
                        format!("could not encode the event ({e})"),
                    );
                }
            }
        }
        state.publications.retain(|id, _| live.contains(id));
        if out.is_empty() {
            return Ok(());
        }
        let write = async {
            for m in out {
                sink.feed(Message::text(m)).await?;
            }
            sink.flush().await
        };
        match tokio::time::timeout(self.shared.settings.write_timeout(), write).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(format!("send failed: {e}")),
            Err(_) => Err("the relay stopped reading".into()),
        }
    }

    /// Publications whose `OK` is overdue become transient failures.
    fn expire(&self, state: &mut Session) {
        let now = Instant::now();
        let overdue: Vec<String> = state
            .publications
            .iter()
            .filter(|(_, p)| p.in_flight && p.due <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in overdue {
            let why = format!("no OK within {} ms", self.shared.ok_timeout.as_millis());
            self.transient(state, &id, &why);
        }
    }

    /// A publication failed for now: schedule a retry or give up on this
    /// connection (it is re-published after a reconnection).
    fn transient(&self, state: &mut Session, id: &str, why: &str) {
        let Some(p) = state.publications.get_mut(id) else {
            return;
        };
        p.in_flight = false;
        match self.shared.publish_retry.delay(p.tries.saturating_sub(1)) {
            Some(delay) => {
                p.due = Instant::now() + delay;
                self.nostr.emit_record(
                    CapRecord::new(
                        Capability::Nostr,
                        RecordAction::Publish,
                        &self.url,
                        Outcome::Queued,
                    )
                    .with_id(id)
                    .with_detail(format!(
                        "retry {} in {} ms after: {why}",
                        p.tries,
                        delay.as_millis()
                    )),
                );
            }
            None => {
                let tries = p.tries;
                state.publications.remove(id);
                state.given_up.insert(id.to_owned());
                self.nostr.emit_record(
                    CapRecord::new(
                        Capability::Nostr,
                        RecordAction::Publish,
                        &self.url,
                        Outcome::Failed,
                    )
                    .with_id(id)
                    .with_detail(format!(
                        "gave up after {tries} tries on this connection (kept in the outbox): {why}"
                    )),
                );
            }
        }
    }

    /// Handles one message from the relay, parsed as a NIP-01 relay message.
    fn handle(&self, text: &str, state: &mut Session) {
        let message = match RelayMessage::from_json(text) {
            Ok(m) => m,
            Err(e) => {
                // An `OK` whose event id is empty or malformed (some relays
                // answer so when they refuse): the relay's words are kept.
                if let Some((id, accepted, message)) = raw_ok(text) {
                    return self.unmatched_ok(&id, accepted, &message, "without a valid event id");
                }
                // An `EVENT` whose event is malformed fails as a whole.
                let event = text
                    .trim_start()
                    .strip_prefix('[')
                    .is_some_and(|t| t.trim_start().starts_with("\"EVENT\""));
                if event {
                    self.record(
                        RecordAction::Receive,
                        Outcome::Failed,
                        format!("dropped a malformed event ({e})"),
                    );
                } else {
                    self.record(
                        RecordAction::Notice,
                        Outcome::Failed,
                        format!("ignored a message that is not a relay message ({e})"),
                    );
                }
                return;
            }
        };
        match message {
            RelayMessage::Event {
                subscription_id,
                event,
            } => self.incoming_event(subscription_id.as_str(), event.into_owned(), state),
            RelayMessage::Ok {
                event_id,
                status,
                message,
            } => self.ok(state, &event_id.to_hex(), status, &message),
            RelayMessage::EndOfStoredEvents(sub) => self.record(
                RecordAction::Eose,
                Outcome::Ok,
                format!("subscription {}", sub.as_str()),
            ),
            RelayMessage::Notice(text) => {
                self.record(RecordAction::Notice, Outcome::Ok, text.into_owned());
            }
            RelayMessage::Closed {
                subscription_id,
                message,
            } => {
                let id = subscription_id.as_str();
                if let Some(filters) = state.subs.remove(id) {
                    state.closed_by_relay.insert(id.to_owned(), filters);
                }
                self.record(
                    RecordAction::Closed,
                    Outcome::Failed,
                    format!("subscription {id}: {message}"),
                );
            }
            RelayMessage::Auth { challenge } => self.challenge(state, &challenge),
            other => self.record(
                RecordAction::Notice,
                Outcome::Failed,
                format!("ignored a `{}` message", relay_word(&other)),
            ),
        }
    }

    /// Records an `OK` that answers no event waiting for this relay.
    fn unmatched_ok(&self, id: &str, accepted: bool, message: &str, why: &str) {
        let mut record = CapRecord::new(
            Capability::Nostr,
            RecordAction::Publish,
            &self.url,
            if accepted {
                Outcome::Ok
            } else {
                Outcome::Failed
            },
        )
        .with_detail(format!(
            "OK {accepted} {why}: {}",
            if message.is_empty() {
                "(no message)"
            } else {
                message
            }
        ));
        if !id.is_empty() {
            record = record.with_id(id);
        }
        self.nostr.emit_record(record);
    }

    /// A NIP-42 challenge: answered with the service's key when the host
    /// enabled authentication for this relay, recorded otherwise.
    fn challenge(&self, state: &mut Session, challenge: &str) {
        if !self.nostr.authenticates(&self.url) {
            return self.record(
                RecordAction::Auth,
                Outcome::Failed,
                "the relay asks for NIP-42 authentication, which is not enabled for it",
            );
        }
        let answer = self
            .nostr
            .sign_auth(&self.url, challenge)
            .and_then(|event| {
                let id = event.id.to_hex();
                ClientMessage::auth(event)
                    .try_as_json()
                    .map(|m| (id, m))
                    .map_err(|e| oanix_caps::CapError::Signature(e.to_string()))
            });
        match answer {
            Ok((id, message)) => {
                state.auth_events.insert(id);
                state.auth_reply = Some(message);
            }
            Err(e) => self.record(
                RecordAction::Auth,
                Outcome::Failed,
                format!("could not answer the challenge: {e}"),
            ),
        }
    }

    /// The relay's answer to the authentication event: once accepted,
    /// publications waiting for a retry or given up on this connection and
    /// subscriptions the relay closed are sent again at once.
    fn auth_answer(&self, state: &mut Session, id: &str, accepted: bool, message: &str) {
        state.auth_events.remove(id);
        if !accepted {
            return self.record(
                RecordAction::Auth,
                Outcome::Failed,
                format!("the relay refused the authentication: {message}"),
            );
        }
        let now = Instant::now();
        for p in state.publications.values_mut() {
            if !p.in_flight {
                p.due = now;
            }
        }
        state.closed_by_relay.clear();
        state.given_up.clear();
        self.record(RecordAction::Auth, Outcome::Ok, "authenticated");
    }

    fn ok(&self, state: &mut Session, id: &str, accepted: bool, message: &str) {
        if state.auth_events.contains(id) {
            return self.auth_answer(state, id, accepted, message);
        }
        let prefix = message.split(':').next().unwrap_or_default().trim();
        if !state.publications.contains_key(id) {
            let waiting = self.nostr.outbox_events().into_iter().find(|o| {
                o.event.id.to_hex() == id
                    && !o.sent_to.contains(&self.url)
                    && !o.rejected.iter().any(|(r, _)| *r == self.url)
            });
            if waiting.is_none() {
                // Unknown here, or answered already.
                if self.nostr.delivery(id).is_none()
                    && !self
                        .nostr
                        .outbox_events()
                        .iter()
                        .any(|o| o.event.id.to_hex() == id)
                {
                    self.unmatched_ok(id, accepted, message, "for an event not published here");
                }
                return;
            }
            // A late answer, after this connection gave up waiting for it:
            // honoured, unless it asks to try again later.
            let retry_later = matches!(prefix, "rate-limited" | "error")
                || (prefix == "auth-required" && self.nostr.authenticates(&self.url));
            if !accepted && retry_later {
                self.unmatched_ok(id, accepted, message, "after this connection gave up");
                return;
            }
            state.given_up.remove(id);
        }
        if accepted || prefix == "duplicate" {
            state.publications.remove(id);
            if prefix == "duplicate" {
                self.nostr.emit_record(
                    CapRecord::new(
                        Capability::Nostr,
                        RecordAction::Duplicate,
                        &self.url,
                        Outcome::Ok,
                    )
                    .with_id(id)
                    .with_detail(format!("OK {accepted}: {message} (taken as published)")),
                );
            }
            let _ = self.nostr.mark_sent(id, &self.url);
            return;
        }
        match prefix {
            "rate-limited" | "error" => self.transient(state, id, message),
            // Sent again once authenticated (or refused when retries run out).
            "auth-required" if self.nostr.authenticates(&self.url) => {
                self.transient(state, id, message);
            }
            _ => {
                state.publications.remove(id);
                let reason = if message.is_empty() {
                    "refused without a reason"
                } else {
                    message
                };
                let _ = self.nostr.mark_rejected(id, &self.url, reason);
            }
        }
    }

    fn incoming_event(&self, sub: &str, event: Event, state: &Session) {
        let id = event.id.to_hex();
        let id = id.as_str();
        if self
            .shared
            .seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(id)
        {
            self.nostr.note_duplicate();
            return;
        }
        let Some(filters) = state.subs.get(sub) else {
            // Events for a subscription closed meanwhile are dropped.
            return;
        };
        if !filters.is_empty() && !filters.iter().any(|f| f.matches(&event)) {
            self.nostr.emit_record(
                CapRecord::new(
                    Capability::Nostr,
                    RecordAction::Receive,
                    &self.url,
                    Outcome::Failed,
                )
                .with_id(id)
                .with_detail(format!(
                    "dropped: does not match the filters of subscription {sub}"
                )),
            );
            return;
        }
        // The service verifies the id and signature, records and drops an
        // invalid event.
        if self.nostr.receive_event(&self.url, event).is_ok() {
            self.shared
                .seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(id.to_owned());
        }
    }
}

/// The event id, status and message of `["OK", id, status, message]`
/// read leniently (the id need not be a valid event id).
fn raw_ok(text: &str) -> Option<(String, bool, String)> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    let items = value.as_array()?;
    if items.first()?.as_str()? != "OK" {
        return None;
    }
    let id = items.get(1)?.as_str()?.to_owned();
    let accepted = items.get(2)?.as_bool()?;
    let message = items
        .get(3)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((id, accepted, message))
}

/// `["CLOSE", id]`.
fn close_message(id: &str) -> String {
    ClientMessage::close(SubscriptionId::new(id))
        .try_as_json()
        .unwrap_or_default()
}

/// `["REQ", id, filters...]`, the filters as the `nostr` crate reads them;
/// an error when one of them is not a valid NIP-01 filter.
fn req_message(id: &str, filters: &[Filter]) -> std::result::Result<String, String> {
    let filters = filters
        .iter()
        .map(|f| {
            let json = serde_json::to_string(f).map_err(|e| e.to_string())?;
            NostrFilter::from_json(json).map_err(|e| format!("a filter is not valid ({e})"))
        })
        .collect::<std::result::Result<Vec<_>, String>>()?;
    ClientMessage::req(SubscriptionId::new(id), filters)
        .try_as_json()
        .map_err(|e| e.to_string())
}

/// The first word of a relay message, for records of ignored ones.
fn relay_word(m: &RelayMessage<'_>) -> &'static str {
    match m {
        RelayMessage::Event { .. } => "EVENT",
        RelayMessage::Ok { .. } => "OK",
        RelayMessage::EndOfStoredEvents(_) => "EOSE",
        RelayMessage::Notice(_) => "NOTICE",
        RelayMessage::Closed { .. } => "CLOSED",
        RelayMessage::Auth { .. } => "AUTH",
        RelayMessage::Count { .. } => "COUNT",
        RelayMessage::NegMsg { .. } => "NEG-MSG",
        RelayMessage::NegErr { .. } => "NEG-ERR",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oanix_caps::RecordLog;

    fn relay(log: &RecordLog) -> Relay {
        let nostr = NostrFs::builder()
            .record_sink(log.sink())
            .generate()
            .unwrap();
        let connector =
            NostrRelayConnector::new(nostr.clone(), &ExecutorConfig::default()).unwrap();
        Relay {
            nostr,
            url: "wss://relay.example".into(),
            shared: connector.shared,
            shutdown: ShutdownSignal::default(),
        }
    }

    fn last(log: &RecordLog) -> (String, Outcome, String) {
        let r = log.records().pop().unwrap();
        (
            r.action.as_str().to_owned(),
            r.outcome,
            r.detail.unwrap_or_default(),
        )
    }

    #[test]
    fn relay_messages_are_parsed_as_nip01_messages() {
        let log = RecordLog::new(100);
        let r = relay(&log);
        let mut state = Session::default();
        state.subs.insert("s1".into(), vec![]);
        r.handle(r#"["NOTICE", "slow down"]"#, &mut state);
        assert_eq!(
            last(&log),
            ("notice".into(), Outcome::Ok, "slow down".into())
        );
        r.handle(r#"["EOSE", "s1"]"#, &mut state);
        assert_eq!(
            last(&log),
            ("eose".into(), Outcome::Ok, "subscription s1".into())
        );
        r.handle(r#"["CLOSED", "s1", "error: shutting down"]"#, &mut state);
        assert_eq!(
            last(&log),
            (
                "closed".into(),
                Outcome::Failed,
                "subscription s1: error: shutting down".into()
            )
        );
        assert!(state.subs.is_empty() && state.closed_by_relay.contains_key("s1"));
        r.handle(r#"["AUTH", "challenge"]"#, &mut state);
        assert_eq!(last(&log).0, "auth");
        r.handle(r#"["COUNT", "s1", {"count": 3}]"#, &mut state);
        assert_eq!(
            last(&log),
            (
                "notice".into(),
                Outcome::Failed,
                "ignored a `COUNT` message".into()
            )
        );
        // Not a relay message at all, or an OK without its status.
        for junk in [r#"{"a": 1}"#, r#"["HELLO"]"#, "not json", r#"["OK", "00"]"#] {
            r.handle(junk, &mut state);
            let (action, outcome, detail) = last(&log);
            assert_eq!(
                (action.as_str(), outcome),
                ("notice", Outcome::Failed),
                "{junk}"
            );
            assert!(
                detail.starts_with("ignored a message that is not a relay message"),
                "{detail}"
            );
        }
        // An EVENT whose event is malformed is a dropped reception.
        r.handle(r#"["EVENT", "s1", {"id": "nope"}]"#, &mut state);
        let (action, outcome, detail) = last(&log);
        assert_eq!((action.as_str(), outcome), ("receive", Outcome::Failed));
        assert!(detail.starts_with("dropped a malformed event"), "{detail}");
        assert!(r.nostr.inbox_events().is_empty());
    }

    #[test]
    fn outgoing_messages_are_nip01_client_messages() {
        assert_eq!(close_message("s1"), r#"["CLOSE","s1"]"#);
        let req = req_message("s1", &[Filter::new().kinds([1]).limit(2)]).unwrap();
        assert_eq!(req, r#"["REQ","s1",{"kinds":[1],"limit":2}]"#);
        let bad = req_message("s1", &[Filter::new().ids(["not hex"])]).unwrap_err();
        assert!(bad.starts_with("a filter is not valid"), "{bad}");
    }

    #[test]
    fn seen_forgets_the_oldest_past_its_capacity() {
        let mut s = Seen {
            capacity: 2,
            ..Seen::default()
        };
        s.insert("a".into());
        s.insert("b".into());
        s.insert("a".into());
        assert!(s.contains("a") && s.contains("b"));
        s.insert("c".into());
        assert!(!s.contains("a"));
        assert!(s.contains("b") && s.contains("c"));
    }
}
