//! `ClaimProjection`: every claim's state per organization, folded from its events, for
//! listing and for the live stream. It is fed in order per claim (by the local service as it
//! appends, or by a journal consumer); an event already folded is skipped, so feeding the
//! same events twice is harmless (G3), and an event past a gap waits for the feed to catch up.

use super::service::{change_of, ClaimChange, ClaimFilter, ClaimSnapshot};
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::StreamExt;
use practice_protocol::claim::ClaimStatus;
use practice_protocol::claim::{ClaimEvent, ClaimState};
use practice_protocol::envelope::{EntityKind, EventEnvelope};
use practice_protocol::ids::{ClaimId, OrgId};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::broadcast;

struct Projected {
    state: ClaimState,
    created_at: DateTime<Utc>,
    last_event: Option<&'static str>,
}

impl Projected {
    fn snapshot(&self) -> ClaimSnapshot {
        ClaimSnapshot { state: self.state.clone(), created_at: self.created_at, last_event: self.last_event }
    }
}

/// One organization's claims, with the ids per status: listing one status (the exchange does
/// every pass, the dashboard often) touches only the claims in it.
#[derive(Default)]
struct OrgClaims {
    claims: HashMap<ClaimId, Projected>,
    by_status: HashMap<ClaimStatus, HashSet<ClaimId>>,
}

pub struct ClaimProjection {
    /// Keyed by organization first: no lookup crosses tenants (G8).
    orgs: Mutex<HashMap<OrgId, OrgClaims>>,
    changes: broadcast::Sender<ClaimChange>,
}

impl Default for ClaimProjection {
    fn default() -> Self {
        let (changes, _) = broadcast::channel(4096);
        Self { orgs: Mutex::default(), changes }
    }
}

impl ClaimProjection {
    fn lock(&self) -> MutexGuard<'_, HashMap<OrgId, OrgClaims>> {
        // Folding is total (`ClaimState::apply` never panics); recover a poisoned guard.
        self.orgs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fold one claim's consecutive events and announce the change. Returns how many were new.
    pub fn apply(&self, events: &[EventEnvelope<ClaimEvent>]) -> usize {
        let Some(first) = events.first() else { return 0 };
        if first.entity.kind != EntityKind::Claim {
            return 0;
        }
        let org = first.entity.org;
        let claim_id = ClaimId(first.entity.id);
        let mut orgs = self.lock();
        let OrgClaims { claims, by_status } = orgs.entry(org).or_default();
        let projected = claims.entry(claim_id).or_insert_with(|| Projected {
            state: ClaimState::default(),
            created_at: first.recorded_at,
            last_event: None,
        });
        let before = projected.state.status;
        let mut applied = Vec::new();
        for envelope in events.iter().filter(|envelope| envelope.entity == first.entity) {
            if envelope.sequence != projected.state.version + 1 {
                // Already folded, or past a gap the feed has yet to fill.
                continue;
            }
            if envelope.sequence == 1 {
                projected.created_at = envelope.recorded_at;
            }
            projected.state.apply_envelope(envelope);
            projected.last_event = Some(envelope.event.name());
            applied.push(envelope.clone());
        }
        if projected.state.claim.is_none() {
            // Events without a creation never make a visible claim.
            return applied.len();
        }
        let after = projected.state.status;
        if before != after {
            if let Some(ids) = before.and_then(|status| by_status.get_mut(&status)) {
                ids.remove(&claim_id);
            }
            if let Some(status) = after {
                by_status.entry(status).or_default().insert(claim_id);
            }
        }
        if let Some(change) = change_of(before, &projected.state, &applied) {
            // No subscriber is not an error.
            let _ = self.changes.send(change);
        }
        applied.len()
    }

    #[cfg(test)]
    pub fn state(&self, org: OrgId, claim_id: ClaimId) -> Option<ClaimSnapshot> {
        self.lock()
            .get(&org)
            .and_then(|org_claims| org_claims.claims.get(&claim_id))
            .filter(|projected| projected.state.claim.is_some())
            .map(Projected::snapshot)
    }

