//! The crate's error type: one clear line for each way a sandbox can fail to run a command.

use std::path::PathBuf;

/// What can go wrong building a sandbox or running a command in it.
///
/// Each message is one line that names what was wrong and where. A command that starts and
/// then fails (a non-zero exit, a signal, the timeout) is not an error: it is an
/// [`Outcome`](crate::Outcome).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// This platform cannot run the sandbox (not Linux, or a CPU architecture the system call
    /// filter does not know, or a kernel without the needed system calls).
    #[error("unsupported platform: {0}")]
    Unsupported(String),
    /// The kernel refused to create a user namespace (disabled by a sysctl, a security
    /// module, a seccomp filter, or a chroot around the caller).
    #[error("user namespaces are not available: {reason}")]
    UserNamespaces {
        /// What the kernel said, and where to look.
        reason: String,
    },
    /// The configuration is malformed (a relative path, a NUL byte, an empty command...).
    #[error("invalid sandbox configuration: {0}")]
    InvalidConfig(String),
    /// The directory that should become the sandbox's root is missing or not a directory.
    #[error("sandbox root {}: {reason}", path.display())]
    Root {
        /// The host path given as the root.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A host path listed for a read-only bind does not exist.
    #[error("system path {} does not exist on the host", path.display())]
    SystemPathMissing {
        /// The host path.
        path: PathBuf,
    },
    /// The command's program was not found inside the sandbox (on its `PATH`, or at the
    /// path given).
    #[error("command not found in the sandbox: {command}")]
    CommandNotFound {
        /// The program as given.
        command: String,
    },
    /// The program exists inside the sandbox but could not be executed.
    #[error("cannot execute {command} in the sandbox: {reason}")]
    Exec {
        /// The program as given.
        command: String,
        /// What `execve` said.
        reason: String,
    },
    /// The working directory could not be entered inside the sandbox.
    #[error("working directory {path} in the sandbox: {reason}")]
    WorkingDirectory {
        /// The sandbox path.
        path: String,
        /// What `chdir` said.
        reason: String,
    },
    /// A step of building the sandbox failed (a mount, the identity mapping, a limit...).
    #[error("sandbox setup failed at {step}: {reason}")]
    Setup {
        /// The step, with the paths it concerned.
        step: String,
        /// What the kernel said.
        reason: String,
    },
}

/// The crate's result type.
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;

/// Describes an `errno` value in lowercase, without the `(os error N)` suffix.
pub(crate) fn describe_errno(errno: i32) -> String {
    describe_io(&std::io::Error::from_raw_os_error(errno))
}

/// Describes an I/O error in lowercase, without the `(os error N)` suffix.
pub(crate) fn describe_io(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error ") {
        Some(at) => &text[..at],
        None => text.as_str(),
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_descriptions_are_lowercase_without_the_code() {
        assert_eq!(describe_errno(2), "no such file or directory");
        assert_eq!(describe_errno(1), "operation not permitted");
        let custom = std::io::Error::other("Odd thing");
        assert_eq!(describe_io(&custom), "odd thing");
    }

    #[test]
    fn messages_are_one_lowercase_line() {
        let errors = [
            SandboxError::Unsupported("oanix-sandbox runs only on Linux".into()),
            SandboxError::UserNamespaces {
                reason: "operation not permitted".into(),
            },
            SandboxError::SystemPathMissing {
                path: "/opt/none".into(),
            },
            SandboxError::CommandNotFound {
                command: "python4".into(),
            },
        ];
        for error in errors {
            let text = error.to_string();
            assert!(!text.contains('\n'), "{text}");
            assert!(!text.ends_with('.'), "{text}");
            assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        }
        assert_eq!(
            SandboxError::CommandNotFound {
                command: "python4".into()
            }
            .to_string(),
            "command not found in the sandbox: python4"
        );
    }
}
