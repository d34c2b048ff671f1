//! Commands a claim accepts. Each arrives in a `CommandEnvelope` with its id and actor.

use super::adjustment::Adjustment;
use crate::codes::Icd10;
use crate::domain::denial::{DenialCategory, RootCause};
use crate::domain::{Claim, ClaimLine, PaymentMethod};
use crate::ids::PaymentId;
use crate::money::Money;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimCommand {
    /// Create a Draft claim from its content.
    Create { claim: Box<Claim> },
    /// Replace the coding (diagnoses and lines) of a Draft or Scrubbed claim. Voids any
    /// clinician sign-off and any passed scrub.
    AmendCoding { diagnoses: Vec<Icd10>, lines: Vec<ClaimLine> },
    /// The rendering clinician signs off the coding.
    SignOff,
    /// Run the structural scrub plus the findings of the payer-rule scrubber.
    Scrub { findings: Vec<ScrubFinding> },
    /// Send to the clearinghouse (level 70+). `tracking_id` is the batch or ISA control number.
    Submit { tracking_id: String },
    /// A 999 or 277CA rejection: the claim goes back to Draft to be fixed.
    Reject { source: RejectionSource, reason: String },
    /// The payer accepted the claim for adjudication (277CA A2/A1).
    Accept { payer_claim_control_number: Option<String> },
    /// A payer's remittance for this claim (an 835 CLP loop, or a manual EOB).
    PostRemittance { posting: Box<RemittancePosting> },
    /// A denial notice outside an 835 (e.g. a 277 with a denial status).
    RecordDenial { notice: DenialNotice },
    /// Appeal: resubmit a denied claim, corrected (frequency 7) or as is.
    Appeal { corrected_lines: Option<Vec<ClaimLine>>, payer_claim_control_number: Option<String>, note: String },
    /// Write off the open balance of a PartiallyPaid or Denied claim.
    WriteOff { reason: String },
    /// Cancel a claim before submission.
    Void { reason: String },
    /// A payer's answer to a status request (a 277 claim status, 2200D STC): recorded in the
    /// claim's history; the status itself moves only with a 277CA, an 835 or a user.
    RecordStatus { report: Box<PayerStatusReport> },
    /// A biller asks for the payer's status now (the next 276 goes out at once) rather than
    /// waiting for the clearinghouse link's schedule. Only for a claim the payer has.
    RequestStatus,
}

impl ClaimCommand {
    pub fn name(&self) -> &'static str {
        match self {
            ClaimCommand::Create { .. } => "create",
            ClaimCommand::AmendCoding { .. } => "amend_coding",
            ClaimCommand::SignOff => "sign_off",
            ClaimCommand::Scrub { .. } => "scrub",
            ClaimCommand::Submit { .. } => "submit",
            ClaimCommand::Reject { .. } => "reject",
            ClaimCommand::Accept { .. } => "accept",
            ClaimCommand::PostRemittance { .. } => "post_remittance",
            ClaimCommand::RecordDenial { .. } => "record_denial",
            ClaimCommand::Appeal { .. } => "appeal",
            ClaimCommand::WriteOff { .. } => "write_off",
            ClaimCommand::Void { .. } => "void",
            ClaimCommand::RecordStatus { .. } => "record_status",
            ClaimCommand::RequestStatus => "request_status",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScrubSeverity {
    /// Blocks the Scrubbed transition.
    Error,
    /// Shown, does not block.
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScrubFinding {
    pub severity: ScrubSeverity,
    /// A stable rule code, e.g. "NCCI-PTP", "TIMELY-FILING", "STRUCTURE".
    pub code: String,
    /// The field the finding is about, e.g. "lines[2].modifiers".
    pub field: String,
    /// What to fix, in words a biller reads.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionSource {
    /// 999 implementation acknowledgment: the file or set failed syntax.
    Syntax999,
    /// 277CA from the clearinghouse or payer front end.
    ClaimAcknowledgment277Ca,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostingKind {
    /// CLP02 1/2/3/4/19/20/21: an adjudication.
    Original,
    /// CLP02 22: reverses a prior posting; its amounts are the negation of that posting's.
    Reversal,
    /// The posting that follows a reversal with the corrected amounts.
    Correction,
}

/// One 835 CLP loop (or a manual EOB), ready to post.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemittancePosting {
    /// Derived from (ERA trace number, payer claim control number, CLP02, amount) so that the
    /// same remittance is one payment however often it arrives.
    pub payment_id: PaymentId,
    pub kind: PostingKind,
    pub payer_name: String,
    pub method: PaymentMethod,
    pub era_trace_number: Option<String>,
    pub payer_claim_control_number: Option<String>,
    /// CLP02.
    pub claim_status_code: String,
    /// CLP04: what the payer paid on this claim (negative on a reversal).
    pub paid: Money,
    /// Claim-level CAS.
    pub claim_adjustments: Vec<Adjustment>,
    pub lines: Vec<LinePosting>,
    pub remark_codes: Vec<String>,
    pub paid_on: NaiveDate,
}

/// One SVC loop matched to our line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinePosting {
    pub line_number: u32,
    pub paid: Money,
    /// SVC02 when it differs from our charge (informational).
    pub charge: Money,
    pub allowed: Option<Money>,
    pub adjustments: Vec<Adjustment>,
    pub remark_codes: Vec<String>,
}

/// One claim status from a payer's 277 (STC segment), in the payer's own codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayerStatusReport {
    /// STC01-1, the claim status category (A = acknowledged, P = pending, F = finalized,
    /// R = more information requested, E = error).
    pub category: String,
    /// STC01-2, the claim status code.
    pub code: String,
    /// STC01-3, the entity the status is about, when given.
    pub entity: Option<String>,
    /// STC02, as sent (CCYYMMDD).
    pub effective_date: Option<String>,
    /// STC04 and STC05, when the payer reports money.
    pub charge: Option<Money>,
    pub paid: Option<Money>,
    /// REF*1K.
    pub payer_claim_control_number: Option<String>,
    /// STC12, free text.
    pub message: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenialNotice {
    /// Group and CARC, e.g. "CO-197".
    pub code: String,
    pub rarcs: Vec<String>,
    pub reason: String,
    pub category: DenialCategory,
    pub root_cause: Option<RootCause>,
    pub appeal_deadline: Option<DateTime<Utc>>,
}
