//! Rebuild an entity's state from its latest snapshot and the journal tail after it.

use super::{Entity, SendError};
use crate::journal::{Journal, StoredEvent};
use practice_protocol::codec;
use practice_protocol::envelope::{EntityRef, EventEnvelope};

#[derive(Debug)]
pub struct Rehydrated<S> {
    pub state: S,
    /// Whether a snapshot was the starting point (a passivated entity coming back).
    pub from_snapshot: bool,
    pub events_replayed: usize,
}

pub fn decode_event<E: Entity>(stored: &StoredEvent) -> Result<EventEnvelope<E::Event>, SendError> {
    let envelope: EventEnvelope<E::Event> = codec::decode(&stored.payload).map_err(|error| {
        SendError::Codec(format!("{} event {} of {}: {error}", E::KIND.as_str(), stored.sequence, stored.entity.id))
    })?;
    if envelope.sequence != stored.sequence || envelope.entity != stored.entity {
        return Err(SendError::Codec(format!(
            "event stored as {} sequence {} says it is {} sequence {}",
            stored.entity.id, stored.sequence, envelope.entity.id, envelope.sequence
        )));
    }
    Ok(envelope)
}

/// Snapshot + tail. Refuses a tail with a gap (G1) rather than build a wrong state.
pub async fn rehydrate<E: Entity>(journal: &dyn Journal, entity: EntityRef) -> Result<Rehydrated<E::State>, SendError> {
    let snapshot = journal.load_snapshot(entity).await.map_err(SendError::Journal)?;
    let (mut state, from_snapshot) = match snapshot {
        Some((_, bytes)) => match codec::decode::<E::State>(&bytes) {
            Ok(state) => (state, true),
            // A snapshot from an older build that no longer decodes: the journal is the truth.
            Err(error) => {
                tracing::warn!(kind = E::KIND.as_str(), entity = %entity.id, %error, "snapshot ignored");
                (E::State::default(), false)
            }
        },
        None => (E::State::default(), false),
    };
    let tail = journal.read_entity(entity, E::version(&state)).await.map_err(SendError::Journal)?;
    for stored in &tail {
        let expected = E::version(&state) + 1;
        if stored.sequence != expected {
            return Err(SendError::Codec(format!(
                "{} {} has a gap: expected sequence {expected}, found {}",
                E::KIND.as_str(),
                entity.id,
                stored.sequence
            )));
        }
        let envelope = decode_event::<E>(stored)?;
        E::apply(&mut state, &envelope);
    }
    Ok(Rehydrated { state, from_snapshot, events_replayed: tail.len() })
}
