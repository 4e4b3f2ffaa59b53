//! OANIX: an agent operating environment inspired by Plan 9.
//!
//! An agent runs inside a per-agent **namespace** in which everything is a
//! file: its task, its workspace, its logs, scratch space, and the
//! capabilities it was given. It can only touch what was mounted for it.
//!
//! This crate is the facade: it holds no logic and re-exports the OANIX
//! crates, the main types at its root so that `use oanix::*;` is enough, and
//! each crate under a short module name:
//!
//! | module | crate | what it holds |
//! |---|---|---|
//! | [`vfs`] | `oanix-vfs` | `FileService`, paths, `FsError`, `Namespace` |
//! | [`prims`] | `oanix-prims` | `MemFs`, `MapFs`, `FuncFs`, `CowFs` |
//! | `caps` | `oanix-caps` | `HttpFs`, `WsFs`, `NostrFs`, `EgressPolicy` (features `caps`, `nostr`) |
//! | `executor` | `oanix-exec` | `ExecutorManager`, `ExecutorConfig`, `RetryPolicy`, the HTTP, WebSocket and Nostr relay executors (feature `executor`) |
//! | `env` | `oanix-env` | `OanixEnv`, `EnvBuilder`, `EnvStatus`, manifests (feature `env`) |
//! | `sched` | `oanix-sched` | `Scheduler`, `JobSpec`, `JobKind` (feature `sched`) |
//! | `fuse` | `oanix-fuse` | `FuseMount`, `MountOptions`, `CachePolicy` (feature `fuse`, Linux) |
//! | `sandbox` | `oanix-sandbox` | `Sandbox`, `Command`, `Limits`, `Exit` (feature `sandbox`, Linux) |
//! | `proxy` | `oanix-proxy` | `Proxy`, `ProxyConfig`, `ProxyHandle` (feature `proxy`) |
//! | `native` | `oanix-native` | `NativeRun`, `NativeOutcome` (feature `native`, Linux) |
//! | `mcp` | `oanix-mcp` | `McpServer`, `McpConfig`, `serve_stdio`, `serve_http` (feature `mcp`) |
//! | `nats` | `oanix-nats` | `Queues`, `NatsJob` (feature `nats`; `nats::Worker`, `nats::JobResult`) |
//! | `services` | `oanix-services` | `TaskFs`, `LogsFs`, `WorkspaceFs`, `WorkspaceOverlay` (feature `services`) |
//! | `store` | `oanix-store` | `Store`, `SnapshotContent`, `StoredSnapshot` (feature `store`) |
//!
//! # Feature flags
//!
//! `default = []`: the core ([`vfs`]) and the primitive file systems
//! ([`prims`]) are always present; they have no heavy dependencies and
//! compile for the browser. Optional crates arrive behind one feature each;
//! `full` turns them all on.
//!
//! - `full`: every optional part.
//! - `caps`: network capabilities as files, `HttpFs` and `WsFs`, behind an
//!   `EgressPolicy` (module `caps`, crate `oanix-caps`).
//! - `nostr`: `NostrFs` as well (implies `caps`; builds the secp256k1 C
//!   library).
//! - `executor`: the executors that make the capabilities live — real
//!   HTTP, WebSocket and Nostr relay I/O behind the files, with the SSRF
//!   guard — and the `ExecutorManager` that runs them (module `executor`,
//!   crate `oanix-exec`; implies `nostr`; builds tokio, hyper and rustls).
//! - `services`: the standard services of an agent environment
//!   (module `services`, crate `oanix-services`).
//! - `wasi`: the WASI runtime, `WasiRuntime`, which runs `wasm32-wasip1`
//!   programs over a namespace with hard limits (module `wasi`, crate
//!   `oanix-wasi`; builds wasmtime).
//! - `env`: environments — `OanixEnv`, `EnvBuilder`, manifests, the
//!   lifecycle and its wiring (module `env`, crate `oanix-env`; implies
//!   `services`, `caps` and `wasi`).
//! - `sched`: the `Scheduler` of prioritised jobs in environments (module
//!   `sched`, crate `oanix-sched`; implies `env`).
//! - `fuse`: a namespace served through the kernel with FUSE (module `fuse`,
//!   crate `oanix-fuse`).
//! - `sandbox`: a native process tree confined in Linux namespaces (module
//!   `sandbox`, crate `oanix-sandbox`).
//! - `proxy`: the egress proxy that gives native programs HTTP and HTTPS
//!   under an `HttpFs`'s policy (module `proxy`, crate `oanix-proxy`;
//!   implies `executor`).
//! - `native`: native agents — an environment's command run in a sandbox
//!   whose root is its namespace, and native jobs in the scheduler (module
//!   `native`, crate `oanix-native`; implies `env`, `fuse`, `sandbox` and `proxy`).
//! - `mcp`: an environment served over the Model Context Protocol, its
//!   namespace as tools and resources for MCP clients (module `mcp`, crate
//!   `oanix-mcp`; implies `env` and `executor`).
//! - `nats`: jobs across machines on NATS JetStream — workers, batches,
//!   results written once per job (module `nats`, crate `oanix-nats`;
//!   implies `env`).
//! - `nats-otel`: `nats` with the trace context carried in job messages,
//!   for OpenTelemetry traces across workers (`oanix-nats/otel`).
//!
//! # Example
//!
//! ```
//! use oanix::*;
//!
//! let fixture = MapFs::builder()
//!     .file("/src/main.rs", b"fn main() {}\n")
//!     .build();
//! let ns = Namespace::builder()
//!     .mount("/workspace", CowFs::new(fixture))
//!     .mount("/tmp", MemFs::new())
//!     .build();
//!
//! // An agent edits its workspace...
//! write_file(&ns, "/workspace/src/main.rs", "fn main() { println!(\"hi\"); }\n")?;
//! // ...and the host reads what it did.
//! let (workspace, inner) = ns.resolve("/workspace/src/main.rs").unwrap();
//! assert!(read_to_string(workspace, &inner)?.contains("hi"));
//! print!("{}", ns.mount_table());
//! # Ok::<(), FsError>(())
//! ```

