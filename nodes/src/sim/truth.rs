//! The simulator's ground truth: what it decided for every claim and submission, to the cent,
//! and every provider-level adjustment it sent. Tests score our ERA posting against it; later
//! modules (Reclaim, Denial OS) score their findings against the injected underpayments and
//! denial causes.

use super::adjudicate::Adjudication;
use chrono::NaiveDate;
use practice_protocol::ids::{ClaimId, PayerId};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum SubmissionTruth {
    /// The whole 837 functional group was rejected by a 999.
    GroupRejected { batch_id: String },
    /// A 277CA rejected the claim at the front end.
    FrontEndRejected {
        category: String,
        /// STC01-2 of the rejection (claim status code list 508).
        #[serde(default)]
        status_code: String,
        reason: String,
    },
    /// Adjudicated and paid (or denied) on `paid_on`. When reversed, `adjudication` is the
    /// corrected decision and `original` the one reversed.
    Adjudicated {
        adjudication: Box<Adjudication>,
        paid_on: NaiveDate,
        original: Option<Box<Adjudication>>,
        reversed_on: Option<NaiveDate>,
        interest: Decimal,
    },
}

/// A PLB line the simulator emitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlbTruth {
    pub payer_id: PayerId,
    pub trace_number: String,
    pub reason_code: String,
    pub reference: Option<String>,
    /// The 835's sign: positive takes money back, negative (interest) adds.
    pub amount: Decimal,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Every submission of every claim, in order.
    pub claims: BTreeMap<ClaimId, Vec<SubmissionTruth>>,
    pub plb: Vec<PlbTruth>,
    /// Batches answered with a rejecting 999 because they could not be read.
    #[serde(default)]
    pub rejected_batches: Vec<String>,
}

impl GroundTruth {
    pub(crate) fn record(&mut self, claim_id: ClaimId, truth: SubmissionTruth) {
        self.claims.entry(claim_id).or_default().push(truth);
    }

    fn adjudications(&self, claim_id: &ClaimId) -> impl Iterator<Item = &Adjudication> {
        self.claims.get(claim_id).into_iter().flatten().filter_map(|submission| match submission {
            SubmissionTruth::Adjudicated { adjudication, .. } => Some(adjudication.as_ref()),
            _ => None,
        })
    }

    /// What the payer finally paid on a claim over all its submissions.
    pub fn paid(&self, claim_id: &ClaimId) -> Decimal {
        self.adjudications(claim_id).map(Adjudication::paid).sum()
    }

    /// Paid per line number over all submissions.
    pub fn paid_by_line(&self, claim_id: &ClaimId) -> BTreeMap<u32, Decimal> {
        let mut lines = BTreeMap::new();
        for adjudication in self.adjudications(claim_id) {
            for line in &adjudication.lines {
                *lines.entry(line.line_number).or_insert(Decimal::ZERO) += line.paid;
            }
        }
        lines
    }

    pub fn patient_responsibility(&self, claim_id: &ClaimId) -> Decimal {
        self.adjudications(claim_id).map(Adjudication::patient_responsibility).sum()
    }

    /// Money kept below contract across all claims (silent underpayments and downcodes).
    pub fn underpaid_total(&self) -> Decimal {
        self.claims
            .keys()
            .flat_map(|claim_id| self.adjudications(claim_id))
            .flat_map(|adjudication| adjudication.lines.iter())
            .map(|line| line.underpaid())
            .sum()
    }

    pub fn paid_total(&self) -> Decimal {
        self.claims.keys().map(|claim_id| self.paid(claim_id)).sum()
    }

    /// Net PLB: positive is money taken back.
    pub fn plb_total(&self) -> Decimal {
        self.plb.iter().map(|entry| entry.amount).sum()
    }
}
