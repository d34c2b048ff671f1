//! The Practice OS actor system: claim, payer and practice actors, the shard and module
//! supervisors, and the journal with its embedded (sled) backend.
//!
//! Architecture invariant: actors are thin. They receive a message, call a pure function of
//! `practice-protocol`, append the resulting events to the journal, and only then reply.

pub mod billing;
pub mod ingest;
pub mod journal;
pub mod sentry;

#[cfg(test)]
mod fixture;
