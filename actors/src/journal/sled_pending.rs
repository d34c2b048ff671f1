//! The embedded journal's pending groups: each group commit's events and shard log entries,
//! held in one record and in memory until a fold writes them where they stay.
//!
//! sled's cost is per insert far more than per byte (a leaf clone, a log fragment, a split), and
//! a journal appending one event for each of 256 entities at once made one insert per event.
//! So a group commit writes one `h` record holding the group's events (each entity's run, as
//! `EVENTS` would store it) and its shard log entries (the runs' keys, by shard), and the writer
//! keeps the same here, where readers find them. Every `FoldPolicy` groups (or entries, or
//! `HELD_BYTES`) the writer folds what is held, in the same atomic batch as that group: each
//! entity's runs from every held group become one `EVENTS` record (up to the run caps, positions
//! listed), the entries one `l` record per shard naming those records, and the `h` records go.
//! An entity appending once per group for 64 groups costs one insert instead of 64. A group
//! holding more than `HELD_GROUP_BYTES` folds at once (sled moves values over 128 KiB to blob
//! files of its own). A clean close folds too, so `h` records are only left by a crash; opening
//! the store loads them back.
//!
//! Stores of format 2 kept only the entries pending, as `g` records, their events already
//! written: those load the same, and fold with the rest.

use super::sled_keys::{
    decode_event_record, events_value, prefixed, read_u64, shard_log_key, ENTITY_KEY_LEN, EVENT_KEY_LEN, HELD, PENDING,
    RUN_MAX_BYTES, RUN_MAX_EVENTS, SHARD_LOG,
};
use super::JournalError;
use practice_protocol::shard::ShardId;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One group's shard log: per shard, the position of its first event and the event keys of
/// consecutive positions from there, concatenated.
pub(super) type GroupLog = HashMap<ShardId, (u64, Vec<u8>)>;

/// An event key: entity key + sequence.
pub(super) type EventKey = [u8; EVENT_KEY_LEN];

/// One entity's events appended together: its first event's key and its `EVENTS` value.
pub(super) type HeldRun = (EventKey, Vec<u8>);

/// When the writer folds the pending log into per-shard records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldPolicy {
    /// Fold once this many groups are pending (1: every group writes per-shard records).
    pub groups: usize,
    /// Fold once this many entries are pending, whatever the groups.
    pub entries: usize,
}

impl Default for FoldPolicy {
    /// A fold writes what 16 groups held at once: every 64 groups doubled the half-load p99
    /// (`bench backbone`: 5.6–7.4 ms against 3.7–4.1), every 4 lost most of the merging.
    fn default() -> Self {
        Self { groups: 16, entries: 8192 }
    }
}

/// Most entries one folded `l` record holds: a reader loads a whole record to find its place.
const RECORD_ENTRIES: usize = 512;

/// A group whose runs take more than this folds at once instead of writing an `h` record.
const HELD_GROUP_BYTES: usize = 64 * 1024;
/// Fold once the held runs take this many bytes, whatever the groups.
const HELD_BYTES: usize = 8 << 20;

/// The groups not yet folded: their entries by shard, their runs by key.
#[derive(Default)]
pub(super) struct PendingLog {
    /// The records a fold removes (`g` or `h`, and the group number), ascending.
    records: Vec<(u8, u64)>,
    next_group: u64,
    /// Per shard: the first pending position and the event keys from it on.
    shards: BTreeMap<ShardId, (u64, Vec<u8>)>,
    entries: usize,
    /// Shared, so readers take them out of the lock and decode them after.
    runs: BTreeMap<EventKey, Arc<[u8]>>,
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

    /// Whether a group adding `entries` and runs of `bytes` should fold rather than add one more
    /// `h` record.
    pub fn due(&self, policy: FoldPolicy, entries: usize, bytes: usize) -> bool {
        self.records.len() + 1 >= policy.groups
            || self.entries + entries >= policy.entries
            || bytes > HELD_GROUP_BYTES
            || self.held_bytes + bytes > HELD_BYTES
    }

