//! The inode table: which number stands for which file, and the path that
//! reaches it now.
//!
//! A [`FileService`](oanix_vfs::FileService) is addressed by path; the
//! kernel addresses files by number. The table keeps, per directory, the
//! names the kernel has seen with the number of each, and per number the
//! names it has (`(directory, name)` links) and the kernel's lookup count.
//! A path is found by walking a file's first link up to the root, so
//! renaming a directory moves everything below it with one change.
//!
//! **Numbers are stable per mount**: a name keeps its number while it
//! exists — across lookups, renames through the mount, and the kernel
//! forgetting it — and numbers are never reused, so generation numbers
//! are always 0. A number belongs to a name, not to the service's file id:
//! ids may change under a name (a copy-on-write layer copies a file up) or
//! repeat across layers, so they identify only the further names of a file
//! with several (`nlink > 1`), which share its number. Limits: a hard link
//! made outside the mount, to a name the kernel had already looked up,
//! keeps that name's own number; the table keeps one entry per name seen
//! (about a hundred bytes), until the name is removed through the mount or
//! found missing.

use std::collections::HashMap;

use oanix_vfs::{FileKind, Timestamp};

/// The root directory's number.
pub(crate) const ROOT: u64 = 1;

/// The most components a path has (4096 bytes, two per component).
const MAX_DEPTH: usize = 2048;

/// The identity of a file with several names, from its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    /// The device the service reports.
    pub(crate) device: u64,
    /// The file id the service reports.
    pub(crate) id: u64,
}

/// What the mount keeps for a file beyond what the service knows: its
/// permission bits and owner, set by `chmod`, `chown` or the creating mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    /// Permission bits (`0o7777` at most).
    pub(crate) mode: Option<u16>,
    /// Owner.
    pub(crate) uid: Option<u32>,
    /// Group.
    pub(crate) gid: Option<u32>,
}

/// What a file's data was when the kernel last saw its attributes: its
/// size and modification time. The kernel may keep its cached pages at
/// an open only while the file is still that version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Version {
    /// The size.
    pub(crate) size: u64,
    /// The modification time, if the service keeps one.
    pub(crate) modified: Option<Timestamp>,
}

/// One number's file.
#[derive(Debug)]
struct Node {
    kind: FileKind,
    /// The version of its data whose attributes the kernel last received,
    /// and whether it was already old when first received (see
    /// [`InodeTable::sent`]).
    version: Option<(Version, bool)>,
    /// Its names: (directory number, name).
    links: Vec<(u64, Box<str>)>,
    /// How many lookups the kernel holds.
    lookups: u64,
    overrides: Overrides,
    /// The identity shared with its other names, when it has several.
    key: Option<Key>,
}

impl Node {
    fn new(kind: FileKind) -> Self {
        Self {
            kind,
            version: None,
            links: Vec::new(),
            lookups: 0,
            overrides: Overrides::default(),
            key: None,
        }
    }
}

/// How much of a path the table knows; see [`InodeTable::known`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Known {
    /// The deepest component known: (directory number, name, number).
    pub(crate) deepest: Option<(u64, String, u64)>,
    /// The first component not known: (directory number, name).
    pub(crate) missing: Option<(u64, String)>,
}

/// The table; see the [module docs](self).
#[derive(Debug)]
pub(crate) struct InodeTable {
    nodes: HashMap<u64, Node>,
    children: HashMap<u64, HashMap<Box<str>, u64>>,
    shared: HashMap<Key, u64>,
    next: u64,
}

impl InodeTable {
    /// A table holding only the root directory.
    pub(crate) fn new() -> Self {
        let mut nodes = HashMap::new();
        let mut root = Node::new(FileKind::Directory);
        root.lookups = 1;
        nodes.insert(ROOT, root);
        Self {
            nodes,
            children: HashMap::new(),
            shared: HashMap::new(),
            next: ROOT + 1,
        }
    }

    /// The path that reaches `ino` now, if it has a name.
    pub(crate) fn path(&self, ino: u64) -> Option<String> {
        let mut names: Vec<&str> = Vec::new();
        let mut current = ino;
        for _ in 0..MAX_DEPTH {
            if current == ROOT {
                let len = names.iter().map(|n| n.len() + 1).sum::<usize>().max(1);
                let mut out = String::with_capacity(len);
                for name in names.iter().rev() {
                    out.push('/');
                    out.push_str(name);
                }
                if out.is_empty() {
                    out.push('/');
                }
                return Some(out);
            }
            let node = self.nodes.get(&current)?;
            let (parent, name) = node
                .links
                .iter()
                .find(|(p, _)| self.nodes.contains_key(p))?;
            names.push(name);
            current = *parent;
        }
        None
    }

