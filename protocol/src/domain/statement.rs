//! Patient statements and payment plans with scheduled installments.

use super::AuditColumns;
use crate::ids::{ClaimId, InstallmentId, OrgId, PatientId, PaymentPlanId, StatementId};
use crate::money::{at_least_cents, Money};
use crate::{ValidationError, ValidationKind};
use chrono::{DateTime, Months, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientStatement {
    pub id: StatementId,
    pub org: OrgId,
    pub patient_id: PatientId,
    pub total_due: Money,
    pub statement_date: DateTime<Utc>,
    /// The claims whose patient responsibility this statement consolidates.
    pub claims: Vec<ClaimId>,
    pub payment_plan_id: Option<PaymentPlanId>,
    pub is_paid: bool,
    pub audit: AuditColumns,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Installment {
    pub id: InstallmentId,
    pub due_date: NaiveDate,
    pub amount: Money,
    pub paid: Money,
}

impl Installment {
    pub fn is_paid(&self) -> bool {
        self.paid.amount >= self.amount.amount
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaymentPlan {
    pub id: PaymentPlanId,
    pub statement_id: StatementId,
    pub installments: Vec<Installment>,
}

impl PaymentPlan {
    /// Split `total` into `count` monthly installments starting on `first_due`. Installments
    /// are whole cents; the first ones carry the leftover cents so the sum is exact.
    pub fn monthly(
        id: PaymentPlanId,
        statement_id: StatementId,
        total: Money,
        count: u32,
        first_due: NaiveDate,
    ) -> Result<PaymentPlan, ValidationError> {
        if count == 0 {
            return Err(ValidationError::new("installments", ValidationKind::NotPositive { found: "0".into() }));
        }
        if total.amount <= Decimal::ZERO {
            return Err(ValidationError::new(
                "total_due",
                ValidationKind::NotPositive { found: total.amount.to_string() },
            ));
        }
        let cents = (total.amount * Decimal::ONE_HUNDRED).trunc();
        if cents != total.amount * Decimal::ONE_HUNDRED {
            return Err(ValidationError::new(
                "total_due",
                ValidationKind::malformed("whole cents", total.amount.to_string()),
            ));
        }
        let count_decimal = Decimal::from(count);
        let base = (cents / count_decimal).trunc();
        let leftover = cents - base * count_decimal;
        let installments = (0..count)
            .map(|index| {
                let extra = if Decimal::from(index) < leftover { Decimal::ONE } else { Decimal::ZERO };
                let due_date = first_due.checked_add_months(Months::new(index)).unwrap_or(first_due);
                // In cents, written with two decimals ("10.00", not "10").
                let amount = at_least_cents((base + extra) / Decimal::ONE_HUNDRED);
                Installment {
                    id: InstallmentId::derived(&[id.0.as_bytes(), &index.to_be_bytes()]),
                    due_date,
                    amount: Money::new(amount, total.currency),
                    paid: Money::new(at_least_cents(Decimal::ZERO), total.currency),
                }
            })
            .collect();
        Ok(PaymentPlan { id, statement_id, installments })
    }

    pub fn total(&self) -> Decimal {
        self.installments.iter().map(|installment| installment.amount.amount).sum()
    }

    /// Apply `amount` to the installments in due-date order; returns what is left over once
    /// every installment is paid (a credit for the caller to hold or refund).
    pub fn apply(&mut self, amount: Decimal) -> Decimal {
        let mut left = amount;
        let mut order: Vec<usize> = (0..self.installments.len()).collect();
        order.sort_by_key(|index| (self.installments[*index].due_date, *index));
        for index in order {
            if left <= Decimal::ZERO {
                break;
            }
            let installment = &mut self.installments[index];
            let applied = (installment.amount.amount - installment.paid.amount).max(Decimal::ZERO).min(left);
            installment.paid.amount += applied;
            left -= applied;
        }
        left
    }

    /// Installments due on or before `today` and not fully paid.
    pub fn overdue(&self, today: NaiveDate) -> impl Iterator<Item = &Installment> {
        self.installments.iter().filter(move |installment| installment.due_date <= today && !installment.is_paid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn installments_sum_exactly() {
        let plan = PaymentPlan::monthly(
            PaymentPlanId::new_v4(),
            StatementId::new_v4(),
            Money::usd(dec!(100.00)),
            3,
            NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
        )
        .unwrap();
        let amounts: Vec<Decimal> = plan.installments.iter().map(|i| i.amount.amount).collect();
        assert_eq!(amounts, [dec!(33.34), dec!(33.33), dec!(33.33)]);
        let even = PaymentPlan::monthly(
            PaymentPlanId::new_v4(),
            StatementId::new_v4(),
            Money::usd(dec!(30)),
            3,
            NaiveDate::from_ymd_opt(2026, 1, 31).unwrap(),
        )
        .unwrap();
        let written: Vec<String> = even.installments.iter().map(|i| i.amount.amount.to_string()).collect();
        assert_eq!(written, ["10.00", "10.00", "10.00"]);
        assert_eq!(even.installments[0].paid.amount.to_string(), "0.00");
        assert_eq!(plan.total(), dec!(100.00));
        // Month arithmetic clamps to the month's end.
        assert_eq!(plan.installments[1].due_date, NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
    }

    #[test]
    fn rejects_zero_count_and_fractions_of_cents() {
        let make = |total, count| {
            PaymentPlan::monthly(
                PaymentPlanId::new_v4(),
                StatementId::new_v4(),
                Money::usd(total),
                count,
                NaiveDate::MIN,
            )
        };
        assert_eq!(make(dec!(10), 0).unwrap_err().field, "installments");
        assert_eq!(make(dec!(10.001), 2).unwrap_err().field, "total_due");
        assert_eq!(make(dec!(-1), 2).unwrap_err().field, "total_due");
    }
}
