//! How a mount behaves: its cache policies per path prefix, its owner, its
//! threads and its limits.

use std::time::Duration;

use oanix_vfs::path;

use crate::error::{FuseError, Result};

/// What the kernel may cache for a part of the namespace, chosen per path
/// prefix with [`MountOptions::policy`]. Correctness comes first: each
/// policy says exactly what a program on the mount may see when something
/// other than the mount (the host, through the API) changes the files.
///
/// Changes made through the mount are always seen at once by every program
/// on it, whatever the policy: the kernel keeps its own caches coherent
/// with what passes through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CachePolicy {
    /// Content nobody changes (a `MapFs`, a read-only fixture): names,
    /// names found missing, attributes and data are cached for
    /// [`MountOptions::immutable_ttl`] and kept across opens, listings too. A change the host makes anyway
    /// may stay hidden until that time has passed or
    /// [`FuseMount::invalidate`](crate::FuseMount::invalidate) is called.
    /// (On a read-write mount the kernel still asks for the attributes at
    /// the first `stat` after a read, to update the access time, and drops
    /// the data if the size or modification time changed.)
    Immutable,
    /// Files the host may change at any moment (the default): a host's
    /// change is seen at the next operation. The kernel keeps the names it
    /// found (a name the host removed or replaced is looked up again when
    /// next used, see the crate docs), never a name found missing, and
    /// asks the service for the attributes at every `stat`. Data pages are
    /// checked against the file's size and modification time on every
    /// read, and kept across opens only while the file is still the version
    /// whose attributes the kernel last received and that version's time
    /// was already two seconds old then (so that a change within one tick
    /// of the file system's clock cannot go unseen). Limit: pages already
    /// mapped with `mmap` are not re-read until the file is opened again
    /// after the change.
    Writable,
    /// Like [`Writable`](Self::Writable), but names, names found missing and
    /// attributes may be cached for the given time and data kept across
    /// opens while the file's size and modification time stay the same: a
    /// host's change is seen within that time, or at once after
    /// [`FuseMount::invalidate`](crate::FuseMount::invalidate). For a host
    /// that calls `invalidate` after each of its changes, a long time
    /// costs nothing in correctness.
    Cached(Duration),
    /// Live files (task status, logs, capabilities): nothing is cached and
    /// every read and write goes straight to the service (`FOPEN_DIRECT_IO`),
    /// one `write(2)` as one `write` call, so that message files, streams
    /// and blocking responses behave as for a WASI guest. Every operation on
    /// an open live file runs off the kernel's request threads, so a read
    /// that waits blocks only its reader.
    Live,
}

/// The options of a mount, built in the manner of `std::fs::OpenOptions`.
///
/// ```
/// use std::time::Duration;
/// use oanix_fuse::{CachePolicy, MountOptions};
///
/// let options = MountOptions::new()
///     .policy("/task", CachePolicy::Live)
///     .policy("/logs", CachePolicy::Live)
///     .policy("/cap", CachePolicy::Live)
///     .policy("/data", CachePolicy::Immutable)
///     .policy("/workspace", CachePolicy::Cached(Duration::from_secs(1)));
/// assert_eq!(options.policy_of("/cap/http/request"), CachePolicy::Live);
/// assert_eq!(options.policy_of("/tmp/x"), CachePolicy::Writable);
/// ```
#[derive(Debug, Clone)]
pub struct MountOptions {
    pub(crate) policies: Vec<(String, CachePolicy)>,
    pub(crate) default_policy: CachePolicy,
    pub(crate) immutable_ttl: Duration,
    pub(crate) owner: Option<(u32, u32)>,
    pub(crate) read_only: bool,
    pub(crate) allow_other: bool,
    pub(crate) threads: usize,
    pub(crate) blocking_threads: usize,
    pub(crate) io_timeout: Option<Duration>,
    pub(crate) max_write: u32,
    pub(crate) fs_name: String,
    pub(crate) cleanup_stale: bool,
    /// The first invalid option given: (option, reason).
    pub(crate) invalid: Option<(&'static str, String)>,
}

impl Default for MountOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// The largest write the kernel sends in one request (256 pages).
const MAX_WRITE_LIMIT: u32 = 1 << 20;

impl MountOptions {
    /// The defaults: everything [`CachePolicy::Writable`], owned by the
    /// mounting user, read-write, one request thread, at most 64 threads
    /// for live operations, writes of up to 1 MiB per request, stale mounts
    /// at the mount point cleaned up first.
    pub fn new() -> Self {
        Self {
            policies: Vec::new(),
            default_policy: CachePolicy::Writable,
            immutable_ttl: Duration::from_secs(3600),
            owner: None,
            read_only: false,
            allow_other: false,
            threads: 1,
            blocking_threads: 64,
            io_timeout: None,
            max_write: MAX_WRITE_LIMIT,
            fs_name: "oanix".to_owned(),
            cleanup_stale: true,
            invalid: None,
        }
    }

