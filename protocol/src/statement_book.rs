//! The practice's patient statements, their payment plans and what patients paid on them: part
//! of the practice entity's state, so a statement, a plan or a payment taken at the front desk
//! or online is journaled before anyone is told it was recorded (G2), and two concurrent
//! requests are decided one after the other by the practice actor (a claim is billed on one
//! statement only; no payment takes a statement past its balance).

use crate::domain::{PatientStatement, PaymentMethod, PaymentPlan};
use crate::ids::{ClaimId, StatementId};
use crate::money::Money;
use crate::roles::{Actor, Role, SystemComponent};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A payment on a statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientPayment {
    pub amount: Money,
    pub method: PaymentMethod,
    /// The processor's receipt for online payments (never card data).
    pub processor_reference: Option<String>,
    pub at: DateTime<Utc>,
    /// Who took it, as the audit trail shows it.
    pub by: String,
}

/// One statement with its plan and payments.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementAccount {
    pub statement: PatientStatement,
    pub plan: Option<PaymentPlan>,
    pub payments: Vec<PatientPayment>,
}

impl StatementAccount {
    pub fn paid(&self) -> Decimal {
        self.payments.iter().map(|payment| payment.amount.amount).sum()
    }

    pub fn balance(&self) -> Decimal {
        self.statement.total_due.amount - self.paid()
    }

    /// Whether `actor` may record `payment` on this statement now.
    pub fn check_payment(&self, payment: &PatientPayment, actor: &Actor) -> Result<(), StatementRefusal> {
        match actor {
            // A patient pays their own statements, online only.
            Actor::Patient { patient, .. } => {
                if *patient != self.statement.patient_id {
                    return Err(StatementRefusal::Unknown(self.statement.id));
                }
                if payment.processor_reference.is_none() || payment.method != PaymentMethod::Card {
                    return Err(StatementRefusal::Forbidden("a patient payment other than online by card"));
                }
            }
            _ if !may_bill_patients(actor) => return Err(StatementRefusal::Forbidden("taking a patient payment")),
            _ => {}
        }
        if !matches!(payment.method, PaymentMethod::Cash | PaymentMethod::Card | PaymentMethod::Check) {
            return Err(invalid("method", "patient payments are cash, card or check"));
        }
        let currency = self.statement.total_due.currency;
        if payment.amount.currency != currency {
            return Err(invalid("amount", format!("the statement is in {currency:?}")));
        }
        if payment.amount.amount <= Decimal::ZERO {
            return Err(invalid("amount", "amount must be greater than zero"));
        }
        let balance = self.balance();
        if payment.amount.amount > balance {
            return Err(invalid("amount", format!("amount exceeds the balance of {balance}")));
        }
        Ok(())
    }
}

/// Why a statement command was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatementRefusal {
    #[error("{0} may not be done by this user")]
    Forbidden(&'static str),
    #[error("no statement {0}")]
    Unknown(StatementId),
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
}

fn invalid(field: &'static str, message: impl Into<String>) -> StatementRefusal {
    StatementRefusal::Invalid { field, message: message.into() }
}

/// The seed's statement roles: front desk, coder/biller, billing manager and practice admin
/// generate statements and take payments; clinical and compliance roles only read them.
pub fn may_bill_patients(actor: &Actor) -> bool {
    match actor {
        Actor::User { role, .. } => {
            matches!(role, Role::FrontDesk | Role::CoderBiller | Role::BillingManager | Role::PracticeAdmin)
        }
        Actor::System { component, .. } => *component == SystemComponent::Operator,
        Actor::Patient { .. } => false,
    }
}

/// The practice's statements, by id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementBook {
    pub accounts: BTreeMap<StatementId, StatementAccount>,
    /// The statement each billed claim is on: checking a new statement costs a lookup per
    /// claim, not a pass over every statement the practice ever sent.
    pub billed: BTreeMap<ClaimId, StatementId>,
}

impl StatementBook {
    /// The statement a claim is already billed on, if any.
    pub fn billed_on(&self, claim: ClaimId) -> Option<StatementId> {
        self.billed.get(&claim).copied()
    }

    pub fn check_issue(&self, statement: &PatientStatement, actor: &Actor) -> Result<(), StatementRefusal> {
        if !may_bill_patients(actor) {
            return Err(StatementRefusal::Forbidden("issuing a statement"));
        }
        if statement.org != actor.org() {
            return Err(invalid("org", "a statement belongs to the caller's organization"));
        }
        if self.accounts.contains_key(&statement.id) {
            return Err(invalid("id", format!("statement {} already exists", statement.id)));
        }
        if statement.claims.is_empty() {
            return Err(invalid("claims", "a statement bills at least one claim"));
        }
        if statement.total_due.amount <= Decimal::ZERO {
            return Err(invalid("total_due", "a statement's total must be greater than zero"));
        }
        if let Some((claim, other)) =
            statement.claims.iter().find_map(|claim| self.billed_on(*claim).map(|other| (claim, other)))
        {
            return Err(invalid("claims", format!("claim {claim} is already billed on statement {other}")));
        }
        Ok(())
    }

