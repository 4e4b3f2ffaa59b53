//! [`NamespaceBuilder`]: a namespace made one mount or bind at a time, each
//! step applied to the mount points at once, so that a bind or a union sees
//! the namespace as it stands at that point.

use std::fmt;
use std::panic::Location;
use std::sync::Arc;

use super::bind::BindFs;
use super::flags::{BindMode, MountFlags};
use super::resolve::{Member, MountPoint, Namespace, Table};
use super::table::{self, MountSpec, NsOp};
use crate::error::{FsError, Result};
use crate::path;
use crate::service::FileService;

impl Namespace {
    /// Starts building a namespace.
    pub fn builder() -> NamespaceBuilder {
        NamespaceBuilder::default()
    }
}

impl Default for Namespace {
    /// The empty namespace: only the root, an empty synthetic directory.
    fn default() -> Self {
        Self::builder().build()
    }
}

/// A mount or bind left out of the namespace because of its path.
#[derive(Debug)]
struct Refused {
    /// `"mount"` or `"bind"`.
    step: &'static str,
    /// Where in the program the step was made.
    location: &'static Location<'static>,
    /// What is wrong with the path.
    error: FsError,
}

/// Builds a [`Namespace`] one mount or bind at a time.
///
/// Mount points are written as paths (`"/task"`; `"task"` and `"/task/"` mean
/// the same). A path that cannot be one (a NUL byte, `..` above the root, an
/// empty path) is refused: [`build`](Self::build) panics on it, as a program
/// error, and [`try_build`](Self::try_build) returns it as an error. Use
/// `build` where the paths are written in the program and `try_build` where
/// they come from input (a manifest, a command line, a user).
///
/// ```
/// use oanix_vfs::{FsErrorKind, Namespace};
///
/// let ns = Namespace::builder().mount("/a", Namespace::default()).build();
/// assert_eq!(ns.mount_table(), "mount /a ns\n");
///
/// let from_input = "/../etc";
/// let err = Namespace::builder()
///     .mount(from_input, Namespace::default())
///     .try_build()
///     .unwrap_err();
/// assert_eq!(err.kind(), FsErrorKind::Escape);
/// ```
#[derive(Default)]
pub struct NamespaceBuilder {
    /// The steps taken, in order (refused ones left out).
    ops: Vec<NsOp>,
    /// The mount points so far.
    table: Table,
    /// The device number of the last member made.
    next_device: u64,
    /// The steps refused for their paths, in order.
    refused: Vec<Refused>,
}

impl fmt::Debug for NamespaceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let errors: Vec<&FsError> = self.refused.iter().map(|r| &r.error).collect();
        f.debug_struct("NamespaceBuilder")
            .field("mounts", &self.ops.len())
            .field("errors", &errors)
            .finish()
    }
}

impl NamespaceBuilder {
    /// Mounts `service` at `path`, replacing what was there.
    #[must_use]
    #[track_caller]
    pub fn mount(self, path: &str, service: impl FileService + 'static) -> Self {
        self.mount_with(path, service, MountFlags::replace())
    }

    /// Mounts `service` at `path` with `flags` (replace, before, after, create).
    #[must_use]
    #[track_caller]
    pub fn mount_with(
        self,
        path: &str,
        service: impl FileService + 'static,
        flags: MountFlags,
    ) -> Self {
        let source = service.fs_type().to_owned();
        self.mount_shared(path, &source, Arc::new(service), flags)
    }

    /// Mounts an already shared service under an explicit source name (the
    /// name the mount table prints and a replay looks up).
    #[must_use]
    #[track_caller]
    pub fn mount_shared(
        mut self,
        path: &str,
        source: &str,
        service: Arc<dyn FileService>,
        flags: MountFlags,
    ) -> Self {
        match path::normalize(path) {
            Ok(target) => {
                let target = target.into_owned();
                self.apply_mount(&target, service.clone(), flags);
                self.ops.push(NsOp::Mount {
                    target,
                    source: source.to_owned(),
                    flags,
                    service,
                });
            }
            Err(error) => self.refuse("mount", error),
        }
        self
    }

