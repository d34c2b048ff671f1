//! The embedded journal: sled 0.34 in one process, every shard local.
//!
//! ## Keyspaces (one sled tree each, keys big-endian, see `sled_keys`)
//! - `events`: org/kind/id/sequence → shard, shard position, payload.
//! - `shard_log`: shard/position → event key (the order consumers read).
//! - `heads`: entity → last sequence; `epochs`: shard → lease epoch; `shard_positions`: shard →
//!   last position.
//! - `snapshots`: entity → sequence + state; `consumers`: name/shard → position; `inbound`:
//!   org/message id → ().
//!
//! ## Writes and the fsync policy (group commit)
//! Every write (append, fence, snapshot, consumer position, inbound id) goes through one
//! writer thread. It takes whatever requests are queued (up to `MAX_GROUP`), applies them in
//! a single multi-tree sled transaction, in arrival order, so the epoch and sequence checks
//! are atomic with the append and a batch is all or nothing; then calls `Db::flush` once
//! (write + fsync of sled's log) and only then answers every caller of the group. So an `Ok`
//! always means "on disk": sled's own 500 ms background flush is never relied upon, and the
//! cost of an fsync is shared by every request that arrived while the previous one ran.
//! Concurrent readers may see a transaction's effects before its flush returns; nothing is
//! acknowledged before it, so a reader never acts on an acknowledgement that a crash undoes.

use super::sled_keys::{
    consumer_key, decode_entity_key, decode_event_value, entity_key, event_key, event_value, inbound_key, read_u64,
    shard_key, shard_log_key, ENTITY_KEY_LEN,
};
use super::{AppendBatch, BoxFuture, Epoch, Journal, JournalError, Snapshot, StoredEvent};
use practice_protocol::envelope::EntityRef;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{shard_of, ShardId};
use sled::transaction::{ConflictableTransactionError, Transactional, TransactionalTree, UnabortableTransactionError};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Most requests one group commit takes; bounds one transaction's size.
const MAX_GROUP: usize = 2048;

type Reply<T> = oneshot::Sender<Result<T, JournalError>>;

enum WriteRequest {
    Append(AppendBatch, Reply<()>),
    Fence(ShardId, Reply<Epoch>),
    Snapshot { entity: EntityRef, sequence: u64, state: Vec<u8>, reply: Reply<()> },
    Position { key: Vec<u8>, position: u64, reply: Reply<()> },
    Inbound { key: Vec<u8>, reply: Reply<bool> },
}

/// One request's answer inside a group, before the flush makes it true.
enum Outcome {
    Unit(Reply<()>, Result<(), JournalError>),
    Epoch(Reply<Epoch>, Result<Epoch, JournalError>),
    Bool(Reply<bool>, Result<bool, JournalError>),
}

#[derive(Clone)]
struct Trees {
    events: sled::Tree,
    shard_log: sled::Tree,
    heads: sled::Tree,
    epochs: sled::Tree,
    shard_positions: sled::Tree,
    snapshots: sled::Tree,
    consumers: sled::Tree,
    inbound: sled::Tree,
}

impl Trees {
    fn open(db: &sled::Db) -> Result<Self, JournalError> {
        let tree = |name: &str| db.open_tree(name).map_err(unavailable);
        Ok(Self {
            events: tree("events")?,
            shard_log: tree("shard_log")?,
            heads: tree("heads")?,
            epochs: tree("epochs")?,
            shard_positions: tree("shard_positions")?,
            snapshots: tree("snapshots")?,
            consumers: tree("consumers")?,
            inbound: tree("inbound")?,
        })
    }

    fn all(&self) -> [sled::Tree; 8] {
        [
            self.events.clone(),
            self.shard_log.clone(),
            self.heads.clone(),
            self.epochs.clone(),
            self.shard_positions.clone(),
            self.snapshots.clone(),
            self.consumers.clone(),
            self.inbound.clone(),
        ]
    }
}

fn unavailable(error: sled::Error) -> JournalError {
    JournalError::Unavailable(format!("sled: {error}"))
}

