//! `practice bench memory`: memory at scale on the embedded sled journal, figures only. It
//! creates `--claims` claims through the node (the real command path), lets the shards'
//! passivation timers drop the idle ones, keeps `--active-percent` of them live by sending
//! them commands, and reports RSS: peak (VmHWM) and steady (VmRSS), per live claim actor and
//! per passivated claim, with the time each phase took.
//!
//! The binary runs on jemalloc, which returns freed memory after its decay time (on its next
//! calls), so the steady RSS falls back below the creation peak. Beside RSS the bench reports
//! jemalloc's allocated bytes (heap): what the program holds, without free pages and slack,
//! and the heap each live actor gives back when passivated, which leaves out what grows with
//! the claims rather than the actors (sled's page cache filling up to its bound). The
//! per-passivated figure is a residual (steady RSS less the baseline and the live actors)
//! that includes sled's growth and allocator slack: an upper bound.

// RSS ratios and rates are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

use super::embedded::{heap_kib, open_journal, rss_kib, runtime};
use anyhow::Context;
use clap::Args;
use practice_actors::journal::Journal;
use practice_actors::metrics::BackboneMetrics;
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::{Node, NodeConfig};
use practice_protocol::ids::OrgId;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct MemoryArgs {
    /// Claims created (one command each), most of them left idle.
    #[arg(long, default_value_t = 100_000)]
    pub claims: u64,
    /// Percentage of the claims kept active by commands after creation.
    #[arg(long, default_value_t = 5)]
    pub active_percent: u64,
    /// An actor idle this long is passivated (the node checks four times per period).
    #[arg(long, default_value_t = 5_000)]
    pub idle_after_ms: u64,
    /// An actor idle this long keeps its state encoded until its next message.
    #[arg(long, default_value_t = 1_000)]
    pub hibernate_after_ms: u64,
    /// At most this many live claim actors (the node's `max_live_actors`; 0: no bound but
    /// the idle time). Without a bound, how many are live during bulk creation follows the
    /// creation rate times `--idle-after-ms`.
    #[arg(long, default_value_t = 0)]
    pub max_live: usize,
    /// Commands in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Scratch directory (default: a new one under the system temp dir, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

const SEED: u64 = 4;

/// A little more than jemalloc's default 10 s decay: how long freed pages may stay resident.
const DECAY: Duration = Duration::from_secs(11);

pub fn run(args: MemoryArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.claims > 0, "--claims must be at least 1");
    anyhow::ensure!(args.active_percent <= 100, "--active-percent is a percentage (0 to 100)");
    anyhow::ensure!(args.concurrency > 0, "--concurrency must be at least 1");
    let scratch = args
        .dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("practice-bench-memory-{}", std::process::id())));
    let result = runtime()?.block_on(bench(&args, &scratch));
    if args.dir.is_none() {
        let _ = std::fs::remove_dir_all(&scratch);
    }
    result.map(|()| ExitCode::SUCCESS)
}

/// Peak resident set size of this process in KiB (VmHWM), 0 if unreadable.
fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The active set left idle until every live actor hibernated, then long enough for the
/// allocator to give the freed pages back (jemalloc's default decay is 10 s): RSS per live
/// actor holding its state encoded, or why it could not be measured (some would passivate
/// first, and their memory would count against the live ones).
async fn measure_hibernated(
    node: &Node,
    hibernate_after: Duration,
    check: Duration,
    idle_after: Duration,
    baseline: u64,
    active: u64,
) -> Result<f64, &'static str> {
    if active == 0 || idle_after < hibernate_after + check * 2 + DECAY {
        return Err("needs --idle-after-ms above --hibernate-after-ms + 12 s");
    }
    let waited = Instant::now();
    loop {
        let stats = node.stats().await;
        if stats.hibernated >= stats.live || waited.elapsed() > hibernate_after + check * 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(DECAY).await;
    let stats = node.stats().await;
    let rss = rss_kib();
    println!(
        "left idle {:.1} s: {} live, {} hibernated, {} passivated; RSS {:.0} MiB",
        waited.elapsed().as_secs_f64(),
        stats.live,
        stats.hibernated,
        stats.passivated,
        mib(rss)
    );
    if stats.passivated > 0 {
        return Err("some passivated while waiting: raise --idle-after-ms above the creation time + 15 s");
    }
    Ok(rss.saturating_sub(baseline) as f64 / stats.live.max(1) as f64)
}

