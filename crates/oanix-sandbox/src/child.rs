//! The sandbox's own processes: its init (PID 1 of the new namespaces), which builds the
//! sandbox and waits for the command, and the command's process up to `execve`.
//!
//! This code runs in a copy of the caller, which may have other threads: until `execve` it
//! may only make async-signal-safe calls. So it calls nothing but the wrappers in `sys`,
//! reads only the [`ChildPlan`] prepared before the clone, allocates nothing, takes no lock,
//! indexes nothing that could panic, and ends every path with `execve` or `sys::exit`.
//! Failures go to the caller as 16-byte records on the report pipe.
//!
//! Order of the steps, and why:
//!
//! 1. close every inherited descriptor but the plan's; reset signals; wait for the caller
//!    to write the id maps (the go-ahead byte);
//! 2. take the sandbox's uid and gid (the creator of a user namespace keeps its capabilities
//!    in it across this change), then set the parent-death signal, which the change
//!    cleared, and check that the caller is still there;
//! 3. build the mount tree, every path lookup done as the sandbox's user: make all mounts
//!    private, bind the root onto itself, attach each read-only bind at a mount point found
//!    or made in the root without following symbolic links, a fresh tmpfs `/dev` with six
//!    device nodes bound from the host, a fresh `/proc`; then `pivot_root` into the root and
//!    detach the host's tree;
//! 4. hostname, loopback up; then, for each port the caller serves, a TCP socket bound to
//!    `127.0.0.1:PORT` and listening, sent to the caller over the socket pair (`SCM_RIGHTS`)
//!    and closed, and last the socket pair closed — while init still holds its capabilities
//!    in the user namespace that owns the network namespace (privileged ports work), and
//!    before the command exists, so that its connections are queued on the sockets;
//! 5. no_new_privs, locked securebits, empty bounding, ambient, effective, permitted and
//!    inheritable sets, the seccomp filter — all inherited by the command;
//! 6. start the command (PID 2): new session, stdio, rlimits, working directory,
//!    `execve` along the candidates; init reaps every process until the command ends, reports
//!    its wait status and exits, which makes the kernel kill whatever is left in the
//!    namespace.

use std::ffi::CStr;
use std::os::fd::{OwnedFd, RawFd};

use crate::plan::{BindPlan, ChildPlan, DEVICES};
use crate::report::{Failure, Record, Step};
use crate::sys::{self, Errno, Forked};

/// The namespaces every sandbox gets.
const NAMESPACES: u64 = (libc::CLONE_NEWUSER
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWNET
    | libc::CLONE_NEWCGROUP) as u64;

/// The go-ahead byte: the id maps are written and supplementary groups may be dropped.
pub(crate) const GO_CLEAR_GROUPS: u8 = 1;
/// The go-ahead byte: the id maps are written, `setgroups` is denied (an unprivileged caller).
pub(crate) const GO_KEEP_GROUPS: u8 = 2;

/// The backlog of each listening socket handed to the caller.
const LISTEN_BACKLOG: libc::c_int = 128;

/// Mount attributes of a read-only bind.
const READ_ONLY: u64 = libc::MOUNT_ATTR_RDONLY | libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV;

/// The sandbox's init, as its caller sees it.
#[derive(Debug)]
pub(crate) struct Spawned {
    /// Its process id in the caller's PID namespace.
    pub(crate) pid: i32,
    /// A pidfd for it.
    pub(crate) pidfd: OwnedFd,
}

/// Starts the sandbox's init in new namespaces.
#[allow(
    unsafe_code,
    reason = "the clone whose child runs this module's async-signal-safe code"
)]
pub(crate) fn spawn(plan: &ChildPlan) -> Result<Spawned, Errno> {
    // SAFETY: the child runs `init_main`, which keeps to this module's rules (only `sys`
    // wrappers, on memory allocated before the clone, no allocation) and ends in
    // `sys::exit` without returning.
    match unsafe { sys::clone_process(NAMESPACES, true) }? {
        Forked::Child => init_main(plan),
        Forked::Parent {
            pid,
            pidfd: Some(pidfd),
        } => Ok(Spawned { pid, pidfd }),
        Forked::Parent { pidfd: None, .. } => Err(Errno(libc::EBADF)),
    }
}

/// Maps an errno to a failure of `step` for item `index`.
fn at(step: Step, index: usize) -> impl Fn(Errno) -> Failure {
    move |errno| Failure::new(step, index, errno.0)
}

fn send(plan: &ChildPlan, record: Record) {
    // Nothing can be done if the caller is gone.
    let _ = sys::write_all(plan.fds.report, &record.encode());
}

fn init_main(plan: &ChildPlan) -> ! {
    let code = match build(plan) {
        Ok(command) => supervise(plan, command),
        Err(failure) => {
            send(plan, Record::Failed(failure));
            125
        }
    };
    sys::exit(code)
}