/// The embedded journal. Cheap to share behind an `Arc`; dropping the last handle stops the
/// writer thread after it has answered everything queued.
pub struct SledJournal {
    shard_count: u16,
    trees: Trees,
    sender: Mutex<Option<mpsc::Sender<WriteRequest>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SledJournal {
    /// Open (or create) the journal in `dir`. A store created with another shard count is
    /// refused: entities would silently change shards.
    pub fn open(dir: &Path, shard_count: u16) -> Result<Self, JournalError> {
        if shard_count == 0 {
            return Err(JournalError::InvalidAppend("shard count must be at least 1".into()));
        }
        let db = sled::Config::new().path(dir).open().map_err(unavailable)?;
        match db.get("shard_count").map_err(unavailable)? {
            Some(stored) => {
                let stored = u16::from_be_bytes(
                    stored
                        .as_ref()
                        .try_into()
                        .map_err(|_| JournalError::Corrupt("shard_count is not 2 bytes".into()))?,
                );
                if stored != shard_count {
                    return Err(JournalError::InvalidAppend(format!(
                        "{} was created with {stored} shards, not {shard_count}",
                        dir.display()
                    )));
                }
            }
            None => {
                db.insert("shard_count", &shard_count.to_be_bytes()).map_err(unavailable)?;
                db.flush().map_err(unavailable)?;
            }
        }
        let trees = Trees::open(&db)?;
        let (sender, receiver) = mpsc::channel();
        let writer_trees = trees.clone();
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer_loop(db, writer_trees, shard_count, receiver))
            .map_err(|error| JournalError::Unavailable(format!("cannot start the journal writer: {error}")))?;
        Ok(Self { shard_count, trees, sender: Mutex::new(Some(sender)), writer: Mutex::new(Some(writer)) })
    }

    /// The shard count a store was created with, if it exists.
    pub fn stored_shard_count(dir: &Path) -> Result<Option<u16>, JournalError> {
        if !dir.exists() {
            return Ok(None);
        }
        let db = sled::Config::new().path(dir).open().map_err(unavailable)?;
        let stored = db.get("shard_count").map_err(unavailable)?;
        Ok(stored.and_then(|bytes| bytes.as_ref().try_into().ok().map(u16::from_be_bytes)))
    }

    /// Stop the writer after it answered everything queued, and wait for it. Later writes
    /// fail with `Unavailable`. Idempotent; also run on drop.
    pub fn close(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        let writer = self.writer.lock().ok().and_then(|mut writer| writer.take());
        if let Some(writer) = writer {
            if writer.join().is_err() {
                tracing::error!("journal writer thread panicked");
            }
        }
    }

    /// All entity keys with at least one event (for `verify`).
    pub fn entities(&self) -> Result<Vec<(EntityRef, u64)>, JournalError> {
        let mut entities = Vec::new();
        for item in self.trees.heads.iter() {
            let (key, value) = item.map_err(unavailable)?;
            entities.push((decode_entity_key(&key)?, read_u64(&value, "head")?));
        }
        Ok(entities)
    }

