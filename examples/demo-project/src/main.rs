//! The demo project's program.

fn main() {
    println!("hello from the demo project");
}
