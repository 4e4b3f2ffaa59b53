//! The named checks the suites are made of, and the options they take.

use oanix_vfs::FileService;

use crate::fixture::Fixture;

/// One named check of the contract: a function that panics if the service it
/// is given does not keep some part of it.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// What the check is about, in snake case (`rename_dir_over_file`).
    pub name: &'static str,
    /// Runs the check.
    pub run: fn(&dyn FileService),
}

impl Check {
    pub(crate) const fn new(name: &'static str, run: fn(&dyn FileService)) -> Self {
        Self { name, run }
    }
}

/// One named check of the read-only contract (see [`check_read_only`](crate::check_read_only)).
#[derive(Debug, Clone, Copy)]
pub struct ReadOnlyCheck {
    /// What the check is about, in snake case.
    pub name: &'static str,
    /// Runs the check on a service holding exactly the fixture.
    pub run: fn(&dyn FileService, &Fixture),
}

impl ReadOnlyCheck {
    pub(crate) const fn new(name: &'static str, run: fn(&dyn FileService, &Fixture)) -> Self {
        Self { name, run }
    }
}

/// How a service of fixed names reports the sizes of its files (see
/// [`check_fixed_names`](crate::check_fixed_names)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatSizes {
    /// `stat`, listings and handles report each file's size: what a read
    /// returns at that moment.
    Exact,
    /// The files are streams whose size is unknown until read (computed
    /// files): `stat` and listings report 0.
    Unknown,
}

/// Which links a service keeps (see [`check_links`](crate::check_links)),
/// as its caller declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LinkSupport {
    /// No links: `symlink` and `link` answer `Unsupported`, `readlink` of an
    /// existing path `InvalidInput`, `lstat` is `stat` (the trait's defaults).
    None,
    /// Symbolic links; `link` answers `Unsupported`.
    Symlinks,
    /// Symbolic and hard links.
    SymlinksAndHardLinks,
}

impl LinkSupport {
    /// Whether the service keeps symbolic links.
    pub fn symlinks(self) -> bool {
        self >= Self::Symlinks
    }

    /// Whether the service keeps hard links.
    pub fn hard_links(self) -> bool {
        self == Self::SymlinksAndHardLinks
    }
}
