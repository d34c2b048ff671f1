//! `practice token issue --org ORG --user USER --role LEVEL [--ttl DURATION]`: print a signed
//! bearer token. `practice token connector --org ORG --id NAME`: register a connector key in
//! the data dir and print it once.

use crate::auth::token::{claims_for, parse_ttl, random_hex, TokenKey};
use anyhow::{bail, Context};
use practice_protocol::ids::{OrgId, PatientId, UserId};
use practice_protocol::roles::Role;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Issue a bearer token (key from PRACTICE_TOKEN_KEY or <data-dir>/token.key).
    Issue {
        #[arg(long)]
        org: OrgId,
        #[arg(long)]
        user: UserId,
        /// Role level: 10 patient, 30 front desk, 40 MA/RN, 50 coder/biller, 60 clinician,
        /// 70 billing manager, 75 compliance officer, 80 practice admin, 90 schema admin.
        #[arg(long)]
        role: u8,
        /// For a patient token (level 10): the patient it acts for (defaults to the user id).
        #[arg(long)]
        patient: Option<PatientId>,
        /// How long it is valid: 90s, 15m, 8h, 30d.
        #[arg(long, default_value = "8h")]
        ttl: String,
        #[arg(long, default_value = "practice-data")]
        data_dir: PathBuf,
    },
    /// Register a connector upload key for an organization and print the secret.
    Connector {
        #[arg(long)]
        org: OrgId,
        #[arg(long)]
        id: String,
        #[arg(long, default_value = "practice-data")]
        data_dir: PathBuf,
    },
}

pub fn run(command: TokenCommand) -> anyhow::Result<ExitCode> {
    match command {
        TokenCommand::Issue { org, user, role, patient, ttl, data_dir } => {
            let Some(role) = Role::from_level(role) else {
                bail!("no role has level {role}; use one of 10, 30, 40, 50, 60, 70, 75, 80, 90");
            };
            let ttl = parse_ttl(&ttl).map_err(anyhow::Error::msg)?;
            let key = TokenKey::load(&data_dir).context("loading the token key")?;
            println!("{}", key.issue(&claims_for(org, user, role, patient, chrono::Utc::now(), ttl)));
        }
        TokenCommand::Connector { org, id, data_dir } => {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                bail!("the connector id must be letters, digits, '-' or '_'");
            }
            let secret = random_hex(32);
            std::fs::create_dir_all(&data_dir)?;
            let path = data_dir.join(crate::auth::connector::KEYS_FILE);
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            writeln!(file, "{id} {org} {secret}")?;
            println!("{secret}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
