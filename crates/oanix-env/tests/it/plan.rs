//! Plans: the one assembly behind manifests and the `oanix` command —
//! defaults that deny (copy-on-write workspaces, capabilities that allow
//! only what is named) and errors named where the item was written.

use std::path::Path;

use oanix_env::{EnvError, EnvPlan, MountPlan, Origin, PolicyPlan, WorkspaceMode};
use oanix_vfs::{FileService, read_to_string, write_file};

fn project() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("README"), "readme").unwrap();
    d
}

fn manifest_plan(text: &str, base: &Path) -> Result<EnvPlan, EnvError> {
    EnvPlan::from_manifest_with_env(text, "plan.toml", base, &|_| None)
}

#[test]
fn a_workspace_is_copy_on_write_unless_read_write_is_asked_for() {
    let d = project();
    let text = "[[mount]]\npath = \"/workspace\"\nkind = \"workspace\"\nhost = \".\"\n";
    let plan = manifest_plan(text, d.path()).unwrap();
    let env = plan.builder().unwrap().build().unwrap();
    assert_eq!(
        env.mount_table().lines().last(),
        Some("mount /workspace overlay")
    );
    write_file(env.namespace(), "/workspace/README", "changed").unwrap();
    assert_eq!(
        std::fs::read_to_string(d.path().join("README")).unwrap(),
        "readme"
    );
    assert_eq!(env.workspace().unwrap().changes().unwrap().len(), 1);

    let rw = format!("{text}mode = \"rw\"\n");
    let env = manifest_plan(&rw, d.path())
        .unwrap()
        .builder()
        .unwrap()
        .build()
        .unwrap();
    assert!(env.workspace().is_none());
    write_file(env.namespace(), "/workspace/README", "written").unwrap();
    assert_eq!(
        std::fs::read_to_string(d.path().join("README")).unwrap(),
        "written"
    );

    // The same from code, as the `oanix` command makes it.
    let mut plan = EnvPlan::new();
    plan.replace_mount(
        MountPlan::workspace("/workspace", d.path(), WorkspaceMode::default()),
        Origin::given("--workspace DIR"),
    );
    let env = plan.builder().unwrap().build().unwrap();
    write_file(env.namespace(), "/workspace/README", "again").unwrap();
    assert_eq!(
        std::fs::read_to_string(d.path().join("README")).unwrap(),
        "written"
    );
    assert_eq!(
        read_to_string(env.namespace(), "/workspace/README").unwrap(),
        "again"
    );
}

#[test]
fn a_flag_replaces_the_manifests_mount_and_errors_name_the_flag() {
    let d = project();
    let text = "[[mount]]\npath = \"/data\"\nkind = \"memfs\"\n\n\
                [[mount]]\npath = \"/workspace\"\nkind = \"workspace\"\nhost = \".\"\nmode = \"rw\"\n\n\
                [[mount]]\npath = \"/more\"\nkind = \"workspace\"\nhost = \"missing\"\n";
    let mut plan = manifest_plan(text, d.path()).unwrap();
    let e = plan.builder().unwrap_err().to_string();
    assert!(
        e.contains("plan.toml") && e.contains("`mount[2].host` (line 14)"),
        "{e}"
    );

    plan.replace_mount(
        MountPlan::workspace("/workspace/", d.path().join("absent"), WorkspaceMode::Ro),
        Origin::given("--workspace absent"),
    );
    assert_eq!(plan.mounts.len(), 3);
    let e = plan.builder().unwrap_err();
    match &e {
        EnvError::Plan { item, message } => {
            assert_eq!(item, "--workspace absent");
            assert!(message.contains("not a directory"), "{message}");
        }
        other => panic!("expected the flag's error, got {other}"),
    }
    // The manifest's items keep their lines.
    plan.replace_mount(
        MountPlan::workspace("/workspace", d.path(), WorkspaceMode::Ro),
        Origin::given("--workspace ."),
    );
    let e = plan.builder().unwrap_err().to_string();
    assert!(e.contains("`mount[2].host` (line 14)"), "{e}");
}

