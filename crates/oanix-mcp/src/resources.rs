//! Namespace files as MCP resources: `oanix://NAME/path` URIs, listing,
//! reading, and the fingerprints that tell a subscriber a file changed.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use oanix_env::OanixEnv;
use oanix_vfs::{FileKind, FileService as _, FsError, path, walk};
use rmcp::model::{Resource, ResourceContents, ResourceTemplate};
use sha2::{Digest, Sha256};

use crate::ops::read_range;

/// The directories whose files are listed as resources (every other file
/// is reachable through the URI template).
const LISTED: &[&str] = &["/task", "/logs", "/env"];

/// Files up to this size are fingerprinted by their content; larger ones
/// by size and modification time.
const HASHED_BYTES: u64 = 64 * 1024;

/// The URI of namespace path `p` in environment `name`.
pub(crate) fn uri(name: &str, p: &str) -> String {
    let mut out = format!("oanix://{name}");
    for b in p.bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why a URI names no file of this environment.
#[derive(Debug)]
pub(crate) struct BadUri(pub(crate) String);

/// The namespace path a URI of environment `name` names.
pub(crate) fn parse(name: &str, uri: &str) -> Result<String, BadUri> {
    let Some(rest) = uri.strip_prefix("oanix://") else {
        return Err(BadUri(format!(
            "{uri:?} is not an oanix:// URI (expected oanix://{name}/PATH)"
        )));
    };
    let (host, p) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if host != name {
        return Err(BadUri(format!(
            "{uri:?} names environment {host:?}; this server serves {name:?}"
        )));
    }
    let decoded = decode(p).ok_or_else(|| BadUri(format!("{uri:?}: bad percent-encoding")))?;
    let normalized = path::normalize(&decoded).map_err(|e| BadUri(format!("{uri:?}: {e}")))?;
    Ok(normalized.into_owned())
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn mime(p: &str) -> &'static str {
    if p.ends_with(".json") {
        "application/json"
    } else if p.ends_with(".jsonl") {
        "application/x-ndjson"
    } else {
        "text/plain"
    }
}

/// The listed resources: the files under `/task`, `/logs` and `/env`.
pub(crate) fn list(env: &OanixEnv, name: &str) -> Vec<Resource> {
    let ns = env.namespace();
    let mut out = Vec::new();
    for dir in LISTED {
        if ns.stat(dir).map(|m| m.kind) != Ok(FileKind::Directory) {
            continue;
        }
        for entry in walk(ns, dir).flatten() {
            if entry.kind != FileKind::File {
                continue;
            }
            out.push(
                Resource::new(uri(name, &entry.path), entry.path.clone())
                    .with_mime_type(mime(&entry.path))
                    .with_size(entry.size),
            );
        }
    }
    out
}

/// The template every file of the namespace answers to.
pub(crate) fn template(name: &str) -> ResourceTemplate {
    ResourceTemplate::new(format!("oanix://{name}/{{+path}}"), "namespace file").with_description(
        format!("Any file of environment {name:?}'s namespace, by its absolute path"),
    )
}

/// Reads the file a resource names (at most `limit` bytes; UTF-8 as text,
/// anything else as a base64 blob).
pub(crate) fn read(
    env: &OanixEnv,
    uri_text: &str,
    p: &str,
    limit: u64,
) -> Result<ResourceContents, FsError> {
    let m = env.namespace().stat(p)?;
    if m.kind == FileKind::Directory {
        return Err(FsError::is_a_directory(p));
    }
    let (bytes, eof) = read_range(env.namespace(), p, 0, limit)?;
    if !eof {
        return Err(FsError::too_large(p, limit));
    }
    Ok(match String::from_utf8(bytes) {
        Ok(text) => ResourceContents::text(text, uri_text).with_mime_type(mime(p)),
        Err(e) => ResourceContents::blob(BASE64.encode(e.as_bytes()), uri_text)
            .with_mime_type("application/octet-stream"),
    })
}

/// What a subscriber compares to see that a file changed: its size and
/// modification time, and for small files a digest of the content (a
/// service's computed file, such as a task's status, may change without a
/// new time). A file that cannot be read has the error as its print.
pub(crate) fn fingerprint(env: &OanixEnv, p: &str) -> String {
    let ns = env.namespace();
    let m = match ns.stat(p) {
        Ok(m) => m,
        Err(e) => return format!("error {:?}", e.kind()),
    };
    let mut print = format!("{:?} {} {:?}", m.kind, m.size, m.modified);
    if m.kind == FileKind::File && m.size <= HASHED_BYTES {
        match read_range(ns, p, 0, HASHED_BYTES + 1) {
            Ok((bytes, _)) => {
                let digest = Sha256::digest(&bytes);
                print.push(' ');
                for b in &digest[..16] {
                    print.push_str(&format!("{b:02x}"));
                }
            }
            Err(e) => print.push_str(&format!(" error {:?}", e.kind())),
        }
    }
    print
}
