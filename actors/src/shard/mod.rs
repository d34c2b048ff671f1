//! The shard supervisor: one per owned shard. It spawns entity actors on their first message,
//! restarts failed ones within a bounded intensity, passivates idle ones, and refuses
//! everything once the shard is fenced (a newer owner took it).
//!
//! ractor supervisors stop by default when a child dies; this one overrides
//! `handle_supervisor_evt` so a child's death is an event it handles, never its own end.

mod supervisor;

pub use supervisor::{ShardArguments, ShardMessage, ShardStats, ShardSupervisor};
