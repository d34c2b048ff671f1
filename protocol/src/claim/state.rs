//! A claim's state: the fold of its events.

use super::command::{DenialNotice, PostingKind, ScrubFinding};
use super::event::ClaimEvent;
use super::ledger::ClaimLedger;
use super::status::ClaimStatus;
use crate::domain::{Claim, ClaimFrequency};
use crate::envelope::EventEnvelope;
use crate::id_set::IdSet;
use crate::ids::{CommandId, PaymentId, UserId};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimState {
    /// None until `Created`.
    pub claim: Option<Claim>,
    pub status: Option<ClaimStatus>,
    pub ledger: Option<ClaimLedger>,
    pub signed_off: bool,
    pub last_scrub: Vec<ScrubFinding>,
    pub tracking_id: Option<String>,
    pub payer_claim_control_number: Option<String>,
    pub submissions: u32,
    pub denials: Vec<DenialNotice>,
    /// Command ids already applied: a redelivered command has no second effect (G3).
    pub applied_commands: IdSet<CommandId>,
    /// Remittances already posted, by their content-derived id.
    pub applied_payments: IdSet<PaymentId>,
    /// Number of events folded in: the next event's sequence is `version + 1`.
    pub version: u64,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<UserId>,
    /// Status requests made by users (`StatusRequested`): the exchange sends a 276 whenever
    /// this is ahead of what it last sent for.
    #[serde(default)]
    pub status_requests: u32,
}

impl ClaimState {
    pub fn status(&self) -> Option<ClaimStatus> {
        self.status
    }

    /// Fold a stored event: the envelope supplies sequence, command id and audit columns.
    pub fn apply_envelope(&mut self, envelope: &EventEnvelope<ClaimEvent>) {
        if let Some(command_id) = envelope.command_id {
            self.applied_commands.insert(command_id);
        }
        self.updated_at = Some(envelope.recorded_at);
        self.updated_by = Some(envelope.actor.user_id());
        self.apply(&envelope.event);
    }

    /// Fold one event. Total: an event is a fact, never rejected here.
    pub fn apply(&mut self, event: &ClaimEvent) {
        self.version += 1;
        match event {
            ClaimEvent::Created { claim } => {
                self.ledger = Some(ClaimLedger::new(claim.currency, &claim.lines));
                self.claim = Some((**claim).clone());
                self.status = Some(ClaimStatus::Draft);
            }
            ClaimEvent::CodingAmended { diagnoses, lines, voided_sign_off } => {
                if let Some(claim) = self.claim.as_mut() {
                    claim.diagnoses = diagnoses.clone();
                    claim.lines = lines.clone();
                }
                if let Some(ledger) = self.ledger.as_mut() {
                    ledger.reset_lines(lines);
                }
                if *voided_sign_off {
                    self.signed_off = false;
                }
                self.status = Some(ClaimStatus::Draft);
            }
            ClaimEvent::SignedOff => self.signed_off = true,
            ClaimEvent::ScrubPassed { warnings } => {
                self.last_scrub = warnings.clone();
                self.status = Some(ClaimStatus::Scrubbed);
            }
            ClaimEvent::ScrubFailed { errors, warnings } => {
                self.last_scrub = errors.iter().chain(warnings).cloned().collect();
            }
            ClaimEvent::Submitted { tracking_id, frequency } => {
                self.tracking_id = Some(tracking_id.clone());
                self.submissions += 1;
                if let Some(claim) = self.claim.as_mut() {
                    claim.frequency = *frequency;
                }
                self.status = Some(ClaimStatus::Submitted);
            }
            ClaimEvent::Rejected { .. } => self.status = Some(ClaimStatus::Draft),
            ClaimEvent::Accepted { payer_claim_control_number } => {
                if payer_claim_control_number.is_some() {
                    self.payer_claim_control_number = payer_claim_control_number.clone();
                }
                self.status = Some(ClaimStatus::Accepted);
            }
            ClaimEvent::RemittancePosted { posting } => {
                self.applied_payments.insert(posting.payment_id);
                if posting.payer_claim_control_number.is_some() {
                    self.payer_claim_control_number = posting.payer_claim_control_number.clone();
                }
                if let Some(ledger) = self.ledger.as_mut() {
                    ledger.post(posting);
                }
                self.status = Some(self.status_after_posting(posting.kind, &posting.claim_status_code));
            }
            ClaimEvent::Denied { notice } => {
                self.denials.push(notice.clone());
                self.status = Some(ClaimStatus::Denied);
            }
            ClaimEvent::Appealed { corrected_lines, payer_claim_control_number, .. } => {
                if let Some(lines) = corrected_lines {
                    if let Some(claim) = self.claim.as_mut() {
                        claim.lines = lines.clone();
                    }
                    if let Some(ledger) = self.ledger.as_mut() {
                        ledger.replace_lines(lines);
                    }
                }
                if let Some(claim) = self.claim.as_mut() {
                    if let Some(reference) =
                        payer_claim_control_number.clone().or_else(|| self.payer_claim_control_number.clone())
                    {
                        claim.original_reference = Some(reference.into());
                        claim.frequency = ClaimFrequency::Replacement;
                    }
                }
                self.submissions += 1;
                self.status = Some(ClaimStatus::Submitted);
            }
            ClaimEvent::WrittenOff { amount, .. } => {
                if let Some(ledger) = self.ledger.as_mut() {
                    ledger.write_off(amount.amount);
                }
                self.status = Some(ClaimStatus::WrittenOff);
            }
            ClaimEvent::Voided { .. } => self.status = Some(ClaimStatus::Voided),
            ClaimEvent::StatusReported { report } => {
                if report.payer_claim_control_number.is_some() {
                    self.payer_claim_control_number = report.payer_claim_control_number.clone();
                }
            }
            ClaimEvent::StatusRequested => self.status_requests += 1,
        }
    }

    /// The ledger rule: after an adjudication, a claim with nothing open is Paid, one with
    /// money paid and some open is PartiallyPaid, one with nothing paid and something open
    /// (or CLP02 = 4) is Denied. A reversal reopens the claim at Accepted.
    pub fn status_after_posting(&self, kind: PostingKind, claim_status_code: &str) -> ClaimStatus {
        if kind == PostingKind::Reversal {
            return ClaimStatus::Accepted;
        }
        let Some(ledger) = self.ledger.as_ref() else {
            return ClaimStatus::Accepted;
        };
        let open = ledger.open_balance();
        if claim_status_code == "4" && ledger.totals.paid <= Decimal::ZERO {
            ClaimStatus::Denied
        } else if open <= Decimal::ZERO {
            ClaimStatus::Paid
        } else if ledger.totals.paid > Decimal::ZERO {
            ClaimStatus::PartiallyPaid
        } else {
            ClaimStatus::Denied
        }
    }

    pub fn fold<'a>(envelopes: impl IntoIterator<Item = &'a EventEnvelope<ClaimEvent>>) -> ClaimState {
        let mut state = ClaimState::default();
        for envelope in envelopes {
            state.apply_envelope(envelope);
        }
        state
    }
}
