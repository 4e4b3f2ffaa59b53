//! The live-namespace guest: `live watch|cap|cow` shows that file calls reach
//! the namespace as it is at that moment.
//!
//! - `watch`: reads `/data/value`, signals the host through `/ctl/signal`,
//!   waits on `/ctl/gate` (a read that blocks until the host opens it), and
//!   reads the value again; then writes `/data/out` and signals again.
//! - `cap`: sends an HTTP request through `/cap/http/request` and prints the
//!   response the host completes while the guest waits for it.
//! - `cow`: changes, deletes and creates files under `/workspace`.

use std::fs;
use std::io::{Read, Write};

fn signal(message: &str) {
    fs::write("/ctl/signal", message).unwrap();
    let mut gate = Vec::new();
    fs::File::open("/ctl/gate")
        .unwrap()
        .read_to_end(&mut gate)
        .unwrap();
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("watch") => {
            println!("before: {}", fs::read_to_string("/data/value").unwrap());
            signal("change it");
            println!("after: {}", fs::read_to_string("/data/value").unwrap());
            fs::write("/data/out", "written by the guest").unwrap();
            signal("look at /data/out");
        }
        Some("cap") => {
            let mut req = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open("/cap/http/request")
                .unwrap();
            req.write_all(br#"{"method":"GET","url":"https://api.example.com/ping"}"#)
                .unwrap();
            let mut id = String::new();
            req.read_to_string(&mut id).unwrap();
            let id = id.trim();
            println!("request {id}");
            let response = fs::read_to_string(format!("/cap/http/responses/{id}.json"));
            match response {
                Ok(r) => println!("response {r}"),
                Err(e) => println!("no response: {e}"),
            }
        }
        Some("cow") => {
            fs::write("/workspace/a.txt", "changed").unwrap();
            fs::remove_file("/workspace/b.txt").unwrap();
            fs::write("/workspace/c.txt", "new").unwrap();
            println!("{}", fs::read_to_string("/workspace/a.txt").unwrap());
        }
        other => panic!("unknown mode {other:?}"),
    }
}