    /// The organization's claims matching `filter`, newest first.
    pub fn list(&self, org: OrgId, filter: &ClaimFilter) -> Vec<ClaimSnapshot> {
        let orgs = self.lock();
        let Some(org_claims) = orgs.get(&org) else { return Vec::new() };
        let matching = |projected: &&Projected| filter.matches(&projected.state);
        let mut snapshots: Vec<ClaimSnapshot> = match filter.status {
            Some(status) => org_claims
                .by_status
                .get(&status)
                .into_iter()
                .flatten()
                .filter_map(|claim_id| org_claims.claims.get(claim_id))
                .filter(matching)
                .map(Projected::snapshot)
                .collect(),
            None => org_claims.claims.values().filter(matching).map(Projected::snapshot).collect(),
        };
        drop(orgs);
        snapshots.sort_by_key(|snapshot| std::cmp::Reverse(snapshot.created_at));
        if let Some(limit) = filter.limit {
            snapshots.truncate(limit);
        }
        snapshots
    }

    /// Changes of `org`'s claims from now on. A reader too slow for the buffer skips what it
    /// missed rather than holding everyone up; the dashboard re-reads on its next load.
    pub fn subscribe(&self, org: OrgId) -> BoxStream<'static, ClaimChange> {
        let receiver = self.changes.subscribe();
        futures::stream::unfold(receiver, move |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(change) if change.org == org => return Some((change, receiver)),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        })
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::sample;
    use practice_protocol::claim::ClaimStatus;
    use practice_protocol::ids::{PatientId, UserId};
    use practice_protocol::money::Currency;
    use practice_protocol::roles::{Actor, Role};
    use practice_protocol::shard::claim_ref;

    fn events(org: OrgId) -> Vec<EventEnvelope<ClaimEvent>> {
        let claim = sample::encounter(org, PatientId::new_v4()).to_primary_claim(Currency::USD).unwrap();
        let entity = claim_ref(org, claim.id);
        let actor = Actor::User { org, user: UserId::new_v4(), role: Role::BillingManager };
        let at = Utc::now();
        vec![
            EventEnvelope::new(entity, 1, at, actor.clone(), None, ClaimEvent::Created { claim: Box::new(claim) }),
            EventEnvelope::new(entity, 2, at, actor.clone(), None, ClaimEvent::ScrubPassed { warnings: Vec::new() }),
            EventEnvelope::new(entity, 3, at, actor, None, ClaimEvent::Voided { reason: "duplicate".into() }),
        ]
    }

    #[test]
    fn folds_once_waits_across_gaps_and_keeps_orgs_apart() {
        let projection = ClaimProjection::default();
        let org = OrgId::new_v4();
        let events = events(org);
        let claim_id = ClaimId(events[0].entity.id);
        // A later event first: it waits for the gap to fill.
        assert_eq!(projection.apply(&events[2..]), 0);
        assert!(projection.state(org, claim_id).is_none());
        assert_eq!(projection.apply(&events[..2]), 2);
        assert_eq!(projection.apply(&events), 1);
        assert_eq!(projection.apply(&events), 0, "a redelivery changes nothing");
        let snapshot = projection.state(org, claim_id).unwrap();
        assert_eq!((snapshot.state.status, snapshot.state.version), (Some(ClaimStatus::Voided), 3));
        assert!(projection.state(OrgId::new_v4(), claim_id).is_none());
        assert!(projection.list(OrgId::new_v4(), &ClaimFilter::default()).is_empty());
        assert_eq!(projection.list(org, &ClaimFilter::default()).len(), 1);
        // The status index follows the claim: Voided only, not where it passed through.
        let of = |status| projection.list(org, &ClaimFilter { status: Some(status), ..ClaimFilter::default() }).len();
        assert_eq!((of(ClaimStatus::Voided), of(ClaimStatus::Draft), of(ClaimStatus::Scrubbed)), (1, 0, 0));
    }
}
