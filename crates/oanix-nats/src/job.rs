//! What travels: a job, its result, and the names of the JetStream objects
//! that carry them.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The stream of jobs: a work queue, one subject per priority band.
pub const STREAM: &str = "OANIX_JOBS";
/// The key-value bucket of results, one key per job id.
pub const RESULTS: &str = "oanix_results";
/// The object store of modules, by their SHA-256.
pub const MODULES: &str = "oanix_modules";

/// A priority band. Workers take from the highest band that has a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// Taken first.
    High,
    /// The default.
    Normal,
    /// Taken when no other band has a job.
    Low,
}

impl Band {
    /// Every band, highest first.
    pub const ALL: [Band; 3] = [Band::High, Band::Normal, Band::Low];

    /// The band's name (`high`, `normal`, `low`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::High => "high",
            Self::Normal => "normal",
            Self::Low => "low",
        }
    }

    /// The subject its jobs are published on.
    pub fn subject(self) -> String {
        format!("oanix.jobs.{}", self.as_str())
    }

    /// The durable consumer every worker shares for the band.
    pub fn consumer(self) -> String {
        format!("oanix-{}", self.as_str())
    }

    /// The band named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.as_str() == name)
    }
}

/// A job as it travels: its manifest, and its module by content hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NatsJob {
    /// The job's id, unique over the cluster: `BATCH.N`. It is the message
    /// id (the stream drops a second publication of it) and the result's key.
    pub id: String,
    /// The batch it belongs to.
    pub batch: String,
    /// Its band.
    pub band: Band,
    /// The environment manifest (TOML). Its `[agent] module` is not read:
    /// the module is `module`.
    pub manifest: String,
    /// The SHA-256 (hex) of the WASI module, stored in [`MODULES`] under it.
    pub module: String,
    /// Arguments after the manifest's.
    pub args: Vec<String>,
    /// Wall-clock limit of the run, in seconds.
    pub timeout_secs: Option<f64>,
    /// When it was submitted, in milliseconds since the Unix epoch.
    pub submitted_ms: u64,
}

/// How a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// The agent ran and exited (any exit code).
    Completed,
    /// The environment failed (a trap, the timeout, a manifest that does
    /// not build).
    Failed,
    /// Not run again: it was delivered more times than allowed without a
    /// result (it kills its workers), or it could not be read.
    Parked,
    /// Cancelled before it had a result ([`crate::Queues::cancel`]): not
    /// run, or stopped while it ran.
    Cancelled,
}

/// A job's result, written once under its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct JobResult {
    /// The job.
    pub id: String,
    /// How it ended.
    pub state: JobState,
    /// The agent's exit code, when it exited.
    pub exit_code: Option<i64>,
    /// Why it failed or was parked.
    pub error: Option<String>,
    /// `/task/result.json`, when the agent wrote one.
    pub result: Option<Value>,
    /// SHA-256 of the agent's stdout and stderr.
    pub stdout_sha256: String,
    /// SHA-256 of stderr.
    pub stderr_sha256: String,
    /// The start of stdout (at most 4 KiB).
    pub stdout_head: String,
    /// The worker whose result this is.
    pub worker: String,
    /// Which delivery of the job it was (1 for the first).
    pub attempt: i64,
    /// How long the run took, in milliseconds.
    pub duration_ms: f64,
    /// When it was written, in milliseconds since the Unix epoch.
    pub finished_ms: u64,
}

impl JobResult {
    /// The result of job `id`, cancelled for `reason` before it had one.
    pub fn cancelled(id: &str, reason: &str) -> Self {
        Self {
            id: id.to_owned(),
            state: JobState::Cancelled,
            exit_code: None,
            error: Some(reason.to_owned()),
            result: None,
            stdout_sha256: sha256_hex(b""),
            stderr_sha256: sha256_hex(b""),
            stdout_head: String::new(),
            worker: String::new(),
            attempt: 0,
            duration_ms: 0.0,
            finished_ms: now_ms(),
        }
    }
}

/// The subject on which the cancellation of job `id` is told to workers.
pub(crate) fn cancel_subject(id: &str) -> String {
    format!("{CANCELS}.{id}")
}

/// The subjects of cancellations (core NATS, not stored).
pub(crate) const CANCELS: &str = "oanix.cancel";

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
