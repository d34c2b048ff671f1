//! A small set of ids kept as a sorted vector: what a claim remembers of the commands and
//! remittances it applied (G3). A claim sees tens of commands in its life, so a sorted vector
//! costs 16 bytes per id where a `BTreeSet` allocates a 192-byte node for the first one; the
//! encoding is the same sequence a `BTreeSet` writes, so stored states read back unchanged.

use serde::{Deserialize, Deserializer, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IdSet<T>(Vec<T>);

impl<T> Default for IdSet<T> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<T: Ord> IdSet<T> {
    /// Adds `id`; false when it was there already.
    pub fn insert(&mut self, id: T) -> bool {
        match self.0.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, id);
                true
            }
        }
    }

    pub fn contains(&self, id: &T) -> bool {
        self.0.binary_search(id).is_ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// In ascending order.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }
}

impl<T: Ord> FromIterator<T> for IdSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(ids: I) -> Self {
        let mut ids: Vec<T> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        Self(ids)
    }
}

impl<'de, T: Ord + Deserialize<'de>> Deserialize<'de> for IdSet<T> {
    /// Sorted and de-duplicated whatever order the input holds, so lookups stay correct.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(deserializer).map(IdSet::from_iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// Any run of inserts and lookups answers as a `BTreeSet` does, and encodes the same.
        #[test]
        fn answers_and_encodes_as_a_btree_set(ops in prop::collection::vec((any::<bool>(), 0u16..64), 0..200)) {
            let (mut set, mut reference) = (IdSet::default(), BTreeSet::new());
            for (insert, id) in ops {
                if insert {
                    prop_assert_eq!(set.insert(id), reference.insert(id));
                } else {
                    prop_assert_eq!(set.contains(&id), reference.contains(&id));
                }
            }
            prop_assert_eq!(set.len(), reference.len());
            prop_assert_eq!(crate::codec::encode(&set).unwrap(), crate::codec::encode(&reference).unwrap());
            prop_assert_eq!(crate::codec::decode::<IdSet<u16>>(&crate::codec::encode(&reference).unwrap()).unwrap(), set);
        }
    }

    #[test]
    fn behaves_as_a_set_and_encodes_as_a_btree_set_does() {
        let mut set = IdSet::default();
        let mut reference = BTreeSet::new();
        for id in [7u64, 3, 9, 3, 1, 7, 12] {
            assert_eq!(set.insert(id), reference.insert(id), "inserting {id}");
        }
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), reference.iter().copied().collect::<Vec<_>>());
        assert!(set.contains(&9) && !set.contains(&8));
        assert_eq!(set.len(), 5);
        let bytes = crate::codec::encode(&reference).unwrap();
        assert_eq!(crate::codec::encode(&set).unwrap(), bytes, "the same bytes as a BTreeSet");
        assert_eq!(crate::codec::decode::<IdSet<u64>>(&bytes).unwrap(), set);
        let unsorted: IdSet<u64> = serde_json::from_str("[5, 2, 5, 1]").unwrap();
        assert_eq!(unsorted.iter().copied().collect::<Vec<_>>(), vec![1, 2, 5]);
        assert!(unsorted.contains(&2));
    }
}
