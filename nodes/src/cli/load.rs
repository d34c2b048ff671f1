//! `practice load`: drive synthetic claims through create, sign-off, scrub, submit, accept
//! and remittance posting (and a write-off for denied ones) on the embedded journal, with a
//! bounded number of claims in flight. Optionally logs every acknowledged command to a file,
//! one line each, written after the acknowledgement: the kill -9 test checks every logged
//! command is in the journal (G2).

// Rates and percentiles are measurements, not money: floats are right here.
#![allow(clippy::float_arithmetic)]

use super::embedded::{open_journal, runtime, start_node, Latencies};
use anyhow::Context;
use clap::Args;
use practice_actors::synthetic::{claim_journey, load_org};
use practice_actors::{Node, SendError};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

#[derive(Args, Debug)]
pub struct LoadArgs {
    #[arg(long, env = "PRACTICE_DATA_DIR", default_value = "practice-data")]
    pub data_dir: PathBuf,
    /// How many claims to take through their journey.
    #[arg(long)]
    pub claims: u64,
    /// Claims in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Picks the synthetic organization; the same seed addresses the same claims (G3).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// First claim index (to continue an earlier run).
    #[arg(long, default_value_t = 0)]
    pub start: u64,
    #[arg(long, default_value_t = practice_protocol::shard::DEFAULT_SHARD_COUNT)]
    pub shards: u16,
    /// Append `<claim index> <step> <command id>` per acknowledged command.
    #[arg(long)]
    pub ack_log: Option<PathBuf>,
}

pub struct LoadSummary {
    pub claims: u64,
    pub commands: u64,
    pub failures: u64,
    pub elapsed: Duration,
    pub latencies: Latencies,
}

pub fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let journal = open_journal(&args.data_dir, args.shards)?;
        let node = start_node(journal.clone(), &prometheus::Registry::new()).await?;
        let ack_log = match &args.ack_log {
            Some(path) => Some(Arc::new(Mutex::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open {}", path.display()))?,
            ))),
            None => None,
        };
        let mut summary = drive(&node, args.seed, args.start, args.claims, args.concurrency, ack_log).await;
        node.shutdown().await;
        journal.close();
        let seconds = summary.elapsed.as_secs_f64().max(f64::EPSILON);
        println!(
            "load: {} claims, {} commands in {:.2} s = {:.0} commands/s; p50 {:.2} ms, p99 {:.2} ms; {} failed",
            summary.claims,
            summary.commands,
            seconds,
            summary.commands as f64 / seconds,
            summary.latencies.percentile_ms(0.50),
            summary.latencies.percentile_ms(0.99),
            summary.failures
        );
        Ok(if summary.failures == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}

fn retryable(error: &SendError) -> bool {
    matches!(error, SendError::Timeout(_) | SendError::Dropped | SendError::Unavailable(_) | SendError::Journal(_))
}

/// Run `claims` journeys from `start` with at most `concurrency` claims in flight.
pub async fn drive(
    node: &Node,
    seed: u64,
    start: u64,
    claims: u64,
    concurrency: usize,
    ack_log: Option<Arc<Mutex<std::fs::File>>>,
) -> LoadSummary {
    let org = load_org(seed);
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for index in start..start + claims {
        let Ok(permit) = permits.clone().acquire_owned().await else { break };
        let node = node.clone();
        let ack_log = ack_log.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Latencies::default();
            let mut failures = 0u64;
            for (step, command) in claim_journey(org, index).into_iter().enumerate() {
                let command_id = command.command_id;
                let mut attempt = 0;
                let accepted = loop {
                    let sent = Instant::now();
                    match node.send(command.clone()).await {
                        Ok(outcome) if outcome.is_accepted() => {
                            latencies.push(sent.elapsed());
                            break true;
                        }
                        Ok(outcome) => {
                            tracing::warn!(index, step, ?outcome, "command rejected");
                            break false;
                        }
                        Err(error) if retryable(&error) && attempt < 5 => {
                            attempt += 1;
                            tokio::time::sleep(Duration::from_millis(20 * attempt)).await;
                        }
                        Err(error) => {
                            tracing::warn!(index, step, %error, "command failed");
                            break false;
                        }
                    }
                };
                if !accepted {
                    failures += 1;
                    break;
                }
                if let Some(log) = &ack_log {
                    if let Ok(mut file) = log.lock() {
                        let _ = writeln!(file, "{index} {step} {command_id}");
                    }
                }
            }
            drop(permit);
            (latencies, failures)
        }));
    }
    let mut summary =
        LoadSummary { claims, commands: 0, failures: 0, elapsed: Duration::ZERO, latencies: Latencies::default() };
    for task in tasks {
        if let Ok((latencies, failures)) = task.await {
            summary.commands += latencies.len() as u64;
            summary.failures += failures;
            summary.latencies.extend(latencies);
        } else {
            summary.failures += 1;
        }
    }
    summary.elapsed = started.elapsed();
    summary
}
