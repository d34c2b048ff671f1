//! The JetStream journal's shard reads against a real nats-server: near the head they are
//! answered from memory (and say so in `shard_reads`): for a shard the journal fenced, from
//! its own writes, which it sees at once; for others, from the event feed's window, which
//! shows another node's writes as they arrive. Reads from before either go to the server and
//! give the same events.

use practice_actors::journal::{AppendBatch, Epoch, Journal, JournalError, PendingEvent, StoredEvent};
use practice_nodes::jetstream::{connect, JetStreamJournal, JetStreamSettings, ShardReads};
use practice_protocol::envelope::EntityRef;
use practice_protocol::shard::ShardId;
use practice_tests::nats::NatsServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

const SHARD: ShardId = ShardId(3);

async fn journal(server: &NatsServer) -> Arc<JetStreamJournal> {
    let client = connect(&server.url(), "feed-test").await.unwrap();
    JetStreamJournal::open(client, JetStreamSettings::default()).await.unwrap()
}

fn entity(salt: u128) -> EntityRef {
    common::claim_on(SHARD, salt)
}

/// Event `sequence` of `entity`, its payload naming both.
fn event(entity: EntityRef, sequence: u64) -> AppendBatch {
    let event = PendingEvent {
        entity,
        sequence,
        message_id: format!("{}:{sequence}", entity.id.simple()),
        payload: format!("{} {sequence}", entity.id.simple()).into_bytes(),
    };
    AppendBatch { shard: SHARD, epoch: Epoch(0), events: vec![event] }
}

/// `count` events of `entity` from `first`, one append each.
async fn append(journal: &JetStreamJournal, epoch: Epoch, entity: EntityRef, first: u64, count: u64) {
    for sequence in first..first + count {
        journal.append(AppendBatch { epoch, ..event(entity, sequence) }).await.unwrap();
    }
}

fn labels(events: &[StoredEvent]) -> Vec<String> {
    events.iter().map(|event| String::from_utf8(event.payload.clone()).unwrap()).collect()
}

