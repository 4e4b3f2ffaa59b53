//! The system calls the sandbox makes: thin wrappers, and the crate's only `unsafe` code.
//!
//! The wrappers used between `clone` and `execve` (by `child.rs`) are async-signal-safe:
//! each is one system call, or a few, through `libc` or `syscall(2)`, on memory the caller
//! allocated before the clone; none allocates, locks, or touches state of the C library
//! that another thread of the parent may have held at the clone. Credentials change through
//! raw system calls, not glibc's wrappers, which would try to signal threads the child does
//! not have.
//!
//! Every `unsafe` block states why it is sound. The common argument for the system calls:
//! pointers passed are derived from live references (`&CStr`, slices, locals) that outlive
//! the call, and the kernel writes only into buffers of the size given.

#![allow(
    unsafe_code,
    reason = "the sandbox is made of system calls that std does not wrap"
)]

use std::ffi::CStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use libc::{c_int, c_long, c_uint, c_void};

/// An `errno` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Errno(pub(crate) i32);

/// The calling thread's `errno`.
fn errno() -> Errno {
    // SAFETY: `__errno_location` returns a valid pointer to the calling thread's errno.
    Errno(unsafe { *libc::__errno_location() })
}

fn check(ret: c_int) -> Result<c_int, Errno> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

fn check_long(ret: c_long) -> Result<c_long, Errno> {
    if ret < 0 { Err(errno()) } else { Ok(ret) }
}

/// The empty path, for the `*_EMPTY_PATH` flags.
const EMPTY: &CStr = c"";

// ---------------------------------------------------------------------------------------
// Parent side.

