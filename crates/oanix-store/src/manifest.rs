//! The manifest: one snapshot's description, as checksummed JSON.
//!
//! ```text
//! OANIX-SNAPSHOT 1\n
//! {JSON: ManifestBody}\n
//! sha256:<64 hex digits of the SHA-256 of the JSON line>\n
//! ```
//!
//! Every byte payload (a file's bytes, a log file, the task's result) is a
//! blob: an index into `blobs`, each naming its pack, offset, length and
//! SHA-256.

use std::path::{Path, PathBuf};

use oanix_prims::CowOrigins;
use oanix_services::{LogsSnapshot, TaskSnapshot};
use oanix_vfs::{MountFlags, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::error::{Result, StoreError};

/// The version of the manifest and pack formats this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;
const HEADER: &str = "OANIX-SNAPSHOT ";

/// A manifest as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ManifestBody {
    pub(crate) name: String,
    pub(crate) created: Timestamp,
    pub(crate) source: String,
    #[serde(default)]
    pub(crate) note: Value,
    /// The packs the blobs live in, by id.
    pub(crate) packs: Vec<String>,
    pub(crate) blobs: Vec<BlobRef>,
    pub(crate) mounts: Vec<MountRecord>,
}

/// Where a blob's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BlobRef {
    /// SHA-256 of the bytes, in hex.
    pub(crate) sha256: String,
    /// Index into `packs`.
    pub(crate) pack: u32,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MountRecord {
    pub(crate) path: String,
    pub(crate) flags: MountFlags,
    pub(crate) state: StateRecord,
}

/// Externally tagged (`{"memory": {...}}`): an internally tagged enum would
/// make serde buffer a whole tree before reading it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum StateRecord {
    Task {
        /// The snapshot with its result left empty: the result is a blob.
        snapshot: TaskSnapshot,
        result: u32,
    },
    Logs {
        /// The snapshot with its files' bytes left empty.
        snapshot: LogsSnapshot,
        stdout: u32,
        stderr: u32,
        events: u32,
    },
    Memory {
        capacity: u64,
        tree: Vec<EntryRecord>,
    },
    Overlay {
        host: PathBuf,
        capacity: u64,
        upper: Vec<EntryRecord>,
        whiteouts: Vec<String>,
        origins: CowOrigins,
    },
    Directory {
        host: PathBuf,
        writable: bool,
    },
}

/// One entry of a frozen tree.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryRecord {
    /// The canonical path.
    pub(crate) p: String,
    /// `d` directory, `f` file, `l` symbolic link, `h` another name of a file.
    pub(crate) k: char,
    pub(crate) id: u64,
    /// Created, modified, accessed (nanoseconds since the epoch).
    pub(crate) t: [u64; 3],
    /// A file's blob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) b: Option<u32>,
    /// A link's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target: Option<String>,
    /// Another name's first entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) same: Option<usize>,
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    s
}

/// The SHA-256 of `bytes`, in hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// The manifest's bytes.
pub(crate) fn encode(body: &ManifestBody) -> Vec<u8> {
    // Serialising plain data with string keys cannot fail.
    let json = serde_json::to_vec(body).unwrap_or_default();
    let mut out = format!("{HEADER}{FORMAT_VERSION}\n").into_bytes();
    let sum = sha256_hex(&json);
    out.extend_from_slice(&json);
    out.extend_from_slice(format!("\nsha256:{sum}\n").as_bytes());
    out
}

/// Reads a manifest of `path`, verified: the header, the version, the
/// checksum, then the JSON.
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<ManifestBody> {
    let not = |reason: String| StoreError::NotManifest {
        path: path.to_owned(),
        reason,
    };
    let Some(nl) = bytes.iter().position(|&b| b == b'\n') else {
        return Err(not(format!("{} bytes and no header line", bytes.len())));
    };
    let header = std::str::from_utf8(&bytes[..nl])
        .ok()
        .and_then(|h| h.strip_prefix(HEADER))
        .ok_or_else(|| not("the first line is not \"OANIX-SNAPSHOT <version>\"".into()))?;
    let found: u32 = header
        .parse()
        .map_err(|_| not(format!("the version {header:?} is not a number")))?;
    if found != FORMAT_VERSION {
        return Err(StoreError::Version {
            path: path.to_owned(),
            found,
            expected: FORMAT_VERSION,
        });
    }
    let rest = &bytes[nl + 1..];
    // The trailer: "\nsha256:" + 64 hex + "\n".
    const TRAILER: usize = 1 + 7 + 64 + 1;
    let cut = rest.len().checked_sub(TRAILER);
    let (json, trailer) = match cut {
        Some(cut) => rest.split_at(cut),
        None => return Err(StoreError::ManifestChecksum { path: path.into() }),
    };
    let Some(sum) = trailer
        .strip_prefix(b"\nsha256:")
        .and_then(|t| t.strip_suffix(b"\n"))
    else {
        return Err(StoreError::ManifestChecksum { path: path.into() });
    };
    if sha256_hex(json).as_bytes() != sum {
        return Err(StoreError::ManifestChecksum { path: path.into() });
    }
    serde_json::from_slice(json).map_err(|e| StoreError::Malformed {
        path: path.to_owned(),
        message: format!("the manifest's JSON: {e}"),
    })
}
