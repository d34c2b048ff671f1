//! The CLI's subcommands, one module each.

pub mod logging;
pub mod x12;
pub mod x12_gen;

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
    }
}
