//! The JetStream journal against a real nats-server (≥ 2.11; the harness installs 2.15.1):
//! fencing (including an entity the new owner never touched), sequence checks, atomic
//! batches, reads, snapshots, positions and inbound ids; a claim's Create, decided without a
//! read on a node that never saw the claim, answered as the loaded claim answers. Also pins the
//! server behaviour the journal relies on (error 10071, batch abandonment).

use practice_actors::journal::{AppendBatch, Epoch, Journal, JournalError, PendingEvent};
use practice_nodes::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use practice_protocol::envelope::EntityRef;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::ShardId;
use practice_tests::nats::NatsServer;

mod common;
use common::{claim_on, start_server};
use std::sync::Arc;
use uuid::Uuid;

async fn journal(server: &NatsServer) -> Arc<JetStreamJournal> {
    let client = connect(&server.url(), "test").await.unwrap();
    JetStreamJournal::open(client, JetStreamSettings::default()).await.unwrap()
}

/// An actor node over `journal`, holding every shard (it fences them all).
async fn start_node(journal: Arc<JetStreamJournal>) -> practice_actors::Node {
    let metrics = practice_actors::metrics::BackboneMetrics::register(&prometheus::Registry::new()).unwrap();
    practice_actors::Node::start_embedded(journal, metrics, practice_actors::NodeConfig::default()).await.unwrap()
}

fn event(entity: EntityRef, sequence: u64) -> PendingEvent {
    PendingEvent {
        entity,
        sequence,
        message_id: format!("{}:{sequence}", entity.id.simple()),
        payload: format!("event {sequence}").into_bytes(),
    }
}

#[tokio::test]
async fn stale_owner_is_fenced_even_on_an_untouched_entity() {
    let Some(server) = start_server() else { return };
    let old_owner = journal(&server).await;
    let new_owner = journal(&server).await;
    let shard = ShardId(5);
    let touched = claim_on(shard, 1);
    let untouched = claim_on(shard, 2);

    let old_epoch = old_owner.fence(shard).await.unwrap();
    old_owner.append(AppendBatch { shard, epoch: old_epoch, events: vec![event(touched, 1)] }).await.unwrap();
    // The old owner has warm caches for both; the new owner takes the shard.
    assert!(old_owner.read_entity(untouched, 0).await.unwrap().is_empty());
    let new_epoch = new_owner.fence(shard).await.unwrap();
    assert!(new_epoch > old_epoch);

    for stale in [vec![event(untouched, 1)], vec![event(touched, 2)], vec![event(untouched, 1), event(touched, 2)]] {
        let refused = old_owner.append(AppendBatch { shard, epoch: old_epoch, events: stale }).await;
        assert_eq!(refused, Err(JournalError::Fenced { shard, held: old_epoch, current: new_epoch }));
    }
    assert!(new_owner.read_entity(untouched, 0).await.unwrap().is_empty());
    assert_eq!(new_owner.read_entity(touched, 0).await.unwrap().len(), 1);
    new_owner.append(AppendBatch { shard, epoch: new_epoch, events: vec![event(untouched, 1)] }).await.unwrap();
}

