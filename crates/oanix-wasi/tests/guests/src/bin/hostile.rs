//! A hostile guest: `hostile spin|membomb|recurse|sleep` misbehaves in the
//! way it is told, so that the host's limits can be checked.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

static DEPTH: AtomicU64 = AtomicU64::new(0);

/// Recursion that keeps everything in wasm locals: it exhausts the wasm
/// stack, not the program's stack in linear memory.
fn recurse(n: u64) -> u64 {
    DEPTH.store(n, Ordering::Relaxed);
    if DEPTH.load(Ordering::Relaxed) == u64::MAX {
        return 0;
    }
    recurse(n + 1).wrapping_mul(3) ^ n
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("spin") => loop {
            black_box(());
        },
        Some("membomb") => {
            let mut hoard = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                black_box(&hoard);
            }
        }
        Some("recurse") => {
            println!("{}", recurse(0));
        }
        Some("sleep") => std::thread::sleep(std::time::Duration::from_secs(3600)),
        other => panic!("unknown mode {other:?}"),
    }
}
