//! `practice bench jetstream`: figures for the distributed backbone, all measured in one run
//! against the same server so they can be compared:
//!
//! 1. raw pipelined JetStream publish (200-byte messages, 256 in flight) as the reference;
//! 2. the journal's fenced appends with 256 entities in flight over 64 shards (pipelined
//!    within a shard, as the node uses it): one event per append, and two events per append
//!    (a remittance posting: one message holding both);
//! 3. end-to-end commands through a node (command in → actor → fenced append durable →
//!    reply), with p50/p99 latency, driven over NATS request/reply like any client, at peak
//!    (closed loop, `--concurrency` claims in flight);
//! 4. the same at half of that peak rate, paced (open loop: claims start at a fixed rate
//!    whatever the answers do), with p50/p99;
//! 5. the floor under 3 and 4: a request, a JetStream publish and a reply per step with no
//!    work of ours, the node stopped, closed loop as 3 and paced as 4 (`bench_floor`).
//!
//! Durability is the server's: run it against `sync_interval: always` and against the default
//! to see both (DESIGN.md §3). Figures and how to reproduce them: README "Benchmarks".

use super::bench_floor::{floor, FloorReport};
use super::bench_paced::{pace, PacedReport, Pattern};
use super::load::{rate, run_load, LoadPlan, LoadReport};
use super::node::{ClusterNode, NodeSettings};
use super::wire::{send_command, CommandReply};
use crate::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use practice_actors::journal::{AppendBatch, Journal, JournalError, PendingEvent};
use practice_actors::module::ModuleKind;
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::Outcome;
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{shard_of, ShardId};
use serde::Serialize;
use std::future::IntoFuture;
use std::sync::Arc;
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
    /// One event per append, 256 entities in flight.
    pub fenced_single_appends_per_second: u64,
    /// Two events per append (one message), 256 entities in flight: appends/s.
    pub fenced_two_event_appends_per_second: u64,
    pub end_to_end: LoadReport,
    /// End-to-end commands/s as a share of raw pipelined publishes/s, in percent.
    pub end_to_end_percent_of_raw: u64,
    /// The most events a module consumer was behind on a shard when the peak ended (they
    /// run at a lower priority than commands, `crate::background`), and how long after it
    /// every consumer's last poll found it at its shards' heads.
    pub module_lag_after_peak: u64,
    pub module_catch_up_ms: u64,
    /// Paced at half of `end_to_end`'s rate, once the module consumers caught up.
    pub half_load: PacedReport,
    /// The messages a command costs with no node work, at peak and paced as `half_load`.
    pub floor: FloorReport,
}

pub(super) fn unavailable(error: impl std::fmt::Display) -> JournalError {
    JournalError::Unavailable(error.to_string())
}

/// A file stream `name` over `subjects`, emptied if a run before left one.
pub(super) async fn fresh_stream(context: &jetstream::Context, name: &str, subjects: &str) -> Result<(), JournalError> {
    let _ = context.delete_stream(name).await;
    let config = stream::Config {
        name: name.into(),
        subjects: vec![subjects.into()],
        storage: stream::StorageType::File,
        ..Default::default()
    };
    context.create_stream(config).await.map_err(unavailable)?;
    Ok(())
}

