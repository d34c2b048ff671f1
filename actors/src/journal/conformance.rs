//! The journal conformance suite: the behaviour every [`Journal`] backend must show, as async
//! checks over a [`JournalHarness`]. The sled backend runs it in this crate's tests; the
//! JetStream backend runs the same checks in `practice-nodes`.
//!
//! Each check takes a fresh store, so the checks are independent and may run in any order.
//! A failed check returns an error naming what broke (no panics in the suite itself).

use super::{AppendBatch, Epoch, Journal, JournalError, PendingEvent, StoredEvent};
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{shard_of, ShardId};
use std::sync::Arc;
use uuid::Uuid;

pub use super::BoxFuture;

/// A created store: the token `reopen` takes, and the journal over it.
pub type CreatedStore = (String, Arc<dyn Journal>);

/// How the suite gets stores.
pub trait JournalHarness: Send + Sync {
    /// A fresh, empty store with `shard_count` shards, and a token naming it for `reopen`.
    fn create(&self, shard_count: u16) -> BoxFuture<'_, Result<CreatedStore, JournalError>>;

    /// Reopen the store `token` names, as a restarted process would, after closing `journal`
    /// (the suite holds no other reference to it).
    fn reopen(
        &self,
        token: String,
        journal: Arc<dyn Journal>,
        shard_count: u16,
    ) -> BoxFuture<'_, Result<Arc<dyn Journal>, JournalError>>;
}

/// A failed conformance check: which one and what was observed.
#[derive(Debug, thiserror::Error)]
#[error("conformance check `{check}` failed: {detail}")]
pub struct ConformanceFailure {
    pub check: &'static str,
    pub detail: String,
}

type CheckResult = Result<(), String>;

macro_rules! ensure {
    ($condition:expr, $($message:tt)+) => {
        if !$condition {
            return Err(format!($($message)+));
        }
    };
}

fn journal_error(error: JournalError) -> String {
    format!("unexpected journal error: {error}")
}

const SHARDS: u16 = 8;

/// The checks by name, in the order `run_all` runs them.
pub const CHECKS: [&str; 11] = [
    "ordering_and_no_gaps",
    "sequence_conflict",
    "concurrent_writers_one_wins",
    "fencing_touched_entity",
    "fencing_untouched_entity",
    "atomic_batch",
    "read_shard_positions",
    "snapshots",
    "consumer_positions",
    "remember_inbound_once",
    "durable_across_reopen",
];

/// Run every check; returns the failures (empty when the backend conforms).
pub async fn run_all(harness: &dyn JournalHarness) -> Vec<ConformanceFailure> {
    let mut failures = Vec::new();
    for check in CHECKS {
        if let Err(failure) = run_check(harness, check).await {
            failures.push(failure);
        }
    }
    failures
}

/// Run one named check.
pub async fn run_check(harness: &dyn JournalHarness, check: &'static str) -> Result<(), ConformanceFailure> {
    let created = harness.create(SHARDS).await;
    let (token, journal) = created.map_err(|error| ConformanceFailure { check, detail: journal_error(error) })?;
    let result = match check {
        "ordering_and_no_gaps" => ordering_and_no_gaps(journal.as_ref()).await,
        "sequence_conflict" => sequence_conflict(journal.as_ref()).await,
        "concurrent_writers_one_wins" => concurrent_writers_one_wins(journal).await,
        "fencing_touched_entity" => fencing_touched_entity(journal.as_ref()).await,
        "fencing_untouched_entity" => fencing_untouched_entity(journal.as_ref()).await,
        "atomic_batch" => atomic_batch(journal.as_ref()).await,
        "read_shard_positions" => read_shard_positions(journal.as_ref()).await,
        "snapshots" => snapshots(journal.as_ref()).await,
        "consumer_positions" => consumer_positions(journal.as_ref()).await,
        "remember_inbound_once" => remember_inbound_once(journal.as_ref()).await,
        "durable_across_reopen" => durable_across_reopen(harness, token, journal).await,
        other => Err(format!("no check named {other}")),
    };
    result.map_err(|detail| ConformanceFailure { check, detail })
}

