//! What the JetStream journal remembers of each shard between appends: the epoch marker it
//! holds, entity heads, which entities have an append in flight, a generation that drops
//! what an append started before a fence or a failure learnt, and which entities have events
//! at all (the list its fence took, see [`super::known`]).

use super::known::KnownEntities;
use super::plan::EntityHead;
use practice_actors::journal::Epoch;
use practice_protocol::envelope::EntityRef;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;

/// What the journal remembers of one shard between appends.
#[derive(Default)]
pub(crate) struct ShardCache {
    /// The epoch this writer holds and the stream sequence of its marker.
    pub(crate) epoch: Option<(Epoch, u64)>,
    heads: HashMap<EntityRef, EntityHead>,
    /// The heads remembered before `heads` last filled up: still answered, so the entities
    /// live at that moment do not all read their heads on the server at once.
    older_heads: HashMap<EntityRef, EntityHead>,
    /// Entities with an append in flight: another append of theirs waits.
    pub(crate) busy: HashSet<EntityRef>,
    /// Bumped whenever the cache is dropped (fence, failure): an append that started before
    /// must not write what it learnt into the new cache.
    pub(crate) generation: u64,
    /// The shard's entities with events, listed after this writer's fence (see
    /// [`super::known`]).
    known: Option<KnownEntities>,
    /// While that list is on its way: the entities appended meanwhile, to join it with.
    listing: Option<KnownEntities>,
}

/// Entity heads one shard remembers at most, in two generations of half each. A node that
/// runs for months meets millions of claims, most of them settled long ago; an entity
/// written in neither generation costs one head read on its next append.
pub(crate) const MAX_CACHED_HEADS: usize = 4096;

impl ShardCache {
    /// The head this cache remembers for `entity`.
    pub(crate) fn head(&self, entity: &EntityRef) -> Option<EntityHead> {
        self.heads.get(entity).or_else(|| self.older_heads.get(entity)).copied()
    }

    /// Remember the heads an append just wrote; a full generation becomes the older one, and
    /// the one before goes.
    pub(crate) fn remember(&mut self, written: impl IntoIterator<Item = (EntityRef, EntityHead)>) {
        if self.heads.len() >= MAX_CACHED_HEADS / 2 {
            self.older_heads = std::mem::take(&mut self.heads);
        }
        // Later messages of a batch overwrite earlier ones of the same entity.
        for (entity, head) in written {
            self.older_heads.remove(&entity);
            self.heads.insert(entity, head);
        }
    }

    /// Forget every head: another writer may have moved any of them.
    pub(crate) fn forget_heads(&mut self) {
        self.heads.clear();
        self.older_heads.clear();
    }

    /// Before an append of `entities` under the epoch marker at `epoch_sequence`: give those
    /// the known set says have no event an empty head in `heads` (no read on the server), and
    /// count them all as known from now on, before anything of theirs is published. Those
    /// with a cached head in `heads` are counted already: this cache holds only heads its
    /// appends under the marker wrote (a fence empties it), and each was admitted first.
    pub(crate) fn admit(
        &mut self,
        epoch_sequence: u64,
        entities: &[EntityRef],
        heads: &mut HashMap<EntityRef, EntityHead>,
    ) {
        let unseen: Vec<&EntityRef> = entities.iter().filter(|entity| !heads.contains_key(entity)).collect();
        if let Some(listing) = self.listing.as_mut() {
            if !listing.answers_for(epoch_sequence) || !listing.add(unseen.iter().copied()) {
                self.listing = None;
            }
        }
        let Some(known) = self.known.as_mut() else { return };
        if !known.answers_for(epoch_sequence) {
            self.known = None;
            return;
        }
        for entity in &unseen {
            if known.surely_new(epoch_sequence, entity) {
                heads.insert(**entity, EntityHead::default());
            }
        }
        if !known.add(unseen) {
            self.known = None;
        }
    }

    /// This writer's epoch marker is stored at `epoch_sequence` and a list of the shard's
    /// entities starts: the set of the marker before goes.
    pub(crate) fn start_listing(&mut self, epoch_sequence: u64) {
        self.known = None;
        self.listing = Some(KnownEntities::listing(epoch_sequence));
    }

    /// The list started after the marker at `epoch_sequence` is done: `listed`, or `None`
    /// when it could not be had or trusted. Ignored when a later fence, a conflict or a
    /// release dropped that list meanwhile.
    pub(crate) fn finish_listing(&mut self, epoch_sequence: u64, listed: Option<HashSet<u64>>) {
        if !self.listing.as_ref().is_some_and(|listing| listing.answers_for(epoch_sequence)) {
            return;
        }
        let listing = self.listing.take();
        self.known = listing.zip(listed).and_then(|(listing, listed)| listing.listed(listed));
    }

    /// Whether a list of the shard's entities is on its way, and whether one is in use.
    pub(crate) fn listing_state(&self) -> (bool, bool) {
        (self.listing.is_some(), self.known.is_some())
    }

    /// Another writer fenced the shard, or wrote under this writer's epoch, or this writer
    /// gave the shard up: what it listed no longer holds.
    pub(crate) fn drop_known(&mut self) {
        self.known = None;
        self.listing = None;
    }
}

