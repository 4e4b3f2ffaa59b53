//! Runs a native Linux process tree confined to a given root directory.
//!
//! An agent that is a native program (`python3`, `sh`, `git`, `node`) gets the same world as
//! a WASI guest: its root is a directory the host chose — in OANIX, its namespace mounted
//! through FUSE — plus the host paths its tools need, read-only. This crate knows nothing of
//! namespaces of files: it takes a host directory as the root, so it can be used and tested
//! alone.
//!
//! - [`Sandbox::builder`] takes the root, the read-only binds ([`SandboxBuilder::ro_bind`],
//!   [`SandboxBuilder::tool_paths`]), the environment, the working directory, the
//!   [`Identity`], the [`Limits`] and the timeout; [`SandboxBuilder::build`] checks them once.
//! - [`Sandbox::run`] runs a [`Command`] (program, arguments, sinks for standard output and
//!   error) and returns an [`Outcome`]: [`Exit::Code`], [`Exit::Signal`] or
//!   [`Exit::TimedOut`], the duration, and notes. A sandbox can run any number of commands,
//!   one after another or at once from several threads; each run gets new namespaces.
//! - [`Command::listen`] serves a TCP port on the sandbox's own loopback from the caller:
//!   the command connects to `127.0.0.1:PORT` and the caller's handler accepts, on a
//!   listening socket made inside the sandbox and handed out before the command starts.
//! - Everything that stops a command from starting is a [`SandboxError`] of one line: user
//!   namespaces unavailable, a system path missing, a command not found inside, an
//!   unsupported platform, a failed step with the paths it concerned.
//!
//! ```no_run
//! use std::sync::{Arc, Mutex};
//! use oanix_sandbox::{Command, Exit, Sandbox};
//!
//! let sandbox = Sandbox::builder()
//!     .root("/srv/agent/root")
//!     .tool_paths()
//!     .cwd("/workspace")
//!     .build()?;
//! let outcome = sandbox.run(
//!     Command::new("sh")
//!         .args(["-c", "echo hi; exit 3"])
//!         .stdout(std::io::stdout())
//!         .stderr(std::io::stderr()),
//! )?;
//! assert_eq!(outcome.exit, Exit::Code(3));
//! # Ok::<(), oanix_sandbox::SandboxError>(())
//! ```
//!
//! # How a run works
//!
//! The caller clones a process into new user, mount, PID, IPC, UTS, network and cgroup
//! namespaces, writes its one-line uid and gid maps, and lets it go. That process is PID 1 of
//! the sandbox: it takes the sandbox's ids, builds the mount tree, enters it with
//! `pivot_root`, brings `lo` up, drops every privilege, installs the system call filter, and
//! starts the command as PID 2 — which sets its rlimits and working directory and executes
//! the program. When the command has listeners ([`Command::listen`]), init binds and listens
//! on each `127.0.0.1:PORT` after bringing `lo` up, while it still holds its capabilities in
//! the sandbox's user namespace (which owns the network namespace, so ports below 1024 work
//! too), and sends each socket to the caller over a socket pair (`SCM_RIGHTS`) before it
//! drops its privileges; the caller calls each handler with its socket on a thread of its
//! own. A connection the command makes is queued on the socket until the handler accepts.
//! Init reaps every process until the command ends, reports its status and exits; the kernel
//! then kills whatever the command left behind, daemons that called `setsid` and forked
//! twice included. At the timeout the caller kills init, with the same effect. Two threads
//! copy standard output and error to the sinks as they arrive; they see the end of the pipes
//! only when the last process holding them is gone, so nothing is lost and nothing lingers.
//!
//! The code between the clone and `execve` allocates nothing and calls only thin system call
//! wrappers, since the caller may have other threads; all of `unsafe` is in `sys.rs`, but
//! for the two clone calls in `child.rs`, each with a `SAFETY:` comment.
//!
//! # Security boundary
//!
//! What the command and everything it starts can and cannot reach:
//!
//! - **Files.** `/` is the root directory, as the root presents it (read-write if it is).
//!   The host paths of the binds appear read-only, `nosuid` and `nodev`, recursively (mounts
//!   below a bound path come along, read-only too). `/proc` is a new proc mount of the
//!   sandbox's PID namespace; `/dev` a read-only tmpfs holding only `null`, `zero`, `full`,
//!   `random`, `urandom` and `tty`, bound from the host. Nothing else of the host's tree is
//!   mounted: the host's root is detached after `pivot_root`, and no descriptor of the host
//!   survives into the command but its standard streams (`/dev/null` and two pipes; init
//!   closes the listening sockets and their socket pair before it starts the command). Mount
//!   points missing in the root are created in it (as the sandbox's user), one component at
//!   a time, never through a symbolic link: a link planted where a mount point belongs stops
//!   the run with an error instead of redirecting a mount.
//! - **Processes.** The command sees only the sandbox's processes. Init is not dumpable, so
//!   no sandboxed process can trace it or read its memory.
//! - **Network.** A new network namespace with only `lo`, brought up: nothing listening on
//!   the host (its `127.0.0.1` included) can be reached. The only servers on it beside the
//!   command's own are the listeners the caller asked for ([`Command::listen`]), served by
//!   the caller: sockets in the sandbox's namespace, bound before the command starts (so
//!   the command cannot take their ports), reachable only from inside the sandbox and not
//!   from the host's network. Whatever a handler does with a connection — a proxy's
//!   requests to the outside, say — is the caller's authority, not the sandbox's. A
//!   listener keeps the sandbox's network namespace alive while the caller holds it.
//!   `AF_VSOCK`, which no network namespace confines, is refused by the filter.
//! - **Privileges.** The user namespace maps a single uid and gid ([`Identity`]; by default
//!   1000 inside, `nobody` on the host for a root caller). The command holds no capability
//!   in any set (effective, permitted, inheritable, ambient, bounding), runs with
//!   `no_new_privs` and locked securebits, so no set-uid program or file capability raises
//!   it, and it has no supplementary groups (when the caller may drop them: as root).
//! - **System calls.** A seccomp filter refuses the mount family (`mount`, `umount2`,
//!   `pivot_root`, `chroot`, `open_tree`, `move_mount`, `fsopen`, `fsconfig`, `fsmount`,
//!   `fspick`, `mount_setattr`), new namespaces (`unshare`, `setns`, `clone` with namespace
//!   flags, `clone3`), `ptrace` and cross-process memory access, kernel keyrings, `bpf`,
//!   `perf_event_open`, `userfaultfd`, `io_uring`, file handles (`open_by_handle_at`),
//!   module, kexec, reboot, swap, clock and quota calls, terminal input injection
//!   (`TIOCSTI`, `TIOCLINUX`); a call of another ABI (i386, x32) is killed or refused.
//! - **Resources.** rlimits on every process: address space, processes (counted for the
//!   sandbox's user in its own user namespace, init included — a bound on the whole
//!   sandbox), CPU time, file size, open files, no core dumps. Where the caller runs in a
//!   delegated cgroup v2 subtree, a leaf cgroup per run adds memory, pids and CPU limits on
//!   the whole tree; elsewhere (cgroup v1 hosts: nothing is written there) the outcome says
//!   they were skipped. The timeout kills the whole tree.
//!
//! What it does not protect against:
//!
//! - **The kernel is shared.** A kernel bug reachable through an allowed system call is a
//!   way out; the filter narrows the surface, it does not close it. This is not a virtual
//!   machine.
//! - **The sandbox's `/proc` still shows the machine**: its CPUs, memory, uptime, load,
//!   kernel version and command line, `/proc/sys` (read-only to the sandbox), and the
//!   sandbox's own mount table, which names the host paths of the root and of each bind.
//!   There is no `/sys`.
//! - **Timing and contention.** Other tenants of the machine can be observed through caches,
//!   CPU and memory pressure, and timing; the sandbox competes for the same CPUs and disks.
//!   Without a cgroup, memory is bounded only per process (address space) times the process
//!   limit.
//! - **What the root and the binds expose.** A writable root is writable; whatever the
//!   caller bound is readable. A bind follows the symbolic links of its host path.
//! - **Per-user accounting of the host uid.** Sandboxes that share a host uid share the
//!   kernel's per-user accounting (pipe buffers, locked memory, inotify). A caller that wants
//!   them apart gives each its own [`Identity::host`].
//! - **Host root as the sandbox's user.** An [`Identity`] mapping to host uid 0 still holds
//!   no capability, but the kernel exempts it from the process limit, and files of host root
//!   that a bind or the root expose are its own.
//!
//! # Requirements
//!
//! Linux 5.12 or later (the new mount API, `openat2`, `mount_setattr`, pidfds) on x86_64 or
//! aarch64, with user namespaces available to the caller. As root this always holds; for
//! other users the distribution must allow unprivileged user namespaces. Elsewhere
//! [`SandboxBuilder::build`] returns [`SandboxError::Unsupported`].

#![cfg_attr(
    not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )),
    allow(
        dead_code,
        reason = "where the sandbox cannot run, the configuration is only checked"
    )
)]

mod config;
mod error;

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod cgroup;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod child;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod plan;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod report;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod run;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod seccomp;
#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
mod sys;
#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
mod unsupported;

pub use config::{
    CgroupLimits, Command, DEFAULT_HOSTNAME, DEFAULT_PATH, DEFAULT_TIMEOUT, Exit, Identity, Limits,
    Outcome, Sandbox, SandboxBuilder, TOOL_PATHS,
};
pub use error::{Result, SandboxError};