    pub fn check_plan(&self, plan: &PaymentPlan, actor: &Actor) -> Result<(), StatementRefusal> {
        if !may_bill_patients(actor) {
            return Err(StatementRefusal::Forbidden("setting up a payment plan"));
        }
        let account = self.accounts.get(&plan.statement_id).ok_or(StatementRefusal::Unknown(plan.statement_id))?;
        let balance = account.balance();
        if balance <= Decimal::ZERO {
            return Err(invalid("statement_id", "the statement is paid; nothing is left to plan"));
        }
        let currency = account.statement.total_due.currency;
        if plan.installments.iter().any(|installment| installment.amount.currency != currency) {
            return Err(invalid("installments", format!("installments must be in {currency:?}")));
        }
        if plan.total() != balance {
            return Err(invalid(
                "installments",
                format!("installments total {}, the balance is {balance}", plan.total()),
            ));
        }
        Ok(())
    }

    pub fn check_payment(
        &self,
        statement: StatementId,
        payment: &PatientPayment,
        actor: &Actor,
    ) -> Result<(), StatementRefusal> {
        self.accounts.get(&statement).ok_or(StatementRefusal::Unknown(statement))?.check_payment(payment, actor)
    }

    /// What should never be true of the book, each said in words: patient money that does not
    /// add up (`practice verify` reports them as G7), and a processor receipt recorded twice
    /// (G3).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        let mut receipts = std::collections::HashSet::new();
        let mut billed: BTreeMap<ClaimId, StatementId> = BTreeMap::new();
        for (id, account) in &self.accounts {
            let (paid, total) = (account.paid(), account.statement.total_due.amount);
            if paid > total || account.payments.iter().any(|payment| payment.amount.amount <= Decimal::ZERO) {
                problems.push(("G7", format!("statement {id}: payments of {paid} against {total} due")));
            }
            if account.statement.is_paid != (paid >= total) {
                problems.push((
                    "G7",
                    format!("statement {id}: is_paid {} with {paid} of {total}", account.statement.is_paid),
                ));
            }
            if let Some(plan) = &account.plan {
                let on_plan: Decimal = plan.installments.iter().map(|installment| installment.paid.amount).sum();
                if on_plan > paid || on_plan > plan.total() {
                    problems.push(("G7", format!("statement {id}: {on_plan} on installments, {paid} paid")));
                }
            }
            for claim in &account.statement.claims {
                // The first statement keeps the claim, as `issue` indexes it.
                match billed.entry(*claim) {
                    std::collections::btree_map::Entry::Occupied(other) => {
                        problems.push(("G7", format!("claim {claim} billed on statements {} and {id}", other.get())))
                    }
                    std::collections::btree_map::Entry::Vacant(slot) => {
                        slot.insert(*id);
                    }
                }
            }
            for receipt in account.payments.iter().filter_map(|payment| payment.processor_reference.as_ref()) {
                if !receipts.insert(receipt) {
                    problems.push(("G3", format!("statement {id}: processor receipt {receipt} recorded twice")));
                }
            }
        }
        if billed != self.billed {
            problems.push(("G7", "the index of billed claims disagrees with the statements".to_string()));
        }
        problems
    }

    pub fn issue(&mut self, statement: &PatientStatement) {
        let account = StatementAccount { statement: statement.clone(), plan: None, payments: Vec::new() };
        self.accounts.insert(statement.id, account);
        for claim in &statement.claims {
            self.billed.entry(*claim).or_insert(statement.id);
        }
    }

    pub fn set_plan(&mut self, plan: &PaymentPlan, at: DateTime<Utc>, by: crate::ids::UserId) {
        if let Some(account) = self.accounts.get_mut(&plan.statement_id) {
            account.statement.payment_plan_id = Some(plan.id);
            account.statement.audit.touch(by, at);
            account.plan = Some(plan.clone());
        }
    }

    /// A payment lands on the statement and, when it has a plan, on its oldest open
    /// installments.
    pub fn pay(&mut self, statement: StatementId, payment: &PatientPayment, by: crate::ids::UserId) {
        if let Some(account) = self.accounts.get_mut(&statement) {
            account.payments.push(payment.clone());
            if let Some(plan) = account.plan.as_mut() {
                plan.apply(payment.amount.amount);
            }
            account.statement.is_paid = account.balance() <= Decimal::ZERO;
            account.statement.audit.touch(by, payment.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AuditColumns;
    use crate::ids::{OrgId, PatientId, PaymentPlanId, UserId};
    use chrono::NaiveDate;
    use rust_decimal_macros::dec;
    use uuid::Uuid;

    const ORG: OrgId = OrgId(Uuid::from_u128(1));

    fn user(role: Role) -> Actor {
        Actor::User { org: ORG, user: UserId(Uuid::from_u128(2)), role }
    }

    fn statement(id: u128, patient: PatientId, claims: &[u128], total: Decimal) -> PatientStatement {
        PatientStatement {
            id: StatementId(Uuid::from_u128(id)),
            org: ORG,
            patient_id: patient,
            total_due: Money::usd(total),
            statement_date: Utc::now(),
            claims: claims.iter().map(|claim| ClaimId(Uuid::from_u128(*claim))).collect(),
            payment_plan_id: None,
            is_paid: false,
            audit: AuditColumns::created(UserId(Uuid::from_u128(2)), Utc::now()),
        }
    }

    fn payment(amount: Decimal, method: PaymentMethod, online: bool) -> PatientPayment {
        PatientPayment {
            amount: Money::usd(amount),
            method,
            processor_reference: online.then(|| "receipt-1".to_string()),
            at: Utc::now(),
            by: "test".into(),
        }
    }

    #[test]
    fn a_claim_is_billed_once_and_only_billing_roles_issue() {
        let patient = PatientId(Uuid::from_u128(7));
        let mut book = StatementBook::default();
        let first = statement(10, patient, &[100, 101], dec!(35.00));
        assert_eq!(
            book.check_issue(&first, &user(Role::MaRn)),
            Err(StatementRefusal::Forbidden("issuing a statement"))
        );
        book.check_issue(&first, &user(Role::FrontDesk)).unwrap();
        book.issue(&first);
        let overlapping = statement(11, patient, &[101, 102], dec!(5.00));
        assert!(matches!(
            book.check_issue(&overlapping, &user(Role::BillingManager)),
            Err(StatementRefusal::Invalid { field: "claims", .. })
        ));
        let foreign =
            Actor::User { org: OrgId(Uuid::from_u128(9)), user: UserId(Uuid::from_u128(2)), role: Role::PracticeAdmin };
        assert!(book.check_issue(&statement(12, patient, &[103], dec!(1)), &foreign).is_err());
        assert!(book.check_issue(&statement(13, patient, &[104], dec!(0)), &user(Role::FrontDesk)).is_err());
    }

    #[test]
    fn payments_stay_within_the_balance_and_fill_installments_oldest_first() {
        let patient = PatientId(Uuid::from_u128(7));
        let mut book = StatementBook::default();
        let issued = statement(10, patient, &[100], dec!(30.00));
        let id = issued.id;
        book.issue(&issued);
        let desk = user(Role::FrontDesk);
        book.check_payment(id, &payment(dec!(6.00), PaymentMethod::Cash, false), &desk).unwrap();
        book.pay(id, &payment(dec!(6.00), PaymentMethod::Cash, false), UserId(Uuid::nil()));
        let plan = PaymentPlan::monthly(
            PaymentPlanId(Uuid::from_u128(5)),
            id,
            Money::usd(dec!(24.00)),
            3,
            NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
        )
        .unwrap();
        let mut short = plan.clone();
        short.installments.pop();
        assert!(book.check_plan(&short, &desk).is_err(), "a plan covers the whole balance");
        assert!(book.check_plan(&plan, &user(Role::Clinician)).is_err());
        book.check_plan(&plan, &desk).unwrap();
        book.set_plan(&plan, Utc::now(), UserId(Uuid::nil()));

        // The patient pays online, only their own statement, never in cash.
        let own = Actor::Patient { org: ORG, user: UserId(Uuid::from_u128(3)), patient };
        let other =
            Actor::Patient { org: ORG, user: UserId(Uuid::from_u128(4)), patient: PatientId(Uuid::from_u128(8)) };
        let online = payment(dec!(10.00), PaymentMethod::Card, true);
        assert_eq!(book.check_payment(id, &online, &other), Err(StatementRefusal::Unknown(id)));
        assert!(book.check_payment(id, &payment(dec!(10.00), PaymentMethod::Cash, false), &own).is_err());
        book.check_payment(id, &online, &own).unwrap();
        book.pay(id, &online, UserId(Uuid::nil()));
        let account = &book.accounts[&id];
        let paid: Vec<Decimal> = account.plan.as_ref().unwrap().installments.iter().map(|i| i.paid.amount).collect();
        assert_eq!(paid, [dec!(8.00), dec!(2.00), dec!(0.00)]);
        assert_eq!(account.balance(), dec!(14.00));
        assert!(matches!(
            book.check_payment(id, &payment(dec!(14.01), PaymentMethod::Check, false), &desk),
            Err(StatementRefusal::Invalid { field: "amount", .. })
        ));
        assert!(book.check_payment(id, &payment(dec!(-1), PaymentMethod::Check, false), &desk).is_err());
        book.pay(id, &payment(dec!(14.00), PaymentMethod::Check, false), UserId(Uuid::nil()));
        assert!(book.accounts[&id].statement.is_paid);
        assert!(book.check_plan(&plan, &desk).is_err(), "nothing left to plan");
        assert!(book.problems().is_empty(), "{:?}", book.problems());
        // What verify would catch: the same receipt twice, money past the total, a claim twice.
        let mut broken = book.clone();
        broken.pay(id, &payment(dec!(1.00), PaymentMethod::Card, true), UserId(Uuid::nil()));
        let second = statement(11, patient, &[100], dec!(5.00));
        broken.issue(&second);
        let found: Vec<&str> = broken.problems().iter().map(|(guarantee, _)| *guarantee).collect();
        assert_eq!(found, ["G7", "G3", "G7"], "{:?}", broken.problems());
    }
}
