//! The child's plan: everything the sandbox's init and command need, converted and allocated
//! before the clone, so that the code after it allocates nothing.

use std::ffi::{CStr, CString, OsStr, OsString};
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;

use libc::c_char;

use crate::config::Sandbox;
use crate::error::{Result, SandboxError};
use crate::seccomp;
use crate::sys::RlimitResource;

/// The descriptors the child inherits and uses, each numbered 3 or more.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fds {
    /// Write end of the report pipe (close-on-exec).
    pub(crate) report: RawFd,
    /// Read end of the go-ahead pipe.
    pub(crate) sync: RawFd,
    /// The command's standard input (`/dev/null`).
    pub(crate) stdin: RawFd,
    /// Write end of the standard output pipe.
    pub(crate) stdout: RawFd,
    /// Write end of the standard error pipe.
    pub(crate) stderr: RawFd,
    /// The sandbox's end of the socket pair that carries the listening sockets to the
    /// caller (close-on-exec), when the command has listeners.
    pub(crate) listeners: Option<RawFd>,
}

/// A read-only bind, ready for the child.
#[derive(Debug)]
pub(crate) struct BindPlan {
    /// The host path.
    pub(crate) source: CString,
    /// The sandbox path's components, from the root down.
    pub(crate) target: Vec<CString>,
    /// Whether a host path that vanished since `build` is skipped rather than an error.
    pub(crate) optional: bool,
}

/// A device node bound from the host's `/dev` into the sandbox's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Device {
    /// The host path.
    pub(crate) host: &'static CStr,
    /// The name in the sandbox's `/dev`.
    pub(crate) name: &'static CStr,
}

/// The only device nodes in the sandbox's `/dev`.
pub(crate) const DEVICES: [Device; 6] = [
    Device {
        host: c"/dev/null",
        name: c"null",
    },
    Device {
        host: c"/dev/zero",
        name: c"zero",
    },
    Device {
        host: c"/dev/full",
        name: c"full",
    },
    Device {
        host: c"/dev/random",
        name: c"random",
    },
    Device {
        host: c"/dev/urandom",
        name: c"urandom",
    },
    Device {
        host: c"/dev/tty",
        name: c"tty",
    },
];

/// The resource limits the command gets, in the order of [`ChildPlan::rlimits`], with the
/// name an error gives each.
pub(crate) const RLIMIT_NAMES: [&str; 6] = [
    "address space",
    "processes",
    "cpu time",
    "file size",
    "open files",
    "core dump size",
];

/// Everything the child needs.
#[derive(Debug)]
pub(crate) struct ChildPlan {
    /// The descriptors it uses.
    pub(crate) fds: Fds,
    /// The same, sorted: every other inherited descriptor is closed.
    pub(crate) keep: Vec<RawFd>,
    /// The user id inside.
    pub(crate) uid: u32,
    /// The group id inside.
    pub(crate) gid: u32,
    /// The host directory that becomes `/`.
    pub(crate) root: CString,
    /// The read-only binds, parents first.
    pub(crate) binds: Vec<BindPlan>,
    /// The hostname.
    pub(crate) hostname: CString,
    /// The ports to listen on, in the order the caller receives them.
    pub(crate) ports: Vec<u16>,
    /// The highest capability number the kernel knows.
    pub(crate) last_cap: u32,
    /// The system call filter.
    pub(crate) filter: Vec<libc::sock_filter>,
    /// The resource limits, in the order of [`RLIMIT_NAMES`].
    pub(crate) rlimits: [(RlimitResource, u64); 6],
    /// The working directory.
    pub(crate) cwd: CString,
    /// The paths `execve` tries, in order.
    pub(crate) candidates: Vec<CString>,
    /// The arguments, owned (the pointers below point into them).
    _argv: Vec<CString>,
    /// Null-terminated pointers to the arguments.
    pub(crate) argv: Vec<*const c_char>,
    /// The environment as `KEY=value`, owned.
    _env: Vec<CString>,
    /// Null-terminated pointers to the environment.
    pub(crate) envp: Vec<*const c_char>,
}

fn c_string(bytes: &[u8], what: &str) -> Result<CString> {
    CString::new(bytes)
        .map_err(|_| SandboxError::InvalidConfig(format!("{what} contains a NUL byte")))
}

/// Null-terminated pointers into `strings`.
fn pointers(strings: &[CString]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// The highest capability number the running kernel knows (63 if it does not say).
fn last_capability() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .unwrap_or(63)
}

/// The paths to try for `program`: itself if it holds a `/`, else each `PATH` entry joined
/// with it (empty entries skipped).
pub(crate) fn exec_candidates(program: &OsStr, path: Option<&OsString>) -> Vec<Vec<u8>> {
    let name = program.as_bytes();
    if name.contains(&b'/') {
        return vec![name.to_vec()];
    }
    let Some(path) = path else {
        return Vec::new();
    };
    path.as_bytes()
        .split(|byte| *byte == b':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| {
            let mut full = dir.to_vec();
            if !full.ends_with(b"/") {
                full.push(b'/');
            }
            full.extend_from_slice(name);
            full
        })
        .collect()
}

