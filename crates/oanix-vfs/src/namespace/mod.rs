//! `Namespace`: services composed by mounting them at paths, Plan 9 style.
//!
//! A namespace is built once with a [`NamespaceBuilder`] and is immutable
//! afterwards; cloning it is one reference-count increment. It implements
//! [`FileService`] itself, so namespaces nest and a runtime can hand one root
//! to a guest.
//!
//! **Resolution** is by longest prefix on component boundaries: with mounts at
//! `/tools` and `/tools/core`, `/tools/core/x` goes to the second, `/toolsx`
//! to neither. The part of the path below the mount point is handed to the
//! service as an absolute path (`/tools/core/x` → `/x`).
//!
//! **Synthetic directories**: directories above and between mount points (with
//! mounts at `/cap/http` and `/cap/ws`, the directory `/cap` and the root)
//! exist even when no service provides them, and list the mount points below
//! them; the root exists even with nothing mounted. A mount point always
//! appears as a directory in its parent's listing. Mount points and synthetic
//! directories cannot be removed or renamed (`PermissionDenied`); nothing can
//! be created in a synthetic directory that no service provides
//! (`PermissionDenied`).
//!
//! **Unions** ([`MountFlags`]): a mount may replace what is at its mount point
//! (the default) or join a union directory before or after it. A lookup takes
//! the first member that has the path; a listing merges the members, the
//! first one winning on duplicate names; a new file or directory goes to the
//! first member marked `create` that has its parent directory (a mount point
//! with one member always accepts creation). Renames stay within one member;
//! anything else is `CrossDevice`, as between different mounts.
//!
//! **Binds**: [`NamespaceBuilder::bind`] makes a path already in the namespace
//! visible at a second place, as Plan 9's `bind(1)`: the source is looked up
//! in the namespace as it stands at that point of the building.
//!
//! **Mount table**: [`Namespace::mount_table`] prints the mounts and binds in
//! order as text that [`NamespaceBuilder::from_mount_table`] replays:
//!
//! ```text
//! mount / memfs
//! mount /task taskfs
//! mount -bc /bin tools
//! bind /task /home/task
//! ```
//!
//! Errors coming out of a mount name the path in the namespace, not the path
//! inside the service.

mod table;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::io::SeekFrom;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{FsError, FsErrorKind, Result};
use crate::path::{self, VPath};
use crate::service::{DirHandle, FileHandle, FileService, check_open_flags};
use crate::types::{DirEntry, FileKind, Metadata, OpenFlags, Timestamp};

pub use table::MountSpec;

/// Where a mount goes relative to what its mount point already shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BindMode {
    /// The new service replaces whatever was there (Plan 9's default).
    #[default]
    Replace,
    /// The new service is searched first in a union (Plan 9's `-b`).
    Before,
    /// The new service is searched last in a union (Plan 9's `-a`).
    After,
}

/// How a service is mounted: its [`BindMode`] and whether new files in a
/// union may be created in it (Plan 9's `-c`, `MCREATE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct MountFlags {
    /// Replace, before or after.
    pub mode: BindMode,
    /// New files in the union may be created in this member.
    pub create: bool,
}

impl MountFlags {
    /// Replace what is there (the default).
    pub const fn replace() -> Self {
        Self {
            mode: BindMode::Replace,
            create: false,
        }
    }
    /// Join a union, searched first.
    pub const fn before() -> Self {
        Self {
            mode: BindMode::Before,
            create: false,
        }
    }
    /// Join a union, searched last.
    pub const fn after() -> Self {
        Self {
            mode: BindMode::After,
            create: false,
        }
    }
    /// Also accept creation of new files in the union.
    #[must_use]
    pub const fn create(mut self) -> Self {
        self.create = true;
        self
    }
}

/// One step of building a namespace, as printed in the mount table.
#[derive(Clone)]
enum NsOp {
    Mount {
        target: String,
        source: String,
        flags: MountFlags,
        service: Arc<dyn FileService>,
    },
    Bind {
        existing: String,
        target: String,
        flags: MountFlags,
    },
}

impl PartialEq for NsOp {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                Self::Mount {
                    target: t1,
                    source: s1,
                    flags: f1,
                    service: a,
                },
                Self::Mount {
                    target: t2,
                    source: s2,
                    flags: f2,
                    service: b,
                },
            ) => t1 == t2 && s1 == s2 && f1 == f2 && same_service(a, b),
            (
                Self::Bind {
                    existing: e1,
                    target: t1,
                    flags: f1,
                },
                Self::Bind {
                    existing: e2,
                    target: t2,
                    flags: f2,
                },
            ) => e1 == e2 && t1 == t2 && f1 == f2,
            _ => false,
        }
    }
}