/// The effective user and group ids of the calling process.
pub(crate) fn effective_ids() -> (u32, u32) {
    // SAFETY: geteuid and getegid take no arguments and cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// Duplicates `fd` to a descriptor numbered at least `min`, close-on-exec.
pub(crate) fn dup_at_least(fd: RawFd, min: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) on any descriptor number is defined; a bad one is EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) };
    if new < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` is a descriptor this call just created and nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Waits until one of `fds` is ready or `timeout_ms` passes (-1: no limit); EINTR is
/// reported as zero descriptors ready.
pub(crate) fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> io::Result<usize> {
    // SAFETY: the pointer and length describe the caller's slice of pollfd.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    if ret < 0 {
        let error = io::Error::last_os_error();
        if error.kind() == io::ErrorKind::Interrupted {
            return Ok(0);
        }
        return Err(error);
    }
    Ok(ret as usize)
}

/// Sends SIGKILL to the process behind `pidfd`.
pub(crate) fn pidfd_kill(pidfd: RawFd) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a null siginfo and no flags.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd,
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0 as c_uint,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// How a waited-for process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

/// Waits for the process behind `pidfd` (a child of this process) to end, and reaps it.
/// `None` when it was reaped already (a process that ignores `SIGCHLD` has its children
/// reaped by the kernel).
pub(crate) fn pidfd_wait(pidfd: RawFd) -> io::Result<Option<Ended>> {
    loop {
        // SAFETY: siginfo_t is plain data for which all zeroes is a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid writes into `info`, a live local of the right type.
        let ret =
            unsafe { libc::waitid(libc::P_PIDFD, pidfd as libc::id_t, &mut info, libc::WEXITED) };
        if ret < 0 {
            let error = io::Error::last_os_error();
            match error.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => return Ok(None),
                _ => return Err(error),
            }
        }
        // SAFETY: waitid filled `info` for a child that changed state: si_status is set.
        let status = unsafe { info.si_status() };
        return Ok(Some(if info.si_code == libc::CLD_EXITED {
            Ended::Code(status)
        } else {
            Ended::Signal(status)
        }));
    }
}

// ---------------------------------------------------------------------------------------
// Processes.

/// What `clone_process` returns in each of the two processes.
#[derive(Debug)]
pub(crate) enum Forked {
    /// In the new process.
    Child,
    /// In the caller: the new process's id, and a pidfd for it when asked for.
    Parent {
        /// The process id (in the caller's PID namespace).
        pid: i32,
        /// The pidfd, if `CLONE_PIDFD` was asked for.
        pidfd: Option<OwnedFd>,
    },
}

/// `clone(2)` with fork semantics: the child gets a copy of the address space and goes on
/// from this call on its copy of the stack. `flags` must not hold `CLONE_VM`, `CLONE_THREAD`
/// or `CLONE_SETTLS`; `SIGCHLD` is added as the exit signal.
///
/// # Safety
///
/// When the caller is multi-threaded, the child may only make async-signal-safe calls
/// (the wrappers of this module) until it execs or exits, and must never return into frames
/// of the parent's that would run other code: it must end with [`exit`] or an `execve`.
pub(crate) unsafe fn clone_process(flags: u64, want_pidfd: bool) -> Result<Forked, Errno> {
    let mut pidfd: c_int = -1;
    let flags = flags
        | libc::SIGCHLD as u64
        | if want_pidfd {
            libc::CLONE_PIDFD as u64
        } else {
            0
        };
    // SAFETY: without CLONE_VM the child has its own copy of memory, so both processes
    // returning here is sound, as with fork(2); no new stack is given, so the child uses its
    // copy of this one; the parent-tid argument (the third on x86_64 and aarch64 alike) is
    // where CLONE_PIDFD stores the descriptor: a live local int. The caller keeps the child
    // to async-signal-safe calls.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags,
            0usize,
            &mut pidfd as *mut c_int,
            0usize,
            0usize,
        )
    };
    match check_long(ret)? {
        0 => Ok(Forked::Child),
        pid => Ok(Forked::Parent {
            pid: pid as i32,
            // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor that nothing owns.
            pidfd: want_pidfd.then(|| unsafe { OwnedFd::from_raw_fd(pidfd) }),
        }),
    }
}

/// Ends the calling process at once, with no exit handlers.
pub(crate) fn exit(code: i32) -> ! {
    // SAFETY: _exit ends the process; it is async-signal-safe.
    unsafe { libc::_exit(code) }
}

/// Waits for any child; returns its pid and wait status.
pub(crate) fn wait_any() -> Result<(i32, i32), Errno> {
    let mut status: c_int = 0;
    // SAFETY: waitpid writes the status into a live local.
    let pid = check(unsafe { libc::waitpid(-1, &mut status, 0) })?;
    Ok((pid, status))
}

/// Executes `path` with null-terminated `argv` and `envp`; returns only on failure.
pub(crate) fn execve(
    path: &CStr,
    argv: &[*const libc::c_char],
    envp: &[*const libc::c_char],
) -> Errno {
    if argv.last().is_none_or(|p| !p.is_null()) || envp.last().is_none_or(|p| !p.is_null()) {
        return Errno(libc::EINVAL);
    }
    // SAFETY: both arrays end with a null pointer (checked above) and their other entries
    // point at NUL-terminated strings the caller keeps alive.
    unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
    errno()
}

/// Starts a new session (and process group) led by the caller.
pub(crate) fn setsid() -> Result<(), Errno> {
    // SAFETY: setsid takes no arguments.
    check(unsafe { libc::setsid() }).map(drop)
}

/// Makes `to` a copy of `from` (not close-on-exec).
pub(crate) fn dup_onto(from: RawFd, to: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 on descriptor numbers; bad ones are EBADF.
    check(unsafe { libc::dup2(from, to) }).map(drop)
}

/// Closes a descriptor, ignoring errors.
pub(crate) fn close(fd: RawFd) {
    // SAFETY: the caller passes a descriptor it owns and no longer uses.
    unsafe { libc::close(fd) };
}

fn close_range(first: c_uint, last: c_uint, flags: c_uint) -> Result<(), Errno> {
    // SAFETY: close_range on a range of descriptor numbers.
    check_long(unsafe { libc::syscall(libc::SYS_close_range, first, last, flags) }).map(drop)
}

/// Closes every descriptor but those in `keep`, which must be sorted ascending.
pub(crate) fn close_all_except(keep: &[RawFd]) -> Result<(), Errno> {
    let mut next: c_uint = 0;
    for &fd in keep {
        let fd = fd as c_uint;
        if fd > next {
            close_range(next, fd - 1, 0)?;
        }
        next = fd + 1;
    }
    close_range(next, c_uint::MAX, 0)
}

/// Marks every descriptor from `first` on close-on-exec.
pub(crate) fn cloexec_from(first: RawFd) -> Result<(), Errno> {
    close_range(first as c_uint, c_uint::MAX, libc::CLOSE_RANGE_CLOEXEC)
}

/// Resets every signal to its default action and unblocks them all.
pub(crate) fn reset_signals() {
    // Linux numbers signals 1 to 64.
    for signal in 1..=64 {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            continue;
        }
        // SAFETY: sigaction with a zeroed action (SIG_DFL, empty mask, no flags); errors
        // (signals the C library reserves) are harmless and ignored.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
    // SAFETY: an empty set from sigemptyset, installed as the mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Sets a resource limit (soft and hard alike).
pub(crate) fn set_rlimit(resource: RlimitResource, value: u64) -> Result<(), Errno> {
    let limit = libc::rlimit {
        rlim_cur: value as libc::rlim_t,
        rlim_max: value as libc::rlim_t,
    };
    // SAFETY: setrlimit reads a live local.
    check(unsafe { libc::setrlimit(resource, &limit) }).map(drop)
}

/// The type `setrlimit` takes its resource as.
pub(crate) type RlimitResource = libc::__rlimit_resource_t;

/// Enters `path`.
pub(crate) fn chdir(path: &CStr) -> Result<(), Errno> {
    // SAFETY: chdir reads a NUL-terminated string.
    check(unsafe { libc::chdir(path.as_ptr()) }).map(drop)
}

// ---------------------------------------------------------------------------------------
// Descriptors and bytes.

/// Reads one byte; `None` at end of file.
pub(crate) fn read_byte(fd: RawFd) -> Result<Option<u8>, Errno> {
    let mut byte = 0u8;
    loop {
        // SAFETY: read writes at most one byte into a live local.
        let n = unsafe { libc::read(fd, (&mut byte as *mut u8).cast::<c_void>(), 1) };
        match n {
            1 => return Ok(Some(byte)),
            0 => return Ok(None),
            _ if errno().0 == libc::EINTR => continue,
            _ => return Err(errno()),
        }
    }
}

/// Writes all of `bytes`.
pub(crate) fn write_all(fd: RawFd, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        // SAFETY: write reads `bytes.len()` bytes from a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast::<c_void>(), bytes.len()) };
        if n < 0 {
            if errno().0 == libc::EINTR {
                continue;
            }
            return Err(errno());
        }
        bytes = bytes.get(n as usize..).unwrap_or_default();
    }
    Ok(())
}

/// Whether the other end of the pipe whose read end is `fd` has been closed.
pub(crate) fn hung_up(fd: RawFd) -> bool {
    let mut fds = [libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }];
    // SAFETY: poll on a one-element local array, without waiting.
    let ret = unsafe { libc::poll(fds.as_mut_ptr(), 1, 0) };
    ret > 0 && fds[0].revents & (libc::POLLHUP | libc::POLLERR) != 0
}

// ---------------------------------------------------------------------------------------
// Credentials and privileges.

/// Sets the parent-death signal of the caller.
pub(crate) fn set_parent_death_signal(signal: c_int) -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong, 0, 0, 0) })
        .map(drop)
}

/// Names the calling process (as `ps` and `/proc/PID/comm` show it; at most 15 bytes).
pub(crate) fn set_name(name: &CStr) -> Result<(), Errno> {
    // SAFETY: PR_SET_NAME reads at most 16 bytes of a NUL-terminated string.
    check(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr(), 0, 0, 0) }).map(drop)
}

/// Makes the caller not dumpable: its `/proc` files belong to the host's root and no
/// process of the sandbox may trace it or read its memory.
pub(crate) fn set_not_dumpable() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) }).map(drop)
}

/// Drops every supplementary group.
pub(crate) fn clear_groups() -> Result<(), Errno> {
    // SAFETY: setgroups with a zero count reads nothing.
    check_long(unsafe {
        libc::syscall(libc::SYS_setgroups, 0usize, std::ptr::null::<libc::gid_t>())
    })
    .map(drop)
}

/// Sets the real, effective and saved user and group ids (of this thread, which is the whole
/// process here).
pub(crate) fn set_ids(uid: u32, gid: u32) -> Result<(), Errno> {
    // SAFETY: setresgid and setresuid with integer arguments.
    check_long(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
    // SAFETY: as above.
    check_long(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) }).map(drop)
}

/// Sets no_new_privs: no execve can ever raise privileges again.
pub(crate) fn set_no_new_privs() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
}

/// Locks the securebits so that uid 0 gets no capabilities from execve, uid changes never
/// touch capabilities, and no ambient capability can be raised.
pub(crate) fn lock_securebits() -> Result<(), Errno> {
    let bits = libc::SECBIT_NOROOT
        | libc::SECBIT_NOROOT_LOCKED
        | libc::SECBIT_NO_SETUID_FIXUP
        | libc::SECBIT_NO_SETUID_FIXUP_LOCKED
        | libc::SECBIT_KEEP_CAPS_LOCKED
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE
        | libc::SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    // SAFETY: prctl with integer arguments.
    check(unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits as libc::c_ulong, 0, 0, 0) }).map(drop)
}

/// Drops capabilities `0..=last` from the bounding set (numbers the kernel does not know
/// are skipped).
pub(crate) fn drop_bounding_set(last: u32) -> Result<(), Errno> {
    for cap in 0..=last {
        // SAFETY: prctl with integer arguments.
        let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if ret < 0 && errno().0 != libc::EINVAL {
            return Err(errno());
        }
    }
    Ok(())
}

/// Clears the ambient capability set.
pub(crate) fn clear_ambient() -> Result<(), Errno> {
    // SAFETY: prctl with integer arguments.
    let ret = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    check(ret).map(drop)
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets in two data structs.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Empties the effective, permitted and inheritable capability sets.
pub(crate) fn drop_capabilities() -> Result<(), Errno> {
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: capset reads the header and two data structs, as version 3 defines.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })
    .map(drop)
}

/// Installs a seccomp filter (needs no_new_privs).
pub(crate) fn install_seccomp(program: &[libc::sock_filter]) -> Result<(), Errno> {
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut(),
    };
    // SAFETY: the kernel copies `len` instructions from the live slice; it does not write.
    let ret = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
            0,
            0,
        )
    };
    check(ret).map(drop)
}

// ---------------------------------------------------------------------------------------
// Mounts.

/// Makes every mount of the caller's mount namespace private, recursively.
pub(crate) fn make_mounts_private() -> Result<(), Errno> {
    // SAFETY: mount with a NUL-terminated target and null source, type and data.
    check(unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// Binds `path` onto itself, recursively, so that it is a mount point.
pub(crate) fn bind_onto_itself(path: &CStr) -> Result<(), Errno> {
    // SAFETY: mount with NUL-terminated source and target, null type and data.
    check(unsafe {
        libc::mount(
            path.as_ptr(),
            path.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND | libc::MS_REC,
            std::ptr::null(),
        )
    })
    .map(drop)
}

/// Opens a directory as an `O_PATH` descriptor.
pub(crate) fn open_dir_path(path: &CStr) -> Result<RawFd, Errno> {
    // SAFETY: open reads a NUL-terminated string.
    check(unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    })
}

/// Clones the mount at host `path` (and, if `recursive`, every mount below it) into a
/// detached tree; returns a descriptor of it.
pub(crate) fn clone_tree(path: &CStr, recursive: bool) -> Result<RawFd, Errno> {
    let flags = libc::OPEN_TREE_CLONE
        | libc::OPEN_TREE_CLOEXEC
        | if recursive {
            libc::AT_RECURSIVE as c_uint
        } else {
            0
        };
    // SAFETY: open_tree reads a NUL-terminated string.
    let ret = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    check_long(ret).map(|fd| fd as RawFd)
}

/// Sets mount attributes (`MOUNT_ATTR_*`) on the mount behind `fd`, and below it if
/// `recursive`.
pub(crate) fn set_mount_attributes(fd: RawFd, set: u64, recursive: bool) -> Result<(), Errno> {
    let attr = libc::mount_attr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags = libc::AT_EMPTY_PATH as c_uint
        | if recursive {
            libc::AT_RECURSIVE as c_uint
        } else {
            0
        };
    // SAFETY: mount_setattr reads the empty path and `size_of::<mount_attr>()` bytes of a
    // live local.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd,
            EMPTY.as_ptr(),
            flags,
            &attr as *const libc::mount_attr,
            std::mem::size_of::<libc::mount_attr>(),
        )
    };
    check_long(ret).map(drop)
}

/// Opens `name` below `dir` as an `O_PATH` descriptor without following any symbolic link
/// and without leaving `dir` (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`): a link anywhere on
/// the way, the last component included, is `ELOOP`.
pub(crate) fn open_beneath(dir: RawFd, name: &CStr, directory: bool) -> Result<RawFd, Errno> {
    // SAFETY: open_how is plain data for which all zeroes is a valid value.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags =
        (libc::O_PATH | libc::O_CLOEXEC | if directory { libc::O_DIRECTORY } else { 0 }) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: openat2 reads a NUL-terminated string and `size_of::<open_how>()` bytes of a
    // live local.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            name.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    check_long(ret).map(|fd| fd as RawFd)
}

