//! Planning an append: which headers each message carries, for one entity's events in one
//! message or for a shard's atomic batch. Pure.
//!
//! A message can carry one expected-last-subject-sequence check, on any subject (the
//! `Nats-Expected-Last-Subject-Sequence-Subject` header, server ≥ 2.11). A batch needs one check
//! for the shard's epoch (G6) and one per entity on the entity's first event (G1). The epoch
//! check goes on a message that is not an entity's first event when there is one; otherwise it
//! takes the first message, and that one entity is checked against the writer's own view,
//! which is exact because the epoch check proves nobody else wrote the shard since this writer
//! fenced it (and appends of one entity are serialised in the journal).

use super::frame::EVENTS_PER_MESSAGE;
use practice_actors::journal::{AppendBatch, JournalError, PendingEvent};
use practice_protocol::envelope::EntityRef;
use practice_protocol::shard::{epoch_subject, event_subject};
use std::collections::HashMap;

pub const HEADER_MSG_ID: &str = "Nats-Msg-Id";
pub const HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE: &str = "Nats-Expected-Last-Subject-Sequence";
pub const HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT: &str = "Nats-Expected-Last-Subject-Sequence-Subject";
pub const HEADER_BATCH_ID: &str = "Nats-Batch-Id";
pub const HEADER_BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
pub const HEADER_BATCH_COMMIT: &str = "Nats-Batch-Commit";
/// Ours: the entity's own 1-based sequence, so a reader needs no payload decode to know it.
pub const HEADER_ENTITY_SEQUENCE: &str = "Practice-Entity-Sequence";

/// An expected-last-subject-sequence check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectCheck {
    pub subject: String,
    /// Stream sequence of the subject's last message; 0 means "no message yet".
    pub last_stream_sequence: u64,
}

/// One message of the planned batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedMessage {
    pub subject: String,
    pub entity: EntityRef,
    pub entity_sequence: u64,
    pub message_id: String,
    pub check: Option<SubjectCheck>,
}

/// What the writer knows of an entity: its last entity sequence and that message's stream
/// sequence (both 0 for an entity with no events).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EntityHead {
    pub sequence: u64,
    pub stream_sequence: u64,
}

/// Validate `batch` against the entity heads and place the checks.
pub fn plan_batch(
    batch: &AppendBatch,
    epoch_stream_sequence: u64,
    heads: &HashMap<EntityRef, EntityHead>,
) -> Result<Vec<PlannedMessage>, JournalError> {
    if batch.events.is_empty() {
        return Err(JournalError::InvalidAppend("empty batch".into()));
    }
    let mut next_sequence: HashMap<EntityRef, u64> = HashMap::new();
    let mut planned = Vec::with_capacity(batch.events.len());
    let mut epoch_placed = false;
    for event in &batch.events {
        let head = heads.get(&event.entity).copied().unwrap_or_default();
        let expected = *next_sequence.get(&event.entity).unwrap_or(&(head.sequence + 1));
        check_event(event, expected)?;
        let first_of_entity = !next_sequence.contains_key(&event.entity);
        next_sequence.insert(event.entity, expected + 1);
        let subject = event_subject(&event.entity, batch.shard);
        let check = if first_of_entity {
            Some(SubjectCheck { subject: subject.clone(), last_stream_sequence: head.stream_sequence })
        } else if !epoch_placed {
            epoch_placed = true;
            Some(SubjectCheck { subject: epoch_subject(batch.shard), last_stream_sequence: epoch_stream_sequence })
        } else {
            None
        };
        planned.push(PlannedMessage {
            subject,
            entity: event.entity,
            entity_sequence: event.sequence,
            message_id: event.message_id.clone(),
            check,
        });
    }
    if !epoch_placed {
        // Every message is an entity's first: the epoch check replaces the first entity check.
        planned[0].check =
            Some(SubjectCheck { subject: epoch_subject(batch.shard), last_stream_sequence: epoch_stream_sequence });
    }
    Ok(planned)
}

/// When every event of `batch` is one entity's (and they fit one message): the one message
/// holding them, carrying the epoch check. Its entity sequence is the first event's; the
/// entity itself is checked against the writer's own view (see the module docs).
pub fn plan_message(
    batch: &AppendBatch,
    epoch_stream_sequence: u64,
    heads: &HashMap<EntityRef, EntityHead>,
) -> Result<Option<PlannedMessage>, JournalError> {
    let Some(first) = batch.events.first() else { return Err(JournalError::InvalidAppend("empty batch".into())) };
    if batch.events.len() > EVENTS_PER_MESSAGE || batch.events.iter().any(|event| event.entity != first.entity) {
        return Ok(None);
    }
    // The same validation as a batch: sequences follow the head without gaps.
    let head = heads.get(&first.entity).copied().unwrap_or_default();
    for (expected, event) in (head.sequence + 1..).zip(&batch.events) {
        check_event(event, expected)?;
    }
    Ok(Some(PlannedMessage {
        subject: event_subject(&first.entity, batch.shard),
        entity: first.entity,
        entity_sequence: first.sequence,
        message_id: first.message_id.clone(),
        check: Some(SubjectCheck { subject: epoch_subject(batch.shard), last_stream_sequence: epoch_stream_sequence }),
    }))
}

