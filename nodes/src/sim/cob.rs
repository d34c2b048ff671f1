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
    use crate::sim::adjudicate::{adjudicate, Circumstances};
    use crate::sim::generate::{sample_claim, ClaimShape};
    use crate::sim::profile::{DenialCause, PayerKind, PayerProfile, Rate};
    use crate::sim::rng::SimRng;
    use practice_protocol::domain::CoverageOrder;
    use practice_protocol::ids::PayerId;

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

    #[test]
    fn a_medicaid_secondary_pays_what_medicare_left_up_to_its_own_allowed() {
        use practice_protocol::domain::{PriorAdjudication, PriorLineAdjudication};
        let mut profile = PayerProfile::new(PayerId::parse("P1").unwrap(), "Payer One", PayerKind::MedicaidFfs);
        profile.params.p_claim_denied = Rate::ZERO;
        let mut claim = sample_claim(&ClaimShape::office_visit("99213", Decimal::new(15000, 2)), 4).unwrap();
        let own_allowed = profile.fees.allowed("99213", &[], Decimal::ONE, Decimal::new(15000, 2));
        claim.responsibility = CoverageOrder::Secondary;
        let result = adjudicate(
            &claim,
            &profile,
            &mut SimRng::new(5),
            Circumstances { received_on: claim.lines[0].service_date + chrono::Duration::days(2), duplicate: false },
            "C".into(),
        );
        assert_eq!(result.denial, Some(DenialCause::CobTpl), "no primary EOB: CO-22");
        assert_eq!(result.lines[0].adjustments[0].reason, "22");

        // Medicare paid 32.93 and left 58.40 to the patient (deductible 50.00 + coinsurance 8.40).
        let coverage = claim.coverages[0].clone();
        let usd = |cents_: i64| Money::new(Decimal::new(cents_, 2), claim.currency);
        let pr = |reason: &str, cents_: i64| Adjustment {
            group: AdjustmentGroup::PR,
            reason: reason.into(),
            amount: usd(cents_),
            quantity: None,
        };
        claim.prior_adjudications = vec![PriorAdjudication {
            order: CoverageOrder::Primary,
            payer: coverage.payer,
            subscriber: coverage.subscriber,
            relationship: coverage.relationship,
            paid: usd(3293),
            adjudicated_on: claim.lines[0].service_date,
            claim_adjustments: Vec::new(),
            lines: vec![PriorLineAdjudication {
                line_number: 1,
                procedure: claim.lines[0].procedure.clone(),
                paid: usd(3293),
                adjustments: vec![
                    Adjustment { group: AdjustmentGroup::CO, reason: "45".into(), amount: usd(5800), quantity: None },
                    pr("1", 5000),
                    pr("2", 840),
                    Adjustment { group: AdjustmentGroup::CO, reason: "253".into(), amount: usd(67), quantity: None },
                ],
            }],
        }];
        let result = adjudicate(
            &claim,
            &profile,
            &mut SimRng::new(5),
            Circumstances { received_on: claim.lines[0].service_date + chrono::Duration::days(2), duplicate: false },
            "C".into(),
        );
        let line = &result.lines[0];
        let expected = (own_allowed - Decimal::new(3293, 2)).max(Decimal::ZERO).min(Decimal::new(5840, 2));
        assert_eq!(line.paid, expected);
        assert_eq!(line.prior.map(|prior| prior.patient_responsibility), Some(Decimal::new(5840, 2)));
        let oa23: Vec<_> = line.adjustments.iter().filter(|a| a.group == AdjustmentGroup::OA).collect();
        assert_eq!((oa23[0].reason.as_str(), oa23[0].amount.amount), ("23", Decimal::new(3293, 2)));
        assert_eq!(line.patient_responsibility(), Decimal::ZERO, "Medicaid: no balance billing");
        assert_eq!(result.status_code, "2");
        assert!(result.lines.iter().all(|line| {
            line.charge == line.paid + line.adjustments.iter().map(|a| a.amount.amount).sum::<Decimal>()
        }));
    }
}