/// Creates the directory `name` (one component) in `dir`.
pub(crate) fn mkdir_at(dir: RawFd, name: &CStr) -> Result<(), Errno> {
    // SAFETY: mkdirat reads a NUL-terminated string.
    check(unsafe { libc::mkdirat(dir, name.as_ptr(), 0o755) }).map(drop)
}

/// Creates the empty file `name` (one component) in `dir`; an existing name is `EEXIST`.
pub(crate) fn create_file_at(dir: RawFd, name: &CStr) -> Result<(), Errno> {
    // SAFETY: openat reads a NUL-terminated string; the new descriptor is closed at once.
    let fd = check(unsafe {
        libc::openat(
            dir,
            name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o644 as c_uint,
        )
    })?;
    close(fd);
    Ok(())
}

/// Whether the descriptor refers to a directory.
pub(crate) fn is_directory(fd: RawFd) -> Result<bool, Errno> {
    // SAFETY: stat is plain data for which all zeroes is a valid value.
    let mut stat: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes into a live local of the right type.
    check(unsafe { libc::fstat(fd, &mut stat) })?;
    Ok(stat.st_mode & libc::S_IFMT == libc::S_IFDIR)
}

/// Attaches the detached mount `from` on top of the file or directory `onto` refers to.
pub(crate) fn attach_mount(from: RawFd, onto: RawFd) -> Result<(), Errno> {
    // SAFETY: move_mount reads two empty paths.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            from,
            EMPTY.as_ptr(),
            onto,
            EMPTY.as_ptr(),
            libc::MOVE_MOUNT_F_EMPTY_PATH | libc::MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    check_long(ret).map(drop)
}

