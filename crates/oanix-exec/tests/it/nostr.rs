//! NostrRelayConnector against nostr-relay-builder's in-process relays,
//! including their fault modes: garbage events, an unresponsive relay, rate
//! limits, authentication required, a relay that goes away and comes back.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use oanix_caps::nostr_crate::event::{Event, EventBuilder, FinalizeEvent, Kind, Tag};
use oanix_caps::nostr_crate::key::{Keys, SecretKey};
use oanix_vfs::{FileService, OpenFlags, read_to_end, read_to_string};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use nostr_relay_builder::builder::{
    RateLimit, RelayBuilderNip42, RelayBuilderNip42Mode, RelayTestOptions,
};
use nostr_relay_builder::{LocalRelay, MockRelay, RelayBuilder};
use oanix_caps::{Filter, NostrFs, Outcome};
use oanix_exec::{ExecutorConfig, ExecutorManager, RetryPolicy};
use tokio::runtime::Runtime;

use crate::support::{PATIENCE, expect_record, fast_config, record_channel, wait_until};

/// A runtime for the in-process relays (they run on it).
pub(crate) fn relay_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

pub(crate) fn relay_port(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .and_then(|p| p.trim_end_matches('/').parse().ok())
        .unwrap()
}

/// A NostrFs policy allowing the relays at `urls` (plain `ws` to
/// 127.0.0.1 on their ports).
pub(crate) fn relay_policy(urls: &[impl AsRef<str>]) -> oanix_caps::EgressPolicy {
    oanix_caps::EgressPolicy::allow_hosts(["127.0.0.1"])
        .schemes(["ws"])
        .ports(urls.iter().map(|u| relay_port(u.as_ref())))
        .allow_loopback(true)
        .build()
        .unwrap()
}

/// The test configuration for relays (which the NostrFs's policy allows).
pub(crate) fn nostr_config() -> oanix_exec::ExecutorConfigBuilder {
    fast_config()
        .nostr_ok_timeout(Duration::from_secs(5))
        .nostr_publish_retry(RetryPolicy::exponential(3, Duration::from_millis(50)))
        .nostr_reconnect(RetryPolicy::exponential(100, Duration::from_millis(20)))
}

fn local_relay(rt: &Runtime, builder: RelayBuilder) -> (LocalRelay, String) {
    rt.block_on(async {
        let relay = LocalRelay::new(builder);
        relay.run().await.unwrap();
        let url = relay.url().await.to_string();
        (relay, url)
    })
}

fn start(nostr: &NostrFs, config: ExecutorConfig) -> ExecutorManager {
    let mut m = ExecutorManager::new(config).unwrap();
    m.attach_nostr(nostr);
    m.start().unwrap();
    m
}

fn wait_inbox(nostr: &NostrFs, n: usize) {
    wait_until(
        || nostr.inbox_listener(),
        || nostr.inbox_events().len() >= n,
    );
}

#[test]
fn publish_then_receive_the_relays_copy() {
    let rt = relay_runtime();
    let (_relay, url) = local_relay(&rt, RelayBuilder::default());
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&url]))
        .relay(&url)
        .record_sink(sink)
        .generate()
        .unwrap();
    nostr
        .add_subscription(
            "mine",
            vec![Filter::new().authors([nostr.pubkey()]).kinds([1])],
        )
        .unwrap();
    let m = start(&nostr, nostr_config().build());
    let event = nostr
        .sign_event(1, "hello relay", Vec::new(), None)
        .unwrap();
    let id = event.id.to_hex();
    expect_record(&records, |r| {
        r.action == "publish" && r.outcome == Outcome::Ok && r.id.as_deref() == Some(id.as_str())
    });
    assert!(nostr.outbox_events().is_empty());
    wait_inbox(&nostr, 1);
    assert_eq!(nostr.inbox_events()[0].id, event.id);
    assert_eq!(nostr.status().published, 1);
    expect_record(&records, |r| r.action == "eose");
    m.shutdown().unwrap();
}

