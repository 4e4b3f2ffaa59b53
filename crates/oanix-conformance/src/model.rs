//! The reference model: the `FileService` contract implemented in the most
//! obvious way, the operations it understands, and proptest strategies for
//! sequences of them.
//!
//! [`ModelFs`] is a sorted map from canonical path to entry (a directory, a
//! file, a symbolic link), the files' bytes and the links' targets kept
//! apart so that hard links can share them. It answers every [`Op`] by
//! following the contract's rules one by one, in order, with no cleverness:
//! when it and a service disagree, the model is the easy one to check by
//! reading.
//!
//! An [`Op`] opens what it needs, does one thing and closes it again, so a
//! sequence of ops is just data: proptest generates it, shrinks it to the
//! shortest sequence that still fails, and prints it one op per line.
//! [`run_ops`] applies a sequence to a service and to the model, asserts that
//! every outcome agrees (`Ok` values equal, or error kinds equal), and
//! compares the two whole trees at the end.
//!
//! # Links
//!
//! The model describes a service that follows links (a `Namespace`, or a
//! service in `oanix_vfs::links::Follow`), and resolves them itself, without
//! the resolver of `oanix_vfs::links`, so that comparing the two checks that
//! resolver too. A lookup walks its path from the root; a link among the
//! parents, or as the last component of an operation that follows it, is
//! replaced by its target (an absolute one from the root, a relative one
//! from the link's directory, `..` taken lexically and never above the
//! root) followed by the rest of the path, and the whole operation starts
//! again on the new path, at most [`MAX_HOPS`] times, then `Loop`. The last
//! component is followed by `open` (unless `nofollow` or `create_new`),
//! `stat`, `readdir`, and by every operation but `remove` and `rename` when
//! the path is written with a trailing `/`. For the two paths of `rename`
//! and `link`, one link met rewrites every path that goes through it.
//!
//! [`OpSpace::links`] adds the link ops ([`Op::Symlink`], [`Op::Readlink`],
//! [`Op::Lstat`], [`Op::Link`], and `nofollow` among the open flags) to what
//! it generates; [`ModelFs::with_links`] says which links the service keeps
//! (all of them by default). For a service without some kind of links the
//! model answers as the trait's defaults do: `Unsupported` for `symlink` or
//! `link` whatever the paths.
//!
//! # Mount points
//!
//! For a `Namespace`, [`ModelFs::with_mounts`] tells the model where the
//! mount points are. They behave as directories that always exist and can
//! be neither removed nor renamed (`PermissionDenied`, checked right after
//! the rule about the root); a rename between two different mounts is
//! `CrossDevice`, checked next, before the service's own rules. A hard link
//! from a mount point is `PermissionDenied`, to one `AlreadyExists`, between
//! mounts `CrossDevice`, in that order and before the service's rules. These
//! rules apply to the paths as they are at each step of following links. The
//! model needs a mount at `/` and every directory above a mount point to be
//! a mount point too, so that every directory of the namespace is backed by
//! a service.
//!
//! ```no_run
//! use oanix_conformance::LinkSupport;
//! use oanix_conformance::model::{ModelFs, OpSpace, run_ops};
//! use proptest::prelude::*;
//! # fn namespace() -> oanix_vfs::Namespace { oanix_vfs::Namespace::default() }
//!
//! proptest! {
//!     #[test]
//!     fn namespace_agrees_with_the_model(
//!         ops in OpSpace::new(["a", "b", "n"]).links(LinkSupport::SymlinksAndHardLinks).ops(40)
//!     ) {
//!         // `namespace()` mounts services at /, /a, /b and /a/n.
//!         let mut model = ModelFs::new().with_mounts(["/", "/a", "/b", "/a/n"]);
//!         run_ops(&namespace(), &mut model, &ops);
//!     }
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use oanix_vfs::links::MAX_HOPS;
use oanix_vfs::{FileKind, FileService, FsErrorKind, OpenFlags, path, read_file};
use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};

