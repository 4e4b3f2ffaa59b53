//! Platforms the sandbox does not run on: every run is refused with one clear line.

use crate::config::{Command, Outcome, Sandbox};
use crate::error::{Result, SandboxError};

impl Sandbox {
    /// Refuses to run: this platform has no sandbox (see the crate's requirements).
    ///
    /// # Errors
    ///
    /// Always [`SandboxError::Unsupported`].
    pub fn run(&self, command: Command) -> Result<Outcome> {
        drop(command);
        Err(SandboxError::Unsupported(format!(
            "oanix-sandbox runs only on Linux on x86_64 or aarch64, not {} on {}",
            std::env::consts::OS,
            std::env::consts::ARCH
        )))
    }
}
