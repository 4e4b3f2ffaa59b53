//! NostrFs through its files (mounted in a namespace) and through its API:
//! signing, NIP-90 job requests, verification of what arrives.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use oanix_caps::nostr_crate::event::{Event, EventBuilder, FinalizeEvent, Kind, Tag};
use oanix_caps::nostr_crate::key::{Keys, SecretKey};
use oanix_caps::nostr_crate::nips::nip19::ToBech32;
use oanix_caps::{
    CapError, CapRecord, Capability, EgressPolicy, Filter, JobInput, JobRequest, NostrFs,
    NostrLimits, Outcome, RecordLog,
};
use oanix_vfs::{FileService, FsError, FsErrorKind, Namespace, OpenFlags, read_to_string, walk};
use serde_json::{Value, json};

use crate::support::{read_json, send, until};

const SECRET: [u8; 32] = [7u8; 32];

/// Allows the relays these tests name (`wss://relay.example.com`,
/// `wss://a.example`...), over `wss` only.
fn relay_policy() -> EgressPolicy {
    EgressPolicy::allow_hosts(["*.example", "relay.example.com"])
        .schemes(["wss"])
        .build()
        .unwrap()
}

fn keys() -> Keys {
    Keys::new(SecretKey::from_slice(&SECRET).unwrap())
}

fn mounted(n: &Arc<NostrFs>) -> Namespace {
    Namespace::builder()
        .mount("/cap/nostr", Arc::clone(n))
        .build()
}

fn names(ns: &Namespace, dir: &str) -> Vec<String> {
    ns.readdir(dir)
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect()
}

/// The event as the outbox file shows it, parsed back and verified.
fn outbox_event(ns: &Namespace, id: &str) -> Event {
    let doc = read_json(ns, &format!("/cap/nostr/outbox/{id}.json")).unwrap();
    let e = Event::from_json(doc["event"].to_string()).unwrap();
    e.verify().unwrap();
    e
}

fn tags(e: &Event) -> Vec<Vec<String>> {
    e.tags.iter().map(|t| t.as_slice().to_vec()).collect()
}