use crate::check::LinkSupport;
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
    /// `rename(from, to)`. [`OpSpace`] generates canonical paths for it (or
    /// malformed ones), never a trailing `/`.
    Rename {
        /// The source.
        from: String,
        /// The destination.
        to: String,
    },
    /// `symlink(target, link)`.
    Symlink {
        /// What the link holds.
        target: String,
        /// Where the link goes.
        link: String,
    },
    /// `readlink(path)`.
    Readlink {
        /// The path.
        path: String,
    },
    /// `lstat(path)`.
    Lstat {
        /// The path.
        path: String,
    },
    /// `link(from, to)`, a hard link. [`OpSpace`] generates canonical paths
    /// for it (or malformed ones), never a trailing `/`.
    Link {
        /// The file to name again.
        from: String,
        /// The new name.
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
            Self::Symlink { target, link } => {
                write!(f, "symlink {} -> {}", short(link), short(target))
            }
            Self::Readlink { path } => write!(f, "readlink {}", short(path)),
            Self::Lstat { path } => write!(f, "lstat {}", short(path)),
            Self::Link { from, to } => write!(f, "link {} {}", short(from), short(to)),
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
    /// A `stat` or `lstat`: the kind, the size of a file (the length of the
    /// target of a link, 0 for a directory), and the number of names of a
    /// file or link (0 for a directory).
    Stat {
        /// File, directory or link.
        kind: FileKind,
        /// The size; 0 for a directory.
        size: u64,
        /// The number of names; 0 for a directory.
        nlink: u64,
    },
    /// A listing: names, kinds and sizes of files and links (0 for
    /// directories).
    Entries(Vec<(String, FileKind, u64)>),
    /// A `readlink`: the target.
    Target(String),
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Done => f.write_str("Done"),
            Self::Wrote(n) => write!(f, "Wrote({n})"),
            Self::Data(d) => write!(f, "Data(\"{}\")", d.escape_ascii()),
            Self::Stat { kind, size, nlink } => write!(f, "Stat({kind:?}, {size}, x{nlink})"),
            Self::Entries(e) => f.debug_tuple("Entries").field(e).finish(),
            Self::Target(t) => write!(f, "Target({t:?})"),
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
    let stat = |md: oanix_vfs::Metadata| Outcome::Stat {
        kind: md.kind,
        size: size_of(md.kind, md.size),
        nlink: size_of(md.kind, md.nlink),
    };
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
        Op::Stat { path } => fs.stat(path).map(stat).map_err(kind),
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
        Op::Symlink { target, link } => fs
            .symlink(target, link)
            .map(|()| Outcome::Done)
            .map_err(kind),
        Op::Readlink { path } => fs.readlink(path).map(Outcome::Target).map_err(kind),
        Op::Lstat { path } => fs.lstat(path).map(stat).map_err(kind),
        Op::Link { from, to } => fs.link(from, to).map(|()| Outcome::Done).map_err(kind),
    }
}

/// What a path of the model holds. Files and links point at an [`Inode`],
/// which their hard links share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    Dir,
    File(u64),
    Symlink(u64),
}

/// The content of a file or of a link.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Inode {
    Data(Vec<u8>),
    Target(String),
}

/// Where a lookup of a path ends: at what the path holds (if anything), or
/// at a link to follow.
enum Found {
    At(Option<Entry>),
    Link(String),
}

/// One try of an operation: done, or a link to follow (the path of the
/// link) before trying again.
enum Try<T> {
    Done(Result<T, FsErrorKind>),
    Follow(String),
}

/// The reference model of a writable service (or of a namespace of
/// writable services); see the [module docs](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFs {
    /// Every path, the root included.
    entries: BTreeMap<String, Entry>,
    /// The content of every file and link.
    inodes: BTreeMap<u64, Inode>,
    next_inode: u64,
    /// Mount points (empty for a plain service).
    mounts: BTreeSet<String>,
    /// Which links the service keeps.
    links: LinkSupport,
}

impl Default for ModelFs {
    fn default() -> Self {
        Self::new()
    }
}

use FsErrorKind as K;

