//! `LocalClaimService`: the claim service in one process, over the protocol's real `decide`
//! and `ClaimState::apply`, with histories in memory. It is what `practice serve` runs when no
//! backbone node is wired in, and what the API tests run against: every answer comes from the
//! state machine, none is canned.

use super::service::{
    change_of, ClaimChange, ClaimFilter, ClaimRecord, ClaimService, ClaimSnapshot, CommandError, ServiceError,
};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{FutureExt, StreamExt};
use practice_protocol::claim::{decide, ClaimCommand, ClaimEvent, ClaimState, DecideContext, Rejection};
use practice_protocol::envelope::{CommandEnvelope, EntityKind, EventEnvelope};
use practice_protocol::ids::{ClaimId, OrgId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

struct Entry {
    state: ClaimState,
    history: Vec<EventEnvelope<ClaimEvent>>,
    created_at: DateTime<Utc>,
}

/// Claims keyed by organization first, so no lookup can cross tenants (G8).
#[derive(Default)]
struct Store {
    orgs: HashMap<OrgId, HashMap<ClaimId, Entry>>,
}

pub struct LocalClaimService {
    store: Mutex<Store>,
    changes: broadcast::Sender<ClaimChange>,
    context: Box<dyn Fn() -> DecideContext + Send + Sync>,
    ready: AtomicBool,
}

impl LocalClaimService {
    pub fn new() -> Arc<Self> {
        Self::with_context(|| DecideContext::at(Utc::now()))
    }

    pub fn with_context(context: impl Fn() -> DecideContext + Send + Sync + 'static) -> Arc<Self> {
        let (changes, _) = broadcast::channel(4096);
        Arc::new(Self { store: Mutex::default(), changes, context: Box::new(context), ready: AtomicBool::new(true) })
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave a half-applied claim: events are
        // appended only after `decide` succeeded, in one push. Recover the guard.
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
        let claims = store.orgs.entry(org).or_default();
        let empty = ClaimState::default();
        let state = claims.get(&claim_id).map(|entry| &entry.state).unwrap_or(&empty);
        let events = decide(state, envelope.command_id, &envelope.command, &envelope.actor, &context)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let entry = claims.entry(claim_id).or_insert_with(|| Entry {
            state: ClaimState::default(),
            history: Vec::new(),
            created_at: context.now,
        });
        let before = entry.state.status;
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
        if let Some(change) = change_of(before, &entry.state, &appended) {
            // No subscriber is not an error.
            let _ = self.changes.send(change);
        }
        Ok(appended)
    }

    #[cfg(test)]
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::SeqCst);
    }
}

impl ClaimService for LocalClaimService {
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
            .orgs
            .get(&org)
            .and_then(|claims| claims.get(&id))
            .map(|entry| ClaimRecord { state: entry.state.clone(), history: entry.history.clone() });
        async move { Ok(record) }.boxed()
    }

    fn list(&self, org: OrgId, filter: ClaimFilter) -> BoxFuture<'_, Result<Vec<ClaimSnapshot>, ServiceError>> {
        let mut snapshots: Vec<ClaimSnapshot> = self
            .lock()
            .orgs
            .get(&org)
            .map(|claims| {
                claims
                    .values()
                    .filter(|entry| filter.matches(&entry.state))
                    .map(|entry| ClaimSnapshot { state: entry.state.clone(), created_at: entry.created_at })
                    .collect()
            })
            .unwrap_or_default();
        snapshots.sort_by_key(|snapshot| std::cmp::Reverse(snapshot.created_at));
        if let Some(limit) = filter.limit {
            snapshots.truncate(limit);
        }
        async move { Ok(snapshots) }.boxed()
    }

    fn subscribe(&self, org: OrgId) -> BoxStream<'static, ClaimChange> {
        let receiver = self.changes.subscribe();
        futures::stream::unfold(receiver, move |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(change) if change.org == org => return Some((change, receiver)),
                    Ok(_) => continue,
                    // A slow reader misses changes rather than holding everyone up; the
                    // dashboard re-reads on its next page load.
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }

    fn ready(&self) -> bool {
        self.ready.load(Ordering::SeqCst)
    }
}
