//! OANIX's standard services: the task, the logs and the workspace.
//!
//! These are what make a namespace an agent environment: the assignment
//! and its result ([`TaskFs`] at `/task`), a complete record of what the
//! agent did ([`LogsFs`] at `/logs`), and the project it works on
//! ([`WorkspaceFs`] or [`WorkspaceOverlay`] at `/workspace`). Each is a
//! [`FileService`](oanix_vfs::FileService): an agent uses them through
//! files, the host through the methods documented here.
//!
//! Each can be snapshotted: [`TaskFs::snapshot`] and [`LogsFs::snapshot`]
//! give plain, serialisable data ([`TaskSnapshot`], [`LogsSnapshot`]) that
//! `from_snapshot` starts a service from again, and
//! [`WorkspaceOverlay::freeze`] an immutable copy of the agent's changes
//! from which [`WorkspaceOverlay::fork_from`] makes forks over the same
//! directory (never copied).
//!
//! # Where it sits
//!
//! Depends on `oanix-vfs` and `oanix-prims`. [`WorkspaceFs`] is the only
//! code in OANIX that touches the host file system on an agent's behalf;
//! the task and logs services are in memory and also compile for
//! WebAssembly in the browser, where the workspace services do not exist.
//!
//! # Example
//!
//! ```
//! use oanix_prims::MemFs;
//! use oanix_services::{LogsFs, TaskFs, TaskMeta, TaskSpec, WorkspaceOverlay};
//! use oanix_vfs::{Namespace, append_file, read_to_string, write_file};
//!
//! let project = std::env::temp_dir().join(format!("oanix-services-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&project).unwrap();
//! std::fs::write(project.join("main.rs"), "fn main() {}\n").unwrap();
//!
//! let spec = TaskSpec {
//!     id: "fix-1".into(),
//!     task_type: "edit".into(),
//!     description: "greet".into(),
//!     input: serde_json::json!({"file": "/workspace/main.rs"}),
//! };
//! let task = TaskFs::new(spec, TaskMeta::default());
//! let logs = LogsFs::new();
//! let workspace = WorkspaceOverlay::new(&project)?;
//! let ns = Namespace::builder()
//!     .mount("/task", task.clone())
//!     .mount("/logs", logs.clone())
//!     .mount("/workspace", workspace.clone())
//!     .mount("/tmp", MemFs::new())
//!     .build();
//!
//! task.set_running().unwrap();
//! // The agent, through files only:
//! assert!(read_to_string(&ns, "/task/spec.json")?.contains("fix-1"));
//! write_file(&ns, "/workspace/main.rs", "fn main() { println!(\"hi\"); }\n")?;
//! append_file(&ns, "/logs/stdout.log", "edited main.rs\n")?;
//! write_file(&ns, "/task/result.json", r#"{"ok": true}"#)?;
//! task.set_completed().unwrap();
//!
//! // The host reviews, then applies the change to the real directory.
//! assert_eq!(task.result().unwrap(), Some(serde_json::json!({"ok": true})));
//! assert!(workspace.diff()?.contains("+fn main() { println!(\"hi\"); }"));
//! workspace.commit().unwrap();
//! assert!(std::fs::read_to_string(project.join("main.rs")).unwrap().contains("hi"));
//! # std::fs::remove_dir_all(&project).unwrap();
//! # Ok::<(), oanix_vfs::FsError>(())
//! ```
//!
//! # TaskFs
//!
//! [`TaskFs`] gives an agent its task, mounted at `/task`: `spec.json` and
//! `meta.json` (read-only), `status` (read-only JSON: state, times, error)
//! and `result.json`, the one file the agent writes. The host drives the
//! lifecycle, `pending → running → completed | failed`, with
//! [`TaskFs::set_running`], [`TaskFs::set_completed`] and
//! [`TaskFs::set_failed`]; any other change is a
//! [`ServiceError::IllegalTransition`]. It waits for the end with
//! [`TaskFs::wait_finished`] (no polling) and reads the answer with
//! [`TaskFs::result`].
//!
//! # LogsFs
//!
//! [`LogsFs`] keeps what an agent prints and logs, mounted at `/logs`:
//! `stdout.log`, `stderr.log` and `events.jsonl`. Every write appends. The
//! events an agent writes are checked line by line, each write all or
//! nothing. Each file is bounded ([`LogsFsBuilder::max_bytes`]): output past
//! the limit is dropped, with one warning event per file, and never fails
//! the agent. The host logs through the API ([`LogsFs::info`],
//! [`LogsFs::log_event`]...) and watches live with [`LogsFs::follow`] and
//! [`LogsFs::follow_events`].
//!
//! # WorkspaceFs
//!
//! [`WorkspaceFs`] serves a real directory, read-write
//! ([`WorkspaceFs::new`]) or read-only ([`WorkspaceFs::readonly`]). Every
//! path is resolved beneath the root and no symbolic link is followed on
//! the host: a lookup that meets one answers
//! [`FsError::Symlink`](oanix_vfs::FsError::Symlink), and the namespace
//! resolves the target in the namespace (an absolute target at the
//! namespace's root), so no link leads out. `..` above the root fails with
//! [`FsError::Escape`](oanix_vfs::FsError::Escape), naming only the virtual
//! path; FIFOs, sockets and devices are refused rather than waited on. The
//! guarantee and its limits are written down in the
//! [`WorkspaceFs` docs](WorkspaceFs#the-guarantee-and-its-limits). The
//! host descriptors agents hold through it are bounded across the whole
//! process by [`host_files`].
//!
//! # WorkspaceOverlay
//!
//! [`WorkspaceOverlay`] gives an agent a private copy-on-write view of a
//! real project and the host a review: [`WorkspaceOverlay::changes`],
//! [`WorkspaceOverlay::diff`], [`WorkspaceOverlay::commit`] (all or
//! nothing: refused with nothing applied if the directory changed where the
//! changes go since the agent read it, rolled back if applying fails) and
//! [`WorkspaceOverlay::discard`]. The agent's view is exactly the project:
//! nothing is added to it. A host that wants the agent to see its own
//! changes mounts [`WorkspaceOverlay::review_fs`] (`changes.json` and
//! `diff`, read-only) outside the workspace.

mod error;
#[cfg(not(target_family = "wasm"))]
pub mod host_files;
mod logs;
#[cfg(not(target_family = "wasm"))]
mod overlay;
mod task;
#[cfg(not(target_family = "wasm"))]
mod workspace;

// Errors of the host-side APIs.
pub use error::{Result, ServiceError};

// Task service exports.
pub use task::{TaskFs, TaskFsBuilder, TaskMeta, TaskSnapshot, TaskSpec, TaskState, TaskStatus};

// Logs service exports.
pub use logs::{
    EventFollower, EventSource, Follower, LogEvent, LogFileSnapshot, LogLevel, LogStream, LogsFs,
    LogsFsBuilder, LogsSnapshot,
};

// Workspace service exports.
#[cfg(not(target_family = "wasm"))]
pub use overlay::{REVIEW_CHANGES_FILE, REVIEW_DIFF_FILE, WorkspaceOverlay};
#[cfg(not(target_family = "wasm"))]
pub use workspace::WorkspaceFs;
