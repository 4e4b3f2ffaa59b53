//! cgroup v2 limits for one run: a leaf cgroup beside the caller's own, when the caller runs in
//! a delegated cgroup v2 subtree; otherwise a note, and nothing written.
//!
//! The rule is narrow on purpose. The leaf goes into the parent of the cgroup the caller runs
//! in (or into that cgroup itself when it is the root of the hierarchy or of a cgroup
//! namespace): that directory must be on a `cgroup2` mount, list the wanted controllers in its
//! `cgroup.subtree_control`, and let the caller create a directory there. Nothing above it is
//! tried, and a cgroup v1 hierarchy is never written: a host without a `cgroup2` mount gets
//! the rlimits only, and a note saying so.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::CgroupLimits;
use crate::error::describe_io;

/// Distinguishes the leaves of concurrent runs of one process.
static NEXT_LEAF: AtomicU64 = AtomicU64::new(0);

/// The cgroup period `cpu.max` is written with, in microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// A run's own cgroup.
#[derive(Debug)]
pub(crate) struct Leaf {
    dir: PathBuf,
}

/// What the host says about cgroups: `/proc/self/mountinfo` and `/proc/self/cgroup`.
#[derive(Debug)]
pub(crate) struct HostView {
    /// The text of `/proc/self/mountinfo`.
    pub(crate) mountinfo: String,
    /// The text of `/proc/self/cgroup`.
    pub(crate) self_cgroup: String,
    /// Whether to confirm with `statfs` that the mount is really cgroup2 (off for tests on a
    /// plain directory standing in for one).
    pub(crate) verify: bool,
}

impl HostView {
    /// The running host's view.
    pub(crate) fn current() -> Self {
        Self {
            mountinfo: fs::read_to_string("/proc/self/mountinfo").unwrap_or_default(),
            self_cgroup: fs::read_to_string("/proc/self/cgroup").unwrap_or_default(),
            verify: true,
        }
    }
}

/// Undoes the octal escapes (`\040` for a space) of a mountinfo field.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut k = 0;
    while k < bytes.len() {
        let octal = bytes
            .get(k + 1..k + 4)
            .filter(|digits| bytes[k] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(value as u8);
                k += 4;
            }
            None => {
                out.push(bytes[k]);
                k += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The mount point and mount root of the first `cgroup2` mount in `mountinfo`.
pub(crate) fn cgroup2_mount(mountinfo: &str) -> Option<(PathBuf, String)> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        if after.split_whitespace().next()? != "cgroup2" {
            return None;
        }
        let mut fields = before.split_whitespace();
        let root = fields.nth(3)?;
        let point = fields.next()?;
        Some((PathBuf::from(unescape(point)), unescape(root)))
    })
}

/// The caller's cgroup v2 path (the `0::` line of `/proc/self/cgroup`).
pub(crate) fn own_cgroup(self_cgroup: &str) -> Option<&str> {
    self_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .map(str::trim)
}

/// The controllers a limit asks for.
fn wanted(limits: &CgroupLimits) -> Vec<&'static str> {
    let mut out = Vec::new();
    if limits.memory.is_some() {
        out.push("memory");
    }
    if limits.pids.is_some() {
        out.push("pids");
    }
    if limits.cpu_millis.is_some() {
        out.push("cpu");
    }
    out
}

