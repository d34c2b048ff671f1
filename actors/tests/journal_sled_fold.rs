//! The embedded journal's pending shard log: what a clean close and a crash leave on disk, and
//! readers racing the writer's folds and its runs.

use practice_actors::journal::conformance::entity_in_shard;
use practice_actors::journal::{
    sled_open, AppendBatch, FoldPolicy, Journal, PendingEvent, SledJournal, SledOptions, StoredEvent,
};
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::ShardId;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;

const SHARDS: u16 = 4;

fn org() -> OrgId {
    OrgId(Uuid::from_u128(0x0f01d))
}

fn entities(shard: ShardId, count: u64) -> Vec<EntityRef> {
    (0..count).map(|salt| entity_in_shard(org(), EntityKind::Claim, shard, SHARDS, salt)).collect()
}

fn event(entity: EntityRef, sequence: u64) -> PendingEvent {
    PendingEvent { entity, sequence, message_id: String::new(), payload: sequence.to_be_bytes().to_vec() }
}

/// How many `h` (held group) records the closed store at `path` holds.
fn pending_records(path: &Path) -> usize {
    let db = sled_open::open(&sled::Config::new().path(path)).unwrap();
    db.scan_prefix([b'h']).count()
}

/// A journal folding by `fold` and closed as a crash leaves it (nothing folded at close).
fn left_as_a_crash_leaves_it(fold: FoldPolicy) -> SledOptions {
    SledOptions { fold, fold_on_close: false, ..SledOptions::default() }
}

/// Appends one event per entity, each its own batch, all in flight at once (so group commits
/// take several), `rounds` times. The embedded journal queues a write when it is called, so
/// the appends are all sent before the first is awaited.
async fn append_rounds(journal: &SledJournal, shard: ShardId, entities: &[EntityRef], from: u64, rounds: u64) {
    let epoch = journal.fence(shard).await.unwrap();
    for sequence in from..from + rounds {
        let appends: Vec<_> = entities
            .iter()
            .map(|entity| journal.append(AppendBatch { shard, epoch, events: vec![event(*entity, sequence)] }))
            .collect();
        for append in appends {
            append.await.unwrap();
        }
    }
}

/// A reader reading from the start to the end, again and again until `done`: `read(after)`
/// gives the numbers (positions or sequences) read after `after`, which must follow it
/// without a gap or a repeat; the next read starts after the `step`th of them (or the last).
/// Returns how many reads it made.
fn read_again_and_again<R, F>(done: Arc<AtomicBool>, step: usize, read: R) -> tokio::task::JoinHandle<u64>
where
    R: Fn(u64) -> F + Send + 'static,
    F: std::future::Future<Output = Vec<u64>> + Send,
{
    tokio::spawn(async move {
        let mut reads = 0u64;
        while !done.load(Ordering::Acquire) {
            let mut after = 0;
            loop {
                let numbers = read(after).await;
                reads += 1;
                let Some(last) = numbers.last() else { break };
                let dense = numbers.iter().zip(after + 1..).all(|(number, expected)| *number == expected);
                assert!(dense, "a read after {after} skipped or repeated one: {numbers:?}");
                after = *numbers.get(step.max(1) - 1).unwrap_or(last);
            }
            tokio::task::yield_now().await;
        }
        reads
    })
}

