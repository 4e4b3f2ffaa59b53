//! Real clients through the egress proxy on the sandbox's loopback: `git
//! clone` and `pip download` over HTTP, `curl` through an HTTPS tunnel, and
//! a flood of connections, each against a server the test runs on the
//! host's loopback, which keeps what reached it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine;
use oanix_env::OanixEnv;
use oanix_native::{Exit, NativeRun};
use oanix_services::LogStream;
use sha2::{Digest, Sha256};

use crate::require;
use crate::support::{Fixture, output};

/// What a host-side server answers to one request.
struct Reply {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
}

impl Reply {
    fn ok(content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            content_type,
            body: body.into(),
        }
    }

    fn not_found() -> Self {
        Self {
            status: 404,
            content_type: "text/plain",
            body: b"not found\n".to_vec(),
        }
    }
}

/// An HTTP/1.1 server on the host's 127.0.0.1: one thread per connection,
/// one request per connection; it keeps the request line of each request.
struct HostServer {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl HostServer {
    /// Serves `answer(target)` for every request (`target` as the request
    /// line has it, query included).
    fn start(answer: impl Fn(&str) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let log = Arc::clone(&log);
                let answer = Arc::clone(&answer);
                std::thread::spawn(move || serve_one(stream, &log, answer.as_ref()));
            }
        });
        Self { port, seen }
    }

    /// The request lines seen so far, in order.
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request from `stream`, logs its line and answers it.
fn serve_one(stream: TcpStream, log: &Mutex<Vec<String>>, answer: &dyn Fn(&str) -> Reply) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let line = line.trim_end().to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    log.lock().unwrap().push(line.clone());
    let target = line.split(' ').nth(1).unwrap_or("/");
    let reply = answer(target);
    let reason = if reply.status == 200 {
        "OK"
    } else {
        "Not Found"
    };
    let mut stream = stream;
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&reply.body);
    let _ = stream.flush();
}

/// Serves the files under `root` (the path of the target, its query left
/// off); anything else, or a path with `..`, is 404.
fn files_under(root: PathBuf) -> impl Fn(&str) -> Reply + Send + Sync + 'static {
    move |target| {
        let path = target.split('?').next().unwrap_or("");
        let relative = Path::new(path.trim_start_matches('/'));
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Reply::not_found();
        }
        match std::fs::read(root.join(relative)) {
            Ok(bytes) => Reply::ok("application/octet-stream", bytes),
            Err(_) => Reply::not_found(),
        }
    }
}

/// A manifest whose agent is `command` (a TOML array), with a workspace
/// over the fixture's project, the proxy used for the host's loopback too,
/// and an HTTP capability allowing `hosts` (TOML strings) on `port` over
/// `scheme`.
fn egress_manifest(command: &str, hosts: &str, scheme: &str, port: u16) -> String {
    format!(
        r#"
[task]
id = "egress"

[agent]
command = {command}

[[mount]]
path = "/workspace"
kind = "workspace"
host = "project"

# The test's servers are on the host's loopback: go through the proxy for them.
[sandbox]
env = {{ NO_PROXY = "", no_proxy = "", GIT_TERMINAL_PROMPT = "0" }}

[capabilities.http]
allow_hosts = [{hosts}]
schemes = ["{scheme}"]
ports = [{port}]
allow_loopback = true

[limits]
timeout_secs = 120
"#
    )
}

/// Runs the agent of `manifest` over `fx`; returns the environment, the
/// exit, stdout and stderr.
fn run(fx: &Fixture, manifest: &str) -> (OanixEnv, Exit, String, String) {
    let env = fx.env(manifest);
    let outcome = NativeRun::new(&env).run().unwrap();
    let stdout = output(&env, LogStream::Stdout);
    let stderr = output(&env, LogStream::Stderr);
    (env, outcome.exit, stdout, stderr)
}

/// The agent `sh -c script`, as a TOML array.
fn sh(script: &str) -> String {
    format!("[\"sh\", \"-c\", {script:?}]")
}

