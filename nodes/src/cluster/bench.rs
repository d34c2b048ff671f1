//! `practice bench jetstream`: figures for the distributed backbone, all measured in one run
//! against the same server so they can be compared:
//!
//! 1. raw pipelined JetStream publish (200-byte messages, 256 in flight) as the reference;
//! 2. the journal's fenced appends, one event per append and 16-event atomic batches, over
//!    64 shards with one batch in flight per shard (how the journal is used);
//! 3. end-to-end commands through a node (command in → actor → fenced append durable →
//!    reply), with p50/p99 latency, driven over NATS request/reply like any client.
//!
//! Durability is the server's: run it against `sync_interval: always` and against the default
//! to see both (DESIGN.md §3).
//!
//! Figures from one run on the 2-core build VM (release build, nats-server 2.15.1 R1 file
//! store, machine shared and busy: load average 6–10), `--raw-messages 50000
//! --journal-events 16384 --claims 2000 --concurrency 256`:
//!
//! | server          | raw pipelined | fenced single | fenced 16-batches | end to end (p50 / p99)      |
//! |-----------------|---------------|---------------|-------------------|-----------------------------|
//! | lazy (default)  | 60,454 msg/s  | 14,455 /s     | 651 events/s      | 1,042 cmd/s (167 / 949 ms)  |
//! | `sync: always`  | 770 msg/s     | 527 /s        | 667 events/s      | 436 cmd/s (440 / 2,242 ms)  |
//!
//! With `sync_interval: always` the server fsyncs every message and this disk takes ~5 ms
//! per fsync, so everything is fsync-bound (end to end is 56% of raw). On the lazy server the
//! end-to-end path is held back by atomic batches: a command with two events (a remittance
//! posting) is an atomic batch, and each batch takes 10–45 ms on the server whatever its
//! size (see `jetstream::journal`), with at most 16 open per journal. Raising that to 48 gave
//! 1,671 cmd/s at 64 claims in flight. Storing one command's events as one message would
//! remove batches from the common path.

use super::load::{rate, run_load, LoadPlan, LoadReport};
use super::node::{ClusterNode, NodeSettings};
use crate::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use practice_actors::journal::{AppendBatch, Journal, JournalError, PendingEvent};
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{shard_of, ShardId};
use serde::Serialize;
use std::future::IntoFuture;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Clone, Debug)]
pub struct BenchPlan {
    pub nats_url: String,
    pub raw_messages: u64,
    pub journal_events: u64,
    pub claims: u64,
    pub concurrency: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub raw_pipelined_publish_per_second: u64,
    pub fenced_single_appends_per_second: u64,
    pub fenced_batch16_events_per_second: u64,
    pub end_to_end: LoadReport,
    /// End-to-end commands/s as a share of raw pipelined publishes/s, in percent.
    pub end_to_end_percent_of_raw: u64,
}

fn unavailable(error: impl std::fmt::Display) -> JournalError {
    JournalError::Unavailable(error.to_string())
}