/// `event` is well formed and is its entity's event `expected` (the head's next, or the one
/// after the batch's previous event of the entity).
fn check_event(event: &PendingEvent, expected: u64) -> Result<(), JournalError> {
    validate_event(event)?;
    if event.sequence != expected {
        return Err(JournalError::SequenceConflict { expected: event.sequence, found: expected - 1 });
    }
    Ok(())
}

fn validate_event(event: &PendingEvent) -> Result<(), JournalError> {
    if event.sequence == 0 {
        return Err(JournalError::InvalidAppend("entity sequences start at 1".into()));
    }
    // A header value: printable, no line breaks.
    if event.message_id.is_empty() || event.message_id.chars().any(char::is_control) {
        return Err(JournalError::InvalidAppend("message id must be non-empty printable text".into()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_actors::journal::Epoch;
    use practice_protocol::envelope::EntityKind;
    use practice_protocol::ids::OrgId;
    use practice_protocol::shard::ShardId;
    use uuid::Uuid;

    fn entity(id: u128) -> EntityRef {
        EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(id) }
    }

    fn event(id: u128, sequence: u64) -> PendingEvent {
        PendingEvent { entity: entity(id), sequence, message_id: format!("{id}:{sequence}"), payload: vec![1] }
    }

    fn batch(events: Vec<PendingEvent>) -> AppendBatch {
        AppendBatch { shard: ShardId(3), epoch: Epoch(1), events }
    }

    #[test]
    fn the_epoch_check_goes_on_a_second_event_when_there_is_one() {
        let heads = HashMap::from([(entity(1), EntityHead { sequence: 2, stream_sequence: 40 })]);
        let planned = plan_batch(&batch(vec![event(1, 3), event(2, 1), event(1, 4)]), 7, &heads).unwrap();
        let checks: Vec<_> =
            planned.iter().map(|m| m.check.clone().map(|c| (c.subject, c.last_stream_sequence))).collect();
        assert_eq!(checks[0], Some((event_subject(&entity(1), ShardId(3)), 40)));
        assert_eq!(checks[1], Some((event_subject(&entity(2), ShardId(3)), 0)));
        assert_eq!(checks[2], Some(("epoch.3".to_string(), 7)));
    }

    #[test]
    fn a_single_event_carries_the_epoch_check() {
        let planned = plan_batch(&batch(vec![event(5, 1)]), 11, &HashMap::new()).unwrap();
        assert_eq!(planned[0].check, Some(SubjectCheck { subject: "epoch.3".into(), last_stream_sequence: 11 }));
    }

    #[test]
    fn one_entity_goes_as_one_message_with_the_epoch_check() {
        let heads = HashMap::from([(entity(1), EntityHead { sequence: 2, stream_sequence: 40 })]);
        let planned = plan_message(&batch(vec![event(1, 3), event(1, 4)]), 7, &heads).unwrap().unwrap();
        assert_eq!((planned.entity_sequence, planned.message_id.as_str()), (3, "1:3"));
        assert_eq!(planned.check, Some(SubjectCheck { subject: "epoch.3".into(), last_stream_sequence: 7 }));
        assert_eq!(plan_message(&batch(vec![event(1, 3), event(2, 1)]), 7, &heads), Ok(None));
        let long: Vec<_> = (3..3 + EVENTS_PER_MESSAGE as u64 + 1).map(|sequence| event(1, sequence)).collect();
        assert_eq!(plan_message(&batch(long), 7, &heads), Ok(None));
        assert!(matches!(
            plan_message(&batch(vec![event(1, 4)]), 7, &heads),
            Err(JournalError::SequenceConflict { .. })
        ));
    }

    #[test]
    fn a_message_is_refused_exactly_as_its_batch_would_be() {
        let heads = HashMap::from([(entity(1), EntityHead { sequence: 2, stream_sequence: 40 })]);
        let mut unnamed = event(1, 4);
        unnamed.message_id = "bad\nid".into();
        for events in [
            vec![event(1, 2)],
            vec![event(1, 3), event(1, 5)],
            vec![event(1, 3), event(1, 3)],
            vec![event(1, 3), unnamed],
            vec![event(1, 0)],
        ] {
            let refused = plan_message(&batch(events.clone()), 7, &heads).unwrap_err();
            assert_eq!(Err(refused), plan_batch(&batch(events), 7, &heads).map(|_| ()));
        }
        // A new entity starts at 1.
        assert!(plan_message(&batch(vec![event(2, 1), event(2, 2)]), 7, &heads).unwrap().is_some());
        assert_eq!(
            plan_message(&batch(vec![event(2, 2)]), 7, &heads),
            Err(JournalError::SequenceConflict { expected: 2, found: 0 })
        );
    }

    #[test]
    fn a_gap_or_a_repeat_is_a_sequence_conflict() {
        let heads = HashMap::from([(entity(1), EntityHead { sequence: 2, stream_sequence: 40 })]);
        assert_eq!(
            plan_batch(&batch(vec![event(1, 2)]), 1, &heads),
            Err(JournalError::SequenceConflict { expected: 2, found: 2 })
        );
        assert!(matches!(
            plan_batch(&batch(vec![event(1, 3), event(1, 5)]), 1, &heads),
            Err(JournalError::SequenceConflict { .. })
        ));
        assert!(matches!(plan_batch(&batch(vec![]), 1, &heads), Err(JournalError::InvalidAppend(_))));
    }
}