    /// Makes what `existing` shows now visible at `target` too (replacing
    /// what `target` showed).
    #[must_use]
    #[track_caller]
    pub fn bind(self, existing: &str, target: &str) -> Self {
        self.bind_with(existing, target, MountFlags::replace())
    }

    /// Like [`bind`](Self::bind), with flags (to join a union at `target`).
    #[must_use]
    #[track_caller]
    pub fn bind_with(mut self, existing: &str, target: &str, flags: MountFlags) -> Self {
        match (path::normalize(existing), path::normalize(target)) {
            (Ok(existing), Ok(target)) => {
                let (existing, target) = (existing.into_owned(), target.into_owned());
                let view = self.snapshot_view(&existing);
                self.apply_mount(&target, view, flags);
                self.ops.push(NsOp::Bind {
                    existing,
                    target,
                    flags,
                });
            }
            (Err(error), _) | (_, Err(error)) => self.refuse("bind", error),
        }
        self
    }

    /// Replays a printed mount table (see [`Namespace::mount_table`]).
    /// `resolve(source, target)` supplies the service of each `mount` line.
    ///
    /// Errors name the line and what is wrong with it.
    pub fn from_mount_table(
        text: &str,
        mut resolve: impl FnMut(&str, &str) -> Option<Arc<dyn FileService>>,
    ) -> Result<Self> {
        let mut b = Self::default();
        for (line_no, spec) in table::parse(text)? {
            b = match spec {
                MountSpec::Mount {
                    target,
                    source,
                    flags,
                } => {
                    let Some(service) = resolve(&source, &target) else {
                        return Err(FsError::invalid_input(
                            format!("mount table line {line_no}"),
                            format!("no service for source `{source}` at {target}"),
                        ));
                    };
                    b.mount_shared(&target, &source, service, flags)
                }
                MountSpec::Bind {
                    existing,
                    target,
                    flags,
                } => b.bind_with(&existing, &target, flags),
            };
            if let Some(refused) = b.refused.pop() {
                return Err(FsError::invalid_input(
                    format!("mount table line {line_no}"),
                    refused.error.to_string(),
                ));
            }
        }
        Ok(b)
    }

