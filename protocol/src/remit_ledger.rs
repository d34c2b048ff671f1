//! What inbound payer traffic leaves on the practice's own books rather than on a claim: PLB
//! provider-level adjustments (each its own ledger entry) and suspense items (what could not be
//! placed automatically, with the reason, for a biller to resolve). Both are recorded on the
//! practice entity (`practice::PracticeCommand::RecordProviderAdjustment` / `RecordSuspense`),
//! with command ids derived from their content so the same 835 ingested twice records once.

use crate::ids::{ClaimId, CommandId};
use crate::Money;
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One PLB adjustment (835 PLB03..PLB14 pair) as a provider-level ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderAdjustment {
    /// The payer's id (N1*PR REF*2U / TRN03) or, lacking one, its name.
    pub payer: String,
    /// TRN02 of the 835 that carried it.
    pub trace_number: String,
    /// PLB01.
    pub provider_id: String,
    /// PLB03-1: WO, 72, L6, FB, J1, ...
    pub reason_code: String,
    /// PLB03-2.
    pub reference: Option<String>,
    /// The 835's sign: positive reduces the payment (recoupment), negative adds to it.
    pub amount: Money,
    pub posted_on: NaiveDate,
}

impl ProviderAdjustment {
    /// The command id that records this entry: (payer, trace number, reason, reference,
    /// amount) and `occurrence` (its rank among identical entries of the same 835).
    pub fn command_id(&self, occurrence: u32) -> CommandId {
        CommandId::derived(&[
            b"plb",
            self.payer.trim().as_bytes(),
            self.trace_number.trim().as_bytes(),
            self.reason_code.trim().as_bytes(),
            self.reference.as_deref().unwrap_or("").trim().as_bytes(),
            self.amount.amount.normalize().to_string().as_bytes(),
            &occurrence.to_be_bytes(),
        ])
    }
}

/// Where a suspense item came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuspenseSource {
    /// An 835 claim payment (or a whole 835 set) that could not be posted.
    Remittance835,
    /// A 999 about a batch we have no record of sending.
    Acknowledgment999,
    /// A 277CA claim status that names no single claim of ours.
    ClaimAcknowledgment277Ca,
}

/// What a biller must look at: nothing of it was applied to a claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuspenseEntry {
    pub source: SuspenseSource,
    pub payer: Option<String>,
    /// 835 TRN02, 999 AK102 (the group control number), 277CA BHT03.
    pub reference: String,
    pub patient_control_number: Option<String>,
    pub payer_claim_control_number: Option<String>,
    /// The claim it seems to be about, when one was found (e.g. a posting the claim refused).
    pub claim_id: Option<ClaimId>,
    pub amount: Option<Money>,
    /// Why it is in suspense, in words a biller acts on.
    pub reason: String,
}

impl SuspenseEntry {
    /// The item's id in the queue: from its content alone, so the same item has the same id
    /// on every node and after every replay (identical items share it).
    pub fn id(&self) -> CommandId {
        self.command_id(0)
    }

    /// The command id that records this item, from its content and `occurrence` (its rank
    /// among identical items of the same file), so a redelivered file records nothing new.
    pub fn command_id(&self, occurrence: u32) -> CommandId {
        let amount = self.amount.map(|money| money.amount.normalize().to_string()).unwrap_or_default();
        let claim = self.claim_id.map(|id| id.0.as_bytes().to_vec()).unwrap_or_default();
        CommandId::derived(&[
            b"suspense",
            format!("{:?}", self.source).as_bytes(),
            self.payer.as_deref().unwrap_or("").as_bytes(),
            self.reference.as_bytes(),
            self.patient_control_number.as_deref().unwrap_or("").as_bytes(),
            self.payer_claim_control_number.as_deref().unwrap_or("").as_bytes(),
            &claim,
            amount.as_bytes(),
            self.reason.as_bytes(),
            &occurrence.to_be_bytes(),
        ])
    }
}

/// The provider-level ledger as folded on the practice: entry count and totals by PLB reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderLedger {
    pub entries: u64,
    /// PLB reason code → sum of amounts (835 sign).
    pub by_reason: BTreeMap<String, Decimal>,
}

impl ProviderLedger {
    pub fn record(&mut self, entry: &ProviderAdjustment) {
        self.entries += 1;
        *self.by_reason.entry(entry.reason_code.trim().to_string()).or_insert(Decimal::ZERO) += entry.amount.amount;
    }

    /// Σ of every entry (positive: taken back overall).
    pub fn total(&self) -> Decimal {
        self.by_reason.values().copied().sum()
    }
}
