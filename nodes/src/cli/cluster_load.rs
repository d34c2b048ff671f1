//! `practice load --nats URL --claims N`: drive synthetic claims through a running cluster and
//! print a JSON report. Exits 1 when any command failed or was rejected.

use clap::Args;
use practice_nodes::cluster::load::{run_load, LoadPlan};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct ClusterLoadArgs {
    #[arg(long, env = "PRACTICE_NATS")]
    pub nats: String,
    /// How many claims to drive through create → sign-off → scrub → submit → accept → remittance
    /// (→ write-off for denied ones).
    #[arg(long)]
    pub claims: u64,
    /// Index of the first claim (claims are derived from seed and index).
    #[arg(long, default_value_t = 0)]
    pub first: u64,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Claims in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    #[arg(long, default_value_t = practice_protocol::shard::DEFAULT_SHARD_COUNT)]
    pub shards: u16,
    /// Per-command deadline, retries included.
    #[arg(long, default_value_t = 30_000)]
    pub deadline_ms: u64,
    /// Send every command twice: the second must have no effect (G3).
    #[arg(long)]
    pub duplicate: bool,
}

pub fn run(args: ClusterLoadArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let client = practice_nodes::jetstream::connect(&args.nats, "practice-load").await?;
        let plan = LoadPlan {
            seed: args.seed,
            first: args.first,
            claims: args.claims,
            concurrency: args.concurrency,
            shard_count: args.shards,
            deadline: Duration::from_millis(args.deadline_ms),
            duplicate: args.duplicate,
        };
        let report = run_load(&client, &plan).await;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(if report.failed == 0 && report.rejected == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}
