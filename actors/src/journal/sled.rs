//! The embedded journal: sled 0.34 in one process, every shard local.
//!
//! ## Keyspaces (one sled tree, one-byte prefixes, keys big-endian, see `sled_keys`)
//! - `e` events: org/kind/id/sequence → shard, shard position(s), payload(s): one event, a run
//!   appended together, or a fold's join of an entity's held runs (`sled_keys`).
//! - `l` shard log: shard/first position → the event keys of consecutive positions (the order
//!   consumers read). Records of any length read the same.
//! - `h` held groups: group number → that group commit's shard log entries and its entities'
//!   later runs, until a fold writes them as `e` and `l` records (see `sled_pending`,
//!   `sled_fold`); `g` records, from stores of format 2, hold entries alone. Readers find both
//!   in memory.
//! - `p` epochs: shard → lease epoch. An entity's last sequence is its last held run's, else
//!   its greatest event key's, and a shard's last position is its last pending entry or the end of its greatest log record
//!   (reverse range reads), so an append writes nothing else.
//! - `s` snapshots: entity → sequence + state; `c` consumers: name/shard → position; `i`
//!   inbound: org/message id → (); `m` meta (the shard count, the store format).
//!
//! One tree rather than one per keyspace: a sled `Batch` on one tree is atomic (also across a
//! crash), while multi-tree sled transactions measured about 1 ms per request inside a group
//! of 256 (super-linear), which made them the bottleneck of group commit.
//!
//! Writes go through one writer thread with group commit: see `sled_writer`.

use super::sled_keys::{
    consumer_key, decode_entity_key, decode_event_record, entity_key, event_key, inbound_key, prefixed, read_u64,
    shard_log_entries, shard_log_first, shard_log_key, CONSUMERS, ENTITY_KEY_LEN, EVENTS, EVENT_KEY_LEN, META,
    META_FORMAT, META_SHARD_COUNT, SHARD_LOG, SNAPSHOTS, STORE_FORMAT,
};
use super::sled_open::SyncedDb;
use super::sled_pending::{FoldPolicy, PendingLog};
use super::sled_writer::{
    last_position, read_pending, unavailable, writer_loop, Reply, SharedPending, WriteRequest, WriterSetup,
};
use super::{AppendBatch, BoxFuture, Epoch, Journal, JournalError, Snapshot, StoredEvent};
use practice_protocol::envelope::EntityRef;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::ShardId;
use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// sled's page cache for the journal, unless the caller says otherwise.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// How many times a shard read that met a fold reads again before giving up.
const READ_ATTEMPTS: usize = 64;

/// How the embedded journal is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SledOptions {
    /// sled's page cache (sled's own default is 1 GiB, which would dwarf the actors' memory).
    pub cache_bytes: u64,
    /// When the writer folds the pending shard log into per-shard records.
    pub fold: FoldPolicy,
    /// Fold at close, so a closed store holds no pending records. Off only in tests that
    /// need a store as a crash leaves it.
    pub fold_on_close: bool,
}

impl Default for SledOptions {
    fn default() -> Self {
        Self { cache_bytes: DEFAULT_CACHE_BYTES, fold: FoldPolicy::default(), fold_on_close: true }
    }
}

/// The embedded journal. Cheap to share behind an `Arc`; dropping the last handle stops the
/// writer thread after it has answered everything queued.
pub struct SledJournal {
    shard_count: u16,
    tree: sled::Db,
    pending: SharedPending,
    sender: Mutex<Option<mpsc::Sender<WriteRequest>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

/// The key under which the store keeps `entity`'s event `sequence` when it is the first of its
/// record: for benchmarks that insert the journal's own keys into raw sled.
pub fn event_store_key(entity: &EntityRef, sequence: u64) -> Vec<u8> {
    prefixed(EVENTS, &event_key(entity, sequence))
}

/// A two-byte `META` value, if the store has it.
fn meta_u16(db: &sled::Db, name: &[u8]) -> Result<Option<u16>, JournalError> {
    let Some(stored) = db.get(prefixed(META, name)).map_err(unavailable)? else { return Ok(None) };
    let bytes: [u8; 2] = stored
        .as_ref()
        .try_into()
        .map_err(|_| JournalError::Corrupt(format!("{} is not 2 bytes", String::from_utf8_lossy(name))))?;
    Ok(Some(u16::from_be_bytes(bytes)))
}

impl SledJournal {
    /// Open (or create) the journal in `dir`. A store created with another shard count is
    /// refused: entities would silently change shards.
    pub fn open(dir: &Path, shard_count: u16) -> Result<Self, JournalError> {
        Self::open_with_cache(dir, shard_count, DEFAULT_CACHE_BYTES)
    }

