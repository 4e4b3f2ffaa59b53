//! A run, from the caller's side: pipes, the clone, the id maps and the cgroup, the output
//! threads, the listening sockets handed to their handlers, the timeout, and turning what
//! the sandbox reported into an outcome or an error.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, PipeReader, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::cgroup::{self, HostView};
use crate::child::{self, GO_CLEAR_GROUPS, GO_KEEP_GROUPS};
use crate::config::{Command, Exit, Identity, Listener, Outcome, Sandbox, check_ports};
use crate::error::{Result, SandboxError, describe_errno, describe_io};
use crate::plan::{ChildPlan, DEVICES, Fds, RLIMIT_NAMES};
use crate::report::{Failure, RECORD_LEN, Record, Step};
use crate::sys::{self, Ended, Errno};

impl Sandbox {
    /// Runs `command` in a fresh sandbox and waits until every process of it has ended.
    ///
    /// Standard output and error go to the command's sinks while it runs. The run ends when
    /// the command's first process ends (whatever it left running is killed then) or when
    /// the timeout runs out (the whole tree is killed).
    ///
    /// The listening sockets of [`Command::listen`] are handed to their handlers before the
    /// command starts; when `run` returns, every handler has been called (on its own
    /// thread, which may still be running) or dropped, whatever `run` returns.
    ///
    /// # Errors
    ///
    /// [`SandboxError::InvalidConfig`] for a port given to [`Command::listen`] twice, or
    /// port 0; [`SandboxError::UserNamespaces`] when the kernel refuses the namespaces;
    /// [`SandboxError::CommandNotFound`] and [`SandboxError::Exec`] when the program cannot
    /// be started inside; [`SandboxError::WorkingDirectory`]; [`SandboxError::Setup`] for
    /// any other step of building the sandbox that fails (a mount point that is a symbolic
    /// link, a root the sandbox's user may not enter...). A command that runs and fails is
    /// an [`Outcome`], not an error.
    pub fn run(&self, command: Command) -> Result<Outcome> {
        let start = Instant::now();
        let Command {
            argv,
            stdout,
            stderr,
            listeners,
        } = command;
        let ports: Vec<u16> = listeners.iter().map(|listener| listener.port).collect();
        check_ports(&ports)?;
        let pipes = Pipes::new()?;
        // Declared before `init`: dropped after it, when the sandbox is gone.
        let mut handoff = Handoff::start(listeners)?;
        let plan = ChildPlan::new(self, &argv, &ports, pipes.fds(handoff.child_end()))?;
        let mut notes = Vec::new();
        let leaf = cgroup::prepare(&self.limits.cgroup, &HostView::current(), &mut notes);
        let spawned = child::spawn(&plan).map_err(clone_error)?;
        let mut init = Init {
            pidfd: spawned.pidfd,
            reaped: false,
        };
        let Pipes {
            stdout: out_read,
            stderr: err_read,
            report,
            sync,
            child_side,
        } = pipes;
        drop(child_side);
        handoff.close_child_end();
        let go = write_id_maps(spawned.pid, self.identity)?;
        if let Some(leaf) = &leaf
            && let Err(error) = leaf.attach(spawned.pid)
        {
            notes.push(format!(
                "cgroup limits skipped: moving the sandbox into {} failed: {}",
                leaf.dir().display(),
                describe_io(&error)
            ));
        }
        let pumps = [
            spawn_pump(out_read, stdout, "stdout")?,
            spawn_pump(err_read, stderr, "stderr")?,
        ];
        let mut sync = sync;
        sync.write_all(&[go]).map_err(|error| SandboxError::Setup {
            step: "starting the sandbox".into(),
            reason: describe_io(&error),
        })?;
        let watched = watch(&mut init, report, self.timeout.map(|t| start + t));
        // If watching failed, this kills the tree, so that the output threads see the end.
        drop(init);
        drop(sync);
        for pump in pumps {
            match pump.join() {
                Ok(Some(note)) => notes.push(note),
                Ok(None) => {}
                Err(_) => notes.push("an output sink panicked; its output was dropped".into()),
            }
        }
        notes.extend(handoff.finish());
        if let Some(leaf) = leaf {
            leaf.finish(&mut notes);
        }
        let watched = watched.map_err(|error| SandboxError::Setup {
            step: "waiting for the sandbox".into(),
            reason: describe_io(&error),
        })?;
        let exit = interpret(self, &plan, &argv, &watched)?;
        Ok(Outcome {
            exit,
            duration: start.elapsed(),
            notes,
        })
    }
}

