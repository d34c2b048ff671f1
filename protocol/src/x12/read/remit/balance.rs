//! The 835 balance rules: a remittance balances when BPR02 = ΣCLP04 − ΣPLB, every claim's
//! charge minus payment equals its adjustments, and (when it has lines) its lines' payments
//! minus claim-level adjustments equal the claim payment; each line's charge minus payment
//! equals its adjustments.

use super::model::{Adjustment, ClaimPayment, ServicePayment};
use crate::x12::diagnostic::{Diagnostic, DiagnosticKind, Position};
use rust_decimal::Decimal;

fn sum(adjustments: &[Adjustment]) -> Decimal {
    adjustments.iter().map(|adjustment| adjustment.amount).sum()
}

/// Checks one service line; sets `service.balanced` and returns its adjustments' sum.
fn check_service(service: &mut ServicePayment) -> Decimal {
    let adjusted = sum(&service.adjustments);
    service.balanced = service.charge - service.paid == adjusted;
    adjusted
}

/// Checks one claim and its lines (lines first); sets `claim.balanced` and reports each
/// failed rule at the CLP segment.
pub(crate) fn check_claim(claim: &mut ClaimPayment, at: impl Fn() -> Position, diagnostics: &mut Vec<Diagnostic>) {
    let mut balanced = true;
    let mut line_adjustments = Decimal::ZERO;
    let mut line_paid = Decimal::ZERO;
    for (index, service) in claim.services.iter_mut().enumerate() {
        let adjusted = check_service(service);
        if !service.balanced {
            balanced = false;
            diagnostics.push(unbalanced(
                &at(),
                format!("claim {} line {}: SVC02 − SVC03 = line CAS", claim.patient_control_number, index + 1),
                service.charge - service.paid,
                adjusted,
            ));
        }
        line_adjustments += adjusted;
        line_paid += service.paid;
    }
    let claim_adjustments = sum(&claim.adjustments);
    let all_adjustments = claim_adjustments + line_adjustments;
    if claim.charge - claim.paid != all_adjustments {
        balanced = false;
        diagnostics.push(unbalanced(
            &at(),
            format!("claim {}: CLP03 − CLP04 = claim and line CAS", claim.patient_control_number),
            claim.charge - claim.paid,
            all_adjustments,
        ));
    }
    if !claim.services.is_empty() && line_paid - claim_adjustments != claim.paid {
        balanced = false;
        diagnostics.push(unbalanced(
            &at(),
            format!("claim {}: ΣSVC03 − claim CAS = CLP04", claim.patient_control_number),
            claim.paid,
            line_paid - claim_adjustments,
        ));
    }
    claim.balanced = balanced;
}

pub(crate) fn unbalanced(at: &Position, what: String, expected: Decimal, found: Decimal) -> Diagnostic {
    Diagnostic::error(
        at.clone(),
        DiagnosticKind::Unbalanced { what, expected: expected.to_string(), found: found.to_string() },
    )
}