/// Runs git on the host in `dir`, with no user or system configuration;
/// returns its stdout.
fn host_git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "host")
        .env("GIT_AUTHOR_EMAIL", "host@example.com")
        .env("GIT_COMMITTER_NAME", "host")
        .env("GIT_COMMITTER_EMAIL", "host@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn git_clones_over_http_through_the_proxy_from_allowed_hosts_only() {
    require!("git");
    // A repository with one commit, bare, ready for git's dumb HTTP.
    let host = tempfile::tempdir().unwrap();
    let work = host.path().join("work");
    std::fs::create_dir(&work).unwrap();
    host_git(&work, &["init", "-q", "-b", "main", "."]);
    std::fs::write(work.join("hello.txt"), "hello from the host repository\n").unwrap();
    host_git(&work, &["add", "hello.txt"]);
    host_git(&work, &["commit", "-q", "-m", "first commit"]);
    let commit = host_git(&work, &["rev-parse", "HEAD"]).trim().to_owned();
    let served = host.path().join("served");
    std::fs::create_dir(&served).unwrap();
    host_git(
        host.path(),
        &["clone", "-q", "--bare", "work", "served/repo.git"],
    );
    host_git(&served.join("repo.git"), &["update-server-info"]);
    let server = HostServer::start(files_under(served));
    let port = server.port;

    let script = format!(
        r#"git clone -q http://127.0.0.1:{port}/repo.git /workspace/clone || echo "CLONE FAILED"
git -C /workspace/clone log --format='%H %s'
cat /workspace/clone/hello.txt
if git clone -q http://localhost:{port}/other.git /tmp/other 2>/tmp/refused; then echo "CLONED OTHER"; fi
echo "--- refused"
cat /tmp/refused
"#
    );
    let fx = Fixture::new(&[]);
    let manifest = egress_manifest(&sh(&script), "\"127.0.0.1\"", "http", port);
    let (env, exit, stdout, stderr) = run(&fx, &manifest);
    assert_eq!(exit, Exit::Code(0), "{stdout}\n{stderr}");
    let (cloned, refused) = stdout.split_once("--- refused\n").unwrap();
    assert_eq!(
        cloned,
        format!("{commit} first commit\nhello from the host repository\n"),
        "{stdout}\n{stderr}"
    );
    // The clone is in the agent's workspace, a real repository.
    let ns = env.namespace();
    assert_eq!(
        oanix_vfs::read_file(ns, "/workspace/clone/hello.txt").unwrap(),
        b"hello from the host repository\n"
    );
    let head = oanix_vfs::read_file(ns, "/workspace/clone/.git/HEAD").unwrap();
    assert_eq!(head, b"ref: refs/heads/main\n");
    // The host the policy does not allow: git shows the proxy's 403 and
    // its one line.
    assert!(refused.contains("403"), "{refused}");
    assert!(
        refused.contains("oanix proxy: refused by the egress policy"),
        "{refused}"
    );
    assert!(!stdout.contains("CLONED OTHER"), "{stdout}");
    // The server saw the dumb protocol's requests for the allowed clone,
    // and nothing of the refused one.
    let seen = server.seen();
    assert!(
        seen.contains(&"GET /repo.git/info/refs?service=git-upload-pack HTTP/1.1".to_owned()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"GET /repo.git/HEAD HTTP/1.1".to_owned()),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .all(|l| l.starts_with("GET /repo.git/") && l.ends_with(" HTTP/1.1")),
        "{seen:?}"
    );
    let events = output(&env, LogStream::Events);
    assert!(
        events.contains("other.git"),
        "the refusal is recorded: {events}"
    );
}

