//! One inbound X12 file from a clearinghouse (835, 277CA, 999, 277) turned into a plan: the
//! claim commands it implies, in file order, plus what cannot become a command (PLB ledger
//! entries, suspense items, 999 set verdicts for the batch tracker). Pure: no IO, no actors.
//!
//! A file with any error diagnostic is refused whole, so a bad file never half-posts. That
//! includes an 835 that does not balance (BPR02 ≠ ΣCLP04 − ΣPLB, or a claim or line whose
//! amounts do not add up): the reader reports it as an error, and money we cannot reconcile is
//! not posted (G7); a biller takes it up with the payer. Every
//! command id is derived from the file's content (835: the ERA matcher's payment ids; 277CA:
//! claim, BHT03 reference and status codes), so the same file planned twice yields the same
//! commands and the claim actors apply them once (G3).

use super::ack999::verdicts;
use super::era::{match_remittance, ClaimIndex, ProviderLedgerEntry, SuspenseItem};
use super::status277::plan_277;
use super::x12_835::{from_x12, Era835Error};
use practice_protocol::claim::{ClaimCommand, RejectionSource};
use practice_protocol::domain::Claim;
use practice_protocol::ids::{ClaimId, CommandId};
use practice_protocol::x12::read::status::{ClaimStatus as StatusClaim, Status, StatusReport};
use practice_protocol::x12::read::{read_document, Document, TransactionBody};
use practice_protocol::x12::{Diagnostic, Severity, X12Error};
use practice_protocol::Currency;
use serde::Serialize;
use uuid::Uuid;

/// Why a file cannot be ingested at all. Nothing of it is applied.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("not readable as X12: {0}")]
    Unreadable(#[from] X12Error),
    #[error("X12 error at {}: {}", .0.position, .0.kind)]
    Invalid(Box<Diagnostic>),
    #[error("the file holds no transaction set")]
    NoTransactions,
    #[error("transaction set {index} (ST02 {control_number}) is not inbound payer traffic (835, 277CA, 277, 999)")]
    Unsupported { index: usize, control_number: String },
}

/// A file read and checked, ready to be matched against the claims its control numbers name.
#[derive(Debug)]
pub struct ParsedInbound {
    /// Derived from the bytes: the same file always has the same id (the inbound de-dup key).
    pub file_id: String,
    pub document: Document,
    /// Warnings the reader tolerated (e.g. newline terminators); kept for the report.
    pub warnings: usize,
}

/// Read `raw` with the project's X12 readers; refuse it on any error diagnostic.
pub fn parse_inbound(raw: &[u8]) -> Result<ParsedInbound, InboundError> {
    let (document, diagnostics) = read_document(raw)?;
    if let Some(error) = diagnostics.iter().find(|diagnostic| diagnostic.severity == Severity::Error) {
        return Err(InboundError::Invalid(Box::new(error.clone())));
    }
    if document.transactions.is_empty() {
        return Err(InboundError::NoTransactions);
    }
    for (index, transaction) in document.transactions.iter().enumerate() {
        // A 276 is ours to send, not to receive.
        if matches!(transaction.body, TransactionBody::Other { .. } | TransactionBody::StatusRequest(_)) {
            let control_number = transaction.envelope.control_number.clone();
            return Err(InboundError::Unsupported { index: index + 1, control_number });
        }
    }
    Ok(ParsedInbound { file_id: file_id(raw), warnings: diagnostics.len(), document })
}

/// `x12:` and a UUIDv5 of the bytes.
pub fn file_id(raw: &[u8]) -> String {
    format!("x12:{}", Uuid::new_v5(&Uuid::NAMESPACE_OID, raw).simple())
}

impl ParsedInbound {
    /// Every patient control number the file names (CLP01, 277CA TRN02/REF*EJ): the claims
    /// the caller must look up to build the `ClaimIndex`.
    pub fn patient_control_numbers(&self) -> Vec<String> {
        let mut numbers = Vec::new();
        for transaction in &self.document.transactions {
            match &transaction.body {
                TransactionBody::Remittance(remit) => numbers
                    .extend(remit.claims.iter().map(|claim| claim.patient_control_number.as_str().trim().to_string())),
                TransactionBody::ClaimAcknowledgment(report) | TransactionBody::ClaimStatus(report) => {
                    numbers.extend(report.claims.iter().filter_map(control_number_of))
                }
                _ => {}
            }
        }
        numbers.sort();
        numbers.dedup();
        numbers
    }
}

