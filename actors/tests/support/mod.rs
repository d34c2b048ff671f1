//! Shared helpers of the actor tests: a node over a temporary sled journal, RSS, and a
//! journal wrapper that fails on demand and counts claim reads.

#![allow(dead_code)]

use practice_actors::entity::EntityCommand;
use practice_actors::journal::{
    AppendBatch, BoxFuture, Epoch, Journal, JournalError, SledJournal, Snapshot, StoredEvent,
};
use practice_actors::metrics::BackboneMetrics;
use practice_actors::module::{EngineError, EventTally, ModuleEngine, ModuleEvent};
use practice_actors::{Node, NodeConfig};
use practice_protocol::envelope::{CommandEnvelope, EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::ShardId;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tempfile::TempDir;

pub struct TestNode {
    pub node: Node,
    pub journal: Arc<dyn Journal>,
    pub dir: TempDir,
}

pub async fn start(shards: u16, config: NodeConfig) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let journal: Arc<dyn Journal> = Arc::new(SledJournal::open(&dir.path().join("journal"), shards).unwrap());
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    let node = Node::start_embedded(journal.clone(), metrics, config).await.unwrap();
    TestNode { node, journal, dir }
}

/// Resident set size of this process in KiB, from /proc/self/status.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

/// Fails the next `failures` appends (and the next `position_failures` position loads)
/// with `Unavailable`, then behaves. Counts what an actor reads to rebuild an entity.
pub struct FlakyJournal {
    pub inner: SledJournal,
    pub failures: AtomicUsize,
    pub position_failures: AtomicUsize,
    pub read_failures: AtomicUsize,
    /// `read_entity` and `load_snapshot` calls for claims so far.
    pub claim_reads: AtomicUsize,
    /// `store_position` calls so far.
    pub position_stores: AtomicUsize,
}

impl FlakyJournal {
    pub fn over(inner: SledJournal) -> Self {
        Self {
            inner,
            failures: AtomicUsize::new(0),
            position_failures: AtomicUsize::new(0),
            read_failures: AtomicUsize::new(0),
            claim_reads: AtomicUsize::new(0),
            position_stores: AtomicUsize::new(0),
        }
    }

    pub fn claim_reads(&self) -> usize {
        self.claim_reads.load(Ordering::SeqCst)
    }

    fn count_read(&self, entity: &EntityRef) {
        if entity.kind == EntityKind::Claim {
            self.claim_reads.fetch_add(1, Ordering::SeqCst);
        }
    }

    pub fn fail_next(&self, count: usize) {
        self.failures.store(count, Ordering::SeqCst);
    }

    pub fn fail_entity_reads(&self, count: usize) {
        self.read_failures.store(count, Ordering::SeqCst);
    }

    pub fn fail_position_loads(&self, count: usize) {
        self.position_failures.store(count, Ordering::SeqCst);
    }
}

fn take_one(left: &AtomicUsize) -> bool {
    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)).is_ok()
}

/// A module engine that counts the events it is handed (and otherwise tallies them).
pub struct Counting(pub EventTally, pub Arc<AtomicUsize>);

impl ModuleEngine for Counting {
    fn name(&self) -> &str {
        self.0.name()
    }
    fn handle(&mut self, event: &ModuleEvent) -> Result<Vec<CommandEnvelope<EntityCommand>>, EngineError> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.handle(event)
    }
}

/// Poll `done` every 20 ms for up to 10 s; whether it came true.
pub async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..500 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    done()
}

impl Journal for FlakyJournal {
    fn shard_count(&self) -> u16 {
        self.inner.shard_count()
    }
    fn fence(&self, shard: ShardId) -> BoxFuture<'_, Result<Epoch, JournalError>> {
        self.inner.fence(shard)
    }
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), JournalError>> {
        if take_one(&self.failures) {
            return Box::pin(async { Err(JournalError::Unavailable("injected failure".into())) });
        }
        self.inner.append(batch)
    }
    fn read_entity(&self, entity: EntityRef, after: u64) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>> {
        self.count_read(&entity);
        if take_one(&self.read_failures) {
            return Box::pin(async { Err(JournalError::Unavailable("injected failure".into())) });
        }
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
        self.inner.save_snapshot(entity, sequence, state)
    }
    fn load_snapshot(&self, entity: EntityRef) -> BoxFuture<'_, Result<Option<Snapshot>, JournalError>> {
        self.count_read(&entity);
        self.inner.load_snapshot(entity)
    }
    fn load_position(&self, consumer: &str, shard: ShardId) -> BoxFuture<'_, Result<u64, JournalError>> {
        if take_one(&self.position_failures) {
            return Box::pin(async { Err(JournalError::Unavailable("injected failure".into())) });
        }
        self.inner.load_position(consumer, shard)
    }
    fn store_position(&self, consumer: &str, shard: ShardId, position: u64) -> BoxFuture<'_, Result<(), JournalError>> {
        self.position_stores.fetch_add(1, Ordering::SeqCst);
        self.inner.store_position(consumer, shard, position)
    }
    fn remember_inbound(&self, org: OrgId, message_id: &str) -> BoxFuture<'_, Result<bool, JournalError>> {
        self.inner.remember_inbound(org, message_id)
    }
}
