//! The embedded journal's writer: one thread that checks, applies and makes durable every
//! write before its caller hears back.
//!
//! ## The fsync policy (group commit)
//! Every write (append, fence, snapshot, consumer position, inbound id) goes through one
//! writer thread. It takes whatever requests are queued (up to `MAX_GROUP`) and checks them in
//! arrival order against the stored keys plus the group's own pending writes, so the epoch
//! and sequence checks see exactly what precedes the request. A refused request adds nothing;
//! an accepted one adds its writes, all or nothing, to the group's batch. The batch is applied
//! atomically, then one flush of the database (a `sled_open::SyncedDb`: sled's flush writes its
//! log, then `fdatasync` syncs that file) makes the whole group durable, and only then are the
//! group's callers answered. So an
//! `Ok` always means "on disk", and the cost of the sync is shared by every request that
//! arrived meanwhile (those queue up during it and make the next group). Being the only
//! writer, the thread needs no locks or transactions for the checks to be atomic with the
//! append.
//!
//! Why the `fdatasync`: sled 0.34's flush ends in `sync_file_range`, which survives a process
//! crash (`kill -9`) but flushes neither the drive's volatile write cache nor the file's size,
//! so a power loss could undo acknowledged groups until sled's background `fsync` (every
//! 500 ms) ran (sled issues #1351, #1452). It costs ~20 % of the journal's append rate on this
//! machine (`bench backbone`: 70–74 k against 91–93 k appends/s) and did not move the demo.
//! A sync that fails poisons the journal (`SyncedDb` remembers it): every later write is refused
//! until the node restarts, since the kernel may have dropped the pages it could not write and
//! no later sync could prove them on disk (PostgreSQL's answer to the same `fsync` semantics).
//! A log item over 128 KiB (a quarter of sled's segment: a large snapshot, a leaf of large
//! values) goes to a file of its own under `blobs/`, which sled never syncs; the flush syncs
//! every blob file new since the last one, and the folder, before the log (`SyncedDb`).
//!
//! Flushing on a second thread while the writer checked the next group was measured slower,
//! not faster: end to end 36–37 k commands/s against 52–56 k flushing inline (`bench
//! backbone`, alternating runs). A flush seals sled's current IO buffer, and the writer's next
//! insert spun (`sched_yield`) until a new one was installed; the groups also stayed small
//! (~11 requests), so every flush and wake-up was paid for a handful of commands. Moving only
//! the `fdatasync` to a thread of its own (stop 19) raised the journal's append rate 8–20 % but
//! the p99 at half load went from 4.0–4.3 ms to 4.6–11.7 ms, each group then waiting on two
//! thread hand-offs, so it stays inline too; stop 24 tried it again for large groups only
//! (the half-load path unchanged) and measured no gain. Nor did a commit delay (under load,
//! a group waiting for the callers the last answers just released, PostgreSQL's
//! `commit_delay`): groups twice as large, half the flushes, the same append rate. sled's
//! `apply_batch` is over half of the writer's time, and a flush costs what its bytes do.
//! Readers may see a group's effects a moment before its flush returns; nothing is
//! acknowledged before it, so nobody acts on an acknowledgement that a crash could undo.

use super::sled_fold::Fold;
use super::sled_keys::{
    decode_event_record, entity_key, event_key, event_run_value, event_value, prefixed, read_u64, shard_key,
    shard_log_entries, shard_log_first, shard_log_key, CONSUMERS, ENTITY_KEY_LEN, EPOCHS, EVENTS, HELD, INBOUND,
    RUN_MAX_BYTES, RUN_MAX_EVENTS, SHARD_LOG, SNAPSHOTS,
};
use super::sled_open::SyncedDb;
use super::sled_pending::{
    encode_held, held_key, held_records, FoldPolicy, GroupLog, HeldRun, PendingLog, StagedRun, HELD_RECORD_BYTES,
};
use super::{AppendBatch, Epoch, JournalError, PendingEvent};
use practice_protocol::envelope::EntityRef;
use practice_protocol::shard::{shard_of, ShardId};
use std::collections::{HashMap, HashSet};
use std::sync::{mpsc, Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use tokio::sync::oneshot;

/// Most requests one group commit takes; bounds one batch's size.
const MAX_GROUP: usize = 4096;

pub(super) type Reply<T> = oneshot::Sender<Result<T, JournalError>>;

pub(super) enum WriteRequest {
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

pub(super) fn unavailable(error: sled::Error) -> JournalError {
    JournalError::Unavailable(format!("sled: {error}"))
}

/// The pending log, shared with readers; only the writer changes it.
pub(super) type SharedPending = Arc<RwLock<PendingLog>>;

pub(super) fn read_pending(pending: &SharedPending) -> RwLockReadGuard<'_, PendingLog> {
    pending.read().unwrap_or_else(PoisonError::into_inner)
}

fn write_pending(pending: &SharedPending) -> RwLockWriteGuard<'_, PendingLog> {
    pending.write().unwrap_or_else(PoisonError::into_inner)
}

