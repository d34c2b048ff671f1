//! The suspense queue: what inbound payer traffic could not place (an 835 payment that matched
//! no claim, a 999 for a batch never sent, a 277CA naming no claim of ours), journaled on the
//! practice entity, and how a biller closes an item. **Post** puts its money on the claim it
//! belongs to, as a payment posting on that claim (so the claim's ledger and G7 stay exact),
//! then marks the item posted. **Dismiss** closes it with a reason (returned to the payer, a
//! duplicate, ...): a money decision, so it takes the write-off right.
//!
//! Retrying is safe: the posting's payment id comes from the item and how many of its twins
//! (identical items) were already closed, so the claim takes it once.

use super::claims::{run_command, visible_claim};
use super::error::ApiError;
use super::json::{body_json, reply, ApiJson};
use super::service::PracticeCommandError;
use super::AppState;
use crate::auth::rbac::{Action, Entity, Scope};
use crate::auth::Caller;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{NaiveDate, Utc};
use practice_actors::runtime::PolicyBook;
use practice_protocol::claim::{decide, ClaimCommand, DecideContext, PostingKind, RemittancePosting};
use practice_protocol::domain::PaymentMethod;
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::{ClaimId, CommandId, PaymentId};
use practice_protocol::practice::{PracticeCommand, PracticeRejection, PracticeState, SuspenseResolution};
use practice_protocol::remit_ledger::SuspenseEntry;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Default, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    #[default]
    Open,
    Resolved,
    All,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub status: StatusFilter,
}

#[derive(Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ResolveRequest {
    /// Post the item's money to this claim (paid on `paid_on`, today when absent).
    Post {
        claim_id: ClaimId,
        paid_on: Option<NaiveDate>,
    },
    Dismiss {
        reason: String,
    },
}

#[derive(Serialize)]
struct ItemView<'a> {
    id: CommandId,
    status: &'static str,
    #[serde(flatten)]
    entry: &'a SuspenseEntry,
    #[serde(skip_serializing_if = "Option::is_none")]
    resolution: Option<&'a SuspenseResolution>,
}

fn suspense_reader(caller: &Caller) -> Result<(), ApiError> {
    // The queue is the practice's books: nobody with only their own rows (a patient) sees it.
    match caller.read(Entity::Payment)? {
        Scope::All => Ok(()),
        _ => Err(ApiError::forbidden("the suspense queue needs a staff role")),
    }
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    suspense_reader(&caller)?;
    let Query(query) = query.map_err(|rejection| ApiError::bad_request("validation_failed", rejection.body_text()))?;
    let practice = state.service.practice(caller.org()).await?;
    let mut items = Vec::new();
    if query.status != StatusFilter::Resolved {
        items.extend(practice.suspense.iter().map(|entry| ItemView {
            id: entry.id(),
            status: "open",
            entry,
            resolution: None,
        }));
    }
    if query.status != StatusFilter::Open {
        items.extend(practice.resolved_suspense.iter().map(|closed| ItemView {
            id: closed.item,
            status: "resolved",
            entry: &closed.entry,
            resolution: Some(&closed.resolution),
        }));
    }
    Ok(reply(StatusCode::OK, &serde_json::json!({ "suspense": items })))
}

/// The open item `id`, or why there is none: resolved already (409) or never ours (404).
fn open_item(practice: &PracticeState, id: CommandId) -> Result<SuspenseEntry, ApiError> {
    match practice.suspense.iter().find(|entry| entry.id() == id) {
        Some(entry) => Ok(entry.clone()),
        None if practice.resolved_suspense.iter().any(|closed| closed.item == id) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "already_resolved",
            format!("suspense item {id} is already resolved"),
        )),
        None => Err(ApiError::not_found("suspense item")),
    }
}