    /// `open` with sled's page cache bounded to `cache_bytes`.
    pub fn open_with_cache(dir: &Path, shard_count: u16, cache_bytes: u64) -> Result<Self, JournalError> {
        Self::open_with(dir, shard_count, SledOptions { cache_bytes, ..SledOptions::default() })
    }

    /// `open` with every option.
    pub fn open_with(dir: &Path, shard_count: u16, options: SledOptions) -> Result<Self, JournalError> {
        if shard_count == 0 {
            return Err(JournalError::InvalidAppend("shard count must be at least 1".into()));
        }
        // Synced: the writer's flush reaches the device (see `sled_writer`).
        let synced = SyncedDb::open(dir, options.cache_bytes).map_err(unavailable)?;
        let db = sled::Db::clone(&synced);
        // A store in a newer format is refused before anything in it is written; one without
        // the marker predates it and is read as it is.
        let format = meta_u16(&db, META_FORMAT)?;
        if let Some(format) = format.filter(|format| *format > STORE_FORMAT) {
            return Err(JournalError::Incompatible(format!(
                "{} is in store format {format}, written by a newer build; this build reads formats up to \
                 {STORE_FORMAT}: run the build that wrote it",
                dir.display()
            )));
        }
        let created = match meta_u16(&db, META_SHARD_COUNT)? {
            Some(stored) if stored != shard_count => {
                return Err(JournalError::InvalidAppend(format!(
                    "{} was created with {stored} shards, not {shard_count}",
                    dir.display()
                )))
            }
            Some(_) => false,
            None => {
                db.insert(prefixed(META, META_SHARD_COUNT), &shard_count.to_be_bytes()).map_err(unavailable)?;
                true
            }
        };
        let unmarked = format != Some(STORE_FORMAT);
        if unmarked {
            db.insert(prefixed(META, META_FORMAT), &STORE_FORMAT.to_be_bytes()).map_err(unavailable)?;
        }
        if created || unmarked {
            synced.flush().map_err(unavailable)?;
        }
        let pending = Arc::new(RwLock::new(PendingLog::load(&db)?));
        let setup = WriterSetup {
            shard_count,
            pending: pending.clone(),
            fold: options.fold,
            fold_on_close: options.fold_on_close,
        };
        let (sender, receiver) = mpsc::channel();
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer_loop(synced, setup, receiver))
            .map_err(|error| JournalError::Unavailable(format!("cannot start the journal writer: {error}")))?;
        Ok(Self { shard_count, tree: db, pending, sender: Mutex::new(Some(sender)), writer: Mutex::new(Some(writer)) })
    }

