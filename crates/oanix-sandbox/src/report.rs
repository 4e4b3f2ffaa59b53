//! The records the sandbox's init and command send their caller through the report pipe.
//!
//! A record is 16 bytes, written with one `write` (shorter than `PIPE_BUF`, so records from
//! the two writers never interleave), encoded and decoded without allocating.

/// The size of one record on the pipe.
pub(crate) const RECORD_LEN: usize = 16;

/// A step of building the sandbox, named in a setup failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub(crate) enum Step {
    /// Closing inherited descriptors and waiting for the caller's go-ahead.
    Start = 1,
    /// Taking the sandbox's user and group ids.
    Identity,
    /// Making every mount private to the sandbox.
    PrivateMounts,
    /// Binding the root onto itself, so that it is a mount.
    RootBind,
    /// Cloning a host path for a bind (index: the bind).
    BindSource,
    /// Making a bind read-only (index: the bind).
    BindAttributes,
    /// Finding or creating a bind's mount point in the root (index: the bind).
    BindTarget,
    /// Attaching a bind at its mount point (index: the bind).
    BindAttach,
    /// Mounting the small tmpfs at `/dev`.
    DevMount,
    /// Binding one device node into `/dev` (index: the device).
    DevNode,
    /// Mounting the sandbox's own `/proc`.
    ProcMount,
    /// Setting the hostname.
    Hostname,
    /// Bringing the loopback interface up.
    Loopback,
    /// Listening on a port of the loopback and handing the socket to the caller (index:
    /// the port, in the order given).
    Listen,
    /// Making the root `/` (pivot_root) and dropping the host's tree.
    PivotRoot,
    /// Dropping capabilities and setting no_new_privs.
    Privileges,
    /// Installing the system call filter.
    Seccomp,
    /// Starting the command's process.
    Spawn,
    /// Giving the command its standard streams and session.
    Stdio,
    /// Setting a resource limit (index: the limit).
    Rlimit,
    /// Entering the working directory.
    WorkingDirectory,
    /// Executing the program (index: the candidate path that gave the errno).
    Exec,
}

impl Step {
    /// Every step, in code order (for decoding).
    const ALL: [Step; 22] = [
        Step::Start,
        Step::Identity,
        Step::PrivateMounts,
        Step::RootBind,
        Step::BindSource,
        Step::BindAttributes,
        Step::BindTarget,
        Step::BindAttach,
        Step::DevMount,
        Step::DevNode,
        Step::ProcMount,
        Step::Hostname,
        Step::Loopback,
        Step::Listen,
        Step::PivotRoot,
        Step::Privileges,
        Step::Seccomp,
        Step::Spawn,
        Step::Stdio,
        Step::Rlimit,
        Step::WorkingDirectory,
        Step::Exec,
    ];

    fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|step| *step as i32 == code)
    }
}

/// A failed step: which one, for which item, and the errno.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    /// The step.
    pub(crate) step: Step,
    /// The bind, device, port, limit or candidate the step concerned (0 where none).
    pub(crate) index: i32,
    /// The errno.
    pub(crate) errno: i32,
}

impl Failure {
    /// A failure of `step` for item `index`.
    pub(crate) const fn new(step: Step, index: usize, errno: i32) -> Self {
        Self {
            step,
            index: index as i32,
            errno,
        }
    }
}

/// One message from the sandbox to its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Record {
    /// Building the sandbox failed, or the command failed before `execve` succeeded.
    Failed(Failure),
    /// The command ended with this wait status.
    Exited(i32),
}

const TAG_FAILED: i32 = 1;
const TAG_EXITED: i32 = 2;

impl Record {
    /// The record's bytes.
    pub(crate) fn encode(self) -> [u8; RECORD_LEN] {
        let words = match self {
            Self::Failed(failure) => [
                TAG_FAILED,
                failure.step as i32,
                failure.index,
                failure.errno,
            ],
            Self::Exited(status) => [TAG_EXITED, status, 0, 0],
        };
        let mut out = [0u8; RECORD_LEN];
        for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_ne_bytes());
        }
        out
    }

    /// Decodes one record; `None` for bytes no writer produces.
    pub(crate) fn decode(bytes: [u8; RECORD_LEN]) -> Option<Self> {
        let mut words = [0i32; 4];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
            let mut four = [0u8; 4];
            four.copy_from_slice(chunk);
            *word = i32::from_ne_bytes(four);
        }
        match words[0] {
            TAG_FAILED => Some(Self::Failed(Failure {
                step: Step::from_code(words[1])?,
                index: words[2],
                errno: words[3],
            })),
            TAG_EXITED => Some(Self::Exited(words[1])),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        for step in Step::ALL {
            let record = Record::Failed(Failure::new(step, 7, 13));
            assert_eq!(Record::decode(record.encode()), Some(record));
        }
        let exited = Record::Exited(0x0b00);
        assert_eq!(Record::decode(exited.encode()), Some(exited));
    }

    #[test]
    fn unknown_records_are_refused() {
        assert_eq!(Record::decode([0; RECORD_LEN]), None);
        let mut bad_step = Record::Failed(Failure::new(Step::Exec, 0, 2)).encode();
        bad_step[4..8].copy_from_slice(&999i32.to_ne_bytes());
        assert_eq!(Record::decode(bad_step), None);
    }

    #[test]
    fn step_codes_are_distinct_and_in_order() {
        for (k, step) in Step::ALL.iter().enumerate() {
            assert_eq!(*step as i32, k as i32 + 1);
        }
    }
}
