//! Payments and denials. A manual payment (a paper EOB, a check) is split across claims; each
//! allocation becomes a `PostRemittance` command, so posting arithmetic and G7 stay in the
//! protocol. Every allocation is validated (and dry-run through the real `decide`) before the
//! first one posts, so a bad request changes nothing.

use super::claims::{run_command, visible_claim};
use super::error::ApiError;
use super::json::{reply, ApiJson};
use super::service::ClaimFilter;
use super::views::{payments_of, DenialView, PaymentView};
use super::AppState;
use crate::auth::rbac::{Action, Entity};
use crate::auth::Caller;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use practice_protocol::claim::{
    decide, Adjustment, ClaimCommand, DecideContext, LinePosting, PostingKind, RemittancePosting,
};
use practice_protocol::domain::PaymentMethod;
use practice_protocol::ids::{ClaimId, CommandId, PaymentId};
use practice_protocol::money::Money;
use rust_decimal::Decimal;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManualPayment {
    pub payer_name: String,
    pub method: PaymentMethod,
    /// Check number or EFT trace: with the claim and amount it names the payment (G3).
    pub reference: String,
    pub paid_on: NaiveDate,
    /// The whole payment; the allocations must add up to it exactly.
    pub amount: Money,
    pub allocations: Vec<Allocation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Allocation {
    pub claim_id: ClaimId,
    pub paid: Money,
    /// CLP02; "1" (processed as primary) unless told.
    #[serde(default = "default_status_code")]
    pub claim_status_code: String,
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
    #[serde(default)]
    pub lines: Vec<LinePosting>,
}

fn default_status_code() -> String {
    "1".to_string()
}

impl ManualPayment {
    fn validate(&self) -> Result<(), ApiError> {
        if self.payer_name.trim().is_empty() {
            return Err(ApiError::unprocessable("missing_field", "payer_name must not be empty").at("payer_name"));
        }
        if self.reference.trim().is_empty() {
            return Err(ApiError::unprocessable("missing_field", "reference must not be empty").at("reference"));
        }
        self.amount.non_negative("amount")?;
        if self.allocations.is_empty() {
            return Err(
                ApiError::unprocessable("missing_field", "at least one allocation is required").at("allocations")
            );
        }
        let mut total = Decimal::ZERO;
        for (index, allocation) in self.allocations.iter().enumerate() {
            let at = |field: &str| format!("allocations[{index}].{field}");
            allocation.paid.non_negative(&at("paid"))?;
            allocation.paid.in_currency(self.amount.currency, &at("paid"))?;
            for (number, adjustment) in allocation.adjustments.iter().enumerate() {
                adjustment.amount.in_currency(self.amount.currency, &at(&format!("adjustments[{number}].amount")))?;
            }
            for (number, line) in allocation.lines.iter().enumerate() {
                line.paid.non_negative(&at(&format!("lines[{number}].paid")))?;
            }
            total += allocation.paid.amount;
        }
        if total != self.amount.amount {
            return Err(ApiError::unprocessable(
                "validation_failed",
                format!("the allocations add up to {total}, not the payment's {}", self.amount.amount),
            )
            .at("allocations"));
        }
        Ok(())
    }

    fn posting(&self, org: &[u8], allocation: &Allocation) -> RemittancePosting {
        let amount = allocation.paid.amount.to_string();
        RemittancePosting {
            payment_id: PaymentId::derived(&[
                org,
                self.reference.as_bytes(),
                allocation.claim_id.0.as_bytes(),
                amount.as_bytes(),
            ]),
            kind: PostingKind::Original,
            payer_name: self.payer_name.clone(),
            method: self.method,
            era_trace_number: Some(self.reference.clone()),
            payer_claim_control_number: None,
            claim_status_code: allocation.claim_status_code.clone(),
            paid: allocation.paid,
            claim_adjustments: allocation.adjustments.clone(),
            lines: allocation.lines.clone(),
            remark_codes: Vec::new(),
            paid_on: self.paid_on,
        }
    }
}

pub async fn post_payment(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(payment): ApiJson<ManualPayment>,
) -> Result<Response, ApiError> {
    caller.require(Entity::Payment, Action::PostRemittance)?;
    payment.validate()?;
    let org = caller.org();
    let context = DecideContext::at(Utc::now());
    let mut commands = Vec::new();
    for (index, allocation) in payment.allocations.iter().enumerate() {
        let record = visible_claim(&state, &caller, allocation.claim_id, Entity::Payment).await?;
        let command = ClaimCommand::PostRemittance { posting: Box::new(payment.posting(org.0.as_bytes(), allocation)) };
        // Dry run through the real state machine: refuse the whole payment before any post.
        decide(&record.state, CommandId::new_v4(), &command, &caller.actor, &context)
            .map_err(|rejection| ApiError::from(rejection).at(format!("allocations[{index}]")))?;
        commands.push((allocation.claim_id, command));
    }
    let mut results = Vec::new();
    for (claim_id, command) in commands {
        let response = run_command(&state, &caller, &headers, claim_id, command, StatusCode::OK).await?;
        results.push(super::json::body_json(response).await);
    }
    Ok(reply(StatusCode::CREATED, &serde_json::json!({ "posted": results })))
}

pub async fn list_payments(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let scope = caller.read(Entity::Payment)?;
    let filter = ClaimFilter { patient: crate::auth::billing_scope(&caller, scope), ..ClaimFilter::default() };
    let mut payments: Vec<PaymentView> = Vec::new();
    let mut suspense: Vec<serde_json::Value> = Vec::new();
    for snapshot in state.service.list(caller.org(), filter).await? {
        if let (Some(claim), Some(ledger)) = (snapshot.state.claim.as_ref(), snapshot.state.ledger.as_ref()) {
            // Suspense: money the payer sent that no line of ours took.
            if !ledger.unallocated_paid.is_zero() {
                suspense.push(serde_json::json!({
                    "claim_id": claim.id,
                    "unallocated": Money::new(ledger.unallocated_paid, ledger.currency),
                }));
            }
        }
        if snapshot.state.applied_payments.is_empty() {
            continue;
        }
        let Some(claim) = snapshot.state.claim.as_ref() else { continue };
        if let Some(record) = state.service.claim(caller.org(), claim.id).await? {
            payments.extend(payments_of(&record));
        }
    }
    payments.sort_by_key(|payment| std::cmp::Reverse(payment.posted_at));
    Ok(reply(StatusCode::OK, &serde_json::json!({ "payments": payments, "suspense": suspense })))
}

pub async fn list_denials(State(state): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    let scope = caller.read(Entity::Denial)?;
    let filter = ClaimFilter { patient: crate::auth::billing_scope(&caller, scope), ..ClaimFilter::default() };
    let now = Utc::now();
    let mut denials: Vec<DenialView> = Vec::new();
    for snapshot in state.service.list(caller.org(), filter).await? {
        let (Some(claim), Some(status)) = (snapshot.state.claim.as_ref(), snapshot.state.status) else { continue };
        denials.extend(snapshot.state.denials.iter().map(|notice| DenialView::new(claim.id, status, notice, now)));
    }
    denials.sort_by_key(|denial| denial.appeal_deadline);
    Ok(reply(StatusCode::OK, &serde_json::json!({ "denials": denials })))
}