async fn bench(args: &MemoryArgs, scratch: &Path) -> anyhow::Result<()> {
    let journal = open_journal(scratch, practice_protocol::shard::DEFAULT_SHARD_COUNT)?;
    let idle_after = Duration::from_millis(args.idle_after_ms.max(100));
    let hibernate_after = Duration::from_millis(args.hibernate_after_ms);
    let check = (idle_after / 4).min(hibernate_after.max(Duration::from_millis(100)));
    let max_live_actors = Some(args.max_live).filter(|max| *max > 0);
    let config =
        NodeConfig { idle_after, passivation_check: check, hibernate_after, max_live_actors, ..NodeConfig::default() };
    let metrics = BackboneMetrics::register(&prometheus::Registry::new()).context("cannot register metrics")?;
    let dyn_journal: Arc<dyn Journal> = journal.clone();
    let node = Node::start_embedded(dyn_journal, metrics, config).await.context("cannot start the node")?;
    let org = load_org(SEED);
    let active = args.claims * args.active_percent / 100;
    println!(
        "bench memory (embedded sled journal, 64 shards; debug={}): {} claims, {active} active ({}%), hibernate after {} ms, \
         passivate after {} ms, live bound {}",
        cfg!(debug_assertions),
        args.claims,
        args.active_percent,
        hibernate_after.as_millis(),
        idle_after.as_millis(),
        max_live_actors.map_or("none".to_string(), |max| max.to_string())
    );
    let baseline = rss_kib();
    let heap_baseline = heap_kib();
    let started = Instant::now();

    // The active set first, at full speed: its RSS growth is the cost of a live claim actor.
    let phase = Instant::now();
    let failed = run_commands(&node, org, 0, active, args.concurrency, 0).await;
    let live_rss = rss_kib();
    let heap_per_live = heap_kib().saturating_sub(heap_baseline) as f64 / active.max(1) as f64;
    let stats = node.stats().await;
    let per_live = live_rss.saturating_sub(baseline) as f64 / active.max(1) as f64;
    let caveat = if (stats.live as u64) < active {
        " (some passivated during creation, their memory reused: the per-live figure is low; raise --idle-after-ms)"
    } else {
        ""
    };
    println!(
        "created the {active} active claims in {:.1} s ({failed} failed); {} live ({} of them hibernated) when measured: \
         RSS {:.0} -> {:.0} MiB, {per_live:.2} KiB per live claim actor (heap {heap_per_live:.2} KiB){caveat}",
        phase.elapsed().as_secs_f64(),
        stats.live,
        stats.hibernated,
        mib(baseline),
        mib(live_rss)
    );
    let per_hibernated = measure_hibernated(&node, hibernate_after, check, idle_after, baseline, active).await;

    // The rest: created, then left idle; the passivation timers drop them as they go.
    let phase = Instant::now();
    let failed = run_commands(&node, org, active, args.claims - active, args.concurrency, 0).await;
    let created_in = phase.elapsed();
    let stats = node.stats().await;
    println!(
        "created the other {} claims in {:.1} s ({:.0} claims/s, {failed} failed); then {} live, {} passivated; \
         RSS {:.0} MiB, peak so far {:.0} MiB",
        args.claims - active,
        created_in.as_secs_f64(),
        (args.claims - active) as f64 / created_in.as_secs_f64().max(f64::EPSILON),
        stats.live,
        stats.passivated,
        mib(rss_kib()),
        mib(peak_kib())
    );

    // Steady state: the active set gets a command per round (the first round rehydrates it
    // from snapshots and appends a sign-off; later rounds repeat that command, which G3
    // answers without an append) until every idle actor has had time to passivate.
    let phase = Instant::now();
    let settle = idle_after * 2 + idle_after / 2;
    let mut rounds = Vec::new();
    while rounds.len() < 3 || phase.elapsed() < settle {
        let round = Instant::now();
        let failed = run_commands(&node, org, 0, active, args.concurrency, 1).await;
        rounds.push((round.elapsed(), failed));
        if active == 0 {
            tokio::time::sleep(idle_after / 4).await;
        }
    }
    let stats = node.stats().await;
    let steady = rss_kib();
    let peak = peak_kib();
    let slowest = rounds.iter().map(|(took, _)| *took).max().unwrap_or_default();
    let failed: u64 = rounds.iter().map(|(_, failed)| failed).sum();
    println!(
        "steady: {} rounds over the active set in {:.1} s (slowest {:.2} s, {failed} failed); {} live, {} passivated",
        rounds.len(),
        phase.elapsed().as_secs_f64(),
        slowest.as_secs_f64(),
        stats.live,
        stats.passivated
    );
    let live_share = (per_live * stats.live as f64) as u64;
    let residual = steady.saturating_sub(baseline).saturating_sub(live_share);
    let per_passivated = residual as f64 * 1024.0 / stats.passivated as f64;
    println!(
        "RSS steady                                {:>10.0} MiB  (baseline {:.0} MiB)",
        mib(steady),
        mib(baseline)
    );
    println!(
        "RSS peak (VmHWM)                          {:>10.0} MiB  (target for 1,000,000 claims, 5% active: <= 1024)",
        mib(peak)
    );
    println!("RSS per live claim actor                  {per_live:>10.2} KiB  (target <= 10 KiB; just created)");
    match per_hibernated {
        Ok(per_hibernated) => {
            println!("RSS per live claim actor, all hibernated  {per_hibernated:>10.2} KiB  (idle, state kept encoded)")
        }
        Err(why) => println!("RSS per live claim actor, all hibernated  {:>10} KiB  ({why})", "n/a"),
    }
    if stats.passivated == 0 {
        println!("RSS per passivated claim                  {:>10} B    (none passivated)", "n/a");
    } else {
        println!(
            "RSS per passivated claim (upper bound)    {per_passivated:>10.0} B    (steady - baseline - live actors, over {} passivated)",
            stats.passivated
        );
    }
    let (heap_freed, rss_freed) = freed_by_passivating(&node, stats.live).await;
    println!(
        "heap freed per live actor passivated      {heap_freed:>10.2} KiB  ({} live actors; RSS freed {rss_freed:.2} KiB each \
         once idle: jemalloc purges on later activity)",
        stats.live
    );
    println!("total time                                {:>10.1} s", started.elapsed().as_secs_f64());
    node.shutdown().await;
    journal.close();
    Ok(())
}