    fn submit<T>(&self, make: impl FnOnce(Reply<T>) -> WriteRequest) -> BoxFuture<'_, Result<T, JournalError>>
    where
        T: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let sent = match self.sender.lock() {
            Ok(sender) => sender.as_ref().map(|sender| sender.send(make(reply)).is_ok()).unwrap_or(false),
            Err(_) => false,
        };
        Box::pin(async move {
            if !sent {
                return Err(JournalError::Unavailable("the journal is closed".into()));
            }
            answer.await.map_err(|_| JournalError::Unavailable("the journal writer stopped".into()))?
        })
    }

    fn read_entity_now(&self, entity: EntityRef, after_sequence: u64) -> Result<Vec<StoredEvent>, JournalError> {
        let start = event_key(&entity, after_sequence.saturating_add(1));
        let end = event_key(&entity, u64::MAX);
        let mut events = Vec::new();
        for item in self.trees.events.range(start..=end) {
            let (key, value) = item.map_err(unavailable)?;
            let sequence = read_u64(&key[ENTITY_KEY_LEN..], "event key")?;
            let (shard, position, payload) = decode_event_value(&value)?;
            events.push(StoredEvent { entity, sequence, shard, position, payload });
        }
        Ok(events)
    }

    fn read_shard_now(&self, shard: ShardId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, JournalError> {
        let start = shard_log_key(shard, after.saturating_add(1));
        let end = shard_log_key(shard, u64::MAX);
        let mut events = Vec::new();
        for item in self.trees.shard_log.range(start..=end).take(limit) {
            let (_, event_key_bytes) = item.map_err(unavailable)?;
            let entity = decode_entity_key(&event_key_bytes)?;
            let sequence = read_u64(&event_key_bytes[ENTITY_KEY_LEN..], "shard log entry")?;
            let value = self
                .trees
                .events
                .get(&event_key_bytes)
                .map_err(unavailable)?
                .ok_or_else(|| JournalError::Corrupt(format!("shard {shard} log names a missing event")))?;
            let (stored_shard, position, payload) = decode_event_value(&value)?;
            events.push(StoredEvent { entity, sequence, shard: stored_shard, position, payload });
        }
        Ok(events)
    }
}

impl Drop for SledJournal {
    fn drop(&mut self) {
        self.close();
    }
}

impl Journal for SledJournal {
    fn shard_count(&self) -> u16 {
        self.shard_count
    }

    fn fence(&self, shard: ShardId) -> BoxFuture<'_, Result<Epoch, JournalError>> {
        if shard.0 >= self.shard_count {
            let count = self.shard_count;
            return Box::pin(async move { Err(JournalError::InvalidAppend(format!("no shard {shard} of {count}"))) });
        }
        self.submit(|reply| WriteRequest::Fence(shard, reply))
    }

    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), JournalError>> {
        self.submit(|reply| WriteRequest::Append(batch, reply))
    }

    fn read_entity(
        &self,
        entity: EntityRef,
        after_sequence: u64,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>> {
        let result = self.read_entity_now(entity, after_sequence);
        Box::pin(async move { result })
    }

    fn read_shard(
        &self,
        shard: ShardId,
        after_position: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>> {
        let result = self.read_shard_now(shard, after_position, limit);
        Box::pin(async move { result })
    }

    fn save_snapshot(
        &self,
        entity: EntityRef,
        sequence: u64,
        state: Vec<u8>,
    ) -> BoxFuture<'_, Result<(), JournalError>> {
        self.submit(|reply| WriteRequest::Snapshot { entity, sequence, state, reply })
    }

    fn load_snapshot(&self, entity: EntityRef) -> BoxFuture<'_, Result<Option<Snapshot>, JournalError>> {
        let result = self.trees.snapshots.get(entity_key(&entity)).map_err(unavailable).and_then(|value| match value {
            Some(value) => Ok(Some((read_u64(&value, "snapshot")?, value[8..].to_vec()))),
            None => Ok(None),
        });
        Box::pin(async move { result })
    }

    fn load_position(&self, consumer: &str, shard: ShardId) -> BoxFuture<'_, Result<u64, JournalError>> {
        let result =
            self.trees.consumers.get(consumer_key(consumer, shard)).map_err(unavailable).and_then(
                |value| match value {
                    Some(value) => read_u64(&value, "consumer position"),
                    None => Ok(0),
                },
            );
        Box::pin(async move { result })
    }

    fn store_position(&self, consumer: &str, shard: ShardId, position: u64) -> BoxFuture<'_, Result<(), JournalError>> {
        let key = consumer_key(consumer, shard);
        self.submit(|reply| WriteRequest::Position { key, position, reply })
    }

    fn shard_head(&self, shard: ShardId) -> BoxFuture<'_, Result<Option<u64>, JournalError>> {
        let result =
            self.trees.shard_positions.get(shard_key(shard)).map_err(unavailable).and_then(|value| match value {
                Some(value) => read_u64(&value, "shard position").map(Some),
                None => Ok(Some(0)),
            });
        Box::pin(async move { result })
    }

    fn remember_inbound(&self, org: OrgId, message_id: &str) -> BoxFuture<'_, Result<bool, JournalError>> {
        let key = inbound_key(org, message_id);
        self.submit(|reply| WriteRequest::Inbound { key, reply })
    }
}

