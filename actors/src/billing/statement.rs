//! Patient statements: each patient's responsibility across all their claims (from the claim
//! ledgers), less what the patient already paid, applied oldest service first.

use super::BillingError;
use chrono::{DateTime, NaiveDate, Utc};
use practice_protocol::claim::ClaimState;
use practice_protocol::domain::{AuditColumns, PatientStatement};
use practice_protocol::ids::{ClaimId, OrgId, PatientId, PaymentId, StatementId, UserId};
use practice_protocol::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one claim leaves the patient to pay (PR-1/2/3 and other PR adjustments).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientCharge {
    pub claim_id: ClaimId,
    pub patient_id: PatientId,
    pub service_date: NaiveDate,
    pub responsibility: Money,
}

/// A payment from the patient (portal, front desk, mail). Not tied to a claim: statements
/// apply it oldest service first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientPayment {
    pub id: PaymentId,
    pub patient_id: PatientId,
    pub amount: Money,
    pub received_on: NaiveDate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    pub claim_id: ClaimId,
    pub service_date: NaiveDate,
    pub responsibility: Money,
    pub paid: Money,
    pub due: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementDraft {
    pub statement: PatientStatement,
    /// One line per claim with money still due, oldest service first.
    pub lines: Vec<StatementLine>,
}

/// One patient's balance after applying their payments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientBalance {
    pub patient_id: PatientId,
    pub lines: Vec<StatementLine>,
    pub due: Money,
    /// Paid beyond everything owed: a credit to refund or hold.
    pub credit: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementRun {
    pub statements: Vec<StatementDraft>,
    /// Patients whose payments exceed their responsibility.
    pub credits: Vec<(PatientId, Money)>,
}

/// The patient responsibility of each claim that has any, in `currency`.
pub fn patient_charges<'a>(
    states: impl IntoIterator<Item = &'a ClaimState>,
    currency: Currency,
) -> Result<Vec<PatientCharge>, BillingError> {
    let mut charges = Vec::new();
    for state in states {
        let (Some(claim), Some(ledger)) = (state.claim.as_ref(), state.ledger.as_ref()) else {
            continue;
        };
        if ledger.currency != currency {
            return Err(BillingError::Currency {
                what: format!("claim {}", claim.id),
                expected: currency,
                found: ledger.currency,
            });
        }
        let responsibility = ledger.totals.patient_responsibility;
        if responsibility <= Decimal::ZERO {
            continue;
        }
        let service_date = claim.lines.iter().map(|line| line.service_date).min().unwrap_or(NaiveDate::MIN);
        charges.push(PatientCharge {
            claim_id: claim.id,
            patient_id: claim.patient.id,
            service_date,
            responsibility: Money::new(responsibility, currency),
        });
    }
    Ok(charges)
}

/// Every patient's balance: payments applied to their charges oldest service first (ties by
/// claim id, so the result does not depend on input order).
pub fn patient_balances(
    charges: &[PatientCharge],
    payments: &[PatientPayment],
    currency: Currency,
) -> Result<Vec<PatientBalance>, BillingError> {
    let mut by_patient: BTreeMap<PatientId, (Vec<&PatientCharge>, Decimal)> = BTreeMap::new();
    for charge in charges {
        same_currency(&charge.responsibility, currency, || format!("charge of claim {}", charge.claim_id))?;
        by_patient.entry(charge.patient_id).or_default().0.push(charge);
    }
    for payment in payments {
        same_currency(&payment.amount, currency, || format!("patient payment {}", payment.id))?;
        if payment.amount.is_negative() {
            return Err(BillingError::Invalid {
                field: format!("payments[{}].amount", payment.id),
                message: "a patient payment cannot be negative (record a refund instead)".into(),
            });
        }
        by_patient.entry(payment.patient_id).or_default().1 += payment.amount.amount;
    }
    let mut balances = Vec::with_capacity(by_patient.len());
    for (patient_id, (mut charges, mut unapplied)) in by_patient {
        charges.sort_by_key(|charge| (charge.service_date, charge.claim_id));
        let mut lines = Vec::with_capacity(charges.len());
        let mut due = Decimal::ZERO;
        for charge in charges {
            let owed = charge.responsibility.amount;
            let paid = owed.min(unapplied);
            unapplied -= paid;
            due += owed - paid;
            lines.push(StatementLine {
                claim_id: charge.claim_id,
                service_date: charge.service_date,
                responsibility: charge.responsibility,
                paid: Money::new(paid, currency),
                due: Money::new(owed - paid, currency),
            });
        }
        balances.push(PatientBalance {
            patient_id,
            lines,
            due: Money::new(due, currency),
            credit: Money::new(unapplied, currency),
        });
    }
    Ok(balances)
}

