//! Secrets through the proxy: the real value reaches only its host, over
//! HTTPS read by the proxy with the environment's authority; a placeholder
//! sent anywhere else is refused and recorded.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use oanix_caps::{CapRecord, EgressPolicy, HostPattern, HttpFs, Outcome, RecordSink, SecretValue};
use oanix_exec::{ExecutorConfig, ExecutorManager};
use oanix_proxy::{Proxy, Secret};

/// A TLS server for `localhost` with a self-signed certificate; keeps each
/// request's head. Returns its port, the certificate (DER) and the heads.
fn tls_server() -> (u16, Vec<u8>, Arc<Mutex<Vec<String>>>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = made.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![made.cert.der().clone()], key)
    .unwrap();
    let config = Arc::new(config);
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
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            drop(reader);
            log.lock().unwrap().push(head);
            let _ = tls.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 6\r\nconnection: close\r\n\r\nsecret",
            );
            let _ = tls.flush();
            conn.send_close_notify();
            let _ = conn.complete_io(&mut tcp);
        }
    });
    (port, der, seen)
}

#[test]
fn a_secret_reaches_only_its_host_and_the_agent_never_holds_it() {
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "curl must be installed in CI"
        );
        return;
    }
    let (port, der, seen) = tls_server();
    let policy = EgressPolicy::allow_hosts(["localhost", "127.0.0.1"])
        .schemes(["https", "http"])
        .ports([port])
        .allow_loopback(true)
        .build()
        .unwrap();
    let records = Arc::new(Mutex::new(Vec::<CapRecord>::new()));
    let sink_records = Arc::clone(&records);
    let sink: RecordSink =
        Arc::new(move |r: &CapRecord| sink_records.lock().unwrap().push(r.clone()));
    let http = HttpFs::builder().policy(policy).record_sink(sink).build();
    let config = ExecutorConfig::builder().add_root_certificate(der).build();
    let mut manager = ExecutorManager::new(config).unwrap();
    manager.attach_http(&http);
    manager.start().unwrap();
    let secret = Secret::new(
        "api-token",
        [HostPattern::new("localhost").unwrap()],
        SecretValue::new("the-real-value"),
    )
    .unwrap();
    let placeholder = secret.placeholder().to_owned();
    let proxy = Proxy::new(http).with_secrets([secret]).unwrap();
    let dir = tempfile_dir();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, proxy.ca_pem().unwrap()).unwrap();
    let handle = proxy
        .serve(TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let proxy_url = format!("http://{}", handle.local_addr());
    let auth = format!("authorization: Bearer {placeholder}");
    // HTTPS to the bound host: the proxy's certificate, trusted through the
    // environment's authority; the server sees the real value.
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-S",
            "--max-time",
            "20",
            "--proxy",
            &proxy_url,
            "--cacert",
        ])
        .arg(&ca)
        .args(["-H", &auth, &format!("https://localhost:{port}/api")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"secret");
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer the-real-value"),
        "{}",
        heads[0]
    );
    assert!(!heads[0].contains(&placeholder));
    // Without trusting the authority, the client refuses the proxy's
    // certificate: nothing is sent.
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "20", "--proxy", &proxy_url, "-H", &auth])
        .arg(format!("https://localhost:{port}/api"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    // The placeholder to another host is refused before anything leaves.
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "20", "--proxy", &proxy_url, "-H", &auth])
        .arg(format!("http://127.0.0.1:{port}/steal"))
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        body.contains("the placeholder of secret api-token may not be sent to 127.0.0.1"),
        "{body}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    // No record holds the value.
    let records = records.lock().unwrap().clone();
    assert!(records.iter().any(|r| r.outcome == Outcome::Refused
        && r.detail.as_deref().unwrap_or("").contains("api-token")));
    let text = serde_json_lines(&records);
    assert!(!text.contains("the-real-value"), "{text}");
    drop(handle);
    drop(manager);
    let _ = std::fs::remove_dir_all(dir);
}

fn serde_json_lines(records: &[CapRecord]) -> String {
    records.iter().map(|r| format!("{r:?}\n")).collect()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("oanix-proxy-test-{}", uuid_like()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn uuid_like() -> String {
    format!("{}-{:?}", std::process::id(), std::thread::current().id()).replace(['(', ')'], "")
}