/// An entity of `kind` that hashes to `shard`, distinct for each `salt`.
pub fn entity_in_shard(org: OrgId, kind: EntityKind, shard: ShardId, shard_count: u16, salt: u64) -> EntityRef {
    let mut counter: u128 = u128::from(salt) << 64;
    loop {
        let entity = EntityRef { org, kind, id: Uuid::from_u128(counter) };
        if shard_of(&entity, shard_count) == shard {
            return entity;
        }
        counter += 1;
    }
}

fn payload(entity: &EntityRef, sequence: u64) -> Vec<u8> {
    let mut bytes = entity.id.as_bytes().to_vec();
    bytes.extend_from_slice(&sequence.to_be_bytes());
    bytes.extend_from_slice(b"conformance-event");
    bytes
}

fn pending(entity: EntityRef, sequence: u64) -> PendingEvent {
    PendingEvent {
        entity,
        sequence,
        message_id: format!("{}-{}", entity.id.simple(), sequence),
        payload: payload(&entity, sequence),
    }
}

fn batch(shard: ShardId, epoch: Epoch, events: Vec<PendingEvent>) -> AppendBatch {
    AppendBatch { shard, epoch, events }
}

fn test_org() -> OrgId {
    OrgId(Uuid::new_v4())
}

fn sequences(events: &[StoredEvent]) -> Vec<u64> {
    events.iter().map(|event| event.sequence).collect()
}

async fn take(journal: &dyn Journal, shard: ShardId) -> Result<Epoch, String> {
    journal.fence(shard).await.map_err(journal_error)
}

async fn ordering_and_no_gaps(journal: &dyn Journal) -> CheckResult {
    let shard = ShardId(3);
    let epoch = take(journal, shard).await?;
    let org = test_org();
    let claim = entity_in_shard(org, EntityKind::Claim, shard, SHARDS, 1);
    for sequence in 1..=5 {
        journal.append(batch(shard, epoch, vec![pending(claim, sequence)])).await.map_err(journal_error)?;
    }
    journal.append(batch(shard, epoch, (6..=9).map(|s| pending(claim, s)).collect())).await.map_err(journal_error)?;
    let all = journal.read_entity(claim, 0).await.map_err(journal_error)?;
    ensure!(sequences(&all) == (1..=9).collect::<Vec<_>>(), "read_entity gave sequences {:?}", sequences(&all));
    for event in &all {
        ensure!(
            event.entity == claim && event.shard == shard,
            "event {} has the wrong entity or shard",
            event.sequence
        );
        ensure!(event.payload == payload(&claim, event.sequence), "event {} payload differs", event.sequence);
    }
    let tail = journal.read_entity(claim, 6).await.map_err(journal_error)?;
    ensure!(sequences(&tail) == vec![7, 8, 9], "read_entity after 6 gave {:?}", sequences(&tail));
    let gap = journal.append(batch(shard, epoch, vec![pending(claim, 11)])).await;
    ensure!(matches!(gap, Err(JournalError::SequenceConflict { .. })), "a gap (11 after 9) was not refused: {gap:?}");
    let zero = journal.append(batch(shard, epoch, vec![pending(claim, 0)])).await;
    ensure!(zero.is_err(), "sequence 0 was accepted");
    let other_kind = EntityRef { kind: EntityKind::Payer, ..claim };
    let none = journal.read_entity(other_kind, 0).await.map_err(journal_error)?;
    ensure!(none.is_empty(), "another kind with the same id sees {} events", none.len());
    let other_org = EntityRef { org: test_org(), ..claim };
    let none = journal.read_entity(other_org, 0).await.map_err(journal_error)?;
    ensure!(none.is_empty(), "another organization with the same id sees {} events", none.len());
    Ok(())
}

