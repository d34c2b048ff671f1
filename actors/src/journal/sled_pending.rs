//! The embedded journal's pending groups: each group commit's events and shard log entries,
//! held in `h` records and in memory until a fold writes them where they stay.
//!
//! sled's cost is per insert far more than per byte (a leaf clone, a log fragment, a split), and
//! a journal appending one event for each of 256 entities at once made one insert per event.
//! So a group commit writes its events (each entity's run, as `EVENTS` would store it) and its
//! shard log entries (the runs' keys, by shard) in `h` records of at most `HELD_RECORD_BYTES`,
//! and the writer keeps the same here, where readers find them. Every `FoldPolicy` records the
//! writer starts a fold (`sled_fold`): each entity's held runs become as few `EVENTS` records as
//! the caps allow (positions listed), the entries one `l` record per shard naming them, and the
//! `h` records go. The run of an entity with nothing held goes straight to its record
//! (`sled_writer`), so only an entity's later runs before the next fold are held: one appending
//! in each of 32 groups costs about two inserts instead of 32, and one appending once costs
//! what it did. An entity's held runs are always its newest events. A clean close
//! folds everything, so `h` records are only left by a crash; opening the store loads them back.
//!
//! Stores of format 2 kept only the entries pending, as `g` records, their events already
//! written: those load the same, and fold with the rest.

use super::sled_fold::merge_runs;
use super::sled_keys::{
    decode_event_record, prefixed, read_u64, shard_log_key, ENTITY_KEY_LEN, EVENTS, EVENT_KEY_LEN, HELD, PENDING,
    SHARD_LOG,
};
use super::JournalError;
use practice_protocol::shard::ShardId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::Arc;

/// One group's shard log: per shard, the position of its first event and the event keys of
/// consecutive positions from there, concatenated.
pub(super) type GroupLog = HashMap<ShardId, (u64, Vec<u8>)>;

/// An event key: entity key + sequence.
pub(super) type EventKey = [u8; EVENT_KEY_LEN];

/// One entity's events appended together: its first event's key and its `EVENTS` value.
pub(super) type HeldRun = (EventKey, Vec<u8>);

/// A held run as readers take it: its key and its shared value.
pub(super) type SharedRun = (EventKey, Arc<[u8]>);

/// When the writer folds the pending log into per-shard records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldPolicy {
    /// Fold once this many groups are pending (1: every group writes per-shard records).
    pub groups: usize,
    /// Fold once this many entries are pending, whatever the groups.
    pub entries: usize,
}

impl Default for FoldPolicy {
    /// A fold every 32 records, written over the next 16 group commits (`sled_fold`): every 64
    /// merged more but doubled the half-load p99 (`bench backbone`), every 16 merged less.
    fn default() -> Self {
        Self { groups: 32, entries: 8192 }
    }
}

/// Most entries one folded `l` record holds: a reader loads a whole record to find its place.
const RECORD_ENTRIES: usize = 512;

/// Most held run bytes one `h` record takes (a group holding more writes several; a run never
/// is cut). sled 0.34 splits a leaf only past 16 entries and writes a rewritten leaf over
/// 128 KiB to a blob file of its own, which the flush then syncs with its folder: with `h`
/// records of up to 64 KiB, `bench backbone` made 1,060 blob files (stop 25: 6).
pub(super) const HELD_RECORD_BYTES: usize = 4 * 1024;
/// A held run larger than this folds everything at once rather than sit in an `h` record.
const LARGE_RUN_BYTES: usize = 64 * 1024;
/// Fold everything at once past this many held bytes, whatever the groups.
const HELD_BYTES: usize = 8 << 20;

/// One `g` or `h` record not yet folded.
struct GroupRecord {
    prefix: u8,
    number: u64,
    /// How many entries it added per shard.
    entries: Vec<(ShardId, usize)>,
    runs: Vec<EventKey>,
    /// The first (or only) record of its group commit.
    opens_commit: bool,
}