    /// The policies of an agent's namespace: `/task`, `/logs` and `/cap`
    /// live, everything else [`Writable`](CachePolicy::Writable).
    pub fn agent() -> Self {
        Self::new()
            .policy("/task", CachePolicy::Live)
            .policy("/logs", CachePolicy::Live)
            .policy("/cap", CachePolicy::Live)
    }

    /// Uses `policy` for `prefix` and everything below it (the longest
    /// matching prefix wins). A prefix that is not a valid absolute path
    /// makes the mount fail with [`FuseError::InvalidOption`].
    #[must_use]
    pub fn policy(mut self, prefix: &str, policy: CachePolicy) -> Self {
        match path::normalize(prefix) {
            Ok(p) if prefix.starts_with('/') => {
                let p = p.into_owned();
                self.policies.retain(|(q, _)| *q != p);
                self.policies.push((p, policy));
                // Longest first, so that the first match is the longest.
                self.policies
                    .sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
            }
            Ok(_) => {
                self.invalid.get_or_insert((
                    "policy",
                    format!("the prefix {prefix:?} must be an absolute path"),
                ));
            }
            Err(e) => {
                self.invalid.get_or_insert(("policy", e.to_string()));
            }
        }
        self
    }

    /// The policy of everything no prefix covers (default
    /// [`Writable`](CachePolicy::Writable)).
    #[must_use]
    pub fn default_policy(mut self, policy: CachePolicy) -> Self {
        self.default_policy = policy;
        self
    }

    /// How long [`Immutable`](CachePolicy::Immutable) content is cached
    /// (default one hour).
    #[must_use]
    pub fn immutable_ttl(mut self, ttl: Duration) -> Self {
        self.immutable_ttl = ttl;
        self
    }

    /// The owner every file shows (default: the mounting process's user and
    /// group). `chown` through the mount is kept by the mount, not the service.
    #[must_use]
    pub fn owner(mut self, uid: u32, gid: u32) -> Self {
        self.owner = Some((uid, gid));
        self
    }

    /// Mounts read-only (`MS_RDONLY`): the kernel refuses every change with
    /// `EROFS` before the service sees it.
    #[must_use]
    pub fn read_only(mut self, on: bool) -> Self {
        self.read_only = on;
        self
    }

    /// Lets users other than the mounting one use the mount (`allow_other`),
    /// as a sandbox whose processes run under another uid needs. Off by
    /// default.
    #[must_use]
    pub fn allow_other(mut self, on: bool) -> Self {
        self.allow_other = on;
        self
    }

    /// How many threads read requests from the kernel (default 1, at least 1).
    ///
    /// One is fastest where service calls outside [`Live`](CachePolicy::Live)
    /// paths do not block: the kernel hands each request to the thread that
    /// has waited longest, so with more threads nearly every request wakes
    /// one that has gone cold (on two cores, creating and deleting files
    /// takes about 1.5× as long with two). More help a service whose
    /// calls wait for slow storage, so that one such call does not hold up
    /// the others. Live files never hold a request thread (they run on the
    /// [blocking threads](Self::blocking_threads)).
    #[must_use]
    pub fn threads(mut self, n: usize) -> Self {
        self.threads = n;
        self
    }

    /// The most threads that run operations on live files at once (default
    /// 64, at least 1); more wait in a queue, never on the request threads.
    #[must_use]
    pub fn blocking_threads(mut self, n: usize) -> Self {
        self.blocking_threads = n;
        self
    }

    /// A bound on every blocking service call (set as the calling thread's
    /// [`deadline`](oanix_vfs::deadline)); by default only the services'
    /// own bounds apply.
    #[must_use]
    pub fn io_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.io_timeout = timeout;
        self
    }