#[test]
fn events_from_two_relays_are_delivered_once() {
    let rt = relay_runtime();
    let (_a, url_a) = local_relay(&rt, RelayBuilder::default());
    let (_b, url_b) = local_relay(&rt, RelayBuilder::default());
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&url_a, &url_b]))
        .relay(&url_a)
        .relay(&url_b)
        .record_sink(sink)
        .generate()
        .unwrap();
    nostr
        .add_subscription("mine", vec![Filter::new().authors([nostr.pubkey()])])
        .unwrap();
    let m = start(&nostr, nostr_config().build());
    let event = nostr.sign_event(1, "twice", Vec::new(), None).unwrap();
    let mut oks = HashMap::new();
    while oks.len() < 2 {
        let r = expect_record(&records, |r| {
            r.action == "publish" && r.outcome == Outcome::Ok
        });
        oks.insert(r.target.clone(), r);
    }
    assert!(nostr.outbox_events().is_empty());
    wait_inbox(&nostr, 1);
    // Both relays send their copy; a second reception would come within
    // the EOSE of the second subscription.
    let mut eose = 0;
    while eose < 2 {
        expect_record(&records, |r| r.action == "eose");
        eose += 1;
    }
    assert_eq!(nostr.inbox_events().len(), 1);
    assert_eq!(nostr.inbox_events()[0].id, event.id);
    m.shutdown().unwrap();
}

#[test]
fn garbage_events_never_reach_the_inbox() {
    let rt = relay_runtime();
    let relay = rt
        .block_on(MockRelay::run_with_opts(RelayTestOptions {
            send_random_events: true,
            ..RelayTestOptions::default()
        }))
        .unwrap();
    let url = rt.block_on(relay.url()).to_string();
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&url]))
        .relay(&url)
        .record_sink(sink)
        .generate()
        .unwrap();
    nostr
        .add_subscription("mine", vec![Filter::new().authors([nostr.pubkey()])])
        .unwrap();
    let m = start(&nostr, nostr_config().build());
    // The relay answers the subscription with random events of others.
    expect_record(&records, |r| {
        r.action == "receive"
            && r.outcome == Outcome::Failed
            && r.detail.as_deref().unwrap_or("").contains("does not match")
    });
    assert!(nostr.inbox_events().is_empty());
    m.shutdown().unwrap();
}

#[test]
fn an_unresponsive_relay_leaves_events_pending_and_visible() {
    let rt = relay_runtime();
    let relay = rt
        .block_on(MockRelay::run_with_opts(RelayTestOptions {
            unresponsive_connection: Some(Duration::from_secs(120)),
            ..RelayTestOptions::default()
        }))
        .unwrap();
    let url = rt.block_on(relay.url()).to_string();
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&url]))
        .relay(&url)
        .record_sink(sink)
        .generate()
        .unwrap();
    let config = nostr_config()
        .ws_connect_timeout(Duration::from_millis(200))
        .build();
    let m = start(&nostr, config);
    let event = nostr.sign_event(1, "waiting", Vec::new(), None).unwrap();
    let r = expect_record(&records, |r| {
        r.action == "connect" && r.outcome == Outcome::Failed
    });
    assert!(
        r.detail
            .as_deref()
            .unwrap_or("")
            .contains("connect timeout"),
        "{r:?}"
    );
    m.shutdown().unwrap();
    // Not lost: still in the outbox, for the agent to see.
    let text =
        oanix_vfs::read_to_string(&nostr, &format!("/outbox/{}.json", event.id.to_hex())).unwrap();
    assert!(text.contains("\"sent_to\": []"), "{text}");
}

#[test]
fn rate_limits_are_retried_and_nothing_is_lost() {
    let rt = relay_runtime();
    let (_relay, url) = local_relay(
        &rt,
        RelayBuilder::default().rate_limit(RateLimit {
            max_reqs: 10,
            notes_per_minute: 1,
        }),
    );
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&url]))
        .relay(&url)
        .record_sink(sink)
        .generate()
        .unwrap();
    let m = start(&nostr, nostr_config().build());
    let ids: Vec<String> = (0..3)
        .map(|i| {
            nostr
                .sign_event(1, &format!("n{i}"), Vec::new(), None)
                .unwrap()
                .id
                .to_hex()
        })
        .collect();
    let r = expect_record(&records, |r| {
        r.action == "publish"
            && r.outcome == Outcome::Queued
            && r.detail.as_deref().unwrap_or("").contains("rate-limited")
    });
    assert!(r.detail.unwrap().starts_with("retry 1 in"));
    m.shutdown().unwrap();
    // Every event is either published or still waiting in the outbox.
    let waiting: Vec<String> = nostr
        .outbox_events()
        .iter()
        .map(|o| o.event.id.to_hex())
        .collect();
    let published = nostr.status().published as usize;
    assert_eq!(published + waiting.len(), ids.len());
    assert!(!waiting.is_empty());
}

