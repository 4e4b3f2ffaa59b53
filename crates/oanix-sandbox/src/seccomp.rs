//! The system call filter: the calls the sandbox refuses, compiled to a classic BPF program
//! for `seccomp(SECCOMP_MODE_FILTER)`.
//!
//! The filter is a deny list: an agent runs arbitrary tools (shells, compilers, interpreters),
//! whose needs an allow list would have to guess, while the calls refused here are the ones
//! that reach past the namespaces or widen the kernel's attack surface, and that no tool of
//! an agent needs. A deny list must also close the doors around it, so the filter
//!
//! - kills a process making a call of another architecture's ABI (on x86_64, the i386
//!   `int 0x80` entry), whose numbers the list does not cover;
//! - refuses every x32 call (numbers with bit 30 set) on x86_64 with `ENOSYS`;
//! - refuses `clone3` with `ENOSYS` (its flags sit in memory a filter cannot read; C
//!   libraries then fall back to `clone`), and `clone` with any namespace flag;
//! - checks arguments where one call does both harmless and harmful things (`ioctl`'s
//!   terminal injection, `socket`'s `AF_VSOCK`, which no network namespace confines).
//!
//! The program is built by hand rather than with a filter compiler: it needs a range test
//! (the x32 bit) that per-number rule maps do not express, it is a few dozen instructions
//! with short forward jumps only, and building it is a pure function, tested below against a
//! small interpreter.

use libc::sock_filter;

/// `AUDIT_ARCH_X86_64`.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
/// `AUDIT_ARCH_AARCH64`.
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// Bit 30 of the call number marks the x32 ABI on x86_64.
#[cfg(target_arch = "x86_64")]
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// `open_tree_attr` (Linux 6.15), numbered alike on every architecture.
const SYS_OPEN_TREE_ATTR: i64 = 467;

// Classic BPF opcodes (linux/bpf_common.h).
const LD_W_ABS: u16 = 0x20;
const JEQ_K: u16 = 0x15;
const JGE_K: u16 = 0x35;
const JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

// Offsets in `struct seccomp_data`.
const OFFSET_NR: u32 = 0;
const OFFSET_ARCH: u32 = 4;
/// The low 32 bits of argument `n` (little-endian targets only: x86_64, aarch64).
const fn offset_arg_low(n: u32) -> u32 {
    16 + 8 * n
}

/// The seccomp return value refusing a call with `errno`.
const fn ret_errno(errno: i32) -> u32 {
    libc::SECCOMP_RET_ERRNO | (errno as u32 & libc::SECCOMP_RET_DATA)
}

/// Namespace flags `clone` may not carry (`CLONE_NEWTIME` shares its bit with the exit
/// signal in `clone`'s flags and can only be asked for through `clone3` and `unshare`,
/// both refused).
const CLONE_NAMESPACE_FLAGS: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// Terminal ioctls that push input into another process's terminal.
const IOCTL_REFUSED: &[u32] = &[libc::TIOCSTI as u32, libc::TIOCLINUX as u32];

/// Socket families no network namespace confines.
const SOCKET_REFUSED: &[u32] = &[libc::AF_VSOCK as u32];

/// One entry of the filter.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Refuse the call with `errno`.
    Deny { nr: i64, errno: i32 },
    /// Refuse the call with `EPERM` when argument `arg` has any bit of `mask` set.
    DenyBits { nr: i64, arg: u32, mask: u32 },
    /// Refuse the call with `errno` when argument `arg` (its low 32 bits) is one of `values`.
    DenyValues {
        nr: i64,
        arg: u32,
        values: &'static [u32],
        errno: i32,
    },
}

const fn deny(nr: i64) -> Rule {
    Rule::Deny {
        nr,
        errno: libc::EPERM,
    }
}

