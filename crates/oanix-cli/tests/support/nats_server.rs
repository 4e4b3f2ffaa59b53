//! Finding and starting Debian's `nats-server` with JetStream, shared by
//! the JetStream tests and the JetStream benchmark.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `nats-server`: `OANIX_NATS_SERVER`, or on the `PATH`.
pub(crate) fn find() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OANIX_NATS_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join("nats-server"))
        .find(|c| c.is_file())
}

/// A free port on loopback.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on loopback")
}

/// A server with JetStream, stopped when dropped.
pub(crate) struct Server {
    child: Child,
    /// Its address on loopback.
    pub(crate) url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `program` with JetStream, its store in `store`, listening on `addr` and
/// `port`; returned once it accepts connections on loopback.
pub(crate) fn start(program: &Path, store: &Path, addr: &str, port: u16) -> Server {
    let child = Command::new(program)
        .args(["-js", "-a", addr, "-p", &port.to_string(), "-sd"])
        .arg(store)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nats-server starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nats-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server {
        child,
        url: format!("nats://127.0.0.1:{port}"),
    }
}