impl GroupRecord {
    /// Its key in the store.
    fn key(&self) -> Vec<u8> {
        prefixed(self.prefix, &self.number.to_be_bytes())
    }
}

/// A held run: the group that holds it, and its `EVENTS` value, shared so readers take it out
/// of the lock and decode it after.
struct Held {
    group: u64,
    value: Arc<[u8]>,
}

/// The groups not yet folded: their entries by shard, their runs by key.
#[derive(Default)]
pub(super) struct PendingLog {
    /// Oldest first.
    groups: VecDeque<GroupRecord>,
    /// How many group commits they come from (after a crash, each record counts as one).
    commits: usize,
    next_group: u64,
    /// Per shard: the first pending position and the event keys from it on.
    shards: BTreeMap<ShardId, (u64, Vec<u8>)>,
    entries: usize,
    runs: BTreeMap<EventKey, Held>,
    held_bytes: usize,
}

impl PendingLog {
    /// The `g` and `h` records a store holds, in order.
    pub fn load(db: &sled::Db) -> Result<Self, JournalError> {
        let mut records = Vec::new();
        for prefix in [PENDING, HELD] {
            for item in db.scan_prefix([prefix]) {
                let (key, value) = item.map_err(super::sled_writer::unavailable)?;
                records.push((read_u64(&key[1..], "pending group key")?, prefix, value));
            }
        }
        records.sort_by_key(|(number, _, _)| *number);
        let mut pending = Self::default();
        for (number, prefix, value) in records {
            let (log, runs) = match prefix {
                PENDING => (decode(&value)?, Vec::new()),
                _ => decode_held(&value)?,
            };
            pending.add(prefix, number, log, runs)?;
        }
        Ok(pending)
    }

    /// The number the next `h` record takes.
    pub fn next_group(&self) -> u64 {
        self.next_group
    }

    /// Whether the held groups are due a fold (spread over the next groups, see `sled_fold`):
    /// counted in `h` records (at most 4 KiB each), so a fold's size, and the slice each group
    /// commit writes, stays about the same whatever the commits' sizes. Counting group commits
    /// instead made folds at half load three times as large (a commit there writes 2–3 records)
    /// and the half-load p99 4.2–6.9 ms against 4.0–4.6.
    pub fn due(&self, policy: FoldPolicy) -> bool {
        !self.groups.is_empty() && (self.groups.len() >= policy.groups || self.entries >= policy.entries)
    }

    /// Whether a group staging `runs` must fold everything at once rather than be held: one of
    /// its runs is too large to hold, or what is held would pass `HELD_BYTES` or twice what a
    /// fold is due at (folds in slices falling behind). Commits, not records, count here: a
    /// peak commit of ~100 KB writes ~25 `h` records, and counting those made folds of
    /// everything at once frequent at peak (peak p99 16–19 ms against 12–13).
    pub fn must_fold_now(&self, policy: FoldPolicy, runs: &[StagedRun]) -> bool {
        let bytes: usize = runs.iter().filter(|run| run.held).map(|run| run.value.len()).sum();
        let entries: usize = runs.iter().map(|run| run.count).sum();
        runs.iter().any(|run| run.held && run.value.len() > LARGE_RUN_BYTES)
            || self.held_bytes + bytes > HELD_BYTES
            || self.commits + 1 >= policy.groups.saturating_mul(2)
            || self.entries + entries >= policy.entries.saturating_mul(2)
    }

    /// Learn a `g` or `h` record once it is written. Each shard's entries must follow on from
    /// what is pending there: a fold or this log holds everything before.
    pub fn add(&mut self, prefix: u8, number: u64, log: GroupLog, runs: Vec<HeldRun>) -> Result<(), JournalError> {
        self.push(prefix, number, log, runs, true)
    }

    /// `add` a record that is not the first of its group commit.
    pub fn add_to_commit(&mut self, number: u64, log: GroupLog, runs: Vec<HeldRun>) -> Result<(), JournalError> {
        self.push(HELD, number, log, runs, false)
    }