#[test]
fn a_relay_requiring_auth_rejects_with_its_reason() {
    let rt = relay_runtime();
    let (_relay, url) = local_relay(
        &rt,
        RelayBuilder::default().nip42(RelayBuilderNip42 {
            mode: RelayBuilderNip42Mode::Write,
        }),
    );
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&url]))
        .relay(&url)
        .record_sink(sink)
        .generate()
        .unwrap();
    let m = start(&nostr, nostr_config().build());
    nostr.sign_event(1, "let me in", Vec::new(), None).unwrap();
    let r = expect_record(&records, |r| {
        r.action == "publish" && r.outcome == Outcome::Failed
    });
    assert!(
        r.detail.as_deref().unwrap_or("").contains("auth-required"),
        "{r:?}"
    );
    assert_eq!(nostr.status().rejected, 1);
    assert!(nostr.outbox_events().is_empty());
    m.shutdown().unwrap();
}

#[test]
fn a_relay_requiring_auth_is_answered_when_the_host_enables_it() {
    let rt = relay_runtime();
    let (_relay, url) = local_relay(
        &rt,
        RelayBuilder::default().nip42(RelayBuilderNip42 {
            mode: RelayBuilderNip42Mode::Write,
        }),
    );
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&url]))
        .relay(&url)
        .authenticate(&url)
        .record_sink(sink)
        .generate()
        .unwrap();
    assert!(nostr.authenticates(&url));
    let m = start(&nostr, nostr_config().build());
    let id = nostr
        .sign_event(1, "let me in", Vec::new(), None)
        .unwrap()
        .id
        .to_hex();
    let r = expect_record(&records, |r| {
        r.action == "auth" && r.outcome != Outcome::Queued
    });
    assert_eq!(
        (r.outcome, r.detail.as_deref()),
        (Outcome::Ok, Some("authenticated"))
    );
    expect_record(&records, |r| {
        r.action == "publish" && r.outcome == Outcome::Ok && r.id.as_deref() == Some(id.as_str())
    });
    assert_eq!((nostr.status().published, nostr.status().rejected), (1, 0));
    m.shutdown().unwrap();
}

#[test]
fn after_a_reconnect_subscriptions_and_unacknowledged_events_are_sent_again() {
    // The first relay runs on a runtime of its own: dropping that runtime
    // ends the relay and every connection at once.
    let first_rt = relay_runtime();
    let (first, url) = local_relay(&first_rt, RelayBuilder::default());
    let rt = relay_runtime();
    let port = relay_port(&url);
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&url]))
        .relay(&url)
        .record_sink(sink)
        .generate()
        .unwrap();
    nostr
        .add_subscription("mine", vec![Filter::new().authors([nostr.pubkey()])])
        .unwrap();
    let m = start(&nostr, nostr_config().build());
    expect_record(&records, |r| r.action == "eose");
    // The relay goes away; an event is written meanwhile.
    drop(first);
    drop(first_rt);
    expect_record(&records, |r| r.action == "disconnect");
    let event = nostr.sign_event(1, "while away", Vec::new(), None).unwrap();
    // A new relay on the same port (its database is empty).
    let (_second, _) = local_relay(&rt, RelayBuilder::default().port(port));
    let id = event.id.to_hex();
    expect_record(&records, |r| {
        r.action == "publish" && r.outcome == Outcome::Ok && r.id.as_deref() == Some(id.as_str())
    });
    // The subscription was sent again: the new relay's copy arrives.
    wait_inbox(&nostr, 1);
    assert_eq!(nostr.inbox_events()[0].id, event.id);
    m.shutdown().unwrap();
}

