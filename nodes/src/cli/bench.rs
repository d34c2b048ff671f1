//! `practice bench backbone`: figures, never assertions. In one run, on this machine:
//! raw sled inserts without flush, with a flush per write, and with group commit (flush and
//! `fdatasync` every `--concurrency` inserts: the durability the journal gives; the
//! references), the group-commit peer again with the journal-alone run's own keys and count
//! (what sled alone makes of that work), appends through the
//! embedded journal alone (durable by group commit, no actors), then end-to-end
//! commands/s through the embedded node (command in → events durable by group commit →
//! reply) with p50/p99, the same at half that rate, and RSS per live and per passivated claim
//! actor.

// Rates and percentiles are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

use super::embedded::{open_journal, rss_kib, start_node, Latencies};
use super::load::drive;
use anyhow::Context;
use clap::{Args, Subcommand};
use practice_actors::journal::sled_open::SyncedDb;
use practice_actors::journal::{AppendBatch, Journal, JournalError, PendingEvent, SledJournal};
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::Node;
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{shard_of, ShardId};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Subcommand, Debug)]
pub enum BenchTarget {
    /// The embedded backbone against raw sled.
    Backbone(BackboneArgs),
    /// The HTTP API on loopback: claim reads, commands, remittance → SSE delay.
    Api(super::bench_api::ApiBenchArgs),
}

#[derive(Args, Debug)]
pub struct BackboneArgs {
    /// Claims driven end to end (about 6.2 commands each).
    #[arg(long, default_value_t = 5_000)]
    pub claims: u64,
    /// Claims in flight in the peak run.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Raw sled inserts without flush, and again with group commit.
    #[arg(long, default_value_t = 100_000)]
    pub raw_inserts: u64,
    /// Raw sled inserts with a flush after each.
    #[arg(long, default_value_t = 2_000)]
    pub flushed_inserts: u64,
    /// Single-event appends straight through the embedded journal (no actors).
    #[arg(long, default_value_t = 200_000)]
    pub journal_appends: u64,
    /// Claim actors created for the RSS figures.
    #[arg(long, default_value_t = 50_000)]
    pub actors: u64,
    /// Scratch directory (default: a new one under the system temp dir, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run(target: BenchTarget) -> anyhow::Result<ExitCode> {
    let args = match target {
        BenchTarget::Backbone(args) => args,
        BenchTarget::Api(args) => return super::bench_api::run(args),
    };
    let scratch =
        args.dir.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("practice-bench-{}", std::process::id())));
    std::fs::create_dir_all(&scratch).with_context(|| format!("cannot create {}", scratch.display()))?;
    let result = super::embedded::runtime()?.block_on(backbone(&args, &scratch));
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result.map(|()| ExitCode::SUCCESS)
}

/// When a raw sled peer makes its inserts durable.
#[derive(Clone, Copy)]
enum RawFlush {
    /// Only at the end: sled's own background flush meanwhile (no durability per write).
    AtEnd,
    /// sled's flush after every insert.
    EachWrite,
    /// Group commit, as the journal does it: sled's flush and an `fdatasync` of its log after
    /// every `n` inserts (`SyncedDb::flush`, the journal's own).
    Group(u64),
}

/// Which keys a raw sled peer inserts.
#[derive(Clone, Copy)]
enum RawKeys {
    /// 0, 1, 2, …: every insert lands at the tree's right end.
    Sequential,
    /// The journal's own event keys for the journal-alone run's `n` entities taking turns, one
    /// insert per event it appends: each lands at the end of its entity's range, `n` places in
    /// the tree. (The journal itself stores an entity's later events joined, in fewer records:
    /// ARCHITECTURE "Journals".)
    Entities(u64),
}

impl RawKeys {
    fn key(self, index: u64) -> Vec<u8> {
        match self {
            RawKeys::Sequential => index.to_be_bytes().to_vec(),
            RawKeys::Entities(entities) => {
                let entities = entities.max(1);
                practice_actors::journal::sled::event_store_key(&appender(index % entities), index / entities + 1)
            }
        }
    }
}

/// The entity the journal-alone run's appender number `writer` appends to.
fn appender(writer: u64) -> EntityRef {
    EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(u128::from(writer) + 1) }
}

