//! NostrRelayConnector against nostr-relay-builder's in-process relays,
//! including their fault modes: garbage events, an unresponsive relay, rate
//! limits, authentication required, a relay that goes away and comes back.

use std::collections::HashMap;
use std::time::Duration;

use nostr_relay_builder::builder::{
    RateLimit, RelayBuilderNip42, RelayBuilderNip42Mode, RelayTestOptions,
};
use nostr_relay_builder::{LocalRelay, MockRelay, RelayBuilder};
use oanix_caps::{Filter, NostrFs, Outcome};
use oanix_exec::{ExecutorConfig, ExecutorManager, RetryPolicy};
use tokio::runtime::Runtime;

use crate::support::{expect_record, fast_config, record_channel, wait_until};

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
