//! The node side of Practice OS as a library, so integration tests, benchmarks and the demo
//! reach it: the JetStream journal, the cluster runtime (leases, shard ownership, command
//! routing) and the payer/clearinghouse simulator. The CLI itself lives in `main.rs`.
//!
//! Architecture invariant: only this crate speaks NATS; `anyhow` stays in the CLI.

pub mod background;
pub mod cluster;
pub mod connector;
pub mod jetstream;
pub mod outbound;
pub mod sim;