    /// Learn a `g` or `h` record once it is written. Each shard's entries must follow on from
    /// what is pending there: a fold or this log holds everything before.
    pub fn add(&mut self, prefix: u8, number: u64, log: GroupLog, runs: Vec<HeldRun>) -> Result<(), JournalError> {
        for (shard, (first, _)) in &log {
            let expected = self.last(*shard).map_or(*first, |last| last + 1);
            if *first != expected {
                return Err(JournalError::Corrupt(format!(
                    "pending group {number} starts shard {shard} at {first}, expected {expected}"
                )));
            }
        }
        for (shard, (first, keys)) in log.into_iter().filter(|(_, (_, keys))| !keys.is_empty()) {
            self.entries += keys.len() / EVENT_KEY_LEN;
            self.shards.entry(shard).or_insert_with(|| (first, Vec::new())).1.extend_from_slice(&keys);
        }
        for (key, value) in runs {
            self.held_bytes += value.len();
            self.runs.insert(key, value.into());
        }
        self.records.push((prefix, number));
        self.next_group = number + 1;
        Ok(())
    }

    /// Forget everything once a fold is written (the numbering goes on).
    pub fn clear(&mut self) {
        self.records.clear();
        self.shards.clear();
        self.entries = 0;
        self.runs.clear();
        self.held_bytes = 0;
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
        self.runs.get(key).cloned()
    }

    /// An entity's held runs, in sequence order.
    pub fn entity_runs(&self, entity: &[u8; ENTITY_KEY_LEN]) -> Vec<(EventKey, Arc<[u8]>)> {
        self.runs.range(entity_range(entity)).map(|(key, value)| (*key, value.clone())).collect()
    }

    /// An entity's last held sequence, if any of its events is held.
    pub fn entity_head(&self, entity: &[u8; ENTITY_KEY_LEN]) -> Result<Option<u64>, JournalError> {
        let Some((key, value)) = self.runs.range(entity_range(entity)).next_back() else { return Ok(None) };
        let first = read_u64(&key[ENTITY_KEY_LEN..], "held event key")?;
        Ok(Some(first + decode_event_record(value)?.payloads.len() as u64 - 1))
    }

    /// Stage the fold of everything pending plus `group` and its `runs` (not written as an `h`
    /// record): each entity's runs as few `EVENTS` records as the caps allow, one `l` record
    /// per shard (split every `RECORD_ENTRIES`) naming them, and the pending records removed.
    pub fn fold_into(&self, group: &GroupLog, runs: &[HeldRun], batch: &mut sled::Batch) -> Result<(), JournalError> {
        let mut all: BTreeMap<&EventKey, &[u8]> = self.runs.iter().map(|(key, value)| (key, &value[..])).collect();
        all.extend(runs.iter().map(|(key, value)| (key, value.as_slice())));
        let (records, renamed) = merge_runs(all)?;
        for (key, value) in records {
            batch.insert(prefixed(super::sled_keys::EVENTS, &key), value);
        }
        let mut shards: BTreeMap<ShardId, (u64, Vec<u8>)> = self.shards.clone();
        for (shard, (first, keys)) in group {
            shards.entry(*shard).or_insert_with(|| (*first, Vec::new())).1.extend_from_slice(keys);
        }
        for (shard, (first, keys)) in shards {
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
        for (prefix, number) in &self.records {
            batch.remove(prefixed(*prefix, &number.to_be_bytes()));
        }
        Ok(())
    }

    /// The fold of everything pending, alone (a clean close); `None` when nothing is.
    pub fn fold_all(&self) -> Result<Option<sled::Batch>, JournalError> {
        if self.records.is_empty() {
            return Ok(None);
        }
        let mut batch = sled::Batch::default();
        self.fold_into(&GroupLog::new(), &[], &mut batch)?;
        Ok(Some(batch))
    }
}

/// Every key of one entity's events.
fn entity_range(entity: &[u8; ENTITY_KEY_LEN]) -> std::ops::RangeInclusive<EventKey> {
    let mut low = [0u8; EVENT_KEY_LEN];
    low[..ENTITY_KEY_LEN].copy_from_slice(entity);
    let mut high = [0xFFu8; EVENT_KEY_LEN];
    high[..ENTITY_KEY_LEN].copy_from_slice(entity);
    low..=high
}

/// Runs in key order joined, per entity, into records of consecutive sequences within the run
/// caps (a run is never split). Returns the records and, for every run that is no longer the
/// first of its record, the key of the record that holds it.
fn merge_runs(runs: BTreeMap<&EventKey, &[u8]>) -> Result<(Vec<HeldRun>, HashMap<EventKey, EventKey>), JournalError> {
    struct Record<'a> {
        key: EventKey,
        next_sequence: u64,
        shard: ShardId,
        positions: Vec<u64>,
        payloads: Vec<&'a [u8]>,
        bytes: usize,
    }
    let mut records = Vec::new();
    let mut renamed = HashMap::new();
    let mut open: Option<Record<'_>> = None;
    let close = |record: Record<'_>, records: &mut Vec<HeldRun>| {
        records.push((record.key, events_value(record.shard, &record.positions, &record.payloads)));
    };
    for (key, value) in runs {
        let run = decode_event_record(value)?;
        let first = read_u64(&key[ENTITY_KEY_LEN..], "held event key")?;
        let bytes: usize = run.payloads.iter().map(|payload| payload.len()).sum();
        let joins = open.as_ref().is_some_and(|record| {
            record.key[..ENTITY_KEY_LEN] == key[..ENTITY_KEY_LEN]
                && record.next_sequence == first
                && record.shard == run.shard
                && record.positions.last().is_some_and(|last| *last < run.position(0))
                && record.payloads.len() + run.payloads.len() <= RUN_MAX_EVENTS
                && record.bytes + bytes <= RUN_MAX_BYTES
        });
        if !joins {
            if let Some(record) = open.take() {
                close(record, &mut records);
            }
        }
        let record = open.get_or_insert_with(|| Record {
            key: *key,
            next_sequence: first,
            shard: run.shard,
            positions: Vec::new(),
            payloads: Vec::new(),
            bytes: 0,
        });
        if record.key != *key {
            renamed.insert(*key, record.key);
        }
        record.positions.extend((0..run.payloads.len()).map(|index| run.position(index)));
        record.next_sequence = first + run.payloads.len() as u64;
        record.bytes += bytes;
        record.payloads.extend(run.payloads);
    }
    if let Some(record) = open {
        close(record, &mut records);
    }
    Ok((records, renamed))
}