/// The pipes of a run; the child's ends are duplicated to descriptors 3 and up, so that
/// the child can move them onto 0, 1 and 2 without clobbering one with another.
struct Pipes {
    stdout: PipeReader,
    stderr: PipeReader,
    report: PipeReader,
    sync: io::PipeWriter,
    /// Report write end, sync read end, stdin, stdout and stderr write ends.
    child_side: [OwnedFd; 5],
}

fn host_error(what: &str) -> impl Fn(io::Error) -> SandboxError + '_ {
    move |error| SandboxError::Setup {
        step: what.to_owned(),
        reason: describe_io(&error),
    }
}

impl Pipes {
    fn new() -> Result<Self> {
        let fail = host_error("creating the sandbox's pipes");
        let (stdout, out_write) = io::pipe().map_err(&fail)?;
        let (stderr, err_write) = io::pipe().map_err(&fail)?;
        let (report, report_write) = io::pipe().map_err(&fail)?;
        let (sync_read, sync) = io::pipe().map_err(&fail)?;
        let null = File::open("/dev/null").map_err(&fail)?;
        let high = |fd: &dyn AsRawFd| sys::dup_at_least(fd.as_raw_fd(), 3).map_err(&fail);
        let child_side = [
            high(&report_write)?,
            high(&sync_read)?,
            high(&null)?,
            high(&out_write)?,
            high(&err_write)?,
        ];
        Ok(Self {
            stdout,
            stderr,
            report,
            sync,
            child_side,
        })
    }

    fn fds(&self, listeners: Option<RawFd>) -> Fds {
        let [report, sync, stdin, stdout, stderr] = &self.child_side;
        Fds {
            report: report.as_raw_fd(),
            sync: sync.as_raw_fd(),
            stdin: stdin.as_raw_fd(),
            stdout: stdout.as_raw_fd(),
            stderr: stderr.as_raw_fd(),
            listeners,
        }
    }
}

/// The listening sockets' way from the sandbox's init to their handlers: a socket pair
/// (the sandbox's end numbered 3 or more) and a thread that receives the sockets in order
/// and calls each handler on a thread of its own. The thread ends when every holder of
/// the sandbox's end has closed it — init after the last socket, or by ending — and the
/// handlers not called by then are dropped. Finishing, or dropping, joins it.
struct Handoff {
    child_end: Option<OwnedFd>,
    thread: Option<JoinHandle<Vec<String>>>,
}

impl Handoff {
    /// Nothing at all when there are no listeners.
    fn start(listeners: Vec<Listener>) -> Result<Self> {
        if listeners.is_empty() {
            return Ok(Self {
                child_end: None,
                thread: None,
            });
        }
        let fail = host_error("creating the socket pair for the listeners");
        let (ours, theirs) = sys::seqpacket_pair().map_err(&fail)?;
        let child_end = sys::dup_at_least(theirs.as_raw_fd(), 3).map_err(&fail)?;
        drop(theirs);
        let thread = thread::Builder::new()
            .name("oanix-sandbox-listeners".into())
            .spawn(move || hand_over(&ours, listeners))
            .map_err(host_error("starting the listeners' thread"))?;
        Ok(Self {
            child_end: Some(child_end),
            thread: Some(thread),
        })
    }

    /// The sandbox's end, for the plan.
    fn child_end(&self) -> Option<RawFd> {
        self.child_end.as_ref().map(AsRawFd::as_raw_fd)
    }

    /// Closes this process's copy of the sandbox's end (once init holds its own).
    fn close_child_end(&mut self) {
        self.child_end = None;
    }

