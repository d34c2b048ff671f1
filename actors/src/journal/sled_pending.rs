//! The embedded journal's pending shard log: one record per group commit, folded into
//! per-shard records every so often.
//!
//! A group commit used to write one shard log record per shard it touched. With appenders
//! spread over 64 shards that was ~0.4 extra sled inserts per event, and removing them (an
//! experiment) lifted `bench backbone`'s journal appends from 65–75 k/s to 99–104 k/s. So a
//! group now writes all its shard log entries as one `g` record, and the writer keeps the same
//! entries here, in memory, where readers find a shard's tail after its folded `l` records.
//! Every `fold_groups` groups (or `fold_entries` entries) the writer folds them into one `l`
//! record per shard and removes the `g` records, in the same atomic batch as that group's
//! events. A clean close folds too, so `g` records are only ever left by a crash; opening the
//! store loads them back.

use super::sled_keys::{prefixed, read_u64, shard_log_key, EVENT_KEY_LEN, PENDING, SHARD_LOG};
use super::JournalError;
use practice_protocol::shard::ShardId;
use std::collections::{BTreeMap, HashMap};

/// One group's shard log: per shard, the position of its first event and the event keys of
/// consecutive positions from there, concatenated.
pub(super) type GroupLog = HashMap<ShardId, (u64, Vec<u8>)>;

/// When the writer folds the pending log into per-shard records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FoldPolicy {
    /// Fold once this many groups are pending (1: every group writes per-shard records).
    pub groups: usize,
    /// Fold once this many entries are pending, whatever the groups.
    pub entries: usize,
}

impl Default for FoldPolicy {
    /// 64 groups is a fold every ~0.1 s at peak, and at most 8,192 entries (~330 KiB) held.
    fn default() -> Self {
        Self { groups: 64, entries: 8192 }
    }
}

/// Most entries one folded `l` record holds: a reader loads a whole record to find its place.
const RECORD_ENTRIES: usize = 512;

/// The `g` records not yet folded, and their entries by shard.
#[derive(Default)]
pub(super) struct PendingLog {
    /// `g` record numbers, ascending.
    groups: Vec<u64>,
    next_group: u64,
    /// Per shard: the first pending position and the event keys from it on.
    shards: BTreeMap<ShardId, (u64, Vec<u8>)>,
    entries: usize,
}

impl PendingLog {
    /// The `g` records a store holds, in order.
    pub fn load(db: &sled::Db) -> Result<Self, JournalError> {
        let mut pending = Self::default();
        for item in db.scan_prefix([PENDING]) {
            let (key, value) = item.map_err(super::sled_writer::unavailable)?;
            let number = read_u64(&key[1..], "pending log key")?;
            pending.add(number, decode(&value)?)?;
        }
        Ok(pending)
    }

    /// The number the next `g` record takes.
    pub fn next_group(&self) -> u64 {
        self.next_group
    }

    /// Whether a group adding `entries` should fold rather than add one more `g` record.
    pub fn due(&self, policy: FoldPolicy, entries: usize) -> bool {
        self.groups.len() + 1 >= policy.groups || self.entries + entries >= policy.entries
    }

    /// Learn a `g` record once it is written. Each shard's entries must follow on from what is
    /// pending there: a fold or this log holds everything before.
    pub fn add(&mut self, number: u64, log: GroupLog) -> Result<(), JournalError> {
        for (shard, (first, _)) in &log {
            let expected = self.last(*shard).map_or(*first, |last| last + 1);
            if *first != expected {
                return Err(JournalError::Corrupt(format!(
                    "pending log record {number} starts shard {shard} at {first}, expected {expected}"
                )));
            }
        }
        for (shard, (first, keys)) in log.into_iter().filter(|(_, (_, keys))| !keys.is_empty()) {
            self.entries += keys.len() / EVENT_KEY_LEN;
            self.shards.entry(shard).or_insert_with(|| (first, Vec::new())).1.extend_from_slice(&keys);
        }
        self.groups.push(number);
        self.next_group = number + 1;
        Ok(())
    }