/// Creates a new file system of type `fstype` with string `options` and returns a detached
/// mount of it with the attributes `attrs`.
pub(crate) fn new_file_system(
    fstype: &CStr,
    options: &[(&CStr, &CStr)],
    attrs: u64,
) -> Result<RawFd, Errno> {
    // SAFETY: fsopen reads a NUL-terminated string.
    let fs = check_long(unsafe {
        libc::syscall(libc::SYS_fsopen, fstype.as_ptr(), libc::FSOPEN_CLOEXEC)
    })? as RawFd;
    let result = configure_and_mount(fs, options, attrs);
    close(fs);
    result
}

fn configure_and_mount(fs: RawFd, options: &[(&CStr, &CStr)], attrs: u64) -> Result<RawFd, Errno> {
    for (key, value) in options {
        // SAFETY: fsconfig reads two NUL-terminated strings.
        check_long(unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs,
                libc::FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            )
        })?;
    }
    // SAFETY: fsconfig with null key and value.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fs,
            libc::FSCONFIG_CMD_CREATE,
            std::ptr::null::<libc::c_char>(),
            std::ptr::null::<c_void>(),
            0,
        )
    })?;
    // SAFETY: fsmount with integer arguments.
    let mount = check_long(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            fs,
            libc::FSMOUNT_CLOEXEC,
            attrs as c_uint,
        )
    })?;
    Ok(mount as RawFd)
}

