//! Symbolic links: how a lookup follows them.
//!
//! Services never follow a link themselves (see the
//! [contract](crate::service#the-contract)): a lookup that meets one where
//! it must be followed answers [`FsError::Symlink`], made by [`met`], and
//! the caller resolves it with [`follow`] (or [`follow2`] for the two paths
//! of `rename` and `link`). That keeps resolution in one place, and lets a
//! [`Namespace`](crate::Namespace) resolve a link's target in the whole
//! namespace, across mounts: an absolute target starts at the namespace's
//! root, a relative one at the directory holding the link.
//!
//! Rules, as POSIX path resolution where it applies:
//! - `..` in a target is taken lexically, after the link's directory: it
//!   never climbs above the root (`/..` is `/`), and so a target can never
//!   lead out of the root of whoever resolves it.
//! - At most [`MAX_HOPS`] links are followed for one lookup; one more gives
//!   [`FsError::Loop`], which is how a loop ends.
//! - A target ending with `/` (or a looked-up path ending with `/` after a
//!   link) must lead to a directory.
//!
//! Limit: `..` in the path a caller looks up is removed by
//! [`path::parse`] before any lookup, so `a/link/..`
//! is `a`, not the parent of the link's target (as in Plan 9, whose `..`
//! is lexical too).
//!
//! [`Follow`] serves one service on its own with its links followed, its
//! own root standing for `/`.

use crate::error::{FsError, Result};
use crate::path::{self, MAX_NAME_LEN, MAX_PATH_LEN, VPath};
use crate::service::{FileHandle, FileService};
use crate::types::{DirEntry, Metadata, OpenFlags, Timestamp};

/// The most links one lookup follows (Linux's limit).
pub const MAX_HOPS: usize = 40;

/// Checks a target given to `symlink` for the link at `link`: not empty,
/// no NUL byte, at most [`MAX_PATH_LEN`] bytes; anything else is stored
/// as it is (it need not exist).
pub fn check_target(link: &str, target: &str) -> Result<()> {
    if target.is_empty() {
        return Err(FsError::invalid_path(
            link,
            "a link's target cannot be empty",
        ));
    }
    if target.as_bytes().contains(&0) {
        return Err(FsError::invalid_path(
            link,
            "a link's target contains a NUL byte",
        ));
    }
    if target.len() > MAX_PATH_LEN {
        return Err(FsError::invalid_path(
            link,
            format!("a link's target is longer than {MAX_PATH_LEN} bytes"),
        ));
    }
    Ok(())
}

/// The error a service answers when its lookup of `path` meets a link that
/// must be followed: the link is the first `end` bytes of `path`'s
/// canonical form (`end` is the end of a component), and holds `target`.
pub fn met(path: &VPath<'_>, end: usize, target: impl Into<String>) -> FsError {
    met_at(path.as_str(), path.is_dir_syntax(), end, target)
}

/// [`met`] for a canonical `path` whose directory syntax (a trailing `/`
/// as written) is `dir_syntax`.
pub fn met_at(path: &str, dir_syntax: bool, end: usize, target: impl Into<String>) -> FsError {
    let end = end.min(path.len());
    let link = path.get(..end).unwrap_or(path);
    let tail = path.get(end..).unwrap_or("");
    FsError::Symlink {
        path: link.to_owned(),
        target: target.into(),
        rest: rest_of(tail, dir_syntax),
    }
}

/// The `rest` of a [`FsError::Symlink`]: what follows the link (`tail`,
/// empty or starting with `/`), relative, with a trailing `/` when the path
/// named a directory.
fn rest_of(tail: &str, dir_syntax: bool) -> String {
    let mut rest = tail.trim_start_matches('/').to_owned();
    if dir_syntax {
        rest.push('/');
    }
    rest
}

