//! Manifests: a valid one builds the environment it describes; each kind of
//! invalid one is refused with the key and the line.

use std::path::Path;

use oanix_env::{EnvBuilder, EnvError};
use oanix_vfs::{FileService, read_to_string, write_file};

const FULL: &str = r#"
[task]
id = "fix-1"
type = "bugfix"
description = "make the tests pass"
input = { file = "src/lib.rs", attempts = 3 }
timeout_secs = 60
tags = ["demo"]

[agent]
module = "agent.wasm"
args = ["--verbose"]
env = { LANG = "C" }

[[mount]]
path = "/workspace"
kind = "workspace"
host = "project"
mode = "cow"

[[mount]]
path = "/data"
kind = "memfs"

[capabilities.http]
allow_hosts = ["api.example.com", "*.github.com"]
schemes = ["https"]
methods = ["GET", "POST"]
inject = [{ host = "api.example.com", header = "authorization", value_env = "API_TOKEN" }]

[capabilities.ws]
allow_hosts = ["relay.example.com"]

[limits]
timeout_secs = 30
memory_mb = 128
fuel = 5_000_000_000
"#;

fn dir() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("project")).unwrap();
    std::fs::write(d.path().join("project/README"), "readme").unwrap();
    std::fs::write(d.path().join("agent.wasm"), b"\0asm\x01\0\0\0").unwrap();
    d
}

fn env_vars(k: &str) -> Option<String> {
    (k == "API_TOKEN").then(|| "Bearer secret-token".to_owned())
}

fn build(text: &str, base: &Path) -> Result<oanix_env::OanixEnv, EnvError> {
    EnvBuilder::from_manifest_with_env(text, "test.toml", base, &env_vars)?.build()
}

fn manifest_error(text: &str) -> String {
    let d = dir();
    match build(text, d.path()) {
        Err(e @ EnvError::Manifest { .. }) => e.to_string(),
        Err(other) => panic!("expected a manifest error, got {other}"),
        Ok(_) => panic!("the manifest was accepted:\n{text}"),
    }
}

#[test]
fn a_full_manifest_builds_what_it_describes() {
    let d = dir();
    let env = build(FULL, d.path()).unwrap();
    assert_eq!(
        env.mount_table(),
        "mount /task taskfs\nmount /logs logsfs\nmount /tmp memfs\nmount /workspace overlay\n\
         mount /data memfs\nmount /cap/http httpfs\nmount /cap/ws wsfs\n"
    );
    let ns = env.namespace();
    let spec: serde_json::Value =
        serde_json::from_str(&read_to_string(ns, "/task/spec.json").unwrap()).unwrap();
    assert_eq!(spec["id"], "fix-1");
    assert_eq!(spec["input"]["attempts"], 3);
    assert_eq!(read_to_string(ns, "/workspace/README").unwrap(), "readme");
    // The agent's workspace is exactly the project: review data is the host's.
    let listed: Vec<String> = ns
        .readdir("/workspace")
        .unwrap()
        .into_iter()
        .map(|e| e.name)
        .collect();
    assert_eq!(listed, ["README"]);
    // Copy-on-write: the agent's write stays out of the real directory.
    write_file(ns, "/workspace/README", "changed").unwrap();
    assert_eq!(
        std::fs::read_to_string(d.path().join("project/README")).unwrap(),
        "readme"
    );
    let review = env.workspace().unwrap();
    assert_eq!(review.changes().unwrap().len(), 1);
    assert!(review.diff().unwrap().contains("+changed"));
    for hidden in ["/workspace/.changes", "/workspace/.diff"] {
        assert!(ns.stat(hidden).is_err(), "{hidden}");
    }
    // Limits and the agent.
    let limits = env.limits();
    assert_eq!(limits.timeout, Some(std::time::Duration::from_secs(30)));
    assert_eq!(limits.memory_bytes, Some(128 << 20));
    assert_eq!(limits.fuel, Some(5_000_000_000));
    assert_eq!(env.agent().args, ["--verbose"]);
    assert_eq!(
        env.agent().module.as_deref(),
        Some(d.path().join("agent.wasm").as_path())
    );
    // The policy took the injected header from the environment variable,
    // and it never shows in a file.
    let policy = env.http().unwrap().policy();
    assert_eq!(
        policy.injected_headers("api.example.com"),
        [("authorization".to_owned(), "Bearer secret-token".to_owned())]
    );
    for entry in oanix_vfs::walk(ns, "/cap") {
        let entry = entry.unwrap();
        if entry.kind.is_file()
            && let Ok(text) = read_to_string(ns, &entry.path)
        {
            assert!(
                !text.contains("secret-token"),
                "{} shows the secret",
                entry.path
            );
        }
    }
    assert!(ns.stat("/cap/ws/control").is_ok());
}