#[derive(Default)]
pub(crate) struct Shard {
    cache: Mutex<ShardCache>,
    /// Woken when an entity stops being busy.
    pub(crate) idle: Notify,
    /// Woken when a list of the shard's entities is done.
    pub(crate) listed: Notify,
}

impl Shard {
    pub(crate) fn lock(&self) -> MutexGuard<'_, ShardCache> {
        // A panic while holding the lock cannot leave the cache half-updated in a way that
        // matters more than a stale cache, which the server's checks catch anyway.
        self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn forget(&self) {
        let mut cache = self.lock();
        cache.generation += 1;
        cache.forget_heads();
        cache.epoch = None;
    }
}

/// Marks a batch's entities busy for as long as it lives, also when the append is dropped.
pub(crate) struct Reservation<'a> {
    shard: &'a Shard,
    entities: Vec<EntityRef>,
}

impl<'a> Reservation<'a> {
    /// The caller has just marked `entities` busy in `shard`'s cache.
    pub(crate) fn new(shard: &'a Shard, entities: Vec<EntityRef>) -> Self {
        Self { shard, entities }
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        let mut cache = self.shard.lock();
        for entity in &self.entities {
            cache.busy.remove(entity);
        }
        drop(cache);
        self.shard.idle.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::super::known;
    use super::*;
    use practice_protocol::envelope::EntityKind;
    use practice_protocol::ids::OrgId;
    use uuid::Uuid;

    fn entity(id: u128) -> EntityRef {
        EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(id) }
    }

    fn head(sequence: u64) -> EntityHead {
        EntityHead { sequence, stream_sequence: sequence + 100 }
    }

    #[test]
    fn past_the_cap_the_older_generation_goes_and_the_last_one_still_answers() {
        let half = MAX_CACHED_HEADS as u128 / 2;
        let mut cache = ShardCache::default();
        for id in 0..half {
            cache.remember([(entity(id), head(1))]);
        }
        // The first generation is full: it becomes the older one, and still answers.
        cache.remember([(entity(1), head(2)), (entity(1), head(3)), (entity(9_999), head(1))]);
        assert_eq!(cache.head(&entity(1)), Some(head(3)));
        assert_eq!(cache.head(&entity(9_999)), Some(head(1)));
        assert_eq!(cache.head(&entity(2)), Some(head(1)));
        for id in half..2 * half - 2 {
            cache.remember([(entity(id), head(1))]);
        }
        // The second generation is full: the first goes, but for what was written since.
        cache.remember([(entity(10_000), head(1))]);
        assert_eq!(cache.head(&entity(2)), None);
        assert_eq!(cache.head(&entity(1)), Some(head(3)));
        assert_eq!(cache.head(&entity(half)), Some(head(1)));
        assert!(cache.heads.len() + cache.older_heads.len() <= MAX_CACHED_HEADS);
        cache.forget_heads();
        assert_eq!(cache.head(&entity(10_000)), None);
    }

    #[test]
    fn only_entities_the_set_has_never_seen_get_an_empty_head_and_all_are_seen_after() {
        let mut cache = ShardCache::default();
        cache.start_listing(7);
        // Appended while the list is on its way: no answer yet, but counted.
        let mut heads = HashMap::new();
        cache.admit(7, &[entity(6)], &mut heads);
        assert!(heads.is_empty());
        // A list started after an older marker is ignored.
        cache.finish_listing(5, Some([known::key(&entity(1))].into()));
        assert_eq!(cache.listing_state(), (true, false));
        cache.finish_listing(7, Some([known::key(&entity(1))].into()));
        assert_eq!(cache.listing_state(), (false, true));
        cache.admit(7, &[entity(6)], &mut heads);
        assert!(heads.is_empty(), "appended while the list was on its way");
        let mut heads = HashMap::from([(entity(3), head(4))]);
        cache.admit(7, &[entity(1), entity(2), entity(3)], &mut heads);
        // 1 was listed (its head is read), 2 is new, 3's cached head stays.
        assert_eq!(heads.get(&entity(1)), None);
        assert_eq!(heads.get(&entity(2)), Some(&EntityHead::default()));
        assert_eq!(heads.get(&entity(3)), Some(&head(4)));
        let mut again = HashMap::new();
        cache.admit(7, &[entity(2)], &mut again);
        assert!(again.is_empty(), "an entity admitted once has events, or may have");
        // Appends under another marker: the set no longer answers, and goes.
        cache.admit(9, &[entity(5)], &mut again);
        assert!(again.is_empty() && cache.known.is_none());
    }

    #[test]
    fn a_list_that_failed_or_was_dropped_leaves_no_set() {
        let mut cache = ShardCache::default();
        cache.start_listing(3);
        cache.finish_listing(3, None);
        assert_eq!(cache.listing_state(), (false, false));
        cache.start_listing(4);
        cache.drop_known();
        cache.finish_listing(4, Some(HashSet::new()));
        assert_eq!(cache.listing_state(), (false, false));
    }
}