    /// The shard count a store was created with, if it exists.
    pub fn stored_shard_count(dir: &Path) -> Result<Option<u16>, JournalError> {
        if !dir.exists() {
            return Ok(None);
        }
        let db = super::sled_open::open(&sled::Config::new().path(dir)).map_err(unavailable)?;
        meta_u16(&db, META_SHARD_COUNT)
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

    /// An entity's events after `after_sequence`: its records, then its held runs. The record
    /// holding the first of them may be a run that begins before it.
    ///
    /// The held runs are taken first: a fold that writes them as records before the records are
    /// read leaves them in both (the second copy is skipped), and one after leaves them held.
    fn read_entity_now(&self, entity: EntityRef, after_sequence: u64) -> Result<Vec<StoredEvent>, JournalError> {
        let held = read_pending(&self.pending).entity_runs(&entity_key(&entity));
        let start = prefixed(EVENTS, &event_key(&entity, after_sequence.saturating_add(1)));
        let end = prefixed(EVENTS, &event_key(&entity, u64::MAX));
        // From the first event on, no record can begin before the one asked for.
        let lowest = (after_sequence > 0).then(|| prefixed(EVENTS, &event_key(&entity, 0)));
        let mut events = Vec::new();
        for item in holding_then_later(&self.tree, lowest, start, end).map_err(unavailable)? {
            let (key, value) = item.map_err(unavailable)?;
            push_after(&mut events, entity, &key[1..], &value, after_sequence)?;
        }
        for (key, value) in held {
            let after = events.last().map_or(after_sequence, |event: &StoredEvent| event.sequence);
            push_after(&mut events, entity, &key, &value, after)?;
        }
        Ok(events)
    }

    /// A shard's events after `after`: its folded records, then its pending tail. Positions
    /// are dense in a shard, so a tail that does not start right after the folded events
    /// means a fold moved entries between the two reads: read again.
    fn read_shard_now(&self, shard: ShardId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, JournalError> {
        for _ in 0..READ_ATTEMPTS {
            let mut events = self.read_folded(shard, after, limit)?;
            if events.len() >= limit {
                return Ok(events);
            }
            let next = events.last().map_or(after, |event| event.position);
            // The held runs are taken under the lock (a fold writes them under other keys), and
            // read after it, so the writer never waits on a reader's decoding.
            let (first, keys, runs) = {
                let pending = read_pending(&self.pending);
                match pending.tail(shard, next, limit - events.len()) {
                    None => return Ok(events),
                    Some((first, _)) if first > next + 1 => continue,
                    Some((first, keys)) => {
                        let runs: Vec<_> = keys.chunks_exact(EVENT_KEY_LEN).map(|key| pending.run(key)).collect();
                        (first, keys, runs)
                    }
                }
            };
            let mut records = Records::default();
            for ((position, key), run) in (first..).zip(keys.chunks_exact(EVENT_KEY_LEN)).zip(runs) {
                events.push(match run {
                    Some(run) => event_in(shard, key, &run, position)?,
                    // A `g` record's entry: its event is stored already.
                    None => records.event(&self.tree, shard, key, position)?,
                });
            }
            return Ok(events);
        }
        Err(JournalError::Unavailable(format!("shard {shard}'s log kept being folded while it was read")))
    }

    /// A shard's events after `after` in its folded `l` records.
    fn read_folded(&self, shard: ShardId, after: u64, limit: usize) -> Result<Vec<StoredEvent>, JournalError> {
        let wanted = after.saturating_add(1);
        let lowest = prefixed(SHARD_LOG, &shard_log_key(shard, 0));
        let start = prefixed(SHARD_LOG, &shard_log_key(shard, wanted));
        let end = prefixed(SHARD_LOG, &shard_log_key(shard, u64::MAX));
        let (mut events, mut records) = (Vec::new(), Records::default());
        for item in holding_then_later(&self.tree, Some(lowest), start, end).map_err(unavailable)? {
            let (key, record) = item.map_err(unavailable)?;
            let first = shard_log_first(&key[1..])?;
            for (position, event_key_bytes) in (first..).zip(shard_log_entries(&record)?) {
                if events.len() >= limit {
                    return Ok(events);
                }
                if position <= after {
                    continue;
                }
                events.push(records.event(&self.tree, shard, event_key_bytes, position)?);
            }
        }
        Ok(events)
    }
}

/// The records from the one holding `start` to `end`, as one range. A record (a shard log
/// record, a run of events) may begin before the key it holds: the holding one is the last at
/// or before `start`, down to `lowest`. Without `lowest`, none begins before `start`.
///
/// One range from the holding record's key, not the holding record and then a second range
/// after `start`: a record written between those two reads that begins at `start` itself (a
/// fold's shard log record, an entity's next run) fell in neither, and a later one was read
/// after the gap it left. sled's iterator meets the keys written ahead of it while it runs.
fn holding_then_later(
    tree: &sled::Db,
    lowest: Option<Vec<u8>>,
    start: Vec<u8>,
    end: Vec<u8>,
) -> Result<sled::Iter, sled::Error> {
    let from = match lowest {
        None => start,
        Some(lowest) => match tree.range(lowest.as_slice()..=start.as_slice()).next_back().transpose()? {
            Some((holding, _)) => holding.to_vec(),
            // Nothing at or before `start` yet: whatever is written there meanwhile is met.
            None => lowest,
        },
    };
    Ok(tree.range(from..=end))
}

/// The events of one entity's record (`key`: its first event's key, without the keyspace
/// prefix) with sequences after `after`, pushed in order.
fn push_after(
    events: &mut Vec<StoredEvent>,
    entity: EntityRef,
    key: &[u8],
    value: &[u8],
    after: u64,
) -> Result<(), JournalError> {
    let first = read_u64(&key[ENTITY_KEY_LEN..], "event key")?;
    let record = decode_event_record(value)?;
    for (index, payload) in record.payloads.iter().enumerate() {
        let sequence = first + index as u64;
        if sequence > after {
            let (shard, position) = (record.shard, record.position(index));
            events.push(StoredEvent { entity, sequence, shard, position, payload: payload.to_vec() });
        }
    }
    Ok(())
}

/// The event at `position` of a shard in the record under `key` (its first event's key).
fn event_in(shard: ShardId, key: &[u8], value: &[u8], position: u64) -> Result<StoredEvent, JournalError> {
    let entity = decode_entity_key(key)?;
    let first = read_u64(&key[ENTITY_KEY_LEN..], "shard log entry")?;
    let record = decode_event_record(value)?;
    if record.shard != shard {
        return Err(JournalError::Corrupt(format!("shard {shard} log names an event of shard {}", record.shard)));
    }
    let (index, payload) = record.at(position)?;
    Ok(StoredEvent { entity, sequence: first + index, shard, position, payload: payload.to_vec() })
}

/// Most records a shard read keeps while it reads.
const RECORDS_KEPT: usize = 1024;

/// The events records a shard read met: an entity's events in one record lie apart in the
/// shard log, each entry naming the record, so a record is looked up once per read.
#[derive(Default)]
struct Records {
    /// By event key (without the keyspace prefix).
    kept: HashMap<Vec<u8>, sled::IVec>,
}

impl Records {
    /// The event at `position` of a shard, whose log entry names its record (`event_key_bytes`:
    /// the key of the record's first event).
    fn event(
        &mut self,
        tree: &sled::Db,
        shard: ShardId,
        event_key_bytes: &[u8],
        position: u64,
    ) -> Result<StoredEvent, JournalError> {
        if let Some(value) = self.kept.get(event_key_bytes) {
            return event_in(shard, event_key_bytes, value, position);
        }
        let value = tree
            .get(prefixed(EVENTS, event_key_bytes))
            .map_err(unavailable)?
            .ok_or_else(|| JournalError::Corrupt(format!("shard {shard} log names a missing event")))?;
        let event = event_in(shard, event_key_bytes, &value, position)?;
        if self.kept.len() >= RECORDS_KEPT {
            self.kept.clear();
        }
        self.kept.insert(event_key_bytes.to_vec(), value);
        Ok(event)
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
        let result = last_position(&self.tree, &read_pending(&self.pending), shard).map(Some);
        Box::pin(async move { result })
    }

    fn remember_inbound(&self, org: OrgId, message_id: &str) -> BoxFuture<'_, Result<bool, JournalError>> {
        let key = inbound_key(org, message_id);
        self.submit(|reply| WriteRequest::Inbound { key, reply })
    }
}