#[test]
fn a_relay_the_policy_does_not_allow_is_never_connected_to() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    // Denied by default: the relay is refused before any executor sees it.
    let denied = NostrFs::generate().unwrap();
    let e = denied
        .add_relay(&format!("ws://127.0.0.1:{port}"))
        .unwrap_err();
    assert!(matches!(e, oanix_caps::CapError::Refused(_)), "{e}");
    // The name is allowed, but it resolves to loopback, which the policy
    // does not allow: the executor's guard refuses it at connect time.
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(
            oanix_caps::EgressPolicy::allow_hosts(["localhost"])
                .schemes(["ws"])
                .ports([port])
                .build()
                .unwrap(),
        )
        .relay(format!("ws://localhost:{port}"))
        .record_sink(sink)
        .generate()
        .unwrap();
    let mut m = ExecutorManager::new(nostr_config().build()).unwrap();
    m.attach_nostr(&nostr);
    m.attach_nostr(&denied);
    m.start().unwrap();
    let r = expect_record(&records, |r| {
        r.action == "connect" && r.outcome == Outcome::Refused
    });
    let detail = r.detail.unwrap_or_default();
    assert!(
        detail.contains("resolves only to refused addresses"),
        "{detail}"
    );
    m.shutdown().unwrap();
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
}

/// A relay the test plays by hand: what the connector sends arrives on
/// `from_client`, what the test sends goes to the connector (one
/// connection).
struct ScriptedRelay {
    url: String,
    from_client: mpsc::Receiver<Value>,
    to_client: tokio::sync::mpsc::UnboundedSender<String>,
    _rt: Runtime,
}

