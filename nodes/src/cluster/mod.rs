//! The cluster: nodes share the shards through leases in JetStream KV and route every
//! command to its shard's owner over NATS request/reply.
//!
//! `assign` (pure) says who should own what; `leases` keeps membership and leases; `leased`
//! is the journal guarded by lease clocks; `node` runs the lease rounds and hands shards to
//! the actor system; `router` feeds a shard's commands to it; `wire` is the command protocol;
//! `load` drives synthetic claims through a cluster.

pub mod assign;
pub mod bench;
pub mod bench_floor;
pub mod bench_paced;
pub mod leased;
pub mod leases;
pub mod load;
pub mod node;
pub mod router;
pub mod wire;