/// Where a lookup continues after the link at `link` (a canonical path)
/// holding `target`, with `rest` still to look up (as in
/// [`FsError::Symlink`]). The answer is canonical, with a trailing `/` when
/// it must name a directory.
pub fn next_path(link: &str, target: &str, rest: &str) -> Result<String> {
    check_target(link, target)?;
    let mut parts: Vec<&str> = Vec::new();
    if !target.starts_with('/') {
        parts.extend(path::components(path::parent(link).unwrap_or("/")));
    }
    let mut dir_syntax = false;
    for piece in [target, rest] {
        if piece.is_empty() {
            continue;
        }
        for comp in piece.split('/') {
            match comp {
                "" | "." => dir_syntax = true,
                ".." => {
                    parts.pop();
                    dir_syntax = true;
                }
                name => {
                    if name.len() > MAX_NAME_LEN {
                        return Err(FsError::invalid_path(
                            link,
                            format!(
                                "following the link gives a component longer than {MAX_NAME_LEN} bytes"
                            ),
                        ));
                    }
                    parts.push(name);
                    dir_syntax = false;
                }
            }
        }
    }
    let mut out = String::with_capacity(target.len() + rest.len() + link.len() + 2);
    for part in &parts {
        out.push('/');
        out.push_str(part);
    }
    if out.is_empty() || dir_syntax {
        out.push('/');
    }
    if out.len() > MAX_PATH_LEN {
        return Err(FsError::invalid_path(
            link,
            format!("following the link gives a path longer than {MAX_PATH_LEN} bytes"),
        ));
    }
    Ok(out)
}

/// Runs `op` on `path`, following every link it reports: each
/// [`FsError::Symlink`] rewrites the path (see [`next_path`]) and runs `op`
/// again, at most [`MAX_HOPS`] times; then [`FsError::Loop`] naming `path`.
pub fn follow<T>(path: &str, mut op: impl FnMut(&str) -> Result<T>) -> Result<T> {
    let mut current: Option<String> = None;
    for _ in 0..=MAX_HOPS {
        let at = current.as_deref().unwrap_or(path);
        match op(at) {
            Err(FsError::Symlink {
                path: link,
                target,
                rest,
            }) => current = Some(next_path(&link, &target, &rest)?),
            other => return other,
        }
    }
    Err(FsError::too_many_links(path))
}

/// [`follow`] for operations on two paths (`rename`, `link`): a link
/// reported by `op` rewrites each path that must follow it — the paths
/// that have it as a parent, or as their last component written with a
/// trailing `/`.
pub fn follow2<T>(a: &str, b: &str, mut op: impl FnMut(&str, &str) -> Result<T>) -> Result<T> {
    let (mut a, mut b) = (a.to_owned(), b.to_owned());
    let original = a.clone();
    for _ in 0..=MAX_HOPS {
        match op(&a, &b) {
            Err(FsError::Symlink {
                path: link, target, ..
            }) => {
                let mut moved = false;
                for p in [&mut a, &mut b] {
                    if let Some(rest) = rest_after(p, &link)? {
                        *p = next_path(&link, &target, &rest)?;
                        moved = true;
                    }
                }
                if !moved {
                    // A service that names a link neither path goes
                    // through: nothing to follow, so a loop.
                    return Err(FsError::too_many_links(original));
                }
            }
            other => return other,
        }
    }
    Err(FsError::too_many_links(original))
}

/// What follows `link` in `p`, when `p` must follow it.
fn rest_after(p: &str, link: &str) -> Result<Option<String>> {
    let parsed = path::parse(p)?;
    let s = parsed.as_str();
    let Some(tail) = path::strip_prefix(s, link) else {
        return Ok(None);
    };
    if tail == "/" && !parsed.is_dir_syntax() {
        // The link is the last component: these operations act on it.
        return Ok(None);
    }
    let tail = if tail == "/" { "" } else { tail };
    Ok(Some(rest_of(tail, parsed.is_dir_syntax())))
}

/// A service served with its links followed, its own root standing for
/// `/`: what a [`Namespace`](crate::Namespace) does for its mounts, for a
/// service used on its own.
#[derive(Debug, Clone, Default)]
pub struct Follow<S>(pub S);