/// The last position in a shard (0 when empty): its last pending entry, else the last event
/// of its greatest folded record.
pub(super) fn last_position(db: &sled::Db, pending: &PendingLog, shard: ShardId) -> Result<u64, JournalError> {
    match pending.last(shard) {
        Some(last) => Ok(last),
        None => last_folded_position(db, shard),
    }
}

fn last_folded_position(db: &sled::Db, shard: ShardId) -> Result<u64, JournalError> {
    let start = prefixed(SHARD_LOG, &shard_log_key(shard, 0));
    let end = prefixed(SHARD_LOG, &shard_log_key(shard, u64::MAX));
    match db.range(start..=end).next_back() {
        Some(item) => {
            let (key, value) = item.map_err(unavailable)?;
            let first = shard_log_first(&key[1..])?;
            Ok(first + shard_log_entries(&value)?.len() as u64 - 1)
        }
        None => Ok(0),
    }
}

/// An entity's last stored sequence (0 when new): the last event of its last held run, else of
/// its greatest record.
fn last_sequence(db: &sled::Db, pending: &PendingLog, entity: &EntityRef) -> Result<u64, JournalError> {
    if let Some(head) = pending.entity_head(&entity_key(entity))? {
        return Ok(head);
    }
    let start = prefixed(EVENTS, &event_key(entity, 0));
    let end = prefixed(EVENTS, &event_key(entity, u64::MAX));
    match db.range(start..=end).next_back() {
        Some(item) => {
            let (key, value) = item.map_err(unavailable)?;
            let first = read_u64(&key[1 + ENTITY_KEY_LEN..], "event key")?;
            Ok(first + decode_event_record(&value)?.payloads.len() as u64 - 1)
        }
        None => Ok(0),
    }
}

/// Shard positions, shard epochs and entity heads as the writer has written them. The writer
/// keeps one across groups (`known`): it is the only writer, so what it wrote stays true; a
/// failed apply clears it (what reached sled is then unknown) and values are read back from
/// sled on demand. A group keeps its own (`moves`), which `known` learns once the batch is
/// applied.
#[derive(Default)]
struct Facts {
    /// Last position per shard.
    positions: HashMap<ShardId, u64>,
    /// Lease epoch per shard.
    epochs: HashMap<ShardId, u64>,
    /// Last sequence per entity, recently written; the writer's are bounded by
    /// `HEAD_GENERATION`.
    heads: HashMap<[u8; ENTITY_KEY_LEN], u64>,
    /// The generation of heads before `heads` (the writer's only).
    older_heads: HashMap<[u8; ENTITY_KEY_LEN], u64>,
}

/// Entity heads per generation the writer remembers. When the current generation is full it
/// becomes the older one and the one before is forgotten, so the writer always knows the
/// heads of at least the last `HEAD_GENERATION` entities it wrote (at most twice that, ~15 MB).
/// A head it forgot is read back from sled (a reverse range read, from disk once sled's cache
/// no longer holds the page): with 100,000 claims in flight in the demo, forgetting them all
/// at once at 65,536 made those reads a quarter of the writer's time.
const HEAD_GENERATION: usize = 131_072;

impl Facts {
    fn clear(&mut self) {
        self.positions.clear();
        self.epochs.clear();
        self.heads.clear();
        self.older_heads.clear();
    }

    fn head(&self, key: &[u8; ENTITY_KEY_LEN]) -> Option<&u64> {
        self.heads.get(key).or_else(|| self.older_heads.get(key))
    }