fn same_service(a: &Arc<dyn FileService>, b: &Arc<dyn FileService>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

#[derive(Clone)]
struct Member {
    service: Arc<dyn FileService>,
    create: bool,
    device: u64,
}

#[derive(Clone)]
struct MountPoint {
    path: Arc<str>,
    members: Vec<Member>,
    /// Whether other mount points lie below this one (only then can a path
    /// inside it be a synthetic directory).
    has_mounts_below: bool,
}

#[derive(Clone, Default)]
struct Table {
    /// Sorted by decreasing path length, so the first match is the longest.
    mounts: Vec<MountPoint>,
    /// Directories above and between mount points → the names below them
    /// that lead to mount points.
    synthetic: HashMap<String, BTreeSet<String>>,
}

impl Table {
    fn rebuild_synthetic(&mut self) {
        self.mounts
            .sort_by(|a, b| b.path.len().cmp(&a.path.len()).then(a.path.cmp(&b.path)));
        let mut synthetic: HashMap<String, BTreeSet<String>> = HashMap::new();
        // The root exists even in a namespace with nothing mounted.
        synthetic.insert("/".to_owned(), BTreeSet::new());
        let paths: Vec<Arc<str>> = self.mounts.iter().map(|mp| Arc::clone(&mp.path)).collect();
        for mp in &mut self.mounts {
            mp.has_mounts_below = paths
                .iter()
                .any(|other| path::is_strict_descendant(other, &mp.path));
        }
        for mp in &self.mounts {
            let mut child: &str = &mp.path;
            while let Some((parent, name)) = path::split(child) {
                synthetic
                    .entry(parent.to_owned())
                    .or_default()
                    .insert(name.to_owned());
                child = parent;
            }
        }
        self.synthetic = synthetic;
    }
}

struct Inner {
    ops: Vec<NsOp>,
    table: Table,
}

/// Services mounted at paths; see the [module docs](self).
#[derive(Clone)]
pub struct Namespace {
    inner: Arc<Inner>,
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

impl Default for Namespace {
    fn default() -> Self {
        Self::builder().build()
    }
}

/// Where a path leads: the mount point and the path inside it.
struct Route<'a, 'p> {
    mount: &'a MountPoint,
    inner: &'p str,
}

impl Namespace {
    /// Starts building a namespace.
    pub fn builder() -> NamespaceBuilder {
        NamespaceBuilder::default()
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

    /// The mount points, longest first, each with the device numbers of its
    /// members in search order.
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

    /// The mount table as replayable text (see the [module docs](self)).
    pub fn mount_table(&self) -> String {
        table::print(&self.specs())
    }

    fn route<'a, 'p>(&'a self, path: &'p str) -> Option<Route<'a, 'p>> {
        for mp in &self.inner.table.mounts {
            if let Some(inner) = path::strip_prefix(path, &mp.path) {
                return Some(Route { mount: mp, inner });
            }
        }
        None
    }

    fn is_synthetic(&self, path: &str) -> bool {
        self.inner.table.synthetic.contains_key(path)
    }

    /// `is_synthetic`, skipping the lookup when the route rules it out.
    fn synthetic_at(&self, route: Option<&Route<'_, '_>>, path: &str) -> bool {
        match route {
            Some(r) if !r.mount.has_mounts_below => false,
            _ => self.is_synthetic(path),
        }
    }

    /// The union member that has `route.inner` (first hit), if any.
    fn pick_member<'a>(&self, route: &Route<'a, '_>) -> Option<&'a Member> {
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
    fn create_member<'a>(&self, route: &Route<'a, '_>, full: &str) -> Result<&'a Member> {
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

    fn synthetic_meta(&self, path: &str) -> Metadata {
        Metadata::directory(synthetic_id(path)).with_readonly(true)
    }

    fn outer_error(route: &Route<'_, '_>, err: FsError) -> FsError {
        let mount: &str = &route.mount.path;
        err.map_paths(|p| outer_path(mount, p))
    }

    /// Whether a mounted service has a real directory at `path`.
    fn service_has_dir(&self, path: &str) -> bool {
        self.route(path).is_some_and(|route| {
            route
                .mount
                .members
                .iter()
                .any(|m| m.service.stat(route.inner).is_ok_and(|md| md.is_dir()))
        })
    }

    fn stat_parsed(&self, p: &VPath<'_>) -> Result<Metadata> {
        self.stat_with(p, false)
    }

    /// `stat` (or, with `no_follow`, `lstat`) of a parsed path.
    fn stat_with(&self, p: &VPath<'_>, no_follow: bool) -> Result<Metadata> {
        let path = p.as_str();
        let route = self.route(path);
        // `None` until a member answers: no error is built on the way.
        let mut found: Option<Result<Metadata>> = None;
        if let Some(route) = &route {
            for m in &route.mount.members {
                let answer = if no_follow {
                    m.service.lstat(route.inner)
                } else {
                    m.service.stat(route.inner)
                };
                match answer {
                    Ok(mut md) => {
                        if md.is_dir() {
                            md.device = combine_device(m.device, md.device);
                            return Ok(md);
                        }
                        md.device = combine_device(m.device, md.device);
                        found = Some(Ok(md));
                        break;
                    }
                    Err(e) if e.kind() == FsErrorKind::NotFound => {}
                    Err(e) => {
                        found = Some(Err(Self::outer_error(route, e)));
                        break;
                    }
                }
            }
        }
        if self.synthetic_at(route.as_ref(), path) {
            return Ok(self.synthetic_meta(path));
        }
        match found {
            Some(Ok(_)) if p.is_dir_syntax() => Err(FsError::not_a_directory(path)),
            Some(result) => result,
            None => Err(FsError::not_found(path)),
        }
    }

    /// Refuses to modify a mount point or a synthetic directory.
    fn check_not_structural(&self, route: Option<&Route<'_, '_>>, path: &str) -> Result<()> {
        if route.is_some_and(|r| r.inner == "/") {
            return Err(FsError::permission_denied(path, "is a mount point"));
        }
        if self.synthetic_at(route, path) {
            return Err(FsError::permission_denied(
                path,
                "is a directory of mount points",
            ));
        }
        Ok(())
    }

    fn wrap(
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

/// The id of a synthetic directory: a hash of its path, with the top bit set
/// so that it cannot meet the small counters most services use.
fn synthetic_id(path: &str) -> u64 {
    // FNV-1a: stable across runs and platforms.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in path.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | (1 << 63)
}

fn combine_device(mount_device: u64, inner_device: u64) -> u64 {
    if inner_device == 0 {
        mount_device
    } else {
        mount_device
            .wrapping_mul(0x1_0000_0001)
            .wrapping_add(inner_device)
    }
}

fn outer_path(mount: &str, inner: &str) -> String {
    if mount == "/" {
        inner.to_owned()
    } else if inner == "/" {
        mount.to_owned()
    } else if inner.starts_with('/') {
        format!("{mount}{inner}")
    } else {
        // Not a path the namespace handed out (a service's own wording).
        inner.to_owned()
    }
}

impl FileService for Namespace {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        check_open_flags(full, flags)?;
        let route = self.route(full);
        if self.synthetic_at(route.as_ref(), full) && !self.service_has_dir(full) {
            // A directory of mount points that no service provides.
            {
                let md = self.synthetic_meta(full);
                if flags.create_new {
                    return Err(FsError::already_exists(full));
                }
                if flags.mutates() {
                    return Err(FsError::is_a_directory(full));
                }
                return Ok(DirHandle::boxed(full, md));
            }
        }
        let Some(route) = route else {
            return Err(if flags.creates() {
                self.no_service(full)
            } else {
                FsError::not_found(full)
            });
        };
        let member = match self.pick_member(&route) {
            Some(m) => m,
            None if flags.creates() => self.create_member(&route, full)?,
            None => return Err(FsError::not_found(full)),
        };
        let inner: std::borrow::Cow<'_, str> = if p.is_dir_syntax() && route.inner != "/" {
            // Keep the trailing slash meaning for the service.
            format!("{}/", route.inner).into()
        } else {
            route.inner.into()
        };
        match member.service.open(&inner, flags) {
            Ok(h) => Ok(Self::wrap(&route, member, h)),
            Err(e) => Err(Self::outer_error(&route, e)),
        }
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let route = self.route(full);
        if let Some(r) = &route
            && r.mount.members.len() == 1
            && !r.mount.has_mounts_below
        {
            // One service and no mount points below: its listing as it is.
            return r.mount.members[0]
                .service
                .readdir(r.inner)
                .map_err(|e| Self::outer_error(r, e));
        }
        let synthetic = self.inner.table.synthetic.get(full);
        let mut merged: BTreeMap<String, DirEntry> = BTreeMap::new();
        let mut found = false;
        let mut first_err = None;
        if let Some(route) = &route {
            for m in &route.mount.members {
                match m.service.readdir(route.inner) {
                    Ok(entries) => {
                        found = true;
                        for e in entries {
                            merged.entry(e.name.clone()).or_insert(e);
                        }
                        if route.mount.members.len() == 1 {
                            break;
                        }
                    }
                    Err(e) if e.kind() == FsErrorKind::NotFound => {}
                    Err(e) => {
                        if first_err.is_none() {
                            first_err = Some(Self::outer_error(route, e));
                        }
                        break;
                    }
                }
            }
        }
        match synthetic {
            Some(names) => {
                for name in names {
                    let child = path::join(full, name);
                    merged.insert(
                        name.clone(),
                        DirEntry::new(name.clone(), FileKind::Directory, 0, synthetic_id(&child)),
                    );
                }
            }
            None if !found => {
                return Err(first_err.unwrap_or_else(|| FsError::not_found(full)));
            }
            None => {}
        }
        // Mount points below this directory shadow entries of the same name.
        for mp in &self.inner.table.mounts {
            if let Some((parent, name)) = path::split(&mp.path)
                && parent == full
            {
                let entry = merged
                    .entry(name.to_owned())
                    .or_insert_with(|| DirEntry::new(name, FileKind::Directory, 0, 0));
                entry.kind = FileKind::Directory;
                entry.size = 0;
            }
        }
        Ok(merged.into_values().collect())
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        self.stat_parsed(&p)
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        self.stat_with(&p, true)
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let route = self.route(full);
        if self.synthetic_at(route.as_ref(), full) && !self.service_has_dir(full) {
            return Err(FsError::already_exists(full));
        }
        let Some(route) = route else {
            return Err(self.no_service(full));
        };
        // The member that has the path (or fails to look it up) answers for
        // it, a mount point included: `AlreadyExists`, `NotADirectory`,
        // `ReadOnly`...
        let member = match self.pick_member(&route) {
            Some(m) => m,
            None => self.create_member(&route, full)?,
        };
        member
            .service
            .mkdir(route.inner)
            .map_err(|e| Self::outer_error(&route, e))
    }

    fn remove(&self, path: &str) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        if p.is_root() {
            return Err(FsError::permission_denied(full, "cannot remove the root"));
        }
        let route = self.route(full);
        self.check_not_structural(route.as_ref(), full)?;
        let Some(route) = route else {
            return Err(FsError::not_found(full));
        };
        let Some(member) = self.pick_member(&route) else {
            return Err(FsError::not_found(full));
        };
        let inner = if p.is_dir_syntax() {
            format!("{}/", route.inner)
        } else {
            route.inner.to_owned()
        };
        member
            .service
            .remove(&inner)
            .map_err(|e| Self::outer_error(&route, e))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        let pt = path::parse(to)?;
        let (f, t) = (pf.as_str(), pt.as_str());
        if pf.is_root() || pt.is_root() {
            return Err(FsError::permission_denied(
                if pf.is_root() { f } else { t },
                "cannot rename the root",
            ));
        }
        let (route_f, route_t) = (self.route(f), self.route(t));
        self.check_not_structural(route_f.as_ref(), f)?;
        self.check_not_structural(route_t.as_ref(), t)?;
        let (Some(rf), Some(rt)) = (route_f, route_t) else {
            return match self.route(f) {
                None => Err(FsError::not_found(f)),
                Some(_) => Err(self.no_service(t)),
            };
        };
        if !std::ptr::eq(rf.mount, rt.mount) {
            return Err(FsError::cross_device(f, t));
        }
        let Some(member) = self.pick_member(&rf) else {
            return Err(FsError::not_found(f));
        };
        if rf.mount.members.len() > 1
            && let Some(other) = self.pick_member(&rt)
            && !std::ptr::eq(other, member)
        {
            return Err(FsError::cross_device(f, t));
        }
        let from_inner = if pf.is_dir_syntax() {
            format!("{}/", rf.inner)
        } else {
            rf.inner.to_owned()
        };
        let to_inner = if pt.is_dir_syntax() {
            format!("{}/", rt.inner)
        } else {
            rt.inner.to_owned()
        };
        member
            .service
            .rename(&from_inner, &to_inner)
            .map_err(|e| Self::outer_error(&rf, e))
    }

    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let Some(route) = self.route(full) else {
            return Err(self.no_service(full));
        };
        let Some(member) = self.pick_member(&route) else {
            return Err(FsError::not_found(full));
        };
        member
            .service
            .set_times(route.inner, accessed, modified)
            .map_err(|e| Self::outer_error(&route, e))
    }

    fn fs_type(&self) -> &'static str {
        "ns"
    }
}

impl Namespace {
    /// The error for creating something where no service is mounted.
    fn no_service(&self, full: &str) -> FsError {
        match path::parent(full) {
            Some(parent) if self.is_synthetic(parent) => {
                FsError::permission_denied(full, "no service is mounted here")
            }
            _ => FsError::not_found(full),
        }
    }
}

/// A handle opened through a namespace: errors name namespace paths and
/// `stat` carries the mount's device number.
struct NsHandle {
    inner: Box<dyn FileHandle>,
    mount: Arc<str>,
    device: u64,
}

impl NsHandle {
    fn map<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| e.map_paths(|p| outer_path(&self.mount, p)))
    }
}

