//! Folding the held groups a slice at a time.
//!
//! A fold writes each entity's held runs as few `EVENTS` records as the run caps allow, then
//! the shard log entries of the groups it covers as `l` records naming those records, and
//! removes the groups' `h` records. Written in one batch, a fold of 64 groups at peak was
//! thousands of inserts in one group commit, and every command waiting on that group waited for
//! them all (`bench backbone`'s half-load p99 went from ~4 ms to 5.6–7.4 ms). So a fold covers
//! the groups held when it starts and writes their runs in slices, in key order, one slice with
//! each of the next group commits; the last slice also writes the `l` records and the removals.
//!
//! Until that last slice, readers still find every covered run held, under the key it was
//! appended with. An entity read meeting a run both held and written takes it once (held runs
//! are read first, and only sequences after the records' are taken from them). A crash part of
//! the way leaves the groups held and some records written; the next fold merges the same runs
//! from the same first keys, and so rewrites those records with the same or more events.

use super::sled_keys::{decode_event_record, events_value, prefixed, read_u64, ENTITY_KEY_LEN, EVENTS, RUN_MAX_EVENTS};
use super::sled_pending::{EventKey, HeldRun, PendingLog};
use super::JournalError;
use practice_protocol::shard::ShardId;
use std::collections::HashMap;

/// Most payload bytes a fold joins into one record (a run appended together may hold more, up to
/// `RUN_MAX_BYTES`, and is never cut): sixteen records to a sled leaf stay under the 128 KiB past
/// which sled writes a rewritten leaf to a blob file of its own (see `HELD_RECORD_BYTES`).
const MERGED_MAX_BYTES: usize = 4 * 1024;

/// A fold under way: the groups it covers and how far it got.
pub(super) struct Fold {
    /// The newest group it covers.
    through: u64,
    /// The last run key written.
    cursor: Option<EventKey>,
    /// Runs per slice.
    per_slice: usize,
    /// Runs that went into a record under another key, for the `l` records.
    renamed: HashMap<EventKey, EventKey>,
}

impl Fold {
    /// A fold of every group pending now, in about `slices` slices; `None` when nothing is.
    pub fn start(pending: &PendingLog, slices: usize) -> Option<Self> {
        let through = pending.newest()?;
        let per_slice = pending.runs_through(through).div_ceil(slices.max(1)).max(1);
        Some(Self { through, cursor: None, per_slice, renamed: HashMap::new() })
    }

    /// The newest group it covers.
    pub fn through(&self) -> u64 {
        self.through
    }

    /// Stage the next slice into `batch`; `true` when it was the last (the `l` records and the
    /// removal of the covered groups staged with it), after which the caller clears the
    /// covered groups from `pending` once the batch is applied.
    pub fn stage_slice(&mut self, pending: &PendingLog, batch: &mut sled::Batch) -> Result<bool, JournalError> {
        let (runs, last) = pending.runs_after(self.cursor.as_ref(), self.through, self.per_slice);
        if let Some((key, _)) = runs.last() {
            self.cursor = Some(*key);
        }
        let (records, renamed) = merge_runs(runs.iter().map(|(key, value)| (key, &value[..])))?;
        for (key, value) in records {
            batch.insert(prefixed(EVENTS, &key), value);
        }
        self.renamed.extend(renamed);
        if last {
            pending.stage_log_through(self.through, &self.renamed, batch);
        }
        Ok(last)
    }
}

/// Runs in key order joined, per entity, into records of consecutive sequences within the run
/// caps (a run is never split). Returns the records and, for every run that is no longer the
/// first of its record, the key of the record that holds it.
pub(super) fn merge_runs<'a>(
    runs: impl IntoIterator<Item = (&'a EventKey, &'a [u8])>,
) -> Result<(Vec<HeldRun>, HashMap<EventKey, EventKey>), JournalError> {
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
                && record.bytes + bytes <= MERGED_MAX_BYTES
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::sled_keys::{event_value, Positions, HELD};
    use crate::journal::sled_pending::tests::{key, run};
    use crate::journal::sled_pending::GroupLog;
    use std::collections::BTreeMap;

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
        let group_runs = [run(2, 2, 5), run(1, 3, 6)];
        let (held, last) = pending.runs_after(None, 1, usize::MAX);
        assert!(last);
        let all: BTreeMap<&EventKey, &[u8]> = held
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
        assert_eq!(decode_event_record(&records[0].1).unwrap().positions, Positions::From(1));
        let gap = run(1, 70, 70);
        all.insert(&gap.0, &gap.1);
        let (records, _) = merge_runs(all).unwrap();
        assert_eq!(records.last().map(|(key, _)| *key), Some(key(1, 70)));
        let large: Vec<HeldRun> = (1..=3u64)
            .map(|sequence| (key(5, sequence), event_value(ShardId(0), sequence, &vec![0; MERGED_MAX_BYTES / 2])))
            .collect();
        let (records, _) = merge_runs(large.iter().map(|(key, value)| (key, value.as_slice()))).unwrap();
        assert_eq!(records.len(), 2, "two halves fill a record");
    }

    /// Five entities appending one event each in every group, shard 0.
    fn group(number: u64) -> (GroupLog, Vec<HeldRun>) {
        let first = number * 5 + 1;
        let runs: Vec<HeldRun> =
            (1..=5u8).map(|entity| run(entity, number + 1, first + u64::from(entity) - 1)).collect();
        let keys = runs.iter().flat_map(|(key, _)| key.to_vec()).collect();
        (GroupLog::from([(ShardId(0), (first, keys))]), runs)
    }

    fn applied(batches: Vec<sled::Batch>) -> Vec<(sled::IVec, sled::IVec)> {
        let db = sled::Config::new().temporary(true).open().unwrap();
        for batch in batches {
            db.apply_batch(batch).unwrap();
        }
        db.iter().map(Result::unwrap).collect()
    }

    #[test]
    fn a_fold_in_slices_writes_what_a_fold_at_once_does_and_the_shard_log_last() {
        let mut pending = PendingLog::default();
        for number in 0..4 {
            let (log, runs) = group(number);
            pending.add(HELD, number, log, runs).unwrap();
        }
        let at_once = applied(vec![pending.fold_all().unwrap().unwrap()]);
        assert_eq!(at_once.iter().filter(|(key, _)| key[0] == EVENTS).count(), 5, "one record per entity");

        let mut fold = Fold::start(&pending, 3).unwrap();
        // A group held after the fold started is not the fold's.
        let (log, runs) = group(4);
        pending.add(HELD, 4, log, runs).unwrap();
        let mut slices = Vec::new();
        loop {
            let mut batch = sled::Batch::default();
            let last = fold.stage_slice(&pending, &mut batch).unwrap();
            slices.push(batch);
            if last {
                break;
            }
        }
        assert_eq!(slices.len(), 3, "20 runs of 5 entities in slices of at least 7");
        let first_slice = applied(vec![slices.remove(0)]);
        assert!(first_slice.iter().all(|(key, _)| key[0] == EVENTS), "the shard log comes with the last slice");
        let all = applied(std::iter::once(sled::Batch::default()).chain(slices).collect());
        let mut sliced = first_slice;
        sliced.extend(all);
        sliced.sort();
        assert_eq!(sliced, at_once);

        // Cleared, the group held after the start is what is left.
        pending.clear_through(fold.through());
        assert_eq!(pending.newest(), Some(4));
        assert_eq!(pending.tail(ShardId(0), 0, 100).map(|(first, _)| first), Some(21));
        assert_eq!(pending.runs_through(4), 5);
    }
}