/// Builds the sandbox and starts the command; returns its pid.
fn build(plan: &ChildPlan) -> Result<i32, Failure> {
    sys::close_all_except(&plan.keep).map_err(at(Step::Start, 0))?;
    sys::reset_signals();
    let go = match sys::read_byte(plan.fds.sync).map_err(at(Step::Start, 0))? {
        Some(go) => go,
        // The caller is gone before the namespaces were ready.
        None => sys::exit(125),
    };
    if go == GO_CLEAR_GROUPS {
        sys::clear_groups().map_err(at(Step::Identity, 0))?;
    }
    sys::set_ids(plan.uid, plan.gid).map_err(at(Step::Identity, 0))?;
    sys::set_parent_death_signal(libc::SIGKILL).map_err(at(Step::Start, 0))?;
    if sys::hung_up(plan.fds.sync) {
        sys::exit(125);
    }
    sys::set_not_dumpable().map_err(at(Step::Start, 0))?;
    sys::set_name(c"sandbox-init").map_err(at(Step::Start, 0))?;
    mounts(plan)?;
    sys::set_hostname(&plan.hostname).map_err(at(Step::Hostname, 0))?;
    sys::loopback_up().map_err(at(Step::Loopback, 0))?;
    listen(plan)?;
    privileges(plan)?;
    let command = start_command(plan)?;
    for fd in [
        plan.fds.sync,
        plan.fds.stdin,
        plan.fds.stdout,
        plan.fds.stderr,
    ] {
        sys::close(fd);
    }
    Ok(command)
}

fn mounts(plan: &ChildPlan) -> Result<(), Failure> {
    sys::make_mounts_private().map_err(at(Step::PrivateMounts, 0))?;
    sys::bind_onto_itself(&plan.root).map_err(at(Step::RootBind, 0))?;
    let root = sys::open_dir_path(&plan.root).map_err(at(Step::RootBind, 0))?;
    for (index, bind) in plan.binds.iter().enumerate() {
        bind_read_only(root, index, bind)?;
    }
    mount_dev(root)?;
    mount_proc(root)?;
    sys::fchdir(root).map_err(at(Step::PivotRoot, 0))?;
    sys::close(root);
    sys::pivot_to_cwd().map_err(at(Step::PivotRoot, 0))
}

fn bind_read_only(root: RawFd, index: usize, bind: &BindPlan) -> Result<(), Failure> {
    let source = match sys::clone_tree(&bind.source, true) {
        Ok(fd) => fd,
        Err(Errno(libc::ENOENT)) if bind.optional => return Ok(()),
        Err(errno) => return Err(Failure::new(Step::BindSource, index, errno.0)),
    };
    sys::set_mount_attributes(source, READ_ONLY, true).map_err(at(Step::BindAttributes, index))?;
    let directory = sys::is_directory(source).map_err(at(Step::BindSource, index))?;
    let target = mount_point(root, &bind.target, directory).map_err(at(Step::BindTarget, index))?;
    let attached = sys::attach_mount(source, target).map_err(at(Step::BindAttach, index));
    sys::close(target);
    sys::close(source);
    attached
}

/// Finds, or creates, the mount point `components` below `root`, one component at a time,
/// never following a symbolic link: returns an `O_PATH` descriptor of it.
fn mount_point<S: AsRef<CStr>>(
    root: RawFd,
    components: &[S],
    directory: bool,
) -> Result<RawFd, Errno> {
    if components.is_empty() {
        return Err(Errno(libc::EINVAL));
    }
    let mut parent = root;
    for (k, name) in components.iter().enumerate() {
        let name = name.as_ref();
        let want_dir = directory || k + 1 < components.len();
        let opened = match sys::open_beneath(parent, name, want_dir) {
            Err(Errno(libc::ENOENT)) => {
                let made = if want_dir {
                    sys::mkdir_at(parent, name)
                } else {
                    sys::create_file_at(parent, name)
                };
                match made {
                    Ok(()) | Err(Errno(libc::EEXIST)) => sys::open_beneath(parent, name, want_dir),
                    Err(errno) => Err(errno),
                }
            }
            other => other,
        };
        if parent != root {
            sys::close(parent);
        }
        parent = opened?;
    }
    Ok(parent)
}

fn mount_dev(root: RawFd) -> Result<(), Failure> {
    let fail = at(Step::DevMount, 0);
    let target = mount_point(root, &[c"dev"], true).map_err(&fail)?;
    let tmpfs = sys::new_file_system(
        c"tmpfs",
        &[(c"mode", c"0755"), (c"size", c"64k"), (c"nr_inodes", c"16")],
        libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC,
    )
    .map_err(&fail)?;
    sys::attach_mount(tmpfs, target).map_err(&fail)?;
    sys::close(target);
    let dev = sys::open_beneath(root, c"dev", true).map_err(&fail)?;
    for (index, device) in DEVICES.iter().enumerate() {
        let fail = at(Step::DevNode, index);
        let node = match sys::clone_tree(device.host, false) {
            Ok(fd) => fd,
            Err(Errno(libc::ENOENT)) => continue,
            Err(errno) => return Err(fail(errno)),
        };
        sys::set_mount_attributes(
            node,
            libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NOEXEC,
            false,
        )
        .map_err(&fail)?;
        sys::create_file_at(dev, device.name).map_err(&fail)?;
        let spot = sys::open_beneath(dev, device.name, false).map_err(&fail)?;
        sys::attach_mount(node, spot).map_err(&fail)?;
        sys::close(spot);
        sys::close(node);
    }
    sys::close(dev);
    // Nothing may be created in /dev; the device nodes are mounts of their own and stay
    // writable.
    sys::set_mount_attributes(tmpfs, libc::MOUNT_ATTR_RDONLY, false).map_err(&fail)?;
    sys::close(tmpfs);
    Ok(())
}