    fn push(
        &mut self,
        prefix: u8,
        number: u64,
        log: GroupLog,
        runs: Vec<HeldRun>,
        opens_commit: bool,
    ) -> Result<(), JournalError> {
        for (shard, (first, _)) in &log {
            let expected = self.last(*shard).map_or(*first, |last| last + 1);
            if *first != expected {
                return Err(JournalError::Corrupt(format!(
                    "pending group {number} starts shard {shard} at {first}, expected {expected}"
                )));
            }
        }
        let mut record = GroupRecord { prefix, number, entries: Vec::new(), runs: Vec::new(), opens_commit };
        self.commits += usize::from(opens_commit);
        for (shard, (first, keys)) in log.into_iter().filter(|(_, (_, keys))| !keys.is_empty()) {
            let count = keys.len() / EVENT_KEY_LEN;
            self.entries += count;
            record.entries.push((shard, count));
            self.shards.entry(shard).or_insert_with(|| (first, Vec::new())).1.extend_from_slice(&keys);
        }
        for (key, value) in runs {
            self.held_bytes += value.len();
            record.runs.push(key);
            self.runs.insert(key, Held { group: number, value: value.into() });
        }
        self.groups.push_back(record);
        self.next_group = number + 1;
        Ok(())
    }

    /// Forget everything once a fold of it all is written (the numbering goes on).
    pub fn clear(&mut self) {
        self.groups.clear();
        self.commits = 0;
        self.shards.clear();
        self.entries = 0;
        self.runs.clear();
        self.held_bytes = 0;
    }

    /// Forget the groups up to `through` once their fold is written: their entries are the
    /// first of each shard's.
    pub fn clear_through(&mut self, through: u64) {
        while self.groups.front().is_some_and(|group| group.number <= through) {
            let Some(group) = self.groups.pop_front() else { break };
            self.commits -= usize::from(group.opens_commit);
            for (shard, count) in group.entries {
                if let Some((first, keys)) = self.shards.get_mut(&shard) {
                    let cut = (count * EVENT_KEY_LEN).min(keys.len());
                    keys.drain(..cut);
                    *first += (cut / EVENT_KEY_LEN) as u64;
                    if keys.is_empty() {
                        self.shards.remove(&shard);
                    }
                }
                self.entries = self.entries.saturating_sub(count);
            }
            for key in group.runs {
                if let Some(held) = self.runs.remove(&key) {
                    self.held_bytes = self.held_bytes.saturating_sub(held.value.len());
                }
            }
        }
    }

    /// The number of the newest group, if any is pending.
    pub fn newest(&self) -> Option<u64> {
        self.groups.back().map(|group| group.number)
    }

    /// How many runs the groups up to `through` hold.
    pub fn runs_through(&self, through: u64) -> usize {
        self.groups.iter().take_while(|group| group.number <= through).map(|group| group.runs.len()).sum()
    }

    /// A shard's last pending position.
    pub fn last(&self, shard: ShardId) -> Option<u64> {
        self.shards.get(&shard).map(|(first, keys)| first + (keys.len() / EVENT_KEY_LEN) as u64 - 1)
    }

    /// A shard's pending entries with `position > after`, at most `limit`: the first one's
    /// position and their event keys. `None` when there is none.
    pub fn tail(&self, shard: ShardId, after: u64, limit: usize) -> Option<(u64, Vec<u8>)> {
        let (first, keys) = self.shards.get(&shard)?;
        let start = after.saturating_add(1).max(*first);
        let skip = usize::try_from(start - first).ok()?.checked_mul(EVENT_KEY_LEN)?;
        let rest = keys.get(skip..).filter(|rest| !rest.is_empty())?;
        let take = rest.len().min(limit.saturating_mul(EVENT_KEY_LEN));
        Some((start, rest[..take].to_vec()))
    }

    /// The held run stored under `key`, if it is held (a `g` record's entries name runs already
    /// in `EVENTS`).
    pub fn run(&self, key: &[u8]) -> Option<Arc<[u8]>> {
        let key: &EventKey = key.try_into().ok()?;
        self.runs.get(key).map(|held| held.value.clone())
    }

