//! `Namespace`: services composed by mounting them at paths, Plan 9 style.
//!
//! A namespace is built once with a [`NamespaceBuilder`] and is immutable
//! afterwards; cloning it is one reference-count increment. It implements
//! [`FileService`](crate::FileService) itself, so namespaces nest and a
//! runtime can hand one root to a guest.
//!
//! **Resolution** is by longest prefix on component boundaries: with mounts at
//! `/tools` and `/tools/core`, `/tools/core/x` goes to the second, `/toolsx`
//! to neither. The part of the path below the mount point is handed to the
//! service as an absolute path (`/tools/core/x` → `/x`).
//!
//! **Synthetic directories**: directories above and between mount points (with
//! mounts at `/cap/http` and `/cap/ws`, the directory `/cap` and the root)
//! exist even when no service provides them, and list the mount points below
//! them; the root exists even with nothing mounted. A mount point always
//! appears as a directory in its parent's listing. Mount points and synthetic
//! directories cannot be removed or renamed (`PermissionDenied`); nothing can
//! be created in a synthetic directory that no service provides
//! (`PermissionDenied`).
//!
//! **Unions** ([`MountFlags`]): a mount may replace what is at its mount point
//! (the default) or join a union directory before or after it. A lookup takes
//! the first member that has the path; a listing merges the members, the
//! first one winning on duplicate names; a new file or directory goes to the
//! first member marked `create` that has its parent directory (a mount point
//! with one member always accepts creation). Renames stay within one member;
//! anything else is `CrossDevice`, as between different mounts.
//!
//! **Binds**: [`NamespaceBuilder::bind`] makes a path already in the namespace
//! visible at a second place, as Plan 9's `bind(1)`: the source is looked up
//! in the namespace as it stands at that point of the building.
//!
//! **Mount table**: [`Namespace::mount_table`] prints the mounts and binds in
//! order as text that [`NamespaceBuilder::from_mount_table`] replays:
//!
//! ```text
//! mount / memfs
//! mount /task taskfs
//! mount -bc /bin tools
//! bind /task /home/task
//! ```
//!
//! Errors coming out of a mount name the path in the namespace, not the path
//! inside the service.
//!
//! The parts, each using only those listed before it: `flags` (how a
//! service joins a mount point), `table` (the steps that built a namespace,
//! and the mount table's text), `synthetic` (directories of mount points),
//! `handle` (handles opened through the namespace), `resolve` (the
//! [`Namespace`] and the route a path takes), `file_service` (the namespace
//! as a [`FileService`](crate::FileService)), `bind` (a subtree served at a
//! second path) and `builder` ([`NamespaceBuilder`]).

mod bind;
mod builder;
mod file_service;
mod flags;
mod handle;
mod resolve;
mod synthetic;
mod table;

pub use builder::NamespaceBuilder;
pub use flags::{BindMode, MountFlags};
pub use resolve::Namespace;
pub use table::MountSpec;
