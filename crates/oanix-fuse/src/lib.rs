//! OANIX through the kernel: any [`FileService`](oanix_vfs::FileService) —
//! a whole [`Namespace`](oanix_vfs::Namespace) — served as a Linux file
//! system over FUSE, so that native programs use an agent's files as a WASI
//! guest does: `cat /task/spec.json`, `echo '{"url": ...}' >
//! /cap/http/request` and then `cat /cap/http/responses/req-1.json`,
//! `tail -f /logs/stdout.log`, `git` in `/workspace`.
//!
//! # Principal types
//!
//! - [`FuseMount`]: a service mounted on a directory for as long as the
//!   value lives; [`FuseMount::cleanup_stale`] removes a dead mount left by
//!   a killed process, [`FuseMount::invalidate`] tells the kernel the host
//!   changed a path.
//! - [`MountOptions`] and [`CachePolicy`]: what the kernel may cache, per
//!   path prefix, and the mount's owner, threads and limits.
//! - [`FuseError`]: why a mount could not be made, in one line that says
//!   what to install or enable.
//!
//! # Where it sits
//!
//! Depends on `oanix-vfs` only (as `oanix-wasi` does: both serve one
//! namespace to programs) and on [`fuser`](https://docs.rs/fuser) 0.18,
//! the maintained pure-Rust FUSE library: it speaks the kernel protocol
//! itself, needs no libfuse, mounts with `mount(2)` or `fusermount3`, runs a
//! multithreaded session (one `/dev/fuse` clone per thread) and lets a
//! reply be sent later from another thread, which live files need. Linux
//! only: elsewhere [`FuseMount::mount`] answers
//! [`FuseError::UnsupportedPlatform`].
//!
//! # How requests are served
//!
//! **Inode numbers** are stable per mount: a name keeps its number while it
//! exists — across lookups, renames through the mount, and the kernel
//! forgetting it — numbers are never reused, and the further names of a
//! file with several (`nlink > 1`, hard links) share its number. The kernel
//! resolves every path component itself, so each request names a file by
//! number or by a directory number and a name, which the inode table turns
//! into the namespace path for the service (renaming a directory moves
//! what is below it at once). A lookup that races a rename of one of its
//! directories waits for the rename and tries the new path. Because a
//! number stands for a path, a name the kernel keeps cannot show what is
//! not there: a request on a name the host removed, or turned into another
//! kind of file, answers `ESTALE`, and the kernel looks the name up again
//! and retries (so `echo > f` creates `f` anew). The table keeps
//! one entry (about a hundred bytes) per name seen until the name is
//! removed through the mount or found missing.
//!
//! **Open files** hold the service's handle behind a lock. Files in the
//! page cache are read and written positionally. Live files (the
//! [`Live`](CachePolicy::Live) policy), and files whose size is 0 when
//! opened (computed files, whose size is unknown until read), are opened
//! with `FOPEN_DIRECT_IO`: one `write(2)` is one `write` call (one
//! message) when it is at most [`MountOptions::max_write`] less a page;
//! reading on from where the last operation ended is a sequential read of
//! the handle (the id of a message is read back on the same descriptor, a
//! stream reads on), while a `pread` or `lseek` elsewhere seeks the handle
//! first (so `tail -f` works). Opening, reading, writing, truncating,
//! syncing and closing a live file (and reading or writing any direct file)
//! run on a bounded pool of threads ([`MountOptions::blocking_threads`])
//! with the kernel's reply moved there, so a read that waits for a
//! capability's answer blocks only its reader: the threads that take the
//! kernel's requests are never held by one, and a `stat` of the file being
//! read asks the service by path instead of waiting for its handle.
//! `O_NONBLOCK` at open makes such reads answer `EAGAIN`; the mount's
//! [`io_timeout`](MountOptions::io_timeout) bounds them as a deadline.
//!
//! **Directories** are read from a snapshot taken at `opendir` (and again at
//! `rewinddir`), with `.` and `..` and each entry's inode number (the one
//! `stat` gives): offsets index the snapshot, so a listing read
//! while entries come and go gives every entry of the snapshot once.
//!
//! **Links**: a lookup answers a link itself (`lstat`); `readlink` gives its
//! target and the kernel follows it, resolving an absolute target from the
//! reading process's root — the namespace itself when the mount is that
//! process's root (a sandbox), the host's root otherwise. `symlink`, `link`
//! (hard links, `nlink` counted), `unlink` (open handles keep reading the
//! data) and `rename` (over an existing file or empty directory; with
//! `RENAME_NOREPLACE` checked first, with `RENAME_EXCHANGE` or
//! `RENAME_WHITEOUT` refused with `EINVAL`) map onto the service's calls.
//!
//! **Attributes**: size, times, `nlink` and kind come from the service.
//! Services have no permissions or owners, so files show `0644`
//! (read-only ones `0444`), directories `0755` (`0555`), links `0777`,
//! owned by the mounting user or [`MountOptions::owner`]. `chmod`, `chown`
//! and the mode a file is created with are kept by the mount (so `chmod
//! +x` makes a script executable and git sees the modes it set) for as
//! long as the mount lives; they never reach the service. The kernel does
//! no permission checks of its own (no `default_permissions`): the service
//! decides, and refuses with its errors. `truncate`/`ftruncate` set the
//! length (through the open handle when there is one), `utimes` the times
//! (a service without times accepts them and keeps none); `fsync` flushes
//! the handle. Extended attributes, locks across machines, `fallocate` and
//! devices are not offered (the kernel answers locks locally).
//!
//! **Errors** map one kind to one `errno` (`NotFound` → `ENOENT`,
//! `ReadOnly` → `EROFS`, `PermissionDenied` → `EPERM`, `WouldBlock` →
//! `EAGAIN`, `TimedOut` → `ETIMEDOUT`, `Unsupported` → `ENOTSUP` (`EPERM`
//! from `link`/`symlink`), `Loop` → `ELOOP`, `Io` → `EIO`, and so on).
//!
//! # Caching: correctness first
//!
//! Changes made through the mount are always seen at once by every program
//! on it. What the host changes through the API is seen according to the
//! [`CachePolicy`] of the path: [`Writable`](CachePolicy::Writable) (the
//! default) keeps only names found (which cannot hide a change, see above)
//! — every `stat` asks the service for the attributes, every miss asks
//! again, the data cache is checked against size and modification time at
//! each read and kept across opens only while the file is the version the
//! kernel last saw, which was already settled then — so a host's change is
//! never hidden; [`Cached`](CachePolicy::Cached) allows a delay you choose
//! (names, misses and attributes); [`Immutable`](CachePolicy::Immutable)
//! caches names, misses, attributes, data and listings for long;
//! [`Live`](CachePolicy::Live) caches nothing and reads and writes straight
//! through. [`FuseMount::invalidate`] drops what the kernel holds for a
//! path at once, whatever the policy (a remembered miss too). The kernel's
//! write cache (`writeback_cache`) is never used: every write reaches the
//! service when it is made, so nothing is lost or reordered if the mount
//! goes away. Limit: a file reachable by two paths of the namespace (a
//! bind, a union) is two files to the kernel, so a change through one path
//! is seen at the other as a host's change is.
//!
//! # Performance
//!
//! Data is served from the kernel's page cache wherever the policy allows
//! (sequential reads of cached files run close to tmpfs), requests carry up
//! to 1 MiB (`max_write`, readahead), and cached names, misses and
//! attributes cost no request at all. The work this process does per
//! request is well under a microsecond; what remains is the kernel's round
//! trip to it (about 10 µs on a small virtual machine) that every open,
//! close, write, uncached lookup and uncached `stat` costs. It dominates
//! workloads of many small files: opening and reading one costs two round
//! trips (`open`, `release`), creating one with data and deleting it five
//! or six, a `stat` under [`Writable`](CachePolicy::Writable) one (none under
//! [`Cached`](CachePolicy::Cached), for the delay it allows). One thread
//! takes the requests by default ([`MountOptions::threads`]): the kernel
//! gives each request to the thread that has waited longest, so more
//! threads mostly add wake-ups of cold threads. `readdirplus` is not used:
//! fuser 0.18 gives its entries one time for the name and the attributes,
//! so it could serve only `Cached` and `Immutable` directories, and would
//! cost every other listing a `stat` per entry for nothing.
//!
//! # Lifecycle and limits
//!
//! Dropping a [`FuseMount`] unmounts it lazily (gone from the tree at once)
//! and aborts its connection where the FUSE control file system is mounted.
//! A killed host process leaves a dead mount ("Transport endpoint is not
//! connected"); the next mount on that directory removes it first
//! ([`MountOptions::cleanup_stale`]). Limits: a process killed while it
//! waits in a blocking read of a live file stays until the service answers
//! or its own time limit ends the wait (FUSE interrupts are not handled);
//! a zero-length `write(2)` never reaches the service (the kernel does not
//! send it); pages already mapped with `mmap` are not re-read after a
//! host's change until the file is opened again.
//!
//! # Security boundary
//!
//! The mount gives programs exactly the service: every request becomes a
//! call on a namespace path, which the service checks as it checks a WASI
//! guest's; nothing here opens host paths on a program's behalf. Mounts are
//! `nosuid,nodev`; without [`MountOptions::allow_other`] the kernel lets only
//! the mounting user in. This crate has no `unsafe` code.
//!
//! # Example
//!
//! ```no_run
//! use oanix_fuse::{CachePolicy, FuseMount, MountOptions};
//! use oanix_prims::{MapFs, MemFs};
//! use oanix_vfs::Namespace;
//!
//! let ns = Namespace::builder()
//!     .mount("/data", MapFs::builder().file("/hello.txt", "hello\n").build())
//!     .mount("/tmp", MemFs::new())
//!     .build();
//! let dir = tempfile::tempdir()?;
//! let options = MountOptions::new().policy("/data", CachePolicy::Immutable);
//! let mount = FuseMount::mount(ns, dir.path(), options)?;
//! let text = std::fs::read_to_string(dir.path().join("data/hello.txt"))?;
//! assert_eq!(text, "hello\n");
//! std::fs::write(dir.path().join("tmp/note"), "written through the kernel")?;
//! drop(mount); // unmounted
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![cfg_attr(
    not(target_os = "linux"),
    allow(dead_code, reason = "the options are read by the Linux mount only")
)]

mod error;
mod options;

#[cfg(target_os = "linux")]
mod attr;
#[cfg(target_os = "linux")]
mod errno;
#[cfg(target_os = "linux")]
mod fs;
#[cfg(target_os = "linux")]
mod handles;
#[cfg(target_os = "linux")]
mod inodes;
#[cfg(target_os = "linux")]
mod mount;
#[cfg(target_os = "linux")]
mod pool;
#[cfg(target_os = "linux")]
mod sys;
#[cfg(not(target_os = "linux"))]
mod unsupported;

pub use error::{FuseError, Result};
#[cfg(target_os = "linux")]
pub use mount::FuseMount;
pub use options::{CachePolicy, MountOptions};
#[cfg(not(target_os = "linux"))]
pub use unsupported::FuseMount;
