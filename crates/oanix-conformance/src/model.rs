//! The reference model: the `FileService` contract implemented in the most
//! obvious way, the operations it understands, and proptest strategies for
//! sequences of them.
//!
//! [`ModelFs`] is a sorted map from canonical path to [`Node`]. It answers
//! every [`Op`] by following the contract's rules one by one, in order, with
//! no cleverness: when it and a service disagree, the model is the easy one
//! to check by reading.
//!
//! An [`Op`] opens what it needs, does one thing and closes it again, so a
//! sequence of ops is just data: proptest generates it, shrinks it to the
//! shortest sequence that still fails, and prints it one op per line.
//! [`run_ops`] applies a sequence to a service and to the model, asserts that
//! every outcome agrees (`Ok` values equal, or error kinds equal), and
//! compares the two whole trees at the end.
//!
//! # Mount points
//!
//! For a `Namespace`, [`ModelFs::with_mounts`] tells the model where the
//! mount points are. They behave as directories that always exist and can
//! be neither removed nor renamed (`PermissionDenied`, checked right after
//! the rule about the root); a rename between two different mounts is
//! `CrossDevice`, checked next, before the service's own rules. The model
//! needs a mount at `/` and every directory above a mount point to be a mount
//! point too, so that every directory of the namespace is backed by a
//! service.
//!
//! ```no_run
//! use oanix_conformance::model::{ModelFs, OpSpace, run_ops};
//! use proptest::prelude::*;
//! # fn namespace() -> oanix_vfs::Namespace { oanix_vfs::Namespace::default() }
//!
//! proptest! {
//!     #[test]
//!     fn namespace_agrees_with_the_model(ops in OpSpace::new(["a", "b", "n"]).ops(40)) {
//!         // `namespace()` mounts services at /, /a, /b and /a/n.
//!         let mut model = ModelFs::new().with_mounts(["/", "/a", "/b", "/a/n"]);
//!         run_ops(&namespace(), &mut model, &ops);
//!     }
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use oanix_vfs::{FileKind, FileService, FsErrorKind, OpenFlags, path, read_file};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;

use crate::fixture::Fixture;
use crate::tree::{Node, Tree, tree_of};
use crate::writable::short;

/// One operation, applied to a service by [`perform`] and to the model by
/// [`ModelFs::apply`].
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Op {
    /// `open(path, flags)`, then close: creates or truncates as the flags say.
    Open {
        /// The path.
        path: String,
        /// The flags.
        flags: OpenFlags,
    },
    /// Open write-only (no create), `write_at(data, offset)`.
    WriteAt {
        /// The path.
        path: String,
        /// Where to write.
        offset: u64,
        /// What to write.
        data: Vec<u8>,
    },
    /// Open with `append` (no create), `write(data)`.
    Append {
        /// The path.
        path: String,
        /// What to write.
        data: Vec<u8>,
    },
    /// Open write-only (no create), `set_len(len)`.
    SetLen {
        /// The path.
        path: String,
        /// The new length.
        len: u64,
    },
    /// Read the whole file.
    Read {
        /// The path.
        path: String,
    },
    /// `stat(path)`.
    Stat {
        /// The path.
        path: String,
    },
    /// `readdir(path)`.
    Readdir {
        /// The path.
        path: String,
    },
    /// `mkdir(path)`.
    Mkdir {
        /// The path.
        path: String,
    },
    /// `remove(path)`.
    Remove {
        /// The path.
        path: String,
    },
    /// `rename(from, to)`. The model reads both paths in canonical form: a
    /// trailing `/` on a rename is not modelled, and [`OpSpace`] never
    /// generates one.
    Rename {
        /// The source.
        from: String,
        /// The destination.
        to: String,
    },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open { path, flags } => {
                write!(f, "open {} [{}]", short(path), flag_names(*flags))
            }
            Self::WriteAt { path, offset, data } => {
                write!(
                    f,
                    "write_at {} @{offset} \"{}\"",
                    short(path),
                    data.escape_ascii()
                )
            }
            Self::Append { path, data } => {
                write!(f, "append {} \"{}\"", short(path), data.escape_ascii())
            }
            Self::SetLen { path, len } => write!(f, "set_len {} {len}", short(path)),
            Self::Read { path } => write!(f, "read {}", short(path)),
            Self::Stat { path } => write!(f, "stat {}", short(path)),
            Self::Readdir { path } => write!(f, "readdir {}", short(path)),
            Self::Mkdir { path } => write!(f, "mkdir {}", short(path)),
            Self::Remove { path } => write!(f, "remove {}", short(path)),
            Self::Rename { from, to } => write!(f, "rename {} {}", short(from), short(to)),
        }
    }
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn flag_names(flags: OpenFlags) -> String {
    let OpenFlags {
        read,
        write,
        create,
        create_new,
        truncate,
        append,
        directory,
        nonblocking,
        nofollow,
    } = flags;
    let all = [
        (read, "read"),
        (write, "write"),
        (create, "create"),
        (create_new, "create_new"),
        (truncate, "truncate"),
        (append, "append"),
        (directory, "directory"),
        (nonblocking, "nonblocking"),
        (nofollow, "nofollow"),
    ];
    let set: Vec<&str> = all.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
    set.join(" ")
}