/// Statements for every patient who owes something. The statement id is derived from the
/// organization, patient and statement date, so a rerun on the same day names the same
/// statements.
pub fn build_statements(
    org: OrgId,
    charges: &[PatientCharge],
    payments: &[PatientPayment],
    currency: Currency,
    statement_date: DateTime<Utc>,
    by: UserId,
) -> Result<StatementRun, BillingError> {
    let mut run = StatementRun { statements: Vec::new(), credits: Vec::new() };
    let day = statement_date.date_naive().to_string();
    for balance in patient_balances(charges, payments, currency)? {
        if balance.credit.amount > Decimal::ZERO {
            run.credits.push((balance.patient_id, balance.credit));
        }
        if balance.due.amount <= Decimal::ZERO {
            continue;
        }
        let lines: Vec<StatementLine> =
            balance.lines.into_iter().filter(|line| line.due.amount > Decimal::ZERO).collect();
        let statement = PatientStatement {
            id: StatementId::derived(&[org.0.as_bytes(), balance.patient_id.0.as_bytes(), day.as_bytes()]),
            org,
            patient_id: balance.patient_id,
            total_due: balance.due,
            statement_date,
            claims: lines.iter().map(|line| line.claim_id).collect(),
            payment_plan_id: None,
            is_paid: false,
            audit: AuditColumns::created(by, statement_date),
        };
        run.statements.push(StatementDraft { statement, lines });
    }
    Ok(run)
}