async fn sequence_conflict(journal: &dyn Journal) -> CheckResult {
    let shard = ShardId(1);
    let epoch = take(journal, shard).await?;
    let claim = entity_in_shard(test_org(), EntityKind::Claim, shard, SHARDS, 2);
    journal.append(batch(shard, epoch, vec![pending(claim, 1), pending(claim, 2)])).await.map_err(journal_error)?;
    let stale = journal.append(batch(shard, epoch, vec![pending(claim, 2)])).await;
    match stale {
        Err(JournalError::SequenceConflict { found, .. }) => {
            ensure!(found == 2, "conflict reports head {found}, not 2")
        }
        other => return Err(format!("a re-used sequence was not refused as a conflict: {other:?}")),
    }
    let first = journal.append(batch(shard, epoch, vec![pending(claim, 1)])).await;
    ensure!(matches!(first, Err(JournalError::SequenceConflict { .. })), "sequence 1 again was accepted: {first:?}");
    let stored = journal.read_entity(claim, 0).await.map_err(journal_error)?;
    ensure!(sequences(&stored) == vec![1, 2], "after refused appends the entity holds {:?}", sequences(&stored));
    Ok(())
}

async fn concurrent_writers_one_wins(journal: Arc<dyn Journal>) -> CheckResult {
    let shard = ShardId(2);
    let epoch = take(journal.as_ref(), shard).await?;
    let claim = entity_in_shard(test_org(), EntityKind::Claim, shard, SHARDS, 3);
    let mut tasks = Vec::new();
    for writer in 0..8u8 {
        let journal = journal.clone();
        tasks.push(tokio::spawn(async move {
            let mut event = pending(claim, 1);
            event.payload.push(writer);
            journal.append(batch(shard, epoch, vec![event])).await
        }));
    }
    let mut wins = 0;
    for task in tasks {
        match task.await.map_err(|error| format!("writer task failed: {error}"))? {
            Ok(()) => wins += 1,
            Err(JournalError::SequenceConflict { .. }) => {}
            Err(other) => return Err(journal_error(other)),
        }
    }
    ensure!(wins == 1, "{wins} concurrent writers of sequence 1 succeeded, expected exactly 1");
    let stored = journal.read_entity(claim, 0).await.map_err(journal_error)?;
    ensure!(stored.len() == 1, "the entity holds {} events after the race", stored.len());
    Ok(())
}

async fn fencing_touched_entity(journal: &dyn Journal) -> CheckResult {
    let shard = ShardId(4);
    let old = take(journal, shard).await?;
    let claim = entity_in_shard(test_org(), EntityKind::Claim, shard, SHARDS, 4);
    journal.append(batch(shard, old, vec![pending(claim, 1)])).await.map_err(journal_error)?;
    let new = take(journal, shard).await?;
    ensure!(new > old, "fence did not raise the epoch: {old:?} then {new:?}");
    let stale = journal.append(batch(shard, old, vec![pending(claim, 2)])).await;
    match stale {
        Err(JournalError::Fenced { shard: fenced, held, current }) => {
            ensure!(fenced == shard && held == old && current == new, "Fenced reports {fenced} {held:?} {current:?}")
        }
        other => return Err(format!("a stale epoch append was not fenced: {other:?}")),
    }
    journal.append(batch(shard, new, vec![pending(claim, 2)])).await.map_err(journal_error)?;
    let other_shard = ShardId(5);
    let other_epoch = take(journal, other_shard).await?;
    let other = entity_in_shard(test_org(), EntityKind::Claim, other_shard, SHARDS, 5);
    journal
        .append(batch(other_shard, other_epoch, vec![pending(other, 1)]))
        .await
        .map_err(|error| format!("fencing shard {shard} affected shard {other_shard}: {error}"))?;
    let stored = journal.read_entity(claim, 0).await.map_err(journal_error)?;
    ensure!(sequences(&stored) == vec![1, 2], "history after fencing is {:?}", sequences(&stored));
    Ok(())
}

/// DESIGN.md "Fencing has a subtle hole": the stale owner's view of an entity nobody has
/// touched since the takeover is still current, so only the epoch check can stop it.
async fn fencing_untouched_entity(journal: &dyn Journal) -> CheckResult {
    let shard = ShardId(6);
    let old = take(journal, shard).await?;
    let org = test_org();
    let touched = entity_in_shard(org, EntityKind::Claim, shard, SHARDS, 6);
    let untouched = entity_in_shard(org, EntityKind::Claim, shard, SHARDS, 7);
    journal.append(batch(shard, old, vec![pending(touched, 1)])).await.map_err(journal_error)?;
    let untouched_first = batch(shard, old, vec![pending(untouched, 1)]);
    let new = take(journal, shard).await?;
    let stale = journal.append(untouched_first.clone()).await;
    ensure!(matches!(stale, Err(JournalError::Fenced { .. })), "stale owner created an untouched entity: {stale:?}");
    let stored = journal.read_entity(untouched, 0).await.map_err(journal_error)?;
    ensure!(stored.is_empty(), "the fenced append left {} events", stored.len());
    journal.append(AppendBatch { epoch: new, ..untouched_first }).await.map_err(journal_error)?;
    Ok(())
}