impl FileHandle for NsHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let r = self.inner.read(buf);
        self.map(r)
    }
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        let r = self.inner.write(buf);
        self.map(r)
    }
    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let r = self.inner.seek(pos);
        self.map(r)
    }
    fn flush(&mut self) -> Result<()> {
        let r = self.inner.flush();
        self.map(r)
    }
    fn stat(&self) -> Result<Metadata> {
        let r = self.inner.stat().map(|mut md| {
            md.device = combine_device(self.device, md.device);
            md
        });
        self.map(r)
    }
    fn set_len(&mut self, len: u64) -> Result<()> {
        let r = self.inner.set_len(len);
        self.map(r)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let r = self.inner.read_at(buf, offset);
        self.map(r)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        let r = self.inner.write_at(buf, offset);
        self.map(r)
    }
}

/// A subtree of a namespace snapshot, as made by `bind`.
struct BindFs {
    base: Namespace,
    prefix: String,
}

impl BindFs {
    fn full(&self, inner: &str) -> Result<String> {
        // Parse first so that a trailing slash survives the join.
        let p = path::parse(inner)?;
        let mut out = outer_path(&self.prefix, p.as_str());
        if p.is_dir_syntax() {
            out.push('/');
        }
        Ok(out)
    }
    fn unmap(&self, e: FsError) -> FsError {
        e.map_paths(|p| match path::strip_prefix(p, &self.prefix) {
            Some(inner) => inner.to_owned(),
            None => p.to_owned(),
        })
    }
}

