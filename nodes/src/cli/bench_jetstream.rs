//! `practice bench jetstream --nats URL`: raw JetStream publish vs fenced journal appends vs
//! end-to-end commands through a node at peak and at half of peak, and the floor under those
//! (the same messages with no node work), in one run against one server. Prints JSON.

use clap::Args;
use practice_nodes::cluster::bench::{run_bench, BenchPlan};
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct BenchJetstreamArgs {
    #[arg(long, env = "PRACTICE_NATS")]
    pub nats: String,
    /// Messages for the raw pipelined publish reference.
    #[arg(long, default_value_t = 100_000)]
    pub raw_messages: u64,
    /// Fenced single-event appends (half as many two-event appends).
    #[arg(long, default_value_t = 65_536)]
    pub journal_events: u64,
    /// Claims driven end to end (6–7 commands each).
    #[arg(long, default_value_t = 3_000)]
    pub claims: u64,
    /// Claims in flight at once end to end.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
}

pub fn run(args: BenchJetstreamArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let plan = BenchPlan {
            nats_url: args.nats,
            raw_messages: args.raw_messages,
            journal_events: args.journal_events,
            claims: args.claims,
            concurrency: args.concurrency,
        };
        let report = run_bench(&plan).await?;
        println!("{}", serde_json::to_string_pretty(&report)?);
        Ok(ExitCode::SUCCESS)
    })
}