fn writer_loop(db: sled::Db, trees: Trees, shard_count: u16, receiver: mpsc::Receiver<WriteRequest>) {
    let all = trees.all();
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        let applied = Transactional::<()>::transaction(&all[..], |view: &Vec<TransactionalTree>| {
            let mut results = Vec::with_capacity(group.len());
            for request in &group {
                results.push(apply_request(view, shard_count, request)?);
            }
            Ok::<_, ConflictableTransactionError<()>>(results)
        });
        let flushed = applied
            .map_err(|error| JournalError::Unavailable(format!("sled transaction: {error:?}")))
            .and_then(|results| {
                db.flush().map_err(unavailable)?;
                Ok(results)
            });
        answer(group, flushed);
    }
    if let Err(error) = db.flush() {
        tracing::error!(%error, "final journal flush failed");
    }
}

/// The typed result of one request inside the transaction.
enum Applied {
    Unit(Result<(), JournalError>),
    Epoch(Result<Epoch, JournalError>),
    Bool(Result<bool, JournalError>),
}

fn answer(group: Vec<WriteRequest>, flushed: Result<Vec<Applied>, JournalError>) {
    let outcomes: Vec<Outcome> = match flushed {
        Ok(results) => group
            .into_iter()
            .zip(results)
            .map(|(request, applied)| match (request, applied) {
                (WriteRequest::Fence(_, reply), Applied::Epoch(result)) => Outcome::Epoch(reply, result),
                (WriteRequest::Inbound { reply, .. }, Applied::Bool(result)) => Outcome::Bool(reply, result),
                (WriteRequest::Append(_, reply), Applied::Unit(result))
                | (WriteRequest::Snapshot { reply, .. }, Applied::Unit(result))
                | (WriteRequest::Position { reply, .. }, Applied::Unit(result)) => Outcome::Unit(reply, result),
                (request, _) => failure(request, JournalError::Corrupt("writer result mismatch".into())),
            })
            .collect(),
        Err(error) => group.into_iter().map(|request| failure(request, error.clone())).collect(),
    };
    for outcome in outcomes {
        // A caller that gave up waiting is not an error of the journal.
        match outcome {
            Outcome::Unit(reply, result) => drop(reply.send(result)),
            Outcome::Epoch(reply, result) => drop(reply.send(result)),
            Outcome::Bool(reply, result) => drop(reply.send(result)),
        }
    }
}

fn failure(request: WriteRequest, error: JournalError) -> Outcome {
    match request {
        WriteRequest::Append(_, reply)
        | WriteRequest::Snapshot { reply, .. }
        | WriteRequest::Position { reply, .. } => Outcome::Unit(reply, Err(error)),
        WriteRequest::Fence(_, reply) => Outcome::Epoch(reply, Err(error)),
        WriteRequest::Inbound { reply, .. } => Outcome::Bool(reply, Err(error)),
    }
}

type TxResult<T> = Result<T, UnabortableTransactionError>;

fn tx_u64(tree: &TransactionalTree, key: &[u8]) -> TxResult<Result<u64, JournalError>> {
    Ok(match tree.get(key)? {
        Some(value) => read_u64(&value, "counter"),
        None => Ok(0),
    })
}