impl FileService for BindFs {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let full = self.full(path)?;
        match self.base.open(&full, flags) {
            Ok(inner) => Ok(Box::new(BindHandle {
                inner,
                prefix: self.prefix.clone(),
            })),
            Err(e) => Err(self.unmap(e)),
        }
    }
    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        let full = self.full(path)?;
        self.base.readdir(&full).map_err(|e| self.unmap(e))
    }
    fn stat(&self, path: &str) -> Result<Metadata> {
        let full = self.full(path)?;
        self.base.stat(&full).map_err(|e| self.unmap(e))
    }
    fn lstat(&self, path: &str) -> Result<Metadata> {
        let full = self.full(path)?;
        self.base.lstat(&full).map_err(|e| self.unmap(e))
    }
    fn mkdir(&self, path: &str) -> Result<()> {
        let full = self.full(path)?;
        self.base.mkdir(&full).map_err(|e| self.unmap(e))
    }
    fn remove(&self, path: &str) -> Result<()> {
        let full = self.full(path)?;
        self.base.remove(&full).map_err(|e| self.unmap(e))
    }
    fn rename(&self, from: &str, to: &str) -> Result<()> {
        let (f, t) = (self.full(from)?, self.full(to)?);
        self.base.rename(&f, &t).map_err(|e| self.unmap(e))
    }
    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        let full = self.full(path)?;
        self.base
            .set_times(&full, accessed, modified)
            .map_err(|e| self.unmap(e))
    }
    fn fs_type(&self) -> &'static str {
        "bind"
    }
}