#[test]
fn a_minimal_manifest_has_the_standard_mounts() {
    let d = dir();
    let env = build("", d.path()).unwrap();
    assert_eq!(env.mount_table(), "mount /logs logsfs\nmount /tmp memfs\n");
}

#[test]
fn unknown_keys_are_refused_with_their_line() {
    let e = manifest_error("[task]\nid = \"x\"\ncolour = \"blue\"\n");
    assert!(e.contains("line 3") && e.contains("colour"), "{e}");
    let e = manifest_error("[limits]\ntimeout_secs = 1\n\n[surprise]\n");
    assert!(e.contains("line 4") && e.contains("surprise"), "{e}");
}

#[test]
fn values_of_the_wrong_kind_are_refused_with_their_line() {
    let e = manifest_error("[limits]\nfuel = \"lots\"\n");
    assert!(e.contains("line 2"), "{e}");
    let e = manifest_error("[[mount]]\npath = \"/w\"\nkind = \"tarball\"\n");
    assert!(e.contains("line 3") && e.contains("tarball"), "{e}");
    let e = manifest_error(
        "[[mount]]\npath = \"/w\"\nkind = \"workspace\"\nhost = \"project\"\nmode = \"sometimes\"\n",
    );
    assert!(e.contains("line 5") && e.contains("sometimes"), "{e}");
    let e = manifest_error("[limits]\ntimeout_secs = -1\n");
    assert!(e.contains("limits.timeout_secs"), "{e}");
    let e = manifest_error("[task]\nid = 7\n");
    assert!(e.contains("line 2"), "{e}");
    let e = manifest_error("not toml at all = = =");
    assert!(e.contains("line 1"), "{e}");
}

#[test]
fn bad_values_name_the_key_and_the_line() {
    let e =
        manifest_error("[[mount]]\npath = \"/w\"\nkind = \"workspace\"\nhost = \"missing-dir\"\n");
    assert!(
        e.contains("`mount[0].host` (line 4)") && e.contains("not a directory"),
        "{e}"
    );
    let e = manifest_error("[[mount]]\npath = \"/w\"\nkind = \"workspace\"\n");
    assert!(
        e.contains("mount[0].host") && e.contains("needs `host`"),
        "{e}"
    );
    let e = manifest_error("\n[[mount]]\npath = \"/a/../..\"\nkind = \"memfs\"\n");
    assert!(e.contains("`mount[0].path` (line 3)"), "{e}");
    let e = manifest_error(
        "[capabilities.http]\nallow_hosts = [\"a.example\"]\ninject = [{ host = \"a.example\", header = \"x-key\", value_env = \"NOT_SET\" }]\n",
    );
    assert!(e.contains("NOT_SET") && e.contains("line 3"), "{e}");
    let e = manifest_error("[agent]\nmodule = \"nope.wasm\"\n");
    assert!(
        e.contains("`agent.module` (line 2)") && e.contains("not a file"),
        "{e}"
    );
    let e = manifest_error("[[mount]]\npath = \"/m\"\nkind = \"memfs\"\nhost = \"project\"\n");
    assert!(e.contains("takes no host"), "{e}");
}

#[test]
fn a_manifest_file_resolves_paths_beside_it() {
    let d = dir();
    let file = d.path().join("env.toml");
    std::fs::write(
        &file,
        "[[mount]]\npath = \"/workspace\"\nkind = \"workspace\"\nhost = \"project\"\nmode = \"ro\"\n",
    )
    .unwrap();
    let env = EnvBuilder::from_manifest_file(&file)
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(
        read_to_string(env.namespace(), "/workspace/README").unwrap(),
        "readme"
    );
    assert!(write_file(env.namespace(), "/workspace/x", "y").is_err());
    let e = EnvBuilder::from_manifest_file(&d.path().join("absent.toml")).unwrap_err();
    assert!(matches!(e, EnvError::Io { .. }), "{e}");
}
