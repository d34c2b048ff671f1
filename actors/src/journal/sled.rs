//! The embedded journal: sled 0.34 in one process, every shard local.
//!
//! ## Keyspaces (one sled tree, one-byte prefixes, keys big-endian, see `sled_keys`)
//! - `e` events: org/kind/id/sequence → shard, shard position, payload.
//! - `l` shard log: shard/position → event key (the order consumers read).
//! - `p` epochs: shard → lease epoch. An entity's last sequence is its greatest event key and
//!   a shard's last position its greatest log key (reverse range reads), so an append writes
//!   two keys per event and nothing else.
//! - `s` snapshots: entity → sequence + state; `c` consumers: name/shard → position; `i`
//!   inbound: org/message id → (); `m` meta (the shard count).
//!
//! One tree rather than one per keyspace: a sled `Batch` on one tree is atomic (also across a
//! crash), while multi-tree sled transactions measured about 1 ms per request inside a group
//! of 256 (super-linear), which made them the bottleneck of group commit.
//!
//! ## Writes and the fsync policy (group commit)
//! Every write (append, fence, snapshot, consumer position, inbound id) goes through one
//! writer thread. It takes whatever requests are queued (up to `MAX_GROUP`) and checks them in
//! arrival order against the stored keys plus the group's own pending writes, so the epoch
//! and sequence checks see exactly what precedes the request. A refused request adds nothing;
//! an accepted one adds its writes, all or nothing, to the group's batch. The batch is applied
//! atomically and handed to a flusher thread, and the writer goes on with the next group
//! while the flusher calls `Db::flush` (writes and fsyncs sled's log) once for every group
//! handed over meanwhile; only then are those groups' callers answered. So an `Ok` always
//! means "on disk": sled's own 500 ms background flush is never relied upon, the cost of one
//! fsync is shared by every request that arrived meanwhile, and checking the next group
//! overlaps the fsync of the previous one (sled flushes in order, so a later group is never
//! durable before an earlier one it was checked against). Being the only writer, the thread
//! needs no locks or transactions for the checks to be atomic with the append.
//! Readers may see a group's effects a moment before its flush returns; nothing is
//! acknowledged before it, so nobody acts on an acknowledgement that a crash could undo.

use super::sled_keys::{
    consumer_key, decode_entity_key, decode_event_value, entity_key, event_key, event_value, inbound_key, prefixed,
    read_u64, shard_key, shard_log_key, CONSUMERS, ENTITY_KEY_LEN, EPOCHS, EVENTS, INBOUND, META, SHARD_LOG, SNAPSHOTS,
};
use super::{AppendBatch, BoxFuture, Epoch, Journal, JournalError, Snapshot, StoredEvent};
use practice_protocol::envelope::EntityRef;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{shard_of, ShardId};
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// sled's page cache for the journal, unless the caller says otherwise.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Most requests one group commit takes; bounds one batch's size.
const MAX_GROUP: usize = 4096;

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

fn unavailable(error: sled::Error) -> JournalError {
    JournalError::Unavailable(format!("sled: {error}"))
}