/// A handle opened through a [`BindFs`]: its errors name paths inside the
/// bound subtree, as the errors of the `BindFs` itself do, so that the
/// namespace around it can name them in its own terms.
struct BindHandle {
    inner: Box<dyn FileHandle>,
    prefix: String,
}

impl BindHandle {
    fn map<T>(&self, r: Result<T>) -> Result<T> {
        r.map_err(|e| {
            e.map_paths(|p| match path::strip_prefix(p, &self.prefix) {
                Some(inner) => inner.to_owned(),
                None => p.to_owned(),
            })
        })
    }
}

impl FileHandle for BindHandle {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        let r = self.inner.read(buf);
        self.map(r)
    }
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        let r = self.inner.write(buf);
        self.map(r)
    }
    fn seek(&mut self, pos: SeekFrom) -> Result<u64> {
        let r = self.inner.seek(pos);
        self.map(r)
    }
    fn flush(&mut self) -> Result<()> {
        let r = self.inner.flush();
        self.map(r)
    }
    fn stat(&self) -> Result<Metadata> {
        let r = self.inner.stat();
        self.map(r)
    }
    fn set_len(&mut self, len: u64) -> Result<()> {
        let r = self.inner.set_len(len);
        self.map(r)
    }
    fn read_at(&mut self, buf: &mut [u8], offset: u64) -> Result<usize> {
        let r = self.inner.read_at(buf, offset);
        self.map(r)
    }
    fn write_at(&mut self, buf: &[u8], offset: u64) -> Result<usize> {
        let r = self.inner.write_at(buf, offset);
        self.map(r)
    }
}

