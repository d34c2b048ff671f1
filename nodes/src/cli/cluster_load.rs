//! `practice load --nats URL --claims N`: drive the synthetic journeys through a running
//! cluster over NATS and print a JSON report. Exits 1 when any command failed or was
//! rejected. Without `--nats` the load runs on the embedded journal (see `load.rs`).

use super::load::LoadArgs;
use clap::Args;
use practice_nodes::cluster::load::{run_load, LoadPlan};
use std::process::ExitCode;
use std::time::Duration;

/// The cluster options of `practice load`.
#[derive(Args, Debug)]
pub struct ClusterLoadArgs {
    /// Drive a cluster through this NATS server instead of the embedded journal.
    #[arg(long, env = "PRACTICE_NATS")]
    pub nats: Option<String>,
    /// Per-command deadline, retries included.
    #[arg(long, default_value_t = 30_000)]
    pub deadline_ms: u64,
    /// Send every command twice: the second must have no effect (G3).
    #[arg(long)]
    pub duplicate: bool,
}

pub fn run(nats: String, cluster: ClusterLoadArgs, args: LoadArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let client = practice_nodes::jetstream::connect(&nats, "practice-load").await?;
        let plan = LoadPlan {
            seed: args.seed,
            first: args.start,
            claims: args.claims,
            concurrency: args.concurrency,
            shard_count: args.shards,
            deadline: Duration::from_millis(cluster.deadline_ms),
            duplicate: cluster.duplicate,
        };
        let report = run_load(&client, &plan).await;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(if report.failed == 0 && report.rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}
