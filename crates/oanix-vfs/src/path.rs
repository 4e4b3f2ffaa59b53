//! Virtual paths: the one place where paths are checked and normalised.
//!
//! Every OANIX path is a `/`-separated UTF-8 string. [`parse`] (and its
//! shorthand [`normalize`]) turn whatever a caller wrote into the canonical
//! form used everywhere else: absolute, no `.` or `..` components, no empty
//! components, no trailing slash (the root is `"/"`).
//!
//! | input | result |
//! |---|---|
//! | `""` | [`FsError::InvalidPath`] |
//! | `"a/b"` | `"/a/b"` (relative paths start at the root) |
//! | `"/a//b/./c/"` | `"/a/b/c"`, remembered as naming a directory |
//! | `"/a/../b"` | `"/b"` |
//! | `"/.."`, `"/a/../.."` | [`FsError::Escape`]: `..` never climbs above the root |
//! | a NUL byte anywhere | [`FsError::InvalidPath`] |
//! | a component over [`MAX_NAME_LEN`] bytes, a path over [`MAX_PATH_LEN`] bytes | [`FsError::InvalidPath`] |
//!
//! A path that is already canonical is returned borrowed, after one scan
//! and without allocating: that is the common case, and the one that
//! keeps a [`Namespace`](crate::Namespace) cheap.

use std::borrow::Cow;

use crate::error::{FsError, Result};

/// The longest file name (one path component), in bytes.
pub const MAX_NAME_LEN: usize = 255;
/// The longest path, in bytes.
pub const MAX_PATH_LEN: usize = 4096;

/// A parsed, canonical path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VPath<'a> {
    path: Cow<'a, str>,
    dir_syntax: bool,
}

impl<'a> VPath<'a> {
    /// The canonical path (`"/"` or `"/a/b"`).
    pub fn as_str(&self) -> &str {
        &self.path
    }

    /// Whether the caller wrote the path in a form that can only name a
    /// directory (a trailing `/`, `/.` or `/..`). Services answer
    /// [`FsError::NotADirectory`] when such a path names a file, as POSIX does.
    pub fn is_dir_syntax(&self) -> bool {
        self.dir_syntax
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.path.len() == 1
    }

    /// Turns the path into its canonical string.
    pub fn into_cow(self) -> Cow<'a, str> {
        self.path
    }
}

/// Parses and normalises `path` (see the [module docs](self)).
pub fn parse(path: &str) -> Result<VPath<'_>> {
    if let Some(dir_syntax) = canonical_fast(path)? {
        return Ok(VPath {
            path: Cow::Borrowed(path),
            dir_syntax,
        });
    }
    slow_parse(path)
}

/// Parses `path` and returns its canonical form (see the [module docs](self)).
pub fn normalize(path: &str) -> Result<Cow<'_, str>> {
    parse(path).map(VPath::into_cow)
}

/// One scan over `path`. `Ok(Some(false))` when it is already canonical,
/// `Ok(None)` when it needs rewriting, an error when it can never be valid.
fn canonical_fast(path: &str) -> Result<Option<bool>> {
    let bytes = path.as_bytes();
    if bytes.is_empty() {
        return Err(FsError::invalid_path(path, "empty path"));
    }
    if bytes.len() > MAX_PATH_LEN {
        return Err(FsError::invalid_path(
            truncate_for_message(path),
            format!("longer than {MAX_PATH_LEN} bytes"),
        ));
    }
    if bytes[0] != b'/' {
        return Ok(None);
    }
    if bytes.len() == 1 {
        return Ok(Some(false));
    }
    let mut start = 1;
    for i in 1..=bytes.len() {
        let at_end = i == bytes.len();
        if !at_end {
            match bytes[i] {
                b'/' => {}
                0 => return Err(FsError::invalid_path(path, "contains a NUL byte")),
                _ => continue,
            }
        }
        let comp = &bytes[start..i];
        match comp {
            b"" | b"." | b".." => return Ok(None),
            _ if comp.len() > MAX_NAME_LEN => {
                return Err(FsError::invalid_path(
                    truncate_for_message(path),
                    format!("a component is longer than {MAX_NAME_LEN} bytes"),
                ));
            }
            _ => {}
        }
        start = i + 1;
    }
    Ok(Some(false))
}