/// Builds a [`Namespace`] one mount or bind at a time.
///
/// Mount points are written as paths (`"/task"`; `"task"` and `"/task/"` mean
/// the same). [`build`](Self::build) never fails; a mount or bind whose path
/// is invalid (a NUL byte, `..` above the root) is left out of the namespace
/// it builds. [`try_build`](Self::try_build) reports such an entry as an error
/// instead, naming it.
#[derive(Default)]
pub struct NamespaceBuilder {
    ops: Vec<NsOp>,
    table: Table,
    next_device: u64,
    errors: Vec<FsError>,
}

impl fmt::Debug for NamespaceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NamespaceBuilder")
            .field("mounts", &self.ops.len())
            .field("errors", &self.errors)
            .finish()
    }
}

impl NamespaceBuilder {
    /// Mounts `service` at `path`, replacing what was there.
    #[must_use]
    pub fn mount(self, path: &str, service: impl FileService + 'static) -> Self {
        self.mount_with(path, service, MountFlags::replace())
    }

    /// Mounts `service` at `path` with `flags` (replace, before, after, create).
    #[must_use]
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
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// Makes what `existing` shows now visible at `target` too (replacing
    /// what `target` showed).
    #[must_use]
    pub fn bind(self, existing: &str, target: &str) -> Self {
        self.bind_with(existing, target, MountFlags::replace())
    }

    /// Like [`bind`](Self::bind), with flags (to join a union at `target`).
    #[must_use]
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
            (Err(e), _) | (_, Err(e)) => self.errors.push(e),
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
            if let Some(e) = b.errors.pop() {
                return Err(FsError::invalid_input(
                    format!("mount table line {line_no}"),
                    e.to_string(),
                ));
            }
        }
        Ok(b)
    }

    /// Builds the namespace, leaving out entries with invalid paths.
    pub fn build(self) -> Namespace {
        let Self { ops, mut table, .. } = self;
        table.rebuild_synthetic();
        Namespace {
            inner: Arc::new(Inner { ops, table }),
        }
    }

    /// Builds the namespace, or names the first entry whose path was invalid.
    pub fn try_build(mut self) -> Result<Namespace> {
        if !self.errors.is_empty() {
            return Err(self.errors.swap_remove(0));
        }
        Ok(self.build())
    }

    fn snapshot(&self) -> Namespace {
        let mut table = self.table.clone();
        table.rebuild_synthetic();
        Namespace {
            inner: Arc::new(Inner {
                ops: self.ops.clone(),
                table,
            }),
        }
    }

    fn snapshot_view(&self, existing: &str) -> Arc<dyn FileService> {
        Arc::new(BindFs {
            base: self.snapshot(),
            prefix: existing.to_owned(),
        })
    }

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
                self.table.rebuild_synthetic();
            }
        }
    }

    fn covers(&self, target: &str) -> bool {
        self.table
            .mounts
            .iter()
            .any(|mp| path::starts_with(target, &mp.path))
            || self.table.synthetic.contains_key(target)
    }
}
