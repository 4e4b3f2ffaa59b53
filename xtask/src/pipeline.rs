//! `cargo xtask test`: the ordered table of checks CI runs, and the runner that walks it.
//!
//! To add a check, add one line to [`STEPS`]. Work that must happen before any check (building
//! the WebAssembly guests that tests load, for example) goes in [`prepare`].

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::process;
use crate::tools::{self, Tool};

/// One check: a command run from the workspace root that must exit successfully.
#[derive(Debug)]
pub(crate) struct Step {
    /// Short name shown in the step's header and in failure messages.
    name: &'static str,
    /// The program; `cargo` means the cargo that runs this task.
    program: &'static str,
    /// The program's arguments.
    args: &'static [&'static str],
    /// Environment variables set for this step only.
    env: &'static [(&'static str, &'static str)],
    /// An external cargo subcommand the step needs, if any.
    needs: Option<&'static Tool>,
}

impl Step {
    /// A step running `cargo <args>`.
    const fn cargo(name: &'static str, args: &'static [&'static str]) -> Self {
        Self {
            name,
            program: "cargo",
            args,
            env: &[],
            needs: None,
        }
    }

    /// The same step with `env` set for it.
    const fn with_env(self, env: &'static [(&'static str, &'static str)]) -> Self {
        Self { env, ..self }
    }

    /// The same step, marked as needing `tool`: without it the step fails under CI and is
    /// skipped with a note elsewhere.
    const fn needing(self, tool: &'static Tool) -> Self {
        Self {
            needs: Some(tool),
            ..self
        }
    }

    /// The command line as a person would type it to reproduce the step.
    fn command_line(&self) -> String {
        let mut line = String::new();
        for (key, value) in self.env {
            // Writing to a String cannot fail.
            let _ = write!(line, "{key}='{value}' ");
        }
        line.push_str(self.program);
        for arg in self.args {
            line.push(' ');
            line.push_str(arg);
        }
        line
    }

    /// Runs the step, returning how long it took.
    fn run(&self) -> Result<Duration> {
        let start = Instant::now();
        let mut cmd = process::command(self.program);
        cmd.args(self.args);
        for (key, value) in self.env {
            cmd.env(key, value);
        }
        let status = cmd
            .status()
            .with_context(|| format!("could not start step `{}`", self.name))?;
        let elapsed = start.elapsed();
        if !status.success() {
            bail!(
                "step `{}` failed ({status}) after {}; reproduce with `{}`",
                self.name,
                seconds(elapsed),
                self.command_line()
            );
        }
        Ok(elapsed)
    }
}

/// The checks, in the order they run. The cheap ones come first so they fail fast.
const STEPS: &[Step] = &[
    Step::cargo("fmt", &["fmt", "--all", "--", "--check"]),
    Step::cargo(
        "clippy",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--",
            "-D",
            "warnings",
        ],
    ),
    Step::cargo("test", &["test", "--workspace", "--all-features"]),
    // The browser crate on its own target: lints, its wasm-bindgen-test tests in Node, and
    // the Namespace Explorer built and driven in headless Chromium.
    Step::cargo(
        "wasm-clippy",
        &[
            "clippy",
            "-p",
            "oanix-web",
            "--target",
            "wasm32-unknown-unknown",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    ),
    Step::cargo(
        "wasm-test",
        &[
            "test",
            "-p",
            "oanix-web",
            "--target",
            "wasm32-unknown-unknown",
            "--test",
            "it",
        ],
    )
    .with_env(&[(
        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
        "wasm-bindgen-test-runner",
    )])
    .needing(&tools::WASM_BINDGEN),
    Step::cargo("browser", &["xtask", "browser-test"]).needing(&tools::WASM_BINDGEN),
    Step::cargo(
        "doc",
        &["doc", "--workspace", "--no-deps", "--all-features"],
    )
    .with_env(&[("RUSTDOCFLAGS", "-D warnings")]),
    Step::cargo("deny", &["deny", "check", "bans", "licenses", "sources"])
        .needing(&tools::CARGO_DENY),
];

/// Work done once before the first step.
///
/// This is where builds that tests depend on belong, so that the steps in [`STEPS`] find their
/// artifacts ready: the WebAssembly guest programs that the oanix-wasi tests load (which also
/// installs the `wasm32-wasip1` target when it is missing).
fn prepare() -> Result<()> {
    crate::wasm::guests()
}

/// `cargo xtask test`: prepares, then runs every step in order, stopping at the first failure.
pub(crate) fn run() -> Result<()> {
    let total = Instant::now();
    prepare().context("preparing for the checks failed")?;
    let ci = process::is_ci();
    let mut skipped = Vec::new();
    for (index, step) in STEPS.iter().enumerate() {
        println!(
            "==> [{}/{}] {}: {}",
            index + 1,
            STEPS.len(),
            step.name,
            step.command_line()
        );
        if let Some(tool) = step.needs
            && tool.installed_version().is_none()
        {
            if ci {
                bail!(
                    "step `{}` needs {}, which is not installed; install it with {}",
                    step.name,
                    tool.package,
                    tool.install_hint()
                );
            }
            println!(
                "note: skipped `{}`: {} is not installed; install it with {}",
                step.name,
                tool.package,
                tool.install_hint()
            );
            skipped.push(step.name);
            continue;
        }
        let elapsed = step.run()?;
        println!("    {} passed in {}", step.name, seconds(elapsed));
    }
    if skipped.is_empty() {
        println!(
            "==> all {} steps passed in {}",
            STEPS.len(),
            seconds(total.elapsed())
        );
    } else {
        println!(
            "==> {} of {} steps passed, skipped: {} ({} total)",
            STEPS.len() - skipped.len(),
            STEPS.len(),
            skipped.join(", "),
            seconds(total.elapsed())
        );
    }
    Ok(())
}

/// A duration as seconds with one decimal, like `12.3s`.
fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::{STEPS, Step};

    #[test]
    fn step_names_are_unique() {
        for (index, step) in STEPS.iter().enumerate() {
            assert!(
                STEPS[..index].iter().all(|other| other.name != step.name),
                "step name `{}` is used twice",
                step.name
            );
        }
    }

    #[test]
    fn command_line_shows_environment_first() {
        let step = Step::cargo("doc", &["doc", "--no-deps"]).with_env(&[("A", "-D warnings")]);
        assert_eq!(step.command_line(), "A='-D warnings' cargo doc --no-deps");
    }
}
