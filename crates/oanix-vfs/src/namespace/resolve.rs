//! Resolution: the namespace's mount points, longest first, and the route a
//! path takes through them to the service (or union member) that holds it.

use std::fmt;
use std::sync::Arc;

use super::handle::{NsHandle, outer_path};
use super::synthetic::SyntheticDirs;
use super::table::{self, MountSpec, NsOp};
use crate::error::{FsError, FsErrorKind, Result};
use crate::path;
use crate::service::{FileHandle, FileService};

/// Services mounted at paths; see the [module docs](super).
#[derive(Clone)]
pub struct Namespace {
    /// Shared by every clone: a namespace never changes once built.
    inner: Arc<Inner>,
}

/// What a namespace is made of.
struct Inner {
    /// The mounts and binds that built it, in order.
    ops: Vec<NsOp>,
    /// The mount points they led to.
    table: Table,
}

/// One service of a mount point (one member of a union).
#[derive(Clone)]
pub(super) struct Member {
    /// The service.
    pub(super) service: Arc<dyn FileService>,
    /// Whether new files of the union may be created in it.
    pub(super) create: bool,
    /// Its device number in the namespace.
    pub(super) device: u64,
}

/// A path with one service, or a union of several, mounted on it.
#[derive(Clone)]
pub(super) struct MountPoint {
    /// The canonical mount point.
    pub(super) path: Arc<str>,
    /// The services, in search order.
    pub(super) members: Vec<Member>,
    /// Whether other mount points lie below this one (only then can a path
    /// inside it be a synthetic directory).
    pub(super) has_mounts_below: bool,
}

/// The mount points of a namespace and the synthetic directories they make.
#[derive(Clone, Default)]
pub(super) struct Table {
    /// Sorted by decreasing path length, so the first match is the longest.
    pub(super) mounts: Vec<MountPoint>,
    /// Directories above and between mount points.
    pub(super) synthetic: SyntheticDirs,
}

impl Table {
    /// Restores the order of the mounts and recomputes what depends on the
    /// set of mount points, after mount points were added.
    pub(super) fn rebuild(&mut self) {
        self.mounts
            .sort_by(|a, b| b.path.len().cmp(&a.path.len()).then(a.path.cmp(&b.path)));
        let paths: Vec<Arc<str>> = self.mounts.iter().map(|mp| Arc::clone(&mp.path)).collect();
        for mp in &mut self.mounts {
            mp.has_mounts_below = paths
                .iter()
                .any(|other| path::is_strict_descendant(other, &mp.path));
        }
        self.synthetic = SyntheticDirs::of_mounts(paths.iter().map(|p| &**p));
    }
}

/// Where a path leads: the mount point and the path inside it.
pub(super) struct Route<'a, 'p> {
    /// The mount point with the longest prefix of the path.
    pub(super) mount: &'a MountPoint,
    /// The rest of the path, as an absolute path inside the mount.
    pub(super) inner: &'p str,
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Namespace")
            .field("mount_table", &self.mount_table())
            .finish()
    }
}

impl PartialEq for Namespace {
    /// Two namespaces are equal when they were built by the same mounts and
    /// binds, in the same order, of the same service instances.
    fn eq(&self, other: &Self) -> bool {
        self.inner.ops == other.inner.ops
    }
}

impl Namespace {
    /// The namespace made by `ops`, whose mount points are `table` (rebuilt
    /// here).
    pub(super) fn from_parts(ops: Vec<NsOp>, mut table: Table) -> Self {
        table.rebuild();
        Self {
            inner: Arc::new(Inner { ops, table }),
        }
    }

    /// The service holding `path` and the path inside it, or `None` when no
    /// mount covers it. In a union, the member that has the path (or, when
    /// none has it, the one a new file would be created in).
    pub fn resolve(&self, path: &str) -> Option<(&dyn FileService, String)> {
        let p = path::parse(path).ok()?;
        let route = self.route(p.as_str())?;
        let member = self.pick_member(&route).unwrap_or(&route.mount.members[0]);
        Some((member.service.as_ref(), route.inner.to_owned()))
    }