/// Read `after` until `count` events come back (another journal's writes take a moment).
async fn read_until(journal: &JetStreamJournal, after: u64, count: usize) -> Vec<StoredEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = journal.read_shard(SHARD, after, 1000).await.unwrap();
        if events.len() >= count || Instant::now() > deadline {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn reads_near_the_head_come_from_memory_and_reads_behind_it_from_the_server() {
    let Some(server) = common::start_server() else { return };
    let first = journal(&server).await;
    // Fencing reads the (empty) shard's head: the journal's own writes reach back to 0.
    let epoch = first.fence(SHARD).await.unwrap();
    for salt in 0..4 {
        append(&first, epoch, entity(salt), 1, 10).await;
    }
    let all = first.read_shard(SHARD, 0, 1000).await.unwrap();
    assert_eq!(all.len(), 40);
    assert!(all.windows(2).all(|pair| pair[0].position < pair[1].position));
    let mut paged = Vec::new();
    loop {
        let after = paged.last().map_or(0, |event: &StoredEvent| event.position);
        let page = first.read_shard(SHARD, after, 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(paged, all);
    let reads = first.shard_reads();
    assert_eq!(reads.from_server, 0, "{reads:?}");
    assert!(reads.from_window >= 8, "{reads:?}");
    // A consumer's lag is counted in events (positions are the stream's, 16 per message).
    assert_eq!(first.shard_lag(SHARD, 0).await.unwrap(), Some(40));
    assert_eq!(first.shard_lag(SHARD, all[29].position).await.unwrap(), Some(10));
    assert_eq!(first.shard_lag(SHARD, all[39].position).await.unwrap(), Some(0));

    // Another node takes the shard and writes: its own read sees its write at once, from
    // memory, and the first node's reads see it once they notice the new fence (within
    // RECHECK_FENCE); until then they lag, never skip.
    let second = journal(&server).await;
    let epoch = second.fence(SHARD).await.unwrap();
    append(&second, epoch, entity(9), 1, 1).await;
    let own = second.read_shard(SHARD, all[39].position, 1000).await.unwrap();
    assert_eq!(labels(&own), vec![format!("{} 1", entity(9).id.simple())]);
    assert_eq!(second.shard_reads(), ShardReads { from_window: 1, from_server: 0 });
    append(&second, epoch, entity(9), 2, 4).await;
    let delivered = read_until(&first, all[39].position, 5).await;
    assert_eq!(labels(&delivered), (1..=5).map(|s| format!("{} {s}", entity(9).id.simple())).collect::<Vec<_>>());
    assert!(first.shard_reads().from_server > 0, "{:?}", first.shard_reads());
    // Its next reads are the event feed's, which follows the other writer from then on
    // (a head read first, as a module consumer's poll does, opens the feed's window to it).
    assert_eq!(first.shard_head(SHARD).await.unwrap(), Some(delivered[4].position));
    let before = first.shard_reads();
    append(&second, epoch, entity(9), 6, 1).await;
    let followed = read_until(&first, delivered[4].position, 1).await;
    assert_eq!(labels(&followed), vec![format!("{} 6", entity(9).id.simple())]);
    assert!(first.shard_reads().from_window > before.from_window, "{:?}", first.shard_reads());
    // Its lag on a shard it no longer holds is counted in the feed's window.
    assert_eq!(first.shard_lag(SHARD, delivered[4].position).await.unwrap(), Some(1));
    assert_eq!(first.shard_lag(SHARD, followed[0].position).await.unwrap(), Some(0));

    // A journal opened now has nothing of the shard in its window: from 0 the server answers,
    // with the same events.
    let late = journal(&server).await;
    let whole = late.read_shard(SHARD, 0, 1000).await.unwrap();
    assert_eq!(whole.len(), 46);
    assert_eq!(whole[..40], all[..]);
    assert_eq!(late.shard_reads(), ShardReads { from_window: 0, from_server: 1 });
    // Once it has read the shard's head, reads from there on are the window's.
    let head = late.shard_head(SHARD).await.unwrap().unwrap();
    assert_eq!(head, whole[45].position);
    assert_eq!(late.read_shard(SHARD, head, 1000).await.unwrap(), Vec::new());
    append(&second, epoch, entity(9), 7, 1).await;
    let next = read_until(&late, head, 1).await;
    assert_eq!(labels(&next), vec![format!("{} 7", entity(9).id.simple())]);
    assert_eq!(late.shard_lag(SHARD, head).await.unwrap(), Some(1));
    assert_eq!(late.shard_reads().from_server, 1, "{:?}", late.shard_reads());
    assert!(late.shard_reads().from_window >= 2);
}

/// Append one event, retrying while the client reconnects. An append whose answer was lost
/// may have been stored: the retry then meets a sequence conflict, which says it was.
async fn append_through_restart(journal: &JetStreamJournal, epoch: Epoch, entity: EntityRef, sequence: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match journal.append(AppendBatch { epoch, ..event(entity, sequence) }).await {
            Ok(()) | Err(JournalError::SequenceConflict { .. }) => return,
            Err(error) if Instant::now() < deadline => {
                eprintln!("append {sequence} will be retried: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(error) => panic!("append {sequence} never went through: {error}"),
        }
    }
}

#[tokio::test]
async fn a_consumer_sees_every_event_once_across_a_server_restart_and_the_feed_comes_back() {
    let Some(mut server) = common::start_server() else { return };
    let journal = journal(&server).await;
    let epoch = journal.fence(SHARD).await.unwrap();
    let claim = entity(21);
    // A module consumer's loop: read after its position, move it to the last event read.
    let mut seen: Vec<StoredEvent> = Vec::new();
    let consume = |seen: &mut Vec<StoredEvent>| {
        let after = seen.last().map_or(0, |event| event.position);
        let journal = journal.clone();
        async move { journal.read_shard(SHARD, after, 1000).await.unwrap() }
    };
    append(&journal, epoch, claim, 1, 5).await;
    let page = consume(&mut seen).await;
    seen.extend(page);
    assert_eq!(seen.len(), 5);
    let before_restart = journal.shard_reads();
    assert_eq!(before_restart.from_server, 0, "{before_restart:?}");

    server.restart().unwrap();
    // Until the window answers again: while the feed's consumer is recreated (or the feed
    // restarted), the server answers; the consumer must not notice either way.
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sequence = 5;
    while journal.shard_reads().from_window <= before_restart.from_window + 2 {
        assert!(Instant::now() < deadline, "the feed did not come back: {:?}", journal.shard_reads());
        sequence += 1;
        append_through_restart(&journal, epoch, claim, sequence).await;
        let page = consume(&mut seen).await;
        seen.extend(page);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(journal.shard_reads().from_server > 0, "the restart went unnoticed: {:?}", journal.shard_reads());
    let page = consume(&mut seen).await;
    seen.extend(page);
    let expected: Vec<String> = (1..=sequence).map(|s| format!("{} {s}", claim.id.simple())).collect();
    assert_eq!(labels(&seen), expected);
    assert_eq!(journal.read_shard(SHARD, 0, 1000).await.unwrap(), seen);
}

/// Pipelined appends are acknowledged in any order: a reader racing them, as a module
/// consumer does, must get every event once, in position order, never passing one whose
/// ack is still on its way. What it read from memory is compared with the server's history,
/// positions included: two-event appends (one message) and a two-entity atomic batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_racing_pipelined_appends_reads_every_event_once_in_order() {
    let Some(server) = common::start_server() else { return };
    let journal = journal(&server).await;
    let epoch = journal.fence(SHARD).await.unwrap();
    const WRITERS: u128 = 48;
    const PAIRS: u64 = 20;
    let writers = (0..WRITERS).map(|salt| {
        let journal = journal.clone();
        tokio::spawn(async move {
            let entity = entity(100 + salt);
            for pair in 0..PAIRS {
                let (first, second) = (event(entity, 2 * pair + 1), event(entity, 2 * pair + 2));
                let events = first.events.into_iter().chain(second.events).collect();
                journal.append(AppendBatch { shard: SHARD, epoch, events }).await.unwrap();
            }
        })
    });
    let writers: Vec<_> = writers.collect();
    let reader = {
        let journal = journal.clone();
        tokio::spawn(async move {
            let mut seen: Vec<StoredEvent> = Vec::new();
            let total = WRITERS as usize * PAIRS as usize * 2;
            let deadline = Instant::now() + Duration::from_secs(20);
            while seen.len() < total {
                assert!(Instant::now() < deadline, "read {} of {total}", seen.len());
                let after = seen.last().map_or(0, |event| event.position);
                seen.extend(journal.read_shard(SHARD, after, 50).await.unwrap());
                tokio::task::yield_now().await;
            }
            seen
        })
    };
    for writer in writers {
        writer.await.unwrap();
    }
    let mut seen = reader.await.unwrap();
    let (a, b) = (entity(1), entity(2));
    let batch = vec![event(a, 1).events.remove(0), event(b, 1).events.remove(0)];
    journal.append(AppendBatch { shard: SHARD, epoch, events: batch }).await.unwrap();
    seen.extend(journal.read_shard(SHARD, seen.last().unwrap().position, 10).await.unwrap());
    let reads = journal.shard_reads();
    assert_eq!(reads.from_server, 0, "every read from memory: {reads:?}");
    // The same events at the same positions, in the same order, as a journal that does not
    // hold the shard reads them on the server.
    let other = self::journal(&server).await;
    let history = other.read_shard(SHARD, 0, 10_000).await.unwrap();
    assert_eq!(other.shard_reads(), ShardReads { from_window: 0, from_server: 1 });
    assert_eq!(history.len(), WRITERS as usize * PAIRS as usize * 2 + 2);
    assert_eq!(seen, history);
}

/// An append dropped before its ack (a caller's timeout, a cancelled task) may still be stored:
/// no ack will say where, so the journal must stop answering the shard from its own writes,
/// or a reader would pass that message by. Readers after the drops still get the server's
/// history, every event once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn appends_dropped_before_their_ack_leave_no_hole_in_reads() {
    let Some(server) = common::start_server() else { return };
    let journal = journal(&server).await;
    let epoch = journal.fence(SHARD).await.unwrap();
    append(&journal, epoch, entity(50), 1, 3).await;
    let before = journal.read_shard(SHARD, 0, 100).await.unwrap();
    assert_eq!(journal.shard_reads(), ShardReads { from_window: 1, from_server: 0 });
    let other = self::journal(&server).await;
    let mut appended = 3;
    // Rounds of 64 appends in flight at once, each given from 20 µs to 2.5 ms, until one was
    // dropped after its message went out and before its ack came back (how many rounds that
    // takes depends on the machine). Each round's entities have their first event written
    // beforehand, so an append is little more than its publish and its ack.
    for round in 0..20u128 {
        let entities: Vec<EntityRef> = (0..64).map(|salt| entity(1_000 * (round + 1) + salt)).collect();
        for claim in &entities {
            append(&journal, epoch, *claim, 1, 1).await;
        }
        appended += entities.len();
        let dropped = entities.iter().zip(0u64..).map(|(claim, slot)| {
            let (journal, claim) = (journal.clone(), *claim);
            tokio::spawn(async move {
                let append = journal.append(AppendBatch { epoch, ..event(claim, 2) });
                tokio::time::timeout(Duration::from_micros(20 + 40 * slot), append).await.is_ok()
            })
        });
        let mut finished = 0;
        for task in dropped.collect::<Vec<_>>() {
            finished += usize::from(task.await.unwrap());
        }
        appended += finished;
        // Give whatever was sent time to land.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let history = other.read_shard(SHARD, 0, 100_000).await.unwrap();
        if history.len() == appended {
            continue;
        }
        let after = journal.read_shard(SHARD, before[2].position, 100_000).await.unwrap();
        let positions = |events: &[StoredEvent]| events.iter().map(|event| event.position).collect::<Vec<_>>();
        assert_eq!(positions(&after), positions(&history[3..]), "round {round}: {finished} of 64 appends finished");
        assert_eq!(after, history[3..]);
        return;
    }
    panic!("no append was dropped after it was sent");
}