    /// The number of `name` in `parent`, if the table knows it.
    pub(crate) fn child(&self, parent: u64, name: &str) -> Option<u64> {
        self.children.get(&parent)?.get(name).copied()
    }

    /// The directory holding `ino` (its first name's), for `..`; the root's
    /// is itself.
    pub(crate) fn parent_of(&self, ino: u64) -> u64 {
        self.nodes
            .get(&ino)
            .and_then(|n| n.links.first())
            .map_or(ROOT, |(p, _)| *p)
    }

    /// The kind the table last saw for `ino`.
    pub(crate) fn kind(&self, ino: u64) -> Option<FileKind> {
        self.nodes.get(&ino).map(|n| n.kind)
    }

    /// Records that `name` in `parent` is a `kind` (with `key` when it has
    /// several names) and counts `count` kernel lookups of it; returns its
    /// number. A name seen before keeps its number unless it now names
    /// another kind of file.
    pub(crate) fn lookup(
        &mut self,
        parent: u64,
        name: &str,
        kind: FileKind,
        key: Option<Key>,
        count: u64,
    ) -> u64 {
        if let Some(ino) = self.child(parent, name) {
            let shared_elsewhere = key
                .and_then(|k| self.shared.get(&k).copied())
                .filter(|other| *other != ino && self.kind(*other) == Some(kind));
            if let Some(node) = self.nodes.get_mut(&ino)
                && node.kind == kind
                && (shared_elsewhere.is_none() || node.lookups > 0)
            {
                if let Some(k) = key {
                    node.key = Some(k);
                    self.shared.entry(k).or_insert(ino);
                }
                node.lookups += count;
                return ino;
            }
            self.drop_name(parent, name);
        }
        let known = key
            .and_then(|k| self.shared.get(&k).copied())
            .filter(|ino| self.kind(*ino) == Some(kind));
        let ino = match known {
            Some(ino) => ino,
            None => {
                let ino = self.next;
                self.next += 1;
                self.nodes.insert(ino, Node::new(kind));
                if let Some(k) = key {
                    self.shared.insert(k, ino);
                }
                ino
            }
        };
        self.add_link(ino, parent, name);
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.key = key.or(node.key);
            node.lookups += count;
        }
        ino
    }

    /// Gives `ino` the further name `name` in `parent` (a hard link made
    /// through the mount) and counts `count` lookups.
    pub(crate) fn linked(
        &mut self,
        ino: u64,
        parent: u64,
        name: &str,
        key: Option<Key>,
        count: u64,
    ) {
        self.drop_name(parent, name);
        self.add_link(ino, parent, name);
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.lookups += count;
            if let Some(k) = key.or(node.key) {
                node.key = Some(k);
                self.shared.insert(k, ino);
            }
        }
    }

    fn add_link(&mut self, ino: u64, parent: u64, name: &str) {
        let name: Box<str> = name.into();
        if let Some(node) = self.nodes.get_mut(&ino)
            && !node.links.iter().any(|(p, n)| *p == parent && *n == name)
        {
            node.links.push((parent, name.clone()));
        }
        self.children.entry(parent).or_default().insert(name, ino);
    }

    /// Forgets that `name` in `parent` exists (it was removed, or found
    /// missing or replaced); returns the number it had.
    pub(crate) fn drop_name(&mut self, parent: u64, name: &str) -> Option<u64> {
        let dir = self.children.get_mut(&parent)?;
        let ino = dir.remove(name)?;
        if dir.is_empty() {
            self.children.remove(&parent);
        }
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.links.retain(|(p, n)| !(*p == parent && **n == *name));
            if node.links.is_empty() {
                if let Some(k) = node.key
                    && self.shared.get(&k) == Some(&ino)
                {
                    self.shared.remove(&k);
                }
                if node.lookups == 0 {
                    self.remove_node(ino);
                }
            }
        }
        Some(ino)
    }

    /// Records a rename through the mount: `name` in `parent` is now
    /// `new_name` in `new_parent`, replacing what was there.
    pub(crate) fn renamed(&mut self, parent: u64, name: &str, new_parent: u64, new_name: &str) {
        if parent == new_parent && name == new_name {
            return;
        }
        self.drop_name(new_parent, new_name);
        let Some(dir) = self.children.get_mut(&parent) else {
            return;
        };
        let Some(ino) = dir.remove(name) else {
            return;
        };
        if dir.is_empty() {
            self.children.remove(&parent);
        }
        let new_name: Box<str> = new_name.into();
        if let Some(node) = self.nodes.get_mut(&ino) {
            for link in &mut node.links {
                if link.0 == parent && *link.1 == *name {
                    *link = (new_parent, new_name.clone());
                }
            }
        }
        self.children
            .entry(new_parent)
            .or_default()
            .insert(new_name, ino);
    }

    /// The kernel forgets `count` lookups of `ino`.
    pub(crate) fn forget(&mut self, ino: u64, count: u64) {
        if ino == ROOT {
            return;
        }
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        node.lookups = node.lookups.saturating_sub(count);
        if node.lookups == 0 && node.links.is_empty() {
            self.remove_node(ino);
        }
    }

    fn remove_node(&mut self, ino: u64) {
        self.nodes.remove(&ino);
        if let Some(names) = self.children.remove(&ino) {
            // Names below a directory that is gone: their files lose that link.
            for (name, child) in names {
                if let Some(node) = self.nodes.get_mut(&child) {
                    node.links.retain(|(p, n)| !(*p == ino && **n == *name));
                    if node.links.is_empty() && node.lookups == 0 {
                        self.nodes.remove(&child);
                        self.children.remove(&child);
                    }
                }
            }
        }
    }

    /// What the mount keeps for `ino`.
    pub(crate) fn overrides(&self, ino: u64) -> Overrides {
        self.nodes
            .get(&ino)
            .map_or_else(Overrides::default, |n| n.overrides)
    }

    /// Changes what the mount keeps for `ino`.
    pub(crate) fn set_overrides(&mut self, ino: u64, change: impl FnOnce(&mut Overrides)) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            change(&mut node.overrides);
        }
    }

    /// What the mount keeps for `ino`, and records that the kernel receives
    /// the attributes of `version` for it. `settled` says whether that
    /// version was already old enough that any later change must show in
    /// its size or time; it counts only when the version is new to the table
    /// (a version first seen young stays unsettled, however long it lasts:
    /// the kernel may hold pages of a change made within the same tick).
    pub(crate) fn sent(&mut self, ino: u64, version: Version, settled: bool) -> Overrides {
        self.nodes
            .get_mut(&ino)
            .map_or_else(Overrides::default, |n| {
                if n.version.is_none_or(|(v, _)| v != version) {
                    n.version = Some((version, settled));
                }
                n.overrides
            })
    }

    /// Whether `ino` is `now` the version whose attributes the kernel last
    /// received, and that version was settled when first seen: then the
    /// pages the kernel cached are still the file's.
    pub(crate) fn unchanged(&self, ino: u64, now: Version) -> bool {
        self.nodes
            .get(&ino)
            .and_then(|n| n.version)
            .is_some_and(|(v, settled)| settled && v == now)
    }

    /// How much of a canonical path the table knows: the directory number,
    /// name and number of the deepest component it knows, and the first
    /// component it does not know with the directory number it would be in
    /// (`None` when it knows the whole path).
    pub(crate) fn known(&self, path: &str) -> Known {
        let mut parent = ROOT;
        let mut last = None;
        for name in oanix_vfs::path::components(path) {
            let Some(ino) = self.child(parent, name) else {
                return Known {
                    deepest: last,
                    missing: Some((parent, name.to_owned())),
                };
            };
            last = Some((parent, name.to_owned(), ino));
            parent = ino;
        }
        Known {
            deepest: last,
            missing: None,
        }
    }

    /// How many numbers the table holds (the root included).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: FileKind = FileKind::File;
    const DIR: FileKind = FileKind::Directory;

    #[test]
    fn paths_follow_renamed_directories() {
        let mut t = InodeTable::new();
        let a = t.lookup(ROOT, "a", DIR, None, 1);
        let b = t.lookup(a, "b", DIR, None, 1);
        let f = t.lookup(b, "f", FILE, None, 1);
        assert_eq!(t.path(f).as_deref(), Some("/a/b/f"));
        assert_eq!(t.path(ROOT).as_deref(), Some("/"));
        t.renamed(ROOT, "a", ROOT, "z");
        assert_eq!(t.path(f).as_deref(), Some("/z/b/f"));
        assert_eq!(t.lookup(ROOT, "z", DIR, None, 1), a);
        assert_eq!(
            t.known("/z/b/f"),
            Known {
                deepest: Some((b, "f".to_owned(), f)),
                missing: None
            }
        );
        assert_eq!(
            t.known("/a/b/f"),
            Known {
                deepest: None,
                missing: Some((ROOT, "a".to_owned()))
            }
        );
        assert_eq!(
            t.known("/z/x/y"),
            Known {
                deepest: Some((ROOT, "z".to_owned(), a)),
                missing: Some((a, "x".to_owned()))
            }
        );
    }

    #[test]
    fn a_name_keeps_its_number_after_forget_and_loses_it_when_removed() {
        let mut t = InodeTable::new();
        let f = t.lookup(ROOT, "f", FILE, None, 2);
        t.forget(f, 2);
        assert_eq!(t.lookup(ROOT, "f", FILE, None, 1), f);
        t.drop_name(ROOT, "f");
        // Still looked up (open, say): kept until forgotten, without a path.
        assert_eq!(t.path(f), None);
        t.forget(f, 1);
        assert_eq!(t.len(), 1);
        let g = t.lookup(ROOT, "f", FILE, None, 1);
        assert_ne!(g, f, "numbers are never reused");
    }

    #[test]
    fn a_name_that_changes_kind_gets_a_new_number() {
        let mut t = InodeTable::new();
        let f = t.lookup(ROOT, "x", FILE, None, 1);
        let d = t.lookup(ROOT, "x", DIR, None, 1);
        assert_ne!(f, d);
        assert_eq!(t.path(f), None);
        assert_eq!(t.path(d).as_deref(), Some("/x"));
    }

    #[test]
    fn names_of_one_file_share_its_number() {
        let mut t = InodeTable::new();
        let key = Key { device: 3, id: 9 };
        let a = t.lookup(ROOT, "a", FILE, Some(key), 1);
        let b = t.lookup(ROOT, "b", FILE, Some(key), 1);
        assert_eq!(a, b);
        t.drop_name(ROOT, "a");
        assert_eq!(t.path(a).as_deref(), Some("/b"));
        let d = t.lookup(ROOT, "d", DIR, None, 1);
        t.linked(a, d, "c", Some(key), 1);
        assert_eq!(t.child(d, "c"), Some(a));
        // Ids that repeat without several names (layers of an overlay)
        // share nothing.
        let x = t.lookup(ROOT, "x", FILE, None, 1);
        let y = t.lookup(ROOT, "y", FILE, None, 1);
        assert_ne!(x, y);
    }

    #[test]
    fn a_listed_name_joins_its_other_names_when_first_looked_up() {
        let mut t = InodeTable::new();
        let key = Key { device: 0, id: 4 };
        let a = t.lookup(ROOT, "a", FILE, Some(key), 1);
        // Listed, not looked up: no key known yet.
        let listed = t.lookup(ROOT, "b", FILE, None, 0);
        assert_ne!(listed, a);
        assert_eq!(t.lookup(ROOT, "b", FILE, Some(key), 1), a);
    }

    #[test]
    fn renaming_over_a_name_drops_the_replaced_file() {
        let mut t = InodeTable::new();
        let a = t.lookup(ROOT, "a", FILE, None, 1);
        let b = t.lookup(ROOT, "b", FILE, None, 1);
        t.renamed(ROOT, "a", ROOT, "b");
        assert_eq!(t.child(ROOT, "b"), Some(a));
        assert_eq!(t.child(ROOT, "a"), None);
        assert_eq!(t.path(b), None);
        assert_eq!(t.path(a).as_deref(), Some("/b"));
        t.set_overrides(a, |o| o.mode = Some(0o755));
        assert_eq!(t.overrides(a).mode, Some(0o755));
        let v = Version {
            size: 3,
            modified: None,
        };
        assert!(!t.unchanged(a, v));
        assert_eq!(t.sent(a, v, false).mode, Some(0o755));
        assert!(!t.unchanged(a, v), "first seen young");
        t.sent(a, v, true);
        assert!(!t.unchanged(a, v), "still the version first seen young");
        let w = Version { size: 4, ..v };
        t.sent(a, w, true);
        assert!(t.unchanged(a, w));
        assert!(!t.unchanged(a, v));
        assert_eq!(t.parent_of(a), ROOT);
    }
}