    /// Builds the namespace.
    ///
    /// # Panics
    ///
    /// If a mount or bind was given a path that cannot be one (see
    /// [`path`](crate::path)); the message names the path, what is wrong
    /// with it and where the mount or bind was made. For paths that come from
    /// input, use [`try_build`](Self::try_build).
    #[track_caller]
    #[allow(
        clippy::panic,
        reason = "an invalid literal mount path is a program error; try_build reports it instead"
    )]
    pub fn build(self) -> Namespace {
        if let Some(refused) = self.refused.first() {
            panic!(
                "invalid namespace: the {} made at {} has a bad path: {} \
                 (use NamespaceBuilder::try_build for paths that come from input)",
                refused.step, refused.location, refused.error
            );
        }
        Namespace::from_parts(self.ops, self.table)
    }

    /// Builds the namespace, or returns the error of the first mount or bind
    /// whose path was invalid ([`FsError::InvalidPath`], [`FsError::Escape`]).
    pub fn try_build(mut self) -> Result<Namespace> {
        if !self.refused.is_empty() {
            return Err(self.refused.swap_remove(0).error);
        }
        Ok(Namespace::from_parts(self.ops, self.table))
    }

    /// Records a step refused for its path, and where it was made.
    #[track_caller]
    fn refuse(&mut self, step: &'static str, error: FsError) {
        self.refused.push(Refused {
            step,
            location: Location::caller(),
            error,
        });
    }

    /// The namespace as built so far.
    fn snapshot(&self) -> Namespace {
        Namespace::from_parts(self.ops.clone(), self.table.clone())
    }

    /// What `existing` shows in the namespace as built so far, as a service.
    fn snapshot_view(&self, existing: &str) -> Arc<dyn FileService> {
        Arc::new(BindFs {
            base: self.snapshot(),
            prefix: existing.to_owned(),
        })
    }

    /// Puts `service` on the mount point `target` as `flags` say.
    fn apply_mount(&mut self, target: &str, service: Arc<dyn FileService>, flags: MountFlags) {
        self.next_device += 1;
        let member = Member {
            service,
            create: flags.create,
            device: self.next_device,
        };
        let existing = self.table.mounts.iter().position(|mp| &*mp.path == target);
        match (flags.mode, existing) {
            (BindMode::Replace, Some(i)) => self.table.mounts[i].members = vec![member],
            (BindMode::Before, Some(i)) => self.table.mounts[i].members.insert(0, member),
            (BindMode::After, Some(i)) => self.table.mounts[i].members.push(member),
            (mode, None) => {
                let mut members = vec![member];
                if mode != BindMode::Replace && self.covers(target) {
                    // A new union: what the path shows now becomes the other member.
                    self.next_device += 1;
                    let old = Member {
                        service: self.snapshot_view(target),
                        create: false,
                        device: self.next_device,
                    };
                    if mode == BindMode::Before {
                        members.push(old);
                    } else {
                        members.insert(0, old);
                    }
                }
                self.table.mounts.push(MountPoint {
                    path: Arc::from(target),
                    members,
                    has_mounts_below: false,
                });
                self.table.rebuild();
            }
        }
    }

    /// Whether something in the namespace so far shows `target`: a mount
    /// covering it, or a synthetic directory.
    fn covers(&self, target: &str) -> bool {
        self.table
            .mounts
            .iter()
            .any(|mp| path::starts_with(target, &mp.path))
            || self.table.synthetic.contains(target)
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use super::*;
    use crate::error::FsErrorKind;

    /// The message `f` panics with, or `None` if it returns.
    fn panic_message(f: impl FnOnce() -> Namespace) -> Option<String> {
        let payload = catch_unwind(AssertUnwindSafe(f)).err()?;
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
    }

    #[test]
    fn build_panics_naming_the_bad_mount_path_and_where_it_was_mounted() {
        let line = line!() + 4;
        let message = panic_message(|| {
            Namespace::builder()
                .mount("/ok", Namespace::default())
                .mount("/../etc", Namespace::default())
                .build()
        });
        let message = message.unwrap_or_default();
        assert!(
            message.starts_with("invalid namespace: the mount made at "),
            "{message}"
        );
        assert!(
            message.contains(&format!("{}:{line}:", file!())),
            "the location of the mount call: {message}"
        );
        assert!(message.contains("/../etc"), "the path: {message}");
        assert!(message.contains("try_build"), "{message}");
    }

    #[test]
    fn build_panics_on_a_bad_bind_path() {
        let message = panic_message(|| {
            Namespace::builder()
                .mount("/ok", Namespace::default())
                .bind("/ok", "/a\0b")
                .build()
        })
        .unwrap_or_default();
        assert!(
            message.starts_with("invalid namespace: the bind made at "),
            "{message}"
        );
        assert!(message.contains(r#""/a\0b""#), "the path: {message}");
    }

    #[test]
    fn good_paths_build_and_try_build_alike() {
        let build = || {
            Namespace::builder()
                .mount("task", Namespace::default())
                .mount("/tools/", Namespace::default())
                .bind("/task", "/home/task")
        };
        assert_eq!(panic_message(|| build().build()), None);
        let ns = build().try_build().unwrap();
        assert_eq!(ns.mount_table(), build().build().mount_table());
        assert_eq!(
            ns.mount_table(),
            "mount /task ns\nmount /tools ns\nbind /task /home/task\n"
        );
    }

    #[test]
    fn try_build_returns_the_first_bad_path() {
        let err = Namespace::builder()
            .mount("", Namespace::default())
            .mount("/..", Namespace::default())
            .try_build()
            .unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::InvalidPath);
        let err = Namespace::builder()
            .bind("/..", "/b")
            .try_build()
            .unwrap_err();
        assert_eq!(err.kind(), FsErrorKind::Escape);
    }
}
