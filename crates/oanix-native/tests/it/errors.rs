//! Bad input and missing pieces: one clear line each, and nothing left
//! behind.

use oanix_env::{EnvBuilder, EnvPlan, EnvStatus};
use oanix_native::{NativeError, NativeRun};
use oanix_prims::MemFs;
use oanix_services::LogsFs;

use crate::support::{Fixture, manifest};

fn plan_error(text: &str) -> String {
    EnvPlan::from_manifest(text, "agent.toml", std::path::Path::new("."))
        .unwrap_err()
        .to_string()
}

#[test]
fn a_command_not_found_inside_fails_the_run_in_one_line() {
    let fx = Fixture::new(&[]);
    let env = fx.env(&manifest(r#"command = ["no-such-program-oanix"]"#, ""));
    let error = NativeRun::new(&env).run().unwrap_err().to_string();
    assert!(error.contains("no-such-program-oanix"), "{error}");
    assert!(!error.contains('\n'), "{error}");
    match env.status() {
        EnvStatus::Failed { error: e } => assert!(e.contains("no-such-program-oanix"), "{e}"),
        other => panic!("{other:?}"),
    }
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&format!("oanix-{}", env.id())));
}

#[test]
fn manifests_name_the_line_of_a_bad_native_agent() {
    let both = plan_error("[agent]\nmodule = \"a.wasm\"\ncommand = [\"sh\"]\n");
    assert!(
        both.contains("agent.toml") && both.contains("line 3"),
        "{both}"
    );
    assert!(both.contains("a module or a command, not both"), "{both}");
    let empty = plan_error("[agent]\ncommand = []\n");
    assert!(empty.contains("the command is empty"), "{empty}");
    let missing = plan_error(
        "[agent]\ncommand = [\"sh\"]\n[sandbox]\nsystem_paths = [\"/usr\", \"/nonexistent-oanix\"]\n",
    );
    assert!(missing.contains("line 4"), "{missing}");
    assert!(
        missing.contains("system path /nonexistent-oanix does not exist on the host"),
        "{missing}"
    );
    let relative = plan_error("[agent]\ncommand = [\"sh\"]\n[sandbox]\nextra_paths = [\"opt\"]\n");
    assert!(relative.contains("is not absolute"), "{relative}");
    let unknown = plan_error("[agent]\ncommand = [\"sh\"]\n[sandbox]\nnetwork = true\n");
    assert!(unknown.contains("network"), "{unknown}");
    let file =
        plan_error("[agent]\ncommand = [\"sh\"]\n[sandbox]\nextra_paths = [\"/etc/hostname\"]\n");
    assert!(file.contains("not a directory"), "{file}");
    let cwd = plan_error("[agent]\ncommand = [\"sh\"]\n[sandbox]\ncwd = \"work\"\n");
    assert!(
        cwd.contains("sandbox.cwd") || cwd.contains("line 4"),
        "{cwd}"
    );
}

#[test]
fn an_environment_without_a_command_is_refused_before_anything_runs() {
    let env = EnvBuilder::new()
        .mount("/logs", LogsFs::new())
        .mount("/workspace", MemFs::new())
        .build()
        .unwrap();
    let error = NativeRun::new(&env).run().unwrap_err();
    assert!(matches!(error, NativeError::NoCommand), "{error}");
    assert!(matches!(env.status(), EnvStatus::Failed { .. }));
    // The WASI path says what runs a native agent.
    let fx = Fixture::new(&[]);
    let native = fx.env(&manifest(r#"command = ["true"]"#, ""));
    let error = native.run_agent().unwrap_err().to_string();
    assert!(error.contains("native command"), "{error}");
}

#[test]
fn sandbox_settings_apply_to_the_command() {
    if !std::path::Path::new("/etc/apt").is_dir() {
        eprintln!("skipped: a Debian host (/etc/apt) is needed for this test's extra path");
        return;
    }
    let fx = Fixture::new(&[]);
    let env = fx.env(&manifest(
        r#"command = ["sh", "-c", "echo $GREETING $HOME; pwd; hostname; ulimit -n; ls /etc/apt >/dev/null && echo bound"]
env = { GREETING = "agent" }"#,
        "\n[sandbox]\nenv = { GREETING = \"sandbox\" }\ncwd = \"/tmp\"\nhostname = \"agent-box\"\nopen_files = 77\nextra_paths = [\"/etc/apt\"]\n",
    ));
    let run = NativeRun::new(&env).env("HOME", "/workspace");
    let outcome = run.run().unwrap();
    let out = crate::support::output(&env, oanix_services::LogStream::Stdout);
    assert!(outcome.exit.is_success(), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["sandbox /workspace", "/tmp", "agent-box", "77", "bound"],
        "{out}"
    );
}