#[tokio::test]
async fn batches_are_atomic_and_sequences_checked() {
    let Some(server) = start_server() else { return };
    let journal = journal(&server).await;
    let shard = ShardId(9);
    let a = claim_on(shard, 3);
    let b = claim_on(shard, 4);
    let epoch = journal.fence(shard).await.unwrap();
    let batch = vec![event(a, 1), event(b, 1), event(a, 2), event(b, 2), event(a, 3)];
    journal.append(AppendBatch { shard, epoch, events: batch }).await.unwrap();
    let history: Vec<u64> = journal.read_entity(a, 0).await.unwrap().iter().map(|e| e.sequence).collect();
    assert_eq!(history, vec![1, 2, 3]);

    // A second writer with the same epoch but a stale view: refused, nothing stored.
    let other = JetStreamJournal::open(journal.client().clone(), JetStreamSettings::default()).await.unwrap();
    assert_eq!(
        other.append(AppendBatch { shard, epoch, events: vec![event(b, 3), event(a, 3)] }).await,
        Err(JournalError::SequenceConflict { expected: 3, found: 3 })
    );
    assert_eq!(journal.read_entity(b, 0).await.unwrap().len(), 2);
    // The server-side entity check: `other` moves `a` on; `journal`'s cached head for `a` is
    // now stale, and its batch is refused by the server (10071) as a whole, `b` included.
    other.append(AppendBatch { shard, epoch, events: vec![event(a, 4)] }).await.unwrap();
    assert_eq!(
        journal.append(AppendBatch { shard, epoch, events: vec![event(b, 3), event(a, 4)] }).await,
        Err(JournalError::SequenceConflict { expected: 4, found: 4 })
    );
    assert_eq!(journal.read_entity(b, 0).await.unwrap().len(), 2, "an abandoned batch stores nothing");
    journal.append(AppendBatch { shard, epoch, events: vec![event(b, 3), event(a, 5)] }).await.unwrap();
    // A gap is refused before anything is sent.
    assert!(matches!(
        journal.append(AppendBatch { shard, epoch, events: vec![event(b, 5)] }).await,
        Err(JournalError::SequenceConflict { .. })
    ));
    // The shard reads back in position order; positions strictly increase.
    let shard_events = journal.read_shard(shard, 0, 100).await.unwrap();
    assert_eq!(shard_events.len(), 8);
    assert!(shard_events.windows(2).all(|pair| pair[0].position < pair[1].position));
    assert_eq!(journal.shard_head(shard).await.unwrap(), Some(shard_events[7].position));
    assert_eq!(journal.shard_head(ShardId(33)).await.unwrap(), Some(0));
    let tail = journal.read_shard(shard, shard_events[2].position, 100).await.unwrap();
    assert_eq!(tail, shard_events[3..].to_vec());
    assert_eq!(journal.read_shard(shard, 0, 2).await.unwrap(), shard_events[..2].to_vec());
    // Wrong shard for the entity.
    assert!(matches!(
        journal.append(AppendBatch { shard: ShardId(10), epoch, events: vec![event(a, 6)] }).await,
        Err(JournalError::InvalidAppend(_))
    ));
}

#[tokio::test]
async fn kv_side_tables_work() {
    let Some(server) = start_server() else { return };
    let journal = journal(&server).await;
    let entity = claim_on(ShardId(1), 5);
    assert_eq!(journal.load_snapshot(entity).await.unwrap(), None);
    journal.save_snapshot(entity, 7, vec![1, 2, 3]).await.unwrap();
    assert_eq!(journal.load_snapshot(entity).await.unwrap(), Some((7, vec![1, 2, 3])));
    assert_eq!(journal.load_position("denial", ShardId(3)).await.unwrap(), 0);
    journal.store_position("denial", ShardId(3), 99).await.unwrap();
    assert_eq!(journal.load_position("denial", ShardId(3)).await.unwrap(), 99);
    assert!(journal.load_position("bad name", ShardId(3)).await.is_err());
    let org = OrgId(Uuid::from_u128(1));
    assert!(journal.remember_inbound(org, "era:TRN*1*12345").await.unwrap());
    assert!(!journal.remember_inbound(org, "era:TRN*1*12345").await.unwrap());
    assert!(journal.remember_inbound(OrgId(Uuid::from_u128(2)), "era:TRN*1*12345").await.unwrap());
}

#[tokio::test]
async fn fence_survives_a_server_restart() {
    let Some(mut server) = start_server() else { return };
    let journal = journal(&server).await;
    let shard = ShardId(2);
    let entity = claim_on(shard, 6);
    let epoch = journal.fence(shard).await.unwrap();
    journal.append(AppendBatch { shard, epoch, events: vec![event(entity, 1), event(entity, 2)] }).await.unwrap();
    server.restart().unwrap();
    let reopened = {
        let client = connect(&server.url(), "after-restart").await.unwrap();
        JetStreamJournal::open(client, JetStreamSettings::default()).await.unwrap()
    };
    assert_eq!(reopened.read_entity(entity, 0).await.unwrap().len(), 2);
    let next = reopened.fence(shard).await.unwrap();
    assert_eq!(next, Epoch(epoch.0 + 1));
}