/// Apply one request inside the group's transaction. A refused request writes nothing and
/// leaves the rest of the group alone.
fn apply_request(view: &[TransactionalTree], shard_count: u16, request: &WriteRequest) -> TxResult<Applied> {
    let [events, shard_log, heads, epochs, shard_positions, snapshots, consumers, inbound] = view else {
        return Ok(Applied::Unit(Err(JournalError::Corrupt("wrong tree count".into()))));
    };
    Ok(match request {
        WriteRequest::Fence(shard, _) => Applied::Epoch(match tx_u64(epochs, &shard_key(*shard))? {
            Ok(current) => {
                let next = current + 1;
                epochs.insert(&shard_key(*shard), &next.to_be_bytes())?;
                Ok(Epoch(next))
            }
            Err(error) => Err(error),
        }),
        WriteRequest::Append(batch, _) => {
            Applied::Unit(apply_append(events, shard_log, heads, epochs, shard_positions, shard_count, batch)?)
        }
        WriteRequest::Snapshot { entity, sequence, state, .. } => {
            let key = entity_key(entity);
            let current = match snapshots.get(key)? {
                Some(value) => read_u64(&value, "snapshot").unwrap_or(0),
                None => 0,
            };
            // A late, older snapshot never replaces a newer one.
            if *sequence >= current {
                let mut value = Vec::with_capacity(8 + state.len());
                value.extend_from_slice(&sequence.to_be_bytes());
                value.extend_from_slice(state);
                snapshots.insert(&key[..], value)?;
            }
            Applied::Unit(Ok(()))
        }
        WriteRequest::Position { key, position, .. } => {
            consumers.insert(key.as_slice(), &position.to_be_bytes())?;
            Applied::Unit(Ok(()))
        }
        WriteRequest::Inbound { key, .. } => {
            if inbound.get(key)?.is_some() {
                Applied::Bool(Ok(false))
            } else {
                inbound.insert(key.as_slice(), &[])?;
                Applied::Bool(Ok(true))
            }
        }
    })
}

fn apply_append(
    events: &TransactionalTree,
    shard_log: &TransactionalTree,
    heads: &TransactionalTree,
    epochs: &TransactionalTree,
    shard_positions: &TransactionalTree,
    shard_count: u16,
    batch: &AppendBatch,
) -> TxResult<Result<(), JournalError>> {
    if batch.events.is_empty() {
        return Ok(Err(JournalError::InvalidAppend("empty batch".into())));
    }
    if batch.shard.0 >= shard_count {
        return Ok(Err(JournalError::InvalidAppend(format!("no shard {} of {shard_count}", batch.shard))));
    }
    let current = match tx_u64(epochs, &shard_key(batch.shard))? {
        Ok(current) => Epoch(current),
        Err(error) => return Ok(Err(error)),
    };
    if batch.epoch != current {
        return Ok(Err(JournalError::Fenced { shard: batch.shard, held: batch.epoch, current }));
    }
    // Check everything before writing anything: a refused batch leaves no trace.
    let mut next_heads: Vec<([u8; ENTITY_KEY_LEN], u64)> = Vec::new();
    for event in &batch.events {
        if shard_of(&event.entity, shard_count) != batch.shard {
            return Ok(Err(JournalError::InvalidAppend(format!(
                "an event of a {} belongs to shard {}, not {}",
                event.entity.kind.as_str(),
                shard_of(&event.entity, shard_count),
                batch.shard
            ))));
        }
        let key = entity_key(&event.entity);
        let head = match next_heads.iter().find(|(entity, _)| *entity == key) {
            Some((_, head)) => *head,
            None => match tx_u64(heads, &key)? {
                Ok(head) => head,
                Err(error) => return Ok(Err(error)),
            },
        };
        if event.sequence != head + 1 {
            return Ok(Err(JournalError::SequenceConflict { expected: event.sequence, found: head }));
        }
        match next_heads.iter_mut().find(|(entity, _)| *entity == key) {
            Some((_, stored)) => *stored = event.sequence,
            None => next_heads.push((key, event.sequence)),
        }
    }
    let mut position = match tx_u64(shard_positions, &shard_key(batch.shard))? {
        Ok(position) => position,
        Err(error) => return Ok(Err(error)),
    };
    for event in &batch.events {
        position += 1;
        let key = event_key(&event.entity, event.sequence);
        events.insert(&key[..], event_value(batch.shard, position, &event.payload))?;
        shard_log.insert(&shard_log_key(batch.shard, position)[..], &key[..])?;
    }
    shard_positions.insert(&shard_key(batch.shard), &position.to_be_bytes())?;
    for (key, head) in next_heads {
        heads.insert(&key[..], &head.to_be_bytes())?;
    }
    Ok(Ok(()))
}
