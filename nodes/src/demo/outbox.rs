//! The outbound side of the file-drop connector: claims batched per payer and claim type into
//! one 837 interchange each, written to the outbox folder a clearinghouse picks up from. Each
//! file is read back (`ingest::sent::sent_batches`) into what the batch registry records: which
//! claims went in which interchange, group and transaction set, for the 999s to come.

use anyhow::Context;
use chrono::{NaiveDate, NaiveTime};
use practice_actors::ingest::registry::SentBatch;
use practice_actors::ingest::sent::sent_batches;
use practice_protocol::domain::{Claim, ClaimType};
use practice_protocol::x12::write::claim837::{write_837, Receiver, Submission837, Submitter};
use practice_protocol::x12::write::envelope::{Envelope, GroupHeader, InterchangeHeader, Usage};
use practice_protocol::x12::write::Delimiters;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One batch: its id (the ISA/GS control number as text), file, size, claims, and what the
/// registry records of it.
pub struct Batch {
    pub id: String,
    pub path: PathBuf,
    pub bytes: usize,
    pub claims: Vec<Claim>,
    pub sent: Vec<SentBatch>,
}

/// Group `claims` per (payer, claim type) and write one 837 per group. `next_control` is the
/// interchange control number to use first; it advances by one per file.
pub fn write_batches(
    outbox: &Path,
    claims: Vec<Claim>,
    day: NaiveDate,
    next_control: &mut u32,
) -> anyhow::Result<Vec<Batch>> {
    std::fs::create_dir_all(outbox).with_context(|| format!("cannot create {}", outbox.display()))?;
    let mut groups: BTreeMap<(String, bool), Vec<Claim>> = BTreeMap::new();
    for claim in claims {
        let payer = claim.coverage().map(|coverage| coverage.payer.payer_id.to_string()).unwrap_or_default();
        let institutional = claim.claim_type == ClaimType::Institutional;
        groups.entry((payer, institutional)).or_default().push(claim);
    }
    let mut batches = Vec::new();
    for ((payer, institutional), claims) in groups {
        let control = *next_control;
        *next_control += 1;
        let claim_type = if institutional { ClaimType::Institutional } else { ClaimType::Professional };
        let first = &claims[0];
        let submission = Submission837 {
            envelope: Envelope {
                interchange: InterchangeHeader {
                    sender_qualifier: "ZZ".into(),
                    sender_id: "PRACTICEOS".into(),
                    receiver_qualifier: "ZZ".into(),
                    receiver_id: "SIMCLEARING".into(),
                    date: day,
                    time: NaiveTime::MIN,
                    control_number: control,
                    usage: Usage::Test,
                    acknowledgment_requested: false,
                },
                group: GroupHeader {
                    application_sender: "PRACTICEOS".into(),
                    application_receiver: "SIMCLEARING".into(),
                    control_number: control,
                },
                delimiters: Delimiters { newline: true, ..Delimiters::default() },
            },
            submitter: Submitter {
                name: first.billing.name.clone(),
                id: "PRACTICEOS".into(),
                contact_name: first.billing.contact_name.clone(),
                contact_phone: first.billing.contact_phone.clone(),
            },
            receiver: Receiver { name: "SIM CLEARINGHOUSE".into(), id: "SIMCLEARING".into() },
            batch_reference: control.to_string(),
        };
        let bytes = write_837(&submission, claim_type, &claims)
            .with_context(|| format!("cannot write the 837 for payer {payer}"))?;
        let kind = if institutional { "837I" } else { "837P" };
        let path = outbox.join(format!("{day}-{control:09}-{payer}.{kind}.x12"));
        std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
        let sent = sent_batches(&bytes, &claims).with_context(|| format!("cannot read back {}", path.display()))?;
        batches.push(Batch { id: format!("{control:09}"), path, bytes: bytes.len(), claims, sent });
    }
    Ok(batches)
}
