//! The CLI's subcommands, one module each. `node`, `load` and `verify` run on the embedded
//! journal by default and on a cluster with `--nats` (the `cluster_*` modules).

pub mod bench;
pub mod bench_api;
pub mod bench_jetstream;
pub mod bench_memory;
pub mod cluster_load;
pub mod cluster_node;
pub mod cluster_verify;
pub mod connector;
pub mod demo;
pub mod embedded;
pub mod exchange;
pub mod http;
pub mod load;
pub mod logging;
pub mod node;
pub mod signals;
pub mod sim;
pub mod token;
pub mod verify;
pub mod x12;
pub mod x12_gen;

use clap::{Args, Subcommand};
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the build's version and the formats it speaks.
    Info,
    /// Run a practice's whole revenue cycle on the embedded journal with the payer and
    /// clearinghouse simulator in process, and print the summary.
    Demo(demo::DemoArgs),
    /// The payer and clearinghouse simulator as its own process: answers 837 batches from an
    /// outbox folder or out.<org>.837 with 999, 277CA and 835 files on a simulated clock.
    Sim(sim::SimArgs),
    /// Read, check and write X12 5010 files.
    X12 {
        #[command(subcommand)]
        command: x12::X12Command,
    },
    /// Run a node: embedded journal and every shard, or with --nats one node of a cluster;
    /// until SIGINT/SIGTERM.
    Node(Box<NodeCommand>),
    /// Replay the whole journal and check G1, G3, G4 and G7; exit 1 on any violation.
    Verify(VerifyCommand),
    /// Drive synthetic claims through their journey (tests and benchmarks).
    Load(LoadCommand),
    /// Issue bearer tokens and connector keys.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Clearinghouse connectors: the file-drop <-> NATS bridge.
    #[command(subcommand)]
    Connector(connector::ConnectorCommand),
    /// Benchmarks that report figures.
    Bench {
        #[command(subcommand)]
        target: BenchTarget,
    },
}

#[derive(Args, Debug)]
pub struct NodeCommand {
    #[command(flatten)]
    embedded: node::NodeArgs,
    #[command(flatten)]
    cluster: cluster_node::ClusterNodeArgs,
}

#[derive(Args, Debug)]
pub struct VerifyCommand {
    #[command(flatten)]
    embedded: verify::VerifyArgs,
    #[command(flatten)]
    cluster: cluster_verify::ClusterVerifyArgs,
}

#[derive(Args, Debug)]
pub struct LoadCommand {
    #[command(flatten)]
    embedded: load::LoadArgs,
    #[command(flatten)]
    cluster: cluster_load::ClusterLoadArgs,
}

#[derive(Subcommand, Debug)]
pub enum BenchTarget {
    /// The embedded backbone against raw sled.
    Backbone(bench::BackboneArgs),
    /// The distributed backbone on a JetStream server you started.
    Jetstream(bench_jetstream::BenchJetstreamArgs),
    /// The HTTP API on loopback: claim reads, commands, remittance → SSE delay.
    Api(bench_api::ApiBenchArgs),
    /// Memory at scale: many claims, few active, passivation holding RSS down.
    Memory(bench_memory::MemoryArgs),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Info => {
            println!("practice {}", env!("CARGO_PKG_VERSION"));
            println!("wire format version {}", practice_protocol::codec::FORMAT_VERSION);
            println!("event schema version {}", practice_protocol::envelope::EVENT_SCHEMA_VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo(args) => demo::run(args),
        Command::Sim(args) => sim::run(args),
        Command::X12 { command } => x12::run(command),
        Command::Node(node) => {
            let NodeCommand { embedded, cluster } = *node;
            match cluster.nats.clone() {
                Some(nats) => cluster_node::run(nats, cluster, embedded),
                None => node::run(embedded),
            }
        }
        Command::Verify(VerifyCommand { embedded, cluster }) => match cluster.nats.clone() {
            Some(nats) => cluster_verify::run(nats, cluster),
            None => verify::run(embedded),
        },
        Command::Load(LoadCommand { embedded, cluster }) => match cluster.nats.clone() {
            Some(nats) => cluster_load::run(nats, cluster, embedded),
            None => load::run(embedded),
        },
        Command::Bench { target: BenchTarget::Backbone(args) } => bench::run(bench::BenchTarget::Backbone(args)),
        Command::Bench { target: BenchTarget::Jetstream(args) } => bench_jetstream::run(args),
        Command::Bench { target: BenchTarget::Api(args) } => bench_api::run(args),
        Command::Bench { target: BenchTarget::Memory(args) } => bench_memory::run(args),
        Command::Token(command) => token::run(command),
        Command::Connector(command) => connector::run(command),
    }
}
