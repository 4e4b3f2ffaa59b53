//! Saves killed with SIGKILL at arbitrary points leave every earlier
//! snapshot readable and whole.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oanix_prims::MemFs;
use oanix_store::{MountState, SnapshotContent, Store, StoredMount};
use oanix_vfs::MountFlags;

use crate::{put, sample};

const CHILD_DIR: &str = "OANIX_STORE_CRASH_DIR";
const KILLS: usize = 100;

/// Several MiB of bytes unique to `seed`, in 40 files.
fn heavy(seed: u64) -> SnapshotContent {
    let mem = MemFs::new();
    for i in 0..40u64 {
        let mut data = vec![0u8; 16 * 1024];
        let mut x = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(i);
        for b in &mut data {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        put(&mem, &format!("/dir{}/f{i}.bin", i % 4), &data);
    }
    SnapshotContent::new(
        format!("child-{seed}"),
        vec![StoredMount::new(
            "/m",
            MountFlags::replace(),
            MountState::Memory {
                tree: mem.freeze(),
                capacity: 64 << 20,
            },
        )],
    )
}

/// The child's part: saves new snapshots (and replaces `latest`) until
/// it is killed.
fn save_until_killed(dir: &str) -> ! {
    let store = Store::open(dir).expect("store");
    let pid = u64::from(std::process::id());
    for round in 0u64.. {
        let seed = pid * 1_000_000 + round;
        store.save(&format!("c{seed}"), &heavy(seed)).expect("save");
        store
            .save("latest", &heavy(seed + 500_000))
            .expect("save latest");
        if round % 5 == 4 {
            store.prune(6).expect("prune");
        }
    }
    unreachable!("the loop ends only when the process is killed")
}

/// The test runs twice: as the parent, and (started by the parent with
/// the store's directory in its environment) as the child it kills.
#[test]
fn saves_killed_at_random_points_lose_nothing_saved_before() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        save_until_killed(&dir);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let host = tempfile::tempdir().expect("host");
    let store = Store::open(dir.path()).expect("store");
    let base = sample(host.path(), "base");
    store.save("base", &base).expect("base");
    let exe = std::env::current_exe().expect("test binary");
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut seen_latest = 0;
    let started = Instant::now();
    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "crash::saves_killed_at_random_points_lose_nothing_saved_before",
                "--exact",
                "--test-threads=1",
            ])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the child");
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        // Long enough for the child to start and be anywhere in a save.
        std::thread::sleep(Duration::from_micros(2_000 + rng % 200_000));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        // Every snapshot named in the store is whole; the first one equal.
        assert_eq!(
            store.load("base").expect("base loads"),
            base,
            "after kill {kill}"
        );
        for info in store.list().expect("every manifest reads") {
            store
                .open_snapshot(&info.name)
                .and_then(|s| s.verify())
                .unwrap_or_else(|e| panic!("after kill {kill}: {}: {e}", info.name));
            if info.name == "latest" {
                seen_latest += 1;
            }
        }
    }
    assert!(
        seen_latest > 0,
        "no child got as far as a save: the test proved nothing"
    );
    let gc = store.gc().expect("gc");
    assert!(gc.unreadable.is_empty());
    store.load("base").expect("base loads after the collection");
    eprintln!(
        "{KILLS} kills in {:?}, {} temporaries collected",
        started.elapsed(),
        gc.temporaries_removed
    );
}
