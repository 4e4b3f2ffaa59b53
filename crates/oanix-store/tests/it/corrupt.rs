//! Damaged stores: every flipped byte, every cut and every swapped pack
//! gives a clear error, never a panic or part of a snapshot.

use std::path::Path;

use oanix_store::{Store, StoreError};
use sha2::{Digest, Sha256};

use crate::sample;

fn saved(salt: &str) -> (tempfile::TempDir, tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = tempfile::tempdir().expect("host");
    let store = Store::open(dir.path()).expect("store");
    store.save("s", &sample(host.path(), salt)).expect("save");
    (dir, host, store)
}

fn packs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir.join("packs"))
        .expect("packs")
        .map(|e| e.expect("entry").path())
        .collect();
    v.sort();
    v
}

#[test]
fn every_flipped_byte_of_a_manifest_is_found() {
    let (_dir, _host, store) = saved("m");
    let path = store.path_of("s");
    let good = std::fs::read(&path).expect("read");
    let step = (good.len() / 400).max(1);
    let mut tried = 0;
    for at in (0..good.len()).step_by(step).chain([good.len() - 1]) {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        std::fs::write(&path, &bad).expect("write");
        let err = store.load("s").expect_err("a flipped byte loads");
        assert!(
            matches!(
                err,
                StoreError::NotManifest { .. }
                    | StoreError::Version { .. }
                    | StoreError::ManifestChecksum { .. }
            ),
            "byte {at}: {err}"
        );
        assert!(err.to_string().contains("s.snap"), "{err}");
        tried += 1;
    }
    assert!(tried >= 100);
    std::fs::write(&path, &good).expect("restore");
    store.load("s").expect("the original loads");
}

#[test]
fn every_cut_of_a_manifest_is_found() {
    let (_dir, _host, store) = saved("t");
    let path = store.path_of("s");
    let good = std::fs::read(&path).expect("read");
    for len in (0..good.len()).step_by((good.len() / 200).max(1)) {
        std::fs::write(&path, &good[..len]).expect("write");
        let err = store.load("s").expect_err("a cut manifest loads");
        assert!(
            matches!(
                err,
                StoreError::NotManifest { .. } | StoreError::ManifestChecksum { .. }
            ),
            "length {len}: {err}"
        );
    }
}

#[test]
fn another_version_is_named() {
    let (_dir, _host, store) = saved("v");
    let path = store.path_of("s");
    let good = std::fs::read_to_string(&path).expect("read");
    std::fs::write(
        &path,
        good.replacen("OANIX-SNAPSHOT 1", "OANIX-SNAPSHOT 7", 1),
    )
    .expect("write");
    let err = store.load("s").expect_err("version 7");
    assert!(matches!(err, StoreError::Version { found: 7, .. }), "{err}");
    assert!(err.to_string().contains("version 7"), "{err}");
}

#[test]
fn a_consistent_checksum_over_inconsistent_json_is_malformed() {
    let (_dir, _host, store) = saved("j");
    let path = store.path_of("s");
    let text = std::fs::read_to_string(&path).expect("read");
    let lines: Vec<&str> = text.lines().collect();
    let mut json: serde_json::Value = serde_json::from_str(lines[1]).expect("json");
    json["blobs"][0]["pack"] = serde_json::json!(9);
    let body = serde_json::to_string(&json).expect("to json");
    let sum: String = Sha256::digest(body.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(&path, format!("{}\n{body}\nsha256:{sum}\n", lines[0])).expect("write");
    let err = store.load("s").expect_err("pack 9");
    assert!(matches!(err, StoreError::Malformed { .. }), "{err}");
    assert!(err.to_string().contains("names pack 9"), "{err}");
}

#[test]
fn flipped_bytes_of_a_pack_name_the_file() {
    let (dir, _host, store) = saved("p");
    let pack = packs(dir.path()).remove(0);
    let good = std::fs::read(&pack).expect("read");
    let step = (good.len() / 150).max(1);
    for at in (0..good.len()).step_by(step) {
        let mut bad = good.clone();
        bad[at] ^= 1;
        std::fs::write(&pack, &bad).expect("write");
        // Opening reads no pack: it still succeeds.
        let snap = store.open_snapshot("s").expect("open");
        let err = snap.materialize().expect_err("a flipped pack byte loads");
        let StoreError::Blob { what, problem, .. } = &err else {
            panic!("byte {at}: {err}");
        };
        assert!(what.starts_with("mount /"), "{what}");
        assert!(
            problem.contains("checksum mismatch") || problem.contains("is not a pack"),
            "{problem}"
        );
    }
    std::fs::write(&pack, &good).expect("restore");
    store.load("s").expect("the original loads");
}

#[test]
fn a_cut_pack_is_named_as_cut() {
    let (dir, _host, store) = saved("c");
    let pack = packs(dir.path()).remove(0);
    let good = std::fs::read(&pack).expect("read");
    std::fs::write(&pack, &good[..good.len() - 10]).expect("cut");
    let err = store.load("s").expect_err("a cut pack loads");
    assert!(err.to_string().contains("cut short"), "{err}");
    let err = store
        .open_snapshot("s")
        .expect("open")
        .read_file("/tmp", "/big.bin")
        .expect_err("a cut pack reads");
    assert!(err.to_string().contains("/big.bin"), "{err}");
}

#[test]
fn swapped_and_missing_packs_are_found() {
    let dir = tempfile::tempdir().expect("tempdir");
    let host = tempfile::tempdir().expect("host");
    let store = Store::open(dir.path()).expect("store");
    store.save("a", &sample(host.path(), "first")).expect("a");
    store.save("b", &sample(host.path(), "second")).expect("b");
    let p = packs(dir.path());
    assert_eq!(p.len(), 2);
    let (x, y) = (
        std::fs::read(&p[0]).expect("x"),
        std::fs::read(&p[1]).expect("y"),
    );
    std::fs::write(&p[0], &y).expect("swap");
    std::fs::write(&p[1], &x).expect("swap");
    for name in ["a", "b"] {
        let err = store.load(name).expect_err("swapped packs load");
        assert!(matches!(err, StoreError::Blob { .. }), "{err}");
    }
    std::fs::remove_file(&p[0]).expect("remove");
    let errors: Vec<String> = ["a", "b"]
        .iter()
        .map(|n| store.load(n).expect_err("still broken").to_string())
        .collect();
    assert!(
        errors.iter().any(|e| e.contains("No such file")),
        "{errors:?}"
    );
}
