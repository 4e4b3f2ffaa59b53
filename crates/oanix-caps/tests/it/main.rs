//! Integration tests of oanix-caps: every service through the `FileService`
//! interface as an agent uses it, and through its programmatic API.

mod http;
mod support;
mod ws;