#[test]
fn an_invalid_host_pattern_is_an_error_with_its_line() {
    let d = project();
    let text =
        "[capabilities.http]\nallow_hosts = [\n  \"api.example.com\",\n  \"api.*.com\",\n]\n";
    let e = manifest_plan(text, d.path())
        .unwrap()
        .builder()
        .unwrap_err();
    assert!(matches!(e, EnvError::Manifest { .. }), "{e}");
    let e = e.to_string();
    assert!(
        e.contains("`capabilities.http.allow_hosts[1]` (line 4)"),
        "{e}"
    );
    assert!(e.contains("api.*.com"), "{e}");

    let text = "[capabilities.ws]\nallow_hosts = [\"ok.example\"]\ndeny_hosts = [\"\"]\n";
    let e = manifest_plan(text, d.path())
        .unwrap()
        .builder()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("`capabilities.ws.deny_hosts[0]` (line 3)"),
        "{e}"
    );

    let text = "[capabilities.http]\nallow_hosts = [\"a.example\"]\nschemes = [\"ftp\"]\n";
    let e = manifest_plan(text, d.path())
        .unwrap()
        .builder()
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("capabilities.http.schemes") && e.contains("ftp"),
        "{e}"
    );

    // From a flag, the flag is named.
    let mut plan = EnvPlan::new();
    plan.http = Some(PolicyPlan::allow_hosts(["bad host"]));
    plan.set_origin("capabilities.http", Origin::given("--cap http=bad host"));
    match plan.builder().unwrap_err() {
        EnvError::Plan { item, .. } => assert_eq!(item, "--cap http=bad host"),
        other => panic!("expected the flag's error, got {other}"),
    }
}

#[test]
fn a_capability_allows_only_what_it_names() {
    let d = project();
    let text = "[capabilities.http]\nallow_hosts = [\"api.example.com\"]\n";
    let env = manifest_plan(text, d.path())
        .unwrap()
        .builder()
        .unwrap()
        .build()
        .unwrap();
    let policy = env.http().unwrap().policy();
    assert!(policy.check_url("https://api.example.com/x").is_ok());
    assert!(policy.check_url("https://other.example.com/x").is_err());
    assert!(policy.check_url("http://api.example.com/x").is_err());
    assert!(policy.check_url("https://api.example.com:8443/x").is_err());
}

#[test]
fn limits_are_checked_wherever_they_come_from() {
    let mut plan = EnvPlan::new();
    plan.limits.timeout_secs = Some(-1.0);
    plan.set_origin("limits.timeout_secs", Origin::given("--timeout -1"));
    let e = plan.builder().unwrap_err().to_string();
    assert_eq!(e, "--timeout -1: expected a positive number of seconds");
    plan.limits.timeout_secs = Some(1.5);
    let env = plan.builder().unwrap().build().unwrap();
    assert_eq!(
        env.limits().timeout,
        Some(std::time::Duration::from_millis(1500))
    );
    // One plan builds many environments, each with services of its own.
    let other = plan.builder().unwrap().build().unwrap();
    write_file(env.namespace(), "/tmp/x", "1").unwrap();
    assert!(other.namespace().stat("/tmp/x").is_err());
}

#[cfg(feature = "nostr")]
#[test]
fn the_nostr_relays_of_a_manifest_are_the_only_ones_allowed() {
    let d = project();
    let text =
        "[capabilities.nostr]\nrelays = [\"wss://relay.example.com\", \"wss://127.0.0.1:7777\"]\n";
    let env = manifest_plan(text, d.path())
        .unwrap()
        .builder()
        .unwrap()
        .build()
        .unwrap();
    let nostr = env.nostr().unwrap();
    assert_eq!(nostr.relays().len(), 2);
    let policy = nostr.policy();
    assert!(policy.check_ws("wss://relay.example.com").is_ok());
    assert!(policy.check_ws("wss://127.0.0.1:7777").is_ok());
    assert!(policy.check_ws("wss://evil.example.com").is_err());
    assert!(policy.check_ws("ws://relay.example.com").is_err());
    assert!(policy.check_ip("127.0.0.1".parse().unwrap()).is_ok());
    assert!(policy.check_ip("127.0.0.2".parse().unwrap()).is_err());
    assert!(nostr.add_relay("wss://evil.example.com").is_err());
    assert_eq!(nostr.relays().len(), 2);

    // No relays: nothing is allowed.
    let env = manifest_plan("[capabilities.nostr]\n", d.path())
        .unwrap()
        .builder()
        .unwrap()
        .build()
        .unwrap();
    assert!(
        env.nostr()
            .unwrap()
            .add_relay("wss://relay.example.com")
            .is_err()
    );

    let e = manifest_plan(
        "[capabilities.nostr]\nrelays = [\n  \"https://x.example\",\n]\n",
        d.path(),
    )
    .unwrap()
    .builder()
    .unwrap_err()
    .to_string();
    assert!(e.contains("`capabilities.nostr.relays[0]` (line 3)"), "{e}");
}
