//! Integration tests of oanix-vfs.
