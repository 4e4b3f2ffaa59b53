//! Synthetic directories: the directories above and between mount points.
//!
//! With mounts at `/cap/http` and `/cap/ws`, the root and `/cap` exist even
//! when no service provides them; each lists the names below it that lead to
//! mount points. The root exists even with nothing mounted.

use std::collections::{BTreeSet, HashMap};

use crate::path;
use crate::types::Metadata;

/// Every synthetic directory of a namespace, with the names below it that
/// lead to mount points.
#[derive(Clone, Debug, Default)]
pub(super) struct SyntheticDirs {
    /// Directory → the names of its children on the way to a mount point.
    dirs: HashMap<String, BTreeSet<String>>,
}

impl SyntheticDirs {
    /// The synthetic directories of a namespace with these mount points.
    pub(super) fn of_mounts<'a>(mount_points: impl IntoIterator<Item = &'a str>) -> Self {
        let mut dirs: HashMap<String, BTreeSet<String>> = HashMap::new();
        // The root exists even in a namespace with nothing mounted.
        dirs.insert("/".to_owned(), BTreeSet::new());
        for mount_point in mount_points {
            let mut child = mount_point;
            while let Some((parent, name)) = path::split(child) {
                dirs.entry(parent.to_owned())
                    .or_default()
                    .insert(name.to_owned());
                child = parent;
            }
        }
        Self { dirs }
    }

    /// Whether `path` (canonical) is a synthetic directory.
    pub(super) fn contains(&self, path: &str) -> bool {
        self.dirs.contains_key(path)
    }

    /// The names listed in the synthetic directory `path`, if it is one.
    pub(super) fn names(&self, path: &str) -> Option<&BTreeSet<String>> {
        self.dirs.get(path)
    }
}

/// The metadata of the synthetic directory `path`: a read-only directory.
pub(super) fn metadata(path: &str) -> Metadata {
    Metadata::directory(id(path)).with_readonly(true)
}

/// The id of a synthetic directory: a hash of its path, with the top bit set
/// so that it cannot meet the small counters most services use.
pub(super) fn id(path: &str) -> u64 {
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | (1 << 63)
}
