//! Benchmark: LogsFs append throughput in lines per second, through the file
//! interface (against MemFs and `std::fs` on tmpfs doing the same appends)
//! and through the host API; and what building the services and a 7-mount
//! environment costs, against MemFs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stdout,
    reason = "benchmark setup, and printing the tables is its job"
)]

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};

use oanix_bench::{Stats, Table, measure};
use oanix_prims::MemFs;
use oanix_services::{LogEvent, LogLevel, LogsFs, TaskFs, TaskMeta, TaskSpec};
use oanix_vfs::{FileHandle, FileService, Namespace, OpenFlags, append_file, write_file};

/// A 64-byte line of output.
const LINE: &[u8; 64] = b"2026-01-01T00:00:00Z step 0042: compiled 17 files, 0 warnings..\n";

/// An event line as an agent writes it (64 bytes too).
const EVENT: &[u8; 64] =
    b"{\"level\":\"info\",\"message\":\"step 42 done!\",\"data\":{\"files\":170}}\n";

/// Large enough that no benchmark reaches it: the bench measures appends,
/// not drops.
const NO_LIMIT: u64 = 1 << 40;

fn logs() -> LogsFs {
    LogsFs::builder().max_bytes(NO_LIMIT).build()
}

/// A MemFs with the same three (empty) files as LogsFs.
fn memfs() -> MemFs {
    let fs = MemFs::new();
    for f in ["/stdout.log", "/stderr.log", "/events.jsonl"] {
        write_file(&fs, f, b"").unwrap();
    }
    fs
}

fn spec() -> TaskSpec {
    TaskSpec {
        id: "bench-001".into(),
        task_type: "benchmark".into(),
        description: "measure".into(),
        input: serde_json::Value::Null,
    }
}

/// The seven standard mounts, with `task` and `logs` at their places.
fn environment(task: impl FileService + 'static, logs: impl FileService + 'static) -> Namespace {
    Namespace::builder()
        .mount("/task", task)
        .mount("/workspace", MemFs::new())
        .mount("/logs", logs)
        .mount("/tmp", MemFs::new())
        .mount("/cap/http", MemFs::new())
        .mount("/cap/ws", MemFs::new())
        .mount("/cap/nostr", MemFs::new())
        .build()
}

/// A fresh file on tmpfs, removed when dropped.
struct TmpFile(PathBuf);

impl TmpFile {
    fn new(dir: &Path, name: &str) -> Self {
        let path = dir.join(format!("oanix-logs-bench-{}-{name}", std::process::id()));
        std::fs::write(&path, b"").unwrap();
        Self(path)
    }
    fn append_handle(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&self.0)
            .unwrap()
    }
}

impl Drop for TmpFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Times writing `line` again and again on an open handle.
fn on_handle(mut h: Box<dyn FileHandle>, line: &[u8]) -> Stats {
    measure(|_| {
        black_box(h.write(line).unwrap());
    })
}

fn on_file(mut f: std::fs::File, line: &[u8]) -> Stats {
    measure(|_| f.write_all(line).unwrap())
}

fn lines_per_second(stats: Option<Stats>) -> String {
    match stats {
        Some(s) if s.median_ns > 0.0 => {
            let per_second = s.per_second();
            if per_second >= 1e6 {
                format!("{:.2} M lines/s", per_second / 1e6)
            } else {
                format!("{:.0} k lines/s", per_second / 1e3)
            }
        }
        _ => "—".to_owned(),
    }
}