fn assert_dense(events: &[StoredEvent], count: usize) {
    let positions: Vec<u64> = events.iter().map(|event| event.position).collect();
    assert_eq!(positions, (1..=count as u64).collect::<Vec<_>>(), "positions are not 1..={count}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_close_folds_and_a_crash_leaves_records_that_read_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let shard = ShardId(1);
    let claims = entities(shard, 6);
    let lazy = SledOptions { fold: FoldPolicy { groups: 1000, entries: 100_000 }, ..SledOptions::default() };

    // A clean close folds everything: no group is left held.
    let journal = SledJournal::open_with(&path, SHARDS, lazy).unwrap();
    append_rounds(&journal, shard, &claims, 1, 3).await;
    let before = journal.read_shard(shard, 0, 1000).await.unwrap();
    assert_dense(&before, 18);
    drop(journal);
    assert_eq!(pending_records(&path), 0, "a clean close left pending records");

    // Closed as a crash leaves it: the pending records stay, and read back the same.
    let crashed = SledOptions { fold_on_close: false, ..lazy };
    let journal = SledJournal::open_with(&path, SHARDS, crashed).unwrap();
    assert_eq!(journal.read_shard(shard, 0, 1000).await.unwrap(), before);
    append_rounds(&journal, shard, &claims, 4, 2).await;
    let written = journal.read_shard(shard, 0, 1000).await.unwrap();
    drop(journal);
    assert!(pending_records(&path) > 0, "nothing was left pending to read back");
    let journal = SledJournal::open_with(&path, SHARDS, lazy).unwrap();
    let reread = journal.read_shard(shard, 0, 1000).await.unwrap();
    assert_eq!(reread, written);
    assert_dense(&reread, 30);
    assert_eq!(journal.shard_head(shard).await.unwrap(), Some(30));
    // Positions go on from the pending tail, never reusing one, and pages resume anywhere.
    append_rounds(&journal, shard, &claims, 6, 1).await;
    let all = journal.read_shard(shard, 0, 1000).await.unwrap();
    assert_dense(&all, 36);
    assert_eq!(journal.read_shard(shard, 17, 5).await.unwrap(), all[17..22].to_vec());
    assert!(journal.read_shard(ShardId(2), 0, 10).await.unwrap().is_empty());
}

/// A fold moves entries from memory to per-shard records between a reader's two reads; the
/// reader must still see every position once, in order. Folds of one slice (every two groups)
/// and folds in slices (every 16 groups, over eight).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_folds_read_every_position_once() {
    for groups in [2, 16] {
        readers_racing_folds(FoldPolicy { groups, entries: usize::MAX }).await;
    }
}

async fn readers_racing_folds(fold: FoldPolicy) {
    let dir = tempfile::tempdir().unwrap();
    let options = SledOptions { fold, ..SledOptions::default() };
    let journal = Arc::new(SledJournal::open_with(&dir.path().join("journal"), SHARDS, options).unwrap());
    let shard = ShardId(3);
    let claims = entities(shard, 16);
    let rounds = 150;
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = [1, 7, 1000]
        .into_iter()
        .map(|page| {
            let journal = journal.clone();
            read_again_and_again(done.clone(), usize::MAX, move |after| {
                let journal = journal.clone();
                async move {
                    let events = journal.read_shard(shard, after, page).await.unwrap();
                    events.iter().map(|event| event.position).collect()
                }
            })
        })
        .collect();
    append_rounds(&journal, shard, &claims, 1, rounds).await;
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    let all = journal.read_shard(shard, 0, usize::MAX).await.unwrap();
    assert_dense(&all, claims.len() * rounds as usize);
    for claim in &claims {
        let sequences: Vec<u64> =
            all.iter().filter(|event| event.entity == *claim).map(|event| event.sequence).collect();
        assert_eq!(sequences, (1..=rounds).collect::<Vec<_>>());
    }
}