fn raw_sled(path: &Path, inserts: u64, flush: RawFlush, keys: RawKeys) -> anyhow::Result<f64> {
    // sled's default page cache (1 GiB) for every peer, as before the group-commit peer existed.
    let db = SyncedDb::open(path, 1 << 30).context("cannot open scratch sled")?;
    let value = [7u8; 200];
    let started = Instant::now();
    for key in 0..inserts {
        db.insert(keys.key(key), &value[..])?;
        match flush {
            RawFlush::AtEnd => {}
            // sled's own flush, without the sync `SyncedDb::flush` adds.
            RawFlush::EachWrite => drop(sled::Tree::flush(&db)?),
            RawFlush::Group(n) if (key + 1) % n.max(1) == 0 => db.flush()?,
            RawFlush::Group(_) => {}
        }
    }
    db.flush()?;
    Ok(inserts as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON))
}

async fn backbone(args: &BackboneArgs, scratch: &Path) -> anyhow::Result<()> {
    println!("bench backbone (embedded journal, sled 0.34, group commit; debug={})", cfg!(debug_assertions));
    let lazy = raw_sled(&scratch.join("raw-lazy"), args.raw_inserts, RawFlush::AtEnd, RawKeys::Sequential)?;
    println!("raw sled inserts, no flush per write      {lazy:>10.0} /s  ({} x 200 B)", args.raw_inserts);
    let durable =
        raw_sled(&scratch.join("raw-durable"), args.flushed_inserts, RawFlush::EachWrite, RawKeys::Sequential)?;
    println!("raw sled inserts, flush per write         {durable:>10.0} /s  ({} x 200 B)", args.flushed_inserts);
    let group = args.concurrency.max(1) as u64;
    let grouped =
        raw_sled(&scratch.join("raw-grouped"), args.raw_inserts, RawFlush::Group(group), RawKeys::Sequential)?;
    println!(
        "raw sled inserts, group commit            {grouped:>10.0} /s  ({} x 200 B, flush + fdatasync every {group})",
        args.raw_inserts
    );

    // The journal-alone run's own keys and count: what sled alone does with that work.
    let keyed =
        raw_sled(&scratch.join("raw-keyed"), args.journal_appends, RawFlush::Group(group), RawKeys::Entities(group))?;
    println!(
        "raw sled inserts, group commit, keyed     {keyed:>10.0} /s  ({} x 200 B, keyed as the journal's events of {group} entities)",
        args.journal_appends
    );

    let journal = open_journal(&scratch.join("appends"), practice_protocol::shard::DEFAULT_SHARD_COUNT)?;
    let appends = journal_appends(journal.clone(), args.journal_appends, args.concurrency).await?;
    journal.close();
    println!(
        "journal appends (durable, {} in flight)     {appends:>10.0} /s  ({} x 1 event of 200 B, no actors)",
        args.concurrency, args.journal_appends
    );
    println!(
        "  = {:.0}% of raw sled without flush, {:.0}% of raw sled with group commit ({:.0}% of it keyed as the journal's)",
        100.0 * appends / lazy,
        100.0 * appends / grouped,
        100.0 * appends / keyed
    );

    let journal = open_journal(&scratch.join("e2e"), practice_protocol::shard::DEFAULT_SHARD_COUNT)?;
    let node = start_node(journal.clone(), &prometheus::Registry::new()).await?;
    let mut peak = drive(&node, 1, 0, args.claims, args.concurrency, None).await;
    let peak_rate = peak.commands as f64 / peak.elapsed.as_secs_f64().max(f64::EPSILON);
    println!(
        "end-to-end commands (durable, {} in flight) {peak_rate:>10.0} /s  p50 {:.2} ms  p99 {:.2} ms  ({} commands, {} failed)",
        args.concurrency,
        peak.latencies.percentile_ms(0.5),
        peak.latencies.percentile_ms(0.99),
        peak.commands,
        peak.failures
    );
    println!(
        "  = {:.0}% of raw sled without flush, {:.1}x raw sled with flush per write",
        100.0 * peak_rate / lazy,
        peak_rate / durable
    );
    let (mut half, half_rate) = paced(&node, 2, args.claims / 2, peak_rate / 2.0).await;
    println!(
        "end-to-end at half of peak ({:.0}/s offered) {half_rate:>9.0} /s  p50 {:.2} ms  p99 {:.2} ms",
        peak_rate / 2.0,
        half.percentile_ms(0.5),
        half.percentile_ms(0.99)
    );
    node.shutdown().await;
    journal.close();

    let journal = open_journal(&scratch.join("rss"), practice_protocol::shard::DEFAULT_SHARD_COUNT)?;
    let node = start_node(journal.clone(), &prometheus::Registry::new()).await?;
    let before = rss_kib();
    create_claims(&node, 0, args.actors).await;
    let live = rss_kib();
    let stats = node.stats().await;
    node.passivate_all().await;
    // glibc keeps freed memory for reuse, so a passivated claim's cost shows as how little a
    // second wave of live claims adds once the first wave is passivated.
    create_claims(&node, args.actors, args.actors).await;
    let second = rss_kib();
    node.passivate_all().await;
    let per_live = live.saturating_sub(before) as f64 / args.actors as f64;
    let second_wave = second.saturating_sub(live) as f64 / args.actors as f64;
    println!(
        "RSS per live claim actor                  {per_live:>10.2} KiB  ({} live, {before} -> {live} KiB)",
        stats.live
    );
    println!(
        "RSS added per claim by a second wave      {second_wave:>10.2} KiB  (after passivating the first: {live} -> {second} KiB)"
    );
    node.shutdown().await;
    journal.close();
    Ok(())
}

