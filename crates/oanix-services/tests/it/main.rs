//! Integration tests of oanix-services.

mod overlay;
mod workspace;