/// An entity's first events since a fold go to their record at once; its later ones, held
/// over several group commits with other entities' events between them, are one more record
/// once folded. All read back one by one, by entity and by shard, after a reopen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entitys_later_events_of_several_groups_are_one_record_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let shard = ShardId(2);
    let [claim, other] = entities(shard, 2)[..] else { unreachable!() };
    let journal = SledJournal::open(&path, SHARDS).unwrap();
    let epoch = journal.fence(shard).await.unwrap();
    let together: Vec<_> = (1..=4).map(|sequence| event(claim, sequence)).collect();
    journal.append(AppendBatch { shard, epoch, events: together }).await.unwrap();
    for (entity, sequence) in [(other, 1), (claim, 5), (other, 2), (claim, 6), (claim, 7)] {
        journal.append(AppendBatch { shard, epoch, events: vec![event(entity, sequence)] }).await.unwrap();
    }
    let held = journal.read_shard(shard, 0, 100).await.unwrap();
    drop(journal);
    let db = sled_open::open(&sled::Config::new().path(&path)).unwrap();
    let keys: Vec<u64> =
        db.scan_prefix([b'e']).map(|item| u64::from_be_bytes(item.unwrap().0[34..42].try_into().unwrap())).collect();
    assert_eq!(keys.len(), 4, "each entity's first run, and one record for its later ones: {keys:?}");
    drop(db);

    let journal = SledJournal::open(&path, SHARDS).unwrap();
    let by_entity = journal.read_entity(claim, 2).await.unwrap();
    let read: Vec<(u64, u64)> = by_entity.iter().map(|event| (event.sequence, event.position)).collect();
    assert_eq!(read, [(3, 3), (4, 4), (5, 6), (6, 8), (7, 9)]);
    assert_eq!(journal.read_entity(claim, 5).await.unwrap(), by_entity[3..].to_vec());
    let by_shard = journal.read_shard(shard, 0, 100).await.unwrap();
    assert_eq!(by_shard, held, "folded, the shard reads as it did held");
    assert_dense(&by_shard, 9);
    assert_eq!((by_shard[4].entity, by_shard[6].entity), (other, other));
    assert_eq!(by_shard[2..4], by_entity[..2]);
    assert_eq!(by_shard[7..9], by_entity[3..]);
    assert!(by_shard.iter().all(|stored| stored.payload == stored.sequence.to_be_bytes()));
}

/// Runs of one entity appended while readers page through its history: every read starts
/// right after where the reader was and skips no sequence, whatever run was being written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readers_racing_runs_read_every_sequence_once() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Arc::new(SledJournal::open(&dir.path().join("journal"), SHARDS).unwrap());
    let shard = ShardId(1);
    let claim = entities(shard, 1)[0];
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let journal = journal.clone();
            // Three events a page, so most reads start inside or right after a run.
            read_again_and_again(done.clone(), 3, move |after| {
                let journal = journal.clone();
                async move {
                    let events = journal.read_entity(claim, after).await.unwrap();
                    events.iter().map(|event| event.sequence).collect()
                }
            })
        })
        .collect();
    let epoch = journal.fence(shard).await.unwrap();
    let mut next = 1;
    for length in (0..400u64).map(|index| index % 4 + 1) {
        let events = (next..next + length).map(|sequence| event(claim, sequence)).collect();
        journal.append(AppendBatch { shard, epoch, events }).await.unwrap();
        next += length;
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
    let all = journal.read_entity(claim, 0).await.unwrap();
    assert_eq!(all.iter().map(|event| event.sequence).collect::<Vec<_>>(), (1..next).collect::<Vec<_>>());
}

