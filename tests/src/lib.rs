//! Support code for the cross-crate integration tests: locating the `practice` binary and the shared corpus.

pub mod nats;