fn mount_proc(root: RawFd) -> Result<(), Failure> {
    let fail = at(Step::ProcMount, 0);
    let target = mount_point(root, &[c"proc"], true).map_err(&fail)?;
    let proc = sys::new_file_system(
        c"proc",
        &[],
        libc::MOUNT_ATTR_NOSUID | libc::MOUNT_ATTR_NODEV | libc::MOUNT_ATTR_NOEXEC,
    )
    .map_err(&fail)?;
    sys::attach_mount(proc, target).map_err(&fail)?;
    sys::close(target);
    sys::close(proc);
    Ok(())
}

/// Listens on each port and sends the sockets to the caller, in order; then closes the
/// channel, which tells the caller there are no more.
fn listen(plan: &ChildPlan) -> Result<(), Failure> {
    let Some(channel) = plan.fds.listeners else {
        return Ok(());
    };
    for (index, port) in plan.ports.iter().enumerate() {
        let fail = at(Step::Listen, index);
        let listener = sys::listen_loopback(*port, LISTEN_BACKLOG).map_err(&fail)?;
        let sent = sys::send_fd(channel, listener, &port.to_be_bytes());
        sys::close(listener);
        sent.map_err(&fail)?;
    }
    sys::close(channel);
    Ok(())
}

fn privileges(plan: &ChildPlan) -> Result<(), Failure> {
    let fail = at(Step::Privileges, 0);
    sys::set_no_new_privs().map_err(&fail)?;
    sys::lock_securebits().map_err(&fail)?;
    sys::drop_bounding_set(plan.last_cap).map_err(&fail)?;
    sys::clear_ambient().map_err(&fail)?;
    sys::drop_capabilities().map_err(&fail)?;
    sys::install_seccomp(&plan.filter).map_err(at(Step::Seccomp, 0))
}

#[allow(
    unsafe_code,
    reason = "the clone whose child runs this module's async-signal-safe code"
)]
fn start_command(plan: &ChildPlan) -> Result<i32, Failure> {
    // SAFETY: the child runs `command_main`, which keeps to this module's rules and ends in
    // `execve` or `sys::exit`.
    match unsafe { sys::clone_process(0, false) } {
        Ok(Forked::Child) => command_main(plan),
        Ok(Forked::Parent { pid, .. }) => Ok(pid),
        Err(errno) => Err(Failure::new(Step::Spawn, 0, errno.0)),
    }
}

fn command_main(plan: &ChildPlan) -> ! {
    let failure = match prepare_command(plan) {
        Ok(()) => exec(plan),
        Err(failure) => failure,
    };
    send(plan, Record::Failed(failure));
    sys::exit(127)
}

fn prepare_command(plan: &ChildPlan) -> Result<(), Failure> {
    let fail = at(Step::Stdio, 0);
    sys::setsid().map_err(&fail)?;
    sys::dup_onto(plan.fds.stdin, 0).map_err(&fail)?;
    sys::dup_onto(plan.fds.stdout, 1).map_err(&fail)?;
    sys::dup_onto(plan.fds.stderr, 2).map_err(&fail)?;
    for (index, (resource, value)) in plan.rlimits.iter().enumerate() {
        sys::set_rlimit(*resource, *value).map_err(at(Step::Rlimit, index))?;
    }
    sys::chdir(&plan.cwd).map_err(at(Step::WorkingDirectory, 0))?;
    sys::cloexec_from(3).map_err(&fail)
}

/// Tries each candidate path as `execvp` does; returns what stopped the last one.
fn exec(plan: &ChildPlan) -> Failure {
    let mut last = Failure::new(Step::Exec, 0, libc::ENOENT);
    let mut denied = None;
    for (index, path) in plan.candidates.iter().enumerate() {
        let errno = sys::execve(path, &plan.argv, &plan.envp);
        match errno.0 {
            libc::ENOENT | libc::ENOTDIR => last = Failure::new(Step::Exec, index, errno.0),
            libc::EACCES => {
                denied.get_or_insert(Failure::new(Step::Exec, index, errno.0));
            }
            _ => return Failure::new(Step::Exec, index, errno.0),
        }
    }
    denied.unwrap_or(last)
}

/// Reaps every process until the command ends; reports its status; returns init's exit code.
fn supervise(plan: &ChildPlan, command: i32) -> i32 {
    loop {
        match sys::wait_any() {
            Ok((pid, status)) if pid == command => {
                send(plan, Record::Exited(status));
                return 0;
            }
            Ok(_) | Err(Errno(libc::EINTR)) => {}
            Err(_) => return 125,
        }
    }
}
