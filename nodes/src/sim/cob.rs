//! Coordination of benefits on the payer side: how a secondary (or tertiary) payer pays a
//! claim that carries the prior payers' adjudication (837 loops 2320/2430, our
//! `Claim::prior_adjudications`).
//!
//! The rule, per line (non-duplication, "lesser of" — what Medicaid after Medicare and most
//! commercial secondaries do):
//! - the payer works out its own allowed amount from its fee schedule;
//! - it pays at most what is left of that allowed amount after the prior payers paid, and never
//!   more than the patient responsibility (PR) the prior payers left: the lesser of the two;
//! - its 835 reports the prior payers' payment as OA-23 (impact of prior payer adjudication,
//!   REALISM.md §2e), sequestration as CO-253 where the payer applies it, the patient share it
//!   did not cover as PR-2 — or as CO-45 for Medicaid, which forbids balance billing — and the
//!   rest of the charge as CO-45. Every line balances: charge = paid + Σ adjustments.
//!
//! A secondary claim without any prior adjudication is denied CO-22 (MA04) by the caller.

use super::profile::cents;
use practice_protocol::claim::{Adjustment, AdjustmentGroup};
use practice_protocol::domain::{Claim, ClaimLine};
use practice_protocol::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// What the prior payers did with one line, summed over them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorLine {
    pub paid: Decimal,
    pub patient_responsibility: Decimal,
}

/// The secondary payer's decision on one line (before any denial).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CobLine {
    /// The secondary's own allowed amount for the service.
    pub allowed: Decimal,
    pub paid: Decimal,
    pub adjustments: Vec<Adjustment>,
}

/// How the payer treats the part of the prior patient share it does not pay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeftoverShare {
    /// The patient still owes it (PR-2).
    Patient,
    /// The provider writes it off (CO-45): Medicaid forbids balance billing.
    WriteOff,
}

fn sum_pr(adjustments: &[Adjustment]) -> Decimal {
    adjustments.iter().filter(|a| a.group == AdjustmentGroup::PR).map(|a| a.amount.amount).sum()
}

/// The prior payers' adjudication of every line of `claim` (by position), or `None` when the
/// claim carries none. Line-level data (2430) is used where a prior payer sent it; a prior payer
/// with claim-level data only (2320 AMT*D and CAS) has its amounts spread over the lines by
/// charge, the last line taking the rounding remainder.
pub fn prior_lines(claim: &Claim) -> Option<Vec<PriorLine>> {
    if claim.prior_adjudications.is_empty() {
        return None;
    }
    let mut lines = vec![PriorLine::default(); claim.lines.len()];
    let total_charge: Decimal = claim.lines.iter().map(|line| line.charge.amount).sum();
    for prior in &claim.prior_adjudications {
        if prior.lines.is_empty() {
            spread(&mut lines, &claim.lines, total_charge, prior.paid.amount, sum_pr(&prior.claim_adjustments));
            continue;
        }
        for (slot, line) in lines.iter_mut().zip(&claim.lines) {
            for entry in prior.lines.iter().filter(|entry| entry.line_number == line.line_number) {
                slot.paid += entry.paid.amount;
                slot.patient_responsibility += sum_pr(&entry.adjustments);
            }
        }
        // Claim-level PR (2320 CAS) the payer did not put on lines belongs to the claim as a whole.
        let claim_pr = sum_pr(&prior.claim_adjustments);
        if claim_pr != Decimal::ZERO {
            spread(&mut lines, &claim.lines, total_charge, Decimal::ZERO, claim_pr);
        }
    }
    Some(lines)
}

fn spread(lines: &mut [PriorLine], claim_lines: &[ClaimLine], total_charge: Decimal, paid: Decimal, pr: Decimal) {
    let (mut paid_left, mut pr_left) = (paid, pr);
    let count = lines.len();
    for (index, (slot, line)) in lines.iter_mut().zip(claim_lines).enumerate() {
        let (line_paid, line_pr) = if index + 1 == count || total_charge <= Decimal::ZERO {
            (paid_left, pr_left)
        } else {
            let share = line.charge.amount / total_charge;
            (cents(paid * share), cents(pr * share))
        };
        slot.paid += line_paid;
        slot.patient_responsibility += line_pr;
        paid_left -= line_paid;
        pr_left -= line_pr;
        if index + 1 == count {
            break;
        }
    }
}