/// The embedded journal. Cheap to share behind an `Arc`; dropping the last handle stops the
/// writer thread after it has answered everything queued.
pub struct SledJournal {
    shard_count: u16,
    tree: sled::Db,
    sender: Mutex<Option<mpsc::Sender<WriteRequest>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl SledJournal {
    /// Open (or create) the journal in `dir`. A store created with another shard count is
    /// refused: entities would silently change shards.
    pub fn open(dir: &Path, shard_count: u16) -> Result<Self, JournalError> {
        Self::open_with_cache(dir, shard_count, DEFAULT_CACHE_BYTES)
    }

    /// `open` with sled's page cache bounded to `cache_bytes` (sled's own default is 1 GiB,
    /// which would dwarf the actors' memory).
    pub fn open_with_cache(dir: &Path, shard_count: u16, cache_bytes: u64) -> Result<Self, JournalError> {
        if shard_count == 0 {
            return Err(JournalError::InvalidAppend("shard count must be at least 1".into()));
        }
        let db = sled::Config::new().path(dir).cache_capacity(cache_bytes).open().map_err(unavailable)?;
        let meta_key = prefixed(META, b"shard_count");
        match db.get(&meta_key).map_err(unavailable)? {
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
                db.insert(&meta_key, &shard_count.to_be_bytes()).map_err(unavailable)?;
                db.flush().map_err(unavailable)?;
            }
        }
        let (sender, receiver) = mpsc::channel();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer_loop(writer_db, shard_count, receiver))
            .map_err(|error| JournalError::Unavailable(format!("cannot start the journal writer: {error}")))?;
        Ok(Self { shard_count, tree: db, sender: Mutex::new(Some(sender)), writer: Mutex::new(Some(writer)) })
    }

    /// The shard count a store was created with, if it exists.
    pub fn stored_shard_count(dir: &Path) -> Result<Option<u16>, JournalError> {
        if !dir.exists() {
            return Ok(None);
        }
        let db = sled::Config::new().path(dir).open().map_err(unavailable)?;
        let stored = db.get(prefixed(META, b"shard_count")).map_err(unavailable)?;
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
        let start = prefixed(EVENTS, &event_key(&entity, after_sequence.saturating_add(1)));
        let end = prefixed(EVENTS, &event_key(&entity, u64::MAX));
        let mut events = Vec::new();
        for item in self.tree.range(start..=end) {
            let (key, value) = item.map_err(unavailable)?;
            let sequence = read_u64(&key[1 + ENTITY_KEY_LEN..], "event key")?;
            let (shard, position, payload) = decode_event_value(&value)?;
            events.push(StoredEvent { entity, sequence, shard, position, payload });
        }
        Ok(events)
    }

    fn read_shard_now(&self, shard: ShardId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, JournalError> {
        let start = prefixed(SHARD_LOG, &shard_log_key(shard, after.saturating_add(1)));
        let end = prefixed(SHARD_LOG, &shard_log_key(shard, u64::MAX));
        let mut events = Vec::new();
        for item in self.tree.range(start..=end).take(limit) {
            let (_, event_key_bytes) = item.map_err(unavailable)?;
            let entity = decode_entity_key(&event_key_bytes)?;
            let sequence = read_u64(&event_key_bytes[ENTITY_KEY_LEN..], "shard log entry")?;
            let value = self
                .tree
                .get(prefixed(EVENTS, &event_key_bytes))
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
        let result =
            self.tree.get(prefixed(SNAPSHOTS, &entity_key(&entity))).map_err(unavailable).and_then(
                |value| match value {
                    Some(value) => Ok(Some((read_u64(&value, "snapshot")?, value[8..].to_vec()))),
                    None => Ok(None),
                },
            );
        Box::pin(async move { result })
    }

    fn load_position(&self, consumer: &str, shard: ShardId) -> BoxFuture<'_, Result<u64, JournalError>> {
        let result =
            self.tree.get(prefixed(CONSUMERS, &consumer_key(consumer, shard))).map_err(unavailable).and_then(|value| {
                match value {
                    Some(value) => read_u64(&value, "consumer position"),
                    None => Ok(0),
                }
            });
        Box::pin(async move { result })
    }

    fn store_position(&self, consumer: &str, shard: ShardId, position: u64) -> BoxFuture<'_, Result<(), JournalError>> {
        let key = consumer_key(consumer, shard);
        self.submit(|reply| WriteRequest::Position { key, position, reply })
    }

    fn shard_head(&self, shard: ShardId) -> BoxFuture<'_, Result<Option<u64>, JournalError>> {
        let result = last_position(&self.tree, shard).map(Some);
        Box::pin(async move { result })
    }

    fn remember_inbound(&self, org: OrgId, message_id: &str) -> BoxFuture<'_, Result<bool, JournalError>> {
        let key = inbound_key(org, message_id);
        self.submit(|reply| WriteRequest::Inbound { key, reply })
    }
}

