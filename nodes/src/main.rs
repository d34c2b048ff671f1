//! The `practice` binary: every operator and integrator entry point.
//!
//! Architecture invariant: only this crate speaks HTTP, JSON on the wire, NATS and the CLI;
//! `anyhow` lives here and nowhere else.

mod api;
mod auth;
mod cli;
mod dashboard;
mod demo;
mod exchange;

use clap::Parser;

/// jemalloc: it gives memory back to the system once freed (a node that passivated a burst of
/// actors shrinks again), where glibc's malloc keeps the peak.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser, Debug)]
#[command(
    name = "practice",
    version,
    about = "Practice OS: an actor-based, distributed claims processor for medical practices"
)]
struct Cli {
    /// Log as JSON lines (for log shippers) instead of human-readable text.
    #[arg(long, global = true)]
    log_json: bool,
    #[command(subcommand)]
    command: cli::Command,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli::logging::init(cli.log_json);
    match cli::run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("practice: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}
