//! `Fixture`: known content for a pre-populated service, shared by the
//! read-only checks and the model.

use oanix_vfs::{FileService, Result, path, write_file};

use crate::tree::{Node, Tree};

/// Known content (files with their bytes, directories, and symbolic links
/// with their targets) that a service is populated with before it is
/// checked.
///
/// [`check_read_only`](crate::check_read_only) needs a fixture with at least
/// one file and one directory; it makes the most of one that also has a file
/// inside a directory and an empty directory, as [`Fixture::standard`] does.
/// Parents are added as directories automatically. A fixture with links
/// needs a service that keeps them (see [`LinkSupport`](crate::LinkSupport)).
///
/// ```
/// use oanix_conformance::Fixture;
///
/// let fixture = Fixture::new().file("/dir/b.txt", "beta").dir("/empty");
/// let dirs: Vec<_> = fixture.dirs().collect();
/// assert_eq!(dirs, ["/dir", "/empty"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fixture {
    tree: Tree,
}

impl Fixture {
    /// An empty fixture.
    pub fn new() -> Self {
        Self::default()
    }

    /// The fixture the read-only checks are written for:
    ///
    /// ```text
    /// /a.txt          "alpha"
    /// /dir/           (directory)
    /// /dir/b.txt      "beta"
    /// /dir/sub/c.txt  "gamma"
    /// /empty/         (empty directory)
    /// /zero           "" (an empty file)
    /// ```
    pub fn standard() -> Self {
        Self::new()
            .file("/a.txt", "alpha")
            .file("/dir/b.txt", "beta")
            .file("/dir/sub/c.txt", "gamma")
            .dir("/empty")
            .file("/zero", "")
    }

    /// Adds a file (and its missing parents as directories).
    ///
    /// # Panics
    /// If `path` is not a valid path, is the root, or goes through a file.
    #[must_use]
    pub fn file(mut self, path: &str, data: impl AsRef<[u8]>) -> Self {
        let p = self.add_parents(path);
        self.tree.insert(p, Node::File(data.as_ref().to_vec()));
        self
    }

    /// Adds a directory (and its missing parents).
    ///
    /// # Panics
    /// If `path` is not a valid path, is the root, or goes through a file.
    #[must_use]
    pub fn dir(mut self, path: &str) -> Self {
        let p = self.add_parents(path);
        self.tree.insert(p, Node::Dir);
        self
    }

    /// Adds a symbolic link holding `target` (and its missing parents as
    /// directories). The target is kept as it is: it need not exist.
    ///
    /// # Panics
    /// If `path` is not a valid path, is the root, or goes through a file or
    /// a link, or if `target` is empty.
    #[must_use]
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        assert!(!target.is_empty(), "a link's target cannot be empty");
        let p = self.add_parents(path);
        self.tree.insert_link(p, target);
        self
    }

    fn add_parents(&mut self, path: &str) -> String {
        let p = match path::normalize(path) {
            Ok(p) => p.into_owned(),
            Err(e) => panic!("bad fixture path: {e}"),
        };
        assert!(p != "/", "the root is always in a fixture");
        let mut parent = path::parent(&p);
        let mut missing = Vec::new();
        while let Some(dir) = parent.filter(|d| *d != "/") {
            if self.tree.link(dir).is_some() {
                panic!("fixture path {p} goes through the link {dir}");
            }
            match self.tree.get(dir) {
                Some(Node::Dir) => break,
                Some(Node::File(_)) => panic!("fixture path {p} goes through the file {dir}"),
                None => missing.push(dir.to_owned()),
            }
            parent = path::parent(dir);
        }
        for dir in missing {
            self.tree.insert(dir, Node::Dir);
        }
        p
    }

    /// The whole content, as [`tree_of`](crate::tree_of) would read it.
    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    /// The files with their contents, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.tree.iter().filter_map(|(p, n)| match n {
            Node::File(data) => Some((p, data.as_slice())),
            Node::Dir => None,
        })
    }

    /// The directories (the root left out), in path order.
    pub fn dirs(&self) -> impl Iterator<Item = &str> {
        self.tree
            .iter()
            .filter_map(|(p, n)| matches!(n, Node::Dir).then_some(p))
    }

    /// The symbolic links with their targets, in path order.
    pub fn links(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tree.links()
    }

    /// The names directly in the directory `dir`, sorted, each with its node
    /// (links left out: see [`links`](Self::links)).
    pub fn children<'a>(&'a self, dir: &'a str) -> impl Iterator<Item = (&'a str, &'a Node)> + 'a {
        self.tree.iter().filter_map(move |(p, n)| {
            let (parent, name) = path::split(p)?;
            (parent == dir).then_some((name, n))
        })
    }

    /// Creates the content in a writable service, through its `mkdir`, file
    /// writes and `symlink` (parents first, links last, so that no write
    /// goes through a link).
    pub fn populate<F: FileService + ?Sized>(&self, fs: &F) -> Result<()> {
        for (p, node) in self.tree.iter() {
            match node {
                Node::Dir => fs.mkdir(p)?,
                Node::File(data) => write_file(fs, p, data)?,
            }
        }
        for (p, target) in self.tree.links() {
            fs.symlink(target, p)?;
        }
        Ok(())
    }
}
