//! `LocalClaimService`: the claim service in one process, over the protocol's real `decide`
//! and `ClaimState::apply`, with histories in memory. It is what `practice serve` runs when no
//! backbone node is wired in, and what the API tests run against: every answer comes from the
//! state machine, none is canned.

use super::projection::ClaimProjection;
use super::service::{
    ClaimChange, ClaimFilter, ClaimRecord, ClaimService, ClaimSnapshot, CommandError, PracticeCommandError,
    ServiceError,
};
use chrono::Utc;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::FutureExt;
use practice_protocol::claim::{decide, ClaimCommand, ClaimEvent, ClaimState, DecideContext, Rejection};
use practice_protocol::envelope::{CommandEnvelope, EntityKind, EventEnvelope};
use practice_protocol::ids::{ClaimId, OrgId};
use practice_protocol::practice::{decide_practice, PracticeCommand, PracticeRejection, PracticeState};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

#[derive(Default)]
struct Entry {
    state: ClaimState,
    history: Vec<EventEnvelope<ClaimEvent>>,
}

pub struct LocalClaimService {
    /// Claims keyed by organization first, so no lookup can cross tenants (G8).
    store: Mutex<HashMap<OrgId, HashMap<ClaimId, Entry>>>,
    projection: ClaimProjection,
    /// Each organization's practice entity, folded from its events the same way.
    practices: Mutex<HashMap<OrgId, PracticeState>>,
    context: Box<dyn Fn() -> DecideContext + Send + Sync>,
    ready: AtomicBool,
}

impl LocalClaimService {
    pub fn new() -> Arc<Self> {
        Self::with_context(|| DecideContext::at(Utc::now()))
    }

    pub fn with_context(context: impl Fn() -> DecideContext + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self {
            store: Mutex::default(),
            projection: ClaimProjection::default(),
            practices: Mutex::default(),
            context: Box::new(context),
            ready: AtomicBool::new(true),
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<OrgId, HashMap<ClaimId, Entry>>> {
        // Events are appended only after `decide` succeeded, in one step: a panic elsewhere
        // cannot leave a half-applied claim. Recover the guard.
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn execute_now(
        &self,
        envelope: CommandEnvelope<ClaimCommand>,
    ) -> Result<Vec<EventEnvelope<ClaimEvent>>, CommandError> {
        if !self.ready.load(Ordering::SeqCst) {
            return Err(ServiceError::Unavailable("the node is not ready".to_string()).into());
        }
        if envelope.entity.kind != EntityKind::Claim || envelope.entity.org != envelope.actor.org() {
            return Err(Rejection::WrongOrganization.into());
        }
        let org = envelope.entity.org;
        let claim_id = ClaimId(envelope.entity.id);
        let context = (self.context)();
        let mut store = self.lock();
        let claims = store.entry(org).or_default();
        let empty = ClaimState::default();
        let state = claims.get(&claim_id).map(|entry| &entry.state).unwrap_or(&empty);
        let events = decide(state, envelope.command_id, &envelope.command, &envelope.actor, &context)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let entry = claims.entry(claim_id).or_default();
        let first_sequence = entry.state.version + 1;
        let appended: Vec<EventEnvelope<ClaimEvent>> = events
            .into_iter()
            .enumerate()
            .map(|(offset, event)| {
                EventEnvelope::new(
                    envelope.entity,
                    first_sequence + offset as u64,
                    context.now,
                    envelope.actor.clone(),
                    Some(envelope.command_id),
                    event,
                )
            })
            .collect();
        for event in &appended {
            entry.state.apply_envelope(event);
        }
        entry.history.extend(appended.iter().cloned());
        // Still under the store lock: the projection sees each claim's events in order.
        self.projection.apply(&appended);
        Ok(appended)
    }

    fn execute_practice_now(&self, envelope: CommandEnvelope<PracticeCommand>) -> Result<(), PracticeCommandError> {
        if !self.ready.load(Ordering::SeqCst) {
            return Err(ServiceError::Unavailable("the node is not ready".to_string()).into());
        }
        if envelope.entity.kind != EntityKind::Practice || envelope.entity.org != envelope.actor.org() {
            return Err(PracticeRejection::Forbidden { command: envelope.command.name().to_string() }.into());
        }
        let now = (self.context)().now;
        let mut practices = self.practices.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = practices.entry(envelope.entity.org).or_default();
        for event in decide_practice(state, envelope.command_id, &envelope.command, &envelope.actor)? {
            let sequence = state.version + 1;
            let actor = envelope.actor.clone();
            state.apply_envelope(&EventEnvelope::new(
                envelope.entity,
                sequence,
                now,
                actor,
                Some(envelope.command_id),
                event,
            ));
        }
        Ok(())
    }

    #[cfg(test)]
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

impl ClaimService for LocalClaimService {
    fn practice(&self, org: OrgId) -> BoxFuture<'_, Result<PracticeState, ServiceError>> {
        let practices = self.practices.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let state = practices.get(&org).cloned().unwrap_or_default();
        async move { Ok(state) }.boxed()
    }

    fn execute_practice(
        &self,
        envelope: CommandEnvelope<PracticeCommand>,
    ) -> BoxFuture<'_, Result<(), PracticeCommandError>> {
        let result = self.execute_practice_now(envelope);
        async move { result }.boxed()
    }

    fn execute(
        &self,
        envelope: CommandEnvelope<ClaimCommand>,
    ) -> BoxFuture<'_, Result<Vec<EventEnvelope<ClaimEvent>>, CommandError>> {
        let result = self.execute_now(envelope);
        async move { result }.boxed()
    }

    fn claim(&self, org: OrgId, id: ClaimId) -> BoxFuture<'_, Result<Option<ClaimRecord>, ServiceError>> {
        let record = self
            .lock()
            .get(&org)
            .and_then(|claims| claims.get(&id))
            .map(|entry| ClaimRecord { state: entry.state.clone(), history: entry.history.clone() });
        async move { Ok(record) }.boxed()
    }

    fn list(&self, org: OrgId, filter: ClaimFilter) -> BoxFuture<'_, Result<Vec<ClaimSnapshot>, ServiceError>> {
        let snapshots = self.projection.list(org, &filter);
        async move { Ok(snapshots) }.boxed()
    }

    fn subscribe(&self, org: OrgId) -> BoxStream<'static, ClaimChange> {
        self.projection.subscribe(org)
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}
