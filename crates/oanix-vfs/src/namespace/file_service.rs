//! The namespace as a [`FileService`]: each operation routed to the mount
//! that serves its path, synthetic directories answered by the namespace
//! itself, unions searched member by member.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::handle::combine_device;
use super::resolve::{Namespace, Route};
use super::synthetic;
use crate::error::{FsError, FsErrorKind, Result};
use crate::links;
use crate::path::{self, VPath};
use crate::service::{DirHandle, FileHandle, FileService, check_open_flags};
use crate::types::{DirEntry, FileKind, Metadata, OpenFlags, Timestamp};

impl Namespace {
    /// `stat` of a parsed path.
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
            let inner = inner_path(p, route.inner);
            for m in &route.mount.members {
                let answer = if no_follow {
                    m.service.lstat(&inner)
                } else {
                    m.service.stat(&inner)
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
            return Ok(synthetic::metadata(path));
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
}

/// One lookup of each operation: a link a service meets comes back as
/// [`FsError::Symlink`], for [`links::follow`] to resolve.
impl Namespace {
    fn open_once(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        let p = path::parse(path)?;
        let full = p.as_str();
        check_open_flags(full, flags)?;
        let route = self.route(full);
        if self.synthetic_at(route.as_ref(), full) && !self.service_has_dir(full) {
            // A directory of mount points that no service provides.
            {
                let md = synthetic::metadata(full);
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

    fn readdir_once(&self, path: &str) -> Result<Vec<DirEntry>> {
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
        let synthetic = self.table().synthetic.names(full);
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
                        DirEntry::new(name.clone(), FileKind::Directory, 0, synthetic::id(&child)),
                    );
                }
            }
            None if !found => {
                return Err(first_err.unwrap_or_else(|| FsError::not_found(full)));
            }
            None => {}
        }
        // Mount points below this directory shadow entries of the same name.
        for mp in &self.table().mounts {
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

    fn stat_once(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        self.stat_parsed(&p)
    }

    fn lstat_once(&self, path: &str) -> Result<Metadata> {
        let p = path::parse(path)?;
        self.stat_with(&p, true)
    }

    fn mkdir_once(&self, path: &str) -> Result<()> {
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
            .mkdir(&inner_path(&p, route.inner))
            .map_err(|e| Self::outer_error(&route, e))
    }

    fn remove_once(&self, path: &str) -> Result<()> {
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

    fn rename_once(&self, from: &str, to: &str) -> Result<()> {
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

    fn set_times_once(
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
            .set_times(&inner_path(&p, route.inner), accessed, modified)
            .map_err(|e| Self::outer_error(&route, e))
    }
    fn symlink_once(&self, target: &str, link: &str) -> Result<()> {
        let p = path::parse(link)?;
        let full = p.as_str();
        links::check_target(full, target)?;
        let route = self.route(full);
        if self.synthetic_at(route.as_ref(), full) || route.as_ref().is_some_and(|r| r.inner == "/")
        {
            return Err(FsError::already_exists(full));
        }
        let Some(route) = route else {
            return Err(self.no_service(full));
        };
        let member = match self.pick_member(&route) {
            Some(m) => m,
            None => self.create_member(&route, full)?,
        };
        member
            .service
            .symlink(target, &inner_path(&p, route.inner))
            .map_err(|e| Self::outer_error(&route, e))
    }

    fn readlink_once(&self, path: &str) -> Result<String> {
        let p = path::parse(path)?;
        let full = p.as_str();
        let route = self.route(full);
        if self.synthetic_at(route.as_ref(), full) && !self.service_has_dir(full) {
            return Err(FsError::invalid_input(full, "not a symbolic link"));
        }
        let Some(route) = route else {
            return Err(FsError::not_found(full));
        };
        let Some(member) = self.pick_member(&route) else {
            return Err(FsError::not_found(full));
        };
        member
            .service
            .readlink(&inner_path(&p, route.inner))
            .map_err(|e| Self::outer_error(&route, e))
    }

    fn link_once(&self, from: &str, to: &str) -> Result<()> {
        let pf = path::parse(from)?;
        let pt = path::parse(to)?;
        let (f, t) = (pf.as_str(), pt.as_str());
        let (route_f, route_t) = (self.route(f), self.route(t));
        if pf.is_root()
            || self.synthetic_at(route_f.as_ref(), f)
            || route_f.as_ref().is_some_and(|r| r.inner == "/")
        {
            return Err(FsError::permission_denied(f, "cannot link a directory"));
        }
        if pt.is_root()
            || self.synthetic_at(route_t.as_ref(), t)
            || route_t.as_ref().is_some_and(|r| r.inner == "/")
        {
            return Err(FsError::already_exists(t));
        }
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
        if rf.mount.members.len() > 1 {
            let target_member = match self.pick_member(&rt) {
                Some(m) => m,
                None => self.create_member(&rt, t)?,
            };
            if !std::ptr::eq(target_member, member) {
                return Err(FsError::cross_device(f, t));
            }
        }
        member
            .service
            .link(&inner_path(&pf, rf.inner), &inner_path(&pt, rt.inner))
            .map_err(|e| Self::outer_error(&rf, e))
    }
}

impl FileService for Namespace {
    fn open(&self, path: &str, flags: OpenFlags) -> Result<Box<dyn FileHandle>> {
        links::follow(path, |p| self.open_once(p, flags))
    }

    fn readdir(&self, path: &str) -> Result<Vec<DirEntry>> {
        links::follow(path, |p| self.readdir_once(p))
    }

    fn stat(&self, path: &str) -> Result<Metadata> {
        links::follow(path, |p| self.stat_once(p))
    }

    fn lstat(&self, path: &str) -> Result<Metadata> {
        links::follow(path, |p| self.lstat_once(p))
    }

    fn symlink(&self, target: &str, link: &str) -> Result<()> {
        links::follow(link, |p| self.symlink_once(target, p))
    }

    fn readlink(&self, path: &str) -> Result<String> {
        links::follow(path, |p| self.readlink_once(p))
    }

    fn link(&self, from: &str, to: &str) -> Result<()> {
        links::follow2(from, to, |f, t| self.link_once(f, t))
    }

    fn mkdir(&self, path: &str) -> Result<()> {
        links::follow(path, |p| self.mkdir_once(p))
    }

    fn remove(&self, path: &str) -> Result<()> {
        links::follow(path, |p| self.remove_once(p))
    }

    fn rename(&self, from: &str, to: &str) -> Result<()> {
        links::follow2(from, to, |f, t| self.rename_once(f, t))
    }

    fn set_times(
        &self,
        path: &str,
        accessed: Option<Timestamp>,
        modified: Option<Timestamp>,
    ) -> Result<()> {
        links::follow(path, |p| self.set_times_once(p, accessed, modified))
    }

    fn fs_type(&self) -> &'static str {
        "ns"
    }
}

/// The path inside a mount of `p`, keeping a trailing `/` for the service.
fn inner_path<'i>(p: &VPath<'_>, inner: &'i str) -> Cow<'i, str> {
    if p.is_dir_syntax() && inner != "/" {
        format!("{inner}/").into()
    } else {
        inner.into()
    }
}
