//! Coordination of benefits: when the primary's remittance posts, the secondary's claim is
//! built from it — same services, billed to the next coverage, carrying the prior payer's
//! adjudication (loops 2320/2330 and 2430 of the 837) so the next payer pays only its part.

use practice_protocol::claim::{Adjustment, RemittancePosting};
use practice_protocol::domain::encounter::patient_control_number;
use practice_protocol::domain::{Claim, ClaimFrequency, PriorAdjudication, PriorLineAdjudication};
use practice_protocol::ids::{ClaimId, ClaimLineId};
use practice_protocol::{Money, ValidationError};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CobError {
    #[error("no remittance from the {0:?} payer to coordinate")]
    NoRemittance(practice_protocol::domain::CoverageOrder),
    #[error("the claim bills no coverage of its own responsibility")]
    NoCoverage,
    #[error("the next payer's claim is invalid: {0:?}")]
    Invalid(Vec<ValidationError>),
}

/// Net adjustments by (group, reason): a reversal and its correction leave only the corrected
/// amounts, and zero sums disappear.
fn net(adjustments: impl IntoIterator<Item = Adjustment>) -> Vec<Adjustment> {
    let mut sums: BTreeMap<
        (practice_protocol::claim::AdjustmentGroup, String),
        (Money, Option<rust_decimal::Decimal>),
    > = BTreeMap::new();
    for adjustment in adjustments {
        let entry = sums
            .entry((adjustment.group, adjustment.reason.clone()))
            .or_insert((Money::zero(adjustment.amount.currency), None));
        entry.0 = Money::new(entry.0.amount + adjustment.amount.amount, entry.0.currency);
        entry.1 = adjustment.quantity.or(entry.1);
    }
    sums.into_iter()
        .filter(|(_, (amount, _))| !amount.is_zero())
        .map(|((group, reason), (amount, quantity))| Adjustment { group, reason, amount, quantity })
        .collect()
}

/// The claim for the payer after `claim`'s, or `None` when `claim` bills the last coverage.
/// `postings` are everything the current payer sent for `claim` (originals, reversals,
/// corrections), in order.
pub fn next_payer_claim(claim: &Claim, postings: &[RemittancePosting]) -> Result<Option<Claim>, CobError> {
    let Some(next_order) = claim.responsibility.next() else { return Ok(None) };
    if !claim.coverages.iter().any(|coverage| coverage.order == next_order) {
        return Ok(None);
    }
    let current = claim.coverage().ok_or(CobError::NoCoverage)?;
    let last = postings.last().ok_or(CobError::NoRemittance(claim.responsibility))?;
    let paid = postings
        .iter()
        .fold(Money::zero(claim.currency), |sum, posting| Money::new(sum.amount + posting.paid.amount, claim.currency));
    let lines = claim
        .lines
        .iter()
        .map(|line| {
            let postings_of_line = postings
                .iter()
                .flat_map(|posting| posting.lines.iter())
                .filter(|posted| posted.line_number == line.line_number);
            let paid = postings_of_line.clone().fold(Money::zero(claim.currency), |sum, posted| {
                Money::new(sum.amount + posted.paid.amount, claim.currency)
            });
            PriorLineAdjudication {
                line_number: line.line_number,
                procedure: line.procedure.clone(),
                paid,
                adjustments: net(postings_of_line.flat_map(|posted| posted.adjustments.iter().cloned())),
            }
        })
        .collect();
    let adjudication = PriorAdjudication {
        order: claim.responsibility,
        payer: current.payer.clone(),
        subscriber: current.subscriber.clone(),
        relationship: current.relationship,
        paid,
        adjudicated_on: last.paid_on,
        claim_adjustments: net(postings.iter().flat_map(|posting| posting.claim_adjustments.iter().cloned())),
        lines,
    };
    let id = ClaimId::derived(&[claim.id.0.as_bytes(), next_order_tag(next_order)]);
    let mut next = claim.clone();
    next.id = id;
    next.responsibility = next_order;
    next.frequency = ClaimFrequency::Original;
    next.original_reference = None;
    next.patient_control_number = patient_control_number(&id).into();
    for line in &mut next.lines {
        line.id = ClaimLineId::derived(&[id.0.as_bytes(), &line.line_number.to_be_bytes()]);
    }
    next.prior_adjudications.push(adjudication);
    next.validate().map_err(CobError::Invalid)?;
    Ok(Some(next))
}