    /// After a group's batch is applied: its moves become the writer's knowledge, heads in
    /// generations of `generation`.
    fn learn(&mut self, group: Facts, generation: usize) {
        self.positions.extend(group.positions);
        self.epochs.extend(group.epochs);
        if self.heads.len() + group.heads.len() > generation {
            self.older_heads = std::mem::take(&mut self.heads);
        }
        self.heads.extend(group.heads);
    }
}

/// What the writer keeps between groups about folding.
#[derive(Default)]
struct Folding {
    /// The fold under way.
    fold: Option<Fold>,
    /// The entities that wrote a run to its record since the last fold started.
    hot: HashSet<[u8; ENTITY_KEY_LEN]>,
}

/// What a group did to the pending groups, for the pending log to learn once it is applied.
struct LogWrite {
    /// Folds written: everything, or the groups up to a number.
    cleared: Cleared,
    /// `h` records: each one's number, entries and runs.
    held: Vec<(u64, GroupLog, Vec<HeldRun>)>,
}

enum Cleared {
    Nothing,
    All,
    Through(u64),
}

/// A group's pending writes over the stored keys: reads see the group's own earlier writes.
/// Events are gathered as runs and the shard log entries per shard, for an `h` record or a
/// fold (nothing reads them back within a group: heads and positions answer for them), and
/// the few keys a later request may read (snapshots, inbound ids) are kept in `writes` too.
struct Staged<'a> {
    db: &'a sled::Db,
    known: &'a Facts,
    pending: &'a PendingLog,
    moves: Facts,
    batch: sled::Batch,
    writes: HashMap<Vec<u8>, Vec<u8>>,
    /// The group's runs, in the order their positions were given.
    runs: Vec<StagedRun>,
}

impl<'a> Staged<'a> {
    fn new(db: &'a sled::Db, known: &'a Facts, pending: &'a PendingLog) -> Self {
        Self {
            db,
            known,
            pending,
            moves: Facts::default(),
            batch: sled::Batch::default(),
            writes: HashMap::new(),
            runs: Vec::new(),
        }
    }

    /// The batch to apply, with the group's events and shard log entries (`h` records, or a
    /// fold of everything when it cannot be held) and the next slice of a fold under way
    /// (started when one is due), and what it moves.
    fn finish(
        mut self,
        policy: FoldPolicy,
        folding: &mut Folding,
    ) -> Result<(sled::Batch, Facts, LogWrite), JournalError> {
        self.write_cold_runs(&mut folding.hot);
        if !self.runs.is_empty() && self.pending.must_fold_now(policy, &self.runs) {
            let (log, runs) = held_records(std::mem::take(&mut self.runs), usize::MAX).pop().unwrap_or_default();
            // The writer drops any fold under way once this one clears everything.
            self.pending.fold_into(&log, &runs, &mut self.batch)?;
            folding.hot.clear();
            return Ok((self.batch, self.moves, LogWrite { cleared: Cleared::All, held: Vec::new() }));
        }
        if folding.fold.is_none() && self.pending.due(policy) {
            // Spread over half the groups until the next is due.
            folding.fold = Fold::start(self.pending, policy.groups / 2);
            folding.hot.clear();
        }
        let mut cleared = Cleared::Nothing;
        if let Some(fold) = folding.fold.as_mut() {
            if fold.stage_slice(self.pending, &mut self.batch)? {
                cleared = Cleared::Through(fold.through());
            }
        }
        let mut held = Vec::new();
        for (number, (log, runs)) in (self.pending.next_group()..).zip(held_records(self.runs, HELD_RECORD_BYTES)) {
            self.batch.insert(held_key(number), encode_held(&log, &runs));
            held.push((number, log, runs));
        }
        Ok((self.batch, self.moves, LogWrite { cleared, held }))
    }