#[test]
fn identity_files_and_the_secret_never_shows() {
    let n = Arc::new(
        NostrFs::builder()
            .policy(relay_policy())
            .relay("wss://relay.example.com")
            .build(SECRET)
            .unwrap(),
    );
    let ns = mounted(&n);
    let k = keys();
    assert_eq!(
        read_to_string(&ns, "/cap/nostr/identity/pubkey").unwrap(),
        k.public_key().to_hex()
    );
    let npub = read_to_string(&ns, "/cap/nostr/identity/npub").unwrap();
    assert!(npub.starts_with("npub1"));
    assert_eq!(npub, k.public_key().to_bech32().unwrap());
    assert_eq!(n.pubkey(), k.public_key().to_hex());
    assert_eq!(
        names(&ns, "/cap/nostr"),
        [
            "feedback",
            "identity",
            "inbox",
            "jobs",
            "outbox",
            "published",
            "relays",
            "request",
            "status",
            "submit",
            "subs",
            "subscribe",
        ]
    );
    assert_eq!(names(&ns, "/cap/nostr/identity"), ["npub", "pubkey"]);
    assert_eq!(
        read_to_string(&ns, "/cap/nostr/relays").unwrap(),
        "wss://relay.example.com\n"
    );
    send(&ns, "/cap/nostr/submit", r#"{"kind":1,"content":"hi"}"#).unwrap();
    // No readable file holds the secret, in hex or bech32.
    let secret_hex = k.secret_key().to_secret_hex();
    let nsec = k.secret_key().to_bech32().unwrap();
    for entry in walk(&ns, "/cap/nostr") {
        let entry = entry.unwrap();
        if entry.kind.is_file()
            && !entry.path.ends_with("/submit")
            && !entry.path.ends_with("/request")
        {
            let text = read_to_string(&ns, &entry.path).unwrap();
            assert!(
                !text.contains(&secret_hex) && !text.contains(&nsec),
                "{}",
                entry.path
            );
        }
    }
    assert!(!format!("{n:?}").contains(&secret_hex));
    let s = read_json(&ns, "/cap/nostr/status").unwrap();
    assert_eq!(s["npub"], npub);
    assert_eq!(s["counters"]["signed"], 1);
    assert!(matches!(NostrFs::new([0u8; 32]), Err(CapError::Key(_))));
    assert_ne!(NostrFs::generate().unwrap().pubkey(), n.pubkey());
}

#[test]
fn submit_signs_a_template_into_the_outbox() {
    let log = RecordLog::new(100);
    let n = Arc::new(
        NostrFs::builder()
            .record_sink(log.sink())
            .build(SECRET)
            .unwrap(),
    );
    let ns = mounted(&n);
    let id = send(
        &ns,
        "/cap/nostr/submit",
        r#"{"kind":1,"content":"hello nostr","tags":[["t","oanix"],["e","00"]],"created_at":1700000000}"#,
    )
    .unwrap();
    assert_eq!(id.len(), 64);
    assert_eq!(names(&ns, "/cap/nostr/outbox"), [format!("{id}.json")]);
    let e = outbox_event(&ns, &id);
    assert_eq!(e.id.to_hex(), id);
    assert_eq!(e.pubkey, keys().public_key());
    assert_eq!(e.kind, Kind::TextNote);
    assert_eq!(e.content, "hello nostr");
    assert_eq!(e.created_at.as_secs(), 1_700_000_000);
    assert_eq!(tags(&e), [vec!["t", "oanix"], vec!["e", "00"]]);
    let r = &log.records()[0];
    assert_eq!((r.action.as_str(), r.outcome), ("sign", Outcome::Queued));
    assert_eq!(r.target, "kind:1");
    assert_eq!(r.id.as_deref(), Some(id.as_str()));
    assert_eq!(
        r.digest.as_deref(),
        Some(oanix_caps::sha256_digest(b"hello nostr").as_str())
    );
}

#[test]
fn request_signs_a_nip90_job_request() {
    let n = Arc::new(NostrFs::new(SECRET).unwrap());
    let ns = mounted(&n);
    let provider = Keys::new(SecretKey::from_slice(&[9u8; 32]).unwrap())
        .public_key()
        .to_hex();
    let msg = json!({
        "kind": 5050,
        "input": "What is the capital of France?",
        "inputs": [{"data": "abcd", "type": "event", "relay": "wss://r.example", "marker": "context"}],
        "params": {"model": "small", "max_tokens": "64"},
        "output": "text/plain",
        "bid": 1000,
        "relays": ["wss://r.example", "wss://s.example"],
        "providers": [provider],
    });
    let id = send(&ns, "/cap/nostr/request", &msg.to_string()).unwrap();
    let e = outbox_event(&ns, &id);
    assert_eq!(e.kind.as_u16(), 5050);
    assert!(oanix_caps::JOB_REQUEST_KINDS.contains(&e.kind.as_u16()));
    assert_eq!(e.content, "");
    assert_eq!(
        tags(&e),
        [
            vec!["i", "What is the capital of France?", "text"],
            vec!["i", "abcd", "event", "wss://r.example", "context"],
            vec!["param", "max_tokens", "64"],
            vec!["param", "model", "small"],
            vec!["output", "text/plain"],
            vec!["bid", "1000"],
            vec!["relays", "wss://r.example", "wss://s.example"],
            vec!["p", provider.as_str()],
        ]
    );
    assert_eq!(names(&ns, "/cap/nostr/jobs"), [format!("{id}.json")]);
    // The same through the API.
    let e = n
        .create_job_request(
            5001,
            "summarise",
            HashMap::from([("length".to_owned(), "short".to_owned())]),
        )
        .unwrap();
    e.verify().unwrap();
    assert_eq!(
        tags(&e),
        [
            vec!["i", "summarise", "text"],
            vec!["param", "length", "short"]
        ]
    );
    let mut job = JobRequest::new(5100, "https://example.com/cat.png");
    let mut input = JobInput::text("https://example.com/cat.png");
    input.input_type = "url".into();
    job.inputs = vec![input];
    assert_eq!(
        tags(&n.create_job(&job).unwrap()),
        [vec!["i", "https://example.com/cat.png", "url"]]
    );
    assert_eq!(
        n.create_job_request(6000, "x", HashMap::new()),
        Err(CapError::invalid(
            "field `kind`: a job request kind is 5000-5999, found 6000"
        ))
    );
}

fn refused(n: &NostrFs, ns: &Namespace, file: &str, msg: &str, expected: FsError) {
    let before = n.status();
    let mut h = ns.open(file, OpenFlags::read_write()).unwrap();
    assert_eq!(h.write(msg.as_bytes()), Err(expected), "{msg}");
    let mut buf = [0u8; 8];
    assert_eq!(h.read(&mut buf), Ok(0));
    let after = n.status();
    assert_eq!((after.signed, after.outbox), (before.signed, before.outbox));
}

#[test]
fn malformed_templates_and_requests_change_nothing() {
    let n = Arc::new(
        NostrFs::builder()
            .limits(NostrLimits::default().max_message(512))
            .build(SECRET)
            .unwrap(),
    );
    let ns = mounted(&n);
    let s = "/cap/nostr/submit";
    for (msg, why) in [
        ("nope", "not valid JSON (expected ident at line 1 column 2)"),
        (
            r#"{"content":"x"}"#,
            "missing field `kind` (expected a non-negative integer)",
        ),
        (
            r#"{"kind":"1"}"#,
            "field `kind`: expected a non-negative integer, found a string",
        ),
        (
            r#"{"kind":70000}"#,
            "field `kind`: expected 0-65535, found 70000",
        ),
        (
            r#"{"kind":1,"content":5}"#,
            "field `content`: expected a string, found a number",
        ),
        (
            r#"{"kind":1,"tags":"t"}"#,
            "field `tags`: expected an array of arrays of strings, found a string",
        ),
        (
            r#"{"kind":1,"tags":[["t",1]]}"#,
            "field `tags[0][1]`: expected a string, found a number",
        ),
        (
            r#"{"kind":1,"tags":[[]]}"#,
            "field `tags[0]`: a tag needs at least one element",
        ),
        (
            r#"{"kind":1,"sig":"x"}"#,
            "unknown field `sig` (expected one of: kind, content, tags, created_at)",
        ),
    ] {
        refused(&n, &ns, s, msg, FsError::invalid_input(s, why));
    }
    let big = format!(r#"{{"kind":1,"content":"{}"}}"#, "x".repeat(600));
    refused(&n, &ns, s, &big, FsError::too_large(s, 512));
    let r = "/cap/nostr/request";
    for (msg, why) in [
        (
            r#"{"kind":1,"input":"x"}"#,
            "field `kind`: a job request kind is 5000-5999, found 1",
        ),
        (
            r#"{"kind":5050,"inputs":[{"data":"x","type":"file"}]}"#,
            "field `inputs[0].type`: expected one of text, url, event, job, found `file`",
        ),
        (
            r#"{"kind":5050,"inputs":[{"type":"text"}]}"#,
            "missing field `inputs[0].data` (expected a string)",
        ),
        (
            r#"{"kind":5050,"inputs":["x"]}"#,
            "field `inputs[0]`: expected an object, found a string",
        ),
        (
            r#"{"kind":5050,"params":{"k":1}}"#,
            "field `params.k`: expected a string, found a number",
        ),
        (
            r#"{"kind":5050,"bid":-5}"#,
            "field `bid`: expected a non-negative integer, found -5",
        ),
        (
            r#"{"kind":5050,"providers":["zz"]}"#,
            "field `providers[0]`: expected a 64-character hex public key",
        ),
        (
            r#"{"kind":5050,"relays":[1]}"#,
            "field `relays[0]`: expected a string, found a number",
        ),
        (
            r#"{"kind":5050,"prompt":"x"}"#,
            "unknown field `prompt` (expected one of: kind, input, inputs, params, output, bid, relays, providers, content)",
        ),
    ] {
        refused(&n, &ns, r, msg, FsError::invalid_input(r, why));
    }
    assert_eq!(n.status().invalid_messages, 19);
    assert!(names(&ns, "/cap/nostr/outbox").is_empty());
    assert!(names(&ns, "/cap/nostr/jobs").is_empty());
}

#[test]
fn the_outbox_is_bounded_and_drains_as_relays_accept() {
    let n = Arc::new(
        NostrFs::builder()
            .policy(relay_policy())
            .relay("wss://a.example")
            .relay("wss://b.example")
            .limits(NostrLimits::default().max_outbox(1))
            .build(SECRET)
            .unwrap(),
    );
    let ns = mounted(&n);
    let id = send(&ns, "/cap/nostr/submit", r#"{"kind":1}"#).unwrap();
    refused(
        &n,
        &ns,
        "/cap/nostr/submit",
        r#"{"kind":1}"#,
        FsError::would_block("/cap/nostr/submit"),
    );
    assert_eq!(n.outbox_events().len(), 1);
    assert_eq!(n.mark_sent(&id, "wss://a.example"), Ok(false));
    assert_eq!(
        read_json(&ns, &format!("/cap/nostr/outbox/{id}.json")).unwrap()["sent_to"],
        json!(["wss://a.example"])
    );
    assert_eq!(n.mark_sent(&id, "wss://b.example"), Ok(true));
    assert!(n.outbox_events().is_empty());
    assert_eq!(n.status().published, 1);
    assert!(matches!(
        n.mark_sent(&id, "wss://a.example"),
        Err(CapError::UnknownId { .. })
    ));
    assert!(send(&ns, "/cap/nostr/submit", r#"{"kind":1}"#).is_ok());
}

#[test]
fn refusals_are_shown_and_an_event_every_relay_refused_leaves_the_outbox() {
    let log = RecordLog::new(100);
    let n = Arc::new(
        NostrFs::builder()
            .policy(relay_policy())
            .relay("wss://a.example")
            .relay("wss://b.example")
            .record_sink(log.sink())
            .build(SECRET)
            .unwrap(),
    );
    let ns = mounted(&n);
    let id = send(&ns, "/cap/nostr/submit", r#"{"kind":1}"#).unwrap();
    assert_eq!(
        n.mark_rejected(&id, "wss://a.example", "blocked: not on the list"),
        Ok(false)
    );
    let doc = read_json(&ns, &format!("/cap/nostr/outbox/{id}.json")).unwrap();
    assert_eq!(
        doc["rejected"],
        json!({"wss://a.example": "blocked: not on the list"})
    );
    assert_eq!(
        n.outbox_events()[0].rejected,
        [(
            "wss://a.example".to_owned(),
            "blocked: not on the list".to_owned()
        )]
    );
    assert_eq!(
        n.mark_rejected(&id, "wss://b.example", "invalid: bad kind"),
        Ok(true)
    );
    assert!(n.outbox_events().is_empty());
    assert_eq!((n.status().published, n.status().rejected), (0, 1));
    assert!(log.records().iter().any(|r| {
        r.action == "publish" && r.detail.as_deref() == Some("rejected: invalid: bad kind")
    }));
    // An executor's own records go to the same sink.
    n.emit_record(CapRecord::new(
        Capability::Nostr,
        oanix_caps::RecordAction::Notice,
        "wss://a.example",
        Outcome::Ok,
    ));
    assert_eq!(
        log.records().last().map(|r| r.action.as_str()),
        Some("notice")
    );
}

fn foreign_event(content: &str) -> Event {
    let other = Keys::new(SecretKey::from_slice(&[3u8; 32]).unwrap());
    EventBuilder::new(Kind::TextNote, content)
        .finalize(&other)
        .unwrap()
}

#[test]
fn incoming_events_are_verified_before_the_inbox() {
    let log = RecordLog::new(100);
    let n = Arc::new(
        NostrFs::builder()
            .record_sink(log.sink())
            .build(SECRET)
            .unwrap(),
    );
    let ns = mounted(&n);
    let good = foreign_event("gm");
    assert_eq!(n.receive_event("wss://a.example", good.clone()), Ok(true));
    assert_eq!(n.receive_event("wss://b.example", good.clone()), Ok(false));
    let id = good.id.to_hex();
    let doc = read_json(&ns, &format!("/cap/nostr/inbox/{id}.json")).unwrap();
    assert_eq!(doc["relay"], "wss://a.example");
    assert_eq!(doc["event"]["content"], "gm");

    // A tampered event (content changed after signing) is dropped.
    let mut json: Value = serde_json::from_str(&foreign_event("real").as_json()).unwrap();
    json["content"] = json!("forged");
    let err = n
        .receive_event_json("wss://a.example", &json.to_string())
        .unwrap_err();
    assert!(matches!(err, CapError::Signature(_)), "{err:?}");
    // A valid id with someone else's signature is dropped too.
    let mut json: Value = serde_json::from_str(&foreign_event("x").as_json()).unwrap();
    json["sig"] = serde_json::to_value(good.sig).unwrap();
    assert!(matches!(
        n.receive_event_json("wss://a.example", &json.to_string()),
        Err(CapError::Signature(_))
    ));
    assert!(matches!(
        n.receive_event_json("wss://a.example", "{}"),
        Err(CapError::Invalid(_))
    ));
    let s = n.status();
    assert_eq!(
        (s.received, s.duplicates, s.invalid_dropped, s.inbox),
        (1, 1, 3, 1)
    );
    assert_eq!(
        read_json(&ns, "/cap/nostr/status").unwrap()["counters"]["invalid_dropped"],
        3
    );
    assert_eq!(n.inbox_events(), [good]);
    let failed = log
        .records()
        .into_iter()
        .filter(|r| r.outcome == Outcome::Failed)
        .count();
    assert_eq!(failed, 2);
    // The agent may remove what it has read.
    ns.remove(&format!("/cap/nostr/inbox/{id}.json")).unwrap();
    assert!(names(&ns, "/cap/nostr/inbox").is_empty());
}

#[test]
fn the_inbox_is_bounded() {
    let n = NostrFs::builder()
        .limits(NostrLimits::default().max_inbox(2))
        .build(SECRET)
        .unwrap();
    let events: Vec<Event> = (0..3).map(|i| foreign_event(&format!("m{i}"))).collect();
    for e in &events {
        n.receive_event("wss://a.example", e.clone()).unwrap();
    }
    assert_eq!(n.inbox_events(), events[1..]);
    assert_eq!(n.status().evicted, 1);
}

fn job_result(request: &Event, content: &str) -> Event {
    let provider = Keys::new(SecretKey::from_slice(&[9u8; 32]).unwrap());
    EventBuilder::new(Kind::from_u16(request.kind.as_u16() + 1000), content)
        .tags([
            Tag::custom("request", [request.as_json()]),
            Tag::custom("e", [request.id.to_hex()]),
            Tag::custom("p", [request.pubkey.to_hex()]),
        ])
        .finalize(&provider)
        .unwrap()
}

#[test]
fn a_job_result_wakes_the_blocked_reader() {
    let n = Arc::new(NostrFs::new(SECRET).unwrap());
    let ns = Arc::new(mounted(&n));
    let id = send(
        &*ns,
        "/cap/nostr/request",
        r#"{"kind":5050,"input":"2+2?"}"#,
    )
    .unwrap();
    let request = n.outbox_events().remove(0).event;
    let reader = {
        let ns = Arc::clone(&ns);
        let path = format!("/cap/nostr/jobs/{id}.json");
        std::thread::spawn(move || read_json(&*ns, &path))
    };
    until("the reader blocks", || n.status().waiting_readers == 1);
    // Unrelated events do not end the wait.
    n.receive_event("wss://a.example", foreign_event("noise"))
        .unwrap();
    let result = job_result(&request, "4");
    n.receive_event("wss://a.example", result.clone()).unwrap();
    let doc = reader.join().unwrap().unwrap();
    assert_eq!(doc["request"], id);
    assert_eq!(doc["result"]["content"], "4");
    assert_eq!(doc["result"]["kind"], 6050);
    assert_eq!(n.job_result(&id), Some(result));
}

#[test]
fn job_reads_time_out_or_refuse_to_wait() {
    let n = Arc::new(
        NostrFs::builder()
            .limits(NostrLimits::default().wait(Duration::from_millis(20)))
            .build(SECRET)
            .unwrap(),
    );
    let ns = mounted(&n);
    let id = send(&ns, "/cap/nostr/request", r#"{"kind":5050,"input":"x"}"#).unwrap();
    let path = format!("/cap/nostr/jobs/{id}.json");
    let mut buf = [0u8; 8];
    let mut h = ns.open(&path, OpenFlags::read_only()).unwrap();
    assert_eq!(h.read(&mut buf), Err(FsError::timed_out(&path)));
    let mut h = ns
        .open(&path, OpenFlags::read_only().with_nonblocking(true))
        .unwrap();
    assert_eq!(h.read(&mut buf), Err(FsError::would_block(&path)));
    assert_eq!(
        n.wait_job_result("ff", Duration::from_secs(1)),
        Err(CapError::UnknownId {
            kind: "job request",
            id: "ff".into()
        })
    );
    let missing = "/cap/nostr/jobs/ff.json";
    assert_eq!(
        ns.open(missing, OpenFlags::read_only()).err(),
        Some(FsError::not_found(missing))
    );
}

#[test]
fn read_only_files_are_refused() {
    let n = Arc::new(NostrFs::new(SECRET).unwrap());
    let ns = mounted(&n);
    let id = send(&ns, "/cap/nostr/submit", r#"{"kind":1}"#).unwrap();
    let outbox = format!("/cap/nostr/outbox/{id}.json");
    for path in [
        "/cap/nostr/identity/pubkey",
        "/cap/nostr/identity/npub",
        "/cap/nostr/relays",
        "/cap/nostr/status",
        outbox.as_str(),
    ] {
        assert_eq!(
            ns.open(path, OpenFlags::write_only()).err(),
            Some(FsError::read_only(path)),
            "{path}"
        );
    }
    let fixed = |p: &str| FsError::permission_denied(p, "the files of this service are fixed");
    assert_eq!(ns.remove(&outbox), Err(fixed(&outbox)));
    assert_eq!(
        ns.remove("/cap/nostr/identity/pubkey"),
        Err(fixed("/cap/nostr/identity/pubkey"))
    );
    assert_eq!(ns.mkdir("/cap/nostr/keys"), Err(fixed("/cap/nostr/keys")));
    assert_eq!(
        ns.open("/cap/nostr/identity/secret", OpenFlags::read_only())
            .err(),
        Some(FsError::not_found("/cap/nostr/identity/secret"))
    );
    let mut h = ns
        .open("/cap/nostr/submit", OpenFlags::read_only())
        .unwrap();
    assert_eq!(h.write(b"{}").unwrap_err().kind(), FsErrorKind::BadHandle);
}

#[test]
fn filters_match_and_serialise_as_nip01() {
    let e = foreign_event("x");
    let author = e.pubkey.to_hex();
    let f = Filter::new()
        .authors([author.clone()])
        .kinds([1])
        .since(0)
        .limit(5);
    assert!(f.matches(&e));
    assert!(!Filter::new().kinds([7]).matches(&e));
    assert!(!Filter::new().events(["abc"]).matches(&e));
    assert!(!Filter::new().until(1).matches(&e));
    assert!(Filter::new().ids([e.id.to_hex()]).matches(&e));
    let tagged = EventBuilder::new(Kind::TextNote, "")
        .tags([
            Tag::custom("e", ["abc"]),
            Tag::custom("p", [author.as_str()]),
        ])
        .finalize(&keys())
        .unwrap();
    assert!(
        Filter::new()
            .events(["abc"])
            .pubkeys([author.clone()])
            .matches(&tagged)
    );
    let json =
        serde_json::to_value(Filter::new().events(["abc"]).pubkeys(["p1"]).kinds([1, 7])).unwrap();
    assert_eq!(json, json!({"#e": ["abc"], "#p": ["p1"], "kinds": [1, 7]}));
    let back: Filter = serde_json::from_value(json!({"#e": ["abc"], "limit": 3})).unwrap();
    assert_eq!(back, Filter::new().events(["abc"]).limit(3));
}

#[test]
fn subscriptions_and_relays_are_managed_and_bounded() {
    let n = NostrFs::builder()
        .policy(relay_policy())
        .build(SECRET)
        .unwrap();
    n.add_subscription("jobs", vec![Filter::new().kinds([6050, 7000])])
        .unwrap();
    n.add_subscription("mine", vec![Filter::new().pubkeys([n.pubkey().to_owned()])])
        .unwrap();
    assert_eq!(
        n.subscriptions()
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>(),
        ["jobs", "mine"]
    );
    assert!(n.remove_subscription("jobs"));
    assert!(!n.remove_subscription("jobs"));
    assert_eq!(n.status().subscriptions, 1);
    for i in 0..31 {
        n.add_subscription(format!("s{i}"), vec![]).unwrap();
    }
    assert_eq!(
        n.add_subscription("one-too-many", vec![]),
        Err(CapError::QueueFull {
            what: "subscriptions".into(),
            capacity: 32
        })
    );
    assert!(n.add_relay("https://not-a-relay.example").is_err());
    // A relay the policy does not allow is refused with the reason.
    assert_eq!(
        n.add_relay("wss://relay.elsewhere.net"),
        Err(CapError::Refused(
            "relay `wss://relay.elsewhere.net`: host `relay.elsewhere.net` is not in the allow list"
                .into()
        ))
    );
    assert_eq!(
        n.add_relay("ws://r.example"),
        Err(CapError::Refused(
            "relay `ws://r.example`: scheme `ws` is not allowed (allowed: wss)".into()
        ))
    );
    n.add_relay("wss://r.example").unwrap();
    assert_eq!(n.relays(), ["wss://r.example"]);
    assert!(n.remove_relay("wss://r.example"));
}

#[test]
fn relays_are_denied_by_default() {
    let log = RecordLog::new(10);
    let n = NostrFs::builder()
        .record_sink(log.sink())
        .generate()
        .unwrap();
    assert!(matches!(
        n.add_relay("wss://relay.damus.io"),
        Err(CapError::Refused(_))
    ));
    assert!(n.relays().is_empty());
    let r = &log.records()[0];
    assert_eq!(
        (r.target.as_str(), r.outcome),
        ("wss://relay.damus.io", Outcome::Refused)
    );
    // A relay in the builder is checked the same way, when built.
    let e = NostrFs::builder().relay("wss://relay.damus.io").generate();
    assert!(matches!(e, Err(CapError::Refused(_))));
    let allowed = NostrFs::builder()
        .policy(
            EgressPolicy::allow_hosts(["relay.damus.io"])
                .build()
                .unwrap(),
        )
        .relay("wss://relay.damus.io")
        .generate()
        .unwrap();
    assert_eq!(allowed.relays(), ["wss://relay.damus.io"]);
}

fn signed_by(secret: u8, kind: u16, tags: Vec<Tag>, content: &str) -> Event {
    let k = Keys::new(SecretKey::from_slice(&[secret; 32]).unwrap());
    EventBuilder::new(Kind::from_u16(kind), content)
        .tags(tags)
        .finalize(&k)
        .unwrap()
}

#[test]
fn a_job_subscribes_to_its_own_results_and_takes_only_its_providers() {
    let n = Arc::new(NostrFs::new(SECRET).unwrap());
    let ns = mounted(&n);
    let provider = Keys::new(SecretKey::from_slice(&[9u8; 32]).unwrap());
    let p = provider.public_key().to_hex();
    let id = send(
        &ns,
        "/cap/nostr/request",
        &json!({"kind": 5050, "input": "2+2?", "providers": [p]}).to_string(),
    )
    .unwrap();
    // The job's own subscription, without the host asking.
    let subs = n.subscriptions();
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].0, format!("job-{}", &id[..32]));
    assert_eq!(
        serde_json::to_value(&subs[0].1).unwrap(),
        json!([{"authors": [p], "kinds": [6050, 7000], "#e": [id]}])
    );
    assert_eq!(n.status().subscriptions, 1);
    let e = Tag::custom("e", [id.clone()]);
    // A result signed by someone else, or of the wrong kind, is not taken.
    n.receive_event("wss://a.example", signed_by(3, 6050, vec![e.clone()], "5"))
        .unwrap();
    n.receive_event("wss://a.example", signed_by(9, 6051, vec![e.clone()], "6"))
        .unwrap();
    // A result naming another request is not taken either.
    let other = Tag::custom("e", ["ab".repeat(32)]);
    n.receive_event("wss://a.example", signed_by(9, 6050, vec![other], "7"))
        .unwrap();
    assert_eq!(n.job_result(&id), None);
    // Feedback from the provider shows at once; from others, not.
    n.receive_event(
        "wss://a.example",
        signed_by(
            9,
            7000,
            vec![e.clone(), Tag::custom("status", ["processing"])],
            "",
        ),
    )
    .unwrap();
    n.receive_event(
        "wss://a.example",
        signed_by(3, 7000, vec![e.clone()], "spam"),
    )
    .unwrap();
    let fb = read_json(&ns, &format!("/cap/nostr/feedback/{id}.json")).unwrap();
    assert_eq!(fb["request"], id);
    assert_eq!(fb["result_arrived"], false);
    assert_eq!(fb["feedback"].as_array().unwrap().len(), 1);
    assert_eq!(
        fb["feedback"][0]["tags"][1],
        json!(["status", "processing"])
    );
    assert_eq!(names(&ns, "/cap/nostr/feedback"), [format!("{id}.json")]);
    // The provider's result of the right kind is the result.
    let good = signed_by(9, 6050, vec![e], "4");
    n.receive_event("wss://a.example", good.clone()).unwrap();
    let doc = read_json(&ns, &format!("/cap/nostr/jobs/{id}.json")).unwrap();
    assert_eq!(doc["result"]["content"], "4");
    assert_eq!(doc["feedback"].as_array().unwrap().len(), 1);
    assert_eq!(n.job_result(&id), Some(good));
    assert_eq!(n.job_feedback(&id).map(|f| f.len()), Some(1));
    assert_eq!(n.job_feedback("ff"), None);
    // Its subscription is gone with the wait.
    assert!(n.subscriptions().is_empty());
    let fb = read_json(&ns, &format!("/cap/nostr/feedback/{id}.json")).unwrap();
    assert_eq!(fb["result_arrived"], true);
    // The host cannot take the service's subscription ids.
    assert!(matches!(
        n.add_subscription("job-mine", vec![]),
        Err(CapError::Invalid(_))
    ));
}

#[test]
fn a_job_without_providers_takes_a_result_from_anyone() {
    let n = NostrFs::new(SECRET).unwrap();
    let id = n.request_message(br#"{"kind":5100,"input":"x"}"#).unwrap();
    let subs = n.subscriptions();
    assert_eq!(
        serde_json::to_value(&subs[0].1).unwrap(),
        json!([{"kinds": [6100, 7000], "#e": [id]}])
    );
    let result = signed_by(4, 6100, vec![Tag::custom("e", [id.clone()])], "y");
    n.receive_event("wss://a.example", result.clone()).unwrap();
    assert_eq!(n.job_result(&id), Some(result));
}

#[test]
fn outcomes_stay_readable_after_the_outbox() {
    let n = Arc::new(
        NostrFs::builder()
            .policy(relay_policy())
            .relay("wss://a.example")
            .relay("wss://b.example")
            .limits(NostrLimits::default().max_published(1))
            .build(SECRET)
            .unwrap(),
    );
    let ns = mounted(&n);
    let refused = send(&ns, "/cap/nostr/submit", r#"{"kind":1}"#).unwrap();
    let path = format!("/cap/nostr/published/{refused}.json");
    assert!(read_json(&ns, &path).is_err());
    assert_eq!(n.delivery(&refused), None);
    n.mark_rejected(&refused, "wss://a.example", "blocked: no")
        .unwrap();
    n.mark_rejected(&refused, "wss://b.example", "invalid: bad")
        .unwrap();
    let doc = read_json(&ns, &path).unwrap();
    assert_eq!(
        doc,
        json!({
            "id": refused,
            "kind": 1,
            "outcome": "rejected",
            "sent_to": [],
            "rejected": {"wss://a.example": "blocked: no", "wss://b.example": "invalid: bad"},
        })
    );
    assert_eq!(
        names(&ns, "/cap/nostr/published"),
        [format!("{refused}.json")]
    );
    let sent = send(&ns, "/cap/nostr/submit", r#"{"kind":1,"content":"b"}"#).unwrap();
    n.mark_sent(&sent, "wss://a.example").unwrap();
    n.mark_rejected(&sent, "wss://b.example", "pow: more")
        .unwrap();
    let d = n.delivery(&sent).unwrap();
    assert_eq!(d.sent_to, ["wss://a.example"]);
    assert_eq!(
        d.rejected,
        [("wss://b.example".to_owned(), "pow: more".to_owned())]
    );
    let doc = read_json(&ns, &format!("/cap/nostr/published/{sent}.json")).unwrap();
    assert_eq!(doc["outcome"], "published");
    // Bounded: the older outcome is forgotten.
    assert_eq!(n.delivery(&refused), None);
    assert!(read_json(&ns, &path).is_err());
}

#[test]
fn duplicates_are_counted() {
    let n = NostrFs::new(SECRET).unwrap();
    let e = foreign_event("once");
    assert_eq!(n.receive_event("wss://a.example", e.clone()), Ok(true));
    assert_eq!(n.receive_event("wss://b.example", e), Ok(false));
    n.note_duplicate();
    assert_eq!(n.status().duplicates, 2);
    assert_eq!(n.inbox_events().len(), 1);
}

#[test]
fn auth_answers_are_signed_only_for_relays_the_host_enabled() {
    let log = RecordLog::new(10);
    let n = NostrFs::builder()
        .policy(relay_policy())
        .relay("wss://a.example")
        .authenticate("wss://a.example")
        .record_sink(log.sink())
        .build(SECRET)
        .unwrap();
    assert!(matches!(
        n.sign_auth("wss://b.example", "c"),
        Err(CapError::Refused(_))
    ));
    let e = n.sign_auth("wss://a.example", "chal-1").unwrap();
    e.verify().unwrap();
    assert_eq!(e.kind.as_u16(), 22242);
    assert_eq!(e.tags.challenge().as_deref(), Some("chal-1"));
    assert_eq!(
        tags(&e),
        [
            vec!["relay", "wss://a.example"],
            vec!["challenge", "chal-1"]
        ]
    );
    assert!(n.outbox_events().is_empty());
    assert_eq!(
        log.records().last().map(|r| r.action.as_str()),
        Some("auth")
    );
    let long = "x".repeat(oanix_caps::MAX_AUTH_CHALLENGE + 1);
    assert!(matches!(
        n.sign_auth("wss://a.example", &long),
        Err(CapError::Invalid(_))
    ));
    n.set_authentication("wss://a.example", false);
    assert!(!n.authenticates("wss://a.example"));
}

/// Reads one event from an open `subs/{id}/events` handle (a read to the
/// end gives exactly one).
fn next_event(h: &mut dyn oanix_vfs::FileHandle) -> Value {
    let mut out = Vec::new();
    oanix_vfs::read_to_end(h, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches('\n').count(), 1, "one line per event: {text}");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_subscription_written_by_the_agent_streams_matching_events_in_order() {
    let n = Arc::new(NostrFs::new(SECRET).unwrap());
    let ns = mounted(&n);
    let author = Keys::new(SecretKey::from_slice(&[3u8; 32]).unwrap())
        .public_key()
        .to_hex();
    let filter = json!({"kinds": [1], "authors": [author]});
    let id = send(&ns, "/cap/nostr/subscribe", &filter.to_string()).unwrap();
    assert_eq!(id, "sub-1");
    // The relay executor sees it as one more subscription.
    let expected = Filter::new().kinds([1]).authors([author.as_str()]);
    assert_eq!(n.subscriptions(), vec![(id.clone(), vec![expected])]);
    assert_eq!(names(&ns, "/cap/nostr/subs"), vec!["sub-1"]);
    assert_eq!(
        names(&ns, "/cap/nostr/subs/sub-1"),
        vec!["events", "filter.json", "status"]
    );
    assert_eq!(
        read_json(&ns, "/cap/nostr/subs/sub-1/filter.json").unwrap(),
        filter
    );
    // Sizes: the documents as read, the stream 0.
    let status_path = "/cap/nostr/subs/sub-1/status";
    let status = read_to_string(&ns, status_path).unwrap();
    assert_eq!(ns.stat(status_path).unwrap().size, status.len() as u64);
    assert_eq!(ns.stat("/cap/nostr/subs/sub-1/events").unwrap().size, 0);
    assert_eq!(ns.stat("/cap/nostr/subscribe").unwrap().size, 0);

    let first = foreign_event("one");
    let second = foreign_event("two");
    n.receive_event("wss://a.example", first.clone()).unwrap();
    // Not matching: another author, another kind.
    n.receive_event(
        "wss://a.example",
        signed_by(9, 1, Vec::new(), "someone else"),
    )
    .unwrap();
    n.receive_event("wss://a.example", signed_by(3, 7, Vec::new(), "a reaction"))
        .unwrap();
    n.receive_event("wss://a.example", second.clone()).unwrap();
    // A copy already received is not delivered again.
    n.receive_event("wss://b.example", first.clone()).unwrap();
    let status = read_json(&ns, status_path).unwrap();
    assert_eq!(
        status,
        json!({"id": "sub-1", "queued": 2, "matched": 2, "dropped": 0})
    );

    let path = "/cap/nostr/subs/sub-1/events";
    let mut h = ns.open(path, OpenFlags::read_only()).unwrap();
    assert_eq!(next_event(h.as_mut())["id"], first.id.to_hex());
    let e = next_event(h.as_mut());
    assert_eq!(e["content"], "two");
    assert_eq!(Event::from_json(e.to_string()).unwrap(), second);
    // Nothing more: a nonblocking handle says so.
    let mut nb = ns
        .open(path, OpenFlags::read_only().with_nonblocking(true))
        .unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(nb.read(&mut buf), Err(FsError::would_block(path)));
}

#[test]
fn a_blocked_reader_gets_the_next_event_and_the_end_when_removed() {
    let n = Arc::new(NostrFs::new(SECRET).unwrap());
    let ns = Arc::new(mounted(&n));
    let id = send(
        &*ns,
        "/cap/nostr/subscribe",
        r#"{"id": "notes", "filter": {"kinds": [1]}}"#,
    )
    .unwrap();
    assert_eq!(id, "notes");
    let reader = {
        let ns = Arc::clone(&ns);
        std::thread::spawn(move || {
            let mut h = ns
                .open("/cap/nostr/subs/notes/events", OpenFlags::read_only())
                .unwrap();
            let first = next_event(h.as_mut());
            let mut rest = Vec::new();
            let end = oanix_vfs::read_to_end(h.as_mut(), &mut rest);
            (first, end, rest)
        })
    };
    until("the reader blocks", || n.status().waiting_readers == 1);
    n.receive_event("wss://a.example", foreign_event("hello"))
        .unwrap();
    // Once it has taken the event, the next read sees the end.
    until("the reader takes it", || {
        read_json(&*ns, "/cap/nostr/subs/notes/status").unwrap()["queued"] == 0
    });
    ns.remove("/cap/nostr/subs/notes").unwrap();
    let (first, end, rest) = reader.join().unwrap();
    assert_eq!(first["content"], "hello");
    assert_eq!(end, Ok(0));
    assert!(rest.is_empty());
    // Closed: gone from the files and from what relays are asked.
    assert!(n.subscriptions().is_empty());
    assert!(names(&ns, "/cap/nostr/subs").is_empty());
    let gone = "/cap/nostr/subs/notes/events";
    assert_eq!(
        ns.open(gone, OpenFlags::read_only()).err(),
        Some(FsError::not_found(gone))
    );
    assert_eq!(
        ns.remove("/cap/nostr/subs/notes"),
        Err(FsError::not_found("/cap/nostr/subs/notes"))
    );
}

#[test]
fn invalid_filters_and_ids_are_refused_and_open_nothing() {
    let n = Arc::new(NostrFs::new(SECRET).unwrap());
    let ns = mounted(&n);
    let file = "/cap/nostr/subscribe";
    let inv = |m: &str| FsError::invalid_input(file, m);
    let cases = [
        ("[1]", inv("expected a JSON object, found an array")),
        (
            r#"{"kinds": [1], "colour": "red"}"#,
            inv(
                "unknown field `colour` (expected one of: ids, authors, kinds, #e, #p, since, until, limit)",
            ),
        ),
        (
            r#"{"kinds": [70000]}"#,
            inv("field `kinds[0]`: expected an integer from 0 to 65535"),
        ),
        (
            r#"{"authors": ["abc"]}"#,
            inv("field `authors[0]`: expected 64 lowercase hex digits"),
        ),
        (
            r#"{"since": 10, "until": 5}"#,
            inv("field `until`: expected no earlier than `since`"),
        ),
        (
            r##"{"id": "x", "filter": {"#e": ["zz"]}}"##,
            inv("field `filter.#e[0]`: expected 64 lowercase hex digits"),
        ),
        (
            r#"{"id": "job-1", "filter": {}}"#,
            inv("field `id`: ids starting with `job-` are reserved for job requests"),
        ),
        (
            r#"{"id": "a/b", "filter": {}}"#,
            inv("field `id`: expected 1 to 64 characters of A-Z a-z 0-9 . _ -"),
        ),
    ];
    for (msg, expected) in cases {
        let mut h = ns.open(file, OpenFlags::read_write()).unwrap();
        let got = h.write(msg.as_bytes()).unwrap_err();
        assert_eq!(got.kind(), expected.kind(), "{msg}");
        assert_eq!(got, expected, "{msg}");
        let mut buf = [0u8; 8];
        assert_eq!(h.read(&mut buf), Ok(0));
    }
    assert!(n.subscriptions().is_empty());
    assert!(names(&ns, "/cap/nostr/subs").is_empty());
    // An id already open is refused too.
    send(&ns, file, r#"{"id": "mine", "filter": {}}"#).unwrap();
    let again = send(&ns, file, r#"{"id": "mine", "filter": {"kinds": [1]}}"#).unwrap_err();
    assert_eq!(again.kind(), FsErrorKind::InvalidInput, "{again}");
    assert_eq!(
        n.subscriptions(),
        vec![("mine".into(), vec![Filter::new()])]
    );
}

#[test]
fn subscriptions_are_bounded_and_each_queue_drops_its_oldest() {
    let mut limits = NostrLimits::default().max_sub_events(2);
    limits.max_subscriptions = 2;
    let n = Arc::new(NostrFs::builder().limits(limits).build(SECRET).unwrap());
    let ns = mounted(&n);
    let file = "/cap/nostr/subscribe";
    n.add_subscription("host", vec![Filter::new().kinds([1])])
        .unwrap();
    let id = send(&ns, file, r#"{"kinds": [1]}"#).unwrap();
    let full = send(&ns, file, r#"{"kinds": [2]}"#).unwrap_err();
    assert_eq!(full.kind(), FsErrorKind::WouldBlock, "{full}");
    for text in ["a", "b", "c"] {
        n.receive_event("wss://a.example", foreign_event(text))
            .unwrap();
    }
    let status = read_json(&ns, &format!("/cap/nostr/subs/{id}/status")).unwrap();
    assert_eq!(
        status,
        json!({"id": id, "queued": 2, "matched": 3, "dropped": 1})
    );
    let mut h = ns
        .open(
            &format!("/cap/nostr/subs/{id}/events"),
            OpenFlags::read_only(),
        )
        .unwrap();
    assert_eq!(next_event(h.as_mut())["content"], "b");
    assert_eq!(next_event(h.as_mut())["content"], "c");
    // Closing one frees its place.
    ns.remove(&format!("/cap/nostr/subs/{id}")).unwrap();
    assert_eq!(send(&ns, file, r#"{"kinds": [2]}"#).unwrap(), "sub-2");
    // The host's subscriptions have no directory and cannot be removed
    // through one.
    assert_eq!(names(&ns, "/cap/nostr/subs"), vec!["sub-2"]);
    assert_eq!(
        ns.remove("/cap/nostr/subs/host"),
        Err(FsError::not_found("/cap/nostr/subs/host"))
    );
    // The host taking an agent's id over replaces it: the directory goes.
    n.add_subscription("sub-2", vec![Filter::new().kinds([3])])
        .unwrap();
    assert!(names(&ns, "/cap/nostr/subs").is_empty());
    assert!(n.remove_subscription("host"));
    send(&ns, file, r#"{"id": "again", "filter": {}}"#).unwrap();
    // Files inside a subscription are the service's.
    assert_eq!(
        ns.remove("/cap/nostr/subs/again/events")
            .unwrap_err()
            .kind(),
        FsErrorKind::PermissionDenied
    );
}
