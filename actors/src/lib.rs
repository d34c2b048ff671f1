//! The Practice OS actor system: claim, payer and practice actors, the shard and module
//! supervisors, and the journal with its embedded (sled) backend.
//!
//! Architecture invariant: actors are thin. They receive a message, call a pure function of
//! `practice-protocol`, append the resulting events to the journal, and only then reply.

pub mod billing;
pub mod ingest;
pub mod journal;

pub mod claim;
pub mod entity;
pub mod metrics;
pub mod module;
pub mod node;
pub mod payer;
pub mod practice;
pub mod runtime;
pub mod shard;
pub mod synthetic;
pub mod verify;

pub use entity::{EntityCommand, Outcome, SendError};
pub use node::{ClaimHandle, Forward, Node, NodeError, NodeStats};
pub use runtime::NodeConfig;
pub mod sentry;

#[cfg(test)]
mod fixture;