/// One command for one claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlannedCommand {
    pub claim_id: ClaimId,
    pub command_id: CommandId,
    pub command: ClaimCommand,
}

/// Why a 277CA claim status became no command.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum AckSuspenseReason {
    NoControlNumber,
    UnknownPatientControlNumber,
    AmbiguousClaim { candidates: usize },
    NoStatus,
}

/// What a biller must look at; nothing in it was applied.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "source")]
pub enum InboundSuspense {
    /// An 835 claim payment the ERA matcher could not place.
    Era(SuspenseItem),
    /// A whole 835 transaction set that cannot be posted (missing TRN02, bad date, ...).
    Unpostable835 { set_control_number: String, error: String },
    /// A 277CA or 277 claim status that names no single claim of ours.
    ClaimAcknowledgment { patient_control_number: Option<String>, status: String, why: AckSuspenseReason },
    /// A 999 verdict about a batch (or set) we have no record of sending.
    Acknowledgment999 {
        group_control_number: String,
        set_control_number: Option<String>,
        status_code: String,
        why: String,
    },
}

/// A 999's verdict on one 837 set we sent (`ack999` takes it to the claims of that set).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SetVerdict {
    pub group_control_number: String,
    /// `None`: the group as a whole (AK9 with no AK2), i.e. every set of it.
    pub set_control_number: Option<String>,
    pub accepted: bool,
    /// AK9 P without AK2: some sets were rejected, the 999 does not say which.
    pub partial: bool,
    pub status_code: String,
    /// The 999's errors in words (IK3/IK4 segment and element, IK5/AK9 codes).
    pub reason: String,
}

/// Everything one file implies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct InboundPlan {
    /// In file order, so a reversal posts before its correction.
    pub commands: Vec<PlannedCommand>,
    pub provider_entries: Vec<ProviderLedgerEntry>,
    pub suspense: Vec<InboundSuspense>,
    pub set_verdicts: Vec<SetVerdict>,
    /// 277 replies to status requests (each of their claim statuses is a `RecordStatus`).
    pub status_replies: usize,
    /// Trace numbers of 835s whose BPR02 ≠ ΣCLP04 − ΣPLB (posted, flagged for review).
    pub out_of_balance: Vec<String>,
}

/// Match the parsed file against `index` (the claims its control numbers name).
pub fn plan_inbound(parsed: &ParsedInbound, index: &ClaimIndex<'_>, currency: Currency) -> InboundPlan {
    let mut plan = InboundPlan::default();
    for transaction in &parsed.document.transactions {
        match &transaction.body {
            TransactionBody::Remittance(x12_remit) => match from_x12(x12_remit, currency) {
                Ok(remit) => {
                    let outcome = match_remittance(&remit, index);
                    if outcome.out_of_balance {
                        plan.out_of_balance.push(remit.trace_number.clone());
                    }
                    plan.commands.extend(outcome.postings.into_iter().map(|posting| PlannedCommand {
                        claim_id: posting.claim_id,
                        command_id: posting.command_id,
                        command: ClaimCommand::PostRemittance { posting: Box::new(posting.posting) },
                    }));
                    plan.provider_entries.extend(outcome.provider_entries);
                    plan.suspense.extend(outcome.suspense.into_iter().map(InboundSuspense::Era));
                }
                Err(error) => plan.suspense.push(unpostable(&transaction.envelope.control_number, &error)),
            },
            TransactionBody::ClaimAcknowledgment(report) => plan_277ca(report, index, &mut plan),
            TransactionBody::Acknowledgment(ack) => plan.set_verdicts.extend(verdicts(ack)),
            TransactionBody::ClaimStatus(report) => plan_277(report, index, currency, &mut plan),
            // `parse_inbound` refuses these.
            TransactionBody::Other { .. } | TransactionBody::StatusRequest(_) => {}
        }
    }
    plan
}

