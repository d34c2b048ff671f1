//! Payment plans: a statement's balance in monthly installments (`PaymentPlan::monthly`),
//! payments applied to the oldest unpaid installment first, and the plan's standing (overdue
//! installments, default after too many missed).

use super::BillingError;
use chrono::NaiveDate;
use practice_protocol::domain::{PatientStatement, PaymentPlan};
use practice_protocol::ids::{InstallmentId, PaymentPlanId};
use practice_protocol::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A plan for the whole of `statement`'s balance. The plan id is derived from the statement,
/// the count and the first due date, so the same request twice is one plan.
pub fn create_plan(
    statement: &PatientStatement,
    count: u32,
    first_due: NaiveDate,
) -> Result<PaymentPlan, BillingError> {
    let id =
        PaymentPlanId::derived(&[statement.id.0.as_bytes(), &count.to_be_bytes(), first_due.to_string().as_bytes()]);
    PaymentPlan::monthly(id, statement.id, statement.total_due, count, first_due)
        .map_err(|error| BillingError::Invalid { field: error.field.clone(), message: error.kind.to_string() })
}

/// Apply a payment to the installments in due-date order; returns what is left over when the
/// plan is paid off (a credit for the caller to hold or refund).
pub fn apply_payment(plan: &mut PaymentPlan, amount: Money) -> Result<Money, BillingError> {
    let currency = plan.installments.first().map(|installment| installment.amount.currency).unwrap_or(amount.currency);
    if amount.currency != currency {
        return Err(BillingError::Currency { what: "plan payment".into(), expected: currency, found: amount.currency });
    }
    if amount.amount <= Decimal::ZERO {
        return Err(BillingError::Invalid {
            field: "amount".into(),
            message: format!("a plan payment must be greater than zero, found {}", amount.amount),
        });
    }
    let left = plan.apply(amount.amount);
    Ok(Money::new(left, currency))
}

/// Where a plan stands on a given day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStatus {
    pub total: Money,
    pub paid: Money,
    pub remaining: Money,
    /// Installments due on or before the day and not fully paid, oldest first.
    pub overdue: Vec<InstallmentId>,
    pub overdue_amount: Money,
    /// Days since the oldest overdue installment fell due (0 when none is overdue).
    pub days_past_due: i64,
    /// The next installment not yet due, with what is still owed on it.
    pub next_due: Option<(NaiveDate, Money)>,
    pub complete: bool,
    /// At least `missed_for_default` installments are overdue: the plan is in default.
    pub in_default: bool,
}

