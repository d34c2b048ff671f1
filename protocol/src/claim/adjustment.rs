//! A CAS adjustment: group code, CARC, amount, quantity.

use crate::money::Money;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// CAS01 claim adjustment group code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AdjustmentGroup {
    /// Contractual obligation: the provider absorbs it.
    CO,
    /// Patient responsibility: deductible, coinsurance, copay.
    PR,
    /// Other adjustment.
    OA,
    /// Payer-initiated reduction.
    PI,
    /// Correction and reversal.
    CR,
}

impl AdjustmentGroup {
    pub fn parse(code: &str) -> Option<AdjustmentGroup> {
        Some(match code {
            "CO" => AdjustmentGroup::CO,
            "PR" => AdjustmentGroup::PR,
            "OA" => AdjustmentGroup::OA,
            "PI" => AdjustmentGroup::PI,
            "CR" => AdjustmentGroup::CR,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AdjustmentGroup::CO => "CO",
            AdjustmentGroup::PR => "PR",
            AdjustmentGroup::OA => "OA",
            AdjustmentGroup::PI => "PI",
            AdjustmentGroup::CR => "CR",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Adjustment {
    pub group: AdjustmentGroup,
    /// The claim adjustment reason code (CARC), e.g. "45".
    pub reason: String,
    pub amount: Money,
    #[serde(default)]
    pub quantity: Option<Decimal>,
}

/// Where an adjustment lands in the claim's ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerBucket {
    Contractual,
    PatientResponsibility,
    /// Settled by someone else (prior payer, COB) or payer-initiated reductions we accept.
    OtherAdjustment,
    /// A denial: the amount stays open until appealed or written off.
    Denied,
}

/// CARCs that are contractual write-downs rather than denials when grouped CO or PI.
const CONTRACTUAL_CARCS: [&str; 9] = ["45", "42", "59", "94", "102", "131", "144", "237", "253"];

impl Adjustment {
    pub fn bucket(&self) -> LedgerBucket {
        match self.group {
            AdjustmentGroup::PR => LedgerBucket::PatientResponsibility,
            AdjustmentGroup::CO | AdjustmentGroup::PI if CONTRACTUAL_CARCS.contains(&self.reason.as_str()) => {
                LedgerBucket::Contractual
            }
            // CARC 23: the impact of prior payers' adjudication (COB).
            AdjustmentGroup::OA | AdjustmentGroup::CO if self.reason == "23" => LedgerBucket::OtherAdjustment,
            AdjustmentGroup::CR => LedgerBucket::OtherAdjustment,
            _ => LedgerBucket::Denied,
        }
    }
}
