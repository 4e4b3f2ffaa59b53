//! The byte form of a [`FrozenTree`]: versioned and verified.
//!
//! ```text
//! magic      8 bytes   "OANIXFT\0"
//! version    u32 LE    1
//! count      u64 LE    number of entries
//! entries    count times, parents before children:
//!   kind     u8        0 directory, 1 file, 2 symbolic link, 3 another name of an earlier file
//!   path     u32 LE length, then the canonical path (UTF-8)
//!   id, created, modified, accessed   u64 LE each
//!   payload  u64 LE length, then: a file's bytes, a link's target, or (kind 3) the
//!            u64 LE index of the entry naming the same file first
//! checksum   32 bytes  SHA-256 of everything before it
//! ```
//!
//! Decoding checks the checksum before anything else, then every length
//! against what is left, every path (canonical, its parent a directory
//! listed before it, no name twice): a damaged or truncated input gives an
//! [`DecodeError`] saying what is wrong, never a partial tree.

use std::collections::HashMap;
use std::sync::Arc;

use oanix_vfs::{Metadata, Timestamp};
use sha2::{Digest, Sha256};

use super::{DecodeError, FORMAT_VERSION, FrozenFile, FrozenNode, FrozenTree, FrozenTreeBuilder};

const MAGIC: &[u8; 8] = b"OANIXFT\0";
const CHECKSUM_LEN: usize = 32;
const HEADER_LEN: usize = 8 + 4 + 8;

impl FrozenTree {
    /// The tree as bytes (see the format in the module docs): what
    /// [`decode`](Self::decode) reads back.
    pub fn encode(&self) -> Vec<u8> {
        let nodes = self.nodes();
        let mut out = Vec::with_capacity(HEADER_LEN + CHECKSUM_LEN + self.bytes as usize);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&(nodes.len() as u64).to_le_bytes());
        let mut first_name: HashMap<*const FrozenFile, u64> = HashMap::new();
        for (index, (p, node)) in nodes.iter().enumerate() {
            let first = match node {
                FrozenNode::File(f) => first_name.get(&Arc::as_ptr(f)).copied(),
                _ => None,
            };
            let (kind, meta) = match node {
                FrozenNode::Dir(d) => (0, d.metadata()),
                FrozenNode::File(f) if first.is_some() => (3, f.metadata()),
                FrozenNode::File(f) => {
                    first_name.insert(Arc::as_ptr(f), index as u64);
                    (1, f.metadata())
                }
                FrozenNode::Symlink(l) => (2, l.metadata()),
            };
            out.push(kind);
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            out.extend_from_slice(p.as_bytes());
            let t = |t: Option<Timestamp>| t.map_or(0, |t| t.as_nanos());
            for v in [meta.id, t(meta.created), t(meta.modified), t(meta.accessed)] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            let first_bytes = first.map(u64::to_le_bytes);
            let payload: &[u8] = match (node, &first_bytes) {
                (_, Some(index)) => index,
                (FrozenNode::File(f), None) => &f.data,
                (FrozenNode::Symlink(l), None) => l.target.as_bytes(),
                (FrozenNode::Dir(_), None) => &[],
            };
            out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
            out.extend_from_slice(payload);
        }
        let sum = Sha256::digest(&out);
        out.extend_from_slice(&sum);
        out
    }

    /// Reads bytes written by [`encode`](Self::encode), verified.
    ///
    /// # Errors
    /// A [`DecodeError`] naming what is wrong: too short, not a frozen
    /// tree, another version, a checksum mismatch, or a malformed entry.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let min = HEADER_LEN + CHECKSUM_LEN;
        if bytes.len() < min {
            return Err(DecodeError::TooShort {
                len: bytes.len(),
                min,
            });
        }
        if &bytes[..8] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != FORMAT_VERSION {
            return Err(DecodeError::Version { found: version });
        }
        let (body, sum) = bytes.split_at(bytes.len() - CHECKSUM_LEN);
        if Sha256::digest(body).as_slice() != sum {
            return Err(DecodeError::Checksum);
        }
        let mut r = Reader {
            rest: &body[HEADER_LEN..],
            index: 0,
        };
        let count = u64::from_le_bytes(body[12..20].try_into().unwrap_or([0; 8]));
        let mut tree = FrozenTreeBuilder::new();
        for index in 0..count {
            r.index = index;
            let kind = r.u8()?;
            let plen = r.u32()? as usize;
            let p = std::str::from_utf8(r.take(plen as u64)?)
                .map_err(|_| r.err("the path is not UTF-8"))?
                .to_owned();
            let (id, created, modified, accessed) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
            let len = r.u64()?;
            let payload = r.take(len)?;
            let meta = Metadata::file(id, 0).with_times(
                Timestamp(created),
                Timestamp(modified),
                Timestamp(accessed),
            );
            match kind {
                0 => tree.dir(&p, &meta)?,
                1 => tree.file(&p, &meta, payload.to_vec())?,
                2 => {
                    let target = std::str::from_utf8(payload)
                        .map_err(|_| r.err("the link's target is not UTF-8"))?;
                    tree.symlink(&p, &meta, target.to_owned())?;
                }
                3 => {
                    let first = <[u8; 8]>::try_from(payload)
                        .map(u64::from_le_bytes)
                        .map_err(|_| r.err("another name without the index of the first"))?;
                    let first = usize::try_from(first).unwrap_or(usize::MAX);
                    tree.link(&p, first)?;
                }
                k => return Err(r.err(format!("unknown kind {k}"))),
            }
        }
        if !r.rest.is_empty() {
            return Err(DecodeError::Entry {
                index: count,
                message: format!("{} bytes after the last entry", r.rest.len()),
            });
        }
        Ok(tree.finish())
    }
}

struct Reader<'a> {
    rest: &'a [u8],
    index: u64,
}

impl<'a> Reader<'a> {
    fn err(&self, message: impl Into<String>) -> DecodeError {
        DecodeError::Entry {
            index: self.index,
            message: message.into(),
        }
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], DecodeError> {
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.rest.len())
            .ok_or_else(|| self.err(format!("{n} bytes asked, {} left", self.rest.len())))?;
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}
