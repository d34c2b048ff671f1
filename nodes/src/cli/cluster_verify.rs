//! `practice verify --nats URL`: replay the JetStream journal with the backbone's verifier
//! (G1, G3, G4 against snapshots, G7). Prints the report; exits 1 on any violation.

use clap::Args;
use practice_actors::verify::verify;
use practice_nodes::jetstream::{connect, JetStreamJournal, JetStreamSettings};
use std::process::ExitCode;

/// The cluster options of `practice verify`.
#[derive(Args, Debug)]
pub struct ClusterVerifyArgs {
    /// Verify a cluster's JetStream journal instead of the embedded one.
    #[arg(long, env = "PRACTICE_NATS")]
    pub nats: Option<String>,
    #[arg(long, default_value_t = practice_protocol::shard::DEFAULT_SHARD_COUNT)]
    pub shards: u16,
}

pub fn run(nats: String, args: ClusterVerifyArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let client = connect(&nats, "practice-verify").await?;
        let settings = JetStreamSettings { shard_count: args.shards, ..Default::default() };
        let journal = JetStreamJournal::open(client, settings).await?;
        let report = verify(journal.as_ref(), None).await?;
        print!("{report}");
        Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
    })
}
