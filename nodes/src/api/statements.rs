//! Patient statements: generated from the patient responsibility on a patient's claims, paid at
//! the front desk (cash, card) or online by the patient through a `PaymentProcessor`, and
//! optionally split into a monthly payment plan. Card data never reaches us: the online
//! payment carries only the processor's one-time token.
//!
//! Statements, plans and payments are the practice entity's (`statement_book`): each one is
//! journaled before the answer, and the practice actor decides concurrent requests one at a
//! time.

use super::error::ApiError;
use super::json::{reply, ApiJson, IdPath};
use super::service::{ClaimFilter, PracticeCommandError};
use super::AppState;
use crate::auth::rbac::{Action, Entity, Scope};
use crate::auth::Caller;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use practice_actors::billing::{plan_status, PlanStatus};
use practice_actors::runtime::PolicyBook;
use practice_protocol::domain::{AuditColumns, PatientStatement, PaymentMethod, PaymentPlan};
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::{CommandId, OrgId, PatientId, PaymentPlanId, StatementId};
use practice_protocol::money::{Currency, Money};
use practice_protocol::practice::{PracticeCommand, PracticeRejection};
use practice_protocol::statement_book::{PatientPayment, StatementAccount};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Serialize)]
pub struct StatementView {
    pub statement: PatientStatement,
    pub paid: Money,
    pub balance: Money,
    pub plan: Option<PaymentPlan>,
    /// Where the plan stands today: paid, overdue installments, next due, default.
    pub plan_status: Option<PlanStatus>,
    pub payments: Vec<PatientPayment>,
}

/// Installments overdue at once that put a plan in default.
pub const MISSED_FOR_DEFAULT: usize = 2;

