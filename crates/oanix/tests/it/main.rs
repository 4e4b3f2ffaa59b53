//! Integration tests of the facade.

#![allow(clippy::print_stdout, reason = "the README example prints")]

mod readme;
#[cfg(feature = "full")]
mod seed;
