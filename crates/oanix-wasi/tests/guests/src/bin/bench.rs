//! The benchmark guest.
//!
//! - `bench small`: reads `/data/input` (1 KiB), prints its length, writes
//!   `/tmp/out`: the typical short run of an agent's tool.
//! - `bench big`: reads `/data/big` through a 1 MiB buffer and prints how
//!   many bytes it read: file-read throughput.

use std::fs;
use std::io::Read;

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("small") => {
            let data = fs::read("/data/input").unwrap();
            println!("{}", data.len());
            fs::write("/tmp/out", &data[..16]).unwrap();
        }
        Some("big") => {
            let mut f = fs::File::open("/data/big").unwrap();
            let mut buf = vec![0u8; 1 << 20];
            let mut total = 0usize;
            loop {
                let n = f.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                total += n;
            }
            println!("{total}");
        }
        other => panic!("unknown mode {other:?}"),
    }
}
