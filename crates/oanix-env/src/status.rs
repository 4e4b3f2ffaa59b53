//! `EnvStatus`: where an environment is in its life.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an environment is in its life: `Created → Running → Completed |
/// Failed`, or `Created → Failed` when it fails before it starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum EnvStatus {
    /// Built, not started.
    Created,
    /// An agent is running in it.
    Running,
    /// The agent finished with this exit code (0 for success).
    Completed {
        /// The agent's exit code.
        exit_code: i32,
    },
    /// The run failed: a trap, a timeout, or an error the host reported.
    Failed {
        /// What went wrong.
        error: String,
    },
}

impl EnvStatus {
    /// Whether the environment has finished (completed or failed).
    pub fn is_finished(&self) -> bool {
        matches!(self, Self::Completed { .. } | Self::Failed { .. })
    }

    /// The short name of the state (`created`, `running`...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Running => "running",
            Self::Completed { .. } => "completed",
            Self::Failed { .. } => "failed",
        }
    }
}

impl fmt::Display for EnvStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Completed { exit_code } => write!(f, "completed (exit code {exit_code})"),
            Self::Failed { error } => write!(f, "failed: {error}"),
            other => f.write_str(other.name()),
        }
    }
}