async fn atomic_batch(journal: &dyn Journal) -> CheckResult {
    let shard = ShardId(0);
    let epoch = take(journal, shard).await?;
    let org = test_org();
    let first = entity_in_shard(org, EntityKind::Claim, shard, SHARDS, 8);
    let second = entity_in_shard(org, EntityKind::Claim, shard, SHARDS, 9);
    journal.append(batch(shard, epoch, vec![pending(second, 1)])).await.map_err(journal_error)?;
    let before = journal.read_shard(shard, 0, 1000).await.map_err(journal_error)?;
    // The second entity's event conflicts: nothing of the batch may be stored.
    let doomed = batch(shard, epoch, vec![pending(first, 1), pending(first, 2), pending(second, 1)]);
    let result = journal.append(doomed).await;
    ensure!(matches!(result, Err(JournalError::SequenceConflict { .. })), "conflicting batch gave {result:?}");
    let stored = journal.read_entity(first, 0).await.map_err(journal_error)?;
    ensure!(stored.is_empty(), "a refused batch stored {} events of its first entity", stored.len());
    let after = journal.read_shard(shard, 0, 1000).await.map_err(journal_error)?;
    ensure!(after == before, "a refused batch changed the shard log");
    // A batch with several entities and several events each: all stored.
    let good = batch(shard, epoch, vec![pending(first, 1), pending(second, 2), pending(first, 2)]);
    journal.append(good).await.map_err(journal_error)?;
    ensure!(sequences(&journal.read_entity(first, 0).await.map_err(journal_error)?) == vec![1, 2], "first entity");
    ensure!(sequences(&journal.read_entity(second, 0).await.map_err(journal_error)?) == vec![1, 2], "second entity");
    let wrong_shard = entity_in_shard(org, EntityKind::Claim, ShardId(1), SHARDS, 10);
    let misplaced = journal.append(batch(shard, epoch, vec![pending(wrong_shard, 1)])).await;
    ensure!(misplaced.is_err(), "an event of shard 1 was appended to shard 0");
    Ok(())
}