fn main() {
    let shm = PathBuf::from("/dev/shm");
    let tmp = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    let append = OpenFlags::append_create();
    let subjects = ["LogsFs", "MemFs", "std::fs on tmpfs"];
    let mut rows: Vec<(&str, Vec<Option<Stats>>)> = Vec::new();

    // Through the file interface: one handle, many writes.
    let handle_row = vec![
        Some(on_handle(logs().open("/stdout.log", append).unwrap(), LINE)),
        Some(on_handle(
            memfs().open("/stdout.log", append).unwrap(),
            LINE,
        )),
        Some(on_file(TmpFile::new(&tmp, "a").append_handle(), LINE)),
    ];
    rows.push(("stdout.log: 64 B line on an open handle", handle_row));

    let in_ns = |fs: Box<dyn FileService>| {
        let ns = environment(MemFs::new(), fs);
        on_handle(ns.open("/logs/stdout.log", append).unwrap(), LINE)
    };
    rows.push((
        "stdout.log: same, in a 7-mount Namespace",
        vec![
            Some(in_ns(Box::new(logs()))),
            Some(in_ns(Box::new(memfs()))),
            None,
        ],
    ));

    // Open, append, close: what a tool that logs one line at a time does.
    let once = {
        let file = TmpFile::new(&tmp, "b");
        measure(|_| file.append_handle().write_all(LINE).unwrap())
    };
    let (l, m) = (logs(), memfs());
    rows.push((
        "stdout.log: open + append 64 B line + close",
        vec![
            Some(measure(|_| append_file(&l, "/stdout.log", LINE).unwrap())),
            Some(measure(|_| append_file(&m, "/stdout.log", LINE).unwrap())),
            Some(once),
        ],
    ));
    drop((l, m));

    // Agent events: LogsFs checks each line; the peers only store the bytes.
    rows.push((
        "events.jsonl: 64 B agent event on an open handle",
        vec![
            Some(on_handle(
                logs().open("/events.jsonl", append).unwrap(),
                EVENT,
            )),
            Some(on_handle(
                memfs().open("/events.jsonl", append).unwrap(),
                EVENT,
            )),
            Some(on_file(TmpFile::new(&tmp, "c").append_handle(), EVENT)),
        ],
    ));

    // The host API.
    let l = logs();
    rows.push((
        "API: write_stdout(64 B line)",
        vec![Some(measure(|_| l.write_stdout(LINE))), None, None],
    ));
    drop(l);
    let l = logs();
    rows.push((
        "API: info(\"step 42 done\")",
        vec![Some(measure(|_| l.info("step 42 done"))), None, None],
    ));
    drop(l);
    let l = logs();
    let data = serde_json::json!({"files": 17});
    rows.push((
        "API: log_event(with_data(debug, ...))",
        vec![
            Some(measure(|_| {
                l.log_event(LogEvent::with_data(
                    LogLevel::Debug,
                    "step 42 done",
                    data.clone(),
                ));
            })),
            None,
            None,
        ],
    ));
    drop(l);

    let mut table = Table::new(
        "LogsFs appends (median per line, p99 of batches in parentheses)",
        &subjects,
    );
    let mut throughput = String::from("### LogsFs append throughput (from the medians)\n\n");
    let _ = writeln!(
        throughput,
        "| operation | {} |\n|---|{}",
        subjects.join(" | "),
        "---:|".repeat(subjects.len())
    );
    for (op, cells) in rows {
        let _ = writeln!(
            throughput,
            "| {op} | {} |",
            cells
                .iter()
                .map(|c| lines_per_second(*c))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        table.row(op, cells);
    }
    table.note(
        "Every write goes to the end of the file. LogsFs parses and re-serialises each agent \
         event line; MemFs and std::fs store the bytes as they are.",
    );
    table.note(format!("tmpfs directory: {}", tmp.display()));
    table.print();
    println!("{throughput}");

    // Construction: an environment is built per run, so services must be cheap.
    let mut build = Table::new(
        "Building the services (median per build)",
        &["TaskFs / LogsFs", "MemFs"],
    );
    let spec = spec();
    build.row(
        "LogsFs::new vs MemFs::new",
        vec![
            Some(measure(|_| {
                black_box(LogsFs::new());
            })),
            Some(measure(|_| {
                black_box(MemFs::new());
            })),
        ],
    );
    build.row(
        "TaskFs::new vs MemFs::new",
        vec![
            Some(measure(|_| {
                black_box(TaskFs::new(spec.clone(), TaskMeta::default()));
            })),
            Some(measure(|_| {
                black_box(MemFs::new());
            })),
        ],
    );
    build.row(
        "7-mount environment",
        vec![
            Some(measure(|_| {
                black_box(environment(
                    TaskFs::new(spec.clone(), TaskMeta::default()),
                    LogsFs::new(),
                ));
            })),
            Some(measure(|_| {
                black_box(environment(MemFs::new(), MemFs::new()));
            })),
        ],
    );
    build.note(
        "The environment mounts TaskFs at /task, LogsFs at /logs and MemFs at /workspace, /tmp, \
         /cap/http, /cap/ws and /cap/nostr; the peer mounts MemFs everywhere. TaskFs::new \
         includes cloning its spec.",
    );
    build.print();
}