    /// An entity's first run since the last fold started goes straight to its record; only its
    /// later runs before the next fold are held, to be joined (`hot`: the entities that wrote
    /// one). Holding every run cost the demo 8–16 %: its claims seldom append twice within a
    /// fold, so holding only wrote their events twice. A run goes to its record only while its
    /// entity has nothing held, so held runs stay an entity's newest, which readers rely on.
    fn write_cold_runs(&mut self, hot: &mut HashSet<[u8; ENTITY_KEY_LEN]>) {
        for run in &mut self.runs {
            let mut entity = [0u8; ENTITY_KEY_LEN];
            entity.copy_from_slice(&run.key[..ENTITY_KEY_LEN]);
            if hot.contains(&entity) || self.pending.holds(&entity) {
                continue;
            }
            hot.insert(entity);
            self.batch.insert(prefixed(EVENTS, &run.key), std::mem::take(&mut run.value));
            run.held = false;
        }
    }

    /// The group's own value, else the writer's; `None`: read it from sled.
    fn recall(&self, pick: impl Fn(&Facts) -> Option<&u64>) -> Option<u64> {
        pick(&self.moves).or_else(|| pick(self.known)).copied()
    }

    fn head(&self, entity: &EntityRef, key: &[u8; ENTITY_KEY_LEN]) -> Result<u64, JournalError> {
        match self.recall(|facts| facts.head(key)) {
            Some(head) => Ok(head),
            None => last_sequence(self.db, self.pending, entity),
        }
    }

    fn position(&self, shard: ShardId) -> Result<u64, JournalError> {
        match self.recall(|facts| facts.positions.get(&shard)) {
            Some(position) => Ok(position),
            None => last_position(self.db, self.pending, shard),
        }
    }

    fn epoch(&self, shard: ShardId) -> Result<u64, JournalError> {
        match self.recall(|facts| facts.epochs.get(&shard)) {
            Some(epoch) => Ok(epoch),
            None => match self.db.get(prefixed(EPOCHS, &shard_key(shard))).map_err(unavailable)? {
                Some(value) => read_u64(&value, "epoch"),
                None => Ok(0),
            },
        }
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, JournalError> {
        if let Some(value) = self.writes.get(key) {
            return Ok(Some(value.clone()));
        }
        Ok(self.db.get(key).map_err(unavailable)?.map(|value| value.to_vec()))
    }

    /// A write a later request of the group may read back.
    fn put_readable(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.batch.insert(key.as_slice(), value.as_slice());
        self.writes.insert(key, value);
    }

    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.batch.insert(key, value);
    }
}

/// How the writer runs: where its pending log lives and when it folds.
pub(super) struct WriterSetup {
    pub shard_count: u16,
    pub pending: SharedPending,
    pub fold: FoldPolicy,
    /// Fold what is pending when the journal closes (always, but in tests of recovery).
    pub fold_on_close: bool,
}

pub(super) fn writer_loop(db: SyncedDb, setup: WriterSetup, receiver: mpsc::Receiver<WriteRequest>) {
    let mut known = Facts::default();
    let mut folding = Folding::default();
    // Whether the pending log must be read back from sled: a failed apply left it unknown.
    let mut pending_stale = false;
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(request) => group.push(request),
                Err(_) => break,
            }
        }
        if let Some(lost) = db.lost() {
            answer(group, Err(JournalError::Unavailable(format!("the journal's log: {lost}"))));
            continue;
        }
        if pending_stale {
            match PendingLog::load(&db) {
                Ok(reloaded) => {
                    *write_pending(&setup.pending) = reloaded;
                    pending_stale = false;
                }
                Err(error) => {
                    answer(group, Err(error));
                    continue;
                }
            }
        }
        let staged = {
            let pending = read_pending(&setup.pending);
            let mut staged = Staged::new(&db, &known, &pending);
            let results: Vec<Applied> =
                group.iter().map(|request| check_request(&mut staged, setup.shard_count, request)).collect();
            staged.finish(setup.fold, &mut folding).map(|(batch, moves, log)| (results, batch, moves, log))
        };
        let (results, batch, moves, log) = match staged {
            Ok(staged) => staged,
            Err(error) => {
                folding.fold = None;
                answer(group, Err(error));
                continue;
            }
        };
        if !matches!(log.cleared, Cleared::Nothing) {
            folding.fold = None;
        }
        let applied = db.apply_batch(batch).map_err(unavailable);
        if applied.is_ok() {
            known.learn(moves, HEAD_GENERATION);
            if let Err(error) = learn_log(&setup.pending, log) {
                tracing::error!(%error, "the pending shard log went out of step; reading it back");
                pending_stale = true;
            }
        } else {
            // What reached sled is unknown: read everything back from sled next time, and fold
            // again from the start (a fold rewrites the same records).
            known.clear();
            pending_stale = true;
            folding.fold = None;
        }
        let durable = applied.and_then(|()| db.flush().map_err(unavailable));
        answer(group, durable.map(|()| results));
    }
    if db.lost().is_some() {
        return;
    }
    if setup.fold_on_close && !pending_stale {
        // A store closed cleanly holds no `h` records: every event is where it stays.
        let fold = read_pending(&setup.pending).fold_all();
        let folded = fold.and_then(|fold| fold.map_or(Ok(()), |batch| db.apply_batch(batch).map_err(unavailable)));
        if let Err(error) = folded {
            tracing::error!(%error, "folding the pending shard log at close failed; the next open reads it back");
        }
    }
    if let Err(error) = db.flush() {
        tracing::error!(%error, "final journal flush failed");
    }
}

