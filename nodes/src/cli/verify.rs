//! `practice verify`: replay the whole embedded journal offline (no node may hold it) and
//! check G1, G3, G4 (snapshots) and G7; exit 1 on any violation.

use super::embedded::{journal_path, open_journal, runtime};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct VerifyArgs {
    #[arg(long, env = "PRACTICE_DATA_DIR", default_value = "practice-data")]
    pub data_dir: PathBuf,
}

pub fn run(args: VerifyArgs) -> anyhow::Result<ExitCode> {
    if !journal_path(&args.data_dir).exists() {
        anyhow::bail!("no journal in {}", args.data_dir.display());
    }
    let journal = open_journal(&args.data_dir, practice_protocol::shard::DEFAULT_SHARD_COUNT)?;
    let report = runtime()?.block_on(practice_actors::verify::verify(journal.as_ref(), None))?;
    journal.close();
    print!("{report}");
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
