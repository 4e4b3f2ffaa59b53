//! OANIX's primitive file systems, from which every other service is built.
//!
//! - [`MemFs`]: an in-memory read/write tree, fast and safe to share
//!   between threads (one lock for the tree's shape, one per file's bytes).
//! - [`MapFs`]: an immutable tree built once from paths and bytes, without
//!   copying static data (`include_bytes!`).
//! - [`FuncFs`]: files computed on read and handled on write by closures,
//!   the building block of control and capability files.
//! - [`CowFs`]: a copy-on-write overlay of any service, with
//!   [`CowFs::changes`] reporting what was added, modified and deleted
//!   relative to the base, and [`CowFs::discard`] to throw it all away.
//!
//! Snapshots start here: [`MemFs::freeze`] takes a [`FrozenTree`], an
//! immutable copy of the whole tree at one point in time that shares every
//! file's bytes (the first write after a freeze copies that file once),
//! and [`MemFs::from_frozen`] starts a new file system from one;
//! [`CowFs::freeze`] and [`CowFs::from_frozen`] do the same for an overlay
//! (its upper layer, whiteouts and origins; the base is shared, never
//! copied). [`FrozenTree::encode`] and [`FrozenTree::decode`] turn a frozen
//! tree into verified, versioned bytes and back; [`FrozenTree::items`] and
//! [`FrozenTreeBuilder`] take one apart and put it together again, for
//! stores of their own.
//!
//! Every one keeps the links part of the contract (`oanix_vfs::links`):
//! `MemFs` and `CowFs` hold symbolic and hard links, `MapFs` declares
//! symbolic links when it is built; none follows a link itself.
//!
//! And [`FixedTree`], the one implementation of "a fixed set of names":
//! declared once with a value per file (the service's typed node), it
//! parses a path once into that node and answers, with the contract's
//! errors, everything the names decide — lookups, listings, directories,
//! read-only files, open flags, and the refusal to create, remove or
//! rename. `MapFs` and `FuncFs` are built on it, and so are the task and
//! logs services of `oanix-services`.
//!
//! All four keep the [`FileService` contract](oanix_vfs::service#the-contract).
//! The `oanix-conformance` suite and its reference model check `MemFs` and
//! `CowFs` (writable), `MapFs` (read-only) and `FuncFs` (fixed names, with
//! sizes unknown until read).
//!
//! # Where it sits
//!
//! Depends only on `oanix-vfs`, and does no I/O: it compiles for the browser.
//! `oanix-services` builds the task, logs and workspace services on top.
//!
//! # Example
//!
//! A reproducible fixture, overlaid so an agent's writes never reach it:
//!
//! ```
//! use oanix_prims::{CowFs, MapFs, MemFs};
//! use oanix_vfs::{Namespace, read_to_string, write_file};
//!
//! let fixture = MapFs::builder().file("/src/lib.rs", "pub fn answer() -> u32 { 41 }").build();
//! let ns = Namespace::builder()
//!     .mount("/workspace", CowFs::new(fixture.clone()))
//!     .mount("/tmp", MemFs::new())
//!     .build();
//! write_file(&ns, "/workspace/src/lib.rs", "pub fn answer() -> u32 { 42 }")?;
//! write_file(&ns, "/tmp/scratch", "notes")?;
//! assert!(read_to_string(&ns, "/workspace/src/lib.rs")?.contains("42"));
//! assert!(read_to_string(&fixture, "/src/lib.rs")?.contains("41"));
//! # Ok::<(), oanix_vfs::FsError>(())
//! ```

mod cowfs;
mod fixed_tree;
mod frozen;
mod funcfs;
mod mapfs;
mod memfs;

pub use cowfs::{
    Change, ChangeKind, CommitError, CommitReport, Conflict, CowFs, CowOrigins, EntryInfo,
    FrozenCow,
};
pub use fixed_tree::{
    Access, Dynamic, DynamicEntry, DynamicKind, DynamicNode, FixedDir, FixedFile, FixedNode,
    FixedTree, FixedTreeBuilder, Resolved, WithDynamic, dynamic_id,
};
pub use frozen::{
    DecodeError, FORMAT_VERSION, FrozenEntry, FrozenItem, FrozenTree, FrozenTreeBuilder,
};
pub use funcfs::{FuncFs, FuncFsBuilder};
pub use mapfs::{MapData, MapFs, MapFsBuilder};
pub use memfs::{MemFs, MemLimits};
