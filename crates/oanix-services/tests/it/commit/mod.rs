//! Committing a `WorkspaceOverlay` into its real directory: all or nothing,
//! with conflicts found against what the overlay read — one test per bug
//! found, a property test with host changes, failure injection, and a race.

mod bugs;
mod faults;
mod props;
mod race;
mod scripted;
mod tree;
