//! Integration tests of the facade.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "the README examples print and unwrap; a failed setup step should fail the test"
)]

mod readme;
// The seed README's examples stay exactly as written, layout and comments included.
#[cfg(feature = "full")]
#[rustfmt::skip]
mod seed;
