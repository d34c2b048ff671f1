//! The node side of Practice OS as a library, so integration tests and benchmarks reach it:
//! the JetStream journal and the cluster runtime (leases, shard ownership, command routing).
//!
//! Architecture invariant: only this crate speaks NATS; `anyhow` stays in the CLI.

pub mod cluster;
pub mod jetstream;
