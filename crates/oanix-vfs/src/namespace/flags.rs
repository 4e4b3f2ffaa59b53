//! How a service joins a mount point: replacing what is there, or in a union before or after it.

use serde::{Deserialize, Serialize};

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
