//! The journal: where every event lives before its command is acknowledged.
//!
//! Two backends implement [`Journal`]: the embedded one (sled, this crate, the default) and
//! JetStream (`practice-nodes`). Both pass the same conformance suite.
//!
//! Architecture invariant: the journal stores opaque, codec-encoded envelopes. It knows an
//! event's entity, per-entity sequence, shard and message id, never its content.

#[cfg(any(test, feature = "testsuite"))]
pub mod conformance;
pub mod payloads;
pub mod sled;
mod sled_fold;
mod sled_keys;
pub mod sled_open;
mod sled_pending;
mod sled_writer;

pub use self::sled::{SledJournal, SledOptions, DEFAULT_CACHE_BYTES};
pub use self::sled_pending::FoldPolicy;

use practice_protocol::envelope::EntityRef;
use practice_protocol::shard::ShardId;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A passivation snapshot as stored: `(sequence, state)`.
pub type Snapshot = (u64, Vec<u8>);

/// A shard's lease epoch. Taking a shard bumps it; appends carry the epoch their writer holds
/// and the journal refuses a stale one atomically with the append (G6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Epoch(pub u64);

/// One event ready to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingEvent {
    pub entity: EntityRef,
    /// The entity's next sequence: its last stored sequence + 1 (or the previous event's in
    /// this batch + 1).
    pub sequence: u64,
    /// Content-derived id for broker-level de-duplication (JetStream `Nats-Msg-Id`).
    pub message_id: String,
    /// The codec-encoded `EventEnvelope`.
    pub payload: Vec<u8>,
}

/// Events of one shard appended together: all of them or none (group commit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendBatch {
    pub shard: ShardId,
    pub epoch: Epoch,
    pub events: Vec<PendingEvent>,
}

/// An event as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub entity: EntityRef,
    pub sequence: u64,
    pub shard: ShardId,
    /// Strictly increasing within a shard (not necessarily dense): consumers resume after it.
    pub position: u64,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JournalError {
    /// Another writer appended to this entity first (G1): re-read and retry the command.
    #[error("sequence conflict: expected next sequence {expected}, the journal is at {found}")]
    SequenceConflict { expected: u64, found: u64 },
    /// The writer's lease epoch is stale: it must stop writing this shard (G6).
    #[error("shard {shard} is fenced: writer holds epoch {held:?}, current is {current:?}")]
    Fenced { shard: ShardId, held: Epoch, current: Epoch },
    /// Transient: the backend could not be reached or timed out. Safe to retry.
    #[error("journal unavailable: {0}")]
    Unavailable(String),
    /// Stored data that does not decode or breaks an invariant.
    #[error("journal corrupt: {0}")]
    Corrupt(String),
    #[error("invalid append: {0}")]
    InvalidAppend(String),
    /// A store this build cannot read: written by a newer build in a format it does not know.
    #[error("journal store incompatible: {0}")]
    Incompatible(String),
}

/// The journal contract. Every method is durable before it returns `Ok`.
pub trait Journal: Send + Sync + 'static {
    /// How many logical shards this journal was created with.
    fn shard_count(&self) -> u16;

    /// Take `shard` for a new owner: bump and return its epoch. From now on appends carrying
    /// an older epoch are refused with `Fenced`.
    fn fence(&self, shard: ShardId) -> BoxFuture<'_, Result<Epoch, JournalError>>;

    /// Append atomically and durably. Checks, in the same atomic step: the epoch is current,
    /// and each entity's first sequence in the batch is its last stored sequence + 1.
    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), JournalError>>;

    /// An entity's events with `sequence > after_sequence`, in order.
    fn read_entity(
        &self,
        entity: EntityRef,
        after_sequence: u64,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>>;

    /// A shard's events with `position > after_position`, in order, at most `limit`.
    fn read_shard(
        &self,
        shard: ShardId,
        after_position: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>>;

    /// Store a passivation snapshot of an entity as of `sequence`.
    fn save_snapshot(
        &self,
        entity: EntityRef,
        sequence: u64,
        state: Vec<u8>,
    ) -> BoxFuture<'_, Result<(), JournalError>>;

    /// The latest snapshot: `(sequence, state)`.
    fn load_snapshot(&self, entity: EntityRef) -> BoxFuture<'_, Result<Option<Snapshot>, JournalError>>;

    /// A durable consumer's position in a shard (0 when it never ran).
    fn load_position(&self, consumer: &str, shard: ShardId) -> BoxFuture<'_, Result<u64, JournalError>>;

    fn store_position(&self, consumer: &str, shard: ShardId, position: u64) -> BoxFuture<'_, Result<(), JournalError>>;

    /// The last position written in `shard` (0 when empty), or `None` when the backend
    /// cannot say cheaply. Tells a consumer whether there is anything to read.
    fn shard_head(&self, _shard: ShardId) -> BoxFuture<'_, Result<Option<u64>, JournalError>> {
        Box::pin(async { Ok(None) })
    }

    /// How many events `shard` holds after `after`, or `None` when the backend cannot say
    /// cheaply: a consumer's lag. This default fits a backend whose positions count a shard's
    /// events one by one; one whose positions leave gaps (JetStream's are the stream's) counts.
    fn shard_lag(&self, shard: ShardId, after: u64) -> BoxFuture<'_, Result<Option<u64>, JournalError>> {
        Box::pin(async move { Ok(self.shard_head(shard).await?.map(|head| head.saturating_sub(after))) })
    }

    /// Record an inbound message id (file hash, ERA trace) for a tenant. `Ok(true)` the first
    /// time, `Ok(false)` on every redelivery, however late (G3).
    fn remember_inbound(
        &self,
        org: practice_protocol::ids::OrgId,
        message_id: &str,
    ) -> BoxFuture<'_, Result<bool, JournalError>>;
}
