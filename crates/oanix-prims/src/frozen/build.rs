//! [`FrozenTreeBuilder`]: a frozen tree put together entry by entry, for
//! readers of stored trees (the byte form here, a snapshot store above).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use compact_str::CompactString;
use oanix_vfs::{Metadata, Timestamp, path};

use super::{DecodeError, FrozenDir, FrozenFile, FrozenLink, FrozenNode, FrozenTree};

/// Builds a [`FrozenTree`] from its entries, parents before children, as
/// [`FrozenTree::items`] lists them: each path canonical and below the
/// root, its parent a directory added before it, no name twice. A second
/// name of a file (a hard link) names the index of the entry that added
/// the file. What breaks a rule is refused with the entry's index and what
/// is wrong, and the tree is not changed by it.
///
/// ```
/// use oanix_prims::{FrozenTreeBuilder, MemFs};
/// use oanix_vfs::{Metadata, read_to_string};
///
/// let mut b = FrozenTreeBuilder::new();
/// b.dir("/src", &Metadata::directory(2))?;
/// b.file("/src/main.rs", &Metadata::file(3, 0), b"fn main() {}".to_vec())?;
/// b.link("/main.rs", 1)?;
/// assert!(b.file("/nowhere/x", &Metadata::file(4, 0), Vec::new()).is_err());
/// let fs = MemFs::from_frozen(&b.finish())?;
/// assert_eq!(read_to_string(&fs, "/main.rs")?, "fn main() {}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Default)]
pub struct FrozenTreeBuilder {
    root: BuildDir,
    entries: u64,
    /// The file each entry added, by index (`None` for the others).
    names: Vec<Option<Arc<FrozenFile>>>,
}

impl std::fmt::Debug for FrozenTreeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrozenTreeBuilder")
            .field("entries", &self.entries)
            .finish()
    }
}

/// A timestamp of `meta`, 0 where it has none.
fn time(t: Option<Timestamp>) -> Timestamp {
    t.unwrap_or_default()
}

impl FrozenTreeBuilder {
    /// A tree holding only its root.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index the next entry gets.
    pub fn next_index(&self) -> usize {
        self.names.len()
    }

    /// Adds a directory with `meta`'s id and times.
    ///
    /// # Errors
    /// [`DecodeError::Entry`] if `p` breaks a rule (see the type's docs).
    pub fn dir(&mut self, p: &str, meta: &Metadata) -> Result<(), DecodeError> {
        let node = Built::Dir(BuildDir {
            id: meta.id,
            created: time(meta.created),
            modified: time(meta.modified),
            children: BTreeMap::new(),
        });
        self.insert(p, node, None)
    }

    /// Adds a file holding `data`, with `meta`'s id and times (its size is
    /// the length of `data`).
    ///
    /// # Errors
    /// [`DecodeError::Entry`] if `p` breaks a rule.
    pub fn file(&mut self, p: &str, meta: &Metadata, data: Vec<u8>) -> Result<(), DecodeError> {
        self.shared_file(p, meta, Arc::new(data))
    }

    /// Adds a file holding `data`, shared, not copied.
    ///
    /// # Errors
    /// [`DecodeError::Entry`] if `p` breaks a rule.
    pub fn shared_file(
        &mut self,
        p: &str,
        meta: &Metadata,
        data: Arc<Vec<u8>>,
    ) -> Result<(), DecodeError> {
        let file = Arc::new(FrozenFile {
            id: meta.id,
            created: time(meta.created),
            modified: time(meta.modified),
            accessed: time(meta.accessed),
            data,
        });
        self.insert(
            p,
            Built::Leaf(FrozenNode::File(Arc::clone(&file))),
            Some(file),
        )
    }