fn same_currency(money: &Money, currency: Currency, what: impl FnOnce() -> String) -> Result<(), BillingError> {
    if money.currency != currency {
        return Err(BillingError::Currency { what: what(), expected: currency, found: money.currency });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use chrono::TimeZone;
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn patient(n: u8) -> PatientId {
        PatientId::derived(&[&[n]])
    }

    fn charge(n: u8, patient_n: u8, day: u32, amount: Decimal) -> PatientCharge {
        PatientCharge {
            claim_id: ClaimId::derived(&[&[n]]),
            patient_id: patient(patient_n),
            service_date: fixture::date(2026, 1, day),
            responsibility: Money::usd(amount),
        }
    }

    fn payment(n: u8, patient_n: u8, amount: Decimal) -> PatientPayment {
        PatientPayment {
            id: PaymentId::derived(&[&[n]]),
            patient_id: patient(patient_n),
            amount: Money::usd(amount),
            received_on: fixture::date(2026, 2, 1),
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 15, 12, 0, 0).unwrap()
    }

    #[test]
    fn consolidates_across_claims_and_applies_payments_oldest_first() {
        let charges = [charge(1, 1, 20, dec!(40.00)), charge(2, 1, 5, dec!(25.50)), charge(3, 2, 9, dec!(10))];
        let payments = [payment(1, 1, dec!(30.00))];
        let run = build_statements(
            OrgId::derived(&[b"o"]),
            &charges,
            &payments,
            Currency::USD,
            now(),
            UserId::derived(&[b"u"]),
        )
        .unwrap();
        assert_eq!(run.statements.len(), 2);
        let first = run.statements.iter().find(|s| s.statement.patient_id == patient(1)).unwrap();
        assert_eq!(first.statement.total_due.amount, dec!(35.50));
        // The Jan 5 claim is paid off first and drops from the statement.
        assert_eq!(first.lines.len(), 1);
        assert_eq!(first.lines[0].claim_id, ClaimId::derived(&[&[1]]));
        assert_eq!((first.lines[0].paid.amount, first.lines[0].due.amount), (dec!(4.50), dec!(35.50)));
        assert!(run.credits.is_empty());
        // Same inputs, same day: same statement ids.
        let again = build_statements(
            OrgId::derived(&[b"o"]),
            &charges,
            &payments,
            Currency::USD,
            now(),
            UserId::derived(&[b"u"]),
        )
        .unwrap();
        assert_eq!(again.statements[0].statement.id, run.statements[0].statement.id);
    }

    #[test]
    fn overpayment_is_a_credit_not_a_statement() {
        let run = build_statements(
            OrgId::derived(&[b"o"]),
            &[charge(1, 1, 2, dec!(20))],
            &[payment(1, 1, dec!(25)), payment(2, 3, dec!(5))],
            Currency::USD,
            now(),
            UserId::derived(&[b"u"]),
        )
        .unwrap();
        assert!(run.statements.is_empty());
        let mut expected = vec![(patient(1), Money::usd(dec!(5))), (patient(3), Money::usd(dec!(5)))];
        expected.sort_by_key(|(id, _)| *id);
        assert_eq!(run.credits, expected);
    }

    #[test]
    fn refuses_other_currencies_and_negative_payments() {
        let eur = Currency::parse("EUR").unwrap();
        let mut bad = charge(1, 1, 2, dec!(20));
        bad.responsibility.currency = eur;
        assert!(matches!(patient_balances(&[bad], &[], Currency::USD), Err(BillingError::Currency { .. })));
        assert!(matches!(
            patient_balances(&[], &[payment(1, 1, dec!(-1))], Currency::USD),
            Err(BillingError::Invalid { .. })
        ));
    }

    #[test]
    fn charges_come_from_claim_ledgers() {
        use practice_protocol::claim::{
            Adjustment, AdjustmentGroup, ClaimEvent, LinePosting, PostingKind, RemittancePosting,
        };
        use practice_protocol::domain::PaymentMethod;
        let claim = fixture::claim();
        let mut state = ClaimState::default();
        state.apply(&ClaimEvent::Created { claim: Box::new(claim.clone()) });
        let pr = |reason: &str, amount| Adjustment {
            group: AdjustmentGroup::PR,
            reason: reason.into(),
            amount: Money::usd(amount),
            quantity: None,
        };
        let posting = RemittancePosting {
            payment_id: PaymentId::derived(&[b"p"]),
            kind: PostingKind::Original,
            payer_name: "x".into(),
            method: PaymentMethod::Eft,
            era_trace_number: None,
            payer_claim_control_number: None,
            claim_status_code: "1".into(),
            paid: Money::usd(dec!(100)),
            claim_adjustments: vec![],
            lines: vec![LinePosting {
                line_number: 1,
                paid: Money::usd(dec!(100)),
                charge: Money::usd(dec!(150)),
                allowed: None,
                adjustments: vec![pr("2", dec!(20)), pr("3", dec!(30))],
                remark_codes: vec![],
            }],
            remark_codes: vec![],
            paid_on: fixture::date(2026, 3, 20),
        };
        state.apply(&ClaimEvent::RemittancePosted { posting: Box::new(posting) });
        let charges = patient_charges([&state], Currency::USD).unwrap();
        assert_eq!(charges.len(), 1);
        assert_eq!(charges[0].responsibility.amount, dec!(50));
        assert_eq!(charges[0].patient_id, claim.patient.id);
    }

    proptest! {
        #[test]
        fn money_is_conserved(
            amounts in proptest::collection::vec((0u8..4, 1u32..28, 1i64..100_000), 0..12),
            paid in proptest::collection::vec((0u8..4, 0i64..100_000), 0..6),
        ) {
            let charges: Vec<PatientCharge> = amounts.iter().enumerate()
                .map(|(i, (p, d, cents))| charge(i as u8, *p, *d, Decimal::new(*cents, 2))).collect();
            let payments: Vec<PatientPayment> = paid.iter().enumerate()
                .map(|(i, (p, cents))| payment(i as u8, *p, Decimal::new(*cents, 2))).collect();
            let balances = patient_balances(&charges, &payments, Currency::USD).unwrap();
            let owed: Decimal = charges.iter().map(|c| c.responsibility.amount).sum();
            let received: Decimal = payments.iter().map(|p| p.amount.amount).sum();
            let due: Decimal = balances.iter().map(|b| b.due.amount).sum();
            let credit: Decimal = balances.iter().map(|b| b.credit.amount).sum();
            prop_assert_eq!(owed - received, due - credit);
            for balance in &balances {
                prop_assert!(balance.due.amount.is_zero() || balance.credit.amount.is_zero());
                let lines_due: Decimal = balance.lines.iter().map(|l| l.due.amount).sum();
                prop_assert_eq!(lines_due, balance.due.amount);
            }
        }
    }
}