/// Makes a leaf for a run with `limits`, or says why not (the note for the outcome).
pub(crate) fn prepare(
    limits: &CgroupLimits,
    host: &HostView,
    notes: &mut Vec<String>,
) -> Option<Leaf> {
    if !limits.any() {
        return None;
    }
    const SKIPPED: &str = "cgroup limits skipped";
    let Some((mount, mount_root)) = cgroup2_mount(&host.mountinfo) else {
        notes.push(format!(
            "{SKIPPED}: no cgroup v2 hierarchy is mounted (cgroup v1 hierarchies are never \
             written); the rlimits apply"
        ));
        return None;
    };
    if host.verify && !crate::sys::is_cgroup2(&mount) {
        notes.push(format!(
            "{SKIPPED}: {} is not a cgroup2 file system; the rlimits apply",
            mount.display()
        ));
        return None;
    }
    let Some(own) = own_cgroup(&host.self_cgroup) else {
        notes.push(format!(
            "{SKIPPED}: this process is in no cgroup v2 cgroup; the rlimits apply"
        ));
        return None;
    };
    if mount_root != "/" {
        notes.push(format!(
            "{SKIPPED}: the cgroup2 mount at {} shows only a subtree; the rlimits apply",
            mount.display()
        ));
        return None;
    }
    let own_path = own.trim_matches('/');
    let own_dir = if own_path.is_empty() {
        mount.clone()
    } else {
        mount.join(own_path)
    };
    let parent = if own_dir == mount {
        own_dir.clone()
    } else {
        match own_dir.parent() {
            Some(parent) => parent.to_path_buf(),
            None => own_dir.clone(),
        }
    };
    let enabled = fs::read_to_string(parent.join("cgroup.subtree_control")).unwrap_or_default();
    let enabled: Vec<&str> = enabled.split_whitespace().collect();
    let (usable, missing): (Vec<&str>, Vec<&str>) = wanted(limits)
        .into_iter()
        .partition(|controller| enabled.contains(controller));
    if usable.is_empty() {
        notes.push(format!(
            "{SKIPPED}: {} does not delegate the {} controller{} to its children; the rlimits \
             apply",
            parent.display(),
            missing.join(", "),
            if missing.len() == 1 { "" } else { "s" }
        ));
        return None;
    }
    for controller in &missing {
        notes.push(format!(
            "cgroup {controller} limit skipped: {} does not delegate that controller",
            parent.display()
        ));
    }
    let name = format!(
        "oanix-sandbox-{}-{}",
        std::process::id(),
        NEXT_LEAF.fetch_add(1, Ordering::Relaxed)
    );
    let dir = parent.join(name);
    if let Err(error) = fs::create_dir(&dir) {
        notes.push(format!(
            "{SKIPPED}: cannot create a cgroup in {} (not a delegated subtree): {}; the \
             rlimits apply",
            parent.display(),
            describe_io(&error)
        ));
        return None;
    }
    let leaf = Leaf { dir };
    let writes = [
        (
            "memory",
            "memory.max",
            limits.memory.map(|bytes| bytes.to_string()),
        ),
        ("pids", "pids.max", limits.pids.map(|n| n.to_string())),
        (
            "cpu",
            "cpu.max",
            limits.cpu_millis.map(|millis| {
                format!(
                    "{} {CPU_PERIOD_US}",
                    u64::from(millis) * CPU_PERIOD_US / 1000
                )
            }),
        ),
    ];
    for (controller, file, value) in writes {
        let Some(value) = value else { continue };
        if !usable.contains(&controller) {
            continue;
        }
        if let Err(error) = fs::write(leaf.dir.join(file), value) {
            notes.push(format!(
                "{SKIPPED}: writing {} failed: {}; the rlimits apply",
                leaf.dir.join(file).display(),
                describe_io(&error)
            ));
            leaf.finish(notes);
            return None;
        }
    }
    Some(leaf)
}

impl Leaf {
    /// The leaf's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Moves process `pid` (and so everything it starts) into the leaf.
    pub(crate) fn attach(&self, pid: i32) -> std::io::Result<()> {
        fs::write(self.dir.join("cgroup.procs"), pid.to_string())
    }

