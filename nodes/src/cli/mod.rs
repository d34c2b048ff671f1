//! The CLI's subcommands, one module each.

pub mod bench;
pub mod bench_api;
pub mod embedded;
pub mod http;
pub mod load;
pub mod logging;
pub mod node;
pub mod token;
pub mod verify;

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the build's version and the formats it speaks.
    Info,
    /// Run a node: embedded journal, every shard, until SIGINT/SIGTERM.
    Node(node::NodeArgs),
    /// Replay the whole journal and check G1, G3, G4 and G7; exit 1 on any violation.
    Verify(verify::VerifyArgs),
    /// Drive synthetic claims through their journey (tests and benchmarks).
    Load(load::LoadArgs),
    /// Issue bearer tokens and connector keys.
    #[command(subcommand)]
    Token(token::TokenCommand),
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
        Command::Node(args) => node::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Load(args) => load::run(args),
        Command::Token(command) => token::run(command),
        Command::Bench { target } => bench::run(target),
    }
}
