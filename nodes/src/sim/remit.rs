//! The CLP loops the simulator sends: an adjudication as an 835 claim payment, its reversal,
//! and the corrected decision that follows a reversal.

use super::adjudicate::{Adjudication, LineOutcome};
use super::profile::cents;
use practice_actors::ingest::remit::{RemitClaim, RemitLine};
use practice_protocol::claim::Adjustment;
use practice_protocol::{Currency, Money};
use rust_decimal::Decimal;

/// The corrected decision after a reversal: an underpaid line is repaid at contract; with no
/// underpayment, the payer finds it overpaid the first paid line by 10% of its allowed amount
/// and takes that back as more contractual write-down. Patient share stays as it was; lines
/// paid by COB (bounded by the prior payers' patient share) are not touched.
pub(crate) fn correct(adjudication: &Adjudication, currency: Currency) -> Adjudication {
    let mut corrected = adjudication.clone();
    let any_underpaid = corrected.lines.iter().any(|line| line.underpaid() > Decimal::ZERO);
    let mut changed_one = false;
    let correctable =
        |line: &&mut LineOutcome| line.denial.is_none() && line.paid > Decimal::ZERO && line.prior.is_none();
    for line in corrected.lines.iter_mut().filter(correctable) {
        let delta = if any_underpaid {
            line.underpaid()
        } else if !changed_one {
            -cents(line.allowed * Decimal::new(10, 2)).min(line.paid)
        } else {
            Decimal::ZERO
        };
        if delta.is_zero() {
            continue;
        }
        changed_one = true;
        if any_underpaid {
            line.paid_procedure = line.submitted_procedure.clone();
        }
        line.allowed += delta;
        line.paid += delta;
        rebalance_contractual(line, currency);
    }
    corrected
}

/// Set CO-45 so the line balances again: charge = paid + Σ adjustments.
fn rebalance_contractual(line: &mut LineOutcome, currency: Currency) {
    line.adjustments.retain(|adjustment| !(adjustment.group.as_str() == "CO" && adjustment.reason == "45"));
    let others: Decimal = line.adjustments.iter().map(|adjustment| adjustment.amount.amount).sum();
    let contractual = line.charge - line.paid - others;
    if contractual != Decimal::ZERO {
        line.adjustments.insert(
            0,
            Adjustment {
                group: practice_protocol::claim::AdjustmentGroup::CO,
                reason: "45".into(),
                amount: Money::new(contractual, currency),
                quantity: None,
            },
        );
    }
}

/// The 835 CLP loop for an adjudication; `sign` −1 with status "22" makes its reversal.
pub(crate) fn remit_claim(
    adjudication: &Adjudication,
    currency: Currency,
    sign: Decimal,
    status: Option<&str>,
) -> RemitClaim {
    let money = |amount: Decimal| Money::new(amount * sign, currency);
    let lines = adjudication
        .lines
        .iter()
        .map(|line| {
            let rewritten = line.paid_procedure != line.submitted_procedure;
            RemitLine {
                procedure: line.paid_procedure.clone(),
                modifiers: line.paid_modifiers.clone(),
                submitted_procedure: rewritten.then(|| line.submitted_procedure.clone()),
                submitted_modifiers: if rewritten { line.submitted_modifiers.clone() } else { Vec::new() },
                charge: money(line.charge),
                paid: money(line.paid),
                units: Some(line.units),
                service_date: Some(line.service_date),
                line_control_number: (!line.omit_line_control).then(|| line.line_id.to_string()),
                allowed: line.denial.is_none().then(|| money(line.allowed)),
                adjustments: line
                    .adjustments
                    .iter()
                    .map(|adjustment| Adjustment { amount: money(adjustment.amount.amount), ..adjustment.clone() })
                    .collect(),
                remark_codes: line.remark_codes.clone(),
            }
        })
        .collect();
    RemitClaim {
        patient_control_number: adjudication.patient_control_number.clone(),
        status_code: status.unwrap_or(&adjudication.status_code).to_string(),
        charge: money(adjudication.charge()),
        paid: money(adjudication.paid()),
        patient_responsibility: Some(money(adjudication.patient_responsibility())),
        payer_claim_control_number: Some(adjudication.payer_claim_control_number.clone()),
        adjustments: Vec::new(),
        remark_codes: Vec::new(),
        lines,
    }
}
