//! The content of an 835 remittance as the ERA matcher needs it, independent of how it was
//! read: BPR/TRN, payer, each CLP with its CAS, SVC lines with REF*6R and AMT*B6, and PLB.
//! Amounts keep the 835's signs: a reversal (CLP02 = 22) carries negated amounts.

use chrono::NaiveDate;
use practice_protocol::claim::Adjustment;
use practice_protocol::domain::PaymentMethod;
use practice_protocol::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remittance {
    /// TRN02: the check or EFT trace number.
    pub trace_number: String,
    /// TRN03 / N1*PR identification, when present.
    pub payer_id: Option<String>,
    /// N1*PR name.
    pub payer_name: String,
    /// BPR04.
    pub method: PaymentMethod,
    /// BPR02: the total actually paid.
    pub total_paid: Money,
    /// BPR16: the payment date.
    pub paid_on: NaiveDate,
    pub claims: Vec<RemitClaim>,
    pub provider_adjustments: Vec<ProviderAdjustment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemitClaim {
    /// CLP01: our patient control number, echoed back.
    pub patient_control_number: String,
    /// CLP02: 1 primary, 2 secondary, 3 tertiary, 4 denied, 19–21 forwarded, 22 reversal.
    pub status_code: String,
    /// CLP03.
    pub charge: Money,
    /// CLP04.
    pub paid: Money,
    /// CLP05.
    pub patient_responsibility: Option<Money>,
    /// CLP07.
    pub payer_claim_control_number: Option<String>,
    /// Claim-level CAS.
    pub adjustments: Vec<Adjustment>,
    /// MOA/MIA remark codes.
    pub remark_codes: Vec<String>,
    pub lines: Vec<RemitLine>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemitLine {
    /// SVC01-2: the procedure as adjudicated (the payer may have rewritten ours).
    pub procedure: String,
    /// SVC01-3..6.
    pub modifiers: Vec<String>,
    /// SVC06-2: the procedure we submitted, when the payer changed it.
    pub submitted_procedure: Option<String>,
    pub submitted_modifiers: Vec<String>,
    /// SVC02.
    pub charge: Money,
    /// SVC03.
    pub paid: Money,
    /// SVC05.
    pub units: Option<Decimal>,
    /// DTM*472.
    pub service_date: Option<NaiveDate>,
    /// REF*6R: our line item control number.
    pub line_control_number: Option<String>,
    /// AMT*B6.
    pub allowed: Option<Money>,
    pub adjustments: Vec<Adjustment>,
    /// LQ*HE.
    pub remark_codes: Vec<String>,
}

/// A PLB adjustment: positive reduces the payment (a recoupment, a levy), negative adds to
/// it (interest).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAdjustment {
    /// PLB01.
    pub provider_id: String,
    /// PLB03-1, e.g. WO overpayment recovery, L6 interest, FB forwarding balance.
    pub reason_code: String,
    /// PLB03-2: usually the payer claim control number it concerns.
    pub reference: Option<String>,
    pub amount: Money,
}

impl Remittance {
    /// BPR02 = ΣCLP04 − ΣPLB: what the 835 says it paid equals what it itemizes.
    pub fn balances(&self) -> bool {
        let claims: Decimal = self.claims.iter().map(|claim| claim.paid.amount).sum();
        let plb: Decimal = self.provider_adjustments.iter().map(|adjustment| adjustment.amount.amount).sum();
        self.total_paid.amount == claims - plb
    }
}

impl RemitClaim {
    pub fn is_reversal(&self) -> bool {
        self.status_code == "22"
    }
}
