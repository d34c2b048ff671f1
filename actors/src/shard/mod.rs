//! The shard supervisor: one per owned shard. It spawns entity actors on their first message,
//! restarts failed ones within a bounded intensity, passivates idle ones, and refuses
//! everything once the shard is fenced (a newer owner took it).
//!
//! ractor supervisors stop by default when a child dies; this one overrides
//! `handle_supervisor_evt` so a child's death is an event it handles, never its own end.

mod supervisor;

pub use supervisor::{ShardArguments, ShardMessage, ShardStats, ShardSupervisor};

use practice_protocol::shard::ShardId;
use std::time::Duration;

/// Shard k of n's share of `period`, k/n of it: where a per-shard periodic task starts, so
/// the tasks of shards a node took together (at start, on one lease round) do not all run in
/// the same instant.
pub(crate) fn phase(shard: ShardId, shard_count: u16, period: Duration) -> Duration {
    let count = u32::from(shard_count.max(1));
    period * (u32::from(shard.0) % count) / count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_spread_shards_evenly_over_the_period() {
        let period = Duration::from_secs(10);
        let phases: Vec<Duration> = (0..64u16).map(|shard| phase(ShardId(shard), 64, period)).collect();
        assert_eq!(phases[0], Duration::ZERO);
        assert!(phases.windows(2).all(|pair| pair[1] - pair[0] == Duration::from_micros(156_250)));
        assert!(phases.iter().all(|phase| *phase < period));
        // A lone shard, and a shard count of zero, have no offset.
        assert_eq!(phase(ShardId(0), 1, period), Duration::ZERO);
        assert_eq!(phase(ShardId(3), 0, period), Duration::ZERO);
    }
}