/// A crash part of the way through a fold in slices leaves every covered group held and some
/// entities' records written: both read back as one history, and the next fold rewrites them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_part_of_the_way_through_a_fold_reads_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let shard = ShardId(0);
    let claims = entities(shard, 4);
    // Due after 8 groups, in four slices: one entity's runs each.
    let sliced = left_as_a_crash_leaves_it(FoldPolicy { groups: 8, entries: usize::MAX });
    let journal = SledJournal::open_with(&path, SHARDS, sliced).unwrap();
    let epoch = journal.fence(shard).await.unwrap();
    // Each append awaited alone: a group each. Each claim's first goes to its record; the 9th
    // and 10th groups write the first two slices (one claim's held run each).
    for index in 0..10u64 {
        let events = vec![event(claims[(index % 4) as usize], index / 4 + 1)];
        journal.append(AppendBatch { shard, epoch, events }).await.unwrap();
    }
    let by_shard = journal.read_shard(shard, 0, 100).await.unwrap();
    let mut by_entity = Vec::new();
    for claim in &claims {
        by_entity.push(journal.read_entity(*claim, 0).await.unwrap());
    }
    drop(journal);
    {
        let db = sled_open::open(&sled::Config::new().path(&path)).unwrap();
        assert_eq!(db.scan_prefix([b'e']).count(), 4 + 2, "four first runs and two slices written");
        assert_eq!(db.scan_prefix([b'h']).count(), 10, "no group cleared");
        assert_eq!(db.scan_prefix([b'l']).count(), 0, "the shard log waits for the last slice");
    }

    let journal = SledJournal::open(&path, SHARDS).unwrap();
    assert_eq!(journal.read_shard(shard, 0, 100).await.unwrap(), by_shard);
    for (claim, events) in claims.iter().zip(&by_entity) {
        assert_eq!(&journal.read_entity(*claim, 0).await.unwrap(), events);
        assert_eq!(&journal.read_entity(*claim, 1).await.unwrap(), &events[1..]);
    }
    let epoch = journal.fence(shard).await.unwrap();
    for (claim, events) in claims.iter().zip(&by_entity) {
        let events = vec![event(*claim, events.len() as u64 + 1)];
        journal.append(AppendBatch { shard, epoch, events }).await.unwrap();
    }
    drop(journal);
    let journal = SledJournal::open(&path, SHARDS).unwrap();
    let all = journal.read_shard(shard, 0, 100).await.unwrap();
    assert_dense(&all, 14);
    assert_eq!(all[..10], by_shard[..]);
    for claim in &claims {
        let sequences: Vec<u64> = journal.read_entity(*claim, 0).await.unwrap().iter().map(|e| e.sequence).collect();
        assert_eq!(sequences, (1..=sequences.len() as u64).collect::<Vec<_>>());
    }
    drop(journal);
    assert_eq!(pending_records(&path), 0);
}

/// A group writes the runs of entities that wrote nothing since the last fold to their records
/// at once, and holds the runs of an entity that did, after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_writes_new_entities_runs_at_once_and_holds_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let shard = ShardId(1);
    let claims = entities(shard, 41);
    let (hot, cold) = (claims[0], &claims[1..]);
    let crashed = left_as_a_crash_leaves_it(FoldPolicy { groups: 1000, entries: usize::MAX });
    let journal = SledJournal::open_with(&path, SHARDS, crashed).unwrap();
    let epoch = journal.fence(shard).await.unwrap();
    journal.append(AppendBatch { shard, epoch, events: vec![event(hot, 1)] }).await.unwrap();
    // One append, one group: 40 events of 2 KiB (h records hold 4 KiB) and one of the hot claim.
    let large = |entity, sequence| PendingEvent { payload: vec![sequence as u8; 2048], ..event(entity, sequence) };
    let mut events: Vec<PendingEvent> = cold.iter().map(|claim| large(*claim, 1)).collect();
    events.insert(20, event(hot, 2));
    journal.append(AppendBatch { shard, epoch, events }).await.unwrap();
    journal.append(AppendBatch { shard, epoch, events: vec![event(hot, 3)] }).await.unwrap();
    let by_shard = journal.read_shard(shard, 0, 100).await.unwrap();
    assert_dense(&by_shard, 43);
    drop(journal);
    {
        let db = sled_open::open(&sled::Config::new().path(&path)).unwrap();
        assert_eq!(db.scan_prefix([b'e']).count(), 41, "every claim's first run, written at once");
        assert_eq!(db.scan_prefix([b'h']).count(), 3, "a record a group, its later runs held");
    }

    let journal = SledJournal::open(&path, SHARDS).unwrap();
    assert_eq!(journal.read_shard(shard, 0, 100).await.unwrap(), by_shard);
    let sequences: Vec<u64> = journal.read_entity(hot, 0).await.unwrap().iter().map(|event| event.sequence).collect();
    assert_eq!(sequences, [1, 2, 3]);
    assert_eq!(journal.read_entity(cold[7], 0).await.unwrap()[0].payload, vec![1; 2048]);
    drop(journal);
    let db = sled_open::open(&sled::Config::new().path(&path)).unwrap();
    assert_eq!(db.scan_prefix([b'e']).count(), 42, "folded at close: the hot claim's later two events as one record");
}