/// Raw reference: publish `count` 200-byte messages with 256 acks outstanding.
async fn raw_publish(client: &async_nats::Client, count: u64) -> Result<u64, JournalError> {
    let context = jetstream::new(client.clone());
    let _ = context.delete_stream("BENCH").await;
    context
        .create_stream(stream::Config {
            name: "BENCH".into(),
            subjects: vec!["bench.>".into()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(unavailable)?;
    let payload = bytes::Bytes::from(vec![b'x'; 200]);
    let started = Instant::now();
    let mut in_flight = futures::stream::FuturesUnordered::new();
    for index in 0..count {
        let ack = context.publish(format!("bench.{}", index % 64), payload.clone()).await.map_err(unavailable)?;
        in_flight.push(ack.into_future());
        if in_flight.len() >= 256 {
            if let Some(result) = in_flight.next().await {
                result.map_err(unavailable)?;
            }
        }
    }
    while let Some(result) = in_flight.next().await {
        result.map_err(unavailable)?;
    }
    let per_second = rate(count, started.elapsed());
    let _ = context.delete_stream("BENCH").await;
    Ok(per_second)
}

fn entity_on(shard: ShardId, salt: u128) -> EntityRef {
    let org = OrgId(Uuid::from_u128(0xbe4c));
    let mut index = salt << 32;
    loop {
        let entity = EntityRef { org, kind: EntityKind::Claim, id: Uuid::from_u128(index) };
        if shard_of(&entity, 64) == shard {
            return entity;
        }
        index += 1;
    }
}

/// `events` fenced events over 64 shards, `per_batch` to an atomic batch, one batch in flight
/// per shard; each batch writes `per_batch` fresh entities' next events.
async fn fenced_appends(
    journal: &JetStreamJournal,
    events: u64,
    per_batch: usize,
    run: u128,
) -> Result<u64, JournalError> {
    let batches_per_shard = events / 64 / per_batch as u64;
    let started = Instant::now();
    let shards = (0..64u16).map(|shard| async move {
        let shard = ShardId(shard);
        let epoch = journal.fence(shard).await?;
        let entities: Vec<EntityRef> = (0..per_batch).map(|slot| entity_on(shard, run * 1000 + slot as u128)).collect();
        for round in 0..batches_per_shard {
            let batch = entities
                .iter()
                .map(|entity| PendingEvent {
                    entity: *entity,
                    sequence: round + 1,
                    message_id: format!("{}-{}", entity.id.simple(), round + 1),
                    payload: vec![b'e'; 200],
                })
                .collect();
            journal.append(AppendBatch { shard, epoch, events: batch }).await?;
        }
        Ok::<u64, JournalError>(batches_per_shard * per_batch as u64)
    });
    let written: Vec<Result<u64, JournalError>> = futures::future::join_all(shards).await;
    let mut total = 0;
    for result in written {
        total += result?;
    }
    Ok(rate(total, started.elapsed()))
}

pub async fn run_bench(plan: &BenchPlan) -> Result<BenchReport, JournalError> {
    let client = connect(&plan.nats_url, "practice-bench").await?;
    let raw = raw_publish(&client, plan.raw_messages).await?;
    let journal = JetStreamJournal::open(client.clone(), JetStreamSettings::default()).await?;
    let run = u128::from(std::process::id());
    let single = fenced_appends(&journal, plan.journal_events / 4, 1, run * 2).await?;
    let batched = fenced_appends(&journal, plan.journal_events, 16, run * 2 + 1).await?;

    // End to end: one node owning all 64 shards, in this process, driven over NATS.
    let settings = NodeSettings {
        nats_url: plan.nats_url.clone(),
        node_id: format!("bench-{}", std::process::id()),
        shard_count: 64,
        lease_timeout: Duration::from_secs(10),
        replicas: 1,
        trust_fence_only: false,
    };
    let node = ClusterNode::start(settings, &prometheus::Registry::new()).await.map_err(unavailable)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(node.run(async move {
        let _ = stopped.await;
    }));
    wait_for_owner(&client).await?;
    let seed = u64::from(std::process::id()) << 16 | u64::from(Instant::now().elapsed().subsec_nanos() & 0xffff);
    let load = LoadPlan {
        seed,
        first: 0,
        claims: plan.claims,
        concurrency: plan.concurrency,
        shard_count: 64,
        deadline: Duration::from_secs(60),
        duplicate: false,
    };
    let end_to_end = run_load(&client, &load).await;
    let _ = stop.send(());
    let _ = running.await;
    let percent = end_to_end.commands_per_second * 100 / raw.max(1);
    Ok(BenchReport {
        raw_pipelined_publish_per_second: raw,
        fenced_single_appends_per_second: single,
        fenced_batch16_events_per_second: batched,
        end_to_end,
        end_to_end_percent_of_raw: percent,
    })
}

/// Until every shard has an owner answering (the bench node takes them on its first round).
async fn wait_for_owner(client: &async_nats::Client) -> Result<(), JournalError> {
    let leases = super::leases::LeaseStore::open(client.clone(), Duration::from_secs(10), 1).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let holders = leases.holders(64).await?;
        if holders.iter().all(|(_, holder)| holder.is_some()) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(JournalError::Unavailable("the bench node did not take every shard".into()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
