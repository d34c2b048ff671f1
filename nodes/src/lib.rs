//! The library half of the `practice` binary: the parts that other binaries' tests and the
//! demo share. The CLI itself lives in `main.rs`.

pub mod sim;