/// The secondary payer's payment on one line. Amounts the 837 claims beyond the charge are
/// clamped to it, so a line always balances and nothing is negative.
pub fn pay_line(
    charge: Decimal,
    own_allowed: Decimal,
    prior: PriorLine,
    sequestration_rate: Decimal,
    leftover: LeftoverShare,
    currency: Currency,
) -> CobLine {
    let charge = charge.max(Decimal::ZERO);
    let prior_paid = prior.paid.clamp(Decimal::ZERO, charge);
    let prior_pr = prior.patient_responsibility.clamp(Decimal::ZERO, charge - prior_paid);
    let room = (own_allowed - prior_paid).max(Decimal::ZERO);
    let payable = room.min(prior_pr);
    let sequestration = cents(payable * sequestration_rate);
    let paid = payable - sequestration;
    let uncovered = prior_pr - payable;
    let (patient_left, written_off) = match leftover {
        LeftoverShare::Patient => (uncovered, Decimal::ZERO),
        LeftoverShare::WriteOff => (Decimal::ZERO, uncovered),
    };
    let contractual = charge - prior_paid - prior_pr + written_off;
    let parts = [
        (AdjustmentGroup::OA, "23", prior_paid),
        (AdjustmentGroup::CO, "45", contractual),
        (AdjustmentGroup::PR, "2", patient_left),
        (AdjustmentGroup::CO, "253", sequestration),
    ];
    let adjustments = parts
        .iter()
        .filter(|(_, _, amount)| *amount > Decimal::ZERO)
        .map(|(group, reason, amount)| Adjustment {
            group: *group,
            reason: reason.to_string(),
            amount: Money::new(*amount, currency),
            quantity: None,
        })
        .collect();
    CobLine { allowed: own_allowed, paid, adjustments }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn find(line: &CobLine, group: AdjustmentGroup, reason: &str) -> Decimal {
        line.adjustments.iter().filter(|a| a.group == group && a.reason == reason).map(|a| a.amount.amount).sum()
    }

    fn balances(charge: Decimal, line: &CobLine) -> bool {
        charge == line.paid + line.adjustments.iter().map(|a| a.amount.amount).sum::<Decimal>()
    }

    #[test]
    fn medicaid_after_medicare_pays_the_coinsurance_up_to_its_own_allowed() {
        // Medicare allowed 100.00, paid 78.40 (80% less 2% sequestration), PR-2 20.00.
        let prior = PriorLine { paid: amount("78.40"), patient_responsibility: amount("20.00") };
        // Medicaid allows 90.00: room 11.60 < 20.00 coinsurance, so it pays 11.60.
        let line =
            pay_line(amount("150.00"), amount("90.00"), prior, Decimal::ZERO, LeftoverShare::WriteOff, Currency::USD);
        assert_eq!(line.paid, amount("11.60"));
        assert_eq!(find(&line, AdjustmentGroup::OA, "23"), amount("78.40"));
        // 150 − 78.40 − 20.00 = 51.60 contractual, plus the 8.40 of coinsurance Medicaid left unpaid.
        assert_eq!(find(&line, AdjustmentGroup::CO, "45"), amount("60.00"));
        assert_eq!(find(&line, AdjustmentGroup::PR, "2"), Decimal::ZERO);
        assert!(balances(amount("150.00"), &line));
    }

    #[test]
    fn a_generous_secondary_pays_the_whole_patient_share_and_a_stingy_one_leaves_it_to_the_patient() {
        let prior = PriorLine { paid: amount("80.00"), patient_responsibility: amount("20.00") };
        let full =
            pay_line(amount("120.00"), amount("130.00"), prior, Decimal::ZERO, LeftoverShare::Patient, Currency::USD);
        assert_eq!(full.paid, amount("20.00"));
        assert_eq!(find(&full, AdjustmentGroup::PR, "2"), Decimal::ZERO);
        assert_eq!(find(&full, AdjustmentGroup::CO, "45"), amount("20.00"));
        assert!(balances(amount("120.00"), &full));

        let none =
            pay_line(amount("120.00"), amount("75.00"), prior, Decimal::ZERO, LeftoverShare::Patient, Currency::USD);
        assert_eq!(none.paid, Decimal::ZERO);
        assert_eq!(find(&none, AdjustmentGroup::PR, "2"), amount("20.00"));
        assert_eq!(find(&none, AdjustmentGroup::OA, "23"), amount("80.00"));
        assert!(balances(amount("120.00"), &none));
    }

    #[test]
    fn sequestration_comes_out_of_the_secondary_payment() {
        let prior = PriorLine { paid: amount("50.00"), patient_responsibility: amount("33.33") };
        let line =
            pay_line(amount("100.00"), amount("100.00"), prior, amount("0.02"), LeftoverShare::Patient, Currency::USD);
        assert_eq!(find(&line, AdjustmentGroup::CO, "253"), amount("0.67"));
        assert_eq!(line.paid, amount("32.66"));
        assert!(balances(amount("100.00"), &line));
    }

    #[test]
    fn prior_amounts_beyond_the_charge_are_clamped() {
        let prior = PriorLine { paid: amount("500.00"), patient_responsibility: amount("-3.00") };
        let line =
            pay_line(amount("100.00"), amount("100.00"), prior, Decimal::ZERO, LeftoverShare::Patient, Currency::USD);
        assert_eq!(line.paid, Decimal::ZERO);
        assert_eq!(find(&line, AdjustmentGroup::OA, "23"), amount("100.00"));
        assert!(balances(amount("100.00"), &line));
    }
}
