//! LogsFs: append-only files, the events an agent writes (and the malformed
//! ones it is refused), the byte limits and their markers, and following the
//! logs live from another thread.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests: a failed expectation is a failed test"
)]

use std::io::SeekFrom;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use oanix_services::{EventSource, LogEvent, LogLevel, LogStream, LogsFs};
use oanix_vfs::{
    FileService, FsError, FsErrorKind, Namespace, OpenFlags, Timestamp, append_file, deadline,
    read_file, read_to_string, write_all, write_file,
};
use proptest::prelude::*;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

fn mounted(logs: &LogsFs) -> Namespace {
    Namespace::builder().mount("/logs", logs.clone()).build()
}

fn event_lines(fs: &dyn FileService, path: &str) -> Vec<serde_json::Value> {
    read_to_string(fs, path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

// ------------------------------------------------------------------ append

#[test]
fn writes_at_any_offset_append() {
    let logs = LogsFs::new();
    for stream in [LogStream::Stdout, LogStream::Stderr] {
        let path = stream.path();
        let mut h = logs.open(path, OpenFlags::read_write()).unwrap();
        assert_eq!(h.write(b"one\n").unwrap(), 4);
        assert_eq!(h.seek(SeekFrom::Current(0)).unwrap(), 4);
        h.seek(SeekFrom::Start(0)).unwrap();
        assert_eq!(h.write(b"two\n").unwrap(), 4);
        // After a write the position is at the end, as with O_APPEND.
        assert_eq!(h.seek(SeekFrom::Current(0)).unwrap(), 8);
        assert_eq!(h.write_at(b"three\n", 1).unwrap(), 6);
        assert_eq!(h.seek(SeekFrom::Current(0)).unwrap(), 8);
        h.seek(SeekFrom::Start(100)).unwrap();
        h.write(b"four\n").unwrap();
        assert_eq!(logs.contents(stream), b"one\ntwo\nthree\nfour\n");

        // Reads behave as on any file.
        let mut buf = [0u8; 5];
        assert_eq!(h.read_at(&mut buf, 8).unwrap(), 5);
        assert_eq!(&buf, b"three");
        h.seek(SeekFrom::End(-5)).unwrap();
        assert_eq!(h.read(&mut buf).unwrap(), 5);
        assert_eq!(&buf, b"four\n");
        assert_eq!(h.read(&mut buf).unwrap(), 0);
        assert_eq!(h.stat().unwrap().size, 19);
        assert_eq!(logs.stat(path).unwrap().size, 19);
        assert_eq!(logs.size(stream), 19);
    }
    assert_eq!(logs.size(LogStream::Events), 0);
}

#[test]
fn logs_cannot_be_shortened() {
    let logs = LogsFs::new();
    logs.write_stdout("kept\n");
    // `File::create` works, and truncates nothing.
    write_file(&logs, "/stdout.log", "more\n").unwrap();
    assert_eq!(logs.contents(LogStream::Stdout), b"kept\nmore\n");
    let mut h = logs.open("/stdout.log", OpenFlags::write_only()).unwrap();
    let err = h.set_len(0).unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::PermissionDenied);
    assert!(err.to_string().contains("append-only"), "{err}");
    assert_eq!(logs.contents(LogStream::Stdout), b"kept\nmore\n");
    // Handles keep to their access mode.
    let mut r = logs.open("/stdout.log", OpenFlags::read_only()).unwrap();
    assert_eq!(r.write(b"x").unwrap_err().kind(), FsErrorKind::BadHandle);
    assert_eq!(r.set_len(0).unwrap_err().kind(), FsErrorKind::BadHandle);
    let mut buf = [0u8; 4];
    assert_eq!(h.read(&mut buf).unwrap_err().kind(), FsErrorKind::BadHandle);
}

#[test]
fn a_reader_sees_output_written_after_it_opened() {
    let logs = LogsFs::new();
    let mut r = logs.open("/stderr.log", OpenFlags::read_only()).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(r.read(&mut buf).unwrap(), 0);
    logs.write_stderr(b"late\n");
    assert_eq!(r.read(&mut buf).unwrap(), 5);
    assert_eq!(&buf[..5], b"late\n");
}

#[test]
fn host_and_agent_output_is_readable_through_the_files() {
    let logs = LogsFs::new();
    let ns = mounted(&logs);
    logs.write_stdout(b"host says hi\n");
    append_file(&ns, "/logs/stdout.log", "agent says hi\n").unwrap();
    logs.info("task started");
    logs.log_event(LogEvent::with_data(
        LogLevel::Debug,
        "config loaded",
        json!({"timeout": 300}),
    ));
    append_file(
        &ns,
        "/logs/events.jsonl",
        "{\"level\": \"warn\", \"message\": \"rate limit approaching\", \"data\": {\"left\": 3}}\n",
    )
    .unwrap();
    logs.warn("w");
    logs.error("e");
    logs.debug("d");

    assert_eq!(
        read_to_string(&ns, "/logs/stdout.log").unwrap(),
        "host says hi\nagent says hi\n"
    );
    let lines = event_lines(&ns, "/logs/events.jsonl");
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0]["level"], "info");
    assert_eq!(lines[0]["source"], "host");
    assert_eq!(lines[0]["message"], "task started");
    assert!(lines[0]["timestamp"].is_u64());
    assert!(lines[0].get("data").is_none());
    assert_eq!(lines[1]["data"], json!({"timeout": 300}));
    assert_eq!(lines[2]["source"], "agent");
    assert_eq!(lines[2]["data"]["left"], 3);
    let levels: Vec<_> = lines.iter().map(|l| l["level"].as_str().unwrap()).collect();
    assert_eq!(levels, ["info", "debug", "warn", "warn", "error", "debug"]);

    let events = logs.events();
    assert_eq!(events.len(), 6);
    assert_eq!(events[2].source, EventSource::Agent);
    assert_eq!(events[2].message, "rate limit approaching");
    assert_eq!(
        logs.stat("/events.jsonl").unwrap().size,
        read_file(&logs, "/events.jsonl").unwrap().len() as u64
    );
}