    /// Adds a symbolic link to `target`, created at `meta`'s creation time.
    ///
    /// # Errors
    /// [`DecodeError::Entry`] if `p` breaks a rule.
    pub fn symlink(&mut self, p: &str, meta: &Metadata, target: String) -> Result<(), DecodeError> {
        let link = Arc::new(FrozenLink {
            id: meta.id,
            created: time(meta.created),
            target,
        });
        self.insert(p, Built::Leaf(FrozenNode::Symlink(link)), None)
    }

    /// Adds `p` as another name of the file entry `first` added.
    ///
    /// # Errors
    /// [`DecodeError::Entry`] if `first` added no file, or `p` breaks a rule.
    pub fn link(&mut self, p: &str, first: usize) -> Result<(), DecodeError> {
        let Some(file) = self.names.get(first).cloned().flatten() else {
            return Err(self.err(format!("names entry {first}, which is no file")));
        };
        self.insert(
            p,
            Built::Leaf(FrozenNode::File(Arc::clone(&file))),
            Some(file),
        )
    }

    /// The tree.
    pub fn finish(self) -> FrozenTree {
        fn freeze(
            d: BuildDir,
            bytes: &mut (u64, u64),
            seen: &mut HashSet<*const FrozenFile>,
        ) -> Arc<FrozenDir> {
            let children = d
                .children
                .into_iter()
                .map(|(name, b)| {
                    let node = match b {
                        Built::Dir(sub) => FrozenNode::Dir(freeze(sub, bytes, seen)),
                        Built::Leaf(leaf) => {
                            if let FrozenNode::File(f) = &leaf
                                && seen.insert(Arc::as_ptr(f))
                            {
                                bytes.0 += f.data.len() as u64;
                                bytes.1 = bytes.1.max(f.data.len() as u64);
                            }
                            leaf
                        }
                    };
                    (name, node)
                })
                .collect();
            Arc::new(FrozenDir {
                id: d.id,
                created: d.created,
                modified: d.modified,
                children,
            })
        }
        let mut bytes = (0, 0);
        let mut seen = HashSet::new();
        let entries = self.entries;
        let root = freeze(self.root, &mut bytes, &mut seen);
        FrozenTree {
            root,
            entries,
            bytes: bytes.0,
            largest: bytes.1,
        }
    }

    fn err(&self, message: impl Into<String>) -> DecodeError {
        DecodeError::Entry {
            index: self.names.len() as u64,
            message: message.into(),
        }
    }

    fn insert(
        &mut self,
        p: &str,
        node: Built,
        file: Option<Arc<FrozenFile>>,
    ) -> Result<(), DecodeError> {
        let err = |m: &str| DecodeError::Entry {
            index: self.names.len() as u64,
            message: format!("{p:?}: {m}"),
        };
        let canonical = path::normalize(p).map_err(|e| err(&e.to_string()))?;
        if canonical != p || p == "/" {
            return Err(err("not a canonical path below the root"));
        }
        let (parent, name) = path::split(p).ok_or_else(|| err("no parent"))?;
        let mut dir = &mut self.root;
        for comp in parent.split('/').filter(|c| !c.is_empty()) {
            dir = match dir.children.get_mut(comp) {
                Some(Built::Dir(d)) => d,
                Some(Built::Leaf(_)) => return Err(err("its parent is not a directory")),
                None => return Err(err("its parent comes later or not at all")),
            };
        }
        if dir.children.contains_key(name) {
            return Err(err("listed twice"));
        }
        dir.children.insert(CompactString::from(name), node);
        self.entries += 1;
        self.names.push(file);
        Ok(())
    }
}

/// A tree being built: mutable directories, frozen at the end.
struct BuildDir {
    id: u64,
    created: Timestamp,
    modified: Timestamp,
    children: BTreeMap<CompactString, Built>,
}

impl Default for BuildDir {
    fn default() -> Self {
        Self {
            id: 1,
            created: Timestamp(0),
            modified: Timestamp(0),
            children: BTreeMap::new(),
        }
    }
}

enum Built {
    Dir(BuildDir),
    Leaf(FrozenNode),
}