    /// An entity's held runs, in sequence order.
    pub fn entity_runs(&self, entity: &[u8; ENTITY_KEY_LEN]) -> Vec<SharedRun> {
        self.runs.range(entity_range(entity)).map(|(key, held)| (*key, held.value.clone())).collect()
    }

    /// Whether any of an entity's events is held.
    pub fn holds(&self, entity: &[u8; ENTITY_KEY_LEN]) -> bool {
        self.runs.range(entity_range(entity)).next().is_some()
    }

    /// An entity's last held sequence, if any of its events is held.
    pub fn entity_head(&self, entity: &[u8; ENTITY_KEY_LEN]) -> Result<Option<u64>, JournalError> {
        let Some((key, held)) = self.runs.range(entity_range(entity)).next_back() else { return Ok(None) };
        let first = read_u64(&key[ENTITY_KEY_LEN..], "held event key")?;
        Ok(Some(first + decode_event_record(&held.value)?.payloads.len() as u64 - 1))
    }

    /// The runs of groups up to `through` after `after` in key order: at least `at_least` of
    /// them (when there are), then on to the end of the last one's entity, so an entity's runs
    /// are never cut between two calls. Whether these were the last.
    pub fn runs_after(&self, after: Option<&EventKey>, through: u64, at_least: usize) -> (Vec<SharedRun>, bool) {
        let start = after.map_or(Bound::Unbounded, |after| Bound::Excluded(*after));
        let mut runs: Vec<SharedRun> = Vec::new();
        for (key, held) in self.runs.range((start, Bound::Unbounded)).filter(|(_, held)| held.group <= through) {
            if runs.len() >= at_least
                && runs.last().is_some_and(|(last, _)| last[..ENTITY_KEY_LEN] != key[..ENTITY_KEY_LEN])
            {
                return (runs, false);
            }
            runs.push((*key, held.value.clone()));
        }
        (runs, true)
    }

    /// Stage the shard log of the groups up to `through` as `l` records (entries naming the
    /// records their runs went to, `renamed`), and the removal of those groups' records.
    pub fn stage_log_through(&self, through: u64, renamed: &HashMap<EventKey, EventKey>, batch: &mut sled::Batch) {
        let mut counts: BTreeMap<ShardId, usize> = BTreeMap::new();
        for group in self.groups.iter().take_while(|group| group.number <= through) {
            for (shard, count) in &group.entries {
                *counts.entry(*shard).or_default() += count;
            }
            batch.remove(group.key());
        }
        for (shard, count) in counts {
            if let Some((first, keys)) = self.shards.get(&shard) {
                let covered = &keys[..(count * EVENT_KEY_LEN).min(keys.len())];
                stage_shard_log(shard, *first, covered, renamed, batch);
            }
        }
    }

    /// Stage the fold of everything pending plus `group` and its `runs` (not written as an `h`
    /// record) at once: each entity's runs as few `EVENTS` records as the caps allow, one `l`
    /// record per shard (split every `RECORD_ENTRIES`) naming them, and the pending records
    /// removed.
    pub fn fold_into(&self, group: &GroupLog, runs: &[HeldRun], batch: &mut sled::Batch) -> Result<(), JournalError> {
        let mut all: BTreeMap<&EventKey, &[u8]> = self.runs.iter().map(|(key, held)| (key, &held.value[..])).collect();
        all.extend(runs.iter().map(|(key, value)| (key, value.as_slice())));
        let (records, renamed) = merge_runs(all)?;
        for (key, value) in records {
            batch.insert(prefixed(EVENTS, &key), value);
        }
        let mut shards: BTreeMap<ShardId, (u64, Vec<u8>)> = self.shards.clone();
        for (shard, (first, keys)) in group {
            shards.entry(*shard).or_insert_with(|| (*first, Vec::new())).1.extend_from_slice(keys);
        }
        for (shard, (first, keys)) in shards {
            stage_shard_log(shard, first, &keys, &renamed, batch);
        }
        for group in &self.groups {
            batch.remove(group.key());
        }
        Ok(())
    }

