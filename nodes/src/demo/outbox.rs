//! The outbound side of the file-drop connector: claims batched per payer and claim type into
//! one 837 interchange each (`exchange::batch`), written to the outbox folder a clearinghouse
//! picks up from. Each file is read back (`ingest::sent::sent_batches`) into what the batch
//! registry records: which claims went in which interchange, group and transaction set, for
//! the 999s to come.

use super::parallel::in_parallel;
use anyhow::Context;
use chrono::NaiveDate;
use practice_actors::ingest::registry::SentBatch;
use practice_actors::ingest::sent::sent_batches;
use practice_nodes::connector::batch::{by_payer_and_type, write_interchange, Parties};
use practice_protocol::domain::{Claim, ClaimType};
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
    let parties = Parties::default();
    let groups: Vec<_> = by_payer_and_type(claims).into_iter().zip(*next_control..).collect();
    *next_control += groups.len() as u32;
    let written = in_parallel(&groups, |(((payer, institutional), claims), control)| {
        let claim_type = if *institutional { ClaimType::Institutional } else { ClaimType::Professional };
        let bytes = write_interchange(&parties, claim_type, claims, day, *control)
            .with_context(|| format!("cannot write the 837 for payer {payer}"))?;
        let kind = if *institutional { "837I" } else { "837P" };
        let path = outbox.join(format!("{day}-{control:09}-{payer}.{kind}.x12"));
        std::fs::write(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
        let sent = sent_batches(&bytes, claims).with_context(|| format!("cannot read back {}", path.display()))?;
        Ok((path, bytes.len(), sent))
    })?;
    let batches = groups.into_iter().zip(written).map(|((((_, _), claims), control), (path, bytes, sent))| Batch {
        id: format!("{control:09}"),
        path,
        bytes,
        claims,
        sent,
    });
    Ok(batches.collect())
}
