//! PLB entries and suspense items into the journal, on the practice entity: each PLB
//! adjustment is its own `ProviderAdjustmentRecorded` event and each suspense item a
//! `SuspenseRecorded` event with its reason. Command ids are derived from the content (payer,
//! trace number, PLB reason, reference, amount; for suspense, everything that names the item)
//! and its rank among identical items, so ingesting the same 835 twice records nothing new.

use super::era::{ProviderLedgerEntry, SuspenseItem, SuspenseReason};
use super::inbound::{AckSuspenseReason, InboundSuspense};
use crate::entity::{EntityCommand, Outcome, SendError};
use crate::node::Node;
use crate::runtime::PolicyBook;
use chrono::Utc;
use practice_protocol::claim::RemittancePosting;
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::{ClaimId, CommandId, OrgId};
use practice_protocol::practice::PracticeCommand;
use practice_protocol::remit_ledger::{ProviderAdjustment, SuspenseEntry, SuspenseSource};
use practice_protocol::roles::{Actor, SystemComponent};

use std::collections::HashMap;

/// One practice command to record, with its content-derived id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRecord {
    pub command_id: CommandId,
    pub command: PracticeCommand,
}

/// A posting a claim refused (e.g. a second original payment on a Paid claim): its money is
/// not on any claim, so it is suspense too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefusedPosting {
    pub claim_id: ClaimId,
    pub posting: RemittancePosting,
    pub reason: String,
}

/// Ranks identical items: the n-th identical one gets occurrence n.
#[derive(Default)]
struct Occurrences(HashMap<CommandId, u32>);

impl Occurrences {
    fn next(&mut self, first: CommandId) -> u32 {
        let count = self.0.entry(first).or_insert(0);
        *count += 1;
        *count - 1
    }
}

/// One record per PLB entry, in file order.
pub fn provider_records(entries: &[ProviderLedgerEntry]) -> Vec<LedgerRecord> {
    let mut occurrences = Occurrences::default();
    entries
        .iter()
        .map(|entry| {
            let adjustment = ProviderAdjustment {
                payer: entry.payer_id.clone().unwrap_or_else(|| entry.payer_name.clone()),
                trace_number: entry.trace_number.clone(),
                provider_id: entry.provider_id.clone(),
                reason_code: entry.reason_code.clone(),
                reference: entry.reference.clone(),
                amount: entry.amount,
                posted_on: entry.posted_on,
            };
            let occurrence = occurrences.next(adjustment.command_id(0));
            LedgerRecord {
                command_id: adjustment.command_id(occurrence),
                command: PracticeCommand::RecordProviderAdjustment { entry: Box::new(adjustment) },
            }
        })
        .collect()
}

fn era_reason(reason: &SuspenseReason) -> String {
    match reason {
        SuspenseReason::UnknownPatientControlNumber => "CLP01 names no claim of ours".to_string(),
        SuspenseReason::AmbiguousClaim { candidates } => {
            format!("CLP01 names {candidates} claims and neither the payer nor CLP02 tells which")
        }
        SuspenseReason::LineNotMatched { line_index, procedure, line_control_number } => format!(
            "service line {} ({procedure}{}) matches none of the claim's lines",
            line_index + 1,
            line_control_number.as_deref().map(|number| format!(", REF*6R {number}")).unwrap_or_default()
        ),
        SuspenseReason::CurrencyMismatch { claim_currency } => {
            format!("the remittance is not in the claim's currency ({claim_currency})")
        }
    }
}

fn era_entry(item: &SuspenseItem) -> SuspenseEntry {
    SuspenseEntry {
        source: SuspenseSource::Remittance835,
        payer: None,
        reference: item.trace_number.clone(),
        patient_control_number: Some(item.patient_control_number.clone()),
        payer_claim_control_number: item.payer_claim_control_number.clone(),
        claim_id: item.claim_id,
        amount: Some(item.paid),
        reason: format!("{} (CLP02 {})", era_reason(&item.reason), item.status_code),
    }
}

fn ack_reason(why: &AckSuspenseReason) -> String {
    match why {
        AckSuspenseReason::NoControlNumber => "the claim status carries no control number".to_string(),
        AckSuspenseReason::UnknownPatientControlNumber => "the control number names no claim of ours".to_string(),
        AckSuspenseReason::AmbiguousClaim { candidates } => format!("the control number names {candidates} claims"),
        AckSuspenseReason::NoStatus => "the claim status carries no STC".to_string(),
    }
}

