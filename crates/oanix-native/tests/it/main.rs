//! Native agents in the sandbox over the FUSE-mounted namespace: real
//! programs (`sh`, `git`, `python3`, `rg`), real kernel.

mod support;

mod abuse;
mod errors;
mod flow;
mod tools;