/// What an [`Op`] gives when it succeeds.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// It succeeded, with nothing to say.
    Done,
    /// A write wrote this many bytes.
    Wrote(usize),
    /// A read gave these bytes.
    Data(Vec<u8>),
    /// A `stat`: the kind, and the size of a file (0 for a directory).
    Stat {
        /// File or directory.
        kind: FileKind,
        /// The size of a file; 0 for a directory.
        size: u64,
    },
    /// A listing: names, kinds and sizes of files (0 for directories).
    Entries(Vec<(String, FileKind, u64)>),
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Done => f.write_str("Done"),
            Self::Wrote(n) => write!(f, "Wrote({n})"),
            Self::Data(d) => write!(f, "Data(\"{}\")", d.escape_ascii()),
            Self::Stat { kind, size } => write!(f, "Stat({kind:?}, {size})"),
            Self::Entries(e) => f.debug_tuple("Entries").field(e).finish(),
        }
    }
}

/// The outcome of an [`Op`]: a value, or the kind of the error.
pub type OpResult = Result<Outcome, FsErrorKind>;

fn size_of(kind: FileKind, size: u64) -> u64 {
    if kind.is_dir() { 0 } else { size }
}

/// Applies `op` to a real service.
pub fn perform<F: FileService + ?Sized>(fs: &F, op: &Op) -> OpResult {
    let kind = |e: oanix_vfs::FsError| e.kind();
    match op {
        Op::Open { path, flags } => fs.open(path, *flags).map(|_| Outcome::Done).map_err(kind),
        Op::WriteAt { path, offset, data } => {
            let mut h = fs.open(path, OpenFlags::write_only()).map_err(kind)?;
            h.write_at(data, *offset).map(Outcome::Wrote).map_err(kind)
        }
        Op::Append { path, data } => {
            let mut h = fs
                .open(path, OpenFlags::default().with_append(true))
                .map_err(kind)?;
            h.write(data).map(Outcome::Wrote).map_err(kind)
        }
        Op::SetLen { path, len } => {
            let mut h = fs.open(path, OpenFlags::write_only()).map_err(kind)?;
            h.set_len(*len).map(|()| Outcome::Done).map_err(kind)
        }
        Op::Read { path } => read_file(fs, path).map(Outcome::Data).map_err(kind),
        Op::Stat { path } => fs
            .stat(path)
            .map(|md| Outcome::Stat {
                kind: md.kind,
                size: size_of(md.kind, md.size),
            })
            .map_err(kind),
        Op::Readdir { path } => fs
            .readdir(path)
            .map(|entries| {
                Outcome::Entries(
                    entries
                        .into_iter()
                        .map(|e| {
                            let size = size_of(e.kind, e.size);
                            (e.name, e.kind, size)
                        })
                        .collect(),
                )
            })
            .map_err(kind),
        Op::Mkdir { path } => fs.mkdir(path).map(|()| Outcome::Done).map_err(kind),
        Op::Remove { path } => fs.remove(path).map(|()| Outcome::Done).map_err(kind),
        Op::Rename { from, to } => fs.rename(from, to).map(|()| Outcome::Done).map_err(kind),
    }
}