    /// Waits until every socket was handed over or the sandbox's end closed; returns notes
    /// for the caller.
    fn finish(&mut self) -> Vec<String> {
        self.close_child_end();
        match self.thread.take().map(JoinHandle::join) {
            None => Vec::new(),
            Some(Ok(notes)) => notes,
            Some(Err(_)) => vec!["the thread handing over the listeners panicked".into()],
        }
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        // Only notes are lost, on a path that returns an error anyway.
        let _ = self.finish();
    }
}

/// Receives the listening sockets until end of file and starts each one's handler.
fn hand_over(channel: &OwnedFd, listeners: Vec<Listener>) -> Vec<String> {
    let mut waiting: Vec<Option<Listener>> = listeners.into_iter().map(Some).collect();
    let mut notes = Vec::new();
    loop {
        let mut data = [0u8; 2];
        match sys::receive_fd(channel.as_raw_fd(), &mut data) {
            Ok(None) => break,
            Ok(Some((2, Some(fd)))) => {
                let port = u16::from_be_bytes(data);
                let Some(Listener { port, handler }) = waiting
                    .iter_mut()
                    .find(|slot| slot.as_ref().is_some_and(|l| l.port == port))
                    .and_then(Option::take)
                else {
                    // Not a port of this command: nothing sends that.
                    continue;
                };
                let socket = TcpListener::from(fd);
                let started = thread::Builder::new()
                    .name(format!("oanix-sandbox-port-{port}"))
                    .spawn(move || handler(socket));
                if let Err(error) = started {
                    notes.push(format!(
                        "the handler of port {port} was not called: starting its thread \
                         failed: {}",
                        describe_io(&error)
                    ));
                }
            }
            // Nothing sends a message of another shape; a descriptor in it is closed.
            Ok(Some(_)) => {}
            Err(error) => {
                notes.push(format!(
                    "receiving the listening sockets failed ({}); the handlers of the ports \
                     not received were dropped",
                    describe_io(&error)
                ));
                break;
            }
        }
    }
    notes
}

/// The sandbox's init; killed and reaped on drop unless already reaped.
struct Init {
    pidfd: OwnedFd,
    reaped: bool,
}

impl Drop for Init {
    fn drop(&mut self) {
        if !self.reaped {
            // Killing init kills the whole PID namespace; reaping it cannot fail but for a
            // bug, and a drop has no one to tell.
            let _ = sys::pidfd_kill(self.pidfd.as_raw_fd());
            let _ = sys::pidfd_wait(self.pidfd.as_raw_fd());
        }
    }
}

fn clone_error(errno: Errno) -> SandboxError {
    match errno.0 {
        libc::EPERM | libc::EACCES | libc::ENOSPC | libc::EUSERS | libc::EINVAL => {
            SandboxError::UserNamespaces {
                reason: format!(
                    "clone with new user, mount, PID, IPC, UTS, network and cgroup namespaces \
                     failed: {} (see /proc/sys/user/max_user_namespaces, \
                     kernel.unprivileged_userns_clone, security modules and seccomp filters \
                     around this process)",
                    describe_errno(errno.0)
                ),
            }
        }
        libc::ENOSYS => SandboxError::Unsupported(
            "the kernel does not support the namespaces the sandbox needs".into(),
        ),
        other => SandboxError::Setup {
            step: "creating the sandbox's first process".into(),
            reason: describe_errno(other),
        },
    }
}

