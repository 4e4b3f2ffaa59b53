//! `cargo xtask`: the project's automation — the check pipeline CI runs, benchmarks and tools.
//!
//! Every task is a subcommand of this binary, reached through the `cargo xtask` alias in
//! `.cargo/config.toml`, so the only thing a machine needs is cargo:
//!
//! - `cargo xtask test` runs formatting, lints, tests (including the tidy tests in this crate),
//!   docs and the dependency policy, in that order, stopping at the first failure.
//! - `cargo xtask bench` runs the benchmark binaries of every crate.
//! - `cargo xtask install-tools` installs the external tools the pipeline uses.
//! - `cargo xtask guests` builds the WebAssembly test guests of oanix-wasi, and
//!   `cargo xtask hello-wasi` builds the example agent and runs it.
//! - `cargo xtask demo` builds the example agent and runs it with the `oanix` command in the
//!   demo environment (`examples/demo.toml`): the README's first command; then the native
//!   Python agent of `examples/native-demo.toml` beside it.
//! - `cargo xtask web [--serve]` builds the Namespace Explorer (oanix-web in the browser) and
//!   serves it on 127.0.0.1; `cargo xtask browser-test` drives it in headless Chromium.
//!
//! The tidy tests (`src/tidy/`) are ordinary `#[test]`s, so a plain `cargo test --workspace`
//! checks the repository's structural rules too.

#![allow(
    clippy::print_stdout,
    reason = "xtask is a command-line tool that reports its progress on stdout"
)]

mod bench;
mod pipeline;
mod process;
#[cfg(test)]
mod tidy;
mod tools;
mod wasm;
mod web;

use std::process::ExitCode;

use anyhow::{Result, bail};

/// The help text printed by `cargo xtask help`.
const USAGE: &str = "\
usage: cargo xtask <task> [args]

tasks:
  test            run every check CI runs (fmt, clippy, tests, docs, cargo-deny)
  bench [args]    run `cargo bench --workspace`, passing extra args through
  install-tools   install the tools the checks use (cargo-deny, wasm-bindgen-cli)
  guests          build the oanix-wasi test guests for wasm32-wasip1
  hello-wasi      build examples/hello-wasi for wasm32-wasip1 and run it with run_wasi
  demo            run hello-wasi (examples/demo.toml) and the native agent (examples/native-demo.toml)
                  (`--build-only` to stop after the build)
  web [--serve]   build the Namespace Explorer (oanix-web for wasm32) into target/web/site;
                  `--serve` then serves it on http://127.0.0.1:8080/ (`--port N` for another)
  browser-test    build the Namespace Explorer and test it in headless Chromium
  help            print this message

environment:
  CI                when set, a missing tool fails `test` instead of skipping its step
  OANIX_TOOLS_ROOT  where `install-tools` installs (passed to `cargo install --root`)
  OANIX_CHROMIUM, OANIX_CHROMEDRIVER
                    the browser and driver `browser-test` uses (default: Debian's
                    /usr/bin/chromium and /usr/bin/chromedriver)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Dispatches one task by name.
fn run(args: &[String]) -> Result<()> {
    let Some((task, rest)) = args.split_first() else {
        print!("{USAGE}");
        bail!("no task given");
    };
    match task.as_str() {
        "test" => {
            if let Some(extra) = rest.first() {
                bail!("`test` takes no arguments, got `{extra}`");
            }
            pipeline::run()
        }
        "bench" => bench::run(rest),
        "install-tools" => {
            if let Some(extra) = rest.first() {
                bail!("`install-tools` takes no arguments, got `{extra}`");
            }
            tools::install_all()
        }
        "guests" => {
            if let Some(extra) = rest.first() {
                bail!("`guests` takes no arguments, got `{extra}`");
            }
            wasm::guests()
        }
        "hello-wasi" => wasm::hello_wasi(rest),
        "demo" => wasm::demo(rest),
        "web" => web::run(rest),
        "browser-test" => web::browser::browser_test(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown task `{other}`; run `cargo xtask help` for the list"),
    }
}
