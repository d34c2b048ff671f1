//! The CLI's subcommands, one module each.

pub mod bench;
pub mod embedded;
pub mod load;
pub mod logging;
pub mod x12;
pub mod x12_gen;
pub mod node;
pub mod verify;

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the build's version and the formats it speaks.
    Info,
    /// Read, check and write X12 5010 files.
    X12 {
        #[command(subcommand)]
        command: x12::X12Command,
    },
    /// Run a node: embedded journal, every shard, until SIGINT/SIGTERM.
    Node(node::NodeArgs),
    /// Replay the whole journal and check G1, G3, G4 and G7; exit 1 on any violation.
    Verify(verify::VerifyArgs),
    /// Drive synthetic claims through their journey (tests and benchmarks).
    Load(load::LoadArgs),
    /// Benchmarks that report figures.
    Bench {
        #[command(subcommand)]
        target: bench::BenchTarget,
    },
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Info => {
            println!("practice {}", env!("CARGO_PKG_VERSION"));
            println!("wire format version {}", practice_protocol::codec::FORMAT_VERSION);
            println!("event schema version {}", practice_protocol::envelope::EVENT_SCHEMA_VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Command::X12 { command } => x12::run(command),
        Command::Node(args) => node::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Load(args) => load::run(args),
        Command::Bench { target } => bench::run(target),
    }
}
