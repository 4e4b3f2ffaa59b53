//! Frozen trees: immutable copies of a [`MemFs`](crate::MemFs) at one point
//! in time, from which new file systems start.
//!
//! A [`FrozenTree`] shares every file's bytes with the file system it was
//! taken from (and with every file system started from it): freezing copies
//! the tree's shape and metadata, never the bytes; the first change to a
//! file after a freeze copies that file's bytes once, in the writer. A
//! frozen tree is `Send + Sync` and cheap to clone (one reference count).

mod build;
mod encode;
mod error;

pub use build::FrozenTreeBuilder;
pub use error::{DecodeError, FORMAT_VERSION};

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use compact_str::CompactString;
use oanix_vfs::{FileKind, Metadata, Timestamp};

/// An immutable copy of a [`MemFs`](crate::MemFs) tree, taken by
/// [`MemFs::freeze`](crate::MemFs::freeze) and started from by
/// [`MemFs::from_frozen`](crate::MemFs::from_frozen).
///
/// Equality compares what a reader could see: the same paths, kinds,
/// bytes, link targets and modification times (identifiers are not
/// compared: a tree built again elsewhere is equal to its original).
#[derive(Clone)]
pub struct FrozenTree {
    pub(crate) root: Arc<FrozenDir>,
    pub(crate) entries: u64,
    pub(crate) bytes: u64,
    /// The size of its largest file.
    pub(crate) largest: u64,
}

pub(crate) struct FrozenDir {
    pub(crate) id: u64,
    pub(crate) created: Timestamp,
    pub(crate) modified: Timestamp,
    pub(crate) children: BTreeMap<CompactString, FrozenNode>,
}

#[derive(Clone)]
pub(crate) enum FrozenNode {
    Dir(Arc<FrozenDir>),
    File(Arc<FrozenFile>),
    Symlink(Arc<FrozenLink>),
}

/// A file's bytes and times at the freeze. Two names of one file (hard
/// links) hold the same `Arc`.
pub(crate) struct FrozenFile {
    pub(crate) id: u64,
    pub(crate) created: Timestamp,
    pub(crate) modified: Timestamp,
    pub(crate) accessed: Timestamp,
    pub(crate) data: Arc<Vec<u8>>,
}

pub(crate) struct FrozenLink {
    pub(crate) id: u64,
    pub(crate) created: Timestamp,
    pub(crate) target: String,
}

/// One entry of a [`FrozenTree`], as [`FrozenTree::entries_iter`] lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrozenEntry<'a> {
    /// A directory.
    Dir,
    /// A file and its bytes.
    File(&'a [u8]),
    /// A symbolic link and its target.
    Symlink(&'a str),
}

/// One entry of a [`FrozenTree`] as [`FrozenTree::items`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FrozenItem<'a> {
    /// Its canonical path.
    pub path: String,
    /// Its metadata (id, size, times).
    pub metadata: Metadata,
    /// What it is and holds.
    pub entry: FrozenEntry<'a>,
    /// For a further name of a file: the index of the item naming it first.
    pub same_as: Option<usize>,
}

impl FrozenEntry<'_> {
    /// The kind of the entry.
    pub fn kind(&self) -> FileKind {
        match self {
            Self::Dir => FileKind::Directory,
            Self::File(_) => FileKind::File,
            Self::Symlink(_) => FileKind::Symlink,
        }
    }
}

impl FrozenTree {
    /// An empty tree: a root directory and nothing in it.
    pub fn empty() -> Self {
        Self {
            root: Arc::new(FrozenDir {
                id: 1,
                created: Timestamp::now(),
                modified: Timestamp::now(),
                children: BTreeMap::new(),
            }),
            entries: 0,
            bytes: 0,
            largest: 0,
        }
    }