    /// Notes what the limits did, and removes the leaf (every process in it has ended).
    pub(crate) fn finish(self, notes: &mut Vec<String>) {
        if let Ok(events) = fs::read_to_string(self.dir.join("memory.events")) {
            let kills = events
                .lines()
                .find_map(|line| line.strip_prefix("oom_kill "))
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
            if kills > 0 {
                notes.push(format!(
                    "the cgroup memory limit was reached: {kills} process{} killed",
                    if kills == 1 { " was" } else { "es were" }
                ));
            }
        }
        if let Err(error) = fs::remove_dir(&self.dir) {
            notes.push(format!(
                "could not remove the cgroup {}: {}",
                self.dir.display(),
                describe_io(&error)
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1_MOUNTINFO: &str = "\
25 1 0:23 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:24 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
";

    #[test]
    fn mountinfo_is_parsed_with_escapes() {
        assert_eq!(cgroup2_mount(V1_MOUNTINFO), None);
        let v2 = "30 1 0:26 / /sys/fs/my\\040cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw\n";
        assert_eq!(
            cgroup2_mount(v2),
            Some((PathBuf::from("/sys/fs/my cgroup"), "/".to_owned()))
        );
        assert_eq!(
            own_cgroup("4:memory:/x\n0::/user.slice/a.scope\n"),
            Some("/user.slice/a.scope")
        );
        assert_eq!(own_cgroup("4:memory:/x\n"), None);
    }

    #[test]
    fn a_v1_host_is_noted_and_left_alone() {
        let mut notes = Vec::new();
        let host = HostView {
            mountinfo: V1_MOUNTINFO.to_owned(),
            self_cgroup: "4:memory:/x\n0::/\n".to_owned(),
            verify: true,
        };
        assert!(prepare(&CgroupLimits::default(), &host, &mut notes).is_none());
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("no cgroup v2 hierarchy"), "{notes:?}");
        let mut quiet = Vec::new();
        assert!(prepare(&CgroupLimits::none(), &host, &mut quiet).is_none());
        assert!(quiet.is_empty());
    }

    /// A directory laid out like a delegated cgroup2 subtree.
    fn fake_hierarchy(controllers: &str) -> (tempfile::TempDir, HostView, PathBuf) {
        let mount = tempfile::tempdir().unwrap();
        let delegated = mount.path().join("svc");
        std::fs::create_dir_all(delegated.join("main")).unwrap();
        std::fs::write(delegated.join("cgroup.subtree_control"), controllers).unwrap();
        let host = HostView {
            mountinfo: format!(
                "30 1 0:26 / {} rw - cgroup2 cgroup2 rw\n",
                mount.path().display()
            ),
            self_cgroup: "0::/svc/main\n".to_owned(),
            verify: false,
        };
        (mount, host, delegated)
    }

    #[test]
    fn a_delegated_subtree_gets_a_leaf_with_the_limits() {
        let (_mount, host, delegated) = fake_hierarchy("cpu memory pids\n");
        let limits = CgroupLimits {
            memory: Some(1 << 30),
            pids: Some(64),
            cpu_millis: Some(1500),
        };
        let mut notes = Vec::new();
        let leaf = prepare(&limits, &host, &mut notes).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(leaf.dir().parent(), Some(delegated.as_path()));
        let read = |name: &str| std::fs::read_to_string(leaf.dir().join(name)).unwrap();
        assert_eq!(read("memory.max"), (1u64 << 30).to_string());
        assert_eq!(read("pids.max"), "64");
        assert_eq!(read("cpu.max"), "150000 100000");
        leaf.attach(4242).unwrap();
        assert_eq!(read("cgroup.procs"), "4242");
        std::fs::write(leaf.dir().join("memory.events"), "oom 1\noom_kill 2\n").unwrap();
        let mut after = Vec::new();
        leaf.finish(&mut after);
        assert!(after[0].contains("2 processes were killed"), "{after:?}");
    }

    #[test]
    fn missing_controllers_are_noted() {
        let (_mount, host, _) = fake_hierarchy("pids\n");
        let mut notes = Vec::new();
        let leaf = prepare(&CgroupLimits::default(), &host, &mut notes).unwrap();
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(notes[0].contains("memory limit skipped"), "{notes:?}");
        assert!(!leaf.dir().join("memory.max").exists());
        let (_mount, host, _) = fake_hierarchy("io\n");
        let mut notes = Vec::new();
        assert!(prepare(&CgroupLimits::default(), &host, &mut notes).is_none());
        assert!(
            notes[0].contains("does not delegate the memory, pids controllers"),
            "{notes:?}"
        );
    }

    #[test]
    fn the_running_host_is_described_without_writing_v1() {
        let host = HostView::current();
        let mut notes = Vec::new();
        let leaf = prepare(&CgroupLimits::default(), &host, &mut notes);
        if cgroup2_mount(&host.mountinfo).is_none() {
            assert!(leaf.is_none());
            assert!(notes[0].contains("no cgroup v2 hierarchy"), "{notes:?}");
        }
        if let Some(leaf) = leaf {
            leaf.finish(&mut notes);
        }
    }
}
