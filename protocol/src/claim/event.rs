//! Events: the facts a claim's history is made of. Who and when are in the envelope; each
//! event carries its own why.

use super::command::{DenialNotice, PayerStatusReport, RejectionSource, RemittancePosting, ScrubFinding};
use crate::codes::Icd10;
use crate::domain::{Claim, ClaimFrequency, ClaimLine};
use crate::money::Money;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimEvent {
    Created {
        claim: Box<Claim>,
    },
    CodingAmended {
        diagnoses: Vec<Icd10>,
        lines: Vec<ClaimLine>,
        voided_sign_off: bool,
    },
    SignedOff,
    ScrubPassed {
        warnings: Vec<ScrubFinding>,
    },
    ScrubFailed {
        errors: Vec<ScrubFinding>,
        warnings: Vec<ScrubFinding>,
    },
    Submitted {
        tracking_id: String,
        frequency: ClaimFrequency,
    },
    Rejected {
        source: RejectionSource,
        reason: String,
    },
    Accepted {
        payer_claim_control_number: Option<String>,
    },
    /// A remittance posted. The status after it is derived by the ledger rule.
    RemittancePosted {
        posting: Box<RemittancePosting>,
    },
    Denied {
        notice: DenialNotice,
    },
    Appealed {
        corrected_lines: Option<Vec<ClaimLine>>,
        payer_claim_control_number: Option<String>,
        note: String,
    },
    WrittenOff {
        amount: Money,
        reason: String,
    },
    Voided {
        reason: String,
    },
    /// A payer answered a status request: the answer, kept in the history.
    StatusReported {
        report: Box<PayerStatusReport>,
    },
    /// Someone asked for the payer's status now: the next 276 goes out for this claim.
    StatusRequested,
}

impl ClaimEvent {
    /// A stable name for metrics and logs (`NounVerb` in the catalogue).
    pub fn name(&self) -> &'static str {
        match self {
            ClaimEvent::Created { .. } => "ClaimCreated",
            ClaimEvent::CodingAmended { .. } => "ClaimCodingAmended",
            ClaimEvent::SignedOff => "ClaimSignedOff",
            ClaimEvent::ScrubPassed { .. } => "ClaimScrubPassed",
            ClaimEvent::ScrubFailed { .. } => "ClaimScrubFailed",
            ClaimEvent::Submitted { .. } => "ClaimSubmitted",
            ClaimEvent::Rejected { .. } => "ClaimRejected",
            ClaimEvent::Accepted { .. } => "ClaimAccepted",
            ClaimEvent::RemittancePosted { .. } => "ClaimRemittancePosted",
            ClaimEvent::Denied { .. } => "ClaimDenied",
            ClaimEvent::Appealed { .. } => "ClaimAppealed",
            ClaimEvent::WrittenOff { .. } => "ClaimWrittenOff",
            ClaimEvent::Voided { .. } => "ClaimVoided",
            ClaimEvent::StatusReported { .. } => "ClaimStatusReported",
            ClaimEvent::StatusRequested => "ClaimStatusRequested",
        }
    }
}