/// The calls refused on every architecture, with the reason for each group.
const COMMON_RULES: &[Rule] = &[
    // The mount table is the sandbox's boundary: no call may change it.
    deny(libc::SYS_mount),
    deny(libc::SYS_umount2),
    deny(libc::SYS_pivot_root),
    deny(libc::SYS_chroot),
    deny(libc::SYS_open_tree),
    deny(SYS_OPEN_TREE_ATTR),
    deny(libc::SYS_move_mount),
    deny(libc::SYS_fsopen),
    deny(libc::SYS_fsconfig),
    deny(libc::SYS_fsmount),
    deny(libc::SYS_fspick),
    deny(libc::SYS_mount_setattr),
    // New namespaces (a user namespace would give back every capability inside it).
    deny(libc::SYS_unshare),
    deny(libc::SYS_setns),
    Rule::DenyBits {
        nr: libc::SYS_clone,
        arg: 0,
        mask: CLONE_NAMESPACE_FLAGS,
    },
    Rule::Deny {
        nr: libc::SYS_clone3,
        errno: libc::ENOSYS,
    },
    // Reading or writing other processes' memory and descriptors.
    deny(libc::SYS_ptrace),
    deny(libc::SYS_process_vm_readv),
    deny(libc::SYS_process_vm_writev),
    deny(libc::SYS_pidfd_getfd),
    // Kernel keyrings are not namespaced.
    deny(libc::SYS_add_key),
    deny(libc::SYS_request_key),
    deny(libc::SYS_keyctl),
    // Large kernel attack surfaces no tool needs.
    deny(libc::SYS_bpf),
    deny(libc::SYS_perf_event_open),
    deny(libc::SYS_userfaultfd),
    deny(libc::SYS_io_uring_setup),
    deny(libc::SYS_io_uring_enter),
    deny(libc::SYS_io_uring_register),
    deny(libc::SYS_fanotify_init),
    // Whole-system administration.
    deny(libc::SYS_init_module),
    deny(libc::SYS_finit_module),
    deny(libc::SYS_delete_module),
    deny(libc::SYS_kexec_load),
    deny(libc::SYS_kexec_file_load),
    deny(libc::SYS_reboot),
    deny(libc::SYS_swapon),
    deny(libc::SYS_swapoff),
    deny(libc::SYS_syslog),
    deny(libc::SYS_acct),
    deny(libc::SYS_quotactl),
    deny(libc::SYS_quotactl_fd),
    deny(libc::SYS_settimeofday),
    deny(libc::SYS_clock_settime),
    deny(libc::SYS_clock_adjtime),
    deny(libc::SYS_adjtimex),
    deny(libc::SYS_vhangup),
    deny(libc::SYS_lookup_dcookie),
    deny(libc::SYS_nfsservctl),
    // File handles open any inode of a file system, whatever the mounts show.
    deny(libc::SYS_open_by_handle_at),
    deny(libc::SYS_name_to_handle_at),
    // Argument checks.
    Rule::DenyValues {
        nr: libc::SYS_ioctl,
        arg: 1,
        values: IOCTL_REFUSED,
        errno: libc::EPERM,
    },
    Rule::DenyValues {
        nr: libc::SYS_socket,
        arg: 0,
        values: SOCKET_REFUSED,
        errno: libc::EAFNOSUPPORT,
    },
];

/// The calls refused only where they exist.
#[cfg(target_arch = "x86_64")]
const ARCH_RULES: &[Rule] = &[
    deny(libc::SYS_iopl),
    deny(libc::SYS_ioperm),
    deny(libc::SYS_uselib),
    deny(libc::SYS__sysctl),
];
/// The calls refused only where they exist.
#[cfg(target_arch = "aarch64")]
const ARCH_RULES: &[Rule] = &[];

const fn insn(code: u16, jt: u8, jf: u8, k: u32) -> sock_filter {
    sock_filter { code, jt, jf, k }
}