/// The last position in a shard's log (0 when empty): its greatest key.
fn last_position(db: &sled::Db, shard: ShardId) -> Result<u64, JournalError> {
    let start = prefixed(SHARD_LOG, &shard_log_key(shard, 0));
    let end = prefixed(SHARD_LOG, &shard_log_key(shard, u64::MAX));
    match db.range(start..=end).next_back() {
        Some(item) => {
            let (key, _) = item.map_err(unavailable)?;
            read_u64(&key[3..], "shard log key")
        }
        None => Ok(0),
    }
}

/// An entity's last stored sequence (0 when new): its greatest event key.
fn last_sequence(db: &sled::Db, entity: &EntityRef) -> Result<u64, JournalError> {
    let start = prefixed(EVENTS, &event_key(entity, 0));
    let end = prefixed(EVENTS, &event_key(entity, u64::MAX));
    match db.range(start..=end).next_back() {
        Some(item) => {
            let (key, _) = item.map_err(unavailable)?;
            read_u64(&key[1 + ENTITY_KEY_LEN..], "event key")
        }
        None => Ok(0),
    }
}

/// A group's pending writes over the stored keys: reads see the group's own earlier writes.
struct Staged<'a> {
    db: &'a sled::Db,
    writes: HashMap<Vec<u8>, Vec<u8>>,
    order: Vec<Vec<u8>>,
    /// Entities appended to in this group → their new last sequence.
    heads: HashMap<[u8; ENTITY_KEY_LEN], u64>,
    /// The writer's last position per shard (kept across groups; the writer is the only
    /// one appending, so it stays true), with this group's moves applied.
    positions: &'a mut HashMap<ShardId, u64>,
    moved: HashMap<ShardId, u64>,
}

impl<'a> Staged<'a> {
    fn new(db: &'a sled::Db, positions: &'a mut HashMap<ShardId, u64>) -> Self {
        Self { db, writes: HashMap::new(), order: Vec::new(), heads: HashMap::new(), positions, moved: HashMap::new() }
    }

    fn head(&self, entity: &EntityRef, key: &[u8; ENTITY_KEY_LEN]) -> Result<u64, JournalError> {
        match self.heads.get(key) {
            Some(head) => Ok(*head),
            None => last_sequence(self.db, entity),
        }
    }

    fn position(&mut self, shard: ShardId) -> Result<u64, JournalError> {
        if let Some(position) = self.moved.get(&shard) {
            return Ok(*position);
        }
        if let Some(position) = self.positions.get(&shard) {
            return Ok(*position);
        }
        let position = last_position(self.db, shard)?;
        self.positions.insert(shard, position);
        Ok(position)
    }

