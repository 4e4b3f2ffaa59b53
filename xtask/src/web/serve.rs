//! A static file server on 127.0.0.1 for the Namespace Explorer: `GET` and `HEAD` of files
//! under one directory, with the MIME types a page needs (`.wasm` as `application/wasm`).
//!
//! It is a development server: one thread per connection, `Connection: close`, no caching.
//! Paths are decoded, then refused if any component is `..` or starts with a dot, so nothing
//! outside the directory (or hidden in it) is ever served.

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// The largest request head read, in bytes; anything longer is refused.
const MAX_HEAD: usize = 16 * 1024;

/// A running server.
#[derive(Debug)]
pub(crate) struct Server {
    addr: SocketAddr,
    thread: JoinHandle<()>,
}

impl Server {
    /// Serves `root` on 127.0.0.1:`port` (0 picks a free port) from a background thread.
    pub(crate) fn start(root: &Path, port: u16) -> Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .with_context(|| format!("could not listen on 127.0.0.1:{port}"))?;
        let addr = listener.local_addr()?;
        let root = Arc::new(root.to_path_buf());
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let root = Arc::clone(&root);
                std::thread::spawn(move || {
                    // A client that goes away mid-answer is not the server's problem.
                    let _ = answer(&root, stream);
                });
            }
        });
        Ok(Self { addr, thread })
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks for as long as the server runs (until the process is stopped).
    pub(crate) fn wait(self) {
        let _ = self.thread.join();
    }
}

/// The MIME type of a file, by extension.
fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("txt" | "md") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The file under `root` that `target` (the request target) names, or `None` when it names
/// nothing that may be served. `/` and directories mean their `index.html`.
pub(crate) fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = percent_decode(path)?;
    let mut file = root.to_path_buf();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        if part.starts_with('.') || part.contains('\\') || part.contains('\0') {
            return None;
        }
        file.push(part);
    }
    if file.is_dir() {
        file.push("index.html");
    }
    file.is_file().then_some(file)
}

/// Reads one request from `stream` and answers it.
fn answer(root: &Path, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut head = request_line.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line)?;
        head += n;
        if n == 0 || line == "\r\n" || line == "\n" || head > MAX_HEAD {
            break;
        }
    }
    let mut stream = stream;
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if head > MAX_HEAD {
        return respond(
            &mut stream,
            "431 Request Header Fields Too Large",
            "text/plain",
            b"too large\n",
            true,
        );
    }
    if method != "GET" && method != "HEAD" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            b"only GET and HEAD\n",
            true,
        );
    }
    let with_body = method == "GET";
    match resolve(root, target).and_then(|f| std::fs::read(&f).ok().map(|b| (f, b))) {
        Some((file, body)) => respond(&mut stream, "200 OK", content_type(&file), &body, with_body),
        None => respond(
            &mut stream,
            "404 Not Found",
            "text/plain",
            b"not found\n",
            with_body,
        ),
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
    with_body: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    if with_body {
        stream.write_all(body)?;
    }
    stream.flush()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn site() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("oanix-serve-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("pkg")).unwrap();
        std::fs::write(dir.join("index.html"), "<p>hi</p>").unwrap();
        std::fs::write(dir.join("pkg/m.wasm"), b"\0asm").unwrap();
        std::fs::write(dir.join(".secret"), "no").unwrap();
        dir
    }

    fn get(addr: SocketAddr, request: &str) -> String {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut out = String::new();
        stream.read_to_string(&mut out).unwrap();
        out
    }

    #[test]
    fn paths_resolve_inside_the_root_only() {
        let root = site();
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(
            resolve(&root, "/pkg/m.wasm?v=1"),
            Some(root.join("pkg/m.wasm"))
        );
        assert_eq!(
            resolve(&root, "/%70kg/m.wasm"),
            Some(root.join("pkg/m.wasm"))
        );
        assert_eq!(resolve(&root, "/../etc/passwd"), None);
        assert_eq!(resolve(&root, "/%2e%2e/x"), None);
        assert_eq!(resolve(&root, "/.secret"), None);
        assert_eq!(resolve(&root, "/nope"), None);
        assert_eq!(resolve(&root, "/%zz"), None);
        assert_eq!(content_type(Path::new("a.wasm")), "application/wasm");
    }

    #[test]
    fn the_server_answers_get_head_and_refuses_the_rest() {
        let root = site();
        let server = Server::start(&root, 0).unwrap();
        let ok = get(server.addr(), "GET /pkg/m.wasm HTTP/1.1\r\nHost: x\r\n\r\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("Content-Type: application/wasm\r\n"));
        assert!(ok.ends_with("\0asm"));
        let head = get(server.addr(), "HEAD / HTTP/1.1\r\n\r\n");
        assert!(head.contains("Content-Length: 9\r\n") && head.ends_with("\r\n\r\n"));
        let missing = get(server.addr(), "GET /../Cargo.toml HTTP/1.1\r\n\r\n");
        assert!(missing.starts_with("HTTP/1.1 404"));
        let post = get(server.addr(), "POST / HTTP/1.1\r\n\r\n");
        assert!(post.starts_with("HTTP/1.1 405"));
    }
}