pub(super) fn held_key(number: u64) -> Vec<u8> {
    prefixed(HELD, &number.to_be_bytes())
}

/// An `h` record: the group's shard log (a `g` record's layout) behind its length (4), then each
/// run: its key, its value's length (4) and its value.
pub(super) fn encode_held(log: &GroupLog, runs: &[HeldRun]) -> Vec<u8> {
    let entries = encode(log);
    let size = 4 + entries.len() + runs.iter().map(|(_, value)| EVENT_KEY_LEN + 4 + value.len()).sum::<usize>();
    let mut bytes = Vec::with_capacity(size);
    bytes.extend_from_slice(&u32::try_from(entries.len()).unwrap_or(u32::MAX).to_be_bytes());
    bytes.extend_from_slice(&entries);
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
    let mut runs = Vec::new();
    while !rest.is_empty() {
        let key: EventKey =
            rest.get(..EVENT_KEY_LEN).and_then(|key| key.try_into().ok()).ok_or_else(|| corrupt("a cut key"))?;
        let size = length(&rest[EVENT_KEY_LEN..]).ok_or_else(|| corrupt("a cut length"))?;
        let start = EVENT_KEY_LEN + 4;
        let value = rest.get(start..start + size).ok_or_else(|| corrupt("a cut run"))?;
        decode_event_record(value)?;
        runs.push((key, value.to_vec()));
        rest = &rest[start + size..];
    }
    let held: usize =
        runs.iter().map(|(_, value)| decode_event_record(value).map_or(0, |run| run.payloads.len())).sum();
    let named = log.values().map(|(_, keys)| keys.len() / EVENT_KEY_LEN).sum::<usize>();
    if held != named {
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
mod tests {
    use super::*;
    use crate::journal::sled_keys::event_value;

    fn keys(count: u8) -> Vec<u8> {
        (0..count).flat_map(|entry| [entry; EVENT_KEY_LEN]).collect()
    }

    fn group(entries: &[(u16, u64, u8)]) -> GroupLog {
        entries.iter().map(|(shard, first, count)| (ShardId(*shard), (*first, keys(*count)))).collect()
    }

    fn key(entity: u8, sequence: u64) -> EventKey {
        let mut key = [entity; EVENT_KEY_LEN];
        key[ENTITY_KEY_LEN..].copy_from_slice(&sequence.to_be_bytes());
        key
    }

    /// A one-event run of `entity` at `sequence`, at `position` of shard 0.
    fn run(entity: u8, sequence: u64, position: u64) -> HeldRun {
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
        assert!(decode_held(&encode_held(&log, &runs[..2])).is_err(), "three entries, two events");
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
        assert!(pending.due(FoldPolicy { groups: 3, entries: 100 }, 1, 0));
        assert!(!pending.due(FoldPolicy { groups: 4, entries: 100 }, 1, 0));
        assert!(pending.due(FoldPolicy { groups: 4, entries: 7 }, 1, 0));
        assert!(pending.due(FoldPolicy { groups: 4, entries: 100 }, 1, HELD_GROUP_BYTES + 1), "a large group");
        pending.clear();
        assert_eq!((pending.last(ShardId(1)), pending.next_group()), (None, 9));
    }

    #[test]
    fn an_entitys_runs_of_many_groups_fold_into_one_record_the_shard_log_names() {
        let mut pending = PendingLog::default();
        // Entities 1 and 2 append in turn; entity 3 once, between them.
        pending.add(HELD, 0, GroupLog::new(), vec![run(1, 1, 1), run(2, 1, 2)]).unwrap();
        pending.add(HELD, 1, GroupLog::new(), vec![run(3, 1, 3), run(1, 2, 4)]).unwrap();
        assert_eq!(pending.entity_head(&[1; ENTITY_KEY_LEN]).unwrap(), Some(2));
        assert_eq!(pending.entity_head(&[4; ENTITY_KEY_LEN]).unwrap(), None);
        let held: Vec<HeldRun> =
            pending.entity_runs(&[1; ENTITY_KEY_LEN]).into_iter().map(|(key, value)| (key, value.to_vec())).collect();
        assert_eq!(held, vec![run(1, 1, 1), run(1, 2, 4)]);
        assert!(pending.run(&key(3, 1)).is_some() && pending.run(&key(3, 2)).is_none());
        let group_runs = vec![run(2, 2, 5), run(1, 3, 6)];
        let all: BTreeMap<&EventKey, &[u8]> = pending
            .runs
            .iter()
            .map(|(key, value)| (key, &value[..]))
            .chain(group_runs.iter().map(|(key, value)| (key, value.as_slice())))
            .collect();
        let (records, renamed) = merge_runs(all).unwrap();
        let keys: Vec<EventKey> = records.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, vec![key(1, 1), key(2, 1), key(3, 1)], "one record per entity");
        let first = decode_event_record(&records[0].1).unwrap();
        assert_eq!((0..3).map(|index| first.position(index)).collect::<Vec<_>>(), vec![1, 4, 6]);
        assert_eq!(first.payloads, vec![&[1, 1][..], &[1, 2][..], &[1, 3][..]]);
        assert_eq!(first.at(4).unwrap().0, 1);
        assert_eq!(renamed.get(&key(1, 3)), Some(&key(1, 1)));
        assert_eq!(renamed.get(&key(2, 2)), Some(&key(2, 1)));
        assert_eq!(renamed.get(&key(3, 1)), None, "a run left alone keeps its key");
        // Entity 3's lone event is stored as it was appended.
        assert_eq!(records[2].1, run(3, 1, 3).1);
    }

    #[test]
    fn records_stay_within_the_run_caps_and_a_gap_in_sequences_starts_a_new_one() {
        let runs: Vec<HeldRun> = (1..=RUN_MAX_EVENTS as u64 + 1).map(|sequence| run(1, sequence, sequence)).collect();
        let mut all: BTreeMap<&EventKey, &[u8]> = runs.iter().map(|(key, value)| (key, value.as_slice())).collect();
        let (records, _) = merge_runs(all.clone()).unwrap();
        assert_eq!(records.iter().map(|(key, _)| *key).collect::<Vec<_>>(), vec![key(1, 1), key(1, 65)]);
        // Consecutive positions keep the compact run form.
        assert_eq!(
            decode_event_record(&records[0].1).unwrap().positions,
            crate::journal::sled_keys::Positions::From(1)
        );
        let gap = run(1, 70, 70);
        all.insert(&gap.0, &gap.1);
        let (records, _) = merge_runs(all).unwrap();
        assert_eq!(records.last().map(|(key, _)| *key), Some(key(1, 70)));
        let large: Vec<HeldRun> = (1..=3u64)
            .map(|sequence| (key(5, sequence), event_value(ShardId(0), sequence, &vec![0; RUN_MAX_BYTES / 2])))
            .collect();
        let (records, _) = merge_runs(large.iter().map(|(key, value)| (key, value.as_slice())).collect()).unwrap();
        assert_eq!(records.len(), 2, "two halves fill a record");
    }
}