/// Enters the directory behind `fd`.
pub(crate) fn fchdir(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: fchdir on a descriptor number.
    check(unsafe { libc::fchdir(fd) }).map(drop)
}

/// Makes the working directory the root: `pivot_root(".", ".")`, then detaches the old root
/// stacked on it and enters the new `/`.
pub(crate) fn pivot_to_cwd() -> Result<(), Errno> {
    let dot = c".";
    // SAFETY: pivot_root reads two NUL-terminated strings.
    check_long(unsafe { libc::syscall(libc::SYS_pivot_root, dot.as_ptr(), dot.as_ptr()) })?;
    // SAFETY: umount2 reads a NUL-terminated string.
    check(unsafe { libc::umount2(dot.as_ptr(), libc::MNT_DETACH) })?;
    chdir(c"/")
}

/// Sets the hostname (of the sandbox's UTS namespace).
pub(crate) fn set_hostname(name: &CStr) -> Result<(), Errno> {
    let bytes = name.to_bytes();
    // SAFETY: sethostname reads `bytes.len()` bytes.
    check(unsafe { libc::sethostname(bytes.as_ptr().cast(), bytes.len()) }).map(drop)
}

/// Brings the loopback interface `lo` up.
pub(crate) fn loopback_up() -> Result<(), Errno> {
    // SAFETY: socket with integer arguments.
    let sock =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: ifreq is plain data for which all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, byte) in req.ifr_name.iter_mut().zip(b"lo") {
        *slot = *byte as libc::c_char;
    }
    // SAFETY: SIOCGIFFLAGS fills the flags of a live ifreq.
    let result = check(unsafe { libc::ioctl(sock, libc::SIOCGIFFLAGS, &mut req) }).and_then(|_| {
        // SAFETY: the flags member is the one SIOCGIFFLAGS wrote.
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        // SAFETY: SIOCSIFFLAGS reads a live ifreq.
        check(unsafe { libc::ioctl(sock, libc::SIOCSIFFLAGS, &req) }).map(drop)
    });
    close(sock);
    result
}

