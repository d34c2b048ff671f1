//! The one seam between the HTTP layer and whatever runs claims: the handlers call
//! `ClaimService`, never an actor or a journal. `LocalClaimService` (in `local.rs`) runs the
//! protocol's `decide` in process; the backbone's node handle implements the same trait.

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use practice_protocol::claim::{ClaimCommand, ClaimEvent, ClaimState, ClaimStatus, Rejection};
use practice_protocol::envelope::{CommandEnvelope, EventEnvelope};
use practice_protocol::ids::{ClaimId, OrgId, PatientId};
use practice_protocol::practice::{PracticeCommand, PracticeRejection, PracticeState};
use serde::Serialize;

/// A claim's current state and its full history, oldest event first.
#[derive(Clone, Debug)]
pub struct ClaimRecord {
    pub state: ClaimState,
    pub history: Vec<EventEnvelope<ClaimEvent>>,
}

/// A claim's state for lists and reports.
#[derive(Clone, Debug)]
pub struct ClaimSnapshot {
    pub state: ClaimState,
    pub created_at: DateTime<Utc>,
    /// The name of the claim's latest event (the pill shows "Rejected" after a rejection).
    pub last_event: Option<&'static str>,
}

/// Filters for listing an organization's claims.
#[derive(Clone, Debug, Default)]
pub struct ClaimFilter {
    pub status: Option<ClaimStatus>,
    pub patient: Option<PatientId>,
    pub payer_id: Option<String>,
    pub limit: Option<usize>,
}

impl ClaimFilter {
    pub fn matches(&self, state: &ClaimState) -> bool {
        let Some(claim) = state.claim.as_ref() else { return false };
        self.status.is_none_or(|status| state.status == Some(status))
            && self.patient.is_none_or(|patient| claim.patient.id == patient)
            && self
                .payer_id
                .as_deref()
                .is_none_or(|payer| claim.coverage().is_some_and(|coverage| coverage.payer.payer_id.as_str() == payer))
    }
}

/// A claim's state changed: what the live stream carries. No PHI: ids, status, event names.
#[derive(Clone, Debug, Serialize)]
pub struct ClaimChange {
    #[serde(skip)]
    pub org: OrgId,
    /// Used to filter a patient's stream; not sent.
    #[serde(skip)]
    pub patient: PatientId,
    pub claim_id: ClaimId,
    pub previous: Option<ClaimStatus>,
    pub status: Option<ClaimStatus>,
    pub events: Vec<&'static str>,
    pub sequence: u64,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, thiserror::Error)]
// `Timeout` and `Internal` come from a remote node handle (the backbone adapter).
#[cfg_attr(not(test), allow(dead_code))]
pub enum ServiceError {
    #[error("the claim service is not available: {0}")]
    Unavailable(String),
    #[error("the claim service did not answer in time")]
    Timeout,
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

#[derive(Clone, Debug, thiserror::Error)]
pub enum PracticeCommandError {
    #[error(transparent)]
    Rejected(#[from] PracticeRejection),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What the API needs from the claim backbone.
pub trait ClaimService: Send + Sync + 'static {
    /// The organization's practice entity (its suspense queue). A service without practice
    /// entities (the in-process test service) has none to give.
    fn practice(&self, _org: OrgId) -> BoxFuture<'_, Result<PracticeState, ServiceError>> {
        Box::pin(async { Err(ServiceError::Unavailable("this service keeps no practice entities".into())) })
    }

    /// Run one command on the organization's practice entity.
    fn execute_practice(
        &self,
        _envelope: CommandEnvelope<PracticeCommand>,
    ) -> BoxFuture<'_, Result<(), PracticeCommandError>> {
        Box::pin(async {
            Err(PracticeCommandError::Service(ServiceError::Unavailable(
                "this service keeps no practice entities".into(),
            )))
        })
    }

    /// Run one command; the events it appended (none when it was already applied, G3).
    fn execute(
        &self,
        envelope: CommandEnvelope<ClaimCommand>,
    ) -> BoxFuture<'_, Result<Vec<EventEnvelope<ClaimEvent>>, CommandError>>;

    /// A claim of `org`; `None` when it does not exist in that organization (G8).
    fn claim(&self, org: OrgId, id: ClaimId) -> BoxFuture<'_, Result<Option<ClaimRecord>, ServiceError>>;

    /// The organization's claims matching `filter`, newest first.
    fn list(&self, org: OrgId, filter: ClaimFilter) -> BoxFuture<'_, Result<Vec<ClaimSnapshot>, ServiceError>>;

    /// Wait until every claim event journaled before this call shows in `list`. A projection
    /// that follows the journal from behind can miss what another node appended a moment ago
    /// (or, after this process was paused, minutes ago); a caller that must not act on a
    /// missing claim asks for this first. The in-process services are never behind.
    fn catch_up(&self) -> BoxFuture<'_, Result<(), ServiceError>> {
        Box::pin(async { Ok(()) })
    }

    /// Every state change of `org`'s claims from now on.
    fn subscribe(&self, org: OrgId) -> BoxStream<'static, ClaimChange>;

    /// Whether the service can take commands (for `/readyz`).
    fn ready(&self) -> bool;
}

/// The change a batch of appended events makes, for the live stream.
pub fn change_of(
    before: Option<ClaimStatus>,
    after: &ClaimState,
    events: &[EventEnvelope<ClaimEvent>],
) -> Option<ClaimChange> {
    let last = events.last()?;
    let claim = after.claim.as_ref()?;
    Some(ClaimChange {
        org: claim.org,
        patient: claim.patient.id,
        claim_id: claim.id,
        previous: before,
        status: after.status,
        events: events.iter().map(|envelope| envelope.event.name()).collect(),
        sequence: last.sequence,
        at: last.recorded_at,
    })
}