/// Appends through the `Journal` trait alone, each acknowledged only once durable: one
/// single-event batch per append, `concurrency` entities appending at once, each its own next
/// sequence, spread over every shard.
async fn journal_appends(journal: Arc<SledJournal>, appends: u64, concurrency: usize) -> anyhow::Result<f64> {
    let shards = journal.shard_count();
    let mut epochs = Vec::with_capacity(usize::from(shards));
    for shard in 0..shards {
        epochs.push(journal.fence(ShardId(shard)).await?);
    }
    let epochs = Arc::new(epochs);
    let writers = concurrency.max(1) as u64;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let (journal, epochs) = (journal.clone(), epochs.clone());
        let count = appends / writers + u64::from(writer < appends % writers);
        tasks.push(tokio::spawn(async move {
            let entity = appender(writer);
            let shard = shard_of(&entity, journal.shard_count());
            for sequence in 1..=count {
                let event = PendingEvent { entity, sequence, message_id: String::new(), payload: vec![7u8; 200] };
                journal.append(AppendBatch { shard, epoch: epochs[usize::from(shard.0)], events: vec![event] }).await?;
            }
            Ok::<(), JournalError>(())
        }));
    }
    for task in tasks {
        task.await.context("an appender panicked")??;
    }
    Ok(appends as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON))
}

/// Start claim journeys at a fixed rate of commands (open loop); returns the latencies and
/// the achieved rate.
async fn paced(node: &Node, seed: u64, claims: u64, commands_per_second: f64) -> (Latencies, f64) {
    let org = load_org(seed);
    let per_claim = 6.2;
    let interval = Duration::from_secs_f64(per_claim / commands_per_second.max(1.0));
    let mut ticker = tokio::time::interval(interval);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in 0..claims {
        ticker.tick().await;
        let node = node.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            for command in claim_journey(org, index) {
                let sent = Instant::now();
                if matches!(node.send(command).await, Ok(outcome) if outcome.is_accepted()) {
                    latencies.push(sent.elapsed());
                }
            }
            latencies
        }));
    }
    let mut all = Latencies::default();
    for task in tasks {
        if let Ok(latencies) = task.await {
            all.extend(latencies);
        }
    }
    let rate = all.len() as f64 / started.elapsed().as_secs_f64().max(f64::EPSILON);
    (all, rate)
}

/// Create claims `from..from + count` (each its journey's first command), 512 at a time from a
/// fixed pool of workers: holding a task per claim until the end would count 50,000 finished
/// tasks' memory against the actors.
async fn create_claims(node: &Node, from: u64, count: u64) {
    super::bench_memory::run_commands(node, load_org(3), from, count, 512, 0).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keyed peer is only a reference while it inserts, under the journal's event keys, one
    /// record per event the journal-alone run appends.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_keyed_peer_inserts_the_keys_of_the_events_the_journal_alone_run_appends() {
        let dir = tempfile::tempdir().unwrap();
        let journal = open_journal(dir.path(), 8).unwrap();
        journal_appends(journal.clone(), 12, 4).await.unwrap();
        let mut appended = Vec::new();
        for shard in 0..journal.shard_count() {
            for event in journal.read_shard(ShardId(shard), 0, usize::MAX).await.unwrap() {
                appended.push(practice_actors::journal::sled::event_store_key(&event.entity, event.sequence));
            }
        }
        let mut peer: Vec<Vec<u8>> = (0..12).map(|index| RawKeys::Entities(4).key(index)).collect();
        appended.sort();
        peer.sort();
        assert_eq!(appended.len(), 12);
        assert_eq!(appended, peer);
    }
}
