//! `decide`: a command against the current state → the events it produces, or why not.

use super::command::{ClaimCommand, DenialNotice, PostingKind, RemittancePosting, ScrubFinding, ScrubSeverity};
use super::event::ClaimEvent;
use super::permissions::{required_level, Permission};
use super::state::ClaimState;
use super::status::{transition_allowed, ClaimStatus};
use crate::carc;
use crate::ids::CommandId;
use crate::money::Money;
use crate::roles::{Actor, Role};
use crate::ValidationError;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What `decide` needs from outside the claim: the time and the practice's policies.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecideContext {
    pub now: DateTime<Utc>,
    /// Write-offs above this need a practice admin (level 80); at or below it a billing
    /// manager may write off.
    pub write_off_threshold: Decimal,
    /// Days from a denial to its appeal deadline when the payer's rules do not say.
    pub appeal_window_days: i64,
}

impl DecideContext {
    pub fn at(now: DateTime<Utc>) -> Self {
        Self { now, write_off_threshold: Decimal::from(500), appeal_window_days: 180 }
    }
}

/// Why a command was refused. Nothing is appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum Rejection {
    #[error("{command} needs {permission:?} (level {needs_level}); {actor} may not")]
    Forbidden { command: String, permission: Permission, needs_level: u8, actor: String },
    #[error("{command} is not allowed while the claim is {status}")]
    InvalidTransition { command: String, status: ClaimStatus },
    #[error("the claim does not exist")]
    NotFound,
    #[error("the claim already exists")]
    AlreadyExists,
    #[error("the claim belongs to another organization")]
    WrongOrganization,
    #[error("invalid claim: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<ValidationError>),
    #[error("the coding has not been signed off by the rendering clinician")]
    NotSignedOff,
    #[error("write-off of {amount} exceeds the {threshold} threshold: needs a practice admin")]
    NeedsApproval { amount: Decimal, threshold: Decimal },
    #[error("nothing to write off: the open balance is {open}")]
    NothingToWriteOff { open: Decimal },
    #[error("posting refused: {0}")]
    Posting(String),
    #[error("{field} must not be empty")]
    MissingReason { field: String },
}