/// The filter program.
pub(crate) fn program() -> Vec<sock_filter> {
    let mut out = vec![
        insn(LD_W_ABS, 0, 0, OFFSET_ARCH),
        insn(JEQ_K, 1, 0, AUDIT_ARCH),
        insn(RET_K, 0, 0, libc::SECCOMP_RET_KILL_PROCESS),
        insn(LD_W_ABS, 0, 0, OFFSET_NR),
    ];
    #[cfg(target_arch = "x86_64")]
    out.extend([
        insn(JGE_K, 0, 1, X32_SYSCALL_BIT),
        insn(RET_K, 0, 0, ret_errno(libc::ENOSYS)),
    ]);
    for rule in COMMON_RULES.iter().chain(ARCH_RULES) {
        match *rule {
            Rule::Deny { nr, errno } => out.extend([
                insn(JEQ_K, 0, 1, nr as u32),
                insn(RET_K, 0, 0, ret_errno(errno)),
            ]),
            Rule::DenyBits { nr, arg, mask } => out.extend([
                // Not this call: skip the four instructions of the check.
                insn(JEQ_K, 0, 4, nr as u32),
                insn(LD_W_ABS, 0, 0, offset_arg_low(arg)),
                insn(JSET_K, 0, 1, mask),
                insn(RET_K, 0, 0, ret_errno(libc::EPERM)),
                insn(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
            ]),
            Rule::DenyValues {
                nr,
                arg,
                values,
                errno,
            } => {
                // The check: one load, a compare and a return per value, a final allow.
                let skip = 2 + 2 * values.len();
                out.push(insn(JEQ_K, 0, skip.min(255) as u8, nr as u32));
                out.push(insn(LD_W_ABS, 0, 0, offset_arg_low(arg)));
                for value in values {
                    out.push(insn(JEQ_K, 0, 1, *value));
                    out.push(insn(RET_K, 0, 0, ret_errno(errno)));
                }
                out.push(insn(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW));
            }
        }
    }
    out.push(insn(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the kernel would do with a call, by running the program on it.
    fn decide(program: &[sock_filter], arch: u32, nr: i64, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&(nr as u32).to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (k, arg) in args.iter().enumerate() {
            data[16 + 8 * k..24 + 8 * k].copy_from_slice(&arg.to_le_bytes());
        }
        let mut acc = 0u32;
        let mut pc = 0usize;
        loop {
            let op = program[pc];
            let next = pc + 1;
            pc = match op.code {
                LD_W_ABS => {
                    let at = op.k as usize;
                    let mut word = [0u8; 4];
                    word.copy_from_slice(&data[at..at + 4]);
                    acc = u32::from_le_bytes(word);
                    next
                }
                JEQ_K | JGE_K | JSET_K => {
                    let taken = match op.code {
                        JEQ_K => acc == op.k,
                        JGE_K => acc >= op.k,
                        _ => acc & op.k != 0,
                    };
                    next + usize::from(if taken { op.jt } else { op.jf })
                }
                RET_K => return op.k,
                other => panic!("unexpected opcode {other:#x}"),
            };
            assert!(pc < program.len(), "jump past the end");
        }
    }

    fn call(nr: i64, args: [u64; 6]) -> u32 {
        decide(&program(), AUDIT_ARCH, nr, args)
    }

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const EPERM: u32 = ret_errno(libc::EPERM);
    const ENOSYS: u32 = ret_errno(libc::ENOSYS);

    #[test]
    fn ordinary_calls_pass() {
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_wait4,
            libc::SYS_connect,
            libc::SYS_seccomp,
            libc::SYS_prctl,
        ] {
            assert_eq!(call(nr, [0; 6]), ALLOW, "call {nr}");
        }
    }

    #[test]
    fn mount_namespace_ptrace_key_and_kernel_calls_are_refused() {
        for nr in [
            libc::SYS_mount,
            libc::SYS_umount2,
            libc::SYS_move_mount,
            libc::SYS_fsopen,
            SYS_OPEN_TREE_ATTR,
            libc::SYS_unshare,
            libc::SYS_setns,
            libc::SYS_ptrace,
            libc::SYS_process_vm_readv,
            libc::SYS_keyctl,
            libc::SYS_bpf,
            libc::SYS_perf_event_open,
            libc::SYS_open_by_handle_at,
            libc::SYS_io_uring_setup,
        ] {
            assert_eq!(call(nr, [0; 6]), EPERM, "call {nr}");
        }
        assert_eq!(call(libc::SYS_clone3, [0; 6]), ENOSYS);
    }

    #[test]
    fn clone_is_refused_only_with_namespace_flags() {
        let thread =
            (libc::CLONE_VM | libc::CLONE_FS | libc::CLONE_FILES | libc::CLONE_THREAD) as u64;
        assert_eq!(call(libc::SYS_clone, [thread, 0, 0, 0, 0, 0]), ALLOW);
        assert_eq!(
            call(libc::SYS_clone, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0]),
            ALLOW
        );
        for flag in [
            libc::CLONE_NEWUSER,
            libc::CLONE_NEWNS,
            libc::CLONE_NEWPID,
            libc::CLONE_NEWNET,
            libc::CLONE_NEWCGROUP,
        ] {
            let flags = flag as u64 | libc::SIGCHLD as u64;
            assert_eq!(call(libc::SYS_clone, [flags, 0, 0, 0, 0, 0]), EPERM);
        }
    }

    #[test]
    #[allow(
        clippy::unnecessary_cast,
        reason = "the ioctl request type differs between C libraries"
    )]
    fn argument_checks_refuse_only_the_listed_values() {
        let tiocsti = libc::TIOCSTI as u64;
        assert_eq!(call(libc::SYS_ioctl, [0, tiocsti, 0, 0, 0, 0]), EPERM);
        // The kernel reads the command as 32 bits: high bits do not hide it.
        assert_eq!(
            call(libc::SYS_ioctl, [0, tiocsti | 1 << 40, 0, 0, 0, 0]),
            EPERM
        );
        let fionread = libc::FIONREAD as u64;
        assert_eq!(call(libc::SYS_ioctl, [0, fionread, 0, 0, 0, 0]), ALLOW);
        let vsock = libc::AF_VSOCK as u64;
        assert_eq!(
            call(libc::SYS_socket, [vsock, 1, 0, 0, 0, 0]),
            ret_errno(libc::EAFNOSUPPORT)
        );
        let inet = libc::AF_INET as u64;
        assert_eq!(call(libc::SYS_socket, [inet, 1, 0, 0, 0, 0]), ALLOW);
    }

    #[test]
    fn other_architectures_are_killed() {
        let program = program();
        let i386 = 0x4000_0003;
        assert_eq!(
            decide(&program, i386, libc::SYS_read, [0; 6]),
            libc::SECCOMP_RET_KILL_PROCESS
        );
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x32_calls_are_refused() {
        let x32_mount = libc::SYS_mount | i64::from(X32_SYSCALL_BIT);
        assert_eq!(call(x32_mount, [0; 6]), ENOSYS);
        assert_eq!(call(i64::from(X32_SYSCALL_BIT), [0; 6]), ENOSYS);
    }

    #[test]
    fn the_program_fits_the_kernel() {
        let program = program();
        assert!(program.len() < 4096, "{} instructions", program.len());
        for (pc, op) in program.iter().enumerate() {
            if matches!(op.code, JEQ_K | JGE_K | JSET_K) {
                let far = pc + 1 + usize::from(op.jt.max(op.jf));
                assert!(far < program.len(), "jump from {pc} past the end");
            }
        }
        assert_eq!(program.last().map(|op| op.k), Some(ALLOW));
    }
}
