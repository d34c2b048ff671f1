//! An entity actor's state while the actor lives: not loaded yet, in memory, or hibernated —
//! kept as its encoded bytes while idle, the way an Erlang process hibernates. A live claim
//! actor that has been idle for a while costs its encoded state (about 0.5 KiB) instead of
//! the decoded one (about 3.3 KiB); the next message decodes it again (microseconds), and a
//! passivation snapshots the bytes as they are.

use practice_protocol::codec::{self, CodecError};
use serde::de::DeserializeOwned;
use serde::Serialize;

pub(super) enum Held<S> {
    /// Not rebuilt from the journal yet.
    Unloaded,
    /// Boxed, so the actor's task holds a pointer and not the whole state inline.
    Live(Box<S>),
    Dormant {
        version: u64,
        bytes: Box<[u8]>,
    },
}

impl<S: Serialize + DeserializeOwned> Held<S> {
    pub(super) fn is_loaded(&self) -> bool {
        !matches!(self, Held::Unloaded)
    }

    /// The state in memory, decoding a hibernated one. `None` before it was loaded.
    pub(super) fn live(&mut self) -> Result<Option<&mut S>, CodecError> {
        if let Held::Dormant { bytes, .. } = self {
            *self = Held::Live(Box::new(codec::decode(bytes)?));
        }
        Ok(match self {
            Held::Live(state) => Some(state),
            _ => None,
        })
    }

    /// Keep only the encoded state; `version` is the state's, for a snapshot taken while dormant.
    pub(super) fn hibernate(&mut self, version: impl FnOnce(&S) -> u64) -> Result<(), CodecError> {
        if let Held::Live(state) = self {
            let bytes = codec::encode(state.as_ref())?.into_boxed_slice();
            *self = Held::Dormant { version: version(state), bytes };
        }
        Ok(())
    }

    /// The version and encoded state, without waking a dormant one. `None` before loading.
    pub(super) fn encoded(&self, version: impl FnOnce(&S) -> u64) -> Result<Option<(u64, Vec<u8>)>, CodecError> {
        Ok(match self {
            Held::Unloaded => None,
            Held::Live(state) => Some((version(state), codec::encode(state.as_ref())?)),
            Held::Dormant { version, bytes } => Some((*version, bytes.to_vec())),
        })
    }

    /// The version and a copy of the state, without waking a dormant one: cheaper than
    /// `encoded` for a reader in this process, which would only decode it again.
    pub(super) fn copy(&self, version: impl Fn(&S) -> u64) -> Result<Option<(u64, S)>, CodecError>
    where
        S: Clone,
    {
        Ok(match self {
            Held::Unloaded => None,
            Held::Live(state) => Some((version(state), state.as_ref().clone())),
            Held::Dormant { version, bytes } => Some((*version, codec::decode(bytes)?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::claim::{ClaimEvent, ClaimState};
    use practice_protocol::fixtures::office_visit_claim;
    use practice_protocol::ids::OrgId;

    #[test]
    fn a_hibernated_state_wakes_up_equal_and_snapshots_the_same_bytes() {
        let mut state = ClaimState::default();
        state.apply(&ClaimEvent::Created { claim: Box::new(office_visit_claim(OrgId::new_v4(), 3)) });
        let expected = state.clone();
        let mut held = Held::Live(Box::new(state));
        let version = |state: &ClaimState| state.version;
        let awake = held.encoded(version).unwrap().unwrap();
        held.hibernate(version).unwrap();
        assert!(matches!(held, Held::Dormant { version: 1, .. }));
        assert_eq!(held.encoded(version).unwrap().unwrap(), awake, "a dormant snapshot is the same bytes");
        assert_eq!(held.live().unwrap().map(|state| state.clone()), Some(expected));
        assert!(matches!(held, Held::Live(_)));
        let mut unloaded: Held<ClaimState> = Held::Unloaded;
        unloaded.hibernate(version).unwrap();
        assert!(!unloaded.is_loaded() && unloaded.live().unwrap().is_none());
    }
}
