//! The journal as a cluster node sees it: the JetStream journal, plus a lease clock per
//! owned shard that must still run before an append is even tried.
//!
//! The clock is the node's own promise ("I stop writing before anyone else may start"); the
//! epoch fence in the journal is the guarantee that holds even when the promise is broken
//! (a paused process, a slow clock). Both are logged when they refuse, as `AppendRefused`
//! and `AppendFenced`.

use crate::jetstream::JetStreamJournal;
use practice_actors::journal::{AppendBatch, BoxFuture, Epoch, Journal, JournalError, Snapshot, StoredEvent};
use practice_protocol::envelope::EntityRef;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{shard_of, ShardId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Until when this node may write a shard: renewals push it forward; it only runs out.
pub struct LeaseClock {
    origin: Instant,
    valid_until_micros: AtomicU64,
}

impl LeaseClock {
    pub fn new(valid_until: Instant) -> Self {
        let clock = Self { origin: Instant::now(), valid_until_micros: AtomicU64::new(0) };
        clock.extend(valid_until);
        clock
    }

    pub fn extend(&self, valid_until: Instant) {
        let micros = valid_until.saturating_duration_since(self.origin).as_micros() as u64;
        self.valid_until_micros.fetch_max(micros, Ordering::SeqCst);
    }

    pub fn revoke(&self) {
        self.valid_until_micros.store(0, Ordering::SeqCst);
    }

    pub fn is_valid(&self) -> bool {
        let now = Instant::now().saturating_duration_since(self.origin).as_micros() as u64;
        now < self.valid_until_micros.load(Ordering::SeqCst)
    }
}

/// How long after a renewal was sent this node still trusts the lease: a fifth of the
/// timeout is left as margin for the server's expiry timer and clock rates.
pub fn trusted_for(lease_timeout: Duration) -> Duration {
    lease_timeout.saturating_sub(lease_timeout / 5)
}

pub struct LeasedJournal {
    inner: Arc<JetStreamJournal>,
    clocks: RwLock<HashMap<ShardId, Arc<LeaseClock>>>,
    /// Testing only: skip the clock so the epoch fence alone must refuse a stale owner.
    trust_fence_only: bool,
}

impl LeasedJournal {
    pub fn new(inner: Arc<JetStreamJournal>, trust_fence_only: bool) -> Self {
        Self { inner, clocks: RwLock::new(HashMap::new()), trust_fence_only }
    }

    pub fn inner(&self) -> &Arc<JetStreamJournal> {
        &self.inner
    }

    pub fn install(&self, shard: ShardId, clock: Arc<LeaseClock>) {
        if let Ok(mut clocks) = self.clocks.write() {
            clocks.insert(shard, clock);
        }
    }

    pub fn remove(&self, shard: ShardId) {
        if let Ok(mut clocks) = self.clocks.write() {
            if let Some(clock) = clocks.remove(&shard) {
                clock.revoke();
            }
        }
        self.inner.release(shard);
    }

    fn may_write(&self, shard: ShardId) -> bool {
        self.trust_fence_only
            || self
                .clocks
                .read()
                .ok()
                .and_then(|clocks| clocks.get(&shard).map(|clock| clock.is_valid()))
                .unwrap_or(false)
    }
}

impl Journal for LeasedJournal {
    fn shard_count(&self) -> u16 {
        self.inner.shard_count()
    }

    fn fence(&self, shard: ShardId) -> BoxFuture<'_, Result<Epoch, JournalError>> {
        self.inner.fence(shard)
    }

    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), JournalError>> {
        Box::pin(async move {
            let shard = batch.shard;
            if !self.may_write(shard) {
                tracing::warn!(%shard, epoch = batch.epoch.0, "AppendRefused: lease clock ran out");
                return Err(JournalError::Unavailable(format!("this node's lease on shard {shard} ran out")));
            }
            let result = self.inner.append(batch).await;
            if let Err(JournalError::Fenced { held, current, .. }) = &result {
                tracing::warn!(%shard, held = held.0, current = current.0, "AppendFenced: append fenced");
            }
            result
        })
    }

    fn read_entity(&self, entity: EntityRef, after: u64) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>> {
        self.inner.read_entity(entity, after)
    }

    fn read_shard(
        &self,
        shard: ShardId,
        after: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>> {
        self.inner.read_shard(shard, after, limit)
    }

    fn save_snapshot(
        &self,
        entity: EntityRef,
        sequence: u64,
        state: Vec<u8>,
    ) -> BoxFuture<'_, Result<(), JournalError>> {
        // Snapshots are only a shortcut, but a node that lost the shard has no business
        // writing them; refusing at once also keeps a lost shard's stop quick.
        let shard = shard_of(&entity, self.inner.shard_count());
        if !self.may_write(shard) {
            return Box::pin(async move {
                Err(JournalError::Unavailable(format!("this node's lease on shard {shard} ran out")))
            });
        }
        self.inner.save_snapshot(entity, sequence, state)
    }

    fn load_snapshot(&self, entity: EntityRef) -> BoxFuture<'_, Result<Option<Snapshot>, JournalError>> {
        self.inner.load_snapshot(entity)
    }

    fn load_position(&self, consumer: &str, shard: ShardId) -> BoxFuture<'_, Result<u64, JournalError>> {
        self.inner.load_position(consumer, shard)
    }

    fn store_position(&self, consumer: &str, shard: ShardId, position: u64) -> BoxFuture<'_, Result<(), JournalError>> {
        self.inner.store_position(consumer, shard, position)
    }

    fn shard_head(&self, shard: ShardId) -> BoxFuture<'_, Result<Option<u64>, JournalError>> {
        self.inner.shard_head(shard)
    }

    fn shard_lag(&self, shard: ShardId, after: u64) -> BoxFuture<'_, Result<Option<u64>, JournalError>> {
        self.inner.shard_lag(shard, after)
    }

    fn remember_inbound(&self, org: OrgId, message_id: &str) -> BoxFuture<'_, Result<bool, JournalError>> {
        self.inner.remember_inbound(org, message_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_runs_out_and_only_moves_forward() {
        let clock = LeaseClock::new(Instant::now() + Duration::from_secs(60));
        assert!(clock.is_valid());
        clock.extend(Instant::now());
        assert!(clock.is_valid(), "an earlier deadline never shortens the lease");
        clock.revoke();
        assert!(!clock.is_valid());
        assert!(!LeaseClock::new(Instant::now()).is_valid());
        assert_eq!(trusted_for(Duration::from_secs(5)), Duration::from_secs(4));
    }
}
