//! OANIX's standard services: the task, the logs and the workspace.
//!
//! (Crate documentation is completed as the services land.)

mod logs;
mod task;
mod workspace;

// Task service exports.

// Logs service exports.

// Workspace service exports.
pub use workspace::WorkspaceFs;