/// Validate `command` from `actor` against `state`. A command id already applied yields no
/// events (G3). Never panics; never mutates.
pub fn decide(
    state: &ClaimState,
    command_id: CommandId,
    command: &ClaimCommand,
    actor: &Actor,
    context: &DecideContext,
) -> Result<Vec<ClaimEvent>, Rejection> {
    if state.applied_commands.contains(&command_id) {
        return Ok(Vec::new());
    }
    let permission = Permission::of(command);
    if !permission.allows(actor) {
        return Err(Rejection::Forbidden {
            command: command.name().to_string(),
            permission,
            needs_level: required_level(permission),
            actor: describe(actor),
        });
    }
    if let ClaimCommand::Create { claim } = command {
        if state.claim.is_some() {
            return Err(Rejection::AlreadyExists);
        }
        if claim.org != actor.org() {
            return Err(Rejection::WrongOrganization);
        }
        claim.validate().map_err(Rejection::Invalid)?;
        return Ok(vec![ClaimEvent::Created { claim: claim.clone() }]);
    }
    let (Some(claim), Some(status)) = (state.claim.as_ref(), state.status) else {
        return Err(Rejection::NotFound);
    };
    if claim.org != actor.org() {
        return Err(Rejection::WrongOrganization);
    }
    let invalid = || Rejection::InvalidTransition { command: command.name().to_string(), status };
    let events = match command {
        ClaimCommand::Create { .. } => return Err(Rejection::AlreadyExists),
        ClaimCommand::AmendCoding { diagnoses, lines } => {
            if !matches!(status, ClaimStatus::Draft | ClaimStatus::Scrubbed) {
                return Err(invalid());
            }
            let mut amended = claim.clone();
            amended.diagnoses = diagnoses.clone();
            amended.lines = lines.clone();
            amended.validate().map_err(Rejection::Invalid)?;
            vec![ClaimEvent::CodingAmended {
                diagnoses: diagnoses.clone(),
                lines: lines.clone(),
                voided_sign_off: state.signed_off,
            }]
        }
        ClaimCommand::SignOff => {
            if !matches!(status, ClaimStatus::Draft | ClaimStatus::Scrubbed) {
                return Err(invalid());
            }
            if state.signed_off {
                Vec::new()
            } else {
                vec![ClaimEvent::SignedOff]
            }
        }
        ClaimCommand::Scrub { findings } => {
            if status != ClaimStatus::Draft {
                return Err(invalid());
            }
            vec![scrub(claim, findings)]
        }
        ClaimCommand::Submit { tracking_id } => {
            if status != ClaimStatus::Scrubbed {
                return Err(invalid());
            }
            if !state.signed_off {
                return Err(Rejection::NotSignedOff);
            }
            non_empty("tracking_id", tracking_id)?;
            vec![ClaimEvent::Submitted { tracking_id: tracking_id.clone(), frequency: claim.frequency }]
        }
        ClaimCommand::Reject { source, reason } => {
            if status != ClaimStatus::Submitted {
                return Err(invalid());
            }
            vec![ClaimEvent::Rejected { source: *source, reason: reason.clone() }]
        }
        ClaimCommand::Accept { payer_claim_control_number } => match status {
            ClaimStatus::Submitted => {
                vec![ClaimEvent::Accepted { payer_claim_control_number: payer_claim_control_number.clone() }]
            }
            // A 277CA that arrives after the 835 (they cross in the mail) changes nothing.
            ClaimStatus::Accepted | ClaimStatus::Paid | ClaimStatus::PartiallyPaid => Vec::new(),
            _ => return Err(invalid()),
        },
        ClaimCommand::PostRemittance { posting } => post_remittance(state, status, posting, context)?,
        ClaimCommand::RecordDenial { notice } => {
            if !matches!(status, ClaimStatus::Submitted | ClaimStatus::Accepted) {
                return Err(invalid());
            }
            vec![ClaimEvent::Denied { notice: notice.clone() }]
        }
        ClaimCommand::Appeal { corrected_lines, payer_claim_control_number, note } => {
            if status != ClaimStatus::Denied {
                return Err(invalid());
            }
            non_empty("note", note)?;
            if let Some(lines) = corrected_lines {
                let mut corrected = claim.clone();
                corrected.lines = lines.clone();
                corrected.validate().map_err(Rejection::Invalid)?;
            }
            vec![ClaimEvent::Appealed {
                corrected_lines: corrected_lines.clone(),
                payer_claim_control_number: payer_claim_control_number.clone(),
                note: note.clone(),
            }]
        }
        ClaimCommand::WriteOff { reason } => {
            if !matches!(status, ClaimStatus::PartiallyPaid | ClaimStatus::Denied) {
                return Err(invalid());
            }
            non_empty("reason", reason)?;
            let open = state.ledger.as_ref().map(|ledger| ledger.open_balance()).unwrap_or_default();
            if open <= Decimal::ZERO {
                return Err(Rejection::NothingToWriteOff { open });
            }
            let is_admin = matches!(actor, Actor::User { role: Role::PracticeAdmin, .. });
            if open > context.write_off_threshold && !is_admin {
                return Err(Rejection::NeedsApproval { amount: open, threshold: context.write_off_threshold });
            }
            vec![ClaimEvent::WrittenOff { amount: Money::new(open, claim.currency), reason: reason.clone() }]
        }
        ClaimCommand::Void { reason } => {
            if !matches!(status, ClaimStatus::Draft | ClaimStatus::Scrubbed) {
                return Err(invalid());
            }
            non_empty("reason", reason)?;
            vec![ClaimEvent::Voided { reason: reason.clone() }]
        }
        ClaimCommand::RecordStatus { report } => {
            // A status answers a request about a claim the payer has: one never sent has none.
            if state.submissions == 0 || status == ClaimStatus::Voided {
                return Err(invalid());
            }
            non_empty("report.category", &report.category)?;
            non_empty("report.code", &report.code)?;
            vec![ClaimEvent::StatusReported { report: report.clone() }]
        }
        ClaimCommand::RequestStatus => {
            // Only the payer can say where a claim it has stands: sent, no final answer yet.
            if !matches!(status, ClaimStatus::Submitted | ClaimStatus::Accepted) {
                return Err(invalid());
            }
            vec![ClaimEvent::StatusRequested]
        }
    };
    debug_assert!(transitions_ok(state, &events), "decide produced a transition the table forbids");
    Ok(events)
}

/// Structural checks plus the payer-rule findings; errors keep the claim in Draft.
fn scrub(claim: &crate::domain::Claim, findings: &[ScrubFinding]) -> ClaimEvent {
    let mut errors: Vec<ScrubFinding> = match claim.validate() {
        Ok(()) => Vec::new(),
        Err(problems) => problems
            .into_iter()
            .map(|problem| ScrubFinding {
                severity: ScrubSeverity::Error,
                code: "STRUCTURE".to_string(),
                field: problem.field.clone(),
                message: problem.kind.to_string(),
            })
            .collect(),
    };
    errors.extend(findings.iter().filter(|finding| finding.severity == ScrubSeverity::Error).cloned());
    let warnings: Vec<ScrubFinding> =
        findings.iter().filter(|finding| finding.severity == ScrubSeverity::Warning).cloned().collect();
    if errors.is_empty() {
        ClaimEvent::ScrubPassed { warnings }
    } else {
        ClaimEvent::ScrubFailed { errors, warnings }
    }
}