/// Writes the one-line uid and gid maps of the sandbox's user namespace; returns the
/// go-ahead byte (whether the sandbox may drop its supplementary groups).
fn write_id_maps(pid: i32, identity: Identity) -> Result<u8> {
    let map_error = |what: &'static str, inside: u32, host: u32| {
        move |error: io::Error| SandboxError::Setup {
            step: format!("mapping {what} {inside} inside to host {what} {host}"),
            reason: describe_io(&error),
        }
    };
    let proc = format!("/proc/{pid}");
    std::fs::write(
        format!("{proc}/uid_map"),
        format!("{} {} 1\n", identity.uid, identity.host_uid),
    )
    .map_err(map_error("uid", identity.uid, identity.host_uid))?;
    let gid_map = format!("{} {} 1\n", identity.gid, identity.host_gid);
    let gid_error = map_error("gid", identity.gid, identity.host_gid);
    match std::fs::write(format!("{proc}/gid_map"), &gid_map) {
        Ok(()) => Ok(GO_CLEAR_GROUPS),
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
            // An unprivileged caller may map its group only with setgroups denied.
            std::fs::write(format!("{proc}/setgroups"), "deny").map_err(&gid_error)?;
            std::fs::write(format!("{proc}/gid_map"), &gid_map).map_err(&gid_error)?;
            Ok(GO_KEEP_GROUPS)
        }
        Err(error) => Err(gid_error(error)),
    }
}

/// Copies one output pipe to its sink until every writer has closed it; returns a note if
/// the sink failed (what follows is then read and dropped, so the command never blocks).
fn spawn_pump(
    mut pipe: PipeReader,
    mut sink: Box<dyn Write + Send>,
    name: &'static str,
) -> Result<JoinHandle<Option<String>>> {
    thread::Builder::new()
        .name(format!("oanix-sandbox-{name}"))
        .spawn(move || {
            let mut buffer = vec![0u8; 64 * 1024];
            let mut note = None;
            loop {
                match pipe.read(&mut buffer) {
                    Ok(0) => break,
                    Ok(n) => {
                        if note.is_none() {
                            let chunk = buffer.get(..n).unwrap_or_default();
                            if let Err(error) = sink.write_all(chunk).and_then(|()| sink.flush()) {
                                note = Some(format!(
                                    "the {name} sink failed ({}); later output was dropped",
                                    describe_io(&error)
                                ));
                            }
                        }
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => {
                        note.get_or_insert(format!(
                            "reading {name} failed: {}",
                            describe_io(&error)
                        ));
                        break;
                    }
                }
            }
            note
        })
        .map_err(host_error("starting an output thread"))
}

/// What watching a run saw.
struct Watched {
    records: Vec<Record>,
    timed_out: bool,
    /// How init ended, unless something else reaped it.
    init: Option<Ended>,
}

/// Waits for init to end, reading records meanwhile, and kills it at the deadline.
fn watch(
    init: &mut Init,
    mut report: PipeReader,
    deadline: Option<Instant>,
) -> io::Result<Watched> {
    let mut bytes = Vec::new();
    let mut report_open = true;
    let mut timed_out = false;
    loop {
        let wait_ms = match deadline {
            _ if timed_out => -1,
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    sys::pidfd_kill(init.pidfd.as_raw_fd())?;
                    timed_out = true;
                    continue;
                }
                milliseconds_rounded_up(left)
            }
        };
        let mut fds = [
            libc::pollfd {
                fd: init.pidfd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: if report_open { report.as_raw_fd() } else { -1 },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        sys::poll(&mut fds, wait_ms)?;
        if fds[1].revents != 0 {
            let mut chunk = [0u8; RECORD_LEN * 8];
            match report.read(&mut chunk)? {
                0 => report_open = false,
                n => bytes.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            }
        }
        if fds[0].revents != 0 {
            break;
        }
    }
    let ended = sys::pidfd_wait(init.pidfd.as_raw_fd())?;
    init.reaped = true;
    // Every writer is gone with init: read what is left to the end.
    report.read_to_end(&mut bytes)?;
    let records = bytes
        .chunks_exact(RECORD_LEN)
        .filter_map(|chunk| {
            let mut record = [0u8; RECORD_LEN];
            record.copy_from_slice(chunk);
            Record::decode(record)
        })
        .collect();
    Ok(Watched {
        records,
        timed_out,
        init: ended,
    })
}

fn milliseconds_rounded_up(duration: Duration) -> libc::c_int {
    let ms = duration.as_nanos().div_ceil(1_000_000);
    libc::c_int::try_from(ms).unwrap_or(libc::c_int::MAX)
}

/// The exit of a wait status.
fn exit_of(status: i32) -> Exit {
    if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        Exit::Code(libc::WEXITSTATUS(status))
    }
}