/// Unwraps a lookup inside a [`Try`]: an error ends the try, a link is to
/// be followed.
macro_rules! found {
    ($e:expr) => {
        match $e {
            Err(k) => return Try::Done(Err(k)),
            Ok(Found::Link(l)) => return Try::Follow(l),
            Ok(Found::At(entry)) => entry,
        }
    };
}

impl ModelFs {
    /// An empty service, with symbolic and hard links: only the root.
    pub fn new() -> Self {
        let mut entries = BTreeMap::new();
        entries.insert("/".to_owned(), Entry::Dir);
        Self {
            entries,
            inodes: BTreeMap::new(),
            next_inode: 1,
            mounts: BTreeSet::new(),
            links: LinkSupport::SymlinksAndHardLinks,
        }
    }

    /// A service holding `fixture`.
    pub fn from_fixture(fixture: &Fixture) -> Self {
        let mut model = Self::new();
        for (p, node) in fixture.tree().iter() {
            let entry = match node {
                Node::Dir => Entry::Dir,
                Node::File(data) => Entry::File(model.new_inode(Inode::Data(data.clone()))),
            };
            model.entries.insert(p.to_owned(), entry);
        }
        for (p, target) in fixture.links() {
            let ino = model.new_inode(Inode::Target(target.to_owned()));
            model.entries.insert(p.to_owned(), Entry::Symlink(ino));
        }
        model
    }

    /// Says which links the service keeps (all of them by default).
    #[must_use]
    pub fn with_links(mut self, support: LinkSupport) -> Self {
        self.links = support;
        self
    }