fn unpostable(set_control_number: &str, error: &Era835Error) -> InboundSuspense {
    InboundSuspense::Unpostable835 { set_control_number: set_control_number.to_string(), error: error.to_string() }
}

/// The claim a 2200D status is about: TRN02 echoes our CLM01; REF*EJ is the fallback.
pub(super) fn control_number_of(claim: &StatusClaim) -> Option<String> {
    claim
        .trace_number
        .as_ref()
        .or(claim.patient_account_number.as_ref())
        .map(|text| text.as_str().trim().to_string())
        .filter(|text| !text.is_empty())
}

/// 277CA claim status categories (STC01-1) that say the claim was taken in, and those that
/// return it to us; pending and other informational categories imply no command.
fn verdict(category: &str) -> Option<bool> {
    match category {
        "A0" | "A1" | "A2" | "A5" => Some(true),
        "A3" | "A4" | "A6" | "A7" | "A8" => Some(false),
        _ => None,
    }
}

/// The one claim of ours a 277/277CA claim status names, with its first STC and that status
/// as `category:code`. `None` when there is nothing to do: the status is not `wanted`, or it
/// names no single claim (then recorded in suspense with the reason).
pub(super) fn claim_of<'c, 's>(
    status_claim: &'s StatusClaim,
    index: &ClaimIndex<'c>,
    suspense: &mut Vec<InboundSuspense>,
    wanted: impl Fn(&Status) -> bool,
) -> Option<(&'c Claim, &'s Status, String)> {
    let pcn = control_number_of(status_claim);
    let first = status_claim.statuses.first();
    let status_text = first.map(|status| format!("{}:{}", status.category.as_str(), status.code.as_str()));
    let suspend = |why| InboundSuspense::ClaimAcknowledgment {
        patient_control_number: pcn.clone(),
        status: status_text.clone().unwrap_or_default(),
        why,
    };
    let Some(number) = pcn.as_deref() else {
        suspense.push(suspend(AckSuspenseReason::NoControlNumber));
        return None;
    };
    let Some(status) = first else {
        suspense.push(suspend(AckSuspenseReason::NoStatus));
        return None;
    };
    if !wanted(status) {
        return None;
    }
    match index.get(number) {
        [] => suspense.push(suspend(AckSuspenseReason::UnknownPatientControlNumber)),
        [only] => return Some((*only, status, status_text.unwrap_or_default())),
        many => suspense.push(suspend(AckSuspenseReason::AmbiguousClaim { candidates: many.len() })),
    }
    None
}

