//! `oanix run` with a manifest: a native agent installs a package from a
//! private index and clones a repository, both over HTTPS with a token it
//! never sees, through the egress proxy.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

/// A TLS server for `localhost` serving the files under `root` (a
/// directory by its `index.html`, as HTML) to requests that carry `Basic`
/// credentials with `token` as the password, answering `401` otherwise.
/// Returns its port, its certificate (PEM) and the request lines and
/// authorization headers it saw.
fn git_server(root: PathBuf, token: &'static str) -> (u16, String, Arc<Mutex<Vec<Seen>>>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let pem = made.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let expected = format!(
        "Basic {}",
        base64_encode(format!("x-access-token:{token}").as_bytes())
    );
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { continue };
            let Ok(mut conn) = rustls::ServerConnection::new(Arc::clone(&config)) else {
                continue;
            };
            let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
            let mut reader = BufReader::new(&mut tls);
            let (mut target, mut auth) = (String::new(), String::new());
            let mut first = true;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if first {
                    target = line.split(' ').nth(1).unwrap_or("/").to_owned();
                    first = false;
                } else if let Some((k, v)) = line.split_once(':')
                    && k.eq_ignore_ascii_case("authorization")
                {
                    auth = v.trim().to_owned();
                }
            }
            drop(reader);
            log.lock().unwrap().push(Seen {
                target: target.clone(),
                auth: auth.clone(),
            });
            let path = target
                .split('?')
                .next()
                .unwrap_or("/")
                .trim_start_matches('/');
            let mut file = root.join(path);
            let mut content_type = "application/octet-stream";
            if file.is_dir() {
                file = file.join("index.html");
                content_type = "text/html";
            }
            let response: Vec<u8> = if auth != expected {
                b"HTTP/1.1 401 Unauthorized\r\nwww-authenticate: Basic realm=\"git\"\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
            } else if let Ok(body) = std::fs::read(&file).map_err(drop).and_then(|b| {
                if file.starts_with(&root) {
                    Ok(b)
                } else {
                    Err(())
                }
            }) {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend(body);
                r
            } else {
                b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
            };
            let _ = tls.write_all(&response);
            let _ = tls.flush();
            conn.send_close_notify();
            let _ = conn.complete_io(&mut tcp);
        }
    });
    (port, pem, seen)
}

/// One request the server saw.
#[derive(Debug, Clone)]
struct Seen {
    /// The request target (path and query).
    target: String,
    /// The `authorization` header, empty when there was none.
    auth: String,
}