/// The batch registry in JetStream KV shows what every backend must, and keeps it across a
/// kill -9 of the server.
#[tokio::test]
async fn kv_batch_registry_passes_the_registry_checks_and_survives_a_server_crash() {
    use practice_actors::ingest::registry::checks::{exercise, still_there};
    use practice_nodes::jetstream::registry::KvBatchRegistry;
    let Some(mut server) = start_server() else { return };
    let registry = KvBatchRegistry::open(connect(&server.url(), "test").await.unwrap(), 1).await.unwrap();
    exercise(&registry).await.unwrap();
    drop(registry);
    server.restart().unwrap();
    let reopened = KvBatchRegistry::open(connect(&server.url(), "test").await.unwrap(), 1).await.unwrap();
    still_there(&reopened).await.unwrap();
}

/// A node that takes over a journal another node wrote knows none of its heads: a claim's
/// Create, which an actor decides without reading when it is its first message, is refused by
/// the server's last-sequence answer and decided again by the loaded actor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_for_a_claim_another_node_wrote_gets_the_loaded_answer() {
    use practice_actors::entity::{EntityRejection, Outcome};
    use practice_actors::synthetic::{claim_journey, load_org};
    use practice_protocol::claim::Rejection;

    let Some(server) = start_server() else { return };
    let first = start_node(journal(&server).await).await;
    let journey = claim_journey(load_org(40), 0);
    assert!(first.send(journey[0].clone()).await.unwrap().is_accepted());
    assert!(first.send(journey[1].clone()).await.unwrap().is_accepted());
    first.shutdown().await;

    let second = start_node(journal(&server).await).await;
    let again = second.send(journey[0].clone()).await.unwrap();
    assert!(matches!(again, Outcome::Accepted { events_appended: 0, version: 2, .. }), "{again:?}");
    second.passivate_all().await;
    let mut other = journey[0].clone();
    other.command_id = practice_protocol::ids::CommandId(Uuid::new_v4());
    let refused = second.send(other).await.unwrap();
    assert!(
        matches!(refused, Outcome::Rejected { rejection: EntityRejection::Claim(Rejection::AlreadyExists), .. }),
        "{refused:?}"
    );
    assert_eq!(second.journal().read_entity(journey[0].entity, 0).await.unwrap().len(), 2);
    let next = second.send(journey[2].clone()).await.unwrap();
    assert!(matches!(next, Outcome::Accepted { events_appended: 1, version: 3, .. }), "{next:?}");
    assert_eq!(second.stats().await.restarts, 0);
    second.shutdown().await;
}

/// A claim another node wrote: its actor here rebuilds (snapshot, then the journal's tail) on
/// its first command, and that command's append plans on the head the rebuild read, with no
/// second read of the same message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuilt_claims_append_reads_no_head_after_its_rebuild() {
    use practice_actors::entity::Outcome;
    use practice_actors::synthetic::{claim_journey, load_org};

    let Some(server) = start_server() else { return };
    let journey = claim_journey(load_org(41), 0);
    let first = start_node(journal(&server).await).await;
    for command in &journey[..2] {
        assert!(first.send(command.clone()).await.unwrap().is_accepted());
    }
    first.shutdown().await;

    let journal = journal(&server).await;
    let second = start_node(journal.clone()).await;
    let reads = journal.head_reads();
    let next = second.send(journey[2].clone()).await.unwrap();
    assert!(matches!(next, Outcome::Accepted { events_appended: 1, version: 3, .. }), "{next:?}");
    assert_eq!(journal.head_reads(), reads, "the rebuild's read serves the append");
    let history = journal.read_entity(journey[0].entity, 0).await.unwrap();
    assert_eq!(history.iter().map(|event| event.sequence).collect::<Vec<_>>(), vec![1, 2, 3]);
    second.shutdown().await;
}

/// The same event under another command's id: past the server's `Nats-Msg-Id` window, or a
/// second `Create` for a claim id already used.
fn event_of_command(entity: EntityRef, sequence: u64, command: &str) -> PendingEvent {
    PendingEvent { message_id: format!("{command}:{sequence}"), ..event(entity, sequence) }
}

