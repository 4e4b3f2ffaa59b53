//! OANIX snapshot store: the file state of environments on disk,
//! content-addressed, crash-safe, verified and versioned.
//!
//! A [`SnapshotContent`] is what an environment's snapshot holds as data:
//! for each mount, its [`MountState`] — a task (spec, meta, status,
//! result), logs (the three files), an in-memory tree, a copy-on-write
//! overlay's layer with its whiteouts and origins over a named host
//! directory, or a host directory named as it is. A [`Store`] is a
//! directory that keeps many:
//!
//! ```text
//! STORE/
//!   NAME.snap           one manifest per snapshot (format below)
//!   packs/ID.pack       "OANIXPK\0", u32 LE version, then blobs back to back;
//!                       ID is the SHA-256 of its blobs' SHA-256s, in order
//!   .tmp/               files being written (removed by gc)
//!   .lock               held while a process saves, removes or collects
//! ```
//!
//! A manifest is one line `OANIX-SNAPSHOT 1`, one line of JSON (the mounts;
//! each file's bytes as a blob reference — pack, offset, length and
//! SHA-256), and one line `sha256:HEX` of the JSON line.
//!
//! # Why this format
//!
//! - **Content-addressed**: a blob is known by its SHA-256; a save writes
//!   only bytes no snapshot of the store holds yet, so the snapshots of one
//!   environment share storage (a second snapshot after a small change
//!   writes the change).
//! - **Packed**: the new blobs of one save go to one pack, written
//!   sequentially and synced once — not one file (and one `fsync`) per
//!   blob, which costs seconds for a workspace of 10,000 small files.
//! - **Crash-safe**: a pack is written under `.tmp`, synced and renamed
//!   into `packs/`; then the manifest likewise into `NAME.snap`, and each
//!   directory synced. Existing files are never changed. A save killed at
//!   any point leaves every earlier snapshot readable; at worst a pack no
//!   manifest refers to, which [`Store::gc`] removes.
//! - **Verified**: the manifest's checksum is checked before its JSON is
//!   read, and every blob against its SHA-256 when read: a flipped byte, a
//!   cut file or a swapped pack gives a [`StoreError`] naming the snapshot,
//!   the mount, the file and what is wrong — never a panic or part of a
//!   snapshot.
//! - **Lazy**: [`Store::open_snapshot`] reads the manifest alone;
//!   [`StoredSnapshot::read_file`] reads one file's blob;
//!   [`StoredSnapshot::materialize`] reads everything (each pack once).
//! - **Versioned**: manifests and packs carry [`FORMAT_VERSION`]; another
//!   version is refused by name.
//!
//! SQLite would give the same atomicity, but not content addressing across
//! snapshots without a schema of our own, and it would add a C library to
//! a crate that needs only files and SHA-256.
//!
//! # Limits
//!
//! - Host directories (the base of a copy-on-write workspace, a read-only
//!   or read-write directory) are named, never copied: a snapshot restored
//!   after the directory changed sees the directory as it is then (a
//!   commit of the overlay checks what it had read, and reports conflicts).
//! - A pack is removed when no snapshot refers to any of its blobs; one
//!   blob still used keeps the whole pack.
//! - Capabilities are not stored (see [`MountState`]). Host directories
//!   are, by path: a snapshot is trusted input. Whoever can write a store
//!   can make a snapshot name any directory the loading process may read
//!   (restored read-only, or under a copy-on-write layer: never written
//!   to), so load snapshots only from stores the host controls.
//!
//! # Where it sits
//!
//! Above the primitives (frozen trees) and the services (task and logs
//! snapshots); `oanix-env` builds environments from what it loads.

mod content;
mod error;
mod manifest;
mod store;

pub use content::{MountState, SnapshotContent, StoredMount};
pub use error::{Result, StoreError};
pub use manifest::FORMAT_VERSION;
pub use store::{GcReport, PruneReport, SaveReport, SnapshotInfo, Store, StoredSnapshot};