fn base64_encode(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "safe.directory=*"])
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Writes, with the host's `python3`, a pure-Python wheel of
/// `oanix-probe` 1.0 under `served/packages/` and its page of a simple
/// index (PEP 503, with the wheel's digest) under `served/simple/`.
fn publish_probe(served: &Path) {
    let script = r#"
import base64, hashlib, os, sys, zipfile
root = sys.argv[1]
name = "oanix_probe-1.0-py3-none-any.whl"
files = {
    "oanix_probe/__init__.py": b'GREETING = "installed through the proxy"\n',
    "oanix_probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: oanix-probe\nVersion: 1.0\n",
    "oanix_probe-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: oanix-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = ""
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record += f"{path},sha256={digest},{len(data)}\n"
record += "oanix_probe-1.0.dist-info/RECORD,,\n"
os.makedirs(os.path.join(root, "packages"))
wheel = os.path.join(root, "packages", name)
with zipfile.ZipFile(wheel, "w") as z:
    for path, data in files.items():
        z.writestr(path, data)
    z.writestr("oanix_probe-1.0.dist-info/RECORD", record)
sha = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
os.makedirs(os.path.join(root, "simple", "oanix-probe"))
with open(os.path.join(root, "simple", "oanix-probe", "index.html"), "w") as page:
    page.write(f'<!DOCTYPE html>\n<html><body><a href="/packages/{name}#sha256={sha}">{name}</a></body></html>\n')
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(served)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `tool` runs, and, for `pip`, whether `/usr/bin/python3` has it.
/// In CI every one must be there.
fn present(tool: &str) -> bool {
    let ok = if tool == "pip" {
        Command::new("/usr/bin/python3")
            .args(["-m", "pip", "--version"])
            .output()
            .is_ok_and(|o| o.status.success())
    } else {
        Command::new(tool).arg("--version").output().is_ok()
    };
    assert!(
        ok || std::env::var_os("CI").is_none(),
        "{tool} must be installed in CI"
    );
    ok
}

#[test]
fn a_native_agent_installs_and_clones_over_https_with_a_token_it_never_sees() {
    if !["git", "curl", "python3", "pip"].into_iter().all(present) {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    // A repository with one commit, published for the dumb HTTP protocol.
    let work = d.path().join("work");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q", "-b", "main"]);
    std::fs::write(work.join("README"), "cloned through the proxy\n").unwrap();
    git(&work, &["add", "README"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    let served = d.path().join("served");
    std::fs::create_dir(&served).unwrap();
    git(
        d.path(),
        &["clone", "-q", "--bare", "work", "served/repo.git"],
    );
    git(&served.join("repo.git"), &["update-server-info"]);
    // And a private package index on the same server.
    publish_probe(&served);
    let (port, pem, seen) = git_server(served, "s3cret-value");
    std::fs::write(d.path().join("server.pem"), pem).unwrap();
    std::fs::write(
        d.path().join("agent.toml"),
        format!(
            r#"
[agent]
command = ["sh", "-c", """
case "$GIT_TOKEN" in oanix-secret-*) ;; *) echo "the agent holds the token" >&2; exit 9;; esac
python3 -m pip install --no-deps --no-cache-dir --disable-pip-version-check --no-input \
  --target /tmp/site --index-url "https://x-access-token:$GIT_TOKEN@localhost:{port}/simple/" \
  oanix-probe >/tmp/pip.log 2>&1 || {{ cat /tmp/pip.log >&2; exit 8; }}
PYTHONPATH=/tmp/site python3 -c 'import oanix_probe; print(oanix_probe.GREETING)'
git clone -q "https://x-access-token:$GIT_TOKEN@localhost:{port}/repo.git" /tmp/clone
cat /tmp/clone/README
curl -s -o /dev/null -w "%{{http_code}}\n" -H "authorization: Bearer $GIT_TOKEN" http://127.0.0.1:{port}/
"""]

[sandbox]
env = {{ NO_PROXY = "", no_proxy = "" }}

[capabilities.http]
allow_hosts = ["localhost", "127.0.0.1"]
schemes = ["https", "http"]
ports = [{port}]
allow_loopback = true
trust = ["server.pem"]
secrets = [{{ name = "git-token", hosts = ["localhost"], value_env = "OANIX_TEST_GIT_TOKEN", env = "GIT_TOKEN" }}]

[limits]
timeout_secs = 90
"#
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .args(["--json", "run", "agent.toml"])
        .current_dir(d.path())
        .env("OANIX_TEST_GIT_TOKEN", "s3cret-value")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["exit_code"], 0, "{report}");
    let stdout = report["stdout"].as_str().unwrap();
    assert_eq!(
        stdout, "installed through the proxy\ncloned through the proxy\n403\n",
        "{report}"
    );
    let seen = seen.lock().unwrap().clone();
    let expected = format!("Basic {}", base64_encode(b"x-access-token:s3cret-value"));
    // The index page, the wheel and the repository's files were each
    // fetched with the real token, which the agent never held.
    for target in [
        "/simple/oanix-probe/",
        "/packages/oanix_probe-1.0-py3-none-any.whl",
        "/repo.git/info/refs?service=git-upload-pack",
    ] {
        assert!(
            seen.iter()
                .any(|s| s.target == target && s.auth == expected),
            "{target}: {seen:?}"
        );
    }
    assert!(
        seen.iter().all(|s| !s.auth.contains("oanix-secret")),
        "{seen:?}"
    );
    assert!(!report.to_string().contains("s3cret-value"), "{report}");
}

/// An HTTP server answering `body`; counts the requests it saw.
fn plain_server(body: &'static str) -> (u16, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(0));
    let count = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            *count.lock().unwrap() += 1;
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, seen)
}

fn policy(port: u16) -> String {
    format!(
        "[capabilities.http]\nallow_hosts = [\"127.0.0.1\"]\nschemes = [\"http\"]\nports = [{port}]\nallow_loopback = true\n"
    )
}

#[test]
fn the_host_opens_the_policy_while_the_agent_runs() {
    if Command::new("curl").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "curl must be installed in CI"
        );
        return;
    }
    let (port, seen) = plain_server("the index");
    let d = tempfile::tempdir().unwrap();
    // The policy starts closed for the server's port.
    let closed = policy(port.wrapping_add(1).max(1));
    std::fs::write(d.path().join("policy.toml"), &closed).unwrap();
    std::fs::write(
        d.path().join("agent.toml"),
        format!(
            r#"
[agent]
command = ["sh", "-c", """
url=http://127.0.0.1:{port}/simple/
echo "first $(curl -s -o /dev/null -w '%{{http_code}}' $url)"
i=0
while [ $i -lt 400 ]; do
  code=$(curl -s -o /tmp/body -w '%{{http_code}}' $url)
  [ "$code" = 200 ] && break
  i=$((i+1)); sleep 0.05
done
echo "then $code $(cat /tmp/body)"
"""]

[sandbox]
env = {{ NO_PROXY = "", no_proxy = "" }}

{closed}
[limits]
timeout_secs = 60
"#
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_oanix"))
        .args(["run", "agent.toml", "--policy-file", "policy.toml"])
        .current_dir(d.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first, "first 403\n");
    // The host opens the port while the agent runs.
    std::fs::write(d.path().join("policy.toml"), policy(port)).unwrap();
    let mut then = String::new();
    stdout.read_line(&mut then).unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(then, "then 200 the index\n", "{stderr}");
    assert!(stderr.contains("policy: policy.toml applied"), "{stderr}");
    assert_eq!(*seen.lock().unwrap(), 1);
}
