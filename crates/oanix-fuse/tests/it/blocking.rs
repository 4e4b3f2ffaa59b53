//! Live files: a read that blocks stalls only its reader, `O_NONBLOCK`
//! answers `EAGAIN`, and one `write(2)` is one message.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use oanix_caps::{EgressPolicy, HttpFs};
use oanix_fuse::{CachePolicy, MountOptions};
use oanix_prims::{FuncFs, MemFs};
use oanix_vfs::Namespace;

use crate::support::Mounted;

const PATIENCE: Duration = Duration::from_secs(60);

/// A file whose reads wait until the test lets them through: each read
/// says it has started, then waits for one release.
fn slow_file(entered: Sender<()>, release: Receiver<()>) -> FuncFs {
    let entered = Mutex::new(entered);
    let release = Mutex::new(release);
    FuncFs::builder()
        .read_only("/slow", move || {
            let _ = entered.lock().unwrap().send(());
            let _ = release.lock().unwrap().recv();
            Ok(b"finally\n".to_vec())
        })
        .read_only("/fast", || Ok(b"fast\n".to_vec()))
        .build()
}

/// Runs `f` on a thread and fails if it does not finish in time: the
/// mount must answer while the slow reads wait.
fn must_finish<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} waited behind the blocked reads"))
}

#[test]
fn blocked_reads_stall_only_their_readers() {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let ns = Namespace::builder()
        .mount("/cap/slow", slow_file(entered_tx, release_rx))
        .mount("/tmp", MemFs::new())
        .build();
    // Two request threads, eight blocked readers: only the pool can hold them.
    let m = Mounted::new(ns, MountOptions::agent().threads(2));
    // The readers are processes, so that whatever happens they never
    // hold up this one.
    let readers: Vec<_> = (0..8)
        .map(|_| {
            Command::new("cat")
                .arg(m.p("cap/slow/slow"))
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for _ in 0..8 {
        entered_rx
            .recv_timeout(PATIENCE)
            .expect("every reader reaches the service");
    }
    // All eight wait in the service now. The rest of the mount answers.
    let (tmp, fast, dir) = (m.p("tmp/x"), m.p("cap/slow/fast"), m.p("cap/slow"));
    let got = must_finish("the other files", move || {
        fs::write(&tmp, "written").unwrap();
        let back = fs::read_to_string(&tmp).unwrap();
        let meta = fs::metadata(&tmp).unwrap().len();
        let fast = fs::read_to_string(&fast).unwrap();
        let names = fs::read_dir(&dir).unwrap().count();
        (back, meta, fast, names)
    });
    assert_eq!(got, ("written".to_owned(), 7, "fast\n".to_owned(), 2));
    let slow = m.p("cap/slow/slow");
    let size = must_finish("stat of the file being read", move || {
        fs::metadata(slow).unwrap().len()
    });
    assert_eq!(size, 0, "a computed file has no size until read");
    for _ in 0..8 {
        release_tx.send(()).unwrap();
    }
    for r in readers {
        let out = r.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "finally\n");
    }
}

#[test]
fn a_nonblocking_read_of_an_answer_not_there_yet_is_eagain() {
    let policy = EgressPolicy::allow_hosts(["api.example.com"])
        .build()
        .unwrap();
    let http = Arc::new(HttpFs::builder().policy(policy).build());
    let ns = Namespace::builder()
        .mount("/cap/http", http.clone())
        .build();
    let m = Mounted::new(ns, MountOptions::agent());
    let mut req = OpenOptions::new()
        .read(true)
        .write(true)
        .open(m.p("cap/http/request"))
        .unwrap();
    req.write_all(br#"{"url": "https://api.example.com/"}"#)
        .unwrap();
    let mut id = String::new();
    req.read_to_string(&mut id).unwrap();
    assert_eq!(id, "req-1");
    let mut resp = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(m.p("cap/http/responses/req-1.json"))
        .unwrap();
    let e = resp.read(&mut [0; 64]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
}

#[test]
fn each_write_is_one_message() {
    let messages = Arc::new(Mutex::new(Vec::<Vec<u8>>::new()));
    let sink = messages.clone();
    let ctl = FuncFs::builder()
        .write_only("/ctl", move |m| {
            sink.lock().unwrap().push(m.to_vec());
            Ok(())
        })
        .build();
    let ns = Namespace::builder().mount("/cap/ctl", ctl).build();
    let m = Mounted::new(ns, MountOptions::agent());
    let mut f = OpenOptions::new()
        .write(true)
        .open(m.p("cap/ctl/ctl"))
        .unwrap();
    f.write_all(b"first").unwrap();
    f.write_all(b"second message").unwrap();
    let big = vec![b'x'; 512 * 1024];
    f.write_all(&big).unwrap();
    drop(f);
    m.sh("echo from-a-shell > cap/ctl/ctl");
    let got = messages.lock().unwrap().clone();
    assert_eq!(got.len(), 4, "four writes, four messages");
    assert_eq!(got[0], b"first");
    assert_eq!(got[1], b"second message");
    assert_eq!(got[2].len(), big.len(), "a large write stays one message");
    assert_eq!(got[3], b"from-a-shell\n");
}

#[test]
fn files_computed_on_read_show_their_content_whatever_the_policy() {
    let calls = Arc::new(Mutex::new(0u32));
    let c = calls.clone();
    let func = FuncFs::builder()
        .read_only("/counter", move || {
            let mut n = c.lock().unwrap();
            *n += 1;
            Ok(format!("read {n}\n").into_bytes())
        })
        .build();
    let ns = Namespace::builder().mount("/status", func).build();
    // Not a live prefix: its size 0 is what sends it direct.
    let m = Mounted::new(
        ns,
        MountOptions::new().default_policy(CachePolicy::Immutable),
    );
    assert_eq!(
        fs::read_to_string(m.p("status/counter")).unwrap(),
        "read 1\n"
    );
    assert_eq!(
        fs::read_to_string(m.p("status/counter")).unwrap(),
        "read 2\n"
    );
}
