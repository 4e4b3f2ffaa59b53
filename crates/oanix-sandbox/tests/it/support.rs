//! What the tests share: a root directory owned by a user of the test's own, output sinks,
//! and views of the host to check that nothing outside changed.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, chown};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oanix_sandbox::{Command, Identity, Outcome, Sandbox, SandboxBuilder, SandboxError};

/// Host uids for the tests' sandboxes, one per root, so that a test can count its own
/// processes on the host while others run.
static NEXT_UID: AtomicU32 = AtomicU32::new(0);

/// The first host uid of this test process: apart from those of other test processes.
fn uid_base() -> u32 {
    3_100_000 + (std::process::id() % 1000) * 1000
}

/// A sandbox root: a temporary directory with `/workspace` and `/tmp`, owned by a host user
/// that only this root's sandboxes use.
pub(crate) struct Root {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) uid: u32,
}

impl Root {
    pub(crate) fn new() -> Self {
        let uid = uid_base() + NEXT_UID.fetch_add(1, Ordering::Relaxed);
        let dir = tempfile::tempdir().unwrap();
        for sub in ["workspace", "tmp"] {
            std::fs::create_dir(dir.path().join(sub)).unwrap();
            chown(dir.path().join(sub), Some(uid), Some(uid)).unwrap();
        }
        chown(dir.path(), Some(uid), Some(uid)).unwrap();
        Self { dir, uid }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A builder with this root, the tool paths, this root's user and a 60 s timeout.
    pub(crate) fn builder(&self) -> SandboxBuilder {
        Sandbox::builder()
            .root(self.path())
            .tool_paths()
            .identity(Identity::host(self.uid, self.uid))
            .timeout(Duration::from_secs(60))
    }

    pub(crate) fn sandbox(&self) -> Sandbox {
        self.builder().build().unwrap()
    }

    /// Host processes running as this root's user.
    pub(crate) fn processes(&self) -> Vec<u32> {
        processes_of(self.uid)
    }
}

/// A sink that keeps what it is given.
#[derive(Clone, Default)]
pub(crate) struct Capture(pub(crate) Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a run of a command gave.
pub(crate) struct Ran {
    pub(crate) outcome: Outcome,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs `argv` in `sandbox`, capturing both streams.
pub(crate) fn run(sandbox: &Sandbox, argv: &[&str]) -> Result<Ran, SandboxError> {
    let (out, err) = (Capture::default(), Capture::default());
    let command = Command::new(argv[0])
        .args(&argv[1..])
        .stdout(out.clone())
        .stderr(err.clone());
    let outcome = sandbox.run(command)?;
    Ok(Ran {
        outcome,
        stdout: out.text(),
        stderr: err.text(),
    })
}

/// Runs a shell script in `sandbox`.
pub(crate) fn sh(sandbox: &Sandbox, script: &str) -> Ran {
    run(sandbox, &["sh", "-c", script]).unwrap()
}

/// Runs a Python program in `sandbox`.
pub(crate) fn python(sandbox: &Sandbox, program: &str) -> Ran {
    run(sandbox, &["python3", "-c", program]).unwrap()
}

/// The host processes whose real uid is `uid`.
pub(crate) fn processes_of(uid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let real = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().next())
            .and_then(|id| id.parse::<u32>().ok());
        if real == Some(uid) {
            found.push(pid);
        }
    }
    found
}

/// Every file and directory below `dir` (links not followed) with its size, mode and
/// modification time, plus file contents: equal snapshots mean nothing changed.
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, u32, i64, Vec<u8>)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(path) = todo.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let content = if meta.is_file() {
            std::fs::read(&path).unwrap_or_default()
        } else {
            Vec::new()
        };
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            todo.extend(entries.flatten().map(|entry| entry.path()));
        }
        out.insert(path, (meta.size(), meta.mode(), meta.mtime(), content));
    }
    out
}

/// The host's mount table as this process sees it.
pub(crate) fn host_mounts() -> String {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap()
}

/// A directory outside every sandbox root holding a secret, to check nothing reads or
/// changes it.
pub(crate) struct Canary {
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) const SECRET: &str = "oanix-canary-secret-4f1c";

impl Canary {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), SECRET).unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/file"), "untouched").unwrap();
        Self { dir }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}
