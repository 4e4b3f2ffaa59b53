//! (live tests below)
