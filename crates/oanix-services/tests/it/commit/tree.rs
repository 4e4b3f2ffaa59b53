//! Snapshots of real directories (links described, not followed) and of an
//! overlay's view, for "nothing changed" and "the directory now shows what
//! the overlay showed" checks.

use std::collections::BTreeMap;
use std::path::Path;

use oanix_vfs::{FileKind, FileService, read_file};

/// What a path holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Dir,
    File(Vec<u8>),
    /// A symbolic link and where it leads (empty when the target is not
    /// known, as in an overlay's view).
    Link(String),
    /// A FIFO, socket or device.
    Other,
}

/// Every path below a root, as a virtual path (`/a/b`), with what it holds.
pub(crate) type Snapshot = BTreeMap<String, Entry>;

/// Everything below `dir`, recursively, links described by their targets
/// and not followed.
pub(crate) fn snapshot(dir: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    walk_real(dir, "", &mut out);
    out
}

fn walk_real(dir: &Path, prefix: &str, out: &mut Snapshot) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for e in entries {
        let name = e.file_name().into_string().unwrap();
        let vpath = format!("{prefix}/{name}");
        let p = e.path();
        let md = std::fs::symlink_metadata(&p).unwrap();
        let ft = md.file_type();
        if ft.is_symlink() {
            let target = std::fs::read_link(&p).unwrap();
            out.insert(vpath, Entry::Link(target.to_string_lossy().into_owned()));
        } else if ft.is_dir() {
            out.insert(vpath.clone(), Entry::Dir);
            walk_real(&p, &vpath, out);
        } else if ft.is_file() {
            out.insert(vpath, Entry::File(std::fs::read(&p).unwrap()));
        } else {
            out.insert(vpath, Entry::Other);
        }
    }
}

/// The names below `dir` (links not followed), tolerating a directory that
/// changes under the walk: for checks that no commit temporary is left.
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if std::fs::symlink_metadata(&p).is_ok_and(|md| md.is_dir()) {
                stack.push(p.clone());
            }
            out.push(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// The names below `dir` that a commit uses for its temporaries and
/// backups.
pub(crate) fn commit_names(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| {
            n.rsplit('/')
                .next()
                .is_some_and(|f| f.starts_with(".oanix-"))
        })
        .collect()
}

/// The same snapshot with link targets forgotten: what an overlay can see.
pub(crate) fn shape(snap: &Snapshot) -> Snapshot {
    snap.iter()
        .map(|(p, e)| {
            let e = match e {
                Entry::Link(_) => Entry::Link(String::new()),
                other => other.clone(),
            };
            (p.clone(), e)
        })
        .collect()
}

/// What a file service shows below its root (the overlay's virtual
/// `/.changes` and `/.diff` left out): directories, files with their bytes,
/// and, as `Link("")`, the entries it lists but cannot describe (links that
/// lead out of the workspace or nowhere).
pub(crate) fn view(fs: &dyn FileService) -> Snapshot {
    let mut out = Snapshot::new();
    walk_view(fs, "/", &mut out);
    out
}

fn walk_view(fs: &dyn FileService, dir: &str, out: &mut Snapshot) {
    for e in fs.readdir(dir).unwrap() {
        let p = oanix_vfs::path::join(dir, &e.name);
        if dir == "/" && (e.name == ".changes" || e.name == ".diff") {
            continue;
        }
        match e.kind {
            FileKind::Directory => {
                out.insert(p.clone(), Entry::Dir);
                walk_view(fs, &p, out);
            }
            FileKind::File => {
                let data = read_file(fs, &p).unwrap_or_else(|err| panic!("reading {p}: {err}"));
                out.insert(p, Entry::File(data));
            }
            _ => {
                out.insert(p, Entry::Link(String::new()));
            }
        }
    }
}

/// A project below `<tmp>/root`, with a sentinel directory `<tmp>/outside`
/// that no commit may touch.
pub(crate) struct Project {
    pub(crate) tmp: tempfile::TempDir,
}

impl Project {
    /// The standard project:
    ///
    /// ```text
    /// README.md  obsolete.txt  src/main.rs  src/util/mod.rs  src/util/deep/x.rs
    /// ```
    /// and `outside/secret.txt` beside it.
    pub(crate) fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir_all(root.join("src/util/deep")).unwrap();
        std::fs::write(root.join("README.md"), "# demo\n").unwrap();
        std::fs::write(root.join("obsolete.txt"), "remove me\n").unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}\n").unwrap();
        std::fs::write(root.join("src/util/mod.rs"), "pub mod deep;\n").unwrap();
        std::fs::write(root.join("src/util/deep/x.rs"), "// x\n").unwrap();
        std::fs::create_dir(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("outside/secret.txt"), "secret\n").unwrap();
        Self { tmp }
    }

    /// An empty project (and the sentinel beside it).
    pub(crate) fn empty() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("root")).unwrap();
        std::fs::create_dir(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("outside/secret.txt"), "secret\n").unwrap();
        Self { tmp }
    }

    pub(crate) fn root(&self) -> std::path::PathBuf {
        self.tmp.path().join("root")
    }

    pub(crate) fn outside(&self) -> std::path::PathBuf {
        self.tmp.path().join("outside")
    }
}

/// `snap` without the entries at or below any of `paths`.
pub(crate) fn without(snap: &Snapshot, paths: &[String]) -> Snapshot {
    snap.iter()
        .filter(|(p, _)| !paths.iter().any(|l| oanix_vfs::path::starts_with(p, l)))
        .map(|(p, e)| (p.clone(), e.clone()))
        .collect()
}

/// What a directory must hold when the changes `applied` are in effect and
/// the paths `missing` are gone: `before`, changed accordingly (new content
/// taken from the overlay's `view`).
pub(crate) fn expected(
    before: &Snapshot,
    view: &Snapshot,
    applied: &[oanix_prims::Change],
    missing: &[String],
) -> Snapshot {
    let mut gone: Vec<String> = missing.to_vec();
    let mut put = Vec::new();
    for c in applied {
        if c.after.is_none() {
            gone.push(c.path.clone());
        } else {
            put.push(c.path.as_str());
        }
    }
    let mut out = without(before, &gone);
    for p in put {
        let entry = view
            .get(p)
            .unwrap_or_else(|| panic!("{p} is applied but not in the view"));
        out.insert(p.to_owned(), entry.clone());
    }
    out
}