fn interpret(
    sandbox: &Sandbox,
    plan: &ChildPlan,
    argv: &[OsString],
    watched: &Watched,
) -> Result<Exit> {
    let failure = watched.records.iter().find_map(|record| match record {
        Record::Failed(failure) => Some(*failure),
        Record::Exited(_) => None,
    });
    if let Some(failure) = failure {
        return Err(describe_failure(sandbox, plan, argv, failure));
    }
    let exited = watched.records.iter().find_map(|record| match record {
        Record::Exited(status) => Some(*status),
        Record::Failed(_) => None,
    });
    match exited {
        Some(status) => Ok(exit_of(status)),
        None if watched.timed_out => Ok(Exit::TimedOut),
        None => Err(SandboxError::Setup {
            step: "supervising the sandbox".into(),
            reason: match watched.init {
                Some(Ended::Code(code)) => {
                    format!("its init exited with code {code} without a report")
                }
                Some(Ended::Signal(signal)) => format!("its init was killed by signal {signal}"),
                None => "its init ended without a report".into(),
            },
        }),
    }
}

/// The error for a failed step, naming what it concerned.
fn describe_failure(
    sandbox: &Sandbox,
    plan: &ChildPlan,
    argv: &[OsString],
    failure: Failure,
) -> SandboxError {
    let index = usize::try_from(failure.index).unwrap_or(usize::MAX);
    let errno = failure.errno;
    let reason = describe_errno(errno);
    let bind = sandbox.binds.get(index);
    let bind_text = || match bind {
        Some(bind) => format!("{} at {}", bind.host.display(), bind.sandbox),
        None => format!("bind {index}"),
    };
    let program = argv
        .first()
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let root = sandbox.root.display();
    let host_user = sandbox.identity.host_uid;
    let setup = |step: String, reason: String| SandboxError::Setup { step, reason };
    // Permission problems depend on who the sandbox's user is on the host.
    let as_user = |reason: String| {
        if errno == libc::EACCES || errno == libc::EPERM {
            format!("{reason} (as host uid {host_user})")
        } else {
            reason
        }
    };
    match failure.step {
        Step::Exec if errno == libc::ENOENT || errno == libc::ENOTDIR => {
            SandboxError::CommandNotFound { command: program }
        }
        Step::Exec => {
            let path = plan
                .candidates
                .get(index)
                .map(|path| path.to_string_lossy().into_owned())
                .unwrap_or(program.clone());
            let hint = if errno == libc::ENOEXEC {
                " (not an executable this kernel runs)"
            } else {
                ""
            };
            SandboxError::Exec {
                command: if path == program {
                    program
                } else {
                    format!("{program} ({path})")
                },
                reason: format!("{reason}{hint}"),
            }
        }
        Step::WorkingDirectory => SandboxError::WorkingDirectory {
            path: sandbox.cwd.clone(),
            reason,
        },
        Step::BindSource if errno == libc::ENOENT => match bind {
            Some(bind) => SandboxError::SystemPathMissing {
                path: bind.host.clone(),
            },
            None => setup(format!("binding {}", bind_text()), reason),
        },
        Step::BindSource => setup(format!("binding {}", bind_text()), as_user(reason)),
        Step::BindAttributes => setup(format!("making {} read-only", bind_text()), reason),
        Step::BindTarget if errno == libc::ELOOP || errno == libc::EXDEV => setup(
            format!("the mount point for {}", bind_text()),
            "a symbolic link is in the way; mount points in the root must be real directories"
                .into(),
        ),
        Step::BindTarget => setup(
            format!("the mount point for {}", bind_text()),
            as_user(reason),
        ),
        Step::BindAttach => setup(format!("attaching {}", bind_text()), reason),
        Step::Identity => setup(
            format!(
                "taking uid {} and gid {} inside",
                sandbox.identity.uid, sandbox.identity.gid
            ),
            reason,
        ),
        Step::RootBind | Step::PivotRoot if errno == libc::EACCES => setup(
            format!("entering the root {root}"),
            format!("the sandbox's user (host uid {host_user}) may not enter it"),
        ),
        Step::RootBind => setup(format!("binding the root {root}"), reason),
        Step::PivotRoot => setup(format!("making {root} the root"), reason),
        Step::DevMount if errno == libc::ELOOP || errno == libc::EXDEV => setup(
            "the mount point /dev".into(),
            "a symbolic link is in the way; mount points in the root must be real directories"
                .into(),
        ),
        Step::DevMount => setup("mounting /dev".into(), as_user(reason)),
        Step::DevNode => setup(
            format!(
                "binding {} into /dev",
                DEVICES
                    .get(index)
                    .map(|device| device.host.to_string_lossy().into_owned())
                    .unwrap_or_default()
            ),
            reason,
        ),
        Step::ProcMount if errno == libc::ELOOP || errno == libc::EXDEV => setup(
            "the mount point /proc".into(),
            "a symbolic link is in the way; mount points in the root must be real directories"
                .into(),
        ),
        Step::ProcMount => setup(
            "mounting /proc".into(),
            if errno == libc::EPERM {
                format!(
                    "{reason} (the host's /proc is partly hidden, so the kernel refuses a new one)"
                )
            } else {
                as_user(reason)
            },
        ),
        Step::Rlimit => setup(
            format!(
                "setting the {} limit",
                RLIMIT_NAMES.get(index).copied().unwrap_or("resource")
            ),
            if errno == libc::EPERM {
                format!("{reason} (above the host's hard limit)")
            } else {
                reason
            },
        ),
        Step::Start => setup("starting the sandbox".into(), reason),
        Step::PrivateMounts => setup("making the mounts private".into(), reason),
        Step::Hostname => setup("setting the hostname".into(), reason),
        Step::Loopback => setup("bringing up the loopback interface".into(), reason),
        Step::Listen => setup(
            match plan.ports.get(index) {
                Some(port) => format!("listening on 127.0.0.1:{port} inside the sandbox"),
                None => "listening on a port inside the sandbox".into(),
            },
            reason,
        ),
        Step::Privileges => setup("dropping privileges".into(), reason),
        Step::Seccomp => setup("installing the system call filter".into(), reason),
        Step::Spawn => setup("starting the command's process".into(), reason),
        Step::Stdio => setup("giving the command its standard streams".into(), reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_become_exits() {
        assert_eq!(exit_of(3 << 8), Exit::Code(3));
        assert_eq!(exit_of(0), Exit::Code(0));
        assert_eq!(exit_of(libc::SIGKILL), Exit::Signal(libc::SIGKILL));
        assert_eq!(exit_of(libc::SIGSEGV | 0x80), Exit::Signal(libc::SIGSEGV));
    }

    #[test]
    fn clone_refusals_name_user_namespaces() {
        for errno in [libc::EPERM, libc::ENOSPC, libc::EUSERS] {
            let error = clone_error(Errno(errno));
            assert!(
                matches!(error, SandboxError::UserNamespaces { .. }),
                "{error}"
            );
            assert!(
                error
                    .to_string()
                    .starts_with("user namespaces are not available: clone"),
                "{error}"
            );
        }
        assert!(matches!(
            clone_error(Errno(libc::ENOSYS)),
            SandboxError::Unsupported(_)
        ));
    }

    #[test]
    fn a_failed_listener_names_its_port() {
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
        let error = describe_failure(
            &sandbox,
            &plan,
            &argv,
            Failure::new(Step::Listen, 1, libc::EACCES),
        );
        assert_eq!(
            error.to_string(),
            "sandbox setup failed at listening on 127.0.0.1:8080 inside the sandbox: \
             permission denied"
        );
    }

    #[test]
    fn timeouts_round_up_to_whole_milliseconds() {
        assert_eq!(milliseconds_rounded_up(Duration::from_micros(1)), 1);
        assert_eq!(milliseconds_rounded_up(Duration::from_millis(5)), 5);
        assert_eq!(
            milliseconds_rounded_up(Duration::from_secs(u64::MAX)),
            libc::c_int::MAX
        );
    }
}
