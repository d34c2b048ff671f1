//! Which entities of a shard have events, as the writer that fenced the shard knows it, so the
//! first append of a new entity (a claim's `Create`) needs no read of its head on the server.
//!
//! Listed once, starting right after this writer's epoch marker is stored, while the shard
//! already serves: every message on the shard's event subjects past the marker is one of this
//! writer's own appends (a stale writer's epoch check fails), and each append adds its entities
//! before it publishes, to the set or, while the list is on its way, to the entities the list
//! is then joined with. So the list and the appends together hold every entity with an event.
//! The set answers only for the marker it was listed after; a later marker, a fence by anyone
//! else or a sequence conflict drops it. Entities are kept as 64-bit hashes: two that collide
//! make the new one look known, which costs the read it would have cost anyway, never a second
//! first event.

use practice_protocol::envelope::EntityRef;
use std::collections::HashSet;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

/// Entities one shard's set holds at most (~2.5 MiB); past it the shard reads heads again
/// until its next fence. 64 shards at the cap are 16.8 M entities.
pub(crate) const MAX_KNOWN_PER_SHARD: usize = 1 << 18;

/// The entities of one shard with at least one event, as of the epoch marker at
/// `epoch_sequence` and this writer's appends since.
pub(crate) struct KnownEntities {
    epoch_sequence: u64,
    keys: HashSet<u64>,
}

impl KnownEntities {
    /// None yet, for a list starting after the epoch marker at `epoch_sequence`: appends add
    /// their entities while it is on its way.
    pub(crate) fn listing(epoch_sequence: u64) -> Self {
        Self { epoch_sequence, keys: HashSet::new() }
    }

    /// Joined with the listed keys of the shard's entities (see [`key`]); `None` past the cap.
    pub(crate) fn listed(mut self, keys: HashSet<u64>) -> Option<Self> {
        self.keys.extend(keys);
        (self.keys.len() <= MAX_KNOWN_PER_SHARD).then_some(self)
    }

    /// Whether the set was listed after the epoch marker at `epoch_sequence`.
    pub(crate) fn answers_for(&self, epoch_sequence: u64) -> bool {
        self.epoch_sequence == epoch_sequence
    }

    /// Whether `entity` surely has no event, for a writer whose epoch marker is at
    /// `epoch_sequence`.
    pub(crate) fn surely_new(&self, epoch_sequence: u64, entity: &EntityRef) -> bool {
        self.answers_for(epoch_sequence) && !self.keys.contains(&key(entity))
    }

    /// Count `entities` among the known before anything of theirs is published; `false` when
    /// the set is past its cap and must go.
    pub(crate) fn add<'a>(&mut self, entities: impl IntoIterator<Item = &'a EntityRef>) -> bool {
        self.keys.extend(entities.into_iter().map(key));
        self.keys.len() <= MAX_KNOWN_PER_SHARD
    }
}

/// An entity's key in the set: the same in every call of one process.
pub(crate) fn key(entity: &EntityRef) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(entity)
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::envelope::EntityKind;
    use practice_protocol::ids::OrgId;
    use uuid::Uuid;

    fn entity(id: u128) -> EntityRef {
        EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(id) }
    }

    #[test]
    fn only_an_entity_neither_listed_nor_added_is_new_and_only_for_its_marker() {
        let mut listing = KnownEntities::listing(40);
        // Appended while the list was on its way.
        assert!(listing.add([&entity(4)]));
        let mut known = listing.listed(HashSet::from([key(&entity(1))])).unwrap();
        assert!(!known.surely_new(40, &entity(1)));
        assert!(!known.surely_new(40, &entity(4)));
        assert!(known.surely_new(40, &entity(2)));
        assert!(known.add([&entity(2)]));
        assert!(!known.surely_new(40, &entity(2)));
        // Another marker: someone may have fenced and written in between.
        assert!(!known.surely_new(41, &entity(3)));
    }

    #[test]
    fn a_set_past_its_cap_is_not_kept() {
        let full: HashSet<u64> = (0..MAX_KNOWN_PER_SHARD as u64).collect();
        let mut known = KnownEntities::listing(1).listed(full.clone()).unwrap();
        assert!(!known.add([&entity(1)]));
        let mut listing = KnownEntities::listing(1);
        assert!(listing.add([&entity(1)]));
        assert!(listing.listed(full).is_none(), "the list and the appends meanwhile count together");
    }

    #[test]
    fn the_key_names_kind_org_and_id() {
        let claim = entity(7);
        let payer = EntityRef { kind: EntityKind::Payer, ..claim };
        let other_org = EntityRef { org: OrgId(Uuid::from_u128(2)), ..claim };
        assert_eq!(key(&claim), key(&entity(7)));
        assert_ne!(key(&claim), key(&payer));
        assert_ne!(key(&claim), key(&other_org));
    }
}