    /// The fold of everything pending, alone (a clean close); `None` when nothing is.
    pub fn fold_all(&self) -> Result<Option<sled::Batch>, JournalError> {
        if self.groups.is_empty() {
            return Ok(None);
        }
        let mut batch = sled::Batch::default();
        self.fold_into(&GroupLog::new(), &[], &mut batch)?;
        Ok(Some(batch))
    }
}

/// `l` records for a shard's consecutive entries from position `first`, each naming the record
/// its run went to.
fn stage_shard_log(
    shard: ShardId,
    first: u64,
    keys: &[u8],
    renamed: &HashMap<EventKey, EventKey>,
    batch: &mut sled::Batch,
) {
    for (index, chunk) in keys.chunks(RECORD_ENTRIES * EVENT_KEY_LEN).enumerate() {
        let position = first + (index * RECORD_ENTRIES) as u64;
        let mut record = Vec::with_capacity(chunk.len());
        for entry in chunk.chunks_exact(EVENT_KEY_LEN) {
            let named = <&EventKey>::try_from(entry).ok().and_then(|entry| renamed.get(entry));
            record.extend_from_slice(named.map_or(entry, |key| key.as_slice()));
        }
        batch.insert(prefixed(SHARD_LOG, &shard_log_key(shard, position)), record);
    }
}

/// A run a group commit staged: its key and value, its events' first position in `shard`, and
/// whether it is held (or written to its record with the group).
pub(super) struct StagedRun {
    pub key: EventKey,
    pub value: Vec<u8>,
    pub shard: ShardId,
    pub first: u64,
    pub count: usize,
    pub held: bool,
}

/// A group's runs as `h` record contents of at most `limit` held run bytes each (a run is never
/// cut), in order: each one's shard log entries (every run's) and held runs.
pub(super) fn held_records(runs: Vec<StagedRun>, limit: usize) -> Vec<(GroupLog, Vec<HeldRun>)> {
    let mut records = Vec::new();
    let (mut log, mut held, mut bytes) = (GroupLog::new(), Vec::new(), 0);
    for run in runs {
        if run.held && !held.is_empty() && bytes + run.value.len() > limit {
            records.push((std::mem::take(&mut log), std::mem::take(&mut held)));
            bytes = 0;
        }
        // Positions stay dense in a shard, so each record's entries there are consecutive.
        let (_, entries) = log.entry(run.shard).or_insert_with(|| (run.first, Vec::new()));
        for _ in 0..run.count {
            entries.extend_from_slice(&run.key);
        }
        if run.held {
            bytes += run.value.len();
            held.push((run.key, run.value));
        }
    }
    if !log.is_empty() {
        records.push((log, held));
    }
    records
}

/// Every key of one entity's events.
fn entity_range(entity: &[u8; ENTITY_KEY_LEN]) -> std::ops::RangeInclusive<EventKey> {
    let mut low = [0u8; EVENT_KEY_LEN];
    low[..ENTITY_KEY_LEN].copy_from_slice(entity);
    let mut high = [0xFFu8; EVENT_KEY_LEN];
    high[..ENTITY_KEY_LEN].copy_from_slice(entity);
    low..=high
}

pub(super) fn held_key(number: u64) -> Vec<u8> {
    prefixed(HELD, &number.to_be_bytes())
}

/// An `h` record: the group's shard log (a `g` record's layout) behind its length (4), the count
/// of held runs (4), then each run: its key, its value's length (4) and its value.
pub(super) fn encode_held(log: &GroupLog, runs: &[HeldRun]) -> Vec<u8> {
    let entries = encode(log);
    let size = 8 + entries.len() + runs.iter().map(|(_, value)| EVENT_KEY_LEN + 4 + value.len()).sum::<usize>();
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&u32::try_from(entries.len()).unwrap_or(u32::MAX).to_be_bytes());
    bytes.extend_from_slice(&entries);
    bytes.extend_from_slice(&u32::try_from(runs.len()).unwrap_or(u32::MAX).to_be_bytes());
    for (key, value) in runs {
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(&u32::try_from(value.len()).unwrap_or(u32::MAX).to_be_bytes());
        bytes.extend_from_slice(value);
    }
    bytes
}