#[test]
fn an_agent_event_keeps_its_timestamp_or_gets_the_time_of_the_write() {
    let logs = LogsFs::new();
    let before = Timestamp::now();
    append_file(
        &logs,
        "/events.jsonl",
        "{\"timestamp\": 12345, \"level\": \"info\", \"message\": \"a\"}\n\n{\"level\": \"info\", \"message\": \"b\"}",
    )
    .unwrap();
    let events = logs.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].timestamp, Timestamp(12345));
    assert!(events[1].timestamp >= before);
    // Lines without a final newline are stored as whole lines.
    assert!(logs.contents(LogStream::Events).ends_with(b"\n"));
}

#[test]
fn concurrent_writers_never_interleave_within_a_write() {
    let logs = LogsFs::new();
    let ns = Arc::new(mounted(&logs));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let ns = Arc::clone(&ns);
            thread::spawn(move || {
                let mut h = ns
                    .open("/logs/stdout.log", OpenFlags::append_create())
                    .unwrap();
                for i in 0..200 {
                    let line = format!("writer {w} line {i} {}\n", "x".repeat(i % 17));
                    write_all(h.as_mut(), "/logs/stdout.log", line.as_bytes()).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let text = String::from_utf8(logs.contents(LogStream::Stdout)).unwrap();
    let mut next = [0usize; 4];
    for line in text.lines() {
        let parts: Vec<_> = line.split(' ').collect();
        let w: usize = parts[1].parse().unwrap();
        let i: usize = parts[3].parse().unwrap();
        assert_eq!(i, next[w], "writer {w} out of order");
        assert_eq!(parts[4], "x".repeat(i % 17));
        next[w] += 1;
    }
    assert_eq!(next, [200; 4]);
}

// ---------------------------------------------------------- agent events

#[test]
fn malformed_event_lines_are_rejected_and_nothing_is_lost() {
    let logs = LogsFs::new();
    let ns = mounted(&logs);
    logs.info("before");
    append_file(
        &ns,
        "/logs/events.jsonl",
        "{\"level\":\"info\",\"message\":\"agent\"}\n",
    )
    .unwrap();
    let before = logs.contents(LogStream::Events);

    let good = "{\"level\":\"info\",\"message\":\"fine\"}";
    let cases = [
        (
            format!("{good}\n{good}\nnot json at all\n"),
            "line 3",
            "expected a JSON object",
        ),
        (
            format!("{good}\n[1, 2]\n"),
            "line 2",
            "expected a JSON object",
        ),
        (
            format!("{good}\n{{\"level\":\"info\"}}\n"),
            "line 2",
            "missing field `message`",
        ),
        (
            format!("{{\"message\":\"x\"}}\n{good}"),
            "line 1",
            "missing field `level`",
        ),
        (
            format!("{good}\n{{\"level\":\"fatal\",\"message\":\"x\"}}"),
            "line 2",
            "unknown variant `fatal`",
        ),
        (
            format!("{good}\n{{\"level\":\"info\",\"message\":\"x\",\"source\":\"host\"}}"),
            "line 2",
            "unknown field `source`",
        ),
        (
            format!("{good}\n{{\"level\":\"info\",\"message\":[\"x\"]}}"),
            "line 2",
            "invalid type: sequence",
        ),
        (
            format!("{good}\n{{\"level\":\"info\",\"message\":\"x\",\"timestamp\":\"noon\"}}"),
            "line 2",
            "invalid type: string \"noon\"",
        ),
        (
            format!("{good}\n{{\"level\":\"info\",\"message\":\"x\""),
            "line 2",
            "EOF while parsing",
        ),
        (
            format!("{good}\n{{\"level\":\"info\",\"message\":\"x\"}} trailing"),
            "line 2",
            "trailing characters",
        ),
        (
            format!("{good}\n\n\n{{\"level\":\"info\" \"message\":\"x\"}}"),
            "line 4",
            "expected `,` or `}` (at column 17)",
        ),
    ];
    for (input, line, what) in cases {
        let err = append_file(&ns, "/logs/events.jsonl", &input).unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::InvalidInput, "{input:?}");
        assert_eq!(err.path(), "/logs/events.jsonl");
        let text = err.to_string();
        assert!(
            text.contains(&format!("{line} of this write: ")),
            "{input:?}: {text}"
        );
        assert!(text.contains(what), "{input:?}: {text}");
        assert!(
            text.contains("nothing from this write was logged"),
            "{text}"
        );
        assert_eq!(
            logs.contents(LogStream::Events),
            before,
            "{input:?} logged something"
        );
    }
    // Bytes that are not UTF-8.
    let mut h = logs.open("/events.jsonl", OpenFlags::write_only()).unwrap();
    let err = h
        .write(b"{\"level\":\"info\",\"message\":\"\xc3\x28\"}\n")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("line 1 of this write: not valid UTF-8"),
        "{err}"
    );
    assert_eq!(logs.contents(LogStream::Events), before);
    // The handle is still usable after a refused write.
    h.write(format!("{good}\n").as_bytes()).unwrap();
    assert_eq!(logs.events().len(), 3);
    // Blank writes log nothing and are not errors.
    assert_eq!(h.write(b"\n  \n").unwrap(), 4);
    assert_eq!(logs.events().len(), 3);
}

// ----------------------------------------------------------------- limits

#[test]
fn a_full_file_drops_output_and_says_so_once() {
    let logs = LogsFs::builder().max_bytes(64).build();
    let ns = mounted(&logs);
    let line = "0123456789abcdef\n"; // 17 bytes
    for _ in 0..3 {
        append_file(&ns, "/logs/stdout.log", line).unwrap();
    }
    assert_eq!(logs.size(LogStream::Stdout), 51);
    // The fourth line does not fit whole: dropped, yet reported as written.
    let mut h = ns
        .open("/logs/stdout.log", OpenFlags::append_create())
        .unwrap();
    assert_eq!(h.write(line.as_bytes()).unwrap(), 17);
    // From now on the file is full, even for output that would fit.
    assert_eq!(h.write(b"ok\n").unwrap(), 3);
    logs.write_stdout(b"more\n");
    assert_eq!(logs.contents(LogStream::Stdout), line.repeat(3).as_bytes());
    assert_eq!(logs.dropped_bytes(LogStream::Stdout), 17 + 3 + 5);

    let events = logs.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let marker = &events[0];
    assert_eq!(marker.level, LogLevel::Warn);
    assert_eq!(marker.source, EventSource::Host);
    assert!(
        marker.message.starts_with(
            "output dropped: 17 bytes written to stdout.log past its limit of 64 bytes"
        ),
        "{}",
        marker.message
    );
    assert_eq!(
        marker.data,
        Some(json!({"file": "stdout.log", "dropped_bytes": 17, "limit_bytes": 64}))
    );
    // Other files are unaffected.
    logs.write_stderr(b"still fine\n");
    assert_eq!(logs.contents(LogStream::Stderr), b"still fine\n");
    assert_eq!(logs.dropped_bytes(LogStream::Stderr), 0);
}

#[test]
fn the_events_file_is_bounded_too_and_markers_always_get_in() {
    let logs = LogsFs::builder().max_bytes(200).build();
    let mut logged = 0;
    while logs.dropped_bytes(LogStream::Events) == 0 {
        logs.info(format!("event {logged}"));
        logged += 1;
    }
    let kept = logs.events();
    // Every event that fitted, then the marker for events.jsonl itself.
    assert_eq!(kept.len(), logged);
    let marker = kept.last().unwrap();
    assert!(
        marker.message.starts_with("output dropped: ")
            && marker.message.contains("to events.jsonl"),
        "{}",
        marker.message
    );
    assert!(logs.size(LogStream::Events) > 200);
    // Agent events are dropped the same way: accepted, not stored.
    let size = logs.size(LogStream::Events);
    append_file(
        &logs,
        "/events.jsonl",
        "{\"level\":\"info\",\"message\":\"x\"}",
    )
    .unwrap();
    logs.error("lost");
    assert_eq!(logs.size(LogStream::Events), size);

    // The other files overflowing still leave their marker: one each.
    logs.write_stdout(vec![b'o'; 201]);
    logs.write_stderr(vec![b'e'; 300]);
    logs.write_stdout(vec![b'o'; 10]);
    let files: Vec<_> = logs
        .events()
        .into_iter()
        .filter(|e| e.message.starts_with("output dropped: "))
        .map(|e| e.data.unwrap()["file"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(files, ["events.jsonl", "stdout.log", "stderr.log"]);
    assert_eq!(logs.dropped_bytes(LogStream::Stdout), 211);
    assert_eq!(logs.dropped_bytes(LogStream::Stderr), 300);
}

#[test]
fn a_malformed_line_is_refused_even_when_the_file_is_full() {
    let logs = LogsFs::builder().max_bytes(0).build();
    let err = append_file(&logs, "/events.jsonl", "oops").unwrap_err();
    assert_eq!(err.kind(), FsErrorKind::InvalidInput);
    append_file(
        &logs,
        "/events.jsonl",
        "{\"level\":\"info\",\"message\":\"x\"}",
    )
    .unwrap();
    assert_eq!(logs.events().len(), 1, "only the marker");
}

// ------------------------------------------------------------------ follow

#[test]
fn a_follower_sees_everything_another_thread_writes() {
    let logs = LogsFs::new();
    let ns = mounted(&logs);
    logs.write_stdout(b"line 0\n");
    let mut follower = logs.follow(LogStream::Stdout);
    let start = Arc::new(Barrier::new(2));
    let writer = {
        let start = Arc::clone(&start);
        thread::spawn(move || {
            start.wait();
            for i in 1..100 {
                append_file(&ns, "/logs/stdout.log", format!("line {i}\n")).unwrap();
            }
        })
    };
    start.wait();
    let mut seen = Vec::new();
    let expected: String = (0..100).map(|i| format!("line {i}\n")).collect();
    while seen.len() < expected.len() {
        let chunk = follower
            .next_timeout(WAIT)
            .expect("the writer stopped short");
        assert!(!chunk.is_empty());
        seen.extend(chunk);
    }
    writer.join().unwrap();
    assert_eq!(String::from_utf8(seen).unwrap(), expected);
    assert_eq!(follower.offset(), expected.len() as u64);
    assert_eq!(follower.stream(), LogStream::Stdout);
    assert_eq!(follower.try_next(), None);
}

#[test]
fn an_event_follower_yields_host_and_agent_events_in_order() {
    let logs = LogsFs::new();
    let mut follower = logs.follow_events();
    let start = Arc::new(Barrier::new(2));
    let writer = {
        let (logs, start) = (logs.clone(), Arc::clone(&start));
        thread::spawn(move || {
            start.wait();
            for i in 0..50 {
                if i % 2 == 0 {
                    logs.info(format!("host {i}"));
                } else {
                    let line = format!("{{\"level\":\"debug\",\"message\":\"agent {i}\"}}\n");
                    append_file(&logs, "/events.jsonl", line).unwrap();
                }
            }
        })
    };
    start.wait();
    for i in 0..50 {
        let event = follower.next_timeout(WAIT).expect("an event");
        let who = if i % 2 == 0 { "host" } else { "agent" };
        assert_eq!(event.message, format!("{who} {i}"));
    }
    writer.join().unwrap();
    assert_eq!(follower.try_next(), None);
}

#[test]
fn following_from_the_end_skips_what_was_there() {
    let logs = LogsFs::new();
    logs.write_stderr(b"old\n");
    let mut f = logs.follow_from(LogStream::Stderr, logs.size(LogStream::Stderr));
    assert_eq!(f.try_next(), None);
    logs.write_stderr(b"new\n");
    assert_eq!(f.try_next().as_deref(), Some(&b"new\n"[..]));
}

#[test]
fn a_follower_gives_up_after_its_timeout_or_the_deadline() {
    let logs = LogsFs::new();
    let mut f = logs.follow(LogStream::Stdout);
    assert_eq!(f.next_timeout(Duration::from_millis(10)), None);
    let soon = deadline::Instant::now() + Duration::from_millis(10);
    let start = std::time::Instant::now();
    assert_eq!(
        deadline::scoped(soon, || f.next_timeout(Duration::from_secs(600))),
        None
    );
    assert!(start.elapsed() < Duration::from_secs(600));
    let mut events = logs.follow_events();
    assert_eq!(events.next_timeout(Duration::from_millis(1)), None);
}

// ------------------------------------------------------- the file service

#[test]
fn the_file_set_is_fixed_and_listed_in_order() {
    let logs = LogsFs::new();
    logs.write_stdout(b"abc");
    let entries = logs.readdir("/").unwrap();
    let names: Vec<_> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["events.jsonl", "stderr.log", "stdout.log"]);
    assert_eq!(entries[2].size, 3);
    for e in &entries {
        let md = logs.stat(&format!("/{}", e.name)).unwrap();
        assert_eq!((md.id, md.size, md.readonly), (e.id, e.size, false));
    }
    assert_eq!(logs.fs_type(), "logsfs");

    let ns = mounted(&logs);
    assert_eq!(ns.mount_table(), "mount /logs logsfs\n");
    let fixed = |e: FsError, path: &str| {
        assert_eq!(e.kind(), FsErrorKind::PermissionDenied, "{e}");
        assert_eq!(e.path(), path);
        assert!(e.to_string().contains("fixed"), "{e}");
    };
    fixed(
        write_file(&ns, "/logs/other.log", "x").unwrap_err(),
        "/logs/other.log",
    );
    fixed(ns.mkdir("/logs/old").unwrap_err(), "/logs/old");
    fixed(
        ns.remove("/logs/stdout.log").unwrap_err(),
        "/logs/stdout.log",
    );
    fixed(
        ns.rename("/logs/stdout.log", "/logs/old.log").unwrap_err(),
        "/logs/stdout.log",
    );
    assert_eq!(
        ns.open(
            "/logs/stdout.log",
            OpenFlags::write_only().with_create_new(true)
        )
        .err()
        .unwrap(),
        FsError::already_exists("/logs/stdout.log")
    );
    assert_eq!(
        ns.stat("/logs/missing").unwrap_err(),
        FsError::not_found("/logs/missing")
    );
    assert_eq!(
        logs.open("/stdout.log/", OpenFlags::read_only())
            .err()
            .unwrap()
            .kind(),
        FsErrorKind::NotADirectory
    );
    assert_eq!(
        logs.open("/", OpenFlags::append_create())
            .err()
            .unwrap()
            .kind(),
        FsErrorKind::IsADirectory
    );
    assert_eq!(
        logs.readdir("/events.jsonl").unwrap_err().kind(),
        FsErrorKind::NotADirectory
    );
    assert_eq!(
        logs.stat("/a\0b").unwrap_err().kind(),
        FsErrorKind::InvalidPath
    );
    assert_eq!(logs.contents(LogStream::Stdout), b"abc");
}

#[test]
fn a_shared_logs_service_is_one_set_of_logs() {
    let logs = Arc::new(LogsFs::new());
    let ns = Namespace::builder()
        .mount("/logs", Arc::clone(&logs))
        .mount("/logs2", Arc::clone(&logs))
        .build();
    append_file(&ns, "/logs/stdout.log", "a").unwrap();
    append_file(&ns, "/logs2/stdout.log", "b").unwrap();
    assert_eq!(logs.contents(LogStream::Stdout), b"ab");
}

// ------------------------------------------------------------------ model

/// One thing done to the byte logs.
#[derive(Debug, Clone)]
enum Op {
    /// An agent writes through a handle, at a position or at an offset.
    Write {
        stderr: bool,
        data: Vec<u8>,
        offset: u64,
        positional: bool,
    },
    /// The host writes through the API.
    Host { stderr: bool, data: Vec<u8> },
    /// Someone reads through a handle.
    Read {
        stderr: bool,
        offset: u64,
        len: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let data = proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        (any::<bool>(), data.clone(), 0u64..200, any::<bool>()).prop_map(
            |(stderr, data, offset, positional)| Op::Write {
                stderr,
                data,
                offset,
                positional
            }
        ),
        (any::<bool>(), data).prop_map(|(stderr, data)| Op::Host { stderr, data }),
        (any::<bool>(), 0u64..200, 0usize..64).prop_map(|(stderr, offset, len)| Op::Read {
            stderr,
            offset,
            len
        }),
    ]
}

/// The obvious model of one bounded, append-only file.
#[derive(Debug, Default)]
struct ModelFile {
    data: Vec<u8>,
    full: bool,
    dropped: u64,
}

impl ModelFile {
    /// Appends whole or drops; returns the size of a first drop.
    fn append(&mut self, bytes: &[u8], limit: u64) -> Option<usize> {
        if bytes.is_empty() {
            return None;
        }
        if !self.full && (self.data.len() + bytes.len()) as u64 <= limit {
            self.data.extend_from_slice(bytes);
            return None;
        }
        self.dropped += bytes.len() as u64;
        let first = !self.full;
        self.full = true;
        first.then_some(bytes.len())
    }
}

/// 128 cases, or as many as `PROPTEST_CASES` says for a longer run.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(128);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn byte_logs_agree_with_the_model(
        limit in 0u64..150,
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        let logs = LogsFs::builder().max_bytes(limit).build();
        let mut model = [ModelFile::default(), ModelFile::default()];
        let mut markers = Vec::new();
        let stream = |stderr: bool| if stderr { LogStream::Stderr } else { LogStream::Stdout };
        for op in &ops {
            match op {
                Op::Write { stderr, data, offset, positional } => {
                    let s = stream(*stderr);
                    let mut h = logs.open(s.path(), OpenFlags::read_write()).unwrap();
                    h.seek(SeekFrom::Start(*offset)).unwrap();
                    let n = if *positional {
                        h.write_at(data, *offset).unwrap()
                    } else {
                        h.write(data).unwrap()
                    };
                    prop_assert_eq!(n, data.len());
                    let m = &mut model[usize::from(*stderr)];
                    if let Some(d) = m.append(data, limit) {
                        markers.push((s.file_name(), d as u64));
                    }
                    // A write leaves the position at the end; `write_at` leaves it alone.
                    let expected_pos = if *positional {
                        *offset
                    } else {
                        m.data.len() as u64
                    };
                    prop_assert_eq!(h.seek(SeekFrom::Current(0)).unwrap(), expected_pos);
                }
                Op::Host { stderr, data } => {
                    if *stderr { logs.write_stderr(data) } else { logs.write_stdout(data) }
                    if let Some(d) = model[usize::from(*stderr)].append(data, limit) {
                        markers.push((stream(*stderr).file_name(), d as u64));
                    }
                }
                Op::Read { stderr, offset, len } => {
                    let mut h = logs.open(stream(*stderr).path(), OpenFlags::read_only()).unwrap();
                    let mut buf = vec![0u8; *len];
                    let n = h.read_at(&mut buf, *offset).unwrap();
                    let data = &model[usize::from(*stderr)].data;
                    let start = usize::try_from(*offset).unwrap().min(data.len());
                    let end = (start + len).min(data.len());
                    prop_assert_eq!(&buf[..n], &data[start..end]);
                }
            }
        }
        for (i, s) in [LogStream::Stdout, LogStream::Stderr].into_iter().enumerate() {
            prop_assert_eq!(logs.contents(s), model[i].data.clone());
            prop_assert_eq!(logs.stat(s.path()).unwrap().size, model[i].data.len() as u64);
            prop_assert_eq!(logs.dropped_bytes(s), model[i].dropped);
        }
        let seen: Vec<_> = logs
            .events()
            .into_iter()
            .map(|e| {
                let data = e.data.unwrap();
                (data["file"].as_str().unwrap().to_owned(), data["dropped_bytes"].as_u64().unwrap())
            })
            .collect();
        let expected: Vec<_> = markers.into_iter().map(|(f, d)| (f.to_owned(), d)).collect();
        prop_assert_eq!(seen, expected);
    }
}
