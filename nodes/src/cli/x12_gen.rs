//! `practice x12 gen-837`: write an 837P or 837I from claims in the API's JSON form (a JSON
//! array of `Claim`). See docs/x12-gen.md.

use anyhow::Context;
use chrono::{Datelike, Timelike, Utc};
use clap::{Args, ValueEnum};
use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::x12::write::{
    write_837, Delimiters, Envelope, GroupHeader, InterchangeHeader, Receiver, Submission837, Submitter, Usage,
};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Kind837 {
    /// Professional, 005010X222A1.
    #[value(name = "P")]
    Professional,
    /// Institutional, 005010X223A2.
    #[value(name = "I")]
    Institutional,
}

#[derive(Args, Debug)]
pub struct Gen837Args {
    /// P (professional) or I (institutional).
    #[arg(long, value_enum)]
    pub kind: Kind837,
    /// A JSON array of claims, as the API returns them.
    #[arg(long)]
    pub claims: PathBuf,
    /// Where to write the 837.
    #[arg(long)]
    pub out: PathBuf,
    /// ISA06/GS02 and the submitter's id (NM109 of loop 1000A).
    #[arg(long, default_value = "PRACTICEOS")]
    pub sender_id: String,
    /// ISA08/GS03 and the receiver's id (NM109 of loop 1000B).
    #[arg(long, default_value = "CLEARINGHOUSE")]
    pub receiver_id: String,
    /// The receiver's name (NM103 of loop 1000B).
    #[arg(long, default_value = "CLEARINGHOUSE")]
    pub receiver_name: String,
    /// ISA13/GS06; by default derived from the current UTC time (YYDDDHHMM).
    #[arg(long)]
    pub control_number: Option<u32>,
    /// Mark the interchange as production (ISA15 P); test (T) otherwise.
    #[arg(long)]
    pub production: bool,
    /// Write everything on one line, without a newline after each segment terminator.
    #[arg(long)]
    pub no_newlines: bool,
}

pub fn run(args: &Gen837Args) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.claims).with_context(|| format!("reading {}", args.claims.display()))?;
    let claims: Vec<Claim> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a JSON array of claims", args.claims.display()))?;
    let Some(first) = claims.first() else {
        eprintln!("practice: {} holds no claims", args.claims.display());
        return Ok(ExitCode::from(1));
    };
    let now = Utc::now();
    let control_number = args.control_number.unwrap_or_else(|| {
        // YYDDDHHMM: unique per minute, always nine digits or fewer.
        (now.year() as u32 % 100) * 10_000_000 + now.ordinal() * 10_000 + now.hour() * 100 + now.minute()
    });
    let submission = Submission837 {
        envelope: Envelope {
            interchange: InterchangeHeader {
                sender_qualifier: "ZZ".to_string(),
                sender_id: args.sender_id.clone(),
                receiver_qualifier: "ZZ".to_string(),
                receiver_id: args.receiver_id.clone(),
                date: now.date_naive(),
                time: now.time(),
                control_number,
                usage: if args.production { Usage::Production } else { Usage::Test },
                acknowledgment_requested: false,
            },
            group: GroupHeader {
                application_sender: args.sender_id.clone(),
                application_receiver: args.receiver_id.clone(),
                control_number,
            },
            delimiters: Delimiters { newline: !args.no_newlines, ..Delimiters::default() },
        },
        submitter: Submitter {
            name: first.billing.name.to_string(),
            id: args.sender_id.clone(),
            contact_name: first.billing.contact_name.to_string(),
            contact_phone: first.billing.contact_phone.to_string(),
        },
        receiver: Receiver { name: args.receiver_name.clone(), id: args.receiver_id.clone() },
        batch_reference: control_number.to_string(),
    };
    let claim_type = match args.kind {
        Kind837::Professional => ClaimType::Professional,
        Kind837::Institutional => ClaimType::Institutional,
    };
    let bytes = match write_837(&submission, claim_type, &claims) {
        Ok(bytes) => bytes,
        Err(error) => {
            // The error names claim index, field and position; it carries no PHI values.
            eprintln!("practice: cannot write the 837: {error}");
            return Ok(ExitCode::from(1));
        }
    };
    std::fs::write(&args.out, &bytes).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!(
        "wrote {} claims ({} bytes, interchange {control_number}) to {}",
        claims.len(),
        bytes.len(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