impl ScriptedRelay {
    fn start() -> Self {
        let rt = relay_runtime();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let (in_tx, from_client) = mpsc::channel();
        let (to_client, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        rt.spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let (mut sink, mut source) = ws.split();
            loop {
                tokio::select! {
                    m = source.next() => match m {
                        Some(Ok(Message::Text(t))) => {
                            let v: Value = serde_json::from_str(t.as_str()).unwrap();
                            let _ = in_tx.send(v);
                        }
                        Some(Ok(_)) => {}
                        _ => return,
                    },
                    Some(text) = out_rx.recv() => {
                        if sink.send(Message::text(text)).await.is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Self {
            url: format!("ws://127.0.0.1:{port}"),
            from_client,
            to_client,
            _rt: rt,
        }
    }

    /// The next message from the connector whose first element is `word`.
    fn expect(&self, word: &str) -> Value {
        loop {
            let v = self.from_client.recv_timeout(PATIENCE).unwrap();
            if v[0] == word {
                return v;
            }
        }
    }

    fn send(&self, message: Value) {
        self.to_client.send(message.to_string()).unwrap();
    }
}

fn scripted_nostr(relay: &ScriptedRelay) -> (NostrFs, crate::support::Records) {
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&relay.url]))
        .relay(&relay.url)
        .record_sink(sink)
        .generate()
        .unwrap();
    (nostr, records)
}

/// Writes `message` to `file` of `nostr` and reads back the event id.
fn write_message(nostr: &NostrFs, file: &str, message: &str) -> String {
    let mut h = nostr.open(file, OpenFlags::read_write()).unwrap();
    h.write(message.as_bytes()).unwrap();
    let mut id = Vec::new();
    read_to_end(h.as_mut(), &mut id).unwrap();
    String::from_utf8(id).unwrap()
}

fn read_json(nostr: &NostrFs, path: &str) -> Value {
    serde_json::from_str(&read_to_string(nostr, path).unwrap()).unwrap()
}

fn signed_by(keys: &Keys, kind: u16, tags: Vec<Tag>, content: &str) -> Event {
    EventBuilder::new(Kind::from_u16(kind), content)
        .tags(tags)
        .finalize(keys)
        .unwrap()
}

#[test]
fn a_job_request_subscribes_to_its_results_and_feedback() {
    let relay = ScriptedRelay::start();
    let (nostr, records) = scripted_nostr(&relay);
    let m = start(&nostr, nostr_config().build());
    let provider = Keys::new(SecretKey::from_slice(&[9u8; 32]).unwrap());
    let stranger = Keys::new(SecretKey::from_slice(&[3u8; 32]).unwrap());
    let p = provider.public_key().to_hex();
    let id = write_message(
        &nostr,
        "/request",
        &json!({"kind": 5050, "input": "2+2?", "providers": [p]}).to_string(),
    );
    // The connector subscribes by itself: results of kind 6050 and
    // feedback naming the request, from the provider asked.
    let req = relay.expect("REQ");
    let sub = req[1].as_str().unwrap().to_owned();
    assert_eq!(sub, format!("job-{}", &id[..32]));
    assert_eq!(
        req[2],
        json!({"authors": [p], "kinds": [6050, 7000], "#e": [id]})
    );
    let event = relay.expect("EVENT");
    assert_eq!(event[1]["id"], id);
    relay.send(json!(["OK", id, true, ""]));
    let e = Tag::custom("e", [id.clone()]);
    let feedback = signed_by(
        &provider,
        7000,
        vec![e.clone(), Tag::custom("status", ["processing"])],
        "",
    );
    relay.send(json!(["EVENT", sub, feedback]));
    // Someone else's result is not the result (nor does it match the
    // subscription); nor is a result of the wrong kind.
    relay.send(json!([
        "EVENT",
        sub,
        signed_by(&stranger, 6050, vec![e.clone()], "5")
    ]));
    relay.send(json!([
        "EVENT",
        sub,
        signed_by(&provider, 6051, vec![e.clone()], "6")
    ]));
    relay.send(json!(["EOSE", sub]));
    expect_record(&records, |r| r.action == "eose");
    let fb = read_json(&nostr, &format!("/feedback/{id}.json"));
    assert_eq!(fb["feedback"].as_array().unwrap().len(), 1, "{fb}");
    assert_eq!(fb["result_arrived"], false);
    let mut h = nostr
        .open(
            &format!("/jobs/{id}.json"),
            OpenFlags::read_only().with_nonblocking(true),
        )
        .unwrap();
    let mut buf = [0u8; 8];
    assert!(h.read(&mut buf).is_err());
    // The provider's result ends the wait, and the subscription.
    let result = signed_by(&provider, 6050, vec![e], "4");
    relay.send(json!(["EVENT", sub, result]));
    let doc = read_json(&nostr, &format!("/jobs/{id}.json"));
    assert_eq!(doc["result"]["content"], "4");
    assert_eq!(doc["result"]["pubkey"], p);
    assert_eq!(
        doc["feedback"][0]["tags"][1],
        json!(["status", "processing"])
    );
    let close = relay.expect("CLOSE");
    assert_eq!(close[1], sub);
    m.shutdown().unwrap();
}

#[test]
fn late_and_unmatched_oks_are_honoured_or_recorded() {
    let relay = ScriptedRelay::start();
    let (nostr, records) = scripted_nostr(&relay);
    let config = nostr_config()
        .nostr_ok_timeout(Duration::from_millis(50))
        .nostr_publish_retry(RetryPolicy::none())
        .build();
    let m = start(&nostr, config);
    // No OK in time: the connection gives up on the event...
    let late = write_message(&nostr, "/submit", r#"{"kind":1,"content":"late"}"#);
    assert_eq!(relay.expect("EVENT")[1]["id"], late);
    expect_record(&records, |r| {
        r.action == "publish"
            && r.outcome == Outcome::Failed
            && r.detail.as_deref().unwrap_or("").starts_with("gave up")
    });
    // ...and the OK that comes after is honoured all the same.
    relay.send(json!(["OK", late, true, ""]));
    expect_record(&records, |r| {
        r.action == "publish" && r.outcome == Outcome::Ok && r.id.as_deref() == Some(late.as_str())
    });
    assert!(nostr.outbox_events().is_empty());
    let doc = read_json(&nostr, &format!("/published/{late}.json"));
    assert_eq!(doc["outcome"], "published");
    assert_eq!(doc["sent_to"], json!([relay.url]));
    // An OK with an empty id, or for an event never sent, keeps its words.
    relay.send(json!(["OK", "", false, "blocked: you are banned"]));
    let r = expect_record(&records, |r| {
        r.action == "publish" && r.outcome == Outcome::Failed
    });
    assert_eq!(
        r.detail.as_deref(),
        Some("OK false without a valid event id: blocked: you are banned")
    );
    let stray = "ab".repeat(32);
    relay.send(json!(["OK", stray, false, "invalid: what is this"]));
    let r = expect_record(&records, |r| {
        r.action == "publish" && r.outcome == Outcome::Failed
    });
    assert_eq!(r.id.as_deref(), Some(stray.as_str()));
    assert_eq!(
        r.detail.as_deref(),
        Some("OK false for an event not published here: invalid: what is this")
    );
    // A late refusal is honoured too, and stays readable.
    let refused = write_message(&nostr, "/submit", r#"{"kind":1,"content":"no"}"#);
    assert_eq!(relay.expect("EVENT")[1]["id"], refused);
    expect_record(&records, |r| {
        r.action == "publish"
            && r.outcome == Outcome::Failed
            && r.id.as_deref() == Some(refused.as_str())
            && r.detail.as_deref().unwrap_or("").starts_with("gave up")
    });
    relay.send(json!(["OK", refused, false, "blocked: spam"]));
    expect_record(&records, |r| {
        r.action == "publish"
            && r.id.as_deref() == Some(refused.as_str())
            && r.detail.as_deref() == Some("rejected: blocked: spam")
    });
    let doc = read_json(&nostr, &format!("/published/{refused}.json"));
    assert_eq!(doc["outcome"], "rejected");
    assert_eq!(doc["rejected"], json!({relay.url.clone(): "blocked: spam"}));
    assert_eq!(nostr.status().rejected, 1);
    m.shutdown().unwrap();
}

#[test]
fn copies_from_a_second_relay_count_as_duplicates() {
    let a = ScriptedRelay::start();
    let b = ScriptedRelay::start();
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(relay_policy(&[&a.url, &b.url]))
        .relay(&a.url)
        .relay(&b.url)
        .record_sink(sink)
        .generate()
        .unwrap();
    nostr
        .add_subscription("notes", vec![Filter::new().kinds([1])])
        .unwrap();
    let m = start(&nostr, nostr_config().build());
    let author = Keys::new(SecretKey::from_slice(&[5u8; 32]).unwrap());
    let note = signed_by(&author, 1, Vec::new(), "everywhere");
    for relay in [&a, &b] {
        let req = relay.expect("REQ");
        relay.send(json!(["EVENT", req[1], note]));
        relay.send(json!(["EOSE", req[1]]));
        expect_record(&records, |r| r.action == "eose" && r.target == relay.url);
    }
    assert_eq!(nostr.inbox_events().len(), 1);
    assert_eq!(nostr.status().duplicates, 1);
    assert_eq!(nostr.status().received, 1);
    m.shutdown().unwrap();
}

#[test]
fn an_agent_subscribes_through_the_files_and_reads_what_the_relay_sends() {
    let relay = ScriptedRelay::start();
    let (nostr, _records) = scripted_nostr(&relay);
    let m = start(&nostr, nostr_config().build());
    let author = Keys::new(SecretKey::from_slice(&[5u8; 32]).unwrap());
    let other = Keys::new(SecretKey::from_slice(&[6u8; 32]).unwrap());
    let a = author.public_key().to_hex();
    let sub = write_message(
        &nostr,
        "/subscribe",
        &json!({"kinds": [1], "authors": [a]}).to_string(),
    );
    // The connector asks the relay for exactly that filter.
    let req = relay.expect("REQ");
    assert_eq!(req[1], sub.as_str());
    assert_eq!(req[2], json!({"authors": [a], "kinds": [1]}));
    // One the filter does not take, then one it does.
    let stray = signed_by(&other, 1, Vec::new(), "not for you");
    let note = signed_by(&author, 1, Vec::new(), "hello agent");
    relay.send(json!(["EVENT", sub, stray]));
    relay.send(json!(["EVENT", sub, note]));
    let path = format!("/subs/{sub}/events");
    let mut h = nostr.open(&path, OpenFlags::read_only()).unwrap();
    let mut got = Vec::new();
    read_to_end(h.as_mut(), &mut got).unwrap();
    let got: Value = serde_json::from_slice(&got).unwrap();
    assert_eq!(got["id"], note.id.to_hex());
    assert_eq!(got["content"], "hello agent");
    assert_eq!(
        read_json(&nostr, &format!("/subs/{sub}/status"))["matched"],
        1
    );
    // Removing the directory closes the subscription at the relay.
    nostr.remove(&format!("/subs/{sub}")).unwrap();
    let close = relay.expect("CLOSE");
    assert_eq!(close[1], sub.as_str());
    let mut rest = Vec::new();
    assert_eq!(read_to_end(h.as_mut(), &mut rest), Ok(0));
    m.shutdown().unwrap();
}
