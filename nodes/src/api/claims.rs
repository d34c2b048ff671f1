//! Claim routes: create (directly or from an encounter), read, list, history, lines, and the
//! commands (scrub, sign off, submit, void, appeal, write off, amend lines). Each command is
//! checked against the RBAC table here and by the protocol's `decide` in the service.

use super::error::ApiError;
use super::json::{reply, ApiJson, IdPath};
use super::service::ClaimFilter;
use super::views::{timeline, ClaimView};
use super::AppState;
use crate::auth::rbac::{Action, Entity, Scope};
use crate::auth::Caller;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use practice_protocol::claim::{ClaimCommand, ClaimStatus, ScrubFinding};
use practice_protocol::codes::Icd10;
use practice_protocol::domain::{Claim, ClaimLine, Encounter};
use practice_protocol::envelope::CommandEnvelope;
use practice_protocol::ids::{ClaimId, CommandId, PatientId};
use practice_protocol::money::Currency;
use practice_protocol::shard::{claim_ref, shard_of, DEFAULT_SHARD_COUNT};
use serde::Deserialize;

/// Clients may send `Idempotency-Key`; the same key on the same claim is one command (G3).
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmendLines {
    pub diagnoses: Vec<Icd10>,
    pub lines: Vec<ClaimLine>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ScrubRequest {
    #[serde(default)]
    pub findings: Vec<ScrubFinding>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub tracking_id: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppealRequest {
    pub note: String,
    #[serde(default)]
    pub corrected_lines: Option<Vec<ClaimLine>>,
    #[serde(default)]
    pub payer_claim_control_number: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    pub status: Option<ClaimStatus>,
    #[serde(default)]
    pub patient_id: Option<PatientId>,
    #[serde(default)]
    pub payer_id: Option<String>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Put the claim and its shard on the request's span (never PHI).
pub fn record_claim(caller: &Caller, claim_id: ClaimId) {
    let shard = shard_of(&claim_ref(caller.org(), claim_id), DEFAULT_SHARD_COUNT);
    let span = tracing::Span::current();
    span.record("claim_id", tracing::field::display(claim_id));
    span.record("shard", shard.0);
}

fn command_id(headers: &HeaderMap, caller: &Caller, claim_id: ClaimId, command: &str) -> CommandId {
    match headers.get(IDEMPOTENCY_HEADER).and_then(|value| value.to_str().ok()) {
        Some(key) => {
            CommandId::derived(&[caller.org().0.as_bytes(), claim_id.0.as_bytes(), command.as_bytes(), key.as_bytes()])
        }
        None => CommandId::new_v4(),
    }
}

/// Send `command` for `claim_id` and answer with the claim as it now is.
pub async fn run_command(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    claim_id: ClaimId,
    command: ClaimCommand,
    success: StatusCode,
) -> Result<Response, ApiError> {
    record_claim(caller, claim_id);
    let envelope = CommandEnvelope {
        command_id: command_id(headers, caller, claim_id, command.name()),
        entity: claim_ref(caller.org(), claim_id),
        issued_at: Utc::now(),
        actor: caller.actor.clone(),
        command,
    };
    let name = envelope.command.name();
    let result = state.service.execute(envelope).await;
    state.metrics.command(name, result.as_ref().map(|_| "accepted").unwrap_or("refused"));
    let events = result?;
    let record = state.service.claim(caller.org(), claim_id).await?.ok_or_else(|| ApiError::not_found("claim"))?;
    let view = ClaimView::from_record(&record, Utc::now()).ok_or_else(|| ApiError::not_found("claim"))?;
    let names: Vec<&str> = events.iter().map(|event| event.event.name()).collect();
    Ok(reply(success, &serde_json::json!({ "claim": view, "events": names })))
}

fn check_org(caller: &Caller, claim: &Claim) -> Result<(), ApiError> {
    if claim.org != caller.org() {
        return Err(
            ApiError::unprocessable("validation_failed", "org must be the organization of your token").at("org")
        );
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(claim): ApiJson<Claim>,
) -> Result<Response, ApiError> {
    caller.require(Entity::Claim, Action::Create)?;
    check_org(&caller, &claim)?;
    let claim_id = claim.id;
    run_command(
        &state,
        &caller,
        &headers,
        claim_id,
        ClaimCommand::Create { claim: Box::new(claim) },
        StatusCode::CREATED,
    )
    .await
}

pub async fn create_from_encounter(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(encounter): ApiJson<Encounter>,
) -> Result<Response, ApiError> {
    caller.require(Entity::Claim, Action::Create)?;
    if encounter.org != caller.org() {
        return Err(
            ApiError::unprocessable("validation_failed", "org must be the organization of your token").at("org")
        );
    }
    let currency = encounter.lines.first().map(|line| line.charge.currency).unwrap_or(Currency::USD);
    let claim = encounter.to_primary_claim(currency).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .map(ApiError::from)
            .unwrap_or_else(|| ApiError::unprocessable("validation_failed", "invalid encounter"))
    })?;
    let claim_id = claim.id;
    run_command(
        &state,
        &caller,
        &headers,
        claim_id,
        ClaimCommand::Create { claim: Box::new(claim) },
        StatusCode::CREATED,
    )
    .await
}

/// A claim the caller may see: 404 when it is absent, in another org, or not the patient's own.
pub async fn visible_claim(
    state: &AppState,
    caller: &Caller,
    claim_id: ClaimId,
    entity: Entity,
) -> Result<super::service::ClaimRecord, ApiError> {
    let scope = caller.read(entity)?;
    record_claim(caller, claim_id);
    let record = state.service.claim(caller.org(), claim_id).await?.ok_or_else(|| ApiError::not_found("claim"))?;
    let patient =
        record.state.claim.as_ref().map(|claim| claim.patient.id).ok_or_else(|| ApiError::not_found("claim"))?;
    if !caller.sees_patient(scope, patient) {
        return Err(ApiError::not_found("claim"));
    }
    Ok(record)
}

pub async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(claim_id): IdPath<ClaimId>,
) -> Result<Response, ApiError> {
    let record = visible_claim(&state, &caller, claim_id, Entity::Claim).await?;
    let mut view = ClaimView::from_record(&record, Utc::now()).ok_or_else(|| ApiError::not_found("claim"))?;
    if crate::auth::rbac::read_scope(caller.role, Entity::ClaimLine) == Scope::None {
        view.lines.clear();
    }
    Ok(reply(StatusCode::OK, &view))
}

pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(claim_id): IdPath<ClaimId>,
) -> Result<Response, ApiError> {
    let record = visible_claim(&state, &caller, claim_id, Entity::Claim).await?;
    Ok(reply(StatusCode::OK, &serde_json::json!({ "claim_id": claim_id, "events": timeline(&record.history) })))
}

