//! `Tree`: a whole file tree as seen through a service, for comparing
//! "before" with "after" and a service with the model.

use std::collections::BTreeMap;
use std::fmt;

use oanix_vfs::{FileKind, FileService, read_file, walk};

/// One node of a [`Tree`]: a file with its contents, or a directory.
#[derive(Clone, PartialEq, Eq)]
pub enum Node {
    /// A file and its bytes.
    File(Vec<u8>),
    /// A directory.
    Dir,
}

impl Node {
    /// The kind of the node.
    pub fn kind(&self) -> FileKind {
        match self {
            Self::File(_) => FileKind::File,
            Self::Dir => FileKind::Directory,
        }
    }
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(data) => write!(f, "File(\"{}\")", data.escape_ascii()),
            Self::Dir => f.write_str("Dir"),
        }
    }
}

/// Every path below the root of a service (the root itself left out), in
/// order, with what it holds.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Node>,
}

impl Tree {
    /// An empty tree (only the root).
    pub fn new() -> Self {
        Self::default()
    }

    /// The node at a canonical path.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.entries.get(path)
    }

    /// Adds or replaces a node; `path` must be canonical and not the root.
    pub fn insert(&mut self, path: impl Into<String>, node: Node) {
        let path = path.into();
        assert!(
            path.starts_with('/') && path.len() > 1,
            "not a canonical non-root path: {path:?}"
        );
        self.entries.insert(path, node);
    }

    /// The nodes, in path order (parents before their children).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries.iter().map(|(p, n)| (p.as_str(), n))
    }

    /// The number of nodes below the root.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree holds nothing but the root.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.entries.iter()).finish()
    }
}

/// The whole tree of `fs`, read with [`walk`] and [`read_file`]; panics if
/// the service fails to list or read something it listed.
pub fn tree_of<F: FileService + ?Sized>(fs: &F) -> Tree {
    let mut tree = Tree::new();
    for entry in walk(fs, "/") {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => panic!("walking the tree failed: {e}"),
        };
        let node = match entry.kind {
            FileKind::Directory => Node::Dir,
            _ => match read_file(fs, &entry.path) {
                Ok(data) => Node::File(data),
                Err(e) => panic!("reading {} (listed by readdir) failed: {e}", entry.path),
            },
        };
        tree.entries.insert(entry.path, node);
    }
    tree
}