/// A writer lists the shard's entities when it fences it: a new claim's first append reads no
/// head on the server, and a first event for a claim another writer created is still refused
/// (read, then a sequence conflict), not stored as a second history.
#[tokio::test]
async fn a_fence_lists_the_shard_so_only_new_entities_skip_the_head_read() {
    let Some(server) = start_server() else { return };
    let shard = ShardId(11);
    let (written, fresh) = (claim_on(shard, 7), claim_on(shard, 8));
    let old_owner = journal(&server).await;
    let old_epoch = old_owner.fence(shard).await.unwrap();
    old_owner.append(AppendBatch { shard, epoch: old_epoch, events: vec![event(written, 1)] }).await.unwrap();

    let owner = journal(&server).await;
    let epoch = owner.fence(shard).await.unwrap();
    // The fence does not wait for the list: an append meanwhile may read its head, and counts.
    let early = claim_on(shard, 12);
    owner.append(AppendBatch { shard, epoch, events: vec![event(early, 1)] }).await.unwrap();
    assert!(owner.shard_listed(shard).await);
    let reads = owner.head_reads();
    owner.append(AppendBatch { shard, epoch, events: vec![event(fresh, 1)] }).await.unwrap();
    owner.append(AppendBatch { shard, epoch, events: vec![event(fresh, 2)] }).await.unwrap();
    assert_eq!(owner.head_reads(), reads, "a new entity, then its cached head");

    let again = owner.append(AppendBatch { shard, epoch, events: vec![event_of_command(written, 1, "second-create")] });
    assert_eq!(again.await, Err(JournalError::SequenceConflict { expected: 1, found: 1 }));
    assert_eq!(owner.head_reads(), reads + 1, "a listed claim's head is read");
    assert_eq!(owner.read_entity(written, 0).await.unwrap().len(), 1, "no second first event");
    owner.append(AppendBatch { shard, epoch, events: vec![event(written, 2)] }).await.unwrap();

    // Fenced again, the writer forgets its heads and lists what it wrote itself.
    let epoch = owner.fence(shard).await.unwrap();
    assert!(owner.shard_listed(shard).await);
    let reads = owner.head_reads();
    for (entity, head) in [(early, 1), (fresh, 2)] {
        let again = owner.append(AppendBatch { shard, epoch, events: vec![event_of_command(entity, 1, "again")] });
        assert_eq!(again.await, Err(JournalError::SequenceConflict { expected: 1, found: head }));
    }
    assert_eq!(owner.head_reads(), reads + 2);

    // A writer that did not fence (it learns the epoch on its first append) has no list and
    // reads every head it does not know.
    let unfenced = journal(&server).await;
    let other = claim_on(shard, 9);
    unfenced.append(AppendBatch { shard, epoch, events: vec![event(other, 1)] }).await.unwrap();
    assert_eq!(unfenced.head_reads(), 1);
}