    /// Declares the mount points of a namespace (see the [module
    /// docs](self)); each becomes a directory that always exists.
    ///
    /// # Panics
    /// If `/` is not among them, if a directory above a mount point is not a
    /// mount point itself, or if a file or a link stands where a mount point
    /// goes.
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
            match self.entries.insert(m.clone(), Entry::Dir) {
                None | Some(Entry::Dir) => {}
                Some(_) => panic!("a file or a link stands where the mount point {m} goes"),
            }
        }
        self
    }

    /// Everything the model holds, as [`tree_of`] reads a service.
    pub fn tree(&self) -> Tree {
        let mut tree = Tree::new();
        for (p, entry) in self.entries.iter().filter(|(p, _)| p.as_str() != "/") {
            match *entry {
                Entry::Dir => tree.insert(p.clone(), Node::Dir),
                Entry::File(ino) => tree.insert(p.clone(), Node::File(self.data(ino).to_vec())),
                Entry::Symlink(ino) => tree.insert_link(p.clone(), self.target(ino)),
            }
        }
        tree
    }

    /// Applies `op` to the model and says what a conforming service answers.
    pub fn apply(&mut self, op: &Op) -> OpResult {
        match op {
            Op::Open { path, flags } => self.open(path, *flags).map(|_| Outcome::Done),
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
                let p = self.open(path, OpenFlags::read_only())?;
                match self.entries[&p] {
                    // The directory opens; reading its handle fails.
                    Entry::File(ino) => Ok(Outcome::Data(self.data(ino).to_vec())),
                    _ => Err(K::IsADirectory),
                }
            }
            Op::Stat { path } => self.stat(path, true),
            Op::Lstat { path } => self.stat(path, false),
            Op::Readdir { path } => self.resolving(path, |m, p, _| {
                Try::Done(match found!(m.lookup(p, true)) {
                    None => Err(K::NotFound),
                    Some(Entry::Dir) => Ok(Outcome::Entries(m.children(p))),
                    Some(_) => Err(K::NotADirectory),
                })
            }),
            Op::Readlink { path } => self.resolving(path, |m, p, dir_syntax| {
                Try::Done(match found!(m.lookup(p, dir_syntax)) {
                    None => Err(K::NotFound),
                    Some(Entry::Symlink(ino)) => Ok(Outcome::Target(m.target(ino))),
                    Some(Entry::File(_)) if dir_syntax => Err(K::NotADirectory),
                    Some(_) => Err(K::InvalidInput),
                })
            }),
            Op::Mkdir { path } => self.resolving(path, |m, p, dir_syntax| {
                // The root and mount points exist, so they fall under "exists".
                Try::Done(match found!(m.lookup(p, dir_syntax)) {
                    Some(_) => Err(K::AlreadyExists),
                    None => {
                        m.entries.insert(p.to_owned(), Entry::Dir);
                        Ok(Outcome::Done)
                    }
                })
            }),
            Op::Remove { path } => self.resolving(path, |m, p, dir_syntax| {
                if p == "/" || m.mounts.contains(p) {
                    return Try::Done(Err(K::PermissionDenied));
                }
                Try::Done(match found!(m.lookup(p, false)) {
                    None => Err(K::NotFound),
                    Some(Entry::File(_) | Entry::Symlink(_)) if dir_syntax => Err(K::NotADirectory),
                    Some(Entry::Dir) if m.has_children(p) => Err(K::NotEmpty),
                    Some(_) => {
                        m.unname(p);
                        Ok(Outcome::Done)
                    }
                })
            }),
            Op::Rename { from, to } => self.resolving2(from, to, Self::rename),
            Op::Symlink { target, link } => {
                if !self.links.symlinks() {
                    return Err(K::Unsupported);
                }
                parse(link)?;
                if target.is_empty()
                    || target.as_bytes().contains(&0)
                    || target.len() > path::MAX_PATH_LEN
                {
                    return Err(K::InvalidPath);
                }
                self.resolving(link, |m, p, dir_syntax| {
                    Try::Done(match found!(m.lookup(p, dir_syntax)) {
                        Some(_) => Err(K::AlreadyExists),
                        None if dir_syntax => Err(K::NotFound),
                        None => {
                            let ino = m.new_inode(Inode::Target(target.clone()));
                            m.entries.insert(p.to_owned(), Entry::Symlink(ino));
                            Ok(Outcome::Done)
                        }
                    })
                })
            }
            Op::Link { from, to } => {
                if !self.links.hard_links() {
                    return Err(K::Unsupported);
                }
                self.resolving2(from, to, Self::link)
            }
        }
    }

    /// Runs `op` on `path` (parsed: canonical, and whether it was written as
    /// a directory), following every link it asks to follow, at most
    /// [`MAX_HOPS`] of them.
    fn resolving<T>(
        &mut self,
        path: &str,
        mut op: impl FnMut(&mut Self, &str, bool) -> Try<T>,
    ) -> Result<T, FsErrorKind> {
        let (mut p, mut dir_syntax) = parse(path)?;
        let mut hops = 0;
        loop {
            match op(self, &p, dir_syntax) {
                Try::Done(result) => return result,
                Try::Follow(link) => {
                    (p, dir_syntax) = self.through(&link, &p, dir_syntax)?;
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(K::Loop);
                    }
                }
            }
        }
    }

    /// [`resolving`](Self::resolving) for two paths: a link to follow
    /// rewrites each of them that goes through it.
    fn resolving2<T>(
        &mut self,
        a: &str,
        b: &str,
        mut op: impl FnMut(&mut Self, (&str, bool), (&str, bool)) -> Try<T>,
    ) -> Result<T, FsErrorKind> {
        let mut a = parse(a)?;
        let mut b = parse(b)?;
        let mut hops = 0;
        loop {
            match op(self, (&a.0, a.1), (&b.0, b.1)) {
                Try::Done(result) => return result,
                Try::Follow(link) => {
                    for (p, dir_syntax) in [&mut a, &mut b] {
                        let below = path::is_strict_descendant(p, &link);
                        if below || (*p == link && *dir_syntax) {
                            (*p, *dir_syntax) = self.through(&link, p, *dir_syntax)?;
                        }
                    }
                    hops += 1;
                    if hops > MAX_HOPS {
                        return Err(K::Loop);
                    }
                }
            }
        }
    }

    /// Where `p` (canonical; `dir_syntax` as written) leads once the link at
    /// `link` (`p` itself or one of its parents) is replaced by its target:
    /// the new canonical path, and whether it must name a directory.
    fn through(&self, link: &str, p: &str, dir_syntax: bool) -> Result<(String, bool), K> {
        let target = match self.entries.get(link) {
            Some(Entry::Symlink(ino)) => self.target(*ino),
            other => unreachable!("{link} is followed as a link but holds {other:?}"),
        };
        let rest: Vec<&str> = path::components(p)
            .skip(path::components(link).count())
            .collect();
        let mut parts: Vec<&str> = if target.starts_with('/') {
            Vec::new()
        } else {
            path::components(path::parent(link).unwrap_or("/")).collect()
        };
        for comp in target.split('/') {
            match comp {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                name if name.len() > path::MAX_NAME_LEN => return Err(K::InvalidPath),
                name => parts.push(name),
            }
        }
        // A target ending with `/`, `.` or `..` names a directory.
        let target_is_dir = matches!(target.rsplit('/').next(), Some("" | "." | ".."));
        let must_be_dir = if rest.is_empty() {
            target_is_dir || dir_syntax
        } else {
            dir_syntax
        };
        parts.extend(rest);
        let new = format!("/{}", parts.join("/"));
        let written = new.len() + usize::from(must_be_dir && new != "/");
        if written > path::MAX_PATH_LEN {
            return Err(K::InvalidPath);
        }
        Ok((new, must_be_dir))
    }

    /// Looks up a canonical path: walks its parents from the root (a missing
    /// one is `NotFound`, a file `NotADirectory`, a link is to be followed),
    /// then what the path holds; with `follow_last`, a link there is to be
    /// followed too.
    fn lookup(&self, p: &str, follow_last: bool) -> Result<Found, FsErrorKind> {
        let comps: Vec<&str> = path::components(p).collect();
        let mut dir = String::new();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            dir.push('/');
            dir.push_str(c);
            match self.entries.get(&dir) {
                None => return Err(K::NotFound),
                Some(Entry::File(_)) => return Err(K::NotADirectory),
                Some(Entry::Symlink(_)) => return Ok(Found::Link(dir)),
                Some(Entry::Dir) => {}
            }
        }
        match self.entries.get(p).copied() {
            Some(Entry::Symlink(_)) if follow_last => Ok(Found::Link(p.to_owned())),
            entry => Ok(Found::At(entry)),
        }
    }

    /// `stat`, or without `follow` `lstat`.
    fn stat(&mut self, path: &str, follow: bool) -> OpResult {
        self.resolving(path, |m, p, dir_syntax| {
            Try::Done(match found!(m.lookup(p, follow || dir_syntax)) {
                None => Err(K::NotFound),
                Some(Entry::Dir) => Ok(Outcome::Stat {
                    kind: FileKind::Directory,
                    size: 0,
                    nlink: 0,
                }),
                Some(_) if dir_syntax => Err(K::NotADirectory),
                Some(Entry::File(ino)) => Ok(Outcome::Stat {
                    kind: FileKind::File,
                    size: m.data(ino).len() as u64,
                    nlink: m.names(ino),
                }),
                Some(Entry::Symlink(ino)) => Ok(Outcome::Stat {
                    kind: FileKind::Symlink,
                    size: m.target(ino).len() as u64,
                    nlink: m.names(ino),
                }),
            })
        })
    }

    /// `open`, rules 1, 3 and 4 of the contract (the model is writable);
    /// gives the path opened, every link followed.
    fn open(&mut self, path: &str, flags: OpenFlags) -> Result<String, FsErrorKind> {
        self.resolving(path, |m, p, dir_syntax| {
            if (flags.truncate && !flags.can_write()) || (flags.directory && flags.mutates()) {
                return Try::Done(Err(K::InvalidInput));
            }
            let follow_last = dir_syntax || !(flags.nofollow || flags.create_new);
            let entry = found!(m.lookup(p, follow_last));
            Try::Done(match entry {
                Some(_) if flags.create_new => Err(K::AlreadyExists),
                // Only `nofollow` leaves a link here.
                Some(Entry::Symlink(_)) => Err(K::Loop),
                Some(Entry::Dir) if flags.mutates() => Err(K::IsADirectory),
                Some(Entry::Dir) => Ok(p.to_owned()),
                Some(Entry::File(_)) if flags.directory || dir_syntax => Err(K::NotADirectory),
                Some(Entry::File(ino)) => {
                    if flags.truncate
                        && let Some(Inode::Data(data)) = m.inodes.get_mut(&ino)
                    {
                        data.clear();
                    }
                    Ok(p.to_owned())
                }
                None if flags.creates() && dir_syntax => Err(K::IsADirectory),
                None if flags.creates() => {
                    let ino = m.new_inode(Inode::Data(Vec::new()));
                    m.entries.insert(p.to_owned(), Entry::File(ino));
                    Ok(p.to_owned())
                }
                None => Err(K::NotFound),
            })
        })
    }

    /// Opens an existing file for writing and gives its bytes.
    fn open_file(&mut self, path: &str, flags: OpenFlags) -> Result<&mut Vec<u8>, FsErrorKind> {
        let p = self.open(path, flags)?;
        match self.entries.get(&p) {
            Some(Entry::File(ino)) => match self.inodes.get_mut(ino) {
                Some(Inode::Data(data)) => Ok(data),
                _ => unreachable!("the file {p} has no data"),
            },
            _ => unreachable!("opening {p} for writing succeeded, so it is a file"),
        }
    }

    /// One try of `rename`, with the namespace rules first when there are
    /// mount points.
    fn rename(&mut self, (f, from_dir): (&str, bool), (t, to_dir): (&str, bool)) -> Try<Outcome> {
        // 1. The root.
        if f == "/" || t == "/" {
            return Try::Done(Err(K::PermissionDenied));
        }
        // Namespace: mount points, then different mounts.
        if self.mounts.contains(f) || self.mounts.contains(t) {
            return Try::Done(Err(K::PermissionDenied));
        }
        if self.mount_of(f) != self.mount_of(t) {
            return Try::Done(Err(K::CrossDevice));
        }
        // 2. `from` must exist; a link is renamed, not followed (and is no
        // directory, whatever it leads to).
        let from = match found!(self.lookup(f, false)) {
            None => return Try::Done(Err(K::NotFound)),
            Some(Entry::File(_) | Entry::Symlink(_)) if from_dir => {
                return Try::Done(Err(K::NotADirectory));
            }
            Some(entry) => entry,
        };
        let from_is_dir = from == Entry::Dir;
        // 3. Into its own subtree.
        if from_is_dir && path::is_strict_descendant(t, f) {
            return Try::Done(Err(K::InvalidInput));
        }
        // 4. Onto itself.
        if f == t {
            return Try::Done(Ok(Outcome::Done));
        }
        // 5 and 6. The parent of `to`, and what `to` is.
        let to = found!(self.lookup(t, false));
        let refused = match (from_is_dir, to) {
            (false, Some(Entry::Dir)) => Some(K::IsADirectory),
            (true, Some(Entry::File(_) | Entry::Symlink(_))) => Some(K::NotADirectory),
            (true, Some(Entry::Dir)) if self.has_children(t) => Some(K::NotEmpty),
            (false, _) if to_dir => Some(K::NotADirectory),
            _ => None,
        };
        if let Some(k) = refused {
            return Try::Done(Err(k));
        }
        // Two names of one file (or link): POSIX leaves both as they are.
        if let (Entry::File(a) | Entry::Symlink(a), Some(Entry::File(b) | Entry::Symlink(b))) =
            (from, to)
            && a == b
        {
            return Try::Done(Ok(Outcome::Done));
        }
        self.unname(t);
        let moving: Vec<String> = self
            .entries
            .keys()
            .filter(|k| path::starts_with(k, f))
            .cloned()
            .collect();
        for old in moving {
            let entry = self.entries.remove(&old).expect("listed just now");
            let rest = &old[f.len()..];
            self.entries.insert(format!("{t}{rest}"), entry);
        }
        Try::Done(Ok(Outcome::Done))
    }

    /// One try of `link`, with the namespace rules first when there are
    /// mount points.
    fn link(&mut self, (f, from_dir): (&str, bool), (t, to_dir): (&str, bool)) -> Try<Outcome> {
        if self.mounts.contains(f) {
            return Try::Done(Err(K::PermissionDenied));
        }
        if self.mounts.contains(t) {
            return Try::Done(Err(K::AlreadyExists));
        }
        if self.mount_of(f) != self.mount_of(t) {
            return Try::Done(Err(K::CrossDevice));
        }
        let from = match found!(self.lookup(f, from_dir)) {
            None => return Try::Done(Err(K::NotFound)),
            Some(Entry::Dir) => return Try::Done(Err(K::PermissionDenied)),
            Some(_) if from_dir => return Try::Done(Err(K::NotADirectory)),
            Some(entry) => entry,
        };
        Try::Done(match found!(self.lookup(t, to_dir)) {
            Some(_) => Err(K::AlreadyExists),
            None if to_dir => Err(K::NotFound),
            None => {
                self.entries.insert(t.to_owned(), from);
                Ok(Outcome::Done)
            }
        })
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
        self.entries.keys().any(|k| path::parent(k) == Some(dir))
    }

    fn children(&self, dir: &str) -> Vec<(String, FileKind, u64)> {
        self.entries
            .iter()
            .filter_map(|(k, entry)| {
                let (parent, name) = path::split(k)?;
                (parent == dir).then(|| match *entry {
                    Entry::Dir => (name.to_owned(), FileKind::Directory, 0),
                    Entry::File(ino) => {
                        (name.to_owned(), FileKind::File, self.data(ino).len() as u64)
                    }
                    Entry::Symlink(ino) => (
                        name.to_owned(),
                        FileKind::Symlink,
                        self.target(ino).len() as u64,
                    ),
                })
            })
            .collect()
    }

    fn new_inode(&mut self, inode: Inode) -> u64 {
        let ino = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(ino, inode);
        ino
    }

    fn data(&self, ino: u64) -> &[u8] {
        match self.inodes.get(&ino) {
            Some(Inode::Data(data)) => data,
            other => unreachable!("the file {ino} holds {other:?}"),
        }
    }

    fn target(&self, ino: u64) -> String {
        match self.inodes.get(&ino) {
            Some(Inode::Target(t)) => t.clone(),
            other => unreachable!("the link {ino} holds {other:?}"),
        }
    }

    /// How many names the file or link `ino` has.
    fn names(&self, ino: u64) -> u64 {
        let count = self
            .entries
            .values()
            .filter(|e| matches!(e, Entry::File(i) | Entry::Symlink(i) if *i == ino))
            .count();
        count as u64
    }

    /// Takes the name `p` away (if it is one), and the content with the
    /// last name.
    fn unname(&mut self, p: &str) {
        if let Some(Entry::File(ino) | Entry::Symlink(ino)) = self.entries.remove(p)
            && self.names(ino) == 0
        {
            self.inodes.remove(&ino);
        }
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
/// levels deep, sometimes written with a trailing `/`, sometimes malformed;
/// and, when asked for, the link ops.
#[derive(Debug, Clone)]
pub struct OpSpace {
    names: Vec<String>,
    max_depth: usize,
    links: LinkSupport,
}

impl Default for OpSpace {
    /// Names `a`, `b` and `c`, up to three levels deep, no link ops.
    fn default() -> Self {
        Self::new(["a", "b", "c"])
    }
}

impl OpSpace {
    /// Paths made of `names`, up to three levels deep, no link ops.
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
            links: LinkSupport::None,
        }
    }

    /// Paths up to `depth` levels deep (at least 1).
    #[must_use]
    pub fn max_depth(mut self, depth: usize) -> Self {
        self.max_depth = depth.max(1);
        self
    }

    /// Generates the ops of the links `support` covers too: with symbolic
    /// links [`Op::Symlink`], [`Op::Readlink`], [`Op::Lstat`] and `nofollow`
    /// among the open flags; with hard links also [`Op::Link`].
    #[must_use]
    pub fn links(mut self, support: LinkSupport) -> Self {
        self.links = support;
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

    /// Paths for renames and hard links: canonical, sometimes malformed.
    fn rename_path(&self) -> BoxedStrategy<String> {
        prop_oneof![92 => self.canonical_path(), 8 => self.malformed_path()].boxed()
    }

    /// Targets of symbolic links: relative or absolute paths of the names,
    /// `.` and `..`, sometimes ending with `/`; now and then one that
    /// `symlink` refuses (empty, a NUL byte) or that cannot be followed (a
    /// component too long).
    pub fn target(&self) -> BoxedStrategy<String> {
        let comp = prop_oneof![
            6 => proptest::sample::select(self.names.clone()),
            1 => Just("..".to_owned()),
            1 => Just(".".to_owned()),
        ];
        let relative =
            proptest::collection::vec(comp, 1..=self.max_depth).prop_map(|c| c.join("/"));
        prop_oneof![
            12 => relative.clone(),
            5 => relative.clone().prop_map(|t| format!("/{t}")),
            2 => relative.prop_map(|t| format!("{t}/")),
            1 => Just("/".to_owned()),
            1 => Just(String::new()),
            1 => Just("a\0".to_owned()),
            1 => Just("n".repeat(path::MAX_NAME_LEN + 1)),
        ]
        .boxed()
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
        let flags = if self.links.symlinks() {
            prop_oneof![
                4 => Self::flags(),
                1 => Self::flags().prop_map(|f| f.with_nofollow(true)),
            ]
            .boxed()
        } else {
            Self::flags()
        };
        let mut ops: Vec<(u32, BoxedStrategy<Op>)> = vec![
            (
                4,
                (self.path(), flags)
                    .prop_map(|(path, flags)| Op::Open { path, flags })
                    .boxed(),
            ),
            (
                3,
                (self.path(), 0..12u64, data())
                    .prop_map(|(path, offset, data)| Op::WriteAt { path, offset, data })
                    .boxed(),
            ),
            (
                2,
                (self.path(), data())
                    .prop_map(|(path, data)| Op::Append { path, data })
                    .boxed(),
            ),
            (
                1,
                (self.path(), 0..12u64)
                    .prop_map(|(path, len)| Op::SetLen { path, len })
                    .boxed(),
            ),
            (2, self.path().prop_map(|path| Op::Read { path }).boxed()),
            (2, self.path().prop_map(|path| Op::Stat { path }).boxed()),
            (2, self.path().prop_map(|path| Op::Readdir { path }).boxed()),
            (3, self.path().prop_map(|path| Op::Mkdir { path }).boxed()),
            (2, self.path().prop_map(|path| Op::Remove { path }).boxed()),
            (
                4,
                (self.rename_path(), self.rename_path())
                    .prop_map(|(from, to)| Op::Rename { from, to })
                    .boxed(),
            ),
        ];
        if self.links.symlinks() {
            ops.push((
                5,
                (self.target(), self.path())
                    .prop_map(|(target, link)| Op::Symlink { target, link })
                    .boxed(),
            ));
            ops.push((
                1,
                self.path().prop_map(|path| Op::Readlink { path }).boxed(),
            ));
            ops.push((2, self.path().prop_map(|path| Op::Lstat { path }).boxed()));
        }
        if self.links.hard_links() {
            ops.push((
                2,
                (self.rename_path(), self.rename_path())
                    .prop_map(|(from, to)| Op::Link { from, to })
                    .boxed(),
            ));
        }
        Union::new_weighted(ops).boxed()
    }

    /// Sequences of up to `max_len` ops.
    pub fn ops(&self, max_len: usize) -> BoxedStrategy<Vec<Op>> {
        proptest::collection::vec(self.op(), 0..=max_len).boxed()
    }
}

#[cfg(test)]
mod tests;
