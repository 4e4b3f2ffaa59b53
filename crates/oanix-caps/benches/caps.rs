//! Benchmark: the capability services' round trips through their files.
//!
//! - HttpFs: an agent writes a request and reads the response file while an
//!   in-process completer (a thread woken by `work_listener`, no network)
//!   answers it; against the same through the programmatic API and against a
//!   bare `std::sync::mpsc` round trip between the same two threads.
//! - NostrFs: writing an event template to `submit` (parse, sign, queue)
//!   against building and signing the same event with the `nostr` crate.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "benchmark setup")]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use oanix_bench::{Table, measure_each};
use oanix_caps::{EgressPolicy, HttpFs, HttpLimits, HttpRequest, HttpResponse, Listener};
use oanix_vfs::{FileService, OpenFlags, read_to_end};

/// Answers every request as soon as it is queued, until `stop`.
fn completer(http: Arc<HttpFs>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            let listener = http.work_listener();
            let batch = http.take_pending_batch(64);
            if batch.is_empty() {
                let _ = listener.wait_timeout(Duration::from_millis(50));
                continue;
            }
            for p in batch {
                http.complete_request(HttpResponse::new(&p.id, 200).with_body("ok"))
                    .unwrap();
            }
        }
    })
}

fn http_service() -> Arc<HttpFs> {
    Arc::new(
        HttpFs::builder()
            .policy(
                EgressPolicy::allow_hosts(["api.example.com"])
                    .build()
                    .unwrap(),
            )
            .limits(HttpLimits::default().max_responses(16))
            .build(),
    )
}

const REQUEST: &[u8] = br#"{"method":"GET","url":"https://api.example.com/v1/items?page=2","headers":{"accept":"application/json"}}"#;

fn http_round_trips(n: usize) -> Table {
    let mut table = Table::new(
        "HttpFs round trip with an in-process completer (median per request, p99 in parentheses)",
        &["HttpFs files", "HttpFs API", "std mpsc round trip"],
    );
    // Through the files, as an agent does.
    let http = http_service();
    let stop = Arc::new(AtomicBool::new(false));
    let worker = completer(Arc::clone(&http), Arc::clone(&stop));
    let mut buf = Vec::with_capacity(4096);
    let files = measure_each(n, |_| {
        let mut h = http.open("/request", OpenFlags::read_write()).unwrap();
        h.write(REQUEST).unwrap();
        buf.clear();
        read_to_end(h.as_mut(), &mut buf).unwrap();
        let id = std::str::from_utf8(&buf).unwrap().to_owned();
        let mut r = http
            .open(&format!("/responses/{id}.json"), OpenFlags::read_only())
            .unwrap();
        buf.clear();
        read_to_end(r.as_mut(), &mut buf).unwrap();
        black_box(&buf);
        http.remove(&format!("/responses/{id}.json")).unwrap();
    });
    // Through the API.
    let api = measure_each(n, |_| {
        let id = http
            .try_submit(HttpRequest::get("https://api.example.com/v1/items?page=2"))
            .unwrap();
        black_box(http.wait_response(&id, Duration::from_secs(10)).unwrap());
        http.remove_response(&id);
    });
    stop.store(true, Ordering::SeqCst);
    worker.join().unwrap();
    // The floor: handing a message to another thread and back.
    let (to_tx, to_rx) = mpsc::channel::<u64>();
    let (back_tx, back_rx) = mpsc::channel::<u64>();
    let echo = std::thread::spawn(move || {
        while let Ok(v) = to_rx.recv() {
            back_tx.send(v).unwrap();
        }
    });
    let floor = measure_each(n, |i| {
        to_tx.send(i).unwrap();
        black_box(back_rx.recv().unwrap());
    });
    drop(to_tx);
    echo.join().unwrap();
    table.row(
        "submit, complete, read the response",
        vec![Some(files), Some(api), Some(floor)],
    );
    table.note(
        "The completer is a thread woken by `work_listener`; the agent's read of the response \
         file blocks until the completion wakes it. No network.",
    );
    table
}

#[cfg(feature = "nostr")]
fn nostr_signing() -> Table {
    use oanix_caps::nostr_crate::event::{EventBuilder, FinalizeEvent, Kind, Tag};
    use oanix_caps::nostr_crate::key::{Keys, SecretKey};
    use oanix_caps::{NostrFs, NostrLimits};

    let secret = [42u8; 32];
    let nostr = NostrFs::builder()
        .limits(NostrLimits::default().max_outbox(usize::MAX))
        .build(secret)
        .unwrap();
    let keys = Keys::new(SecretKey::from_slice(&secret).unwrap());
    let template = br#"{"kind":1,"content":"hello from the benchmark","tags":[["t","oanix"]]}"#;
    let ours = oanix_bench::measure(|_| {
        let mut h = nostr.open("/submit", OpenFlags::write_only()).unwrap();
        black_box(h.write(template).unwrap());
    });
    let direct = oanix_bench::measure(|_| {
        let e = EventBuilder::new(Kind::TextNote, "hello from the benchmark")
            .tag(Tag::custom("t", ["oanix"]))
            .finalize(&keys)
            .unwrap();
        black_box(e);
    });
    let mut table = Table::new(
        "NostrFs submit against signing with the nostr crate (median per event, p99 in parentheses)",
        &["NostrFs /submit", "nostr EventBuilder + finalize"],
    );
    table.row("sign one event", vec![Some(ours), Some(direct)]);
    table.note(format!(
        "Rate of NostrFs /submit relative to the nostr crate: {:.2} (events per second, {:.0} against {:.0}).",
        direct.median_ns / ours.median_ns,
        ours.per_second(),
        direct.per_second()
    ));
    table
}

fn main() {
    http_round_trips(5_000).print();
    #[cfg(feature = "nostr")]
    nostr_signing().print();
}