/// The journal form of one suspense item of an inbound file.
pub fn suspense_entry(item: &InboundSuspense) -> SuspenseEntry {
    let entry = |source, reference: &str, pcn: Option<String>, reason: String| SuspenseEntry {
        source,
        payer: None,
        reference: reference.to_string(),
        patient_control_number: pcn,
        payer_claim_control_number: None,
        claim_id: None,
        amount: None,
        reason,
    };
    match item {
        InboundSuspense::Era(item) => era_entry(item),
        InboundSuspense::Unpostable835 { set_control_number, error } => entry(
            SuspenseSource::Remittance835,
            set_control_number,
            None,
            format!("835 set {set_control_number} cannot be posted: {error}"),
        ),
        InboundSuspense::ClaimAcknowledgment { patient_control_number, status, why } => entry(
            SuspenseSource::ClaimAcknowledgment277Ca,
            status,
            patient_control_number.clone(),
            format!("277CA {status}: {}", ack_reason(why)),
        ),
        InboundSuspense::Acknowledgment999 { group_control_number, set_control_number, status_code, why } => entry(
            SuspenseSource::Acknowledgment999,
            group_control_number,
            None,
            format!(
                "999 {status_code} for group {group_control_number}{}: {why}",
                set_control_number.as_deref().map(|set| format!(" set {set}")).unwrap_or_default()
            ),
        ),
    }
}

/// One record per suspense item and per refused posting, in order.
pub fn suspense_records(items: &[InboundSuspense], refused: &[RefusedPosting]) -> Vec<LedgerRecord> {
    let mut occurrences = Occurrences::default();
    let refused = refused.iter().map(|posting| SuspenseEntry {
        source: SuspenseSource::Remittance835,
        payer: Some(posting.posting.payer_name.clone()),
        reference: posting.posting.era_trace_number.clone().unwrap_or_default(),
        patient_control_number: None,
        payer_claim_control_number: posting.posting.payer_claim_control_number.clone(),
        claim_id: Some(posting.claim_id),
        amount: Some(posting.posting.paid),
        reason: format!("the claim refused the posting: {}", posting.reason),
    });
    items
        .iter()
        .map(suspense_entry)
        .chain(refused)
        .map(|item| {
            let occurrence = occurrences.next(item.command_id(0));
            LedgerRecord {
                command_id: item.command_id(occurrence),
                command: PracticeCommand::RecordSuspense { item: Box::new(item) },
            }
        })
        .collect()
}

/// What recording did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerOutcome {
    /// Records that appended an event (0 for a redelivered file).
    pub recorded: usize,
    /// Records the practice refused, with the reason (never expected from the ingestion actor).
    pub refused: Vec<String>,
}

/// Ledger records per batch to the practice actor: one journal write each. On JetStream one
/// entity's events of a write travel in one message, so a batch stays well under a server's
/// 1 MiB default `max_payload` (a record's event is a few hundred bytes).
const LEDGER_BATCH: usize = 256;

/// Send every record to the organization's practice entity as the ingestion system actor.
pub async fn record(node: &Node, org: OrgId, records: Vec<LedgerRecord>) -> Result<LedgerOutcome, SendError> {
    let mut outcome = LedgerOutcome::default();
    let actor = Actor::System { org, component: SystemComponent::Ingestion };
    let practice = PolicyBook::practice_ref(org);
    // One practice actor takes them all: sent together, they cost one journal write per
    // batch instead of one each (a day's 835s can carry thousands).
    let mut envelopes: Vec<_> = records
        .into_iter()
        .map(|record| CommandEnvelope {
            command_id: record.command_id,
            entity: practice,
            issued_at: Utc::now(),
            actor: actor.clone(),
            command: EntityCommand::Practice(record.command),
        })
        .collect();
    while !envelopes.is_empty() {
        let rest = envelopes.split_off(envelopes.len().min(LEDGER_BATCH));
        for result in node.send_batch(practice, std::mem::replace(&mut envelopes, rest)).await {
            match result? {
                Outcome::Accepted { events_appended, .. } => outcome.recorded += usize::from(events_appended > 0),
                Outcome::Rejected { rejection, .. } => outcome.refused.push(rejection.to_string()),
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::era::ProviderEntryKind;
    use practice_protocol::ids::PaymentId;
    use practice_protocol::Money;
    use rust_decimal::Decimal;

    fn plb(reason: &str, cents: i64) -> ProviderLedgerEntry {
        ProviderLedgerEntry {
            id: PaymentId::derived(&[reason.as_bytes()]),
            trace_number: "TRACE1".into(),
            payer_id: Some("87726".into()),
            payer_name: "ACME".into(),
            provider_id: "1234567893".into(),
            kind: ProviderEntryKind::Recoupment,
            reason_code: reason.into(),
            reference: Some("REF".into()),
            amount: Money::usd(Decimal::new(cents, 2)),
            posted_on: chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap_or_default(),
        }
    }

    #[test]
    fn plb_ids_depend_on_content_and_rank_only() {
        let entries = [plb("WO", 1000), plb("WO", 1000), plb("72", 1000)];
        let first = provider_records(&entries);
        let ids: Vec<_> = first.iter().map(|record| record.command_id).collect();
        assert_eq!(ids, provider_records(&entries).iter().map(|record| record.command_id).collect::<Vec<_>>());
        assert_ne!(ids[0], ids[1], "two identical entries are two entries");
        assert_ne!(ids[0], ids[2]);
        let mut other = entries.clone();
        other[2].amount = Money::usd(Decimal::new(1001, 2));
        assert_ne!(provider_records(&other)[2].command_id, ids[2]);
    }
}
