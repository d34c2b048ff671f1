//! The events a node's module consumers decoded lately, shared between them. The five
//! consumers read the same shards at about the same time; each decoding every event for
//! itself was five decodes per event, in one burst per poll (6.6 % of a JetStream node's CPU
//! in the bench). An event never changes at its (shard, position), so whichever consumer
//! comes first decodes it and the others take the same one.

use super::AnyEvent;
use crate::entity::SendError;
use crate::journal::StoredEvent;
use practice_protocol::shard::ShardId;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

/// Events kept: about a second of a node's peak rate, so consumers polling once a second
/// share their pages; one that fell further behind decodes for itself.
const KEPT: usize = 16_384;

pub struct DecodedEvents {
    kept: Mutex<Kept>,
    capacity: usize,
}

#[derive(Default)]
struct Kept {
    /// Per shard (indexed by its number), events by increasing position: consumers read a
    /// shard in order, so an event is nearly always added at the back and found by a binary
    /// search, no hashing.
    shards: Vec<VecDeque<(u64, Arc<AnyEvent>)>>,
    /// The shard of every event kept, in the order they came, for forgetting the oldest.
    order: VecDeque<ShardId>,
}

impl Default for DecodedEvents {
    fn default() -> Self {
        Self::with_capacity(KEPT)
    }
}

impl DecodedEvents {
    pub fn with_capacity(capacity: usize) -> Self {
        Self { kept: Mutex::new(Kept::default()), capacity: capacity.max(1) }
    }

    /// The event at `stored`'s place (shard and position), decoded once for every consumer.
    pub fn get(&self, stored: &StoredEvent) -> Result<Arc<AnyEvent>, SendError> {
        if let Some(event) = self.kept().find(stored.shard, stored.position) {
            return Ok(event);
        }
        // Decoded outside the lock: two consumers racing for one event both decode it, which
        // costs what it did before and gives equal events.
        let event = Arc::new(AnyEvent::decode(stored)?);
        let mut kept = self.kept();
        kept.add(stored.shard, stored.position, &event);
        while kept.order.len() > self.capacity {
            kept.forget_oldest();
        }
        Ok(event)
    }

    pub fn len(&self) -> usize {
        self.kept().order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        // Every change leaves the shards and the order consistent before the next line can
        // panic, so a poisoned lock still holds a usable cache.
        self.kept.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Kept {
    fn find(&self, shard: ShardId, position: u64) -> Option<Arc<AnyEvent>> {
        let events = self.shards.get(usize::from(shard.0))?;
        let index = events.binary_search_by_key(&position, |(at, _)| *at).ok()?;
        events.get(index).map(|(_, event)| event.clone())
    }

    fn add(&mut self, shard: ShardId, position: u64, event: &Arc<AnyEvent>) {
        let slot = usize::from(shard.0);
        if self.shards.len() <= slot {
            self.shards.resize_with(slot + 1, VecDeque::new);
        }
        let events = &mut self.shards[slot];
        if let Err(index) = events.binary_search_by_key(&position, |(at, _)| *at) {
            events.insert(index, (position, event.clone()));
            self.order.push_back(shard);
        }
    }

    /// Forget the lowest position kept of the oldest kept event's shard: that event itself,
    /// unless a consumer far behind added an older position of the shard after it.
    fn forget_oldest(&mut self) {
        if let Some(shard) = self.order.pop_front() {
            if let Some(events) = self.shards.get_mut(usize::from(shard.0)) {
                events.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::claim::ClaimEvent;
    use practice_protocol::envelope::{EntityKind, EntityRef, EventEnvelope};
    use practice_protocol::ids::OrgId;
    use practice_protocol::roles::{Actor, SystemComponent};

    /// A claim's sign-off as the journal would hand it over, at `position` of `shard`.
    fn stored(shard: u16, position: u64) -> StoredEvent {
        let org = OrgId::new_v4();
        let entity = EntityRef { org, kind: EntityKind::Claim, id: uuid::Uuid::new_v4() };
        let actor = Actor::System { org, component: SystemComponent::Module };
        let envelope = EventEnvelope::new(entity, 2, chrono::Utc::now(), actor, None, ClaimEvent::SignedOff);
        let payload = practice_protocol::codec::encode(&envelope).unwrap();
        StoredEvent { entity, sequence: 2, shard: ShardId(shard), position, payload }
    }

    #[test]
    fn an_event_is_decoded_once_and_shared_until_it_is_the_oldest_past_capacity() {
        let decoded = DecodedEvents::with_capacity(2);
        let (first, elsewhere, third) = (stored(0, 1), stored(1, 1), stored(0, 3));
        let a = decoded.get(&first).unwrap();
        assert!(Arc::ptr_eq(&a, &decoded.get(&first).unwrap()), "the second read shares the first");
        assert_eq!(*a, AnyEvent::decode(&first).unwrap());
        // The same position in another shard is another event.
        let other = decoded.get(&elsewhere).unwrap();
        assert_ne!(a, other);
        assert_eq!(decoded.len(), 2);
        decoded.get(&third).unwrap();
        assert_eq!(decoded.len(), 2, "the oldest is forgotten");
        let again = decoded.get(&first).unwrap();
        assert!(!Arc::ptr_eq(&a, &again), "decoded anew once forgotten");
        assert_eq!(a, again);
    }

    #[test]
    fn a_consumer_far_behind_adds_older_positions_that_are_found_too() {
        let decoded = DecodedEvents::with_capacity(3);
        let (late, early, earliest) = (stored(0, 9), stored(0, 4), stored(0, 2));
        let late_event = decoded.get(&late).unwrap();
        let early_event = decoded.get(&early).unwrap();
        decoded.get(&earliest).unwrap();
        assert!(Arc::ptr_eq(&late_event, &decoded.get(&late).unwrap()));
        assert!(Arc::ptr_eq(&early_event, &decoded.get(&early).unwrap()));
        assert_eq!(decoded.len(), 3);
        // Past capacity the shard's lowest position goes.
        decoded.get(&stored(0, 12)).unwrap();
        assert_eq!(decoded.len(), 3);
        assert!(Arc::ptr_eq(&late_event, &decoded.get(&late).unwrap()));
        assert!(Arc::ptr_eq(&early_event, &decoded.get(&early).unwrap()));
    }

    #[test]
    fn an_undecodable_event_is_an_error_and_not_kept() {
        let decoded = DecodedEvents::default();
        let mut bad = stored(0, 1);
        bad.payload = vec![0xff; 3];
        assert!(decoded.get(&bad).is_err());
        assert!(decoded.is_empty());
    }
}
