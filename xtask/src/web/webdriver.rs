//! A minimal WebDriver client over `std::net::TcpStream`: enough of the W3C protocol to drive
//! headless Chromium through `chromedriver` (sessions, navigation, elements, scripts,
//! screenshots).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use serde_json::{Value, json};

/// The key under which WebDriver returns an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A `chromedriver` process listening on 127.0.0.1; stopped when dropped.
#[derive(Debug)]
pub(crate) struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    /// Starts `chromedriver` on a free local port and waits until it says it is ready.
    pub(crate) fn start(program: &Path) -> Result<Self> {
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
            .local_addr()?
            .port();
        let mut cmd = Command::new(program);
        cmd.arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        // A process group of its own, with the browsers it starts, so that dropping the driver
        // stops them all even when a session never closed.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("could not start {}", program.display()))?;
        let stdout = child.stdout.take().context("chromedriver has no stdout")?;
        let mut lines = BufReader::new(stdout);
        let mut line = String::new();
        loop {
            line.clear();
            let n = lines
                .read_line(&mut line)
                .context("reading chromedriver's output")?;
            if n == 0 {
                let _ = child.kill();
                bail!("chromedriver exited before it was ready");
            }
            if line.contains("started successfully") {
                break;
            }
        }
        // Keep draining its output so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = lines.read_to_end(&mut sink);
        });
        Ok(Self { child, port })
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one WebDriver command and returns the `value` of its answer.
fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .context("could not connect to chromedriver")?;
    stream.set_read_timeout(Some(Duration::from_secs(120)))?;
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("{method} {path}: sending"))?;
    let (status, body) =
        read_answer(&mut stream).with_context(|| format!("{method} {path}: reading the answer"))?;
    let answer: Value = serde_json::from_str(&body)
        .with_context(|| format!("{method} {path}: not JSON: {body}"))?;
    let value = answer.get("value").cloned().unwrap_or(Value::Null);
    if status != 200 {
        let error = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("error");
        let message = value.get("message").and_then(Value::as_str).unwrap_or("");
        bail!("{method} {path}: {error}: {message}");
    }
    Ok(value)
}

/// Reads one HTTP answer: its status and its body (by `Content-Length`, chunks, or up to the
/// end of the connection). chromedriver may keep the connection open, so the body's length
/// is what ends the read.
fn read_answer(stream: &mut TcpStream) -> Result<(u16, String)> {
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("no HTTP status")?;
    let mut length = None;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse::<usize>().ok();
        } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
    }
    let mut body = Vec::new();
    match length {
        Some(n) if !chunked => {
            body.resize(n, 0);
            reader.read_exact(&mut body)?;
        }
        _ if chunked => loop {
            let mut size = String::new();
            reader.read_line(&mut size)?;
            let n = usize::from_str_radix(size.trim(), 16).context("bad chunk size")?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        },
        _ => {
            reader.read_to_end(&mut body)?;
        }
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// A browser session.
#[derive(Debug)]
pub(crate) struct Session {
    port: u16,
    id: String,
}

impl Session {
    /// Opens a session with `capabilities` (the `alwaysMatch` object).
    pub(crate) fn new(driver: &Driver, capabilities: &Value) -> Result<Self> {
        let body = json!({ "capabilities": { "alwaysMatch": capabilities } });
        let value = call(driver.port, "POST", "/session", Some(&body))?;
        let id = value
            .get("sessionId")
            .and_then(Value::as_str)
            .context("no session id in the answer")?
            .to_owned();
        Ok(Self {
            port: driver.port,
            id,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        call(
            self.port,
            method,
            &format!("/session/{}{path}", self.id),
            body,
        )
    }

    /// Sets the implicit wait (how long finding an element waits for it) and the script timeout.
    pub(crate) fn set_timeouts(&self, implicit: Duration, script: Duration) -> Result<()> {
        let body = json!({
            "implicit": u64::try_from(implicit.as_millis()).unwrap_or(u64::MAX),
            "script": u64::try_from(script.as_millis()).unwrap_or(u64::MAX),
        });
        self.cmd("POST", "/timeouts", Some(&body)).map(drop)
    }

    /// Loads `url` and waits for its `load` event.
    pub(crate) fn navigate(&self, url: &str) -> Result<()> {
        self.cmd("POST", "/url", Some(&json!({ "url": url })))
            .map(drop)
    }

    /// The reference of the first element matching `css`.
    pub(crate) fn find(&self, css: &str) -> Result<String> {
        let body = json!({ "using": "css selector", "value": css });
        let value = self
            .cmd("POST", "/element", Some(&body))
            .with_context(|| format!("no element `{css}`"))?;
        value
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .with_context(|| format!("no element reference for `{css}` in {value}"))
    }

    /// Clicks the element matching `css`.
    pub(crate) fn click(&self, css: &str) -> Result<()> {
        let element = self.find(css)?;
        self.cmd(
            "POST",
            &format!("/element/{element}/click"),
            Some(&json!({})),
        )
        .with_context(|| format!("clicking `{css}`"))
        .map(drop)
    }

    /// Clears the input matching `css`, then types `text` into it.
    pub(crate) fn fill(&self, css: &str, text: &str) -> Result<()> {
        let element = self.find(css)?;
        self.cmd(
            "POST",
            &format!("/element/{element}/clear"),
            Some(&json!({})),
        )?;
        self.cmd(
            "POST",
            &format!("/element/{element}/value"),
            Some(&json!({ "text": text })),
        )
        .with_context(|| format!("typing into `{css}`"))
        .map(drop)
    }

    /// The rendered text of the element matching `css`.
    pub(crate) fn text(&self, css: &str) -> Result<String> {
        let element = self.find(css)?;
        let value = self.cmd("GET", &format!("/element/{element}/text"), None)?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its result.
    pub(crate) fn execute(&self, script: &str, args: &[Value]) -> Result<Value> {
        let body = json!({ "script": script, "args": args });
        self.cmd("POST", "/execute/sync", Some(&body))
    }

    /// Runs `script` asynchronously: it calls `arguments[arguments.length - 1]` with its result.
    pub(crate) fn execute_async(&self, script: &str, args: &[Value]) -> Result<Value> {
        let body = json!({ "script": script, "args": args });
        self.cmd("POST", "/execute/async", Some(&body))
    }

    /// A PNG screenshot of the viewport.
    pub(crate) fn screenshot(&self) -> Result<Vec<u8>> {
        let value = self.cmd("GET", "/screenshot", None)?;
        let data = value.as_str().context("the screenshot is not a string")?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .context("the screenshot is not base64")
    }

    /// Ends the session (closing the browser).
    pub(crate) fn delete(&self) -> Result<()> {
        self.cmd("DELETE", "", None).map(drop)
    }
}