#[cfg(feature = "caps")]
#[cfg_attr(docsrs, doc(cfg(feature = "caps")))]
pub use oanix_caps as caps;
#[cfg(feature = "env")]
#[cfg_attr(docsrs, doc(cfg(feature = "env")))]
pub use oanix_env as env;
#[cfg(feature = "executor")]
#[cfg_attr(docsrs, doc(cfg(feature = "executor")))]
pub use oanix_exec as executor;
#[cfg(feature = "fuse")]
#[cfg_attr(docsrs, doc(cfg(feature = "fuse")))]
pub use oanix_fuse as fuse;
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub use oanix_mcp as mcp;
#[cfg(feature = "native")]
#[cfg_attr(docsrs, doc(cfg(feature = "native")))]
pub use oanix_native as native;
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub use oanix_nats as nats;
pub use oanix_prims as prims;
#[cfg(feature = "proxy")]
#[cfg_attr(docsrs, doc(cfg(feature = "proxy")))]
pub use oanix_proxy as proxy;
#[cfg(feature = "sandbox")]
#[cfg_attr(docsrs, doc(cfg(feature = "sandbox")))]
pub use oanix_sandbox as sandbox;
#[cfg(feature = "sched")]
#[cfg_attr(docsrs, doc(cfg(feature = "sched")))]
pub use oanix_sched as sched;
#[cfg(feature = "services")]
#[cfg_attr(docsrs, doc(cfg(feature = "services")))]
pub use oanix_services as services;
#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
pub use oanix_store as store;
pub use oanix_vfs as vfs;
#[cfg(feature = "wasi")]
#[cfg_attr(docsrs, doc(cfg(feature = "wasi")))]
pub use oanix_wasi as wasi;
#[cfg(feature = "wasi")]
#[cfg_attr(docsrs, doc(cfg(feature = "wasi")))]
pub use oanix_wasi::{RunConfig, RunResult, WasiRuntime};

#[cfg(feature = "caps")]
#[cfg_attr(docsrs, doc(cfg(feature = "caps")))]
pub use oanix_caps::{
    CapError, CapRecord, EgressPolicy, EgressPolicyBuilder, HttpFs, HttpMethod, HttpPolicy,
    HttpReply, HttpRequest, HttpResponse, RecordAction, WsFs, now,
};
#[cfg(feature = "nostr")]
#[cfg_attr(docsrs, doc(cfg(feature = "nostr")))]
pub use oanix_caps::{Filter, NostrFs};
#[cfg(feature = "env")]
#[cfg_attr(docsrs, doc(cfg(feature = "env")))]
pub use oanix_env::{
    AgentSpec, EnvBuilder, EnvCapability, EnvError, EnvLimits, EnvPlan, EnvSnapshot, EnvStatus,
    ForkOptions, Mount, OanixEnv, SandboxSpec, WorkspaceReview,
};
#[cfg(feature = "mcp")]
#[cfg_attr(docsrs, doc(cfg(feature = "mcp")))]
pub use oanix_mcp::{McpConfig, McpServer, serve_http, serve_stdio};
#[cfg(feature = "native")]
#[cfg_attr(docsrs, doc(cfg(feature = "native")))]
pub use oanix_native::{NativeOutcome, NativeRun};
#[cfg(feature = "nats")]
#[cfg_attr(docsrs, doc(cfg(feature = "nats")))]
pub use oanix_nats::{NatsJob, Queues};
#[cfg(feature = "sched")]
#[cfg_attr(docsrs, doc(cfg(feature = "sched")))]
pub use oanix_sched::{
    JobKind, JobOutcome, JobResult, JobRunner, JobSpec, Scheduler, SchedulerStatus,
};
#[cfg(feature = "services")]
#[cfg_attr(docsrs, doc(cfg(feature = "services")))]
pub use oanix_services::{
    LogEvent, LogLevel, LogStream, LogsFs, ServiceError, TaskFs, TaskMeta, TaskSpec, TaskState,
    TaskStatus, WorkspaceFs, WorkspaceOverlay,
};
#[cfg(feature = "store")]
#[cfg_attr(docsrs, doc(cfg(feature = "store")))]
pub use oanix_store::{SnapshotContent, Store, StoreError, StoredSnapshot};

pub use oanix_prims::{
    Change, ChangeKind, CowFs, EntryInfo, FuncFs, FuncFsBuilder, MapFs, MapFsBuilder, MemFs,
    MemLimits,
};
pub use oanix_vfs::{
    BindMode, DirEntry, DirHandle, FileHandle, FileKind, FileService, FsError, FsErrorKind,
    Metadata, MountFlags, MountSpec, Namespace, NamespaceBuilder, OpenFlags, Result, Timestamp,
    WalkEntry, append_file, create_dir_all, exists, read_file, read_to_end, read_to_string,
    remove_all, walk, write_all, write_file,
};