async fn read_shard_positions(journal: &dyn Journal) -> CheckResult {
    let shard = ShardId(7);
    let epoch = take(journal, shard).await?;
    let org = test_org();
    let entities: Vec<EntityRef> =
        (0..5).map(|salt| entity_in_shard(org, EntityKind::Claim, shard, SHARDS, 20 + salt)).collect();
    let mut appended = Vec::new();
    for round in 1..=4u64 {
        for entity in &entities {
            journal.append(batch(shard, epoch, vec![pending(*entity, round)])).await.map_err(journal_error)?;
            appended.push((*entity, round));
        }
    }
    // One batch of several entities, then appends in flight together (a group commit may
    // take them at once): a backend that stores a group's log entries together must still
    // read and page them one by one.
    let round5: Vec<PendingEvent> = entities.iter().map(|entity| pending(*entity, 5)).collect();
    journal.append(batch(shard, epoch, round5)).await.map_err(journal_error)?;
    appended.extend(entities.iter().map(|entity| (*entity, 5)));
    let one = |index: usize| journal.append(batch(shard, epoch, vec![pending(entities[index], 6)]));
    let (a, b, c, d, e) = tokio::join!(one(0), one(1), one(2), one(3), one(4));
    for result in [a, b, c, d, e] {
        result.map_err(journal_error)?;
    }
    // Several events of one entity in one append (a command's, or a batch of commands'): a
    // backend that stores them as one record must still read and page them one by one.
    let mut runs = Vec::new();
    for (entity, count) in [(entities[0], 4), (entities[1], 2), (entities[0], 3)] {
        let from = runs.iter().filter(|(appended, _)| *appended == entity).count() as u64 + 7;
        let events: Vec<PendingEvent> = (from..from + count).map(|sequence| pending(entity, sequence)).collect();
        journal.append(batch(shard, epoch, events)).await.map_err(journal_error)?;
        runs.extend((from..from + count).map(|sequence| (entity, sequence)));
    }
    let all = journal.read_shard(shard, 0, 10_000).await.map_err(journal_error)?;
    let together = entities.len();
    ensure!(
        all.len() == appended.len() + together + runs.len(),
        "read_shard gave {} of {} events",
        all.len(),
        appended.len() + together + runs.len()
    );
    let order: Vec<(EntityRef, u64)> = all.iter().map(|event| (event.entity, event.sequence)).collect();
    ensure!(order[..appended.len()] == appended[..], "read_shard order differs from append order");
    ensure!(
        order[appended.len() + together..] == runs[..],
        "several events appended together read back as {:?}",
        &order[appended.len() + together..]
    );
    for event in &all {
        ensure!(event.payload == payload(&event.entity, event.sequence), "event {} payload differs", event.sequence);
    }
    let first_run = journal.read_entity(entities[0], 8).await.map_err(journal_error)?;
    ensure!(sequences(&first_run) == vec![9, 10, 11, 12, 13], "read_entity after 8 gave {:?}", sequences(&first_run));
    ensure!(
        first_run.iter().all(|event| all.contains(event)),
        "read_entity and read_shard disagree on the events appended together"
    );
    let mut last: Vec<(EntityRef, u64)> = order[appended.len()..appended.len() + together].to_vec();
    let mut expected: Vec<(EntityRef, u64)> = entities.iter().map(|entity| (*entity, 6)).collect();
    last.sort_by_key(|(entity, _)| entity.id);
    expected.sort_by_key(|(entity, _)| entity.id);
    ensure!(last == expected, "the appends made together read back as {last:?}");
    ensure!(all.windows(2).all(|pair| pair[0].position < pair[1].position), "positions do not increase");
    ensure!(all.iter().all(|event| event.shard == shard), "an event of another shard was read");
    // Resume in pages from any position: the same events, none twice, none skipped.
    let mut resumed = Vec::new();
    let mut after = 0;
    loop {
        let page = journal.read_shard(shard, after, 3).await.map_err(journal_error)?;
        ensure!(page.len() <= 3, "limit 3 returned {}", page.len());
        let Some(last) = page.last() else { break };
        after = last.position;
        resumed.extend(page);
    }
    ensure!(resumed == all, "paging with limit 3 gave a different sequence of events");
    let from_middle = journal.read_shard(shard, all[9].position, 10_000).await.map_err(journal_error)?;
    ensure!(from_middle[..] == all[10..], "resuming after position {} differs", all[9].position);
    let empty_shard = journal.read_shard(ShardId(2), 0, 10).await.map_err(journal_error)?;
    ensure!(empty_shard.is_empty(), "an untouched shard holds {} events", empty_shard.len());
    Ok(())
}

async fn snapshots(journal: &dyn Journal) -> CheckResult {
    let claim = entity_in_shard(test_org(), EntityKind::Claim, ShardId(1), SHARDS, 30);
    ensure!(journal.load_snapshot(claim).await.map_err(journal_error)?.is_none(), "a snapshot before any was saved");
    journal.save_snapshot(claim, 3, b"state-at-3".to_vec()).await.map_err(journal_error)?;
    journal.save_snapshot(claim, 7, b"state-at-7".to_vec()).await.map_err(journal_error)?;
    let latest = journal.load_snapshot(claim).await.map_err(journal_error)?;
    ensure!(latest == Some((7, b"state-at-7".to_vec())), "latest snapshot is {latest:?}");
    let other = EntityRef { kind: EntityKind::Practice, ..claim };
    ensure!(journal.load_snapshot(other).await.map_err(journal_error)?.is_none(), "snapshot leaked across kinds");
    Ok(())
}

