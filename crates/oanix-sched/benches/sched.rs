//! Scheduler benchmarks (written below).
fn main() {}
