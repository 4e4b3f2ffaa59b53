//! Bad input and missing pieces: one clear line each.

use std::os::unix::fs::PermissionsExt;

use oanix_sandbox::{Exit, Identity, Sandbox, SandboxError};

use crate::support::{Root, run};

#[test]
fn a_command_not_found_inside_is_a_clear_error() {
    let root = Root::new();
    let sandbox = root.sandbox();
    for program in [
        "no-such-program",
        "/usr/bin/no-such-program",
        "/root/.bashrc",
    ] {
        let error = run(&sandbox, &[program]).err().unwrap();
        assert!(
            matches!(error, SandboxError::CommandNotFound { .. }),
            "{error}"
        );
        assert_eq!(
            error.to_string(),
            format!("command not found in the sandbox: {program}")
        );
    }
    // A sandbox without PATH finds nothing by name.
    let bare = root.builder().env_remove("PATH").build().unwrap();
    let error = run(&bare, &["sh"]).err().unwrap();
    assert!(
        matches!(error, SandboxError::CommandNotFound { .. }),
        "{error}"
    );
    assert_eq!(root.processes(), Vec::<u32>::new());
}

#[test]
fn a_program_that_cannot_be_executed_is_named() {
    let root = Root::new();
    let script = root.path().join("workspace/script");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let error = run(&root.sandbox(), &["/workspace/script"]).err().unwrap();
    assert_eq!(
        error.to_string(),
        "cannot execute /workspace/script in the sandbox: permission denied"
    );
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ran = run(&root.sandbox(), &["/workspace/script"]).unwrap();
    assert_eq!(ran.outcome.exit, Exit::Code(0));
    assert_eq!(ran.stdout, "hi\n");
}

#[test]
fn a_missing_system_path_is_named() {
    let root = Root::new();
    let error = root
        .builder()
        .ro_bind("/opt/oanix-no-such-tool")
        .build()
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "system path /opt/oanix-no-such-tool does not exist on the host"
    );
    // The same path asked for only if it exists is skipped.
    let sandbox = root
        .builder()
        .ro_bind_if_exists("/opt/oanix-no-such-tool")
        .build()
        .unwrap();
    assert_eq!(
        run(&sandbox, &["true"]).unwrap().outcome.exit,
        Exit::Code(0)
    );
}

#[test]
fn a_missing_working_directory_is_named() {
    let root = Root::new();
    let sandbox = root.builder().cwd("/nowhere").build().unwrap();
    let error = run(&sandbox, &["true"]).err().unwrap();
    assert_eq!(
        error.to_string(),
        "working directory /nowhere in the sandbox: no such file or directory"
    );
}

#[test]
fn a_root_the_sandbox_user_may_not_enter_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let sandbox = Sandbox::builder()
        .root(dir.path())
        .tool_paths()
        .identity(Identity::host(Identity::NOBODY, Identity::NOBODY))
        .build()
        .unwrap();
    let error = run(&sandbox, &["true"]).err().unwrap();
    let text = error.to_string();
    assert!(matches!(error, SandboxError::Setup { .. }), "{text}");
    assert!(text.contains("permission denied"), "{text}");
    assert!(text.contains("host uid 65534"), "{text}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Set in the environment of the test binary when it runs inside a sandbox.
const NESTED: &str = "OANIX_SANDBOX_NESTED";

#[test]
fn a_sandbox_inside_a_sandbox_is_refused_user_namespaces() {
    let root = Root::new();
    // The test binary itself, copied where the sandbox's user may run it.
    let exe = std::env::current_exe().unwrap();
    std::fs::copy(&exe, root.path().join("workspace/it")).unwrap();
    let sandbox = root.builder().env(NESTED, "1").build().unwrap();
    let ran = run(
        &sandbox,
        &[
            "/workspace/it",
            "--exact",
            "errors::nested_run_reports_missing_user_namespaces",
            "--nocapture",
            "--test-threads=1",
        ],
    )
    .unwrap();
    assert_eq!(
        ran.outcome.exit,
        Exit::Code(0),
        "{}\n{}",
        ran.stdout,
        ran.stderr
    );
    assert!(
        ran.stdout
            .contains("nested: user namespaces are not available: clone with new user"),
        "{}",
        ran.stdout
    );
}

/// Run inside a sandbox by the test above: the filter refuses new user namespaces, so the
/// sandbox reports them unavailable. Outside a sandbox it has nothing to check.
#[test]
fn nested_run_reports_missing_user_namespaces() {
    if std::env::var_os(NESTED).is_none() {
        return;
    }
    let sandbox = Sandbox::builder()
        .root("/tmp")
        .tool_paths()
        .build()
        .unwrap();
    let error = run(&sandbox, &["true"]).err().unwrap();
    assert!(
        matches!(error, SandboxError::UserNamespaces { .. }),
        "{error}"
    );
    println!("nested: {error}");
}