async fn consumer_positions(journal: &dyn Journal) -> CheckResult {
    let first = journal.load_position("sentry", ShardId(3)).await.map_err(journal_error)?;
    ensure!(first == 0, "a new consumer starts at {first}, not 0");
    journal.store_position("sentry", ShardId(3), 42).await.map_err(journal_error)?;
    journal.store_position("sentry", ShardId(3), 57).await.map_err(journal_error)?;
    journal.store_position("denial", ShardId(3), 5).await.map_err(journal_error)?;
    let sentry = journal.load_position("sentry", ShardId(3)).await.map_err(journal_error)?;
    ensure!(sentry == 57, "sentry at {sentry}, expected 57");
    let denial = journal.load_position("denial", ShardId(3)).await.map_err(journal_error)?;
    ensure!(denial == 5, "denial at {denial}, expected 5");
    let other_shard = journal.load_position("sentry", ShardId(4)).await.map_err(journal_error)?;
    ensure!(other_shard == 0, "sentry shard 4 at {other_shard}, expected 0");
    Ok(())
}

async fn remember_inbound_once(journal: &dyn Journal) -> CheckResult {
    let org = test_org();
    let other_org = test_org();
    ensure!(journal.remember_inbound(org, "835-abc").await.map_err(journal_error)?, "first delivery not new");
    ensure!(!journal.remember_inbound(org, "835-abc").await.map_err(journal_error)?, "redelivery was new");
    ensure!(!journal.remember_inbound(org, "835-abc").await.map_err(journal_error)?, "third delivery was new");
    ensure!(journal.remember_inbound(org, "835-abd").await.map_err(journal_error)?, "another id was not new");
    ensure!(journal.remember_inbound(other_org, "835-abc").await.map_err(journal_error)?, "ids leak across tenants");
    Ok(())
}

async fn durable_across_reopen(harness: &dyn JournalHarness, token: String, journal: Arc<dyn Journal>) -> CheckResult {
    let shard = ShardId(5);
    let epoch = take(journal.as_ref(), shard).await?;
    let org = test_org();
    let claim = entity_in_shard(org, EntityKind::Claim, shard, SHARDS, 40);
    journal.append(batch(shard, epoch, (1..=3).map(|s| pending(claim, s)).collect())).await.map_err(journal_error)?;
    journal.save_snapshot(claim, 2, b"two".to_vec()).await.map_err(journal_error)?;
    journal.store_position("leverage", shard, 2).await.map_err(journal_error)?;
    journal.remember_inbound(org, "era-1").await.map_err(journal_error)?;
    let before = journal.read_shard(shard, 0, 100).await.map_err(journal_error)?;
    let journal = harness.reopen(token, journal, SHARDS).await.map_err(journal_error)?;
    let after = journal.read_shard(shard, 0, 100).await.map_err(journal_error)?;
    ensure!(after == before, "the shard log changed across reopen");
    let stored = journal.read_entity(claim, 0).await.map_err(journal_error)?;
    ensure!(sequences(&stored) == vec![1, 2, 3], "after reopen the entity holds {:?}", sequences(&stored));
    let snapshot = journal.load_snapshot(claim).await.map_err(journal_error)?;
    ensure!(snapshot == Some((2, b"two".to_vec())), "snapshot after reopen: {snapshot:?}");
    let position = journal.load_position("leverage", shard).await.map_err(journal_error)?;
    ensure!(position == 2, "consumer position after reopen: {position}");
    ensure!(!journal.remember_inbound(org, "era-1").await.map_err(journal_error)?, "inbound id forgotten on reopen");
    // The epoch survives too: the old one is still refused, a new fence goes above it.
    let stale = journal.append(batch(shard, Epoch(epoch.0.saturating_sub(1)), vec![pending(claim, 4)])).await;
    ensure!(matches!(stale, Err(JournalError::Fenced { .. })), "a pre-reopen stale epoch was accepted: {stale:?}");
    journal.append(batch(shard, epoch, vec![pending(claim, 4)])).await.map_err(journal_error)?;
    let next = take(journal.as_ref(), shard).await?;
    ensure!(next > epoch, "fence after reopen went from {epoch:?} to {next:?}");
    // Appends continue the same positions, never reusing one.
    journal.append(batch(shard, next, vec![pending(claim, 5)])).await.map_err(journal_error)?;
    let all = journal.read_shard(shard, 0, 100).await.map_err(journal_error)?;
    ensure!(all.windows(2).all(|pair| pair[0].position < pair[1].position), "positions reused after reopen");
    Ok(())
}