impl StatementView {
    fn of(account: &StatementAccount) -> StatementView {
        let currency = account.statement.total_due.currency;
        let today = Utc::now().date_naive();
        StatementView {
            statement: account.statement.clone(),
            paid: Money::new(account.paid(), currency),
            balance: Money::new(account.balance(), currency),
            plan: account.plan.clone(),
            plan_status: account.plan.as_ref().map(|plan| plan_status(plan, today, MISSED_FOR_DEFAULT)),
            payments: account.payments.clone(),
        }
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
    let book = state.service.practice(org).await?.statements;
    let filter = ClaimFilter { patient: Some(request.patient_id), ..ClaimFilter::default() };
    let mut claims = Vec::new();
    let mut total = Decimal::ZERO;
    let mut currency = Currency::USD;
    for snapshot in state.service.list(org, filter).await? {
        let (Some(claim), Some(ledger)) = (snapshot.state.claim.as_ref(), snapshot.state.ledger.as_ref()) else {
            continue;
        };
        if book.billed_on(claim.id).is_some() || ledger.totals.patient_responsibility <= Decimal::ZERO {
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
    let id = statement.id;
    let command = PracticeCommand::IssueStatement { statement: Box::new(statement) };
    let view = run(&state, &caller, CommandId::new_v4(), command, id).await?;
    Ok(reply(StatusCode::CREATED, &view))
}

pub async fn list(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let scope = caller.read(Entity::Statement)?;
    let own = crate::auth::billing_scope(&caller, scope);
    let book = state.service.practice(caller.org()).await?.statements;
    let views: Vec<StatementView> = book
        .accounts
        .values()
        .filter(|account| own.is_none_or(|patient| account.statement.patient_id == patient))
        .map(StatementView::of)
        .collect();
    Ok(reply(StatusCode::OK, &serde_json::json!({ "statements": views })))
}

/// A statement the caller may see; 404 otherwise (other org, not their own).
async fn visible(
    state: &AppState,
    caller: &Caller,
    scope: Scope,
    id: StatementId,
) -> Result<StatementAccount, ApiError> {
    let mut book = state.service.practice(caller.org()).await?.statements;
    book.accounts
        .remove(&id)
        .filter(|account| caller.sees_patient(scope, account.statement.patient_id))
        .ok_or_else(|| ApiError::not_found("statement"))
}

/// Run a statement command on the caller's practice entity, then read the statement back.
async fn run(
    state: &AppState,
    caller: &Caller,
    command_id: CommandId,
    command: PracticeCommand,
    statement: StatementId,
) -> Result<StatementView, ApiError> {
    let envelope = CommandEnvelope {
        command_id,
        entity: PolicyBook::practice_ref(caller.org()),
        issued_at: Utc::now(),
        actor: caller.actor.clone(),
        command,
    };
    state.service.execute_practice(envelope).await.map_err(|error| match error {
        PracticeCommandError::Rejected(rejection) => refused(rejection),
        PracticeCommandError::Service(service) => service.into(),
    })?;
    let account = visible(state, caller, Scope::All, statement).await?;
    Ok(StatementView::of(&account))
}

/// The API's answer to a statement command the practice refused.
fn refused(rejection: PracticeRejection) -> ApiError {
    match rejection {
        PracticeRejection::Forbidden { command } => {
            ApiError::forbidden(format!("your role may not do this: {command}"))
        }
        PracticeRejection::UnknownStatement { .. } => ApiError::not_found("statement"),
        PracticeRejection::InvalidField { field, message } => {
            ApiError::unprocessable("validation_failed", message).at(&field)
        }
        other => ApiError::unprocessable("validation_failed", other.to_string()),
    }
}

pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<StatementId>,
) -> Result<Response, ApiError> {
    let scope = caller.read(Entity::Statement)?;
    let account = visible(&state, &caller, scope, id).await?;
    Ok(reply(StatusCode::OK, &StatementView::of(&account)))
}

pub async fn collect(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(id): IdPath<StatementId>,
    ApiJson(request): ApiJson<CollectRequest>,
) -> Result<Response, ApiError> {
    caller.require(Entity::Statement, Action::CollectPayment)?;
    request.amount.non_negative("amount")?;
    // The practice checks the rest (method, balance, roles: `StatementAccount::check_payment`);
    // an unknown statement (or another organization's) is its `UnknownStatement`: 404.
    let payment = PatientPayment {
        amount: request.amount,
        method: request.method,
        processor_reference: None,
        at: Utc::now(),
        by: super::views::who(&caller.actor),
    };
    let command = PracticeCommand::RecordPatientPayment { statement: id, payment: Box::new(payment) };
    let view = run(&state, &caller, CommandId::new_v4(), command, id).await?;
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
    request.amount.non_negative("amount")?;
    let scope = caller.read(Entity::Statement)?;
    let account = visible(&state, &caller, scope, id).await?;
    // The receipt is filled in once the card is charged; the check only needs it present.
    let mut payment = PatientPayment {
        amount: request.amount,
        method: PaymentMethod::Card,
        processor_reference: Some(String::new()),
        at: Utc::now(),
        by: super::views::who(&caller.actor),
    };
    // Refuse before the card is charged what the practice would refuse after.
    account.check_payment(&payment, &caller.actor).map_err(|refusal| refused(refusal.into()))?;
    let receipt = state
        .processor
        .charge(caller.org(), id, request.amount, &request.payment_token)
        .await
        .map_err(|why| ApiError::new(StatusCode::PAYMENT_REQUIRED, "payment_declined", why))?;
    // One receipt, one payment: a retry after a lost answer records nothing twice (G3).
    let command_id = CommandId::derived(&[b"patient-payment", id.0.as_bytes(), receipt.as_bytes()]);
    payment.processor_reference = Some(receipt.clone());
    let command = PracticeCommand::RecordPatientPayment { statement: id, payment: Box::new(payment) };
    let view = run(&state, &caller, command_id, command, id).await.inspect_err(|_| {
        // The card was charged: the receipt is what reconciles it (no PHI in it).
        tracing::error!(statement = %id, %receipt, "charged online but the payment was not recorded");
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
    let account = visible(&state, &caller, Scope::All, id).await?;
    let balance = Money::new(account.balance(), account.statement.total_due.currency);
    let plan = PaymentPlan::monthly(PaymentPlanId::new_v4(), id, balance, request.installments, request.first_due)?;
    let command = PracticeCommand::SetPaymentPlan { plan: Box::new(plan) };
    let view = run(&state, &caller, CommandId::new_v4(), command, id).await?;
    Ok(reply(StatusCode::CREATED, &view))
}