// ---------------------------------------------------------------------------------------
// Listening sockets handed to the caller.

/// The room one descriptor takes in a control message (`CMSG_SPACE(sizeof(int))`).
// SAFETY: CMSG_SPACE is arithmetic on its argument.
const FD_SPACE: usize =
    unsafe { libc::CMSG_SPACE(std::mem::size_of::<c_int>() as c_uint) } as usize;

/// The length of a control message holding one descriptor (`CMSG_LEN(sizeof(int))`).
// SAFETY: CMSG_LEN is arithmetic on its argument.
const FD_LEN: usize = unsafe { libc::CMSG_LEN(std::mem::size_of::<c_int>() as c_uint) } as usize;

/// A control message buffer with room for one descriptor, aligned as a `cmsghdr`.
#[repr(C)]
union FdControl {
    header: libc::cmsghdr,
    bytes: [u8; FD_SPACE],
}

/// A connected pair of `AF_UNIX` `SOCK_SEQPACKET` sockets, close-on-exec: messages keep
/// their boundaries, and closing one end is end of file at the other.
pub(crate) fn seqpacket_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds: [c_int; 2] = [-1, -1];
    // SAFETY: socketpair writes two descriptors into a live local array of two ints.
    let ret = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the two descriptors were just created and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// A TCP socket bound to `127.0.0.1:port` (`SO_REUSEADDR`), listening with `backlog`,
/// close-on-exec.
pub(crate) fn listen_loopback(port: u16, backlog: c_int) -> Result<RawFd, Errno> {
    // SAFETY: socket with integer arguments.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    let result = bind_and_listen(fd, port, backlog);
    if result.is_err() {
        close(fd);
    }
    result.map(|()| fd)
}

