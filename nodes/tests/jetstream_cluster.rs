//! The JetStream journal on a replicated stream: three real nats-servers routed as one
//! JetStream cluster, `EVENTS` with three replicas. A journal that finds the stream replicated
//! reads what its appends are planned on from the stream's leader (ARCHITECTURE "Reads on a
//! replicated stream"); here one follower is held behind (SIGSTOP) while one owner writes and
//! another takes the shard over, and no history forks.

use practice_actors::journal::{AppendBatch, Journal, JournalError, PendingEvent};
use practice_nodes::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use practice_protocol::envelope::EntityRef;
use practice_protocol::shard::ShardId;
use practice_tests::nats::NatsServer;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::claim_on;

fn event(entity: EntityRef, sequence: u64, command: &str) -> PendingEvent {
    PendingEvent {
        entity,
        sequence,
        message_id: format!("{command}:{}:{sequence}", entity.id.simple()),
        payload: format!("event {sequence}").into_bytes(),
    }
}

/// A journal on `url`, once the cluster has a meta leader and can place a stream of
/// `replicas`.
async fn journal(url: &str, replicas: usize) -> Arc<JetStreamJournal> {
    let started = Instant::now();
    loop {
        let client = connect(url, "cluster-test").await.expect("connects");
        let settings = JetStreamSettings { replicas, ..Default::default() };
        match JetStreamJournal::open(client, settings).await {
            Ok(journal) => return journal,
            Err(error) if started.elapsed() < Duration::from_secs(60) => {
                eprintln!("cluster not ready yet: {error}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(error) => panic!("the cluster never took the streams: {error}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_replicated_stream_a_new_owner_reads_from_the_leader_past_a_follower_held_behind() {
    let servers = match NatsServer::start_cluster(3) {
        Ok(servers) => servers,
        Err(error) => {
            assert!(std::env::var_os("CI").is_none(), "CI needs nats-server: {error:#}");
            eprintln!("skipping: {error:#}");
            return;
        }
    };
    let old_owner = journal(&servers[0].url(), 3).await;
    assert!(old_owner.settings().read_from_leader);
    let shard = ShardId(3);
    let (claim, fresh) = (claim_on(shard, 31), claim_on(shard, 32));
    let old_epoch = old_owner.fence(shard).await.unwrap();
    for sequence in 1..=3 {
        old_owner
            .append(AppendBatch { shard, epoch: old_epoch, events: vec![event(claim, sequence, "a")] })
            .await
            .unwrap();
    }

    // Hold back a follower that is neither the stream's leader nor the clients' server.
    let context = async_nats::jetstream::new(old_owner.client().clone());
    let mut stream = context.get_stream("EVENTS").await.unwrap();
    let leader = stream.info().await.unwrap().cluster.as_ref().and_then(|cluster| cluster.leader.clone());
    let held = (1..3).find(|index| leader.as_deref() != Some(format!("n{index}").as_str())).unwrap();
    servers[held].pause().unwrap();
    for sequence in 4..=6 {
        old_owner
            .append(AppendBatch { shard, epoch: old_epoch, events: vec![event(claim, sequence, "a")] })
            .await
            .unwrap();
    }

    // A node told nothing of replicas finds the stream replicated, and takes the shard over.
    let owner = journal(&servers[0].url(), 1).await;
    assert!(owner.settings().read_from_leader, "the stream's own replicas decide");
    let epoch = owner.fence(shard).await.unwrap();
    // Listed or not (a list the cluster cannot give now is done without), heads are read.
    owner.shard_listed(shard).await;
    assert_eq!(owner.read_entity(claim, 0).await.unwrap().len(), 6);
    let again = owner.append(AppendBatch { shard, epoch, events: vec![event(claim, 1, "second-create")] });
    assert_eq!(again.await, Err(JournalError::SequenceConflict { expected: 1, found: 6 }));
    owner.append(AppendBatch { shard, epoch, events: vec![event(claim, 7, "b")] }).await.unwrap();
    owner.append(AppendBatch { shard, epoch, events: vec![event(fresh, 1, "b")] }).await.unwrap();
    let stale = old_owner.append(AppendBatch { shard, epoch: old_epoch, events: vec![event(claim, 7, "a")] });
    assert!(matches!(stale.await, Err(JournalError::Fenced { .. })));

    // The follower back: while the cluster settles it may answer "temporarily unavailable"
    // (10008) or have no stream leader for a moment (no responders), which a caller retries;
    // a retried append that had landed meets its own message id and then its own head.
    servers[held].resume().unwrap();
    let history = settled(|| owner.read_entity(claim, 0)).await;
    assert_eq!(history.iter().map(|event| event.sequence).collect::<Vec<_>>(), (1..=7).collect::<Vec<_>>());
    settled(|| async {
        match owner.append(AppendBatch { shard, epoch, events: vec![event(claim, 8, "b")] }).await {
            Err(JournalError::SequenceConflict { expected: 8, found: 8 }) => Ok(()),
            other => other,
        }
    })
    .await;
    let history = settled(|| owner.read_entity(claim, 0)).await;
    assert_eq!(history.iter().map(|event| event.sequence).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
}

/// `read`'s answer once the cluster answers at all (at most 30 s of `Unavailable`).
async fn settled<T, F: std::future::Future<Output = Result<T, JournalError>>>(read: impl Fn() -> F) -> T {
    let started = Instant::now();
    loop {
        match read().await {
            Ok(answer) => return answer,
            Err(JournalError::Unavailable(reason)) if started.elapsed() < Duration::from_secs(30) => {
                eprintln!("retrying: {reason}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("{error}"),
        }
    }
}
