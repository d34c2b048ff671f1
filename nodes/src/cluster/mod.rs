//! The cluster: nodes share the shards through leases in JetStream KV and route every
//! command to its shard's owner over NATS request/reply.
//!
//! `assign` (pure) says who should own what; `leases` keeps membership and leases; `node`
//! runs the lease rounds; `shard` is the per-shard writer; `wire` is the command protocol;
//! `sample` and `load` drive synthetic claims; `verify` checks the journal's guarantees.

pub mod assign;
pub mod leases;
pub mod load;
pub mod node;
pub mod sample;
pub mod shard;
pub mod verify;
pub mod wire;
