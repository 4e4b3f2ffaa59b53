//! `Tree`: a whole file tree as seen through a service, for comparing
//! "before" with "after" and a service with the model.

use std::collections::BTreeMap;
use std::fmt;

use oanix_vfs::{FileKind, FileService, read_file, walk};

/// One node of a [`Tree`]: a file with its contents, or a directory.
/// Symbolic links are kept apart, as [`Tree::links`].
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
/// order, with what it holds: files and directories ([`iter`](Self::iter)),
/// and symbolic links with their targets ([`links`](Self::links)). A path
/// holds one or the other, never both.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Tree {
    entries: BTreeMap<String, Node>,
    links: BTreeMap<String, String>,
}

impl Tree {
    /// An empty tree (only the root).
    pub fn new() -> Self {
        Self::default()
    }

    /// The node at a canonical path (`None` for a link; see [`link`](Self::link)).
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.entries.get(path)
    }

    /// The target of the symbolic link at a canonical path.
    pub fn link(&self, path: &str) -> Option<&str> {
        self.links.get(path).map(String::as_str)
    }

    /// Adds or replaces a node (a link at the same path included); `path`
    /// must be canonical and not the root.
    pub fn insert(&mut self, path: impl Into<String>, node: Node) {
        let path = canonical(path.into());
        self.links.remove(&path);
        self.entries.insert(path, node);
    }

    /// Adds or replaces a symbolic link holding `target` (a node at the same
    /// path included); `path` must be canonical and not the root.
    pub fn insert_link(&mut self, path: impl Into<String>, target: impl Into<String>) {
        let path = canonical(path.into());
        self.entries.remove(&path);
        self.links.insert(path, target.into());
    }

    /// The files and directories, in path order (parents before their
    /// children).
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Node)> {
        self.entries.iter().map(|(p, n)| (p.as_str(), n))
    }

    /// The symbolic links with their targets, in path order.
    pub fn links(&self) -> impl Iterator<Item = (&str, &str)> {
        self.links.iter().map(|(p, t)| (p.as_str(), t.as_str()))
    }

    /// The number of paths below the root, links included.
    pub fn len(&self) -> usize {
        self.entries.len() + self.links.len()
    }

    /// Whether the tree holds nothing but the root.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.links.is_empty()
    }
}

fn canonical(path: String) -> String {
    assert!(
        path.starts_with('/') && path.len() > 1,
        "not a canonical non-root path: {path:?}"
    );
    path
}

/// How a link prints in a [`Tree`]'s `Debug`.
struct Link<'a>(&'a str);

impl fmt::Debug for Link<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Link({:?})", self.0)
    }
}

impl fmt::Debug for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Nodes and links merged in path order.
        let mut map = f.debug_map();
        let mut links = self.links.iter().peekable();
        for (p, node) in &self.entries {
            while let Some((lp, target)) = links.next_if(|(lp, _)| lp.as_str() < p.as_str()) {
                map.entry(lp, &Link(target));
            }
            map.entry(p, node);
        }
        for (lp, target) in links {
            map.entry(lp, &Link(target));
        }
        map.finish()
    }
}

/// The whole tree of `fs`, read with [`walk`] and [`read_file`] (and
/// `readlink` for what lists as a symbolic link, which is never followed);
/// panics if the service fails to list or read something it listed.
pub fn tree_of<F: FileService + ?Sized>(fs: &F) -> Tree {
    let mut tree = Tree::new();
    for entry in walk(fs, "/") {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => panic!("walking the tree failed: {e}"),
        };
        match entry.kind {
            FileKind::Directory => {
                tree.entries.insert(entry.path, Node::Dir);
            }
            FileKind::Symlink => match fs.readlink(&entry.path) {
                Ok(target) => {
                    tree.links.insert(entry.path, target);
                }
                Err(e) => panic!(
                    "readlink({:?}) (listed as a link by readdir) failed: {e}",
                    entry.path
                ),
            },
            _ => match read_file(fs, &entry.path) {
                Ok(data) => {
                    tree.entries.insert(entry.path, Node::File(data));
                }
                Err(e) => panic!("reading {} (listed by readdir) failed: {e}", entry.path),
            },
        }
    }
    tree
}