fn slow_parse(path: &str) -> Result<VPath<'static>> {
    if path.as_bytes().contains(&0) {
        return Err(FsError::invalid_path(path, "contains a NUL byte"));
    }
    let mut parts: Vec<&str> = Vec::new();
    let mut last_was_name = false;
    for comp in path.split('/') {
        match comp {
            "" | "." => last_was_name = false,
            ".." => {
                if parts.pop().is_none() {
                    return Err(FsError::escape(path));
                }
                last_was_name = false;
            }
            name => {
                if name.len() > MAX_NAME_LEN {
                    return Err(FsError::invalid_path(
                        truncate_for_message(path),
                        format!("a component is longer than {MAX_NAME_LEN} bytes"),
                    ));
                }
                parts.push(name);
                last_was_name = true;
            }
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    if out.len() > MAX_PATH_LEN {
        return Err(FsError::invalid_path(
            truncate_for_message(path),
            format!("longer than {MAX_PATH_LEN} bytes"),
        ));
    }
    Ok(VPath {
        path: Cow::Owned(out),
        dir_syntax: !last_was_name && !parts.is_empty(),
    })
}

fn truncate_for_message(path: &str) -> String {
    const KEEP: usize = 64;
    if path.len() <= KEEP {
        return path.to_owned();
    }
    let mut end = KEEP;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &path[..end])
}

/// Checks one file name (a single path component).
pub fn validate_name(name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        "empty name"
    } else if name == "." || name == ".." {
        "`.` and `..` are not names"
    } else if name.contains('/') {
        "a name cannot contain `/`"
    } else if name.contains('\0') {
        "contains a NUL byte"
    } else if name.len() > MAX_NAME_LEN {
        "name longer than 255 bytes"
    } else {
        return Ok(());
    };
    Err(FsError::invalid_path(truncate_for_message(name), reason))
}

/// The parent of a canonical path: `"/a/b"` → `"/a"`, `"/a"` → `"/"`, `"/"` → `None`.
pub fn parent(path: &str) -> Option<&str> {
    if path.len() <= 1 {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

/// The last component of a canonical path (`None` for the root).
pub fn file_name(path: &str) -> Option<&str> {
    if path.len() <= 1 {
        return None;
    }
    path.rfind('/').map(|i| &path[i + 1..])
}

/// Splits a canonical path into its parent and its last component.
pub fn split(path: &str) -> Option<(&str, &str)> {
    Some((parent(path)?, file_name(path)?))
}

/// Joins a canonical directory path and a name.
pub fn join(dir: &str, name: &str) -> String {
    let mut out = String::with_capacity(dir.len() + 1 + name.len());
    out.push_str(dir);
    if !dir.ends_with('/') {
        out.push('/');
    }
    out.push_str(name);
    out
}

/// The components of a canonical path (none for the root).
pub fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|c| !c.is_empty())
}

/// If `path` is `prefix` or lies below it (on a component boundary), the
/// rest of it as a canonical path inside `prefix`: `("/tools/x", "/tools")`
/// → `"/x"`, `("/tools", "/tools")` → `"/"`, `("/toolsx", "/tools")` → `None`.
pub fn strip_prefix<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    if prefix == "/" {
        return Some(path);
    }
    let rest = path.strip_prefix(prefix)?;
    if rest.is_empty() {
        Some("/")
    } else if rest.starts_with('/') {
        Some(rest)
    } else {
        None
    }
}

