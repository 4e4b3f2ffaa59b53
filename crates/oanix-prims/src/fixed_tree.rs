//! `FixedTree`: a tree of paths fixed when it is built — the shared shape of
//! `MapFs` and `FuncFs` (one value per file, precomputed sorted listings).

use std::collections::{BTreeMap, HashMap};

use oanix_vfs::path;
use oanix_vfs::{DirEntry, FileKind, FsError, Result};

/// A node of a [`FixedTree`].
pub(crate) enum FixedNode<T> {
    /// A file and its value.
    File { id: u64, value: T },
    /// A directory and its listing, sorted by name.
    Dir { id: u64, entries: Vec<DirEntry> },
}

/// Paths fixed at build time; lookups are one hash probe.
pub(crate) struct FixedTree<T> {
    nodes: HashMap<String, FixedNode<T>>,
}

impl<T> FixedTree<T> {
    /// A tree with only its root.
    pub(crate) fn empty() -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            "/".to_owned(),
            FixedNode::Dir {
                id: 1,
                entries: Vec::new(),
            },
        );
        Self { nodes }
    }

    /// How many paths it holds (the root included).
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Finds a canonical path, with the contract's errors: `NotADirectory`
    /// when an ancestor is a file, `NotFound` otherwise.
    pub(crate) fn lookup(&self, p: &str) -> Result<&FixedNode<T>> {
        if let Some(node) = self.nodes.get(p) {
            return Ok(node);
        }
        let mut cur = p;
        while let Some(parent) = path::parent(cur) {
            if let Some(FixedNode::File { .. }) = self.nodes.get(parent) {
                return Err(FsError::not_a_directory(p));
            }
            cur = parent;
        }
        Err(FsError::not_found(p))
    }
}

/// Collects the files and directories of a [`FixedTree`].
pub(crate) struct FixedTreeBuilder<T> {
    files: BTreeMap<String, T>,
    dirs: Vec<String>,
    errors: Vec<FsError>,
}

impl<T> Default for FixedTreeBuilder<T> {
    fn default() -> Self {
        Self {
            files: BTreeMap::new(),
            dirs: Vec::new(),
            errors: Vec::new(),
        }
    }
}

impl<T> FixedTreeBuilder<T> {
    /// Adds a file; a later one at the same path replaces it.
    pub(crate) fn file(&mut self, path: &str, value: T) {
        match path::normalize(path) {
            Ok(p) if p == "/" => self.errors.push(FsError::is_a_directory("/")),
            Ok(p) => {
                self.files.insert(p.into_owned(), value);
            }
            Err(e) => self.errors.push(e),
        }
    }

    /// Adds a directory (parents of files are implied).
    pub(crate) fn dir(&mut self, path: &str) {
        match path::normalize(path) {
            Ok(p) => self.dirs.push(p.into_owned()),
            Err(e) => self.errors.push(e),
        }
    }

    /// The file paths added so far, in order.
    pub(crate) fn file_paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The directory paths added so far.
    pub(crate) fn dir_paths(&self) -> impl Iterator<Item = &str> {
        self.dirs.iter().map(String::as_str)
    }

    /// Builds the tree (`size` gives a file's size for listings), or names
    /// the first invalid entry: a malformed path, or one that is both a file
    /// and a directory.
    pub(crate) fn try_build(self, size: impl Fn(&T) -> u64) -> Result<FixedTree<T>> {
        if let Some(e) = self.errors.into_iter().next() {
            return Err(e);
        }
        // Every directory named, every parent of a file, and all their
        // ancestors.
        let mut dirs: BTreeMap<String, Vec<DirEntry>> = BTreeMap::new();
        let named = self.dirs.iter().map(String::as_str).chain(["/"]);
        let parents = self.files.keys().filter_map(|f| path::parent(f));
        for d in named.chain(parents) {
            let mut cur = d;
            loop {
                if dirs.contains_key(cur) {
                    break;
                }
                dirs.insert(cur.to_owned(), Vec::new());
                match path::parent(cur) {
                    Some(parent) => cur = parent,
                    None => break,
                }
            }
        }
        if let Some(clash) = self.files.keys().find(|f| dirs.contains_key(*f)) {
            return Err(FsError::invalid_input(
                clash.clone(),
                "given both as a file and as a directory",
            ));
        }
        let dir_ids: HashMap<String, u64> = dirs.keys().cloned().zip(1u64..).collect();
        let first_file_id = dirs.len() as u64 + 1;
        let mut nodes = HashMap::with_capacity(dirs.len() + self.files.len());
        for (id, (p, value)) in (first_file_id..).zip(self.files) {
            if let Some((parent, name)) = path::split(&p)
                && let Some(list) = dirs.get_mut(parent)
            {
                list.push(DirEntry::new(name, FileKind::File, size(&value), id));
            }
            nodes.insert(p, FixedNode::File { id, value });
        }
        for (d, id) in &dir_ids {
            if let Some((parent, name)) = path::split(d)
                && let Some(list) = dirs.get_mut(parent)
            {
                list.push(DirEntry::new(name, FileKind::Directory, 0, *id));
            }
        }
        for (d, mut entries) in dirs {
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            let id = dir_ids.get(&d).copied().unwrap_or(0);
            nodes.insert(d, FixedNode::Dir { id, entries });
        }
        Ok(FixedTree { nodes })
    }

    /// Builds the tree, leaving out malformed entries and files that clash
    /// with directories (a file where a directory, or a path below one, was
    /// also given).
    pub(crate) fn build(mut self, size: impl Fn(&T) -> u64) -> FixedTree<T> {
        self.errors.clear();
        let dirs = std::mem::take(&mut self.dirs);
        let files: Vec<String> = self.files.keys().cloned().collect();
        self.files.retain(|f, _| {
            !dirs.iter().any(|d| path::starts_with(d, f))
                && !files
                    .iter()
                    .any(|other| path::is_strict_descendant(other, f))
        });
        self.dirs = dirs;
        self.try_build(size).unwrap_or_else(|_| FixedTree::empty())
    }
}
