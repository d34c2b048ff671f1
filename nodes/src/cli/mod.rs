//! The CLI's subcommands, one module each.

pub mod bench_jetstream;
pub mod cluster_load;
pub mod cluster_node;
pub mod cluster_verify;
pub mod logging;

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the build's version and the formats it speaks.
    Info,
    /// Run a node of a cluster (JetStream journal, shard leases).
    Node(cluster_node::ClusterNodeArgs),
    /// Drive synthetic claims through a running cluster.
    Load(cluster_load::ClusterLoadArgs),
    /// Replay the journal and check the guarantees.
    Verify(cluster_verify::ClusterVerifyArgs),
    /// Benchmarks that report figures.
    #[command(subcommand)]
    Bench(bench_jetstream::BenchTarget),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Info => {
            println!("practice {}", env!("CARGO_PKG_VERSION"));
            println!("wire format version {}", practice_protocol::codec::FORMAT_VERSION);
            println!("event schema version {}", practice_protocol::envelope::EVENT_SCHEMA_VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Command::Node(args) => cluster_node::run(args),
        Command::Load(args) => cluster_load::run(args),
        Command::Verify(args) => cluster_verify::run(args),
        Command::Bench(target) => bench_jetstream::run(target),
    }
}