fn bind_and_listen(fd: RawFd, port: u16, backlog: c_int) -> Result<(), Errno> {
    let on: c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes of a live local.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&on as *const c_int).cast::<c_void>(),
            std::mem::size_of::<c_int>() as libc::socklen_t,
        )
    })?;
    let address = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: libc::INADDR_LOOPBACK.to_be(),
        },
        sin_zero: [0; 8],
    };
    // SAFETY: bind reads `size_of::<sockaddr_in>()` bytes of a live local.
    check(unsafe {
        libc::bind(
            fd,
            (&address as *const libc::sockaddr_in).cast::<libc::sockaddr>(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    // SAFETY: listen with integer arguments.
    check(unsafe { libc::listen(fd, backlog) }).map(drop)
}

/// Sends `data` (at least one byte) with the descriptor `fd` attached (`SCM_RIGHTS`) as one
/// message on `channel`; a closed peer is `EPIPE`, without `SIGPIPE`.
pub(crate) fn send_fd(channel: RawFd, fd: RawFd, data: &[u8]) -> Result<(), Errno> {
    if data.is_empty() {
        return Err(Errno(libc::EINVAL));
    }
    // SAFETY: the union's members are plain data for which all zeroes is a valid value.
    let mut control: FdControl = unsafe { std::mem::zeroed() };
    // SAFETY: as above; every member that matters is then set.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec {
        iov_base: data.as_ptr().cast_mut().cast::<c_void>(),
        iov_len: data.len(),
    };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = (&mut control as *mut FdControl).cast::<c_void>();
    message.msg_controllen = FD_SPACE as _;
    // SAFETY: `msg_controllen` (FD_SPACE) holds a header, so CMSG_FIRSTHDR is the start of
    // `control`, aligned as a `cmsghdr` by the union, and CMSG_DATA points at the room for
    // one int inside it (FD_LEN <= FD_SPACE); the unaligned write needs no alignment.
    unsafe {
        let header = libc::CMSG_FIRSTHDR(&message);
        if header.is_null() {
            return Err(Errno(libc::EINVAL));
        }
        (*header).cmsg_len = FD_LEN as _;
        (*header).cmsg_level = libc::SOL_SOCKET;
        (*header).cmsg_type = libc::SCM_RIGHTS;
        libc::CMSG_DATA(header).cast::<c_int>().write_unaligned(fd);
    }
    loop {
        // SAFETY: sendmsg reads the message, its one iovec over the live `data` and its
        // control buffer, all of which outlive the call; the kernel writes nothing.
        let ret = unsafe { libc::sendmsg(channel, &message, libc::MSG_NOSIGNAL) };
        if ret >= 0 {
            return Ok(());
        }
        if errno().0 != libc::EINTR {
            return Err(errno());
        }
    }
}

/// Receives one message from `channel` into `data`, with the descriptor it carries
/// (close-on-exec). `None` at end of file; a message without a descriptor gives `None` in
/// the pair.
pub(crate) fn receive_fd(
    channel: RawFd,
    data: &mut [u8],
) -> io::Result<Option<(usize, Option<OwnedFd>)>> {
    loop {
        // SAFETY: the union's members are plain data for which all zeroes is a valid value.
        let mut control: FdControl = unsafe { std::mem::zeroed() };
        // SAFETY: as above; every member that matters is then set.
        let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
        let mut iov = libc::iovec {
            iov_base: data.as_mut_ptr().cast::<c_void>(),
            iov_len: data.len(),
        };
        message.msg_iov = &mut iov;
        message.msg_iovlen = 1;
        message.msg_control = (&mut control as *mut FdControl).cast::<c_void>();
        message.msg_controllen = FD_SPACE as _;
        // SAFETY: recvmsg writes at most `data.len()` bytes into `data` and at most
        // FD_SPACE bytes into `control`, both live for the call.
        let ret = unsafe { libc::recvmsg(channel, &mut message, libc::MSG_CMSG_CLOEXEC) };
        if ret < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error);
        }
        if ret == 0 {
            return Ok(None);
        }
        let mut received = None;
        // SAFETY: the kernel filled `message.msg_control`/`msg_controllen` with whole
        // control messages inside `control`; CMSG_FIRSTHDR and CMSG_NXTHDR stay within
        // it, and an SCM_RIGHTS message of `cmsg_len` bytes holds
        // `(cmsg_len - CMSG_LEN(0)) / size_of::<c_int>()` descriptors, new ones that this
        // process now owns (read unaligned: CMSG_DATA needs no alignment for an int).
        unsafe {
            let mut header = libc::CMSG_FIRSTHDR(&message);
            while !header.is_null() {
                if (*header).cmsg_level == libc::SOL_SOCKET
                    && (*header).cmsg_type == libc::SCM_RIGHTS
                {
                    let payload =
                        ((*header).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                    let first = libc::CMSG_DATA(header).cast::<c_int>();
                    for k in 0..payload / std::mem::size_of::<c_int>() {
                        let fd = OwnedFd::from_raw_fd(first.add(k).read_unaligned());
                        // One is expected; any other is closed by the drop.
                        if received.is_none() {
                            received = Some(fd);
                        }
                    }
                }
                header = libc::CMSG_NXTHDR(&message, header);
            }
        }
        return Ok(Some((ret as usize, received)));
    }
}

/// Whether `path` is the root of a cgroup2 file system (`statfs`'s magic number).
pub(crate) fn is_cgroup2(path: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statfs is plain data for which all zeroes is a valid value.
    let mut stat: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: statfs reads a NUL-terminated string and writes into a live local.
    let ret = unsafe { libc::statfs(path.as_ptr(), &mut stat) };
    ret == 0 && stat.f_type == libc::CGROUP2_SUPER_MAGIC as _
}