/// An actor rebuilding reads its entity's history right before its next command: that
/// command's append plans on the head the read found instead of reading the same last message
/// again, and the epoch check still refuses it once another writer fenced the shard.
#[tokio::test]
async fn an_append_after_an_entity_read_plans_on_the_head_the_read_found() {
    let Some(server) = start_server() else { return };
    let shard = ShardId(13);
    let (claim, other) = (claim_on(shard, 3), claim_on(shard, 4));
    let first = journal(&server).await;
    let first_epoch = first.fence(shard).await.unwrap();
    for sequence in 1..=3 {
        first.append(AppendBatch { shard, epoch: first_epoch, events: vec![event(claim, sequence)] }).await.unwrap();
    }
    first.append(AppendBatch { shard, epoch: first_epoch, events: vec![event(other, 1)] }).await.unwrap();

    let owner = journal(&server).await;
    let epoch = owner.fence(shard).await.unwrap();
    assert!(owner.shard_listed(shard).await);
    let reads = owner.head_reads();
    assert_eq!(owner.read_entity(claim, 1).await.unwrap().len(), 2, "events after a snapshot at 1");
    owner.append(AppendBatch { shard, epoch, events: vec![event(claim, 4)] }).await.unwrap();
    assert_eq!(owner.head_reads(), reads, "planned on the head the read found");
    let sequences = |events: Vec<practice_actors::journal::StoredEvent>| -> Vec<u64> {
        events.iter().map(|event| event.sequence).collect()
    };
    assert_eq!(sequences(owner.read_entity(claim, 0).await.unwrap()), vec![1, 2, 3, 4]);
    let twice = owner.append(AppendBatch { shard, epoch, events: vec![event_of_command(claim, 4, "second")] });
    assert_eq!(twice.await, Err(JournalError::SequenceConflict { expected: 4, found: 4 }));

    // Another writer takes the shard and moves the entity after the read: refused, no fork.
    assert_eq!(owner.read_entity(other, 0).await.unwrap().len(), 1);
    let newer = journal(&server).await;
    let newer_epoch = newer.fence(shard).await.unwrap();
    newer.append(AppendBatch { shard, epoch: newer_epoch, events: vec![event(other, 2)] }).await.unwrap();
    let stale = owner.append(AppendBatch { shard, epoch, events: vec![event_of_command(other, 2, "stale")] });
    assert_eq!(stale.await, Err(JournalError::Fenced { shard, held: epoch, current: newer_epoch }));
    let history = newer.read_entity(other, 0).await.unwrap();
    assert_eq!(sequences(history.clone()), vec![1, 2]);
    assert_eq!(history[1].payload, event(other, 2).payload);

    // A writer that has not fenced the shard keeps no read's head: its append reads one.
    let reader = journal(&server).await;
    assert_eq!(reader.read_entity(claim, 0).await.unwrap().len(), 4);
    reader.append(AppendBatch { shard, epoch: newer_epoch, events: vec![event(claim, 5)] }).await.unwrap();
    assert_eq!(reader.head_reads(), 1);
}

/// The server lists at most 100,000 subjects a page: a shard with more is listed whole, so a
/// claim on the second page is known and a new one still needs no read.
#[tokio::test]
async fn a_shard_of_more_entities_than_a_page_is_listed_whole() {
    use futures::StreamExt;
    let Some(server) = start_server() else { return };
    let shard = ShardId(12);
    let client = connect(&server.url(), "filler").await.unwrap();
    let owner = JetStreamJournal::open(client.clone(), JetStreamSettings::default()).await.unwrap();
    let context = async_nats::jetstream::new(client);
    // Subjects sort by org before id: the filler's org sorts ahead of the claims' own.
    let filler_org = Uuid::from_u128(1).simple().to_string();
    let acks = futures::stream::iter(0..100_050u128)
        .map(|index| {
            let context = context.clone();
            let subject = format!("evt.{}.claim.{filler_org}.{}", shard.0, Uuid::from_u128(index).simple());
            async move {
                let mut headers = async_nats::HeaderMap::new();
                headers.insert("Practice-Entity-Sequence", "1");
                context.publish_with_headers(subject, headers, "filler".into()).await?.await
            }
        })
        .buffer_unordered(512);
    assert_eq!(acks.filter(|ack| futures::future::ready(ack.is_ok())).count().await, 100_050);
    let (last, fresh) = (claim_on(shard, 10), claim_on(shard, 11));
    let old_owner = journal(&server).await;
    let old_epoch = old_owner.fence(shard).await.unwrap();
    old_owner.append(AppendBatch { shard, epoch: old_epoch, events: vec![event(last, 1)] }).await.unwrap();

    let epoch = owner.fence(shard).await.unwrap();
    assert!(owner.shard_listed(shard).await, "the list held every page");
    owner.append(AppendBatch { shard, epoch, events: vec![event(fresh, 1)] }).await.unwrap();
    assert_eq!(owner.head_reads(), 0);
    let again = owner.append(AppendBatch { shard, epoch, events: vec![event_of_command(last, 1, "second-create")] });
    assert_eq!(again.await, Err(JournalError::SequenceConflict { expected: 1, found: 1 }));
    assert_eq!(owner.read_entity(last, 0).await.unwrap().len(), 1);
}
