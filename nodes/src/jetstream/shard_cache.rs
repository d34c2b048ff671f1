//! What the JetStream journal remembers of each shard between appends: the epoch marker it
//! holds, entity heads, which entities have an append in flight, a generation that drops
//! what an append started before a fence or a failure learnt, which entities have events
//! at all (the list its fence took, see [`super::known`]), and the heads an entity's read just
//! found, for its next append.

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
    /// Heads an entity's read found (an actor rebuilding before its next command), each
    /// taken by the entity's next append instead of reading the same last message again.
    read_heads: HashMap<EntityRef, EntityHead>,
    /// Bumped whenever `heads` becomes `older_heads`: a head written during a read may have
    /// left the cache since only if this moved.
    rotations: u64,
}

/// Where a shard's cache stood when an entity's read began (see [`ShardCache::note_read`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadMark {
    generation: u64,
    rotations: u64,
}

/// Entity heads one shard remembers at most, in two generations of half each. A node that
/// runs for months meets millions of claims, most of them settled long ago; an entity
/// written in neither generation costs one head read on its next append.
pub(crate) const MAX_CACHED_HEADS: usize = 4096;

/// Read heads a shard keeps at most: each is taken by the entity's next append, so only
/// entities read and never written (a refused command, an inspection) stay; past this many
/// they are dropped, which costs each of them the head read it always had.
pub(crate) const MAX_READ_HEADS: usize = 1024;

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
            self.rotations += 1;
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
        self.read_heads.clear();
    }

    /// Mark the start of an entity's read, for [`ShardCache::note_read`].
    pub(crate) fn read_mark(&self) -> ReadMark {
        ReadMark { generation: self.generation, rotations: self.rotations }
    }

    /// An entity's read, begun at `began`, found `head`: kept for its next append when
    /// nothing can have moved the entity since the read began. Only on a shard this writer
    /// fenced; not when the cache was dropped meanwhile (a failure, a fence) or rotated (a
    /// head written during the read may have left it); not while an append of the entity is
    /// in flight or after one landed (its head is newer); and not for an entity with no
    /// event, which its first append must admit (`admit`). A head kept here is as exact as
    /// one read at the append: past this writer's fence only its own appends land, each of
    /// this entity's is in flight or cached until the next rotation, and the next one takes
    /// the kept head first.
    pub(crate) fn note_read(&mut self, entity: EntityRef, head: EntityHead, began: ReadMark) {
        if head.sequence == 0
            || self.epoch.is_none()
            || began != self.read_mark()
            || self.busy.contains(&entity)
            || self.head(&entity).is_some()
        {
            return;
        }
        if self.read_heads.len() >= MAX_READ_HEADS {
            self.read_heads.clear();
        }
        self.read_heads.insert(entity, head);
    }

    /// The head an append of `entity` plans on without a read: the one its own appends
    /// wrote, else the one its last read found (taken, either way).
    pub(crate) fn take_head(&mut self, entity: &EntityRef) -> Option<EntityHead> {
        // Nearly always empty: spare every append the hashing.
        let read = if self.read_heads.is_empty() { None } else { self.read_heads.remove(entity) };
        self.head(entity).or(read)
    }

    /// Before an append of `entities` under the epoch marker at `epoch_sequence`: give those
    /// the known set says have no event an empty head in `heads` (no read on the server), and
    /// count them all as known from now on, before anything of theirs is published. Those
    /// with a head in `heads` are counted already: this cache holds only heads its appends
    /// under the marker wrote (a fence empties it), each admitted first, and heads reads
    /// found of entities with events, which the list holds (events from before the marker)
    /// or an append admitted (after it).
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
    fn a_read_head_serves_the_next_append_once_and_only_if_nothing_moved_since_the_read() {
        let mut cache = ShardCache { epoch: Some((Epoch(3), 40)), ..Default::default() };
        let began = cache.read_mark();
        cache.note_read(entity(1), head(5), began);
        assert_eq!(cache.take_head(&entity(1)), Some(head(5)));
        // Taken: the append after that one plans on what that append wrote (or reads).
        assert_eq!(cache.take_head(&entity(1)), None);

        // An entity with no event: its first append must be admitted, so it reads.
        cache.note_read(entity(2), EntityHead::default(), began);
        assert_eq!(cache.take_head(&entity(2)), None);

        // A failure or a fence while the read was out.
        cache.generation += 1;
        cache.note_read(entity(3), head(2), began);
        assert_eq!(cache.take_head(&entity(3)), None);
        let began = cache.read_mark();

        // An append of the entity in flight, or one that landed: its head is newer.
        cache.busy.insert(entity(4));
        cache.note_read(entity(4), head(2), began);
        cache.busy.remove(&entity(4));
        assert_eq!(cache.take_head(&entity(4)), None);
        cache.remember([(entity(5), head(7))]);
        cache.note_read(entity(5), head(6), began);
        assert_eq!(cache.take_head(&entity(5)), Some(head(7)));

        // The cache rotated while the read was out: what was written then may be gone.
        let began = cache.read_mark();
        for id in 100..100 + MAX_CACHED_HEADS as u128 / 2 + 1 {
            cache.remember([(entity(id), head(1))]);
        }
        cache.note_read(entity(8), head(3), began);
        assert_eq!(cache.take_head(&entity(8)), None);
        let began = cache.read_mark();

        // Dropped with the other heads.
        cache.note_read(entity(6), head(1), began);
        cache.forget_heads();
        assert_eq!(cache.take_head(&entity(6)), None);

        // A shard this writer has not fenced keeps none.
        let mut unfenced = ShardCache::default();
        unfenced.note_read(entity(7), head(1), unfenced.read_mark());
        assert_eq!(unfenced.take_head(&entity(7)), None);
    }

    #[test]
    fn read_heads_never_taken_are_bounded() {
        let mut cache = ShardCache { epoch: Some((Epoch(1), 1)), ..Default::default() };
        let began = cache.read_mark();
        for id in 0..(MAX_READ_HEADS as u128 + 10) {
            cache.note_read(entity(id), head(1), began);
        }
        assert!(cache.read_heads.len() <= MAX_READ_HEADS);
        assert_eq!(cache.take_head(&entity(MAX_READ_HEADS as u128 + 9)), Some(head(1)));
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