/// Raw reference: publish `count` 200-byte messages with 256 acks outstanding.
async fn raw_publish(client: &async_nats::Client, count: u64) -> Result<u64, JournalError> {
    let context = jetstream::new(client.clone());
    fresh_stream(&context, "BENCH", "bench.>").await?;
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

/// Entities appending at once per shard in the fenced-append runs (256 over 64 shards).
const ENTITIES_PER_SHARD: usize = 4;

/// About `appends` fenced appends of `per_append` events each over 64 shards, every shard
/// with `ENTITIES_PER_SHARD` entities appending at once, each entity its next events in turn.
/// Returns appends/s.
async fn fenced_appends(
    journal: &JetStreamJournal,
    appends: u64,
    per_append: u64,
    run: u128,
) -> Result<u64, JournalError> {
    let rounds = (appends / 64 / ENTITIES_PER_SHARD as u64).max(1);
    let started = Instant::now();
    let shards = (0..64u16).map(|shard| async move {
        let shard = ShardId(shard);
        let epoch = journal.fence(shard).await?;
        let writers = (0..ENTITIES_PER_SHARD).map(|slot| async move {
            let entity = entity_on(shard, run * 1000 + slot as u128);
            for round in 0..rounds {
                let events = (1..=per_append)
                    .map(|offset| {
                        let sequence = round * per_append + offset;
                        PendingEvent {
                            entity,
                            sequence,
                            message_id: format!("{}-{sequence}", entity.id.simple()),
                            payload: vec![b'e'; 200],
                        }
                    })
                    .collect();
                journal.append(AppendBatch { shard, epoch, events }).await?;
            }
            Ok::<u64, JournalError>(rounds)
        });
        let mut total = 0;
        for result in futures::future::join_all(writers).await {
            total += result?;
        }
        Ok::<u64, JournalError>(total)
    });
    let written: Vec<Result<u64, JournalError>> = futures::future::join_all(shards).await;
    let mut total = 0;
    for result in written {
        total += result?;
    }
    Ok(rate(total, started.elapsed()))
}

/// `pattern.journeys` claim journeys started at its rate (open loop), each claim's commands in
/// order; latencies of the accepted ones.
async fn paced(client: &async_nats::Client, seed: u64, pattern: Pattern) -> PacedReport {
    let org = load_org(seed);
    let client = Arc::new(client.clone());
    pace(pattern, |index| {
        let client = client.clone();
        async move {
            let mut latencies = Vec::new();
            for envelope in claim_journey(org, index) {
                let sent = Instant::now();
                match send_command(&client, 64, &envelope, Duration::from_secs(60)).await {
                    Ok(CommandReply::Done(Outcome::Accepted { .. })) => latencies.push(sent.elapsed()),
                    _ => return (latencies, 1),
                }
            }
            (latencies, 0)
        }
    })
    .await
}

pub async fn run_bench(plan: &BenchPlan) -> Result<BenchReport, JournalError> {
    let client = connect(&plan.nats_url, "practice-bench").await?;
    let raw = raw_publish(&client, plan.raw_messages).await?;
    let journal = JetStreamJournal::open(client.clone(), JetStreamSettings::default()).await?;
    let run = u128::from(std::process::id());
    let single = fenced_appends(&journal, plan.journal_events, 1, run * 2).await?;
    let two_event = fenced_appends(&journal, plan.journal_events / 2, 2, run * 2 + 1).await?;
    consumers_start_after(&journal).await?;
    // Its event feed (started by the head lookups above) would follow the end-to-end run too.
    drop(journal);

    // End to end: one node owning all 64 shards, in this process, driven over NATS.
    let settings = NodeSettings {
        nats_url: plan.nats_url.clone(),
        node_id: format!("bench-{}", std::process::id()),
        shard_count: 64,
        lease_timeout: Duration::from_secs(10),
        replicas: 1,
        trust_fence_only: false,
        max_live_actors: None,
    };
    let registry = prometheus::Registry::new();
    let node = ClusterNode::start(settings, &registry).await.map_err(unavailable)?;
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
    // The half load starts once the module consumers have caught up with the peak.
    let module_lag_after_peak = module_lag(&registry);
    let module_catch_up_ms = catch_up(&registry).await;
    let half_rate = end_to_end.commands_per_second / 2;
    let pattern = Pattern {
        journeys: plan.claims / 2,
        // Claims start at the rate that offers half of peak in commands.
        journeys_per_second: (half_rate * end_to_end.claims.max(1) / end_to_end.commands.max(1)).max(1),
        steps_per_journey: ((end_to_end.commands + end_to_end.claims / 2) / end_to_end.claims.max(1)).max(1),
        offered_per_second: half_rate,
    };
    let half_load = paced(&client, seed + 1, pattern).await;
    let _ = stop.send(());
    let _ = running.await;
    let floor = floor(&plan.nats_url, &client, end_to_end.commands, plan.concurrency, pattern, raw).await?;
    let percent = end_to_end.commands_per_second * 100 / raw.max(1);
    Ok(BenchReport {
        raw_pipelined_publish_per_second: raw,
        fenced_single_appends_per_second: single,
        fenced_two_event_appends_per_second: two_event,
        end_to_end,
        end_to_end_percent_of_raw: percent,
        module_lag_after_peak,
        module_catch_up_ms,
        half_load,
        floor,
    })
}

/// The most events any module consumer was behind on any shard at its last poll.
fn module_lag(registry: &prometheus::Registry) -> u64 {
    let families = registry.gather();
    let lags = families.iter().filter(|family| family.name() == "practice_consumer_lag_events");
    // Prometheus hands every gauge over as a float; the lag gauges hold whole events.
    let gauges = lags.flat_map(|family| family.get_metric().iter().map(|metric| metric.get_gauge().get_value() as u64));
    gauges.max().unwrap_or(0)
}

/// How long until every module consumer's last poll found it at the head (at most a minute).
async fn catch_up(registry: &prometheus::Registry) -> u64 {
    let started = Instant::now();
    while module_lag(registry) > 0 && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed().as_millis() as u64
}

/// The synthetic appends above are 200 bytes of filler, not events a module can read: the
/// node's consumers start after them, as those of a node that had kept up would. (Otherwise
/// five consumers log an undecodable event each during the end-to-end run.)
async fn consumers_start_after(journal: &JetStreamJournal) -> Result<(), JournalError> {
    for shard in 0..64u16 {
        let shard = ShardId(shard);
        let Some(head) = journal.shard_head(shard).await? else { continue };
        for module in ModuleKind::ALL {
            journal.store_position(module.consumer_name(), shard, head).await?;
        }
    }
    Ok(())
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