    /// Forget everything once a fold is written (the numbering goes on).
    pub fn clear(&mut self) {
        self.groups.clear();
        self.shards.clear();
        self.entries = 0;
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

    /// Stage the fold of everything pending plus `group` (not written as a `g` record): one
    /// `l` record per shard (split every `RECORD_ENTRIES`), and the `g` records removed.
    pub fn fold_into(&self, group: &GroupLog, batch: &mut sled::Batch) {
        let mut shards: BTreeMap<ShardId, (u64, Vec<u8>)> = self.shards.clone();
        for (shard, (first, keys)) in group {
            shards.entry(*shard).or_insert_with(|| (*first, Vec::new())).1.extend_from_slice(keys);
        }
        for (shard, (first, keys)) in shards {
            for (index, chunk) in keys.chunks(RECORD_ENTRIES * EVENT_KEY_LEN).enumerate() {
                let position = first + (index * RECORD_ENTRIES) as u64;
                batch.insert(prefixed(SHARD_LOG, &shard_log_key(shard, position)), chunk);
            }
        }
        for number in &self.groups {
            batch.remove(pending_key(*number));
        }
    }

    /// The fold of everything pending, alone (a clean close); `None` when nothing is.
    pub fn fold_all(&self) -> Option<sled::Batch> {
        if self.groups.is_empty() {
            return None;
        }
        let mut batch = sled::Batch::default();
        self.fold_into(&GroupLog::new(), &mut batch);
        Some(batch)
    }
}

pub(super) fn pending_key(number: u64) -> Vec<u8> {
    prefixed(PENDING, &number.to_be_bytes())
}

/// A `g` record: per shard, ascending, shard (2) + first position (8) + entry count (4) +
/// the event keys.
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

    fn keys(count: u8) -> Vec<u8> {
        (0..count).flat_map(|entry| [entry; EVENT_KEY_LEN]).collect()
    }

    fn group(entries: &[(u16, u64, u8)]) -> GroupLog {
        entries.iter().map(|(shard, first, count)| (ShardId(*shard), (*first, keys(*count)))).collect()
    }

    #[test]
    fn records_round_trip_and_bad_ones_are_refused() {
        let log = group(&[(3, 10, 2), (0, 1, 1)]);
        assert_eq!(decode(&encode(&log)).unwrap(), log);
        let bytes = encode(&log);
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(&bytes[..5]).is_err());
        assert!(decode(&[bytes.clone(), bytes].concat()).is_err(), "a repeated shard");
    }

    #[test]
    fn the_tail_follows_on_across_groups_and_a_gap_is_refused() {
        let mut pending = PendingLog::default();
        pending.add(7, group(&[(1, 5, 2)])).unwrap();
        pending.add(8, group(&[(1, 7, 3), (2, 1, 1)])).unwrap();
        assert_eq!(pending.next_group(), 9);
        assert_eq!(pending.last(ShardId(1)), Some(9));
        assert_eq!(pending.last(ShardId(3)), None);
        assert_eq!(pending.tail(ShardId(1), 0, 100).unwrap().0, 5);
        let (first, tail) = pending.tail(ShardId(1), 6, 2).unwrap();
        assert_eq!((first, tail.len()), (7, 2 * EVENT_KEY_LEN));
        assert_eq!(tail[..EVENT_KEY_LEN], [0; EVENT_KEY_LEN], "position 7 is group 8's first entry");
        assert!(pending.tail(ShardId(1), 9, 10).is_none());
        assert!(pending.add(9, group(&[(2, 3, 1)])).is_err(), "shard 2 is at 1, so 2 comes next");
        assert!(pending.due(FoldPolicy { groups: 3, entries: 100 }, 1));
        assert!(!pending.due(FoldPolicy { groups: 4, entries: 100 }, 1));
        assert!(pending.due(FoldPolicy { groups: 4, entries: 7 }, 1));
        pending.clear();
        assert_eq!((pending.last(ShardId(1)), pending.next_group()), (None, 9));
    }
}