    /// After the batch is durable: the group's positions become the writer's.
    fn commit_positions(moved: HashMap<ShardId, u64>, positions: &mut HashMap<ShardId, u64>) {
        positions.extend(moved);
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, JournalError> {
        if let Some(value) = self.writes.get(key) {
            return Ok(Some(value.clone()));
        }
        Ok(self.db.get(key).map_err(unavailable)?.map(|value| value.to_vec()))
    }

    fn get_u64(&self, key: &[u8], what: &str) -> Result<u64, JournalError> {
        match self.get(key)? {
            Some(value) => read_u64(&value, what),
            None => Ok(0),
        }
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        if self.writes.insert(key.clone(), value).is_none() {
            self.order.push(key);
        }
    }

    /// The atomic batch and the shard positions it moves.
    fn into_batch(mut self) -> (sled::Batch, HashMap<ShardId, u64>) {
        let mut batch = sled::Batch::default();
        for key in self.order {
            if let Some(value) = self.writes.remove(&key) {
                batch.insert(key, value);
            }
        }
        (batch, self.moved)
    }
}

/// The writes one request would make, checked but not yet staged.
type Writes = Vec<(Vec<u8>, Vec<u8>)>;

/// A group applied to sled but not yet flushed, with what each request will be told.
struct AppliedGroup {
    group: Vec<WriteRequest>,
    results: Result<Vec<Applied>, JournalError>,
}

fn writer_loop(db: sled::Db, shard_count: u16, receiver: mpsc::Receiver<WriteRequest>) {
    std::thread::scope(|scope| {
        let (applied_sender, applied_receiver) = mpsc::channel::<AppliedGroup>();
        let flusher_db = db.clone();
        let flusher = std::thread::Builder::new()
            .name("journal-flusher".into())
            .spawn_scoped(scope, move || flusher_loop(&flusher_db, applied_receiver));
        if let Err(error) = &flusher {
            tracing::warn!(%error, "no journal flusher thread: the writer flushes each group itself");
        }
        let mut positions: HashMap<ShardId, u64> = HashMap::new();
        while let Ok(first) = receiver.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match receiver.try_recv() {
                    Ok(request) => group.push(request),
                    Err(_) => break,
                }
            }
            let mut staged = Staged::new(&db, &mut positions);
            let mut results = Vec::with_capacity(group.len());
            for request in &group {
                let (applied, writes) = check_request(&mut staged, shard_count, request);
                for (key, value) in writes {
                    staged.put(key, value);
                }
                results.push(applied);
            }
            let (batch, moved) = staged.into_batch();
            let applied = db.apply_batch(batch).map_err(unavailable);
            if applied.is_ok() {
                // Later groups are checked against this one, and answered after a flush that
                // covers both (sled flushes in order).
                Staged::commit_positions(moved, &mut positions);
            } else {
                // What reached sled is unknown: read the positions back from the log next time.
                positions.clear();
            }
            let applied = AppliedGroup { group, results: applied.map(|()| results) };
            let unsent = match &flusher {
                Ok(_) => applied_sender.send(applied).err().map(|unsent| unsent.0),
                Err(_) => Some(applied),
            };
            if let Some(applied) = unsent {
                flush_and_answer(&db, vec![applied]);
            }
        }
        // The flusher answers what it has, then stops; the scope waits for it.
        drop(applied_sender);
    });
    if let Err(error) = db.flush() {
        tracing::error!(%error, "final journal flush failed");
    }
}

/// Group commit's second half: one flush for every group applied meanwhile, then answers.
fn flusher_loop(db: &sled::Db, receiver: mpsc::Receiver<AppliedGroup>) {
    while let Ok(first) = receiver.recv() {
        let mut groups = vec![first];
        while let Ok(next) = receiver.try_recv() {
            groups.push(next);
        }
        flush_and_answer(db, groups);
    }
}

fn flush_and_answer(db: &sled::Db, groups: Vec<AppliedGroup>) {
    let flushed = db.flush().map(|_| ()).map_err(unavailable);
    for AppliedGroup { group, results } in groups {
        let results = match &flushed {
            Ok(()) => results,
            Err(error) => Err(error.clone()),
        };
        answer(group, results);
    }
}

/// The typed result of one request.
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