fn plan_277ca(report: &StatusReport, index: &ClaimIndex<'_>, plan: &mut InboundPlan) {
    let reference = report.reference.as_ref().map(|text| text.as_str()).unwrap_or_default();
    for status_claim in &report.claims {
        // Pending and other non-verdict categories are no command, and no suspense either.
        let decided = |status: &Status| verdict(status.category.as_str().trim()).is_some();
        let Some((claim, status, status_text)) = claim_of(status_claim, index, &mut plan.suspense, decided) else {
            continue;
        };
        let accepted = verdict(status.category.as_str().trim()) == Some(true);
        let command_id = CommandId::derived(&[
            b"277ca",
            claim.id.0.as_bytes(),
            reference.as_bytes(),
            status_text.as_bytes(),
            status_claim.hl_id.as_str().as_bytes(),
        ]);
        let command = if accepted {
            ClaimCommand::Accept {
                payer_claim_control_number: status_claim
                    .payer_claim_control_number
                    .as_ref()
                    .map(|text| text.as_str().trim().to_string()),
            }
        } else {
            let message = status.message.as_ref().map(|text| format!(" {}", text.as_str())).unwrap_or_default();
            ClaimCommand::Reject {
                source: RejectionSource::ClaimAcknowledgment277Ca,
                reason: format!("277CA {status_text}{message}"),
            }
        };
        plan.commands.push(PlannedCommand { claim_id: claim.id, command_id, command });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::sample::{acknowledgment, envelope, status_entry};
    use practice_protocol::fixtures::office_visit_claim;
    use practice_protocol::ids::OrgId;
    use practice_protocol::x12::write::{write_999, ReceivedGroup, SetAcknowledgment, SetStatus, StatusCode};

    fn set(control_number: &str, status: SetStatus) -> SetAcknowledgment {
        SetAcknowledgment {
            set_id: "837".into(),
            control_number: control_number.into(),
            version: Some("005010X222A1".into()),
            status,
            syntax_errors: if status == SetStatus::Rejected { vec!["5".into()] } else { vec![] },
            segment_errors: vec![],
        }
    }

    #[test]
    fn a_999_gives_set_verdicts_and_no_claim_command() {
        let group = ReceivedGroup {
            functional_id: "HC".into(),
            control_number: 31,
            version: "005010X222A1".into(),
            sets: vec![set("0001", SetStatus::Rejected), set("0002", SetStatus::Accepted)],
        };
        let parsed = parse_inbound(&write_999(&envelope(9), &group).unwrap()).unwrap();
        let plan = plan_inbound(&parsed, &ClaimIndex::default(), Currency::USD);
        assert!(plan.commands.is_empty());
        let verdicts: Vec<(&str, &str, bool)> = plan
            .set_verdicts
            .iter()
            .map(|verdict| {
                (
                    verdict.group_control_number.as_str(),
                    verdict.set_control_number.as_deref().unwrap_or(""),
                    verdict.accepted,
                )
            })
            .collect();
        assert_eq!(verdicts, [("31", "0001", false), ("31", "0002", true)]);
    }

    #[test]
    fn a_pending_277ca_status_is_no_command_and_an_unknown_claim_is_suspense() {
        let org = OrgId::new_v4();
        let known = office_visit_claim(org, 1);
        let stranger = office_visit_claim(OrgId::new_v4(), 2);
        let mut pending = status_entry(&known, true);
        pending.status = StatusCode { category: "P1".into(), code: "20".into(), entity: None };
        let file = acknowledgment(vec![pending, status_entry(&stranger, false)]).unwrap();
        let parsed = parse_inbound(&file).unwrap();
        assert_eq!(
            parsed.patient_control_numbers().len(),
            2,
            "both control numbers are looked up: {:?}",
            parsed.patient_control_numbers()
        );
        let plan = plan_inbound(&parsed, &ClaimIndex::new([&known]), Currency::USD);
        assert!(plan.commands.is_empty(), "{:?}", plan.commands);
        let [InboundSuspense::ClaimAcknowledgment { why, status, .. }] = plan.suspense.as_slice() else {
            panic!("{:?}", plan.suspense)
        };
        assert_eq!((why, status.as_str()), (&AckSuspenseReason::UnknownPatientControlNumber, "A7:562"));
    }

    #[test]
    fn an_835_that_does_not_balance_is_refused() {
        use crate::ingest::sample::{era_835, payment};
        let claim = office_visit_claim(OrgId::new_v4(), 1);
        let file = era_835(vec![payment(&claim, &claim.patient_control_number)], Vec::new()).unwrap();
        let text = String::from_utf8(file).unwrap();
        // BPR02, the check amount, one cent more than the claims pay.
        let start = text.find("BPR*").unwrap();
        let fields: Vec<&str> = text[start..].splitn(4, '*').collect();
        let amount: rust_decimal::Decimal = fields[2].parse().unwrap();
        let tampered =
            format!("{}BPR*{}*{}*{}", &text[..start], fields[1], amount + rust_decimal::Decimal::new(1, 2), fields[3]);
        let error = parse_inbound(tampered.as_bytes()).unwrap_err();
        assert!(error.to_string().contains("does not balance"), "{error}");
    }

    #[test]
    fn the_same_bytes_have_the_same_file_id() {
        assert_eq!(file_id(b"ISA*a"), file_id(b"ISA*a"));
        assert_ne!(file_id(b"ISA*a"), file_id(b"ISA*b"));
    }
}