fn next_order_tag(order: practice_protocol::domain::CoverageOrder) -> &'static [u8] {
    match order {
        practice_protocol::domain::CoverageOrder::Primary => b"primary",
        practice_protocol::domain::CoverageOrder::Secondary => b"secondary",
        practice_protocol::domain::CoverageOrder::Tertiary => b"tertiary",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;
    use practice_protocol::claim::{AdjustmentGroup, LinePosting, PostingKind};
    use practice_protocol::domain::{CoverageOrder, PaymentMethod};
    use practice_protocol::fixtures;
    use practice_protocol::ids::{OrgId, PaymentId};
    use rust_decimal::Decimal;

    fn usd(cents: i64) -> Money {
        Money::usd(Decimal::new(cents, 2))
    }

    fn adjustment(group: AdjustmentGroup, reason: &str, cents: i64) -> Adjustment {
        Adjustment { group, reason: reason.into(), amount: usd(cents), quantity: None }
    }

    pub(crate) fn primary_with_secondary() -> Claim {
        let mut claim = fixtures::office_visit_claim(OrgId::derived(&[b"cob"]), 7);
        let secondary = fixtures::coverage(
            CoverageOrder::Secondary,
            fixtures::payer("SKCO0", "Medicaid Secondary", "MC"),
            &claim.patient,
            "MCD0000007",
        );
        claim.coverages.push(secondary);
        claim
    }

    fn posting(kind: PostingKind, sign: i64, tag: &str) -> RemittancePosting {
        RemittancePosting {
            payment_id: PaymentId::derived(&[tag.as_bytes()]),
            kind,
            payer_name: "Acme Health Plan".into(),
            method: PaymentMethod::Eft,
            era_trace_number: Some("TRN1".into()),
            payer_claim_control_number: Some("PCCN1".into()),
            claim_status_code: if sign < 0 { "22".into() } else { "1".into() },
            paid: usd(sign * 9000),
            claim_adjustments: vec![],
            lines: vec![
                LinePosting {
                    line_number: 1,
                    paid: usd(sign * 6000),
                    charge: usd(15000),
                    allowed: None,
                    adjustments: vec![
                        adjustment(AdjustmentGroup::CO, "45", sign * 7000),
                        adjustment(AdjustmentGroup::PR, "2", sign * 2000),
                    ],
                    remark_codes: vec![],
                },
                LinePosting {
                    line_number: 2,
                    paid: usd(sign * 3000),
                    charge: usd(4500),
                    allowed: None,
                    adjustments: vec![adjustment(AdjustmentGroup::CO, "45", sign * 1500)],
                    remark_codes: vec![],
                },
            ],
            remark_codes: vec![],
            paid_on: NaiveDate::from_ymd_opt(2026, 11, 2).unwrap(),
        }
    }

    #[test]
    fn the_secondary_claim_carries_the_primary_adjudication() {
        let primary = primary_with_secondary();
        let secondary = next_payer_claim(&primary, &[posting(PostingKind::Original, 1, "a")]).unwrap().unwrap();
        assert_eq!(secondary.responsibility, CoverageOrder::Secondary);
        assert_ne!(secondary.id, primary.id);
        assert_eq!(secondary.coverage().unwrap().payer.payer_id.as_str(), "SKCO0");
        let prior = &secondary.prior_adjudications[0];
        assert_eq!(prior.order, CoverageOrder::Primary);
        assert_eq!(prior.paid, usd(9000));
        assert_eq!(prior.lines[0].paid, usd(6000));
        assert_eq!(prior.lines[0].adjustments.len(), 2);
        // The primary's claim-level view: paid + adjustments = charge.
        let adjusted: Decimal = prior
            .lines
            .iter()
            .flat_map(|line| line.adjustments.iter())
            .map(|adjustment| adjustment.amount.amount)
            .sum();
        assert_eq!(prior.paid.amount + adjusted, primary.total_charge().amount);
        // Deterministic: the same posting names the same secondary claim.
        let again = next_payer_claim(&primary, &[posting(PostingKind::Original, 1, "a")]).unwrap().unwrap();
        assert_eq!(again, secondary);
    }

    #[test]
    fn a_reversal_and_correction_net_out() {
        let primary = primary_with_secondary();
        let postings = [
            posting(PostingKind::Original, 1, "a"),
            posting(PostingKind::Reversal, -1, "b"),
            posting(PostingKind::Correction, 1, "c"),
        ];
        let secondary = next_payer_claim(&primary, &postings).unwrap().unwrap();
        let prior = &secondary.prior_adjudications[0];
        assert_eq!(prior.paid, usd(9000));
        assert_eq!(prior.lines[1].adjustments, vec![adjustment(AdjustmentGroup::CO, "45", 1500)]);
    }

    #[test]
    fn the_last_coverage_has_no_next_claim_and_no_posting_is_an_error() {
        let single = fixtures::office_visit_claim(OrgId::derived(&[b"cob"]), 8);
        assert_eq!(next_payer_claim(&single, &[posting(PostingKind::Original, 1, "a")]), Ok(None));
        assert_eq!(
            next_payer_claim(&primary_with_secondary(), &[]),
            Err(CobError::NoRemittance(CoverageOrder::Primary))
        );
    }
}
