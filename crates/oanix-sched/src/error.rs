//! `SchedError`, what the scheduler refuses.

use uuid::Uuid;

/// The result type of this crate.
pub type Result<T, E = SchedError> = std::result::Result<T, E>;

/// What the scheduler refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchedError {
    /// A job names an environment that was never registered.
    #[error("unknown environment {0}")]
    UnknownEnv(Uuid),
    /// No job with this id is pending or running.
    #[error("unknown job {0}")]
    UnknownJob(Uuid),
    /// A job with this id was already submitted.
    #[error("job {0} was already submitted")]
    DuplicateJob(Uuid),
    /// The job is running and cannot be changed that way.
    #[error("job {0} is not pending")]
    NotPending(Uuid),
}
