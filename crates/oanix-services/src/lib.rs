//! OANIX's standard services: the task, the logs and the workspace.
//!
//! (Crate documentation is completed as the services land.)

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