/// Check one request against the stored keys and the group's earlier writes. A refused
/// request (or one whose check could not read) writes nothing.
fn check_request(staged: &mut Staged<'_>, shard_count: u16, request: &WriteRequest) -> (Applied, Writes) {
    match request {
        WriteRequest::Fence(shard, _) => {
            let key = prefixed(EPOCHS, &shard_key(*shard));
            match staged.get_u64(&key, "epoch") {
                Ok(current) => {
                    let next = current + 1;
                    (Applied::Epoch(Ok(Epoch(next))), vec![(key, next.to_be_bytes().to_vec())])
                }
                Err(error) => (Applied::Epoch(Err(error)), Vec::new()),
            }
        }
        WriteRequest::Append(batch, _) => match check_append(staged, shard_count, batch) {
            Ok(writes) => (Applied::Unit(Ok(())), writes),
            Err(error) => (Applied::Unit(Err(error)), Vec::new()),
        },
        WriteRequest::Snapshot { entity, sequence, state, .. } => {
            let key = prefixed(SNAPSHOTS, &entity_key(entity));
            let current = match staged.get(&key) {
                Ok(Some(value)) => read_u64(&value, "snapshot").unwrap_or(0),
                Ok(None) => 0,
                Err(error) => return (Applied::Unit(Err(error)), Vec::new()),
            };
            // A late, older snapshot never replaces a newer one.
            if *sequence < current {
                return (Applied::Unit(Ok(())), Vec::new());
            }
            let mut value = Vec::with_capacity(8 + state.len());
            value.extend_from_slice(&sequence.to_be_bytes());
            value.extend_from_slice(state);
            (Applied::Unit(Ok(())), vec![(key, value)])
        }
        WriteRequest::Position { key, position, .. } => {
            (Applied::Unit(Ok(())), vec![(prefixed(CONSUMERS, key), position.to_be_bytes().to_vec())])
        }
        WriteRequest::Inbound { key, .. } => {
            let key = prefixed(INBOUND, key);
            match staged.get(&key) {
                Ok(Some(_)) => (Applied::Bool(Ok(false)), Vec::new()),
                Ok(None) => (Applied::Bool(Ok(true)), vec![(key, Vec::new())]),
                Err(error) => (Applied::Bool(Err(error)), Vec::new()),
            }
        }
    }
}

fn check_append(staged: &mut Staged<'_>, shard_count: u16, batch: &AppendBatch) -> Result<Writes, JournalError> {
    if batch.events.is_empty() {
        return Err(JournalError::InvalidAppend("empty batch".into()));
    }
    if batch.shard.0 >= shard_count {
        return Err(JournalError::InvalidAppend(format!("no shard {} of {shard_count}", batch.shard)));
    }
    let current = Epoch(staged.get_u64(&prefixed(EPOCHS, &shard_key(batch.shard)), "epoch")?);
    if batch.epoch != current {
        return Err(JournalError::Fenced { shard: batch.shard, held: batch.epoch, current });
    }
    let mut heads: Vec<([u8; ENTITY_KEY_LEN], u64)> = Vec::new();
    for event in &batch.events {
        let owner = shard_of(&event.entity, shard_count);
        if owner != batch.shard {
            return Err(JournalError::InvalidAppend(format!(
                "an event of a {} belongs to shard {owner}, not {}",
                event.entity.kind.as_str(),
                batch.shard
            )));
        }
        let key = entity_key(&event.entity);
        let head = match heads.iter().find(|(entity, _)| *entity == key) {
            Some((_, head)) => *head,
            None => staged.head(&event.entity, &key)?,
        };
        if event.sequence != head + 1 {
            return Err(JournalError::SequenceConflict { expected: event.sequence, found: head });
        }
        match heads.iter_mut().find(|(entity, _)| *entity == key) {
            Some((_, stored)) => *stored = event.sequence,
            None => heads.push((key, event.sequence)),
        }
    }
    let mut position = staged.position(batch.shard)?;
    let mut writes = Vec::with_capacity(batch.events.len() * 2);
    for event in &batch.events {
        position += 1;
        let key = event_key(&event.entity, event.sequence);
        writes.push((prefixed(EVENTS, &key), event_value(batch.shard, position, &event.payload)));
        writes.push((prefixed(SHARD_LOG, &shard_log_key(batch.shard, position)), key.to_vec()));
    }
    staged.moved.insert(batch.shard, position);
    staged.heads.extend(heads);
    Ok(writes)
}
