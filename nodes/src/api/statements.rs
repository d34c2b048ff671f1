//! Patient statements: generated from the patient responsibility on a patient's claims, paid at
//! the front desk (cash, card) or online by the patient through a `PaymentProcessor`, and
//! optionally split into a monthly payment plan. Card data never reaches us: the online
//! payment carries only the processor's one-time token.
//!
//! The store is in memory here; statements belong to the practice actor when that lands.

use super::error::ApiError;
use super::json::{reply, ApiJson, IdPath};
use super::service::ClaimFilter;
use super::AppState;
use crate::auth::rbac::{Action, Entity, Scope};
use crate::auth::Caller;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use practice_protocol::domain::{AuditColumns, PatientStatement, PaymentMethod, PaymentPlan};
use practice_protocol::ids::{ClaimId, OrgId, PatientId, PaymentPlanId, StatementId};
use practice_protocol::money::{Currency, Money};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

/// A payment on a statement.
#[derive(Clone, Debug, Serialize)]
pub struct PatientPayment {
    pub amount: Money,
    pub method: PaymentMethod,
    /// The processor's receipt for online payments.
    pub processor_reference: Option<String>,
    pub at: DateTime<Utc>,
    pub by: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct StatementView {
    pub statement: PatientStatement,
    pub paid: Money,
    pub balance: Money,
    pub plan: Option<PaymentPlan>,
    pub payments: Vec<PatientPayment>,
}

struct StatementRecord {
    statement: PatientStatement,
    plan: Option<PaymentPlan>,
    payments: Vec<PatientPayment>,
}

impl StatementRecord {
    fn paid(&self) -> Decimal {
        self.payments.iter().map(|payment| payment.amount.amount).sum()
    }

    fn view(&self) -> StatementView {
        let currency = self.statement.total_due.currency;
        let paid = self.paid();
        StatementView {
            statement: self.statement.clone(),
            paid: Money::new(paid, currency),
            balance: Money::new(self.statement.total_due.amount - paid, currency),
            plan: self.plan.clone(),
            payments: self.payments.clone(),
        }
    }
}

#[derive(Default)]
pub struct StatementStore {
    orgs: Mutex<HashMap<OrgId, HashMap<StatementId, StatementRecord>>>,
}

impl StatementStore {
    fn with<T>(&self, action: impl FnOnce(&mut HashMap<OrgId, HashMap<StatementId, StatementRecord>>) -> T) -> T {
        let mut guard = self.orgs.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        action(&mut guard)
    }

    fn billed_claims(&self, org: OrgId, patient: PatientId) -> BTreeSet<ClaimId> {
        self.with(|orgs| {
            orgs.get(&org)
                .map(|statements| {
                    statements
                        .values()
                        .filter(|record| record.statement.patient_id == patient)
                        .flat_map(|record| record.statement.claims.iter().copied())
                        .collect()
                })
                .unwrap_or_default()
        })
    }
}

/// An online card processor (InstaMed in production). It receives a one-time token from its
/// own hosted payment field; we never see the card.
pub trait PaymentProcessor: Send + Sync + 'static {
    fn charge(
        &self,
        org: OrgId,
        statement: StatementId,
        amount: Money,
        token: &str,
    ) -> BoxFuture<'_, Result<String, String>>;
}

/// The processor for tests and demos: `tok_test_ok…` tokens succeed, any other is declined.
pub struct TestProcessor;

