//! `WorkspaceReview`: the host's side of a copy-on-write workspace — what
//! the agent changed, and whether it is applied or thrown away.

use std::sync::Arc;

use oanix_prims::{Change, CommitError, CommitReport, CowFs};
use oanix_services::WorkspaceOverlay;

/// The review side of a copy-on-write workspace: what the host reads and
/// decides after the agent ran. The agent never sees it: its `/workspace`
/// shows the project and nothing else.
///
/// Implemented for [`WorkspaceOverlay`] (commits into its directory), for
/// [`CowFs`] (commits into its base) and for `Arc`s of implementations; a
/// host's own overlay implements it to be reviewed the same way (by the
/// `oanix run` report, for instance). An environment knows its workspace
/// through its mount: a `WorkspaceOverlay` declares itself, anything else
/// is declared with [`Mount::workspace`](crate::Mount::workspace).
pub trait WorkspaceReview: Send + Sync {
    /// What the agent changed, sorted by path.
    fn changes(&self) -> oanix_vfs::Result<Vec<Change>>;

    /// The changes as a unified diff of text files.
    fn diff(&self) -> oanix_vfs::Result<String>;

    /// Applies the changes where they belong, all or nothing; afterwards
    /// the workspace shows what it showed, with nothing left to review.
    #[allow(
        clippy::result_large_err,
        reason = "the commit's own error, returned once per commit"
    )]
    fn commit(&self) -> Result<CommitReport, CommitError>;

    /// Throws the changes away.
    fn discard(&self);
}

impl WorkspaceReview for WorkspaceOverlay {
    fn changes(&self) -> oanix_vfs::Result<Vec<Change>> {
        WorkspaceOverlay::changes(self)
    }

    fn diff(&self) -> oanix_vfs::Result<String> {
        WorkspaceOverlay::diff(self)
    }

    /// Commits into the directory the overlay reads (see
    /// [`WorkspaceOverlay::commit`]).
    fn commit(&self) -> Result<CommitReport, CommitError> {
        WorkspaceOverlay::commit(self)
    }

    fn discard(&self) {
        WorkspaceOverlay::discard(self);
    }
}

impl WorkspaceReview for CowFs {
    fn changes(&self) -> oanix_vfs::Result<Vec<Change>> {
        CowFs::changes(self)
    }

    fn diff(&self) -> oanix_vfs::Result<String> {
        CowFs::diff(self)
    }

    /// Commits into the overlay's base (with the checks of
    /// [`CowFs::commit`]), then empties the overlay, since the base now
    /// shows what it showed. A base that cannot be written (a `MapFs`, a
    /// read-only directory) refuses, and nothing is applied; an overlay
    /// whose changes belong elsewhere is reviewed through a type of the
    /// host's own that commits there.
    fn commit(&self) -> Result<CommitReport, CommitError> {
        let report = CowFs::commit(self, self.base().as_ref())?;
        CowFs::discard(self);
        Ok(report)
    }

    fn discard(&self) {
        CowFs::discard(self);
    }
}

impl<T: WorkspaceReview + ?Sized> WorkspaceReview for Arc<T> {
    fn changes(&self) -> oanix_vfs::Result<Vec<Change>> {
        (**self).changes()
    }

    fn diff(&self) -> oanix_vfs::Result<String> {
        (**self).diff()
    }

    fn commit(&self) -> Result<CommitReport, CommitError> {
        (**self).commit()
    }

    fn discard(&self) {
        (**self).discard();
    }
}