fn learn_log(pending: &SharedPending, log: LogWrite) -> Result<(), JournalError> {
    let mut pending = write_pending(pending);
    match log.cleared {
        Cleared::Nothing => {}
        Cleared::All => pending.clear(),
        Cleared::Through(number) => pending.clear_through(number),
    }
    for (index, (number, entries, runs)) in log.held.into_iter().enumerate() {
        match index {
            0 => pending.add(HELD, number, entries, runs)?,
            _ => pending.add_to_commit(number, entries, runs)?,
        }
    }
    Ok(())
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

/// Check one request against the stored keys and the group's earlier writes, and stage its
/// writes. A refused request (or one whose check could not read) stages nothing.
fn check_request(staged: &mut Staged<'_>, shard_count: u16, request: &WriteRequest) -> Applied {
    match request {
        WriteRequest::Fence(shard, _) => match staged.epoch(*shard) {
            Ok(current) => {
                let next = current + 1;
                staged.put(prefixed(EPOCHS, &shard_key(*shard)), next.to_be_bytes().to_vec());
                staged.moves.epochs.insert(*shard, next);
                Applied::Epoch(Ok(Epoch(next)))
            }
            Err(error) => Applied::Epoch(Err(error)),
        },
        WriteRequest::Append(batch, _) => Applied::Unit(stage_append(staged, shard_count, batch)),
        WriteRequest::Snapshot { entity, sequence, state, .. } => {
            let key = prefixed(SNAPSHOTS, &entity_key(entity));
            let current = match staged.get(&key) {
                Ok(Some(value)) => read_u64(&value, "snapshot").unwrap_or(0),
                Ok(None) => 0,
                Err(error) => return Applied::Unit(Err(error)),
            };
            // A late, older snapshot never replaces a newer one.
            if *sequence >= current {
                let mut value = Vec::with_capacity(8 + state.len());
                value.extend_from_slice(&sequence.to_be_bytes());
                value.extend_from_slice(state);
                staged.put_readable(key, value);
            }
            Applied::Unit(Ok(()))
        }
        WriteRequest::Position { key, position, .. } => {
            staged.put(prefixed(CONSUMERS, key), position.to_be_bytes().to_vec());
            Applied::Unit(Ok(()))
        }
        WriteRequest::Inbound { key, .. } => {
            let key = prefixed(INBOUND, key);
            match staged.get(&key) {
                Ok(Some(_)) => Applied::Bool(Ok(false)),
                Ok(None) => {
                    staged.put_readable(key, Vec::new());
                    Applied::Bool(Ok(true))
                }
                Err(error) => Applied::Bool(Err(error)),
            }
        }
    }
}

fn stage_append(staged: &mut Staged<'_>, shard_count: u16, batch: &AppendBatch) -> Result<(), JournalError> {
    if batch.events.is_empty() {
        return Err(JournalError::InvalidAppend("empty batch".into()));
    }
    if batch.shard.0 >= shard_count {
        return Err(JournalError::InvalidAppend(format!("no shard {} of {shard_count}", batch.shard)));
    }
    let current = Epoch(staged.epoch(batch.shard)?);
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
    // Consecutive events of one entity (a command's, or a batch of commands') are one record,
    // a run, under the first one's key: one sled insert for them all. Each shard log entry
    // names its event's record.
    let mut position = staged.position(batch.shard)?;
    for run in runs(&batch.events) {
        let key = event_key(&run[0].entity, run[0].sequence);
        let value = match run {
            [event] => event_value(batch.shard, position + 1, &event.payload),
            _ => {
                let payloads: Vec<&[u8]> = run.iter().map(|event| event.payload.as_slice()).collect();
                event_run_value(batch.shard, position + 1, &payloads)
            }
        };
        staged.runs.push(StagedRun {
            key,
            value,
            shard: batch.shard,
            first: position + 1,
            count: run.len(),
            held: true,
        });
        position += run.len() as u64;
    }
    staged.moves.positions.insert(batch.shard, position);
    staged.moves.heads.extend(heads);
    Ok(())
}

/// A batch's events cut into runs: consecutive events of one entity, each run within
/// `RUN_MAX_EVENTS` and, past its first event, `RUN_MAX_BYTES`.
fn runs(events: &[PendingEvent]) -> impl Iterator<Item = &[PendingEvent]> {
    let mut rest = events;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let mut bytes = first.payload.len();
        let length = 1 + rest[1..]
            .iter()
            .take(RUN_MAX_EVENTS - 1)
            .take_while(|event| {
                bytes += event.payload.len();
                event.entity == first.entity && bytes <= RUN_MAX_BYTES
            })
            .count();
        let (run, after) = rest.split_at(length);
        rest = after;
        Some(run)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_writing(entities: std::ops::Range<u8>) -> Facts {
        let mut group = Facts::default();
        group.heads.extend(entities.map(|entity| ([entity; ENTITY_KEY_LEN], u64::from(entity))));
        group
    }

    #[test]
    fn the_writer_remembers_at_least_the_last_generation_of_heads() {
        let mut known = Facts::default();
        known.learn(group_writing(0..3), 4);
        known.learn(group_writing(3..6), 4);
        // 0..3 became the older generation: still known.
        assert!((0..6).all(|entity| known.head(&[entity; ENTITY_KEY_LEN]) == Some(&u64::from(entity))));
        known.learn(group_writing(6..9), 4);
        // 3..6 is now the older one; 0..3 is forgotten (read back from sled when needed).
        assert_eq!(known.head(&[0; ENTITY_KEY_LEN]), None);
        assert!((3..9).all(|entity| known.head(&[entity; ENTITY_KEY_LEN]).is_some()));
        known.clear();
        assert_eq!(known.head(&[8; ENTITY_KEY_LEN]), None);
    }

    #[test]
    fn a_batch_is_cut_into_runs_of_one_entity_within_the_caps() {
        use practice_protocol::envelope::EntityKind;
        use practice_protocol::ids::OrgId;
        let entity =
            |id| EntityRef { org: OrgId(uuid::Uuid::nil()), kind: EntityKind::Claim, id: uuid::Uuid::from_u128(id) };
        let event = |id, sequence, bytes| PendingEvent {
            entity: entity(id),
            sequence,
            message_id: String::new(),
            payload: vec![0; bytes],
        };
        let lengths = |events: &[PendingEvent]| runs(events).map(<[_]>::len).collect::<Vec<_>>();
        // A, A, B, A: the second A run is apart.
        assert_eq!(lengths(&[event(1, 1, 10), event(1, 2, 10), event(2, 1, 10), event(1, 3, 10)]), vec![2, 1, 1]);
        // At most RUN_MAX_EVENTS in a run.
        let many: Vec<_> = (1..=RUN_MAX_EVENTS as u64 * 2 + 1).map(|sequence| event(1, sequence, 1)).collect();
        assert_eq!(lengths(&many), vec![RUN_MAX_EVENTS, RUN_MAX_EVENTS, 1]);
        // A run stops before the event that would take it past RUN_MAX_BYTES; one large event
        // is a run of its own.
        let half = RUN_MAX_BYTES / 2;
        assert_eq!(lengths(&[event(1, 1, half), event(1, 2, half), event(1, 3, 1)]), vec![2, 1]);
        assert_eq!(lengths(&[event(1, 1, RUN_MAX_BYTES * 2), event(1, 2, 1)]), vec![1, 1]);
        assert_eq!(lengths(&[]), Vec::<usize>::new());
    }
}
