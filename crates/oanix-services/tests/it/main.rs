//! Integration tests of oanix-services.

mod logs;
mod overlay;
mod task;
mod workspace;