/// The CRC-32 (IEEE) of `data`, as zip files carry it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A zip archive of `entries` (name, contents), stored without
/// compression.
fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    fn u16le(out: &mut Vec<u8>, v: usize) {
        out.extend_from_slice(&u16::try_from(v).unwrap().to_le_bytes());
    }
    fn u32le(out: &mut Vec<u8>, v: usize) {
        out.extend_from_slice(&u32::try_from(v).unwrap().to_le_bytes());
    }
    // 1980-01-01 00:00, the earliest date a zip entry holds.
    const DATE: usize = 0x21;
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in entries {
        let offset = out.len();
        let crc = crc32(data) as usize;
        // Local header: version 2.0, no flags, stored, time, date, CRC, sizes, name.
        u32le(&mut out, 0x0403_4b50);
        for v in [20, 0, 0, 0, DATE] {
            u16le(&mut out, v);
        }
        for v in [crc, data.len(), data.len()] {
            u32le(&mut out, v);
        }
        u16le(&mut out, name.len());
        u16le(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory entry.
        u32le(&mut central, 0x0201_4b50);
        for v in [20, 20, 0, 0, 0, DATE] {
            u16le(&mut central, v);
        }
        for v in [crc, data.len(), data.len()] {
            u32le(&mut central, v);
        }
        for v in [name.len(), 0, 0, 0, 0] {
            u16le(&mut central, v);
        }
        u32le(&mut central, 0);
        u32le(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let central_offset = out.len();
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    for v in [0, 0, entries.len(), entries.len()] {
        u16le(&mut out, v);
    }
    u32le(&mut out, central.len());
    u32le(&mut out, central_offset);
    u16le(&mut out, 0);
    out
}

/// A pure-Python wheel of `oanix-probe` 1.0: one module and its metadata.
fn probe_wheel() -> Vec<u8> {
    let files: [(&str, &[u8]); 3] = [
        ("oanix_probe/__init__.py", b"GREETING = \"hello from a wheel\"\n"),
        (
            "oanix_probe-1.0.dist-info/METADATA",
            b"Metadata-Version: 2.1\nName: oanix-probe\nVersion: 1.0\nSummary: a probe\n",
        ),
        (
            "oanix_probe-1.0.dist-info/WHEEL",
            b"Wheel-Version: 1.0\nGenerator: oanix-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        ),
    ];
    let mut record = String::new();
    for (name, data) in files {
        let digest = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data));
        record.push_str(&format!("{name},sha256={digest},{}\n", data.len()));
    }
    record.push_str("oanix_probe-1.0.dist-info/RECORD,,\n");
    let mut entries: Vec<(&str, &[u8])> = files.to_vec();
    entries.push(("oanix_probe-1.0.dist-info/RECORD", record.as_bytes()));
    zip(&entries)
}

/// Whether the sandbox's `python3` (the host's `/usr/bin/python3`) has pip.
fn have_pip() -> bool {
    Command::new("/usr/bin/python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn pip_downloads_from_a_local_index_through_the_proxy() {
    require!("python3");
    if !have_pip() {
        assert!(
            std::env::var_os("CI").is_none(),
            "pip is not installed for /usr/bin/python3 (python3-pip), and CI must run this test"
        );
        eprintln!("skipped: pip is not installed for /usr/bin/python3");
        return;
    }
    const WHEEL: &str = "oanix_probe-1.0-py3-none-any.whl";
    let wheel = probe_wheel();
    let sha = format!("{:x}", Sha256::digest(&wheel));
    let page = format!(
        "<!DOCTYPE html>\n<html><body>\n<a href=\"/packages/{WHEEL}#sha256={sha}\">{WHEEL}</a>\n</body></html>\n"
    );
    let served = wheel.clone();
    let server = HostServer::start(move |target| match target {
        "/simple/oanix-probe/" => Reply::ok("text/html", page.clone()),
        t if t == format!("/packages/{WHEEL}") => {
            Reply::ok("application/octet-stream", served.clone())
        }
        _ => Reply::not_found(),
    });
    let port = server.port;
    let pip =
        "python3 -m pip download --no-deps --no-cache-dir --disable-pip-version-check --no-input";
    let script = format!(
        r#"{pip} --index-url http://127.0.0.1:{port}/simple/ --dest /tmp/dl oanix-probe >/tmp/pip.log 2>&1 || {{ echo "DOWNLOAD FAILED"; cat /tmp/pip.log; }}
ls /tmp/dl
if {pip} -vv --index-url http://localhost:{port}/simple/ --dest /tmp/other oanix-probe >/tmp/refused.log 2>&1; then echo "DOWNLOADED OTHER"; fi
ls /tmp/other 2>/dev/null | wc -l
"#
    );
    let fx = Fixture::new(&[]);
    let manifest = egress_manifest(&sh(&script), "\"127.0.0.1\"", "http", port);
    let (env, exit, stdout, stderr) = run(&fx, &manifest);
    assert_eq!(exit, Exit::Code(0), "{stdout}\n{stderr}");
    assert_eq!(stdout, format!("{WHEEL}\n0\n"), "{stdout}\n{stderr}");
    // The wheel landed in the sandbox's /tmp intact (pip checked its digest).
    let got = oanix_vfs::read_file(env.namespace(), &format!("/tmp/dl/{WHEEL}")).unwrap();
    assert_eq!(got, wheel);
    // The refused index: pip was told 403 by the proxy (it says so when
    // verbose).
    let refused =
        String::from_utf8(oanix_vfs::read_file(env.namespace(), "/tmp/refused.log").unwrap())
            .unwrap();
    assert!(refused.contains("403"), "{refused}");
    // Only the allowed index reached the server: its page and the wheel.
    let seen = server.seen();
    assert!(
        seen.contains(&"GET /simple/oanix-probe/ HTTP/1.1".to_owned()),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter()
            .filter(|l| **l == format!("GET /packages/{WHEEL} HTTP/1.1"))
            .count(),
        1,
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .all(|l| l.starts_with("GET /simple/oanix-probe/ ") || l.starts_with("GET /packages/")),
        "{seen:?}"
    );
    let events = output(&env, LogStream::Events);
    assert!(
        events.contains("localhost"),
        "the refusal is recorded: {events}"
    );
}

/// A TLS server on the host's 127.0.0.1 with a self-signed certificate for
/// `localhost`, answering every request with `body`; returns the port, the
/// certificate as PEM and the log of `SERVER-NAME REQUEST-LINE` per request.
fn tls_server(body: &'static str) -> (u16, String, Arc<Mutex<Vec<String>>>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = made.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![der.clone()], key)
        .unwrap(),
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(der.as_ref());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { continue };
            let Ok(mut conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut reader = BufReader::new(&mut tls);
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            drop(reader);
            let _ = write!(
                tls,
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tls.flush();
            let name = conn.server_name().unwrap_or("-").to_owned();
            log.lock()
                .unwrap()
                .push(format!("{name} {}", line.trim_end()));
            conn.send_close_notify();
            let _ = conn.complete_io(&mut tcp);
        }
    });
    (port, pem, seen)
}

#[test]
fn curl_reaches_a_tls_server_through_a_tunnel_end_to_end() {
    require!("curl");
    let (port, pem, seen) = tls_server("hello over tls");
    let script = format!(
        r#"curl -sS --cacert /workspace/server.pem -w ' %{{http_connect}} %{{ssl_verify_result}}\n' https://localhost:{port}/over-tls
curl -sS --cacert /workspace/server.pem https://127.0.0.2:{port}/by-address 2>&1 || echo "exit $?"
curl -sS --cacert /workspace/server.pem https://example.com/ 2>&1 || echo "exit $?"
"#
    );
    let fx = Fixture::new(&[("server.pem", &pem)]);
    let manifest = egress_manifest(&sh(&script), "\"localhost\"", "https", port);
    let (env, exit, stdout, stderr) = run(&fx, &manifest);
    assert_eq!(exit, Exit::Code(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    // Verified against the server's own certificate, and nothing else:
    // the tunnel carried the server's TLS, not the proxy's.
    assert_eq!(lines[0], "hello over tls 200 0", "{stdout}\n{stderr}");
    // An address and a name the policy does not allow: the proxy's 403 to
    // the CONNECT.
    for line in &lines[1..] {
        assert!(!line.contains("hello over tls"), "{stdout}");
    }
    assert_eq!(lines.len(), 5, "{stdout}");
    assert!(
        lines[1].contains("CONNECT") && lines[1].contains("403"),
        "{stdout}"
    );
    assert_eq!(lines[2], "exit 56", "{stdout}");
    assert!(
        lines[3].contains("CONNECT") && lines[3].contains("403"),
        "{stdout}"
    );
    assert_eq!(lines[4], "exit 56", "{stdout}");
    // The server saw one request, for the name it has a certificate for.
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        ["localhost GET /over-tls HTTP/1.1"]
    );
    let events = output(&env, LogStream::Events);
    assert!(events.contains(&format!("localhost:{port}")), "{events}");
    assert!(
        events.contains(&format!("127.0.0.2:{port}")),
        "the refusal is recorded: {events}"
    );
    assert!(
        events.contains("example.com"),
        "the refusal is recorded: {events}"
    );
}

/// The proxy's bound on client connections (`ProxyConfig::default`).
const MAX_CONNECTIONS: usize = 128;

#[test]
fn a_flood_of_connections_stays_within_the_bound_and_the_proxy_serves_after_it() {
    require!("python3");
    let server = HostServer::start(|_| Reply::ok("text/plain", "ok"));
    let port = server.port;
    let flood = 300;
    let script = format!(
        r#"import select, socket, sys, urllib.request
FLOOD, BOUND, PORT = {flood}, {MAX_CONNECTIONS}, {port}
socks = [socket.create_connection(("127.0.0.1", 3128)) for _ in range(FLOOD)]
# The proxy closes every connection past its bound as it accepts it: wait
# until that many have ended (a failure would stall, hence the guard).
open_, closed = set(socks), set()
while len(closed) < FLOOD - BOUND:
    ready, _, _ = select.select(list(open_), [], [], 60)
    if not ready:
        print("stalled with", len(closed), "closed")
        sys.exit(1)
    for s in ready:
        try:
            ended = s.recv(1) == b""
        except ConnectionError:
            ended = True
        if not ended:
            print("unexpected data")
            sys.exit(1)
        open_.discard(s)
        closed.add(s)
# Every other one is served: one request each, then closed by the proxy.
served = refused = 0
for s in socks:
    if s in closed:
        continue
    try:
        s.sendall(b"GET http://127.0.0.1:%d/held HTTP/1.1\r\nhost: 127.0.0.1:%d\r\nconnection: close\r\n\r\n" % (PORT, PORT))
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    except ConnectionError:
        reply = b""
    if reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"ok"):
        served += 1
    else:
        refused += 1
for s in socks:
    s.close()
print("closed", len(closed), "served", served, "refused", refused)
# A slot is free once the proxy has seen a close; a connection that comes
# before it is closed at once and tried again.
proxy = urllib.request.ProxyHandler({{"http": "http://127.0.0.1:3128"}})
opener = urllib.request.build_opener(proxy)
for attempt in range(1, 101):
    try:
        print("after", opener.open("http://127.0.0.1:%d/after" % PORT).read().decode(), "attempts", attempt)
        break
    except OSError as e:
        last = e
else:
    print("failed after the flood:", last)
"#
    );
    let fx = Fixture::new(&[]);
    let command = format!("[\"python3\", \"-c\", {script:?}]");
    let manifest = egress_manifest(&command, "\"127.0.0.1\"", "http", port);
    let (env, exit, stdout, stderr) = run(&fx, &manifest);
    assert_eq!(exit, Exit::Code(0), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "closed {} served {MAX_CONNECTIONS} refused 0",
            flood - MAX_CONNECTIONS
        ),
        "{stdout}\n{stderr}"
    );
    let attempts: usize = lines[1]
        .strip_prefix("after ok attempts ")
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"))
        .parse()
        .unwrap();
    // The server saw the bound's worth of requests, and the one after.
    let seen = server.seen();
    let held = seen.iter().filter(|l| *l == "GET /held HTTP/1.1").count();
    assert_eq!(held, MAX_CONNECTIONS, "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("GET /after HTTP/1.1"));
    assert_eq!(seen.len(), MAX_CONNECTIONS + 1, "{seen:?}");
    // Each connection closed at the bound is recorded as refused.
    let events = output(&env, LogStream::Events);
    let refusals = events
        .matches("the proxy's connection limit is reached")
        .count();
    assert_eq!(refusals, flood - MAX_CONNECTIONS + attempts - 1, "{events}");
}
