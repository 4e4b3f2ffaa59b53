//! A secret through the egress proxy from inside the sandbox: the agent
//! holds a placeholder, its HTTPS client trusts the environment's
//! authority through the usual variables, and only the bound host sees the
//! value.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use oanix_caps::{EgressPolicy, HttpFs};
use oanix_env::{AgentSpec, EnvBuilder, SandboxSpec, SecretPlan};
use oanix_native::{Exit, NativeRun};
use oanix_prims::MemFs;
use oanix_services::{LogStream, LogsFs};

use crate::require;
use crate::support::output;

/// A TLS server for `localhost` answering `ok`; keeps each request's head.
fn tls_server() -> (u16, Vec<u8>, Arc<Mutex<Vec<String>>>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let der = made.cert.der().to_vec();
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
            let _ = tls
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
            let _ = tls.flush();
            conn.send_close_notify();
            let _ = conn.complete_io(&mut tcp);
        }
    });
    (port, der, seen)
}

#[test]
fn a_secret_reaches_its_host_from_the_sandbox_and_nowhere_else() {
    require!("curl");
    let (port, der, seen) = tls_server();
    let policy = EgressPolicy::allow_hosts(["localhost", "127.0.0.1"])
        .schemes(["https", "http"])
        .ports([port])
        .allow_loopback(true)
        .build()
        .unwrap();
    let script = format!(
        r#"case "$API_TOKEN" in oanix-secret-api-token-*) echo placeholder;; *) echo "LEAK $API_TOKEN";; esac
curl -s -S -H "authorization: Bearer $API_TOKEN" https://localhost:{port}/api; echo
curl -s -H "authorization: Bearer $API_TOKEN" http://127.0.0.1:{port}/steal
grep -c "BEGIN CERTIFICATE" /etc/oanix/ca.pem
"#
    );
    let agent = AgentSpec {
        command: vec!["sh".into(), "-c".into(), script],
        sandbox: SandboxSpec {
            env: vec![
                ("NO_PROXY".into(), String::new()),
                ("no_proxy".into(), String::new()),
            ],
            secrets: vec![SecretPlan {
                name: "api-token".into(),
                hosts: vec!["localhost".into()],
                env: "API_TOKEN".into(),
                value: "the-real-value".into(),
            }],
            ..SandboxSpec::default()
        },
        ..AgentSpec::default()
    };
    let env = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/tmp", MemFs::new())
        .mount("/cap/http", HttpFs::builder().policy(policy).build())
        .executors(
            oanix_exec::ExecutorConfig::builder()
                .add_root_certificate(der)
                .build(),
        )
        .agent(agent)
        .build()
        .unwrap();
    let outcome = NativeRun::new(&env).run().unwrap();
    let stdout = output(&env, LogStream::Stdout);
    assert_eq!(
        outcome.exit,
        Exit::Code(0),
        "{stdout}\n{}",
        output(&env, LogStream::Stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "placeholder", "{stdout}");
    assert_eq!(lines[1], "ok", "{stdout}");
    assert!(
        lines[2].contains("the placeholder of secret api-token may not be sent to 127.0.0.1"),
        "{stdout}"
    );
    assert_eq!(lines[3], "1");
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "{heads:?}");
    assert!(
        heads[0]
            .to_ascii_lowercase()
            .contains("authorization: bearer the-real-value")
    );
    let events = output(&env, LogStream::Events);
    assert!(!events.contains("the-real-value"), "{events}");
    assert!(events.contains("api-token"), "{events}");
}
