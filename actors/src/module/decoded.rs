//! The events a node's module consumers decoded lately, shared between them. The five
//! consumers read the same shards at about the same time; each decoding every event for
//! itself was five decodes per event, in one burst per poll (6.6 % of a JetStream node's CPU
//! in the bench). An event never changes at its (shard, position), so whichever consumer
//! comes first decodes it and the others take the same one. Consumers look a page up a chunk
//! at a time (`get_many`), one lock for the chunk's lookups and one for what it adds.

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
        let mut events = self.get_many(std::slice::from_ref(stored));
        events.pop().unwrap_or_else(|| Err(SendError::Codec("no event decoded".into())))
    }

    /// The events at `stored`'s places, in order, each decoded once for every consumer. The
    /// cache's lock is taken twice for the whole slice, not twice per event: five consumers
    /// reading the same shards at once spent about a third of their time waiting on it.
    pub fn get_many(&self, stored: &[StoredEvent]) -> Vec<Result<Arc<AnyEvent>, SendError>> {
        let found: Vec<Option<Arc<AnyEvent>>> = {
            let kept = self.kept();
            stored.iter().map(|event| kept.find(event.shard, event.position)).collect()
        };
        // Decoded outside the lock: two consumers racing for one event both decode it, which
        // costs what it did before and gives equal events.
        let kept_already: Vec<bool> = found.iter().map(Option::is_some).collect();
        let events: Vec<Result<Arc<AnyEvent>, SendError>> = stored
            .iter()
            .zip(found)
            .map(|(event, found)| match found {
                Some(found) => Ok(found),
                None => AnyEvent::decode(event).map(Arc::new),
            })
            .collect();
        let mut forgotten = Vec::new();
        {
            let mut kept = self.kept();
            // Only what was decoded here: what was found is kept already.
            for ((event, decoded), was_kept) in stored.iter().zip(&events).zip(kept_already) {
                match decoded {
                    Ok(decoded) if !was_kept => kept.add(event.shard, event.position, decoded),
                    _ => {}
                }
            }
            while kept.order.len() > self.capacity {
                forgotten.extend(kept.forget_oldest());
            }
        }
        // The last reference to a forgotten event may be here: dropping a claim's decoded
        // event frees its parts, which need not hold the lock.
        drop(forgotten);
        events
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
    fn forget_oldest(&mut self) -> Option<Arc<AnyEvent>> {
        let shard = self.order.pop_front()?;
        let (_, event) = self.shards.get_mut(usize::from(shard.0))?.pop_front()?;
        Some(event)
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
    fn a_slice_is_decoded_in_order_sharing_what_is_kept_and_failing_event_by_event() {
        let decoded = DecodedEvents::with_capacity(3);
        let kept_before = stored(0, 1);
        let earlier = decoded.get(&kept_before).unwrap();
        let mut bad = stored(0, 2);
        bad.payload = vec![0xff; 3];
        let (fresh, elsewhere) = (stored(0, 3), stored(5, 3));
        let events = decoded.get_many(&[kept_before.clone(), bad, fresh.clone(), elsewhere.clone()]);
        assert_eq!(events.len(), 4);
        assert!(Arc::ptr_eq(events[0].as_ref().unwrap(), &earlier), "a kept event is shared, not decoded again");
        assert!(events[1].is_err(), "the undecodable event fails alone");
        assert_eq!(**events[2].as_ref().unwrap(), AnyEvent::decode(&fresh).unwrap());
        assert_eq!(**events[3].as_ref().unwrap(), AnyEvent::decode(&elsewhere).unwrap());
        assert_eq!(decoded.len(), 3, "the failed event is not kept");
        // What the slice decoded is shared with later readers.
        assert!(Arc::ptr_eq(events[2].as_ref().unwrap(), &decoded.get(&fresh).unwrap()));
        // Past capacity the oldest goes, whoever still holds it.
        decoded.get_many(&[stored(1, 7)]);
        assert_eq!(decoded.len(), 3);
        assert!(!Arc::ptr_eq(&earlier, &decoded.get(&kept_before).unwrap()), "the oldest was forgotten");
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