impl ChildPlan {
    /// The plan for running `argv` in `sandbox`, listening on `ports`, with the descriptors
    /// `fds`.
    pub(crate) fn new(
        sandbox: &Sandbox,
        argv: &[OsString],
        ports: &[u16],
        fds: Fds,
    ) -> Result<Self> {
        if !ports.is_empty() && fds.listeners.is_none() {
            return Err(SandboxError::InvalidConfig(
                "listeners need a channel to the caller".into(),
            ));
        }
        let program = argv
            .first()
            .filter(|program| !program.is_empty())
            .ok_or_else(|| SandboxError::InvalidConfig("the command has no program".into()))?;
        let argv_c = argv
            .iter()
            .enumerate()
            .map(|(k, arg)| c_string(arg.as_bytes(), &format!("argument {k} of the command")))
            .collect::<Result<Vec<_>>>()?;
        let env_c = sandbox
            .env
            .iter()
            .map(|(key, value)| {
                let mut entry = key.as_bytes().to_vec();
                entry.push(b'=');
                entry.extend_from_slice(value.as_bytes());
                c_string(&entry, "an environment variable")
            })
            .collect::<Result<Vec<_>>>()?;
        let candidates = exec_candidates(program, sandbox.path_var())
            .iter()
            .map(|path| c_string(path, "the program's path"))
            .collect::<Result<Vec<_>>>()?;
        let binds = sandbox
            .binds
            .iter()
            .map(|bind| {
                let target = bind
                    .sandbox
                    .split('/')
                    .filter(|part| !part.is_empty())
                    .map(|part| c_string(part.as_bytes(), "a sandbox path"))
                    .collect::<Result<Vec<_>>>()?;
                Ok(BindPlan {
                    source: c_string(bind.host.as_os_str().as_bytes(), "a bind's host path")?,
                    target,
                    optional: !bind.required,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let limits = &sandbox.limits;
        let cpu_seconds = limits.cpu_time.as_secs() + u64::from(limits.cpu_time.subsec_nanos() > 0);
        let rlimits = [
            (libc::RLIMIT_AS, limits.address_space),
            (libc::RLIMIT_NPROC, limits.processes),
            (libc::RLIMIT_CPU, cpu_seconds),
            (libc::RLIMIT_FSIZE, limits.file_size),
            (libc::RLIMIT_NOFILE, limits.open_files),
            (libc::RLIMIT_CORE, 0),
        ];
        let mut keep = vec![fds.report, fds.sync, fds.stdin, fds.stdout, fds.stderr];
        keep.extend(fds.listeners);
        keep.sort_unstable();
        keep.dedup();
        let argv_ptrs = pointers(&argv_c);
        let envp = pointers(&env_c);
        Ok(Self {
            fds,
            keep,
            uid: sandbox.identity.uid,
            gid: sandbox.identity.gid,
            root: c_string(sandbox.root.as_os_str().as_bytes(), "the root")?,
            binds,
            hostname: c_string(sandbox.hostname.as_bytes(), "the hostname")?,
            ports: ports.to_vec(),
            last_cap: last_capability(),
            filter: seccomp::program(),
            rlimits,
            cwd: c_string(sandbox.cwd.as_bytes(), "the working directory")?,
            candidates,
            _argv: argv_c,
            argv: argv_ptrs,
            _env: env_c,
            envp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(candidates: Vec<Vec<u8>>) -> Vec<String> {
        candidates
            .into_iter()
            .map(|c| String::from_utf8(c).unwrap())
            .collect()
    }

    #[test]
    fn programs_are_looked_up_on_the_path() {
        let path = OsString::from("/usr/local/bin::/usr/bin/:/bin");
        assert_eq!(
            texts(exec_candidates(OsStr::new("sh"), Some(&path))),
            ["/usr/local/bin/sh", "/usr/bin/sh", "/bin/sh"]
        );
        assert_eq!(
            texts(exec_candidates(OsStr::new("/bin/sh"), Some(&path))),
            ["/bin/sh"]
        );
        assert_eq!(texts(exec_candidates(OsStr::new("./run"), None)), ["./run"]);
        assert!(exec_candidates(OsStr::new("sh"), None).is_empty());
    }

    #[test]
    fn the_plan_is_null_terminated_and_refuses_nul_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::builder()
            .root(dir.path())
            .env("HOME", "/home")
            .build()
            .unwrap();
        let fds = Fds {
            report: 9,
            sync: 5,
            stdin: 7,
            stdout: 6,
            stderr: 8,
            listeners: None,
        };
        let argv = [OsString::from("sh"), OsString::from("-c")];
        let plan = ChildPlan::new(&sandbox, &argv, &[], fds).unwrap();
        assert_eq!(plan.argv.len(), 3);
        assert!(plan.argv[2].is_null());
        assert_eq!(plan.envp.len(), 3);
        assert!(plan.envp[2].is_null());
        assert_eq!(plan.keep, [5, 6, 7, 8, 9]);
        assert_eq!(plan.candidates.len(), 3);
        let bad = [OsString::from("sh"), OsString::from("a\0b")];
        let error = ChildPlan::new(&sandbox, &bad, &[], fds).unwrap_err();
        assert!(error.to_string().contains("argument 1"), "{error}");
        let error = ChildPlan::new(&sandbox, &[OsString::new()], &[], fds).unwrap_err();
        assert!(error.to_string().contains("no program"), "{error}");
    }

    #[test]
    fn the_listeners_channel_is_kept_open() {
        let dir = tempfile::tempdir().unwrap();
        let sandbox = Sandbox::builder().root(dir.path()).build().unwrap();
        let fds = Fds {
            report: 9,
            sync: 5,
            stdin: 7,
            stdout: 6,
            stderr: 8,
            listeners: Some(4),
        };
        let argv = [OsString::from("true")];
        let plan = ChildPlan::new(&sandbox, &argv, &[80, 8080], fds).unwrap();
        assert_eq!(plan.keep, [4, 5, 6, 7, 8, 9]);
        assert_eq!(plan.ports, [80, 8080]);
        let without = Fds {
            listeners: None,
            ..fds
        };
        let error = ChildPlan::new(&sandbox, &argv, &[80], without).unwrap_err();
        assert!(error.to_string().contains("channel"), "{error}");
    }
}