fn decode_held(bytes: &[u8]) -> Result<(GroupLog, Vec<HeldRun>), JournalError> {
    let corrupt = |what: &str| JournalError::Corrupt(format!("held group record: {what}"));
    let length =
        |bytes: &[u8]| -> Option<usize> { Some(u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize) };
    let entries = length(bytes).ok_or_else(|| corrupt("a cut length"))?;
    let log = decode(bytes.get(4..4 + entries).ok_or_else(|| corrupt("cut entries"))?)?;
    let mut rest = &bytes[4 + entries..];
    let count = length(rest).ok_or_else(|| corrupt("a cut run count"))?;
    rest = &rest[4..];
    let (mut runs, mut held) = (Vec::new(), 0);
    while runs.len() < count {
        let key: EventKey =
            rest.get(..EVENT_KEY_LEN).and_then(|key| key.try_into().ok()).ok_or_else(|| corrupt("a cut key"))?;
        let size = length(&rest[EVENT_KEY_LEN..]).ok_or_else(|| corrupt("a cut length"))?;
        let start = EVENT_KEY_LEN + 4;
        let value = rest.get(start..start + size).ok_or_else(|| corrupt("a cut run"))?;
        held += decode_event_record(value)?.payloads.len();
        runs.push((key, value.to_vec()));
        rest = &rest[start + size..];
    }
    if !rest.is_empty() {
        return Err(corrupt("bytes after its runs"));
    }
    let named = log.values().map(|(_, keys)| keys.len() / EVENT_KEY_LEN).sum::<usize>();
    // Entries may also name runs their group wrote to their records.
    if held > named {
        return Err(corrupt(&format!("{held} events held for {named} shard log entries")));
    }
    Ok((log, runs))
}

/// A `g` record, and an `h` record's entries: per shard, ascending, shard (2) + first position
/// (8) + entry count (4) + the event keys.
pub(super) fn encode(log: &GroupLog) -> Vec<u8> {
    let mut shards: Vec<_> = log.iter().collect();
    shards.sort_unstable_by_key(|(shard, _)| **shard);
    let size = shards.iter().map(|(_, (_, keys))| 14 + keys.len()).sum();
    let mut bytes = Vec::with_capacity(size);
    for (shard, (first, keys)) in shards {
        bytes.extend_from_slice(&shard.0.to_be_bytes());
        bytes.extend_from_slice(&first.to_be_bytes());
        let count = u32::try_from(keys.len() / EVENT_KEY_LEN).unwrap_or(u32::MAX);
        bytes.extend_from_slice(&count.to_be_bytes());
        bytes.extend_from_slice(keys);
    }
    bytes
}