    /// How many files, directories and links it holds (the root not
    /// counted; a file with two names counts twice).
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// Whether it holds nothing but the root.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The bytes its files hold (a file with two names counted once).
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Every entry below the root with its path and metadata, depth first:
    /// each directory just before what it holds, names in byte order.
    pub fn entries_iter(&self) -> Vec<(String, Metadata, FrozenEntry<'_>)> {
        self.nodes()
            .into_iter()
            .map(|(p, node)| match node {
                FrozenNode::Dir(d) => (p, d.metadata(), FrozenEntry::Dir),
                FrozenNode::File(f) => (p, f.metadata(), FrozenEntry::File(f.data.as_slice())),
                FrozenNode::Symlink(l) => {
                    (p, l.metadata(), FrozenEntry::Symlink(l.target.as_str()))
                }
            })
            .collect()
    }

    /// Every entry below the root, as [`entries_iter`](Self::entries_iter)
    /// lists them, and for each further name of a file (a hard link) the
    /// index of the item that named it first: what a
    /// [`FrozenTreeBuilder`] takes to build the tree again.
    pub fn items(&self) -> Vec<FrozenItem<'_>> {
        let mut first: HashMap<*const FrozenFile, usize> = HashMap::new();
        self.nodes()
            .into_iter()
            .enumerate()
            .map(|(index, (path, node))| match node {
                FrozenNode::Dir(d) => FrozenItem {
                    path,
                    metadata: d.metadata(),
                    entry: FrozenEntry::Dir,
                    same_as: None,
                },
                FrozenNode::File(f) => FrozenItem {
                    path,
                    metadata: f.metadata(),
                    entry: FrozenEntry::File(f.data.as_slice()),
                    same_as: match first.entry(Arc::as_ptr(f)) {
                        std::collections::hash_map::Entry::Occupied(o) => Some(*o.get()),
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(index);
                            None
                        }
                    },
                },
                FrozenNode::Symlink(l) => FrozenItem {
                    path,
                    metadata: l.metadata(),
                    entry: FrozenEntry::Symlink(l.target.as_str()),
                    same_as: None,
                },
            })
            .collect()
    }

    /// Every node below the root with its path, in the order of
    /// [`entries_iter`](Self::entries_iter).
    pub(crate) fn nodes(&self) -> Vec<(String, &FrozenNode)> {
        fn visit<'a>(base: &str, dir: &'a FrozenDir, out: &mut Vec<(String, &'a FrozenNode)>) {
            for (name, node) in &dir.children {
                let p = format!("{base}/{name}");
                if let FrozenNode::Dir(d) = node {
                    out.push((p.clone(), node));
                    visit(&p, d, out);
                } else {
                    out.push((p, node));
                }
            }
        }
        let mut out = Vec::with_capacity(usize::try_from(self.entries).unwrap_or(0));
        visit("", &self.root, &mut out);
        out
    }
}

impl FrozenDir {
    pub(crate) fn metadata(&self) -> Metadata {
        Metadata::directory(self.id).with_times(self.created, self.modified, self.modified)
    }
}

impl FrozenFile {
    pub(crate) fn metadata(&self) -> Metadata {
        Metadata::file(self.id, self.data.len() as u64).with_times(
            self.created,
            self.modified,
            self.accessed,
        )
    }
}

impl FrozenLink {
    pub(crate) fn metadata(&self) -> Metadata {
        Metadata::symlink(self.id, self.target.len() as u64).with_times(
            self.created,
            self.created,
            self.created,
        )
    }
}

impl PartialEq for FrozenTree {
    fn eq(&self, other: &Self) -> bool {
        if Arc::ptr_eq(&self.root, &other.root) {
            return true;
        }
        if (self.entries, self.bytes) != (other.entries, other.bytes) {
            return false;
        }
        let (a, b) = (self.entries_iter(), other.entries_iter());
        a.len() == b.len()
            && a.iter().zip(&b).all(|((pa, ma, ea), (pb, mb, eb))| {
                pa == pb && ea == eb && (ea.kind().is_dir() || ma.modified == mb.modified)
            })
    }
}

impl Eq for FrozenTree {}

impl std::fmt::Debug for FrozenTree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrozenTree")
            .field("entries", &self.entries)
            .field("bytes", &self.bytes)
            .finish()
    }
}