impl PaymentProcessor for TestProcessor {
    fn charge(
        &self,
        _org: OrgId,
        statement: StatementId,
        amount: Money,
        token: &str,
    ) -> BoxFuture<'_, Result<String, String>> {
        let result = if token.starts_with("tok_test_ok") {
            Ok(format!("test-receipt-{}-{}", statement.0.simple(), amount.amount))
        } else {
            Err("the card was declined".to_string())
        };
        async move { result }.boxed()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerateRequest {
    pub patient_id: PatientId,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectRequest {
    pub amount: Money,
    pub method: PaymentMethod,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayOnlineRequest {
    pub amount: Money,
    /// The processor's one-time token. Card numbers are refused.
    pub payment_token: String,
}

/// Five years of monthly installments.
pub const MAX_INSTALLMENTS: u32 = 60;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    pub installments: u32,
    pub first_due: NaiveDate,
}

pub async fn generate(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<GenerateRequest>,
) -> Result<Response, ApiError> {
    caller.require(Entity::Statement, Action::GenerateStatement)?;
    let org = caller.org();
    let already = state.statements.billed_claims(org, request.patient_id);
    let filter = ClaimFilter { patient: Some(request.patient_id), ..ClaimFilter::default() };
    let mut claims = Vec::new();
    let mut total = Decimal::ZERO;
    let mut currency = Currency::USD;
    for snapshot in state.service.list(org, filter).await? {
        let (Some(claim), Some(ledger)) = (snapshot.state.claim.as_ref(), snapshot.state.ledger.as_ref()) else {
            continue;
        };
        if already.contains(&claim.id) || ledger.totals.patient_responsibility <= Decimal::ZERO {
            continue;
        }
        currency = ledger.currency;
        total += ledger.totals.patient_responsibility;
        claims.push(claim.id);
    }
    if claims.is_empty() {
        // Unknown patients and patients with nothing due look the same.
        return Err(ApiError::unprocessable("nothing_due", "the patient has no unbilled patient responsibility")
            .at("patient_id"));
    }
    let now = Utc::now();
    let statement = PatientStatement {
        id: StatementId::new_v4(),
        org,
        patient_id: request.patient_id,
        total_due: Money::new(total, currency),
        statement_date: now,
        claims,
        payment_plan_id: None,
        is_paid: false,
        audit: AuditColumns::created(caller.claims.user, now),
    };
    let record = StatementRecord { statement, plan: None, payments: Vec::new() };
    let view = record.view();
    state.statements.with(|orgs| orgs.entry(org).or_default().insert(record.statement.id, record));
    Ok(reply(StatusCode::CREATED, &view))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let scope = caller.read(Entity::Statement)?;
    let own = crate::auth::billing_scope(&caller, scope);
    let views: Vec<StatementView> = state.statements.with(|orgs| {
        orgs.get(&caller.org())
            .map(|statements| {
                statements
                    .values()
                    .filter(|record| own.is_none_or(|patient| record.statement.patient_id == patient))
                    .map(StatementRecord::view)
                    .collect()
            })
            .unwrap_or_default()
    });
    Ok(reply(StatusCode::OK, &serde_json::json!({ "statements": views })))
}

/// Run `action` on a statement the caller may see; 404 otherwise (other org, not own).
fn with_visible<T>(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    id: StatementId,
    action: impl FnOnce(&mut StatementRecord) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    state.statements.with(|orgs| {
        let record = orgs
            .get_mut(&caller.org())
            .and_then(|statements| statements.get_mut(&id))
            .filter(|record| caller.sees_patient(scope, record.statement.patient_id))
            .ok_or_else(|| ApiError::not_found("statement"))?;
        action(record)
    })
}

pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<StatementId>,
) -> Result<Response, ApiError> {
    let scope = caller.read(Entity::Statement)?;
    let view = with_visible(&state, &caller, scope, id, |record| Ok(record.view()))?;
    Ok(reply(StatusCode::OK, &view))
}

fn check_amount(record: &StatementRecord, amount: Money) -> Result<(), ApiError> {
    amount.non_negative("amount")?;
    amount.in_currency(record.statement.total_due.currency, "amount")?;
    if amount.amount.is_zero() {
        return Err(ApiError::unprocessable("validation_failed", "amount must be greater than zero").at("amount"));
    }
    let balance = record.statement.total_due.amount - record.paid();
    if amount.amount > balance {
        return Err(ApiError::unprocessable("validation_failed", format!("amount exceeds the balance of {balance}"))
            .at("amount"));
    }
    Ok(())
}

fn record_payment(record: &mut StatementRecord, caller: &Caller, payment: PatientPayment) -> StatementView {
    record.payments.push(payment);
    record.statement.is_paid = record.paid() >= record.statement.total_due.amount;
    record.statement.audit.touch(caller.claims.user, Utc::now());
    record.view()
}

pub async fn collect(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<StatementId>,
    ApiJson(request): ApiJson<CollectRequest>,
) -> Result<Response, ApiError> {
    caller.require(Entity::Statement, Action::CollectPayment)?;
    if !matches!(request.method, PaymentMethod::Cash | PaymentMethod::Card | PaymentMethod::Check) {
        return Err(
            ApiError::unprocessable("validation_failed", "front-desk payments are cash, card or check").at("method")
        );
    }
    let view = with_visible(&state, &caller, Scope::All, id, |record| {
        check_amount(record, request.amount)?;
        let payment = PatientPayment {
            amount: request.amount,
            method: request.method,
            processor_reference: None,
            at: Utc::now(),
            by: super::views::who(&caller.actor),
        };
        Ok(record_payment(record, &caller, payment))
    })?;
    Ok(reply(StatusCode::CREATED, &view))
}

/// Whether a "token" is really a card number (13–19 digits once spaces and dashes go).
fn looks_like_card_number(token: &str) -> bool {
    let digits: String = token.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    (13..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

pub async fn pay_online(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<StatementId>,
    ApiJson(request): ApiJson<PayOnlineRequest>,
) -> Result<Response, ApiError> {
    caller.require(Entity::Statement, Action::PayOnline)?;
    if looks_like_card_number(&request.payment_token) {
        return Err(ApiError::unprocessable(
            "card_data_refused",
            "send the processor's payment token, never a card number",
        )
        .at("payment_token"));
    }
    let scope = caller.read(Entity::Statement)?;
    with_visible(&state, &caller, scope, id, |record| check_amount(record, request.amount))?;
    let receipt = state
        .processor
        .charge(caller.org(), id, request.amount, &request.payment_token)
        .await
        .map_err(|why| ApiError::new(StatusCode::PAYMENT_REQUIRED, "payment_declined", why))?;
    let view = with_visible(&state, &caller, scope, id, |record| {
        // Re-check: another payment may have landed while the processor answered.
        check_amount(record, request.amount)?;
        let payment = PatientPayment {
            amount: request.amount,
            method: PaymentMethod::Card,
            processor_reference: Some(receipt),
            at: Utc::now(),
            by: super::views::who(&caller.actor),
        };
        Ok(record_payment(record, &caller, payment))
    })?;
    Ok(reply(StatusCode::CREATED, &view))
}

pub async fn plan(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<StatementId>,
    ApiJson(request): ApiJson<PlanRequest>,
) -> Result<Response, ApiError> {
    caller.require(Entity::Statement, Action::GenerateStatement)?;
    if request.installments > MAX_INSTALLMENTS {
        return Err(ApiError::unprocessable("validation_failed", format!("at most {MAX_INSTALLMENTS} installments"))
            .at("installments"));
    }
    let view = with_visible(&state, &caller, Scope::All, id, |record| {
        let balance =
            Money::new(record.statement.total_due.amount - record.paid(), record.statement.total_due.currency);
        let plan = PaymentPlan::monthly(PaymentPlanId::new_v4(), id, balance, request.installments, request.first_due)?;
        record.statement.payment_plan_id = Some(plan.id);
        record.plan = Some(plan);
        Ok(record.view())
    })?;
    Ok(reply(StatusCode::CREATED, &view))
}
