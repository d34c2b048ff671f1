//! The CLI's subcommands, one module each.

pub mod bench;
pub mod logging;
pub mod serve;
pub mod token;

use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the build's version and the formats it speaks.
    Info,
    /// Serve the HTTP API and dashboard over the in-process claim service.
    Serve(serve::ServeArgs),
    /// Issue bearer tokens and connector keys.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Benchmarks that report figures.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Info => {
            println!("practice {}", env!("CARGO_PKG_VERSION"));
            println!("wire format version {}", practice_protocol::codec::FORMAT_VERSION);
            println!("event schema version {}", practice_protocol::envelope::EVENT_SCHEMA_VERSION);
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => serve::run(args),
        Command::Token(command) => token::run(command),
        Command::Bench(command) => bench::run(command),
    }
}