pub async fn resolve(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<ResolveRequest>,
) -> Result<Response, ApiError> {
    let id: CommandId = id.parse().map_err(|_| ApiError::not_found("suspense item"))?;
    match &request {
        ResolveRequest::Post { .. } => caller.require(Entity::Payment, Action::PostRemittance)?,
        ResolveRequest::Dismiss { .. } => caller.require(Entity::Claim, Action::WriteOff)?,
    }
    let practice = state.service.practice(caller.org()).await?;
    let entry = open_item(&practice, id)?;
    let (resolution, posted) = match request {
        ResolveRequest::Dismiss { reason } => {
            if reason.trim().is_empty() {
                return Err(ApiError::unprocessable("missing_field", "reason must not be empty").at("reason"));
            }
            (SuspenseResolution::Dismissed { reason }, None)
        }
        ResolveRequest::Post { claim_id, paid_on } => {
            let twins = practice.resolved_suspense.iter().filter(|closed| closed.item == id).count();
            let posting = posting(&caller, id, twins, &entry, paid_on.unwrap_or_else(|| Utc::now().date_naive()))?;
            let record = visible_claim(&state, &caller, claim_id, Entity::Payment).await?;
            let command = ClaimCommand::PostRemittance { posting: Box::new(posting) };
            // Dry run first: a claim that cannot take the money leaves the item open.
            decide(&record.state, CommandId::new_v4(), &command, &caller.actor, &DecideContext::at(Utc::now()))
                .map_err(|rejection| ApiError::from(rejection).at("claim_id"))?;
            let response = run_command(&state, &caller, &headers, claim_id, command, StatusCode::OK).await?;
            (SuspenseResolution::Posted { claim_id }, Some(body_json(response).await))
        }
    };
    let envelope = CommandEnvelope {
        command_id: CommandId::new_v4(),
        entity: PolicyBook::practice_ref(caller.org()),
        issued_at: Utc::now(),
        actor: caller.actor.clone(),
        command: PracticeCommand::ResolveSuspense { item: id, resolution: resolution.clone() },
    };
    state.service.execute_practice(envelope).await.map_err(|error| match error {
        PracticeCommandError::Rejected(PracticeRejection::Forbidden { .. }) => {
            ApiError::forbidden("your role may not resolve this suspense item")
        }
        // Closed by someone else between our read and this command.
        PracticeCommandError::Rejected(PracticeRejection::UnknownSuspense { .. }) => {
            ApiError::new(StatusCode::CONFLICT, "already_resolved", format!("suspense item {id} is already resolved"))
        }
        PracticeCommandError::Rejected(other) => ApiError::unprocessable("validation_failed", other.to_string()),
        PracticeCommandError::Service(service) => service.into(),
    })?;
    let body = serde_json::json!({ "id": id, "status": "resolved", "resolution": resolution, "posted": posted });
    Ok(reply(StatusCode::OK, &body))
}

/// The payment posting that moves `entry`'s money onto a claim.
fn posting(
    caller: &Caller,
    id: CommandId,
    twins: usize,
    entry: &SuspenseEntry,
    paid_on: NaiveDate,
) -> Result<RemittancePosting, ApiError> {
    let Some(paid) = entry.amount else {
        return Err(ApiError::unprocessable(
            "nothing_to_post",
            "this suspense item carries no money (a 999 or 277CA item): dismiss it instead",
        ));
    };
    paid.non_negative("amount")?;
    Ok(RemittancePosting {
        payment_id: PaymentId::derived(&[
            b"suspense",
            caller.org().0.as_bytes(),
            id.0.as_bytes(),
            &(twins as u64).to_be_bytes(),
        ]),
        kind: PostingKind::Original,
        payer_name: entry.payer.clone().unwrap_or_else(|| "unidentified payer".to_string()),
        method: PaymentMethod::Eft,
        era_trace_number: Some(entry.reference.clone()),
        payer_claim_control_number: entry.payer_claim_control_number.clone(),
        claim_status_code: "1".to_string(),
        paid,
        claim_adjustments: Vec::new(),
        lines: Vec::new(),
        remark_codes: Vec::new(),
        paid_on,
    })
}
