//! One command's events in one JetStream message, and event positions built from stream
//! sequences. Pure.
//!
//! Stored format, told apart by a header so data written before it stays readable:
//! - no `Practice-Event-Count` header: the message holds one event and its payload is that
//!   event (every message written before this format, and every single-event append now);
//! - `Practice-Event-Count: n` (2 ≤ n ≤ [`EVENTS_PER_MESSAGE`]): `n` consecutive events of one
//!   entity, the first at `Practice-Entity-Sequence`; the payload is `n` times a big-endian
//!   `u32` length followed by that many bytes (`practice_actors::journal::payloads`, as the
//!   embedded journal's runs).
//!
//! Positions: event `i` of the message at stream sequence `s` has position
//! `s · EVENTS_PER_MESSAGE + i`. They strictly increase within a shard (stream sequences do)
//! and a reader can resume in the middle of a message. Consumer positions stored before this
//! format were bare stream sequences; new ones are written as `v2:<position>`, and a bare one
//! reads as "after every event of that message".

use practice_actors::journal::{payloads, JournalError, StoredEvent};
use practice_protocol::envelope::EntityRef;
use practice_protocol::shard::ShardId;

/// Ours: how many events a message holds when more than one.
pub const HEADER_EVENT_COUNT: &str = "Practice-Event-Count";
/// Most events one message holds; a longer single-entity append goes as an atomic batch.
pub const EVENTS_PER_MESSAGE: usize = 16;
const SLOTS: u64 = EVENTS_PER_MESSAGE as u64;
const POSITION_V2: &str = "v2:";

/// The position of event `index` of the message at `stream_sequence`.
pub fn position(stream_sequence: u64, index: usize) -> u64 {
    stream_sequence.saturating_mul(SLOTS).saturating_add(index as u64)
}

/// The stream sequence of the message holding `position`.
pub fn message_of(position: u64) -> u64 {
    position / SLOTS
}

/// The payload of a message holding `events` (more than one).
pub fn encode_events<'a>(events: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut payload = Vec::new();
    payloads::append(&mut payload, events);
    payload
}

/// Split a multi-event payload back into its `count` events.
pub fn decode_events(payload: &[u8], count: usize, stream_sequence: u64) -> Result<Vec<Vec<u8>>, JournalError> {
    let events = payloads::split(payload, count)
        .map_err(|error| JournalError::Corrupt(format!("stream message {stream_sequence}: {error}")))?;
    Ok(events.into_iter().map(<[u8]>::to_vec).collect())
}

/// The number of events a message holds, from its `Practice-Event-Count` header (1 without).
pub fn event_count(header: Option<&str>, stream_sequence: u64) -> Result<usize, JournalError> {
    let Some(text) = header else { return Ok(1) };
    match text.parse::<usize>() {
        Ok(count) if (2..=EVENTS_PER_MESSAGE).contains(&count) => Ok(count),
        _ => Err(JournalError::Corrupt(format!("stream message {stream_sequence}: event count {text:?}"))),
    }
}

/// Expand one stored message into its events.
pub fn expand(
    entity: EntityRef,
    shard: ShardId,
    stream_sequence: u64,
    first_sequence: u64,
    count: usize,
    payload: &[u8],
) -> Result<Vec<StoredEvent>, JournalError> {
    let payloads = if count == 1 { vec![payload.to_vec()] } else { decode_events(payload, count, stream_sequence)? };
    Ok(payloads
        .into_iter()
        .enumerate()
        .map(|(index, payload)| StoredEvent {
            entity,
            sequence: first_sequence + index as u64,
            shard,
            position: position(stream_sequence, index),
            payload,
        })
        .collect())
}

/// A consumer position as stored in the positions bucket.
pub fn encode_stored_position(position: u64) -> String {
    format!("{POSITION_V2}{position}")
}

/// A stored consumer position: `v2:<position>`, or a bare stream sequence from before.
pub fn decode_stored_position(text: &str) -> Option<u64> {
    match text.strip_prefix(POSITION_V2) {
        Some(position) => position.parse().ok(),
        None => text.parse::<u64>().ok().map(|sequence| position(sequence, EVENTS_PER_MESSAGE - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::envelope::EntityKind;
    use practice_protocol::ids::OrgId;
    use uuid::Uuid;

    #[test]
    fn events_round_trip_and_bad_payloads_are_errors() {
        let events: Vec<&[u8]> = vec![b"first", b"", b"third event"];
        let payload = encode_events(events.iter().copied());
        assert_eq!(
            decode_events(&payload, 3, 9).unwrap(),
            vec![b"first".to_vec(), Vec::new(), b"third event".to_vec()]
        );
        for cut in 0..payload.len() {
            assert!(matches!(decode_events(&payload[..cut], 3, 9), Err(JournalError::Corrupt(_))), "cut at {cut}");
        }
        assert!(matches!(decode_events(&payload, 2, 9), Err(JournalError::Corrupt(_))));
    }

    #[test]
    fn event_counts_are_checked() {
        assert_eq!(event_count(None, 1), Ok(1));
        assert_eq!(event_count(Some("2"), 1), Ok(2));
        for bad in ["0", "1", "17", "x", "-2"] {
            assert!(matches!(event_count(Some(bad), 1), Err(JournalError::Corrupt(_))), "{bad}");
        }
    }

    #[test]
    fn positions_increase_and_old_consumer_positions_mean_after_the_message() {
        assert!(position(7, 15) < position(8, 0));
        assert_eq!(message_of(position(7, 3)), 7);
        assert_eq!(decode_stored_position(&encode_stored_position(123)), Some(123));
        let old = decode_stored_position("42").unwrap();
        assert!(old >= position(42, 15) && old < position(43, 0));
        assert_eq!(decode_stored_position("v2:x"), None);
    }

    #[test]
    fn expand_numbers_events_from_the_first_sequence() {
        let entity = EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(2) };
        let payload = encode_events([b"a".as_slice(), b"b".as_slice()]);
        let events = expand(entity, ShardId(4), 10, 5, 2, &payload).unwrap();
        assert_eq!(events.iter().map(|e| (e.sequence, e.position)).collect::<Vec<_>>(), vec![(5, 160), (6, 161)]);
        assert_eq!(expand(entity, ShardId(4), 10, 5, 1, b"raw").unwrap()[0].payload, b"raw".to_vec());
    }
}