/// The reference model of a writable service (or of a namespace of
/// writable services); see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFs {
    /// Every path, the root included.
    nodes: BTreeMap<String, Node>,
    /// Mount points (empty for a plain service).
    mounts: BTreeSet<String>,
}

impl Default for ModelFs {
    fn default() -> Self {
        Self::new()
    }
}

use FsErrorKind as K;

impl ModelFs {
    /// An empty service: only the root.
    pub fn new() -> Self {
        let mut nodes = BTreeMap::new();
        nodes.insert("/".to_owned(), Node::Dir);
        Self {
            nodes,
            mounts: BTreeSet::new(),
        }
    }

    /// A service holding `fixture`.
    pub fn from_fixture(fixture: &Fixture) -> Self {
        let mut model = Self::new();
        for (p, node) in fixture.tree().iter() {
            model.nodes.insert(p.to_owned(), node.clone());
        }
        model
    }

    /// Declares the mount points of a namespace (see the [module
    /// docs](self)); each becomes a directory that always exists.
    ///
    /// # Panics
    /// If `/` is not among them, if a directory above a mount point is not a
    /// mount point itself, or if a file stands where a mount point goes.
    #[must_use]
    pub fn with_mounts<'a>(mut self, mounts: impl IntoIterator<Item = &'a str>) -> Self {
        for m in mounts {
            let m = match path::normalize(m) {
                Ok(m) => m.into_owned(),
                Err(e) => panic!("bad mount point: {e}"),
            };
            self.mounts.insert(m);
        }
        assert!(self.mounts.contains("/"), "the model needs a mount at /");
        for m in &self.mounts {
            let mut parent = path::parent(m);
            while let Some(p) = parent {
                assert!(
                    self.mounts.contains(p),
                    "{p} is above the mount point {m} but is not a mount point itself"
                );
                parent = path::parent(p);
            }
            match self.nodes.insert(m.clone(), Node::Dir) {
                None | Some(Node::Dir) => {}
                Some(Node::File(_)) => panic!("a file stands where the mount point {m} goes"),
            }
        }
        self
    }

    /// Everything the model holds, as [`tree_of`] reads a service.
    pub fn tree(&self) -> Tree {
        let mut tree = Tree::new();
        for (p, node) in self.nodes.iter().filter(|(p, _)| p.as_str() != "/") {
            tree.insert(p.clone(), node.clone());
        }
        tree
    }

    /// Applies `op` to the model and says what a conforming service answers.
    pub fn apply(&mut self, op: &Op) -> OpResult {
        match op {
            Op::Open { path, flags } => {
                let (p, dir_syntax) = parse(path)?;
                self.open(&p, dir_syntax, *flags).map(|()| Outcome::Done)
            }
            Op::WriteAt { path, offset, data } => {
                let file = self.open_file(path, OpenFlags::write_only())?;
                let offset = usize::try_from(*offset).expect("a small offset");
                // An empty write changes nothing, even past the end.
                if !data.is_empty() {
                    if file.len() < offset + data.len() {
                        file.resize(offset + data.len(), 0);
                    }
                    file[offset..offset + data.len()].copy_from_slice(data);
                }
                Ok(Outcome::Wrote(data.len()))
            }
            Op::Append { path, data } => {
                let file = self.open_file(path, OpenFlags::default().with_append(true))?;
                file.extend_from_slice(data);
                Ok(Outcome::Wrote(data.len()))
            }
            Op::SetLen { path, len } => {
                let file = self.open_file(path, OpenFlags::write_only())?;
                file.resize(usize::try_from(*len).expect("a small length"), 0);
                Ok(Outcome::Done)
            }
            Op::Read { path } => {
                let (p, dir_syntax) = parse(path)?;
                self.open(&p, dir_syntax, OpenFlags::read_only())?;
                match &self.nodes[&p] {
                    // The directory opens; reading its handle fails.
                    Node::Dir => Err(K::IsADirectory),
                    Node::File(data) => Ok(Outcome::Data(data.clone())),
                }
            }
            Op::Stat { path } => {
                let (p, dir_syntax) = parse(path)?;
                match self.lookup(&p)? {
                    None => Err(K::NotFound),
                    Some(Node::File(_)) if dir_syntax => Err(K::NotADirectory),
                    Some(Node::File(data)) => Ok(Outcome::Stat {
                        kind: FileKind::File,
                        size: data.len() as u64,
                    }),
                    Some(Node::Dir) => Ok(Outcome::Stat {
                        kind: FileKind::Directory,
                        size: 0,
                    }),
                }
            }
            Op::Readdir { path } => {
                let (p, _) = parse(path)?;
                match self.lookup(&p)? {
                    None => Err(K::NotFound),
                    Some(Node::File(_)) => Err(K::NotADirectory),
                    Some(Node::Dir) => Ok(Outcome::Entries(self.children(&p))),
                }
            }
            Op::Mkdir { path } => {
                let (p, _) = parse(path)?;
                // The root and mount points exist, so they fall under "exists".
                if self.lookup(&p)?.is_some() {
                    return Err(K::AlreadyExists);
                }
                self.nodes.insert(p, Node::Dir);
                Ok(Outcome::Done)
            }
            Op::Remove { path } => {
                let (p, dir_syntax) = parse(path)?;
                if p == "/" || self.mounts.contains(&p) {
                    return Err(K::PermissionDenied);
                }
                match self.lookup(&p)? {
                    None => Err(K::NotFound),
                    Some(Node::File(_)) if dir_syntax => Err(K::NotADirectory),
                    Some(Node::Dir) if self.has_children(&p) => Err(K::NotEmpty),
                    Some(_) => {
                        self.nodes.remove(&p);
                        Ok(Outcome::Done)
                    }
                }
            }
            Op::Rename { from, to } => {
                let (f, _) = parse(from)?;
                let (t, _) = parse(to)?;
                self.rename(&f, &t).map(|()| Outcome::Done)
            }
        }
    }

    /// Walks the parents of a canonical path: a missing one is `NotFound`, a
    /// file is `NotADirectory`. Then the node at the path, if any.
    fn lookup(&self, p: &str) -> Result<Option<&Node>, FsErrorKind> {
        let mut dir = String::new();
        let comps: Vec<&str> = path::components(p).collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            dir.push('/');
            dir.push_str(c);
            match self.nodes.get(&dir) {
                None => return Err(K::NotFound),
                Some(Node::File(_)) => return Err(K::NotADirectory),
                Some(Node::Dir) => {}
            }
        }
        Ok(self.nodes.get(p))
    }

    /// `open`, rules 1, 3 and 4 of the contract (the model is writable).
    fn open(&mut self, p: &str, dir_syntax: bool, flags: OpenFlags) -> Result<(), FsErrorKind> {
        if (flags.truncate && !flags.can_write()) || (flags.directory && flags.mutates()) {
            return Err(K::InvalidInput);
        }
        match self.lookup(p)? {
            Some(_) if flags.create_new => Err(K::AlreadyExists),
            Some(Node::Dir) if flags.mutates() => Err(K::IsADirectory),
            Some(Node::Dir) => Ok(()),
            Some(Node::File(_)) if flags.directory || dir_syntax => Err(K::NotADirectory),
            Some(Node::File(_)) => {
                if flags.truncate
                    && let Some(Node::File(data)) = self.nodes.get_mut(p)
                {
                    data.clear();
                }
                Ok(())
            }
            None if flags.creates() && dir_syntax => Err(K::IsADirectory),
            None if flags.creates() => {
                self.nodes.insert(p.to_owned(), Node::File(Vec::new()));
                Ok(())
            }
            None => Err(K::NotFound),
        }
    }

    /// Opens an existing file for writing and gives its bytes.
    fn open_file(&mut self, path: &str, flags: OpenFlags) -> Result<&mut Vec<u8>, FsErrorKind> {
        let (p, dir_syntax) = parse(path)?;
        self.open(&p, dir_syntax, flags)?;
        match self.nodes.get_mut(&p) {
            Some(Node::File(data)) => Ok(data),
            _ => unreachable!("opening {p} for writing succeeded, so it is a file"),
        }
    }

    /// `rename`, with the namespace rules first when there are mount points.
    fn rename(&mut self, f: &str, t: &str) -> Result<(), FsErrorKind> {
        // 1. The root.
        if f == "/" || t == "/" {
            return Err(K::PermissionDenied);
        }
        // Namespace: mount points, then different mounts.
        if self.mounts.contains(f) || self.mounts.contains(t) {
            return Err(K::PermissionDenied);
        }
        if self.mount_of(f) != self.mount_of(t) {
            return Err(K::CrossDevice);
        }
        // 2. `from` must exist.
        let from_is_dir = match self.lookup(f)? {
            None => return Err(K::NotFound),
            Some(node) => matches!(node, Node::Dir),
        };
        // 3. Into its own subtree.
        if from_is_dir && path::is_strict_descendant(t, f) {
            return Err(K::InvalidInput);
        }
        // 4. Onto itself.
        if f == t {
            return Ok(());
        }
        // 5 and 6. The parent of `to`, and what `to` is.
        match (from_is_dir, self.lookup(t)?) {
            (false, Some(Node::Dir)) => return Err(K::IsADirectory),
            (true, Some(Node::File(_))) => return Err(K::NotADirectory),
            (true, Some(Node::Dir)) if self.has_children(t) => return Err(K::NotEmpty),
            _ => {}
        }
        self.nodes.remove(t);
        let moving: Vec<String> = self
            .nodes
            .keys()
            .filter(|k| path::starts_with(k, f))
            .cloned()
            .collect();
        for old in moving {
            let node = self.nodes.remove(&old).expect("listed just now");
            let rest = &old[f.len()..];
            self.nodes.insert(format!("{t}{rest}"), node);
        }
        Ok(())
    }

    /// The mount point a path belongs to (`/` for a plain service).
    fn mount_of<'a>(&'a self, p: &str) -> &'a str {
        self.mounts
            .iter()
            .filter(|m| path::starts_with(p, m))
            .max_by_key(|m| m.len())
            .map_or("/", String::as_str)
    }

    fn has_children(&self, dir: &str) -> bool {
        self.nodes.keys().any(|k| path::parent(k) == Some(dir))
    }

    fn children(&self, dir: &str) -> Vec<(String, FileKind, u64)> {
        self.nodes
            .iter()
            .filter_map(|(k, node)| {
                let (parent, name) = path::split(k)?;
                (parent == dir).then(|| match node {
                    Node::Dir => (name.to_owned(), FileKind::Directory, 0),
                    Node::File(data) => (name.to_owned(), FileKind::File, data.len() as u64),
                })
            })
            .collect()
    }
}