pub async fn lines(
    State(state): State<AppState>,
    caller: Caller,
    IdPath(claim_id): IdPath<ClaimId>,
) -> Result<Response, ApiError> {
    let record = visible_claim(&state, &caller, claim_id, Entity::ClaimLine).await?;
    let lines = record.state.claim.as_ref().map(|claim| claim.lines.clone()).unwrap_or_default();
    let ledger = record.state.ledger.as_ref().map(|ledger| ledger.lines.clone()).unwrap_or_default();
    Ok(reply(StatusCode::OK, &serde_json::json!({ "claim_id": claim_id, "lines": lines, "ledger": ledger })))
}

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let scope = caller.read(Entity::Claim)?;
    let Query(query) = query.map_err(|rejection| ApiError::bad_request("validation_failed", rejection.body_text()))?;
    let filter = ClaimFilter {
        status: query.status,
        // A patient lists only their own claims whatever they ask for.
        patient: if scope == Scope::Own { caller.own_patient() } else { query.patient_id },
        payer_id: query.payer_id,
        limit: Some(query.limit.unwrap_or(500).min(5000)),
    };
    let now = Utc::now();
    let snapshots = state.service.list(caller.org(), filter).await?;
    let views: Vec<ClaimView> =
        snapshots.iter().filter_map(|snapshot| ClaimView::from_snapshot(snapshot, now)).collect();
    Ok(reply(StatusCode::OK, &serde_json::json!({ "claims": views })))
}

async fn command_route(
    state: AppState,
    caller: Caller,
    headers: HeaderMap,
    claim_id: ClaimId,
    entity: Entity,
    action: Action,
    command: ClaimCommand,
) -> Result<Response, ApiError> {
    caller.require(entity, action)?;
    run_command(&state, &caller, &headers, claim_id, command, StatusCode::OK).await
}

pub async fn amend_lines(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    IdPath(claim_id): IdPath<ClaimId>,
    ApiJson(body): ApiJson<AmendLines>,
) -> Result<Response, ApiError> {
    let command = ClaimCommand::AmendCoding { diagnoses: body.diagnoses, lines: body.lines };
    command_route(state, caller, headers, claim_id, Entity::ClaimLine, Action::EditLines, command).await
}

pub async fn scrub(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    IdPath(claim_id): IdPath<ClaimId>,
    ApiJson(body): ApiJson<ScrubRequest>,
) -> Result<Response, ApiError> {
    let command = ClaimCommand::Scrub { findings: body.findings };
    command_route(state, caller, headers, claim_id, Entity::Claim, Action::Scrub, command).await
}

pub async fn sign_off(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    IdPath(claim_id): IdPath<ClaimId>,
) -> Result<Response, ApiError> {
    command_route(state, caller, headers, claim_id, Entity::Claim, Action::SignOff, ClaimCommand::SignOff).await
}

/// Ask the payer where the claim stands: the node's clearinghouse link sends a 276 for it on
/// its next pass, and the 277 lands in the claim's history.
pub async fn request_status(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    IdPath(claim_id): IdPath<ClaimId>,
) -> Result<Response, ApiError> {
    let command = ClaimCommand::RequestStatus;
    command_route(state, caller, headers, claim_id, Entity::Claim, Action::RequestStatus, command).await
}

pub async fn submit(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    IdPath(claim_id): IdPath<ClaimId>,
    ApiJson(body): ApiJson<SubmitRequest>,
) -> Result<Response, ApiError> {
    let command = ClaimCommand::Submit { tracking_id: body.tracking_id };
    command_route(state, caller, headers, claim_id, Entity::Claim, Action::Submit, command).await
}

pub async fn void(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    IdPath(claim_id): IdPath<ClaimId>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Response, ApiError> {
    let command = ClaimCommand::Void { reason: body.reason };
    command_route(state, caller, headers, claim_id, Entity::Claim, Action::Void, command).await
}

pub async fn write_off(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    IdPath(claim_id): IdPath<ClaimId>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> Result<Response, ApiError> {
    let command = ClaimCommand::WriteOff { reason: body.reason };
    command_route(state, caller, headers, claim_id, Entity::Claim, Action::WriteOff, command).await
}

pub async fn appeal(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    IdPath(claim_id): IdPath<ClaimId>,
    ApiJson(body): ApiJson<AppealRequest>,
) -> Result<Response, ApiError> {
    let command = ClaimCommand::Appeal {
        corrected_lines: body.corrected_lines,
        payer_claim_control_number: body.payer_claim_control_number,
        note: body.note,
    };
    command_route(state, caller, headers, claim_id, Entity::Denial, Action::Appeal, command).await
}
