//! Which node should own which shard: rendezvous hashing with a load bound. Pure.
//!
//! Each shard ranks the live nodes by a stable hash of (node, shard) and goes to the best-ranked
//! node that still has room, room being `ceil(shards / nodes)`. Every node gets a fair share,
//! and a node joining or leaving moves few shards, because rankings of the others do not change.

use practice_protocol::shard::ShardId;
use std::collections::BTreeMap;

fn score(node: &str, shard: u16) -> u64 {
    // FNV-1a: stable across builds and platforms.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in node.as_bytes().iter().chain(&shard.to_be_bytes()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // One more mix so neighbouring shards do not rank nodes alike.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

/// The owner of every shard, for the given live nodes (any order, duplicates ignored).
pub fn assign(nodes: &[String], shard_count: u16) -> BTreeMap<ShardId, String> {
    let mut nodes: Vec<&String> = nodes.iter().collect();
    nodes.sort();
    nodes.dedup();
    let mut owners = BTreeMap::new();
    if nodes.is_empty() {
        return owners;
    }
    let capacity = usize::from(shard_count).div_ceil(nodes.len());
    let mut load: BTreeMap<&String, usize> = nodes.iter().map(|node| (*node, 0)).collect();
    for shard in 0..shard_count {
        let mut ranked = nodes.clone();
        ranked.sort_by_key(|node| std::cmp::Reverse(score(node, shard)));
        if let Some(owner) = ranked.into_iter().find(|node| load[*node] < capacity) {
            *load.entry(owner).or_default() += 1;
            owners.insert(ShardId(shard), owner.clone());
        }
    }
    owners
}

/// The shards `node` should own.
pub fn shards_of(nodes: &[String], shard_count: u16, node: &str) -> Vec<ShardId> {
    assign(nodes, shard_count).into_iter().filter(|(_, owner)| owner == node).map(|(shard, _)| shard).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|name| name.to_string()).collect()
    }

    #[test]
    fn every_shard_has_one_owner_and_shares_are_fair() {
        for count in 1..=5 {
            let nodes: Vec<String> = (0..count).map(|index| format!("node-{index}")).collect();
            let owners = assign(&nodes, 64);
            assert_eq!(owners.len(), 64);
            let cap = 64usize.div_ceil(count);
            for node in &nodes {
                let held = owners.values().filter(|owner| *owner == node).count();
                assert!(held <= cap && held + cap >= 64 / count, "{node} holds {held} of 64 with {count} nodes");
            }
        }
        assert!(assign(&[], 64).is_empty());
    }

    #[test]
    fn a_join_moves_few_shards_and_is_order_independent() {
        let three = assign(&names(&["a", "b", "c"]), 64);
        assert_eq!(three, assign(&names(&["c", "a", "b", "a"]), 64));
        let four = assign(&names(&["a", "b", "c", "d"]), 64);
        let moved = three.iter().filter(|(shard, owner)| four[shard] != **owner).count();
        // The newcomer takes its 16; a bounded-load reshuffle may move a few more.
        assert!((16..=28).contains(&moved), "moved {moved}");
        assert_eq!(shards_of(&names(&["a", "b", "c", "d"]), 64, "d").len(), 16);
    }
}