/// Whether `path` is `ancestor` or lies below it.
pub fn starts_with(path: &str, ancestor: &str) -> bool {
    strip_prefix(path, ancestor).is_some()
}

/// Whether `path` lies strictly below `ancestor`.
pub fn is_strict_descendant(path: &str, ancestor: &str) -> bool {
    path != ancestor && starts_with(path, ancestor)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FsErrorKind;

    fn ok(p: &str) -> String {
        normalize(p).unwrap().into_owned()
    }
    fn err(p: &str) -> FsErrorKind {
        normalize(p).unwrap_err().kind()
    }

    #[test]
    fn canonical_paths_are_borrowed() {
        for p in ["/", "/a", "/a/b.txt", "/.hidden/..x/...", "/a b/c"] {
            assert!(matches!(normalize(p).unwrap(), Cow::Borrowed(_)), "{p}");
            assert_eq!(ok(p), p);
        }
    }

    #[test]
    fn rewrites() {
        assert_eq!(ok("a/b"), "/a/b");
        assert_eq!(ok("//a///b//"), "/a/b");
        assert_eq!(ok("/a/./b/."), "/a/b");
        assert_eq!(ok("/a/../b"), "/b");
        assert_eq!(ok("/a/b/../.."), "/");
        assert_eq!(ok("."), "/");
        assert_eq!(ok("./"), "/");
        assert_eq!(ok("/a/.."), "/");
    }

    #[test]
    fn dir_syntax_is_remembered() {
        assert!(parse("/a/").unwrap().is_dir_syntax());
        assert!(parse("/a/.").unwrap().is_dir_syntax());
        assert!(parse("/a/b/..").unwrap().is_dir_syntax());
        assert!(!parse("/a").unwrap().is_dir_syntax());
        assert!(!parse("/a//b").unwrap().is_dir_syntax());
        assert!(!parse("/").unwrap().is_dir_syntax());
    }

    #[test]
    fn bad_paths() {
        assert_eq!(err(""), FsErrorKind::InvalidPath);
        assert_eq!(err("/a\0b"), FsErrorKind::InvalidPath);
        assert_eq!(err("a/\0"), FsErrorKind::InvalidPath);
        assert_eq!(err(".."), FsErrorKind::Escape);
        assert_eq!(err("/.."), FsErrorKind::Escape);
        assert_eq!(err("/a/../../b"), FsErrorKind::Escape);
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert_eq!(err(&format!("/{long}")), FsErrorKind::InvalidPath);
        assert_eq!(err(&format!("/a/./{long}")), FsErrorKind::InvalidPath);
        assert_eq!(ok(&format!("/{}", "x".repeat(MAX_NAME_LEN))).len(), 256);
        let deep = "/abc".repeat(MAX_PATH_LEN / 4 + 1);
        assert_eq!(err(&deep), FsErrorKind::InvalidPath);
        let msg = normalize(&deep).unwrap_err().to_string();
        assert!(msg.len() < 200, "message is kept short: {msg}");
    }

    #[test]
    fn helpers() {
        assert_eq!(parent("/a/b"), Some("/a"));
        assert_eq!(parent("/a"), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(file_name("/a/b"), Some("b"));
        assert_eq!(file_name("/"), None);
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
        assert_eq!(components("/a/b").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(components("/").count(), 0);
        assert_eq!(strip_prefix("/tools/x", "/tools"), Some("/x"));
        assert_eq!(strip_prefix("/tools", "/tools"), Some("/"));
        assert_eq!(strip_prefix("/toolsx", "/tools"), None);
        assert_eq!(strip_prefix("/x", "/"), Some("/x"));
        assert!(is_strict_descendant("/a/b", "/a"));
        assert!(!is_strict_descendant("/a", "/a"));
        assert!(!is_strict_descendant("/ab", "/a"));
        assert!(validate_name("ok.txt").is_ok());
        for bad in ["", ".", "..", "a/b", "a\0"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }
}
