//! Native agents: a Linux program — `sh`, `python3`, `git`, `node`, a
//! coding agent — run with its environment's namespace as its whole world.
//!
//! A [`NativeRun`] takes an [`OanixEnv`](oanix_env::OanixEnv) whose agent is
//! a command (`[agent] command = ["python3", "agent.py"]`), and:
//!
//! 1. serves the namespace through FUSE (`oanix-fuse`) on a fresh directory
//!    under `$TMPDIR/oanix-native-UID`, with `/task`, `/logs` and `/cap`
//!    read through (never cached by the kernel) and the rest cached as
//!    writable content; an empty read-only directory stands in for each
//!    place the sandbox mounts something the namespace lacks (`/usr`,
//!    `/proc`, `/dev`...);
//! 2. builds a sandbox (`oanix-sandbox`) whose root is that mount: new user,
//!    mount, PID, IPC, UTS, network and cgroup namespaces, the host's
//!    system paths read-only (the manifest's `[sandbox] system_paths`, or
//!    the usual tool directories), its own `/proc` and a `/dev` of six
//!    nodes, no capability, a system call filter, rlimits, the timeout;
//! 3. runs the command there as uid 1000, working in `/workspace` when
//!    there is one, its standard output and error appended to
//!    `/logs/stdout.log` and `/logs/stderr.log` as they come (so `tail -f`
//!    inside, and the host's followers, see them live);
//! 4. when the environment has an HTTP capability, serves the egress proxy
//!    (`oanix-proxy`) on the sandbox's own `127.0.0.1:3128` ([`PROXY_PORT`])
//!    with `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` (and the lower-case forms)
//!    set: the tools' own HTTP and HTTPS go out under the capability's
//!    policy, guard and records, and nothing else leaves;
//! 5. unmounts on every way out, and removes dead mounts that a killed
//!    process left in that directory before it mounts.
//!
//! [`NativeRun::run`] drives the environment's lifecycle: `Running`, then
//! `Completed` with the exit code (the task completes for 0 and fails
//! otherwise), or `Failed` with the reason (a signal, the timeout, a
//! command that could not start). [`NativeRun::execute`] leaves the
//! lifecycle alone, for schedulers. A copy-on-write workspace is reviewed
//! afterwards through the environment, as for a WASI agent.
//!
//! ```no_run
//! use oanix_env::EnvPlan;
//! use oanix_native::NativeRun;
//!
//! let plan = EnvPlan::from_manifest(
//!     "[task]\nid = \"t\"\n[agent]\ncommand = [\"sh\", \"-c\", \"cat /task/spec.json\"]\n",
//!     "inline",
//!     std::path::Path::new("."),
//! )?;
//! let env = plan.builder()?.build()?;
//! let outcome = NativeRun::new(&env).run()?;
//! assert_eq!(outcome.shell_code(), 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Security boundary
//!
//! The sandbox's, written down in `oanix-sandbox` with its limits; what
//! this crate adds:
//!
//! - **The root is the namespace and nothing else.** The agent sees the
//!   mounts of its environment, the bound system paths (read-only), and
//!   the sandbox's `/proc` and `/dev`. Symbolic links inside resolve
//!   against that root, never the host's.
//! - **The mount is the host process's.** Its requests are served by the
//!   host; the agent's uid is the mount's owner, so the files of the
//!   namespace are the agent's to change as the services allow (there are
//!   no other permissions). As root, the agent is host `nobody` and the
//!   mount is made `allow_other` for it; other users of the machine can
//!   then reach the mount point too, though not list the directory above
//!   it (`0711`).
//! - **Limits are the services' and the sandbox's.** A full MemFs or
//!   copy-on-write layer answers `ENOSPC`; processes, memory, CPU time, file
//!   size and open files are the sandbox's rlimits.
//!
//! # Where it sits
//!
//! Above `oanix-env` (the environment), `oanix-fuse` (the namespace through
//! the kernel) and `oanix-sandbox` (the process tree); the scheduler and
//! the `oanix` command use it for native jobs and `oanix run -- CMD`.
//! Linux only: elsewhere every run answers the FUSE layer's
//! unsupported-platform error.

mod error;
mod rootfs;
mod run;

pub use error::{NativeError, Result};
pub use oanix_sandbox::Exit;
pub use rootfs::TRUST_DIR;
pub use run::{NativeOutcome, NativeRun, PROXY_PORT};
