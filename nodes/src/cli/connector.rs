//! `practice connector bridge --nats URL --org ORG --outbox DIR --inbox DIR`: run the
//! file-drop ↔ NATS bridge for a folder-only (SFTP) clearinghouse until SIGINT/SIGTERM, or one
//! pass with `--once`. Prints one line per pass that moved something (counts only, no PHI).

use anyhow::Context;
use practice_nodes::connector::bridge::{Bridge, PassReport};
use practice_nodes::connector::file_drop::FileDrop;
use practice_nodes::jetstream::JetStreamSettings;
use practice_protocol::ids::OrgId;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Subcommand, Debug)]
pub enum ConnectorCommand {
    /// Publish inbox files to in.<org>.<txn>; write out.<org>.837 batches to the outbox.
    Bridge(BridgeArgs),
}

#[derive(clap::Args, Debug)]
pub struct BridgeArgs {
    /// NATS server URL.
    #[arg(long, env = "PRACTICE_NATS")]
    nats: String,
    #[arg(long)]
    org: OrgId,
    /// Folder the clearinghouse picks 837 batches up from.
    #[arg(long)]
    outbox: PathBuf,
    /// Folder the clearinghouse drops 999/277CA/277/835 files into.
    #[arg(long)]
    inbox: PathBuf,
    /// Milliseconds between passes.
    #[arg(long, default_value_t = 1000)]
    interval_ms: u64,
    /// Inbox files younger than this many milliseconds are left for the next pass (a peer may
    /// still be writing them in place).
    #[arg(long, default_value_t = 2000)]
    min_age_ms: u64,
    /// Items moved per pass each way.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// One pass, then exit.
    #[arg(long)]
    once: bool,
}

pub fn run(command: ConnectorCommand) -> anyhow::Result<ExitCode> {
    let ConnectorCommand::Bridge(args) = command;
    let drop_box = FileDrop::open(&args.outbox, &args.inbox, Duration::from_millis(args.min_age_ms))?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let client = practice_nodes::jetstream::connect(&args.nats, "practice-connector").await?;
        let bridge = Bridge::open(drop_box, client, args.org, &JetStreamSettings::default())
            .await
            .context("opening the bridge")?;
        let shutdown = super::signals::shutdown()?;
        tokio::pin!(shutdown);
        loop {
            let report = bridge.pass(args.batch).await.context("bridge pass")?;
            if report != PassReport::default() || args.once {
                println!("published {} rejected {} written {}", report.published, report.rejected, report.written);
            }
            if args.once {
                return Ok(ExitCode::SUCCESS);
            }
            tokio::select! {
                _ = &mut shutdown => return Ok(ExitCode::SUCCESS),
                _ = tokio::time::sleep(Duration::from_millis(args.interval_ms)) => {}
            }
        }
    })
}
