//! The day's remittances: each 835 file read back with our X12 reader, matched to our claims,
//! and posted (claims concurrently, one claim's postings in file order; PLB entries and
//! unmatched payments to the practice).

use super::flow::{send, Cast};
use super::latency::LatencyLog;
use super::summary::Tally;
use anyhow::Context;
use futures::stream::{self, StreamExt};
use practice_actors::entity::{Outcome, Summary};
use practice_actors::ingest::era::{match_remittance, ClaimIndex, EraOutcome, EraPosting};
use practice_actors::ingest::inbound::InboundSuspense;
use practice_actors::ingest::ledger::{self, provider_records, suspense_records, RefusedPosting};
use practice_actors::ingest::remit::Remittance;
use practice_actors::ingest::x12_835::from_x12;
use practice_actors::Node;
use practice_protocol::claim::{ClaimCommand, ClaimStatus, RemittancePosting};
use practice_protocol::domain::Claim;
use practice_protocol::ids::ClaimId;
use practice_protocol::x12::read::{read_document, TransactionBody};
use practice_protocol::x12::Severity;
use practice_protocol::Currency;
use std::collections::{HashMap, HashSet};
use std::time::Instant;

/// Postings in flight at once while a day's 835s are worked.
const POSTING_CONCURRENCY: usize = 256;

/// Post remittances' claim payments and their PLB entries and unmatched payments: a day's
/// 835s together, so the claims of every file post concurrently (a file holds a few dozen),
/// each claim's postings in file order and the practice's records in file order.
pub(super) async fn post(
    node: &Node,
    cast: &Cast,
    outcomes: &[EraOutcome],
    tally: &mut Tally,
    (latency, arrived): (&mut LatencyLog, Instant),
) -> anyhow::Result<Posted> {
    let mut posted = Posted::default();
    let mut refused = Vec::new();
    // Claims post concurrently; one claim's postings (a reversal, then its correction) in order.
    let mut groups: Vec<Vec<&EraPosting>> = Vec::new();
    let mut group_of: HashMap<ClaimId, usize> = HashMap::new();
    for posting in outcomes.iter().flat_map(|outcome| &outcome.postings) {
        let index = *group_of.entry(posting.claim_id).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[index].push(posting);
    }
    // PLB entries and unmatched payments go to the practice while the claims post.
    let mut records = Vec::new();
    for outcome in outcomes {
        let suspense: Vec<InboundSuspense> = outcome.suspense.iter().cloned().map(InboundSuspense::Era).collect();
        records.extend(provider_records(&outcome.provider_entries));
        records.extend(suspense_records(&suspense, &[]));
    }
    let postings = stream::iter(groups)
        .map(|group| async move {
            let mut results = Vec::with_capacity(group.len());
            for posting in group {
                let command = ClaimCommand::PostRemittance { posting: Box::new(posting.posting.clone()) };
                let result = send(node, posting.claim_id, cast.org, &cast.ingestion, posting.command_id, command).await;
                results.push((posting, result, Instant::now()));
            }
            results
        })
        .buffer_unordered(POSTING_CONCURRENCY)
        .collect::<Vec<_>>();
    let (results, recorded) = futures::future::join(postings, ledger::record(node, cast.org, records)).await;
    let mut ledger_outcomes = vec![recorded.context("recording PLB entries and suspense")?];
    for (posting, result, done) in results.into_iter().flatten() {
        match result? {
            Outcome::Accepted { events_appended, summary, .. } => {
                tally.events_posted += events_appended as u64;
                if events_appended > 0 {
                    match summary {
                        Summary::Claim { status: Some(ClaimStatus::Denied), .. } => {
                            posted.denied.push(posting.claim_id)
                        }
                        Summary::Claim { status: Some(ClaimStatus::Paid | ClaimStatus::PartiallyPaid), .. } => {
                            posted.accepted.push((posting.claim_id, posting.posting.clone()))
                        }
                        _ => {}
                    }
                }
                if events_appended > 0 {
                    tally.postings += 1;
                    latency.posted(posting.claim_id, arrived, done);
                }
            }
            Outcome::Rejected { rejection, .. } => {
                // Refused postings are suspense too: kept with their reason, never dropped.
                tracing::warn!(claim = %posting.claim_id, %rejection, "posting refused; in suspense");
                refused.push(RefusedPosting {
                    claim_id: posting.claim_id,
                    posting: posting.posting.clone(),
                    reason: rejection.to_string(),
                });
            }
        }
    }
    // Postings the claims refused are suspense too (rare: after the postings, in a stable order).
    if !refused.is_empty() {
        refused.sort_by_key(|refused| (refused.claim_id, refused.posting.payment_id));
        let records = suspense_records(&[], &refused);
        ledger_outcomes.push(ledger::record(node, cast.org, records).await.context("recording suspense")?);
    }
    for recorded in ledger_outcomes {
        tally.events_posted += recorded.recorded as u64;
        for reason in recorded.refused {
            tracing::warn!(%reason, "the practice refused a PLB or suspense record");
        }
    }
    Ok(posted)
}

/// What one remittance did: claims newly denied, and postings that settled a claim.
#[derive(Default)]
pub(super) struct Posted {
    pub(super) denied: Vec<ClaimId>,
    pub(super) accepted: Vec<(ClaimId, RemittancePosting)>,
}

/// Read one inbound 835 file with the X12 reader and match each remittance to our claims. A
/// file with errors is left in the inbox for a person (`None`): nothing of it posts.
pub(super) fn read_835_file(
    path: &std::path::Path,
    (by_pcn, by_id): (&ByControlNumber, &HashMap<ClaimId, Claim>),
) -> anyhow::Result<Option<Vec<EraOutcome>>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let (document, diagnostics) =
        read_document(&bytes[..]).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
    if diagnostics.iter().any(|diagnostic| diagnostic.severity == Severity::Error) {
        return Ok(None);
    }
    let mut outcomes = Vec::new();
    for transaction in &document.transactions {
        if let TransactionBody::Remittance(remittance) = &transaction.body {
            let remit =
                from_x12(remittance, Currency::USD).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
            outcomes.push(match_remittance(&remit, &by_pcn.index(&remit, by_id)));
        }
    }
    Ok(Some(outcomes))
}

/// Our claims' ids by patient control number, kept as claims are added. A remittance is
/// matched against the claims its CLP01s name, every claim sharing one included: what an index
/// of all claims would find for it, without indexing every claim again each simulated day.
#[derive(Default)]
pub(super) struct ByControlNumber(HashMap<String, Vec<ClaimId>>);

impl ByControlNumber {
    pub(super) fn add(&mut self, claim: &Claim) {
        self.0.entry(claim.patient_control_number.to_string()).or_default().push(claim.id);
    }

    fn index<'a>(&self, remit: &Remittance, by_id: &'a HashMap<ClaimId, Claim>) -> ClaimIndex<'a> {
        let mut named = HashSet::new();
        let ids = remit
            .claims
            .iter()
            .filter_map(|payment| self.0.get(payment.patient_control_number.trim()))
            .flatten()
            .filter(|id| named.insert(**id));
        ClaimIndex::new(ids.filter_map(|id| by_id.get(id)))
    }
}