fn post_remittance(
    state: &ClaimState,
    status: ClaimStatus,
    posting: &RemittancePosting,
    context: &DecideContext,
) -> Result<Vec<ClaimEvent>, Rejection> {
    if state.applied_payments.contains(&posting.payment_id) {
        return Ok(Vec::new());
    }
    let Some(ledger) = state.ledger.as_ref() else {
        return Err(Rejection::NotFound);
    };
    check_posting_currency(posting, ledger.currency)?;
    let mut events = Vec::new();
    let mut working = state.clone();
    match (posting.kind, status) {
        (
            PostingKind::Reversal,
            ClaimStatus::Paid | ClaimStatus::PartiallyPaid | ClaimStatus::Denied | ClaimStatus::Accepted,
        ) => {}
        (PostingKind::Reversal, _) => {
            return Err(Rejection::Posting(format!("a reversal cannot apply to a {status} claim")))
        }
        (_, ClaimStatus::Submitted) => {
            // The 835 is the payer's acceptance when no 277CA came first, unless it denies the
            // claim outright: that is the seed's Submitted → Denied.
            let mut probe = working.clone();
            probe.apply(&ClaimEvent::RemittancePosted { posting: Box::new(posting.clone()) });
            if probe.status != Some(ClaimStatus::Denied) {
                let accepted =
                    ClaimEvent::Accepted { payer_claim_control_number: posting.payer_claim_control_number.clone() };
                working.apply(&accepted);
                events.push(accepted);
            }
        }
        (_, ClaimStatus::Accepted | ClaimStatus::PartiallyPaid) => {}
        (_, other) => {
            return Err(Rejection::Posting(format!(
                "a {:?} posting cannot apply to a {other} claim (a payer reversal must come first)",
                posting.kind
            )))
        }
    }
    let from = working.status.unwrap_or(status);
    let posted = ClaimEvent::RemittancePosted { posting: Box::new(posting.clone()) };
    working.apply(&posted);
    let to = working.status.unwrap_or(from);
    if !transition_allowed(from, to) {
        return Err(Rejection::Posting(format!("this remittance would move the claim from {from} to {to}")));
    }
    events.push(posted);
    if to == ClaimStatus::Denied && from != ClaimStatus::Denied {
        events.push(ClaimEvent::Denied { notice: denial_notice(posting, context) });
    }
    Ok(events)
}

fn check_posting_currency(posting: &RemittancePosting, currency: crate::money::Currency) -> Result<(), Rejection> {
    let mismatch = |field: &str| Rejection::Posting(format!("{field} is not in {currency}"));
    if posting.paid.currency != currency {
        return Err(mismatch("paid"));
    }
    let all_adjustments =
        posting.claim_adjustments.iter().chain(posting.lines.iter().flat_map(|line| line.adjustments.iter()));
    for adjustment in all_adjustments {
        if adjustment.amount.currency != currency {
            return Err(mismatch("adjustment"));
        }
    }
    if posting.lines.iter().any(|line| line.paid.currency != currency) {
        return Err(mismatch("line paid"));
    }
    Ok(())
}

/// The denial an adjudication implies: the largest denial-bucket adjustment names it.
fn denial_notice(posting: &RemittancePosting, context: &DecideContext) -> DenialNotice {
    use super::adjustment::LedgerBucket;
    let adjustments =
        posting.claim_adjustments.iter().chain(posting.lines.iter().flat_map(|line| line.adjustments.iter()));
    let principal = adjustments
        .filter(|adjustment| adjustment.bucket() == LedgerBucket::Denied)
        .max_by(|a, b| a.amount.amount.cmp(&b.amount.amount));
    let (code, reason) = match principal {
        Some(adjustment) => {
            (format!("{}-{}", adjustment.group.as_str(), adjustment.reason), carc::description(&adjustment.reason))
        }
        None => ("CO-0".to_string(), "denied without a denial adjustment".to_string()),
    };
    let carc_code = principal.map(|adjustment| adjustment.reason.as_str()).unwrap_or("");
    let (category, root_cause) = carc::classify(carc_code);
    let mut rarcs: Vec<String> = posting.remark_codes.clone();
    rarcs.extend(posting.lines.iter().flat_map(|line| line.remark_codes.iter().cloned()));
    rarcs.dedup();
    DenialNotice {
        code,
        rarcs,
        reason,
        category,
        root_cause: Some(root_cause),
        appeal_deadline: Some(context.now + Duration::days(context.appeal_window_days)),
    }
}

fn transitions_ok(state: &ClaimState, events: &[ClaimEvent]) -> bool {
    let mut working = state.clone();
    for event in events {
        let from = working.status;
        working.apply(event);
        if let (Some(from), Some(to)) = (from, working.status) {
            if !transition_allowed(from, to) {
                return false;
            }
        }
    }
    true
}

fn non_empty(field: &str, value: &str) -> Result<(), Rejection> {
    if value.trim().is_empty() {
        return Err(Rejection::MissingReason { field: field.to_string() });
    }
    Ok(())
}

fn describe(actor: &Actor) -> String {
    match actor {
        Actor::User { role, .. } => format!("{role}"),
        Actor::Patient { .. } => "Patient(10)".to_string(),
        Actor::System { component, .. } => format!("system {component:?}"),
    }
}
