//! NostrRelayConnector against nostr-rs-relay, an independent relay
//! implementation, run as a process on 127.0.0.1 with its own config file.
//!
//! The binary comes from `cargo xtask install-tools` (into
//! `$OANIX_TOOLS_ROOT/bin`, on `PATH` in CI); `OANIX_NOSTR_RS_RELAY` may name
//! it instead. Without it these tests fail and say how to install it.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oanix_caps::{Filter, NostrFs, Outcome};
use oanix_exec::ExecutorManager;
use oanix_vfs::{FileService, OpenFlags, read_to_end};

use crate::nostr::nostr_config;
use crate::support::{PATIENCE, expect_record, record_channel, wait_until};

const BINARY: &str = "nostr-rs-relay";

fn find_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("OANIX_NOSTR_RS_RELAY") {
        return PathBuf::from(p);
    }
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(root) = std::env::var_os("OANIX_TOOLS_ROOT") {
        dirs.push(PathBuf::from(root).join("bin"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cache/oanix/tools/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(BINARY))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "{BINARY} is not installed: run `cargo xtask install-tools` (it needs Debian's \
                 protobuf-compiler; `.ci/run` installs both), or point OANIX_NOSTR_RS_RELAY at \
                 the binary"
            )
        })
}

/// A nostr-rs-relay process on a free port of 127.0.0.1, killed on drop.
struct RelayProcess {
    child: Child,
    url: String,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RelayProcess {
    fn start() -> Self {
        let binary = find_binary();
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "[info]\nrelay_url = \"ws://127.0.0.1:{port}/\"\nname = \"oanix test relay\"\n\n\
             [database]\nengine = \"sqlite\"\ndata_directory = \"{data}\"\n\n\
             [network]\naddress = \"127.0.0.1\"\nport = {port}\n\n\
             [options]\nreject_future_seconds = 1800\n",
            data = dir.path().display()
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(&binary)
            .arg("--config")
            .arg(&config_path)
            .arg("--db")
            .arg(dir.path())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", binary.display()));
        let mut relay = Self {
            child,
            url: format!("ws://127.0.0.1:{port}"),
            port,
            _dir: dir,
        };
        relay.wait_ready();
        relay
    }

    /// Waits until the relay accepts connections (or exits, or time runs out).
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{BINARY} exited before it was ready ({status})");
            }
            assert!(
                Instant::now() < deadline,
                "{BINARY} did not accept connections within {PATIENCE:?}"
            );
            // The relay is starting in another process; nothing to wait on
            // but the port itself.
            std::thread::yield_now();
        }
    }
}

impl Drop for RelayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn publish_and_subscribe_with_nostr_rs_relay() {
    let relay = RelayProcess::start();
    let (sink, records) = record_channel();
    let nostr = NostrFs::builder()
        .policy(crate::nostr::relay_policy(&[&relay.url]))
        .relay(&relay.url)
        .record_sink(sink)
        .generate()
        .unwrap();
    nostr
        .add_subscription(
            "jobs",
            vec![Filter::new().authors([nostr.pubkey()]).kinds([5050])],
        )
        .unwrap();
    let mut m = ExecutorManager::new(nostr_config().build()).unwrap();
    m.attach_nostr(&nostr);
    m.start().unwrap();

    // A NIP-90 job request through the files.
    let mut h = nostr.open("/request", OpenFlags::read_write()).unwrap();
    h.write(br#"{"kind": 5050, "input": "Summarise NIP-01", "output": "text/plain"}"#)
        .unwrap();
    let mut id = Vec::new();
    read_to_end(h.as_mut(), &mut id).unwrap();
    let id = String::from_utf8(id).unwrap();
    expect_record(&records, |r| {
        r.action == "publish" && r.outcome == Outcome::Ok && r.id.as_deref() == Some(id.as_str())
    });
    // The relay's copy arrives through the subscription.
    wait_until(
        || nostr.inbox_listener(),
        || nostr.inbox_events().iter().any(|e| e.id.to_hex() == id),
    );
    expect_record(&records, |r| r.action == "eose");
    m.shutdown().unwrap();
}

#[test]
fn a_duplicate_is_taken_as_published_by_nostr_rs_relay() {
    let relay = RelayProcess::start();
    let secret = [7u8; 32];
    let created_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // The same event, signed twice by two services with the same key.
    let mut ids = Vec::new();
    for round in 0..2 {
        let (sink, records) = record_channel();
        let nostr = NostrFs::builder()
            .policy(crate::nostr::relay_policy(&[&relay.url]))
            .relay(&relay.url)
            .record_sink(sink)
            .build(secret)
            .unwrap();
        let mut m = ExecutorManager::new(
            nostr_config()
                .nostr_ok_timeout(Duration::from_secs(5))
                .build(),
        )
        .unwrap();
        m.attach_nostr(&nostr);
        m.start().unwrap();
        let event = nostr
            .sign_event(1, "said twice", Vec::new(), Some(created_at))
            .unwrap();
        ids.push(event.id);
        expect_record(&records, |r| {
            r.action == "publish" && r.outcome == Outcome::Ok
        });
        if round == 1 {
            let r = expect_record(&records, |r| r.action == "duplicate");
            assert!(
                r.detail.as_deref().unwrap_or("").contains("duplicate"),
                "{r:?}"
            );
        }
        assert!(nostr.outbox_events().is_empty());
        m.shutdown().unwrap();
    }
    assert_eq!(ids[0], ids[1]);
}
