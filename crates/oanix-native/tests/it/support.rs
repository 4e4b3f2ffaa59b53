//! What the tests share: environments from manifest text over a real
//! workspace directory, and a check that the machine can run them.

use std::path::{Path, PathBuf};

use oanix_env::{EnvPlan, OanixEnv};
use oanix_services::LogStream;

/// A workspace directory and a manifest in a temporary directory.
pub(crate) struct Fixture {
    pub(crate) dir: tempfile::TempDir,
}

impl Fixture {
    /// A fixture whose workspace holds `files` (path, contents).
    pub(crate) fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("project");
        std::fs::create_dir(&ws).unwrap();
        for (path, text) in files {
            let p = ws.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Self { dir }
    }

    /// The workspace on the host.
    pub(crate) fn workspace(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    /// An environment from `manifest` (relative paths from the fixture).
    pub(crate) fn env(&self, manifest: &str) -> OanixEnv {
        let plan = EnvPlan::from_manifest(manifest, "test.toml", self.dir.path()).unwrap();
        plan.builder().unwrap().build().unwrap()
    }
}

/// A manifest with a task, a copy-on-write workspace and `agent`.
pub(crate) fn manifest(agent: &str, extra: &str) -> String {
    format!(
        r#"
[task]
id = "fix-1"
type = "bugfix"
description = "make the greeting polite"
input = {{ file = "greet.txt" }}

[agent]
{agent}

[[mount]]
path = "/workspace"
kind = "workspace"
host = "project"

[limits]
timeout_secs = 60
{extra}
"#
    )
}

/// What the agent printed on `stream`.
pub(crate) fn output(env: &OanixEnv, stream: LogStream) -> String {
    String::from_utf8_lossy(&env.logs().unwrap().contents(stream)).into_owned()
}

/// Whether a program is on the host (the sandbox binds the host's `/usr`).
pub(crate) fn have(program: &str) -> bool {
    ["/usr/bin", "/bin", "/usr/local/bin"]
        .iter()
        .any(|d| Path::new(d).join(program).exists())
}

/// Skips a test, with a line saying why, unless `program` is installed
/// (`.ci/run` installs every one, so CI never skips).
#[macro_export]
macro_rules! require {
    ($program:expr) => {
        if !$crate::support::have($program) {
            assert!(
                std::env::var_os("CI").is_none(),
                "{} is not installed, and CI must run this test",
                $program
            );
            eprintln!("skipped: {} is not installed", $program);
            return;
        }
    };
}