pub fn plan_status(plan: &PaymentPlan, today: NaiveDate, missed_for_default: usize) -> PlanStatus {
    let currency = plan.installments.first().map(|installment| installment.amount.currency).unwrap_or(Currency::USD);
    // Whole cents as written (an empty sum is "0.00", not "0").
    let money = |amount: Decimal| Money::new(practice_protocol::money::at_least_cents(amount), currency);
    let total = plan.total();
    let paid: Decimal = plan.installments.iter().map(|installment| installment.paid.amount).sum();
    let mut overdue: Vec<_> = plan.overdue(today).collect();
    overdue.sort_by_key(|installment| installment.due_date);
    let overdue_amount: Decimal =
        overdue.iter().map(|installment| installment.amount.amount - installment.paid.amount).sum();
    let days_past_due = overdue.first().map(|installment| (today - installment.due_date).num_days()).unwrap_or(0);
    let next_due = plan
        .installments
        .iter()
        .filter(|installment| installment.due_date > today && !installment.is_paid())
        .min_by_key(|installment| installment.due_date)
        .map(|installment| (installment.due_date, money(installment.amount.amount - installment.paid.amount)));
    PlanStatus {
        total: money(total),
        paid: money(paid),
        remaining: money((total - paid).max(Decimal::ZERO)),
        overdue: overdue.iter().map(|installment| installment.id).collect(),
        overdue_amount: money(overdue_amount),
        days_past_due,
        next_due,
        complete: plan.installments.iter().all(|installment| installment.is_paid()),
        in_default: missed_for_default > 0 && overdue.len() >= missed_for_default,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;
    use chrono::{TimeZone, Utc};
    use practice_protocol::domain::AuditColumns;
    use practice_protocol::ids::{OrgId, PatientId, StatementId, UserId};
    use proptest::prelude::*;
    use rust_decimal_macros::dec;

    fn statement(total: Decimal) -> PatientStatement {
        let at = Utc.with_ymd_and_hms(2026, 1, 2, 0, 0, 0).unwrap();
        PatientStatement {
            id: StatementId::derived(&[b"s"]),
            org: OrgId::derived(&[b"o"]),
            patient_id: PatientId::derived(&[b"p"]),
            total_due: Money::usd(total),
            statement_date: at,
            claims: vec![],
            payment_plan_id: None,
            is_paid: false,
            audit: AuditColumns::created(UserId::derived(&[b"u"]), at),
        }
    }

    #[test]
    fn installments_track_payments_oldest_first() {
        let mut plan = create_plan(&statement(dec!(100.00)), 3, fixture::date(2026, 2, 1)).unwrap();
        assert_eq!(plan.id, create_plan(&statement(dec!(100.00)), 3, fixture::date(2026, 2, 1)).unwrap().id);
        // 33.34 / 33.33 / 33.33; a 40.00 payment clears the first and starts the second.
        assert_eq!(apply_payment(&mut plan, Money::usd(dec!(40.00))).unwrap().amount, dec!(0));
        assert!(plan.installments[0].is_paid());
        assert_eq!(plan.installments[1].paid.amount, dec!(6.66));
        let status = plan_status(&plan, fixture::date(2026, 3, 10), 2);
        assert_eq!(status.overdue, [plan.installments[1].id]);
        assert_eq!(status.overdue_amount.amount, dec!(26.67));
        assert_eq!(status.days_past_due, 9);
        assert_eq!(status.next_due, Some((fixture::date(2026, 4, 1), Money::usd(dec!(33.33)))));
        assert!(!status.in_default && !status.complete);
        assert!(plan_status(&plan, fixture::date(2026, 4, 2), 2).in_default);
        // Overpaying completes the plan and returns the rest.
        assert_eq!(apply_payment(&mut plan, Money::usd(dec!(70.00))).unwrap().amount, dec!(10.00));
        let done = plan_status(&plan, fixture::date(2026, 4, 2), 2);
        assert!(done.complete && done.overdue.is_empty());
        assert_eq!((done.paid.amount, done.remaining.amount), (dec!(100.00), dec!(0)));
    }

    #[test]
    fn refuses_bad_payments_and_plans() {
        let mut plan = create_plan(&statement(dec!(10)), 2, fixture::date(2026, 2, 1)).unwrap();
        assert!(apply_payment(&mut plan, Money::usd(dec!(0))).is_err());
        let eur = practice_protocol::Currency::parse("EUR").unwrap();
        assert!(matches!(apply_payment(&mut plan, Money::new(dec!(1), eur)), Err(BillingError::Currency { .. })));
        assert!(matches!(
            create_plan(&statement(dec!(0)), 2, fixture::date(2026, 2, 1)),
            Err(BillingError::Invalid { .. })
        ));
    }

    proptest! {
        #[test]
        fn paid_plus_remaining_is_total(cents in 1i64..1_000_000, count in 1u32..24, pays in proptest::collection::vec(1i64..50_000, 0..10)) {
            let mut plan = create_plan(&statement(Decimal::new(cents, 2)), count, fixture::date(2026, 1, 31)).unwrap();
            let mut leftover = Decimal::ZERO;
            let mut received = Decimal::ZERO;
            for pay in pays {
                received += Decimal::new(pay, 2);
                leftover += apply_payment(&mut plan, Money::usd(Decimal::new(pay, 2))).unwrap().amount;
            }
            let status = plan_status(&plan, fixture::date(2027, 1, 1), 3);
            prop_assert_eq!(status.paid.amount + status.remaining.amount, Decimal::new(cents, 2));
            prop_assert_eq!(status.paid.amount + leftover, received);
            prop_assert!(plan.installments.iter().all(|i| i.paid.amount <= i.amount.amount));
        }
    }
}