/// Parses a path as every service must: the canonical form and whether it
/// was written as a directory, or the error kind.
fn parse(p: &str) -> Result<(String, bool), FsErrorKind> {
    let v = path::parse(p).map_err(|e| e.kind())?;
    let dir_syntax = v.is_dir_syntax();
    Ok((v.as_str().to_owned(), dir_syntax))
}

/// Applies `ops` to `fs` and to `model`, asserting after each op that both
/// give the same outcome (`Ok` values equal, or error kinds equal), and at
/// the end that both hold the same tree.
///
/// # Panics
/// At the first disagreement, naming the op, both outcomes and the ops that
/// led there.
pub fn run_ops<F: FileService + ?Sized>(fs: &F, model: &mut ModelFs, ops: &[Op]) {
    let history = |upto: usize| {
        ops[..upto]
            .iter()
            .enumerate()
            .map(|(i, op)| format!("  {i:>2}: {op}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (i, op) in ops.iter().enumerate() {
        let want = model.apply(op);
        let got = perform(fs, op);
        assert!(
            got == want,
            "op {i} `{op}`: the service gave {got:?}, the model {want:?}\nops:\n{}",
            history(i + 1)
        );
    }
    let (got, want) = (tree_of(fs), model.tree());
    assert!(
        got == want,
        "after {} ops the trees differ\nservice: {got:?}\nmodel:   {want:?}\nops:\n{}",
        ops.len(),
        history(ops.len())
    );
}

/// The space of ops proptest draws from: paths made of a few names, a few
/// levels deep, sometimes written with a trailing `/`, sometimes malformed.
#[derive(Debug, Clone)]
pub struct OpSpace {
    names: Vec<String>,
    max_depth: usize,
}

impl Default for OpSpace {
    /// Names `a`, `b` and `c`, up to three levels deep.
    fn default() -> Self {
        Self::new(["a", "b", "c"])
    }
}

impl OpSpace {
    /// Paths made of `names`, up to three levels deep.
    ///
    /// # Panics
    /// If `names` is empty or holds something that is not a valid name.
    pub fn new<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        assert!(!names.is_empty(), "an op space needs names");
        for n in &names {
            if let Err(e) = path::validate_name(n) {
                panic!("bad name in an op space: {e}");
            }
        }
        Self {
            names,
            max_depth: 3,
        }
    }

    /// Paths up to `depth` levels deep (at least 1).
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth.max(1);
        self
    }

    /// Canonical paths: the root now and then, otherwise one to `max_depth`
    /// names.
    pub fn canonical_path(&self) -> BoxedStrategy<String> {
        let names = proptest::sample::select(self.names.clone());
        let deep = proptest::collection::vec(names, 1..=self.max_depth)
            .prop_map(|comps| format!("/{}", comps.join("/")));
        prop_oneof![1 => Just("/".to_owned()), 30 => deep].boxed()
    }

    /// Malformed paths: empty, NUL bytes, `..` above the root, a name or a
    /// path too long.
    pub fn malformed_path(&self) -> BoxedStrategy<String> {
        let first = self.names[0].clone();
        prop_oneof![
            Just(String::new()),
            Just(format!("/{first}\0")),
            Just("/..".to_owned()),
            Just(format!("/{first}/../..")),
            Just(format!("/{}", "n".repeat(path::MAX_NAME_LEN + 1))),
            Just(format!("/{first}").repeat(path::MAX_PATH_LEN / (first.len() + 1) + 1)),
        ]
        .boxed()
    }

    /// Any path: mostly canonical, sometimes with a trailing `/`, sometimes
    /// malformed.
    pub fn path(&self) -> BoxedStrategy<String> {
        prop_oneof![
            85 => self.canonical_path(),
            7 => self.canonical_path().prop_map(|p| if p == "/" { p } else { format!("{p}/") }),
            8 => self.malformed_path(),
        ]
        .boxed()
    }

    /// Paths for renames: canonical, sometimes malformed.
    fn rename_path(&self) -> BoxedStrategy<String> {
        prop_oneof![92 => self.canonical_path(), 8 => self.malformed_path()].boxed()
    }

    /// Open flags: the usual combinations, and now and then any combination.
    pub fn flags() -> BoxedStrategy<OpenFlags> {
        let any = proptest::array::uniform7(any::<bool>()).prop_map(
            |[read, write, create, create_new, truncate, append, directory]| OpenFlags {
                read,
                write,
                create,
                create_new,
                truncate,
                append,
                directory,
                nonblocking: false,
                nofollow: false,
            },
        );
        prop_oneof![
            3 => Just(OpenFlags::create_truncate()),
            2 => Just(OpenFlags::write_only().with_create_new(true)),
            2 => Just(OpenFlags::append_create()),
            1 => Just(OpenFlags::read_only()),
            1 => Just(OpenFlags::write_only()),
            1 => Just(OpenFlags::directory()),
            3 => any,
        ]
        .boxed()
    }

    /// One op.
    pub fn op(&self) -> BoxedStrategy<Op> {
        let data = || proptest::collection::vec(b'a'..=b'z', 0..6);
        prop_oneof![
            4 => (self.path(), Self::flags()).prop_map(|(path, flags)| Op::Open { path, flags }),
            3 => (self.path(), 0..12u64, data())
                .prop_map(|(path, offset, data)| Op::WriteAt { path, offset, data }),
            2 => (self.path(), data()).prop_map(|(path, data)| Op::Append { path, data }),
            1 => (self.path(), 0..12u64).prop_map(|(path, len)| Op::SetLen { path, len }),
            2 => self.path().prop_map(|path| Op::Read { path }),
            2 => self.path().prop_map(|path| Op::Stat { path }),
            2 => self.path().prop_map(|path| Op::Readdir { path }),
            3 => self.path().prop_map(|path| Op::Mkdir { path }),
            2 => self.path().prop_map(|path| Op::Remove { path }),
            4 => (self.rename_path(), self.rename_path())
                .prop_map(|(from, to)| Op::Rename { from, to }),
        ]
        .boxed()
    }

    /// Sequences of up to `max_len` ops.
    pub fn ops(&self, max_len: usize) -> BoxedStrategy<Vec<Op>> {
        proptest::collection::vec(self.op(), 0..=max_len).boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op_open(p: &str, flags: OpenFlags) -> Op {
        Op::Open {
            path: p.into(),
            flags,
        }
    }

    #[test]
    fn the_model_follows_the_rules() {
        let mut m = ModelFs::new();
        let create = OpenFlags::create_truncate();
        assert_eq!(m.apply(&op_open("/a", create)), Ok(Outcome::Done));
        assert_eq!(m.apply(&op_open("/a/", create)), Err(K::NotADirectory));
        assert_eq!(m.apply(&op_open("/n/", create)), Err(K::IsADirectory));
        assert_eq!(m.apply(&op_open("/a/b", create)), Err(K::NotADirectory));
        assert_eq!(m.apply(&Op::Mkdir { path: "/d".into() }), Ok(Outcome::Done));
        assert_eq!(m.apply(&op_open("/d/f", create)), Ok(Outcome::Done));
        let rename = |from: &str, to: &str| Op::Rename {
            from: from.into(),
            to: to.into(),
        };
        assert_eq!(m.apply(&rename("/d", "/d/x")), Err(K::InvalidInput));
        assert_eq!(m.apply(&rename("/a", "/d")), Err(K::IsADirectory));
        assert_eq!(m.apply(&rename("/d", "/a")), Err(K::NotADirectory));
        assert_eq!(m.apply(&rename("/d", "/e")), Ok(Outcome::Done));
        assert_eq!(m.apply(&Op::Remove { path: "/e".into() }), Err(K::NotEmpty));
        let tree = m.tree();
        let paths: Vec<&str> = tree.iter().map(|(p, _)| p).collect();
        assert_eq!(paths, ["/a", "/e", "/e/f"]);
    }

    #[test]
    fn mount_points_are_fixed() {
        let mut m = ModelFs::new().with_mounts(["/", "/a", "/a/n", "/b"]);
        let rename = |from: &str, to: &str| Op::Rename {
            from: from.into(),
            to: to.into(),
        };
        assert_eq!(
            m.apply(&Op::Remove { path: "/b".into() }),
            Err(K::PermissionDenied)
        );
        assert_eq!(
            m.apply(&Op::Mkdir { path: "/a".into() }),
            Err(K::AlreadyExists)
        );
        assert_eq!(m.apply(&rename("/a/x", "/a/n/x")), Err(K::CrossDevice));
        assert_eq!(m.apply(&rename("/a/x", "/a/y")), Err(K::NotFound));
        assert_eq!(m.apply(&rename("/x", "/b")), Err(K::PermissionDenied));
        let listing = m.apply(&Op::Readdir { path: "/a".into() });
        assert_eq!(
            listing,
            Ok(Outcome::Entries(vec![("n".into(), FileKind::Directory, 0)]))
        );
    }
}