    /// The largest write the kernel sends in one request, in bytes (default
    /// and most 1 MiB). A `write(2)` to a live file arrives as one message
    /// when it is at most this size less one page.
    #[must_use]
    pub fn max_write(mut self, bytes: u32) -> Self {
        self.max_write = bytes;
        self
    }

    /// The source name shown in `/proc/mounts` (default `oanix`).
    #[must_use]
    pub fn fs_name(mut self, name: impl Into<String>) -> Self {
        self.fs_name = name.into();
        self
    }

    /// Whether [`FuseMount::mount`](crate::FuseMount::mount) first removes a
    /// dead FUSE mount left at the mount point by a killed process (default on).
    #[must_use]
    pub fn cleanup_stale(mut self, on: bool) -> Self {
        self.cleanup_stale = on;
        self
    }

    /// The policy that applies to the namespace path `path`.
    pub fn policy_of(&self, path: &str) -> CachePolicy {
        self.policies
            .iter()
            .find(|(prefix, _)| path::strip_prefix(path, prefix).is_some())
            .map_or(self.default_policy, |(_, policy)| *policy)
    }

    /// Checks the options, as the mount does first.
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some((option, reason)) = &self.invalid {
            return Err(FuseError::InvalidOption {
                option,
                reason: reason.clone(),
            });
        }
        if self.threads == 0 {
            return Err(FuseError::InvalidOption {
                option: "threads",
                reason: "at least one thread must read requests".to_owned(),
            });
        }
        if self.blocking_threads == 0 {
            return Err(FuseError::InvalidOption {
                option: "blocking_threads",
                reason: "at least one thread must run live operations".to_owned(),
            });
        }
        if !(4096..=MAX_WRITE_LIMIT).contains(&self.max_write) {
            return Err(FuseError::InvalidOption {
                option: "max_write",
                reason: format!(
                    "{} bytes: expected 4096 to {MAX_WRITE_LIMIT}",
                    self.max_write
                ),
            });
        }
        if self.fs_name.is_empty() || self.fs_name.contains([',', '\0', ' ', '\n', '\t']) {
            return Err(FuseError::InvalidOption {
                option: "fs_name",
                reason: format!(
                    "{:?}: expected a non-empty name without commas, spaces or NUL",
                    self.fs_name
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_prefix_decides() {
        let o = MountOptions::new()
            .policy("/cap", CachePolicy::Live)
            .policy("/cap/http/status", CachePolicy::Writable)
            .policy("/data", CachePolicy::Immutable)
            .default_policy(CachePolicy::Cached(Duration::from_secs(1)));
        assert_eq!(o.policy_of("/cap"), CachePolicy::Live);
        assert_eq!(o.policy_of("/cap/http/request"), CachePolicy::Live);
        assert_eq!(o.policy_of("/cap/http/status"), CachePolicy::Writable);
        assert_eq!(
            o.policy_of("/capx"),
            CachePolicy::Cached(Duration::from_secs(1))
        );
        assert_eq!(o.policy_of("/data/a/b"), CachePolicy::Immutable);
        assert_eq!(
            o.policy_of("/"),
            CachePolicy::Cached(Duration::from_secs(1))
        );
        let root = MountOptions::new().policy("/", CachePolicy::Immutable);
        assert_eq!(root.policy_of("/anything"), CachePolicy::Immutable);
    }

    #[test]
    fn bad_options_are_refused_with_the_option_named() {
        let e = MountOptions::new()
            .policy("relative", CachePolicy::Live)
            .validate();
        assert!(matches!(
            e,
            Err(FuseError::InvalidOption {
                option: "policy",
                ..
            })
        ));
        let e = MountOptions::new().threads(0).validate();
        assert!(matches!(
            e,
            Err(FuseError::InvalidOption {
                option: "threads",
                ..
            })
        ));
        let e = MountOptions::new().max_write(10).validate();
        assert!(matches!(
            e,
            Err(FuseError::InvalidOption {
                option: "max_write",
                ..
            })
        ));
        let e = MountOptions::new().fs_name("a,b").validate();
        assert!(matches!(
            e,
            Err(FuseError::InvalidOption {
                option: "fs_name",
                ..
            })
        ));
        assert!(MountOptions::agent().validate().is_ok());
    }
}