    /// The mount points, longest first, each with the number of services
    /// mounted on it (more than one for a union).
    pub fn mount_points(&self) -> Vec<(String, usize)> {
        self.inner
            .table
            .mounts
            .iter()
            .map(|mp| (mp.path.to_string(), mp.members.len()))
            .collect()
    }

    /// The mounts and binds that built this namespace, in order.
    pub fn specs(&self) -> Vec<MountSpec> {
        self.inner.ops.iter().map(MountSpec::from_op).collect()
    }

    /// The mount table as replayable text (see the [module docs](super)).
    pub fn mount_table(&self) -> String {
        table::print(&self.specs())
    }

    /// The mount points and synthetic directories.
    pub(super) fn table(&self) -> &Table {
        &self.inner.table
    }

    /// The mount point with the longest prefix of `path` (canonical), and
    /// the rest of the path.
    pub(super) fn route<'a, 'p>(&'a self, path: &'p str) -> Option<Route<'a, 'p>> {
        for mp in &self.inner.table.mounts {
            if let Some(inner) = path::strip_prefix(path, &mp.path) {
                return Some(Route { mount: mp, inner });
            }
        }
        None
    }

    /// Whether `path` (canonical) is a synthetic directory.
    pub(super) fn is_synthetic(&self, path: &str) -> bool {
        self.inner.table.synthetic.contains(path)
    }

    /// `is_synthetic`, skipping the lookup when the route rules it out.
    pub(super) fn synthetic_at(&self, route: Option<&Route<'_, '_>>, path: &str) -> bool {
        match route {
            Some(r) if !r.mount.has_mounts_below => false,
            _ => self.is_synthetic(path),
        }
    }

    /// The union member that has `route.inner` (first hit), if any.
    pub(super) fn pick_member<'a>(&self, route: &Route<'a, '_>) -> Option<&'a Member> {
        let members = &route.mount.members;
        if members.len() == 1 {
            return members.first();
        }
        members.iter().find(|m| match m.service.stat(route.inner) {
            Ok(_) => true,
            Err(e) => e.kind() != FsErrorKind::NotFound,
        })
    }

    /// The union member where `route.inner` would be created.
    pub(super) fn create_member<'a>(
        &self,
        route: &Route<'a, '_>,
        full: &str,
    ) -> Result<&'a Member> {
        let members = &route.mount.members;
        if members.len() == 1 {
            return Ok(&members[0]);
        }
        let parent = path::parent(route.inner).unwrap_or("/");
        let mut any_create = false;
        for m in members.iter().filter(|m| m.create) {
            any_create = true;
            if m.service.stat(parent).is_ok_and(|md| md.is_dir()) {
                return Ok(m);
            }
        }
        if any_create {
            Err(FsError::not_found(full))
        } else {
            Err(FsError::permission_denied(
                full,
                "no member of this union directory accepts new files",
            ))
        }
    }

    /// `err` from a service of `route`, with its paths named in the namespace.
    pub(super) fn outer_error(route: &Route<'_, '_>, err: FsError) -> FsError {
        let mount: &str = &route.mount.path;
        err.map_paths(|p| outer_path(mount, p))
    }

    /// Whether a mounted service has a real directory at `path`.
    pub(super) fn service_has_dir(&self, path: &str) -> bool {
        self.route(path).is_some_and(|route| {
            route
                .mount
                .members
                .iter()
                .any(|m| m.service.stat(route.inner).is_ok_and(|md| md.is_dir()))
        })
    }

    /// The error for creating something where no service is mounted.
    pub(super) fn no_service(&self, full: &str) -> FsError {
        match path::parent(full) {
            Some(parent) if self.is_synthetic(parent) => {
                FsError::permission_denied(full, "no service is mounted here")
            }
            _ => FsError::not_found(full),
        }
    }

    /// `handle`, opened by `member` of `route`, as a handle of the namespace.
    pub(super) fn wrap(
        route: &Route<'_, '_>,
        member: &Member,
        handle: Box<dyn FileHandle>,
    ) -> Box<dyn FileHandle> {
        Box::new(NsHandle {
            inner: handle,
            mount: Arc::clone(&route.mount.path),
            device: member.device,
        })
    }
}
