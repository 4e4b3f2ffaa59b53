//! Why bytes or entries are not a frozen tree.

/// The version of the byte form this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Why bytes are not a frozen tree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Shorter than a header and a checksum.
    #[error("truncated: {len} bytes, a frozen tree takes at least {min}")]
    TooShort {
        /// The length given.
        len: usize,
        /// The least a frozen tree takes.
        min: usize,
    },
    /// Not a frozen tree at all.
    #[error("not a frozen tree (the first bytes are not \"OANIXFT\")")]
    BadMagic,
    /// Written by another version of the format.
    #[error("format version {found}, this build reads version {FORMAT_VERSION}")]
    Version {
        /// The version found.
        found: u32,
    },
    /// The checksum does not match: the bytes were damaged or cut.
    #[error("checksum mismatch: the bytes were changed or cut short after they were written")]
    Checksum,
    /// An entry is malformed (checked after the checksum matched: written
    /// by a faulty writer).
    #[error("entry {index}: {message}")]
    Entry {
        /// Its index.
        index: u64,
        /// What is wrong.
        message: String,
    },
}