impl<S: FileService> FileService for Follow<S> {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        follow(path, |p| self.0.open(p, flags))
    }
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        follow(path, |p| self.0.readdir(p))
    }
    fn stat(&self, path: &str) -> Result<Metadata> {
        follow(path, |p| self.0.stat(p))
    }
    fn lstat(&self, path: &str) -> Result<Metadata> {
        follow(path, |p| self.0.lstat(p))
    }
    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        follow(link, |p| self.0.symlink(target, p))
    }
    fn readlink(&self, path: &str) -> Result<String> {
        follow(path, |p| self.0.readlink(p))
    }
    fn link(&self, from: &str, to: &str) -> Result<()> {
        follow2(from, to, |f, t| self.0.link(f, t))
    }
    fn mkdir(&self, path: &str) -> Result<()> {
        follow(path, |p| self.0.mkdir(p))
    }
    fn remove(&self, path: &str) -> Result<()> {
        follow(path, |p| self.0.remove(p))
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        follow2(from, to, |f, t| self.0.rename(f, t))
    }
    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        follow(path, |p| self.0.set_times(p, accessed, modified))
    }
    fn fs_type(&self) -> &'static str {
        self.0.fs_type()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_targets_start_at_the_links_directory() {
        assert_eq!(next_path("/a/b/l", "c", "").unwrap(), "/a/b/c");
        assert_eq!(next_path("/a/b/l", "../c", "d/e").unwrap(), "/a/c/d/e");
        assert_eq!(next_path("/l", "x", "/").unwrap(), "/x/");
    }

    #[test]
    fn absolute_targets_start_at_the_root_and_never_climb_above_it() {
        assert_eq!(next_path("/a/b/l", "/x/y", "").unwrap(), "/x/y");
        assert_eq!(next_path("/a/l", "../../../../etc", "").unwrap(), "/etc");
        assert_eq!(next_path("/a/l", "../../..", "").unwrap(), "/");
        assert_eq!(
            next_path("/a/l", "../../../etc/passwd", "").unwrap(),
            "/etc/passwd"
        );
        assert_eq!(next_path("/a/l", "/..", "").unwrap(), "/");
    }

    #[test]
    fn a_target_that_ends_with_a_slash_must_be_a_directory() {
        assert_eq!(next_path("/l", "d/", "").unwrap(), "/d/");
        assert_eq!(next_path("/l", "d/.", "").unwrap(), "/d/");
        assert_eq!(next_path("/l", "d/", "x").unwrap(), "/d/x");
    }

    #[test]
    fn bad_targets_are_refused() {
        assert!(matches!(
            next_path("/l", "", ""),
            Err(FsError::InvalidPath { .. })
        ));
        assert!(matches!(
            next_path("/l", "a\0b", ""),
            Err(FsError::InvalidPath { .. })
        ));
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert!(matches!(
            next_path("/l", &long, ""),
            Err(FsError::InvalidPath { .. })
        ));
    }

    #[test]
    fn met_names_the_link_and_what_follows_it() {
        let p = path::parse("/a/l/b/c/").unwrap();
        let e = met(&p, 4, "t");
        assert_eq!(
            e,
            FsError::Symlink {
                path: "/a/l".into(),
                target: "t".into(),
                rest: "b/c/".into()
            }
        );
        let p = path::parse("/a/l/").unwrap();
        assert!(matches!(met(&p, 4, "t"), FsError::Symlink { rest, .. } if rest == "/"));
        let p = path::parse("/a/l").unwrap();
        assert!(matches!(met(&p, 4, "t"), FsError::Symlink { rest, .. } if rest.is_empty()));
    }

    #[test]
    fn follow_ends_a_loop_and_names_the_path() {
        let mut calls = 0;
        let r: Result<()> = follow("/a", |p| {
            calls += 1;
            Err(met(&path::parse(p).unwrap(), p.len(), "a"))
        });
        assert_eq!(r, Err(FsError::too_many_links("/a")));
        assert_eq!(calls, MAX_HOPS + 1);
    }

    #[test]
    fn follow2_rewrites_only_the_paths_that_go_through_the_link() {
        let mut seen = Vec::new();
        let r = follow2("/l", "/l/x", |a, b| {
            seen.push((a.to_owned(), b.to_owned()));
            if b.starts_with("/l/") {
                Err(FsError::Symlink {
                    path: "/l".into(),
                    target: "d".into(),
                    rest: "x".into(),
                })
            } else {
                Ok(())
            }
        });
        assert_eq!(r, Ok(()));
        assert_eq!(seen[1], ("/l".to_owned(), "/d/x".to_owned()));
    }
}
