//! The OANIX core: the [`FileService`] trait, virtual paths, the shared
//! [`FsError`] vocabulary and the [`Namespace`].
//!
//! In OANIX an agent sees the world as files. Everything it can touch — its
//! task, its workspace, its logs, its network capabilities — is a
//! [`FileService`] mounted at a path of its [`Namespace`]. This crate holds
//! only that core: it does no I/O and has no runtime, so it compiles
//! everywhere, the browser included.
//!
//! # Principal types
//!
//! - [`FileService`] and [`FileHandle`]: the synchronous, object-safe file
//!   interface, and [its contract](service#the-contract) (which error, in which
//!   case), which every implementation in the project keeps.
//! - [`OpenFlags`], [`Metadata`], [`DirEntry`], [`Timestamp`]: the data of that
//!   interface, all serialisable.
//! - [`FsError`]: one error vocabulary for every service, each error naming the
//!   virtual path it concerns.
//! - [`path`]: the one place where paths are checked and normalised.
//! - [`Namespace`] and [`NamespaceBuilder`]: services mounted at paths, with
//!   longest-prefix resolution, synthetic directories, Plan 9 union mounts and
//!   binds, and a replayable printed mount table.
//! - [`links`]: how lookups follow symbolic links (services report them,
//!   one resolver follows them), and [`links::Follow`] for a service used
//!   on its own.
//! - [`deadline`]: the per-thread deadline that bounds blocking file calls.
//! - [`read_file`], [`write_file`], [`read_to_string`], [`walk`],
//!   [`create_dir_all`], [`remove_all`]: the conveniences used throughout.
//!
//! # Where it sits
//!
//! Every other OANIX crate depends on this one; it depends on none of them.
//! The file systems themselves (`MemFs`, `CowFs`...) live in `oanix-prims`.
//!
//! # Example
//!
//! A service of your own, mounted beside another:
//!
//! ```
//! use oanix_vfs::*;
//!
//! /// A file system with one file, `/hello`, that says hello.
//! struct Hello;
//!
//! impl FileService for Hello {
//!     fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
//!         match path::normalize(path)?.as_ref() {
//!             "/hello" if flags.mutates() => Err(FsError::read_only(path)),
//!             "/hello" => Ok(Box::new(Bytes::new("/hello", b"hello\n"))),
//!             "/" => Ok(DirHandle::boxed("/", Metadata::directory(1))),
//!             _ => Err(FsError::not_found(path)),
//!         }
//!     }
//!     fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
//!         match path::normalize(path)?.as_ref() {
//!             "/" => Ok(vec![DirEntry::new("hello", FileKind::File, 6, 2)]),
//!             "/hello" => Err(FsError::not_a_directory(path)),
//!             _ => Err(FsError::not_found(path)),
//!         }
//!     }
//!     fn stat(&self, path: &str) -> Result<Metadata> {
//!         match path::normalize(path)?.as_ref() {
//!             "/" => Ok(Metadata::directory(1)),
//!             "/hello" => Ok(Metadata::file(2, 6).with_readonly(true)),
//!             _ => Err(FsError::not_found(path)),
//!         }
//!     }
//!     fn mkdir(&self, path: &str) -> Result<()> { Err(FsError::read_only(path)) }
//!     fn remove(&self, path: &str) -> Result<()> { Err(FsError::read_only(path)) }
//!     fn rename(&self, from: &str, _to: &str) -> Result<()> { Err(FsError::read_only(from)) }
//! }
//!
//! /// A read-only handle over a byte string.
//! struct Bytes { path: &'static str, data: &'static [u8], pos: usize }
//! impl Bytes {
//!     fn new(path: &'static str, data: &'static [u8]) -> Self { Self { path, data, pos: 0 } }
//! }
//! impl FileHandle for Bytes {
//!     fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
//!         let rest = self.data.get(self.pos..).unwrap_or_default();
//!         let n = rest.len().min(buf.len());
//!         buf[..n].copy_from_slice(&rest[..n]);
//!         self.pos += n;
//!         Ok(n)
//!     }
//!     fn write(&mut self, _: &[u8]) -> Result<usize> { Err(FsError::read_only(self.path)) }
//!     fn seek(&mut self, pos: std::io::SeekFrom) -> Result<u64> {
//!         let len = self.data.len() as u64;
//!         let at = seek_position(self.path, pos, self.pos as u64, len)?;
//!         self.pos = usize::try_from(at).unwrap_or(usize::MAX);
//!         Ok(at)
//!     }
//!     fn stat(&self) -> Result<Metadata> { Ok(Metadata::file(2, self.data.len() as u64)) }
//!     fn set_len(&mut self, _: u64) -> Result<()> { Err(FsError::read_only(self.path)) }
//! }
//!
//! let ns = Namespace::builder()
//!     .mount("/greet", Hello)
//!     .mount("/more/greet", Hello)
//!     .build();
//! assert_eq!(read_to_string(&ns, "/greet/hello")?, "hello\n");
//! // `/more` is a synthetic directory listing its mount point.
//! let names: Vec<_> = ns.readdir("/more")?.into_iter().map(|e| e.name).collect();
//! assert_eq!(names, ["greet"]);
//! // Errors name the namespace path.
//! assert_eq!(ns.stat("/greet/nope").unwrap_err().to_string(), "not found: /greet/nope");
//! assert_eq!(ns.mount_table(), "mount /greet custom\nmount /more/greet custom\n");
//! # Ok::<(), FsError>(())
//! ```

pub mod deadline;
pub mod error;
pub mod links;
pub mod namespace;
pub mod ops;
pub mod path;
pub mod service;
pub mod types;

pub use error::{FsError, FsErrorKind, Result};
pub use namespace::{BindMode, MountFlags, MountSpec, Namespace, NamespaceBuilder};
pub use ops::{
    WalkEntry, append_file, create_dir_all, exists, read_file, read_to_end, read_to_string,
    remove_all, walk, write_all, write_file,
};
pub use service::{
    BytesHandle, DirHandle, FileHandle, FileService, check_open_flags, seek_position,
};
pub use types::{DirEntry, FileKind, Metadata, OpenFlags, Timestamp};
