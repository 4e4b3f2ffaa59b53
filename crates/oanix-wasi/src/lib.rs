//! The OANIX WASI runtime: WebAssembly programs (`wasm32-wasip1` commands)
//! run inside a namespace, seeing its files live, under hard limits.
//!
//! A guest compiled for WASI preview1 reads and writes files, lists
//! directories, reads its arguments and environment, the clocks and random
//! numbers. Here all of that reaches an OANIX [`Namespace`](oanix_vfs::Namespace): the guest's `/`
//! *is* the namespace, so it reads `/task/spec.json` from a `TaskFs`, writes
//! `/workspace` through whatever is mounted there, and talks to the network
//! only by writing and reading capability files such as `/cap/http/request`.
//! Nothing is copied into a host directory before the run or back after it.
//!
//! # Principal types
//!
//! - [`WasiRuntime`]: one wasmtime engine with the preview1 imports, the
//!   compiled-module caches and the epoch ticker. Create one, share it.
//! - [`RuntimeConfig`]: engine-wide settings (pooling, fuel metering, the
//!   largest memory, the wasm stack limit, a disk cache for compiled code).
//! - [`WasiModule`]: a compiled command, ready to instantiate many times.
//! - [`RunConfig`]: one run's arguments, environment, [`Stdin`], preopens
//!   and limits (timeout, fuel, memory, output sizes).
//! - [`RunResult`]: the exit code, the captured stdout and stderr, the
//!   duration, and the [`Trap`] that stopped the run, if any, with its
//!   [`TrapKind`].
//! - [`WasiError`]: why a module could not be loaded or a run not started.
//!
//! # How a guest's calls reach the namespace
//!
//! Every one of the 46 `wasi_snapshot_preview1` imports is implemented here,
//! written against the interface's documented ABI with wasmtime's
//! `Linker::func_wrap`. (The alternative, generating them with `wiggle`,
//! would need the interface files of another package located at build time;
//! writing the imports directly costs a few hundred lines, keeps the build
//! free of that search, and lets reads and writes move bytes between guest
//! memory and a `FileHandle` without an intermediate copy.)
//!
//! Each run has a descriptor table: 0–2 are the standard streams, then the
//! preopened directories (the namespace root as `/` by default), then what
//! the guest opens. `path_open` resolves the guest's path against a
//! directory descriptor and calls [`FileService::open`](oanix_vfs::FileService::open)
//! on the namespace; the descriptor then holds the `FileHandle`, and
//! `fd_read`/`fd_write`/`fd_pread`/`fd_seek` call it directly, on the calling
//! thread. Errors map to `errno` by kind (`NotFound` → `noent`, `ReadOnly` →
//! `rofs`, `CrossDevice` → `xdev`, `Loop` → `loop`...). Inode and device
//! numbers come from the services' file ids and the namespace's mount
//! devices; `fd_readdir` lists `.` and `..` first and keeps the listing it
//! started for cookie-based continuation.
//!
//! A guest's path never leaves the directory descriptor it is relative to:
//! an absolute path, or a `..` that would climb above the descriptor, is
//! `perm` (as wasmtime-wasi answers). Symbolic links are followed as the
//! call asks (`lookupflags::symlink_follow`, `O_NOFOLLOW`); below the
//! namespace root a link whose target is absolute or climbs above the
//! descriptor is `perm` too, while at the root the namespace keeps every
//! target inside itself.
//!
//! Every descriptor has preview1 rights, base and inheriting. Preopens get
//! every directory right and pass on every right; `path_open` gives what
//! was asked for within what the directory passes on;
//! `fd_fdstat_set_rights` only narrows (`notcapable` for more). Every call
//! checks the rights it needs (`fd_read` needs `fd_read`, `fd_pread` also
//! `fd_seek`, `path_open` with `oflags::creat` needs `path_create_file`...)
//! and answers `notcapable` without them — after checking the kind of
//! descriptor, which gives the errno wasmtime-wasi gives (`badf` for a file
//! call on a directory, `notdir` for a directory call on anything else).
//! `tests/it/compare.rs` runs a Rust and a C program of several hundred
//! calls under OANIX and under wasmtime-wasi and lists every errno where
//! the two differ, with the reason.
//!
//! There are no sockets (`sock_*` answer `notsock` on any open descriptor:
//! the network is reached through capability files), and the standard
//! streams are captured, not terminals (file type `unknown`). `poll_oneoff` handles clock
//! subscriptions and descriptor readiness (files are always ready, stdin
//! reports what it holds). stdout and stderr are captured up to a limit and,
//! when a LogsFs is mounted at `/logs`, appended live to `/logs/stdout.log`
//! and `/logs/stderr.log`. Nothing from the host leaks in: the guest sees
//! only the arguments and environment in its [`RunConfig`].
//!
//! # Limits
//!
//! Guests are untrusted. Each run has a fresh store with:
//!
//! - a **wall-clock timeout**: a ticker thread advances the engine's epoch
//!   while runs are in progress and each store checks its deadline at every
//!   tick; the guest's file calls run inside
//!   [`deadline::scoped`](oanix_vfs::deadline::scoped), so a blocking read
//!   of a capability response ends when the run's time does, and the run
//!   then stops with [`TrapKind::Timeout`];
//! - an optional **stop flag** ([`RunConfig::stop_flag`]): another thread
//!   sets it and the guest is interrupted at the next tick
//!   ([`TrapKind::Cancelled`]; a host call it is blocked in is not cut
//!   short by it);
//! - optional **fuel** ([`TrapKind::OutOfFuel`]);
//! - **memory and table limits** through a resource limiter: growth past
//!   them fails, and the trap that follows is [`TrapKind::MemoryLimit`];
//! - the **wasm stack limit** ([`TrapKind::StackOverflow`]); the host
//!   process is never at risk;
//! - bounded stdout/stderr;
//! - at most [`RunConfig::max_descriptors`] open descriptors (default
//!   1,024; one more open is `mfile`), and real host descriptors bounded
//!   across every guest of the process by the workspace's budget (`nfile`,
//!   never a failure of the host's own opens);
//! - at most [`RunConfig::max_io_bytes`] moved by one read or write call
//!   (default 16 MiB, a short read or write past it): a list of buffers,
//!   even buffers that all point at the same guest memory, never makes the
//!   host allocate more than that;
//! - every error a guest's call causes reaches the guest, a failed final
//!   flush at `fd_close` included.
//!
//! # Speed
//!
//! One engine compiles each module once (cached by SHA-256 in memory, and on
//! disk with `Module::serialize` if [`RuntimeConfig::cache_dir`] is set);
//! runs instantiate a pre-linked `InstancePre` from the pooling allocator,
//! whose slots keep the pages a guest touched resident and reset them in
//! place (where Linux reports touched pages), so the next run takes no page
//! faults for them. File calls run on the calling thread, with no hop to a
//! thread pool. A run's cost does not depend on how many files the namespace
//! holds: a short run takes about 12 µs, under 0.4× wasmtime-wasi's with
//! preopened tmpfs directories (`docs/PERFORMANCE.md`).
//!
//! # Threat model
//!
//! The guest controls every byte of its memory and every argument of its
//! calls: each pointer and length is bounds-checked (a bad one is `fault`),
//! no guest value reaches an `unwrap`, and only the namespace it was given
//! is reachable. The host, the namespace's services and the disk cache
//! directory are trusted.
//!
//! # Example
//!
//! ```
//! use oanix_vfs::Namespace;
//! use oanix_wasi::{RunConfig, WasiRuntime};
//!
//! // A command that writes "hi" to stdout with `fd_write`.
//! let wasm = wat::parse_str(r#"(module
//!     (import "wasi_snapshot_preview1" "fd_write"
//!         (func $fd_write (param i32 i32 i32 i32) (result i32)))
//!     (memory (export "memory") 1)
//!     (data (i32.const 8) "hi\n")
//!     (func (export "_start")
//!         (i32.store (i32.const 0) (i32.const 8))
//!         (i32.store (i32.const 4) (i32.const 3))
//!         (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))))
//! "#)?;
//!
//! let runtime = WasiRuntime::new()?;
//! let ns = Namespace::builder().build();
//! let result = runtime.run_bytes(&wasm, &ns, &RunConfig::new())?;
//! assert_eq!(result.exit_code, Some(0));
//! assert_eq!(result.stdout, b"hi\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
mod config;
mod error;
mod host;
mod limits;
mod runtime;
mod ticker;

pub use config::{
    DEFAULT_MAX_DESCRIPTORS, DEFAULT_MAX_IO_BYTES, RunConfig, RunResult, Stdin, Trap, TrapKind,
};
pub use error::{Result, WasiError};
pub use runtime::{RuntimeConfig, WasiModule, WasiRuntime};