fn decode(mut bytes: &[u8]) -> Result<GroupLog, JournalError> {
    let corrupt = |what: &str| JournalError::Corrupt(format!("pending log record: {what}"));
    let mut log = GroupLog::new();
    while !bytes.is_empty() {
        let header = bytes.get(..14).ok_or_else(|| corrupt("a cut header"))?;
        let shard = ShardId(u16::from_be_bytes([header[0], header[1]]));
        let first = read_u64(&header[2..10], "pending log position")?;
        let count = u32::from_be_bytes([header[10], header[11], header[12], header[13]]) as usize;
        let end = 14 + count * EVENT_KEY_LEN;
        let keys = bytes.get(14..end).ok_or_else(|| corrupt("cut entries"))?;
        if count == 0 || log.insert(shard, (first, keys.to_vec())).is_some() {
            return Err(corrupt("an empty or repeated shard"));
        }
        bytes = &bytes[end..];
    }
    Ok(log)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::journal::sled_keys::event_value;

    fn keys(count: u8) -> Vec<u8> {
        (0..count).flat_map(|entry| [entry; EVENT_KEY_LEN]).collect()
    }

    fn group(entries: &[(u16, u64, u8)]) -> GroupLog {
        entries.iter().map(|(shard, first, count)| (ShardId(*shard), (*first, keys(*count)))).collect()
    }

    pub(in crate::journal) fn key(entity: u8, sequence: u64) -> EventKey {
        let mut key = [entity; EVENT_KEY_LEN];
        key[ENTITY_KEY_LEN..].copy_from_slice(&sequence.to_be_bytes());
        key
    }

    /// A one-event run of `entity` at `sequence`, at `position` of shard 0.
    pub(in crate::journal) fn run(entity: u8, sequence: u64, position: u64) -> HeldRun {
        (key(entity, sequence), event_value(ShardId(0), position, &[entity, sequence as u8]))
    }

    #[test]
    fn records_round_trip_and_bad_ones_are_refused() {
        let log = group(&[(3, 10, 2), (0, 1, 1)]);
        assert_eq!(decode(&encode(&log)).unwrap(), log);
        let bytes = encode(&log);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&bytes[..5]).is_err());
        assert!(decode(&[bytes.clone(), bytes].concat()).is_err(), "a repeated shard");

        let runs = vec![run(1, 1, 1), run(2, 1, 2), run(1, 2, 3)];
        let log = group(&[(0, 1, 3)]);
        let held = encode_held(&log, &runs);
        assert_eq!(decode_held(&held).unwrap(), (log.clone(), runs.clone()));
        for cut in 0..held.len() {
            assert!(decode_held(&held[..cut]).is_err(), "cut at {cut}");
        }
        assert!(decode_held(&encode_held(&group(&[(0, 1, 2)]), &runs)).is_err(), "three events, two entries");
        assert!(decode_held(&[held.clone(), vec![0]].concat()).is_err(), "a byte too many");
    }

    #[test]
    fn the_tail_follows_on_across_groups_and_a_gap_is_refused() {
        let mut pending = PendingLog::default();
        pending.add(PENDING, 7, group(&[(1, 5, 2)]), Vec::new()).unwrap();
        pending.add(HELD, 8, group(&[(1, 7, 3), (2, 1, 1)]), Vec::new()).unwrap();
        assert_eq!(pending.next_group(), 9);
        assert_eq!(pending.last(ShardId(1)), Some(9));
        assert_eq!(pending.last(ShardId(3)), None);
        assert_eq!(pending.tail(ShardId(1), 0, 100).unwrap().0, 5);
        let (first, tail) = pending.tail(ShardId(1), 6, 2).unwrap();
        assert_eq!((first, tail.len()), (7, 2 * EVENT_KEY_LEN));
        assert_eq!(tail[..EVENT_KEY_LEN], [0; EVENT_KEY_LEN], "position 7 is group 8's first entry");
        assert!(pending.tail(ShardId(1), 9, 10).is_none());
        assert!(pending.add(HELD, 9, group(&[(2, 3, 1)]), Vec::new()).is_err(), "shard 2 is at 1, so 2 comes next");
        // Two groups and six entries pending.
        assert!(pending.due(FoldPolicy { groups: 2, entries: 100 }));
        assert!(!pending.due(FoldPolicy { groups: 3, entries: 100 }));
        assert!(pending.due(FoldPolicy { groups: 3, entries: 6 }));
        let staged = |bytes| {
            vec![StagedRun {
                key: [9; EVENT_KEY_LEN],
                value: vec![0; bytes],
                shard: ShardId(3),
                first: 1,
                count: 1,
                held: true,
            }]
        };
        assert!(!pending.must_fold_now(FoldPolicy { groups: 2, entries: 100 }, &staged(1)));
        assert!(
            pending.must_fold_now(FoldPolicy { groups: 1, entries: 100 }, &staged(1)),
            "twice as many groups as due"
        );
        assert!(
            pending.must_fold_now(FoldPolicy { groups: 3, entries: 3 }, &staged(1)),
            "twice as many entries as due"
        );
        assert!(
            pending.must_fold_now(FoldPolicy { groups: 3, entries: 100 }, &staged(LARGE_RUN_BYTES + 1)),
            "a large run"
        );
        assert_eq!(pending.newest(), Some(8));
        // Group 7 folded: shard 1 goes on from group 8's entries, shard 2 is untouched.
        pending.clear_through(7);
        assert_eq!(
            pending.tail(ShardId(1), 0, 100).map(|(first, keys)| (first, keys.len())),
            Some((7, 3 * EVENT_KEY_LEN))
        );
        assert_eq!(pending.last(ShardId(2)), Some(1));
        assert!(!pending.due(FoldPolicy { groups: 2, entries: 5 }));
        pending.clear();
        assert_eq!((pending.last(ShardId(1)), pending.next_group()), (None, 9));
    }

    #[test]
    fn a_large_group_is_held_in_records_cut_between_runs_each_shard_following_on() {
        let third = HELD_RECORD_BYTES / 3;
        let staged = |entity: u8, shard: u16, first: u64, count: usize| StagedRun {
            key: [entity; EVENT_KEY_LEN],
            value: vec![entity; third],
            shard: ShardId(shard),
            first,
            count,
            held: true,
        };
        let runs = vec![staged(1, 0, 10, 2), staged(2, 1, 5, 1), staged(3, 0, 12, 1), staged(4, 0, 13, 3)];
        let records = held_records(runs, HELD_RECORD_BYTES);
        assert_eq!(records.len(), 2, "three runs fit one record");
        let (first_log, first_runs) = &records[0];
        assert_eq!(first_runs.iter().map(|(key, _)| key[0]).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert_eq!(first_log[&ShardId(0)], (10, [[1; EVENT_KEY_LEN], [1; EVENT_KEY_LEN], [3; EVENT_KEY_LEN]].concat()));
        assert_eq!(first_log[&ShardId(1)], (5, vec![2; EVENT_KEY_LEN]));
        assert_eq!(records[1].0[&ShardId(0)], (13, vec![4; 3 * EVENT_KEY_LEN]));
        // Learnt in order, the shard's entries follow on; one group commit's records count once
        // toward a fold.
        let mut pending = PendingLog::default();
        for (number, (log, runs)) in (0..).zip(records) {
            match number {
                0 => pending.add(HELD, number, log, runs).unwrap(),
                _ => pending.add_to_commit(number, log, runs).unwrap(),
            }
        }
        assert_eq!(pending.last(ShardId(0)), Some(15));
        let policy = FoldPolicy { groups: 2, entries: 100 };
        assert!(pending.due(policy), "two records");
        assert!(!pending.must_fold_now(policy, &[]), "one commit, not twice two");
        pending.add(HELD, 2, GroupLog::new(), Vec::new()).unwrap();
        assert!(!pending.must_fold_now(policy, &[]), "two commits, and the next makes three");
        pending.add(HELD, 3, GroupLog::new(), Vec::new()).unwrap();
        assert!(pending.must_fold_now(policy, &[]), "three commits, and the next makes four: twice two");
        pending.clear_through(3);
        assert!(!pending.due(policy) && !pending.must_fold_now(policy, &[]));
        assert_eq!(held_records(Vec::new(), HELD_RECORD_BYTES).len(), 0);
        // A run written with its group is named, not held.
        let mut written = staged(5, 2, 1, 1);
        written.held = false;
        let records = held_records(vec![written, staged(6, 2, 2, 1)], HELD_RECORD_BYTES);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].0[&ShardId(2)], (1, [[5; EVENT_KEY_LEN], [6; EVENT_KEY_LEN]].concat()));
        assert_eq!(records[0].1.iter().map(|(key, _)| key[0]).collect::<Vec<_>>(), vec![6]);
        let (log, runs) = &records[0];
        assert_eq!(decode_held(&encode_held(log, runs)).unwrap(), (log.clone(), runs.clone()));
    }
}