/// What a live actor costs on its own: the heap (and RSS) each of the `live` actors gives back
/// when they are all passivated. The averages above also count what grows with the claims
/// created and not with the actors (sled's page cache filling up to its bound, the writer's
/// entity heads); this does not, though the snapshots passivation writes are charged to it.
async fn freed_by_passivating(node: &Node, live: usize) -> (f64, f64) {
    if live == 0 {
        return (0.0, 0.0);
    }
    let (heap, rss) = (heap_kib(), rss_kib());
    node.passivate_all().await;
    // The actors stop just after their snapshot is durable. jemalloc gives pages back after
    // its 10 s decay, but only when it is called again: an idle process keeps them (a
    // background purging thread would not, but cost the demo ~20 % of its throughput).
    tokio::time::sleep(DECAY).await;
    let per_actor = |before: u64, after: u64| before.saturating_sub(after) as f64 / live as f64;
    (per_actor(heap, heap_kib()), per_actor(rss, rss_kib()))
}

/// Send step `step` of the journeys of claims `from..from + count`, `concurrency` at a time
/// (a fixed pool of workers, so a million claims cost no million tasks). Returns how many
/// got no acceptance.
pub(super) async fn run_commands(
    node: &Node,
    org: OrgId,
    from: u64,
    count: u64,
    concurrency: usize,
    step: usize,
) -> u64 {
    let next = Arc::new(AtomicU64::new(from));
    let failed = Arc::new(AtomicU64::new(0));
    let end = from + count;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (node, next, failed) = (node.clone(), next.clone(), failed.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= end {
                    break;
                }
                let Some(command) = claim_journey(org, index).into_iter().nth(step) else { continue };
                if !matches!(node.send(command).await, Ok(outcome) if outcome.is_accepted()) {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    failed.load(Ordering::Relaxed)
}
