//! Capability benchmarks (being written).
fn main() {}
