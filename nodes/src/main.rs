//! The `practice` binary.
fn main() {}
