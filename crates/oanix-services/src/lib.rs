//! OANIX's standard services: the task, the logs and the workspace.
//!
//! (Crate documentation is completed as the services land.)
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

mod error;
mod logs;
mod overlay;
mod task;
mod workspace;

// Errors of the host-side APIs.
pub use error::{Result, ServiceError};

// Task service exports.
pub use task::{TaskFs, TaskFsBuilder, TaskMeta, TaskSpec, TaskState, TaskStatus};

// Logs service exports.
pub use logs::{
    EventFollower, EventSource, Follower, LogEvent, LogLevel, LogStream, LogsFs, LogsFsBuilder,
};

// Workspace service exports.
pub use overlay::{CHANGES_FILE, DIFF_FILE, WorkspaceOverlay};
pub use workspace::WorkspaceFs;
