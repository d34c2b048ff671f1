//! Key and value layouts of the embedded journal.
//!
//! All keyspaces share one sled tree (so one `apply_batch` is atomic across them), each under
//! a one-byte prefix. Every key is big-endian so sled's byte order is the logical order: one
//! entity's events sort by sequence, one shard's log by position. Tenant first in every
//! entity key (G8).

use super::JournalError;
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::ShardId;
use uuid::Uuid;

/// Keyspace prefixes.
pub const EVENTS: u8 = b'e';
pub const SHARD_LOG: u8 = b'l';
/// Group commits' shard log entries not yet folded into `SHARD_LOG`, as builds of store format
/// 2 wrote them (their events are `EVENTS` records already); read back and folded at open.
pub const PENDING: u8 = b'g';
/// Group commits not yet folded: a group's shard log entries and its events, held here until a
/// fold writes the events as `EVENTS` runs (see `sled_pending`).
pub const HELD: u8 = b'h';
pub const EPOCHS: u8 = b'p';
pub const SNAPSHOTS: u8 = b's';
pub const CONSUMERS: u8 = b'c';
pub const INBOUND: u8 = b'i';
pub const META: u8 = b'm';

/// `META` names: the shard count a store was created with, and its format.
pub const META_SHARD_COUNT: &[u8] = b"shard_count";
pub const META_FORMAT: &[u8] = b"format";

/// The store format this build writes, under `META` + `format`: 3 since group commits hold their
/// events in `HELD` records until a fold writes them, as runs whose events may come from many
/// groups (their positions listed). 2: event records may hold runs of consecutive positions,
/// and `PENDING` records; 1, never written, is the one-event-per-record format before them.
/// This build reads all three. A build refuses a store whose format is newer than its own, so
/// a later change of layout cannot be misread by this one.
pub const STORE_FORMAT: u16 = 3;

/// `prefix` + `key`.
pub fn prefixed(prefix: u8, key: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(1 + key.len());
    bytes.push(prefix);
    bytes.extend_from_slice(key);
    bytes
}

/// org (16) + kind (1) + id (16).
pub const ENTITY_KEY_LEN: usize = 33;

pub fn kind_byte(kind: EntityKind) -> u8 {
    match kind {
        EntityKind::Claim => 0,
        EntityKind::Payer => 1,
        EntityKind::Practice => 2,
    }
}

fn kind_of(byte: u8) -> Result<EntityKind, JournalError> {
    Ok(match byte {
        0 => EntityKind::Claim,
        1 => EntityKind::Payer,
        2 => EntityKind::Practice,
        other => return Err(JournalError::Corrupt(format!("unknown entity kind byte {other}"))),
    })
}

pub fn entity_key(entity: &EntityRef) -> [u8; ENTITY_KEY_LEN] {
    let mut key = [0u8; ENTITY_KEY_LEN];
    key[..16].copy_from_slice(entity.org.0.as_bytes());
    key[16] = kind_byte(entity.kind);
    key[17..].copy_from_slice(entity.id.as_bytes());
    key
}

pub fn decode_entity_key(bytes: &[u8]) -> Result<EntityRef, JournalError> {
    if bytes.len() < ENTITY_KEY_LEN {
        return Err(JournalError::Corrupt(format!("entity key of {} bytes, expected {ENTITY_KEY_LEN}", bytes.len())));
    }
    let org = Uuid::from_slice(&bytes[..16]).map_err(|error| JournalError::Corrupt(error.to_string()))?;
    let id = Uuid::from_slice(&bytes[17..33]).map_err(|error| JournalError::Corrupt(error.to_string()))?;
    Ok(EntityRef { org: OrgId(org), kind: kind_of(bytes[16])?, id })
}

/// `events` tree: entity key + sequence.
pub fn event_key(entity: &EntityRef, sequence: u64) -> [u8; EVENT_KEY_LEN] {
    let mut key = [0u8; EVENT_KEY_LEN];
    key[..ENTITY_KEY_LEN].copy_from_slice(&entity_key(entity));
    key[ENTITY_KEY_LEN..].copy_from_slice(&sequence.to_be_bytes());
    key
}

/// An event key's length: entity key + sequence.
pub const EVENT_KEY_LEN: usize = ENTITY_KEY_LEN + 8;

/// `shard_log` tree: shard + the position of a record's first event → the event keys of
/// consecutive positions from there, concatenated (a fold of the pending log writes one record
/// per shard, see `sled_pending`).
pub fn shard_log_key(shard: ShardId, position: u64) -> [u8; 10] {
    let mut key = [0u8; 10];
    key[..2].copy_from_slice(&shard.0.to_be_bytes());
    key[2..].copy_from_slice(&position.to_be_bytes());
    key
}

/// A shard log record's position of its first event, from its key (after the prefix).
pub fn shard_log_first(key: &[u8]) -> Result<u64, JournalError> {
    read_u64(key.get(2..).unwrap_or_default(), "shard log key")
}

/// A shard log record's event keys, in position order.
pub fn shard_log_entries(value: &[u8]) -> Result<std::slice::ChunksExact<'_, u8>, JournalError> {
    if value.is_empty() || value.len() % EVENT_KEY_LEN != 0 {
        return Err(JournalError::Corrupt(format!(
            "shard log record of {} bytes, expected a multiple of {EVENT_KEY_LEN}",
            value.len()
        )));
    }
    Ok(value.chunks_exact(EVENT_KEY_LEN))
}

pub fn shard_key(shard: ShardId) -> [u8; 2] {
    shard.0.to_be_bytes()
}

/// `consumers` tree: consumer name, a 0 separator, then the shard.
pub fn consumer_key(consumer: &str, shard: ShardId) -> Vec<u8> {
    let mut key = Vec::with_capacity(consumer.len() + 3);
    key.extend_from_slice(consumer.as_bytes());
    key.push(0);
    key.extend_from_slice(&shard.0.to_be_bytes());
    key
}

/// `inbound` tree: org + message id.
pub fn inbound_key(org: OrgId, message_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(16 + message_id.len());
    key.extend_from_slice(org.0.as_bytes());
    key.extend_from_slice(message_id.as_bytes());
    key
}

pub fn read_u64(bytes: &[u8], what: &str) -> Result<u64, JournalError> {
    let array: [u8; 8] = bytes
        .get(..8)
        .and_then(|slice| slice.try_into().ok())
        .ok_or_else(|| JournalError::Corrupt(format!("{what}: {} bytes, expected at least 8", bytes.len())))?;
    Ok(u64::from_be_bytes(array))
}

/// `events` value of one event: shard (2) + position (8) + payload.
pub fn event_value(shard: ShardId, position: u64, payload: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(10 + payload.len());
    value.extend_from_slice(&shard.0.to_be_bytes());
    value.extend_from_slice(&position.to_be_bytes());
    value.extend_from_slice(payload);
    value
}

/// Opens an `events` value holding a run: consecutive events of one entity, under the key of
/// the first. No shard has these numbers (shards are numbered below a `u16` count), so a
/// one-event value never starts with them. A run appended together has consecutive positions
/// too; one a fold gathered from several groups lists them.
const RUN_MARKER: [u8; 2] = [0xFF, 0xFF];
const LISTED_RUN_MARKER: [u8; 2] = [0xFF, 0xFE];

/// At most this many events, and about this many payload bytes, in one run: a command's events
/// are a few, but a practice's batch of commands can append hundreds, and a sled value over
/// 128 KiB becomes a blob file of its own.
pub const RUN_MAX_EVENTS: usize = 64;
pub const RUN_MAX_BYTES: usize = 32 * 1024;

/// `events` value of a run of several events with consecutive positions (`event_value` for
/// one): the marker, shard (2), the first event's position (8), the count (4), then each
/// payload's length (4) and bytes. The events have consecutive sequences from the key's and
/// consecutive positions from `first_position`.
pub fn event_run_value(shard: ShardId, first_position: u64, payloads: &[&[u8]]) -> Vec<u8> {
    let mut value = Vec::with_capacity(16 + super::payloads::encoded_len(payloads.iter().copied()));
    value.extend_from_slice(&RUN_MARKER);
    value.extend_from_slice(&shard.0.to_be_bytes());
    value.extend_from_slice(&first_position.to_be_bytes());
    value.extend_from_slice(&(payloads.len() as u32).to_be_bytes());
    super::payloads::append(&mut value, payloads.iter().copied());
    value
}

/// The `events` value for events of one entity with consecutive sequences from the key's, at
/// ascending `positions` of `shard`: one event's value, a run's, or, when the positions are
/// not consecutive, a listed run's: the marker, shard (2), the count (4), each position (8),
/// then each payload's length (4) and bytes.
pub fn events_value(shard: ShardId, positions: &[u64], payloads: &[&[u8]]) -> Vec<u8> {
    let consecutive = positions.windows(2).all(|pair| pair[1] == pair[0] + 1);
    match (positions, payloads) {
        ([position], [payload]) => event_value(shard, *position, payload),
        ([first, ..], _) if consecutive => event_run_value(shard, *first, payloads),
        _ => {
            let size = 8 + 8 * positions.len() + super::payloads::encoded_len(payloads.iter().copied());
            let mut value = Vec::with_capacity(size);
            value.extend_from_slice(&LISTED_RUN_MARKER);
            value.extend_from_slice(&shard.0.to_be_bytes());
            value.extend_from_slice(&(payloads.len() as u32).to_be_bytes());
            for position in positions {
                value.extend_from_slice(&position.to_be_bytes());
            }
            super::payloads::append(&mut value, payloads.iter().copied());
            value
        }
    }
}

/// Where a record's events are in their shard.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Positions<'a> {
    /// One after another from this one.
    From(u64),
    /// Each event's, ascending: 8 bytes each, big-endian.
    Listed(&'a [u8]),
}

/// An `events` value read: one event, or a run of them.
#[derive(Debug, PartialEq, Eq)]
pub struct EventRecord<'a> {
    pub shard: ShardId,
    pub positions: Positions<'a>,
    pub payloads: Vec<&'a [u8]>,
}

impl EventRecord<'_> {
    /// The position of the record's event at `index`.
    pub fn position(&self, index: usize) -> u64 {
        match &self.positions {
            Positions::From(first) => first + index as u64,
            Positions::Listed(bytes) => listed(bytes, index),
        }
    }

    /// The index and payload of the event at `position`, which must be one of the record's.
    pub fn at(&self, position: u64) -> Result<(u64, &[u8]), JournalError> {
        let index = match &self.positions {
            Positions::From(first) => position.checked_sub(*first).and_then(|index| usize::try_from(index).ok()),
            Positions::Listed(bytes) => {
                let (mut low, mut high) = (0, bytes.len() / 8);
                while low < high {
                    let middle = (low + high) / 2;
                    if listed(bytes, middle) < position {
                        low = middle + 1;
                    } else {
                        high = middle;
                    }
                }
                (low < bytes.len() / 8 && listed(bytes, low) == position).then_some(low)
            }
        };
        match index.and_then(|index| self.payloads.get(index).map(|payload| (index as u64, *payload))) {
            Some(found) => Ok(found),
            None => Err(JournalError::Corrupt(format!(
                "shard log position {position} is not in the events record at {} ({} events)",
                self.position(0),
                self.payloads.len()
            ))),
        }
    }
}

fn listed(bytes: &[u8], index: usize) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[index * 8..index * 8 + 8]);
    u64::from_be_bytes(array)
}

pub fn decode_event_record(bytes: &[u8]) -> Result<EventRecord<'_>, JournalError> {
    let short = || JournalError::Corrupt(format!("event value of {} bytes is cut short", bytes.len()));
    if bytes.len() < 10 {
        return Err(short());
    }
    let marker = [bytes[0], bytes[1]];
    if marker != RUN_MARKER && marker != LISTED_RUN_MARKER {
        let shard = ShardId(u16::from_be_bytes(marker));
        let first_position = read_u64(&bytes[2..10], "event position")?;
        return Ok(EventRecord { shard, positions: Positions::From(first_position), payloads: vec![&bytes[10..]] });
    }
    let shard = ShardId(u16::from_be_bytes([bytes[2], bytes[3]]));
    let (positions, count, rest) = if marker == RUN_MARKER {
        let header = bytes.get(..16).ok_or_else(short)?;
        let count = u32::from_be_bytes([header[12], header[13], header[14], header[15]]) as usize;
        (Positions::From(read_u64(&header[4..12], "event position")?), count, &bytes[16..])
    } else {
        let count = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        let listed = bytes.get(8..8 + count.checked_mul(8).ok_or_else(short)?).ok_or_else(short)?;
        if listed.chunks_exact(8).zip(listed.chunks_exact(8).skip(1)).any(|(before, after)| before >= after) {
            return Err(JournalError::Corrupt("a run whose positions do not ascend".into()));
        }
        (Positions::Listed(listed), count, &bytes[8 + listed.len()..])
    };
    if count == 0 {
        return Err(JournalError::Corrupt("a run of no events".into()));
    }
    let payloads = super::payloads::split(rest, count)
        .map_err(|error| JournalError::Corrupt(format!("a run of {count} events in {} bytes: {error}", bytes.len())))?;
    Ok(EventRecord { shard, positions, payloads })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entity_keys_round_trip_and_sort_by_sequence() {
        let entity = EntityRef { org: OrgId(Uuid::from_u128(9)), kind: EntityKind::Payer, id: Uuid::from_u128(77) };
        assert_eq!(decode_entity_key(&entity_key(&entity)).unwrap(), entity);
        assert!(event_key(&entity, 2) < event_key(&entity, 256));
        assert!(shard_log_key(ShardId(1), 255) < shard_log_key(ShardId(1), 256));
        assert!(decode_entity_key(&[0u8; 5]).is_err());
        let mut bad = entity_key(&entity);
        bad[16] = 9;
        assert!(matches!(decode_entity_key(&bad), Err(JournalError::Corrupt(_))));
        assert!(decode_event_record(&[1, 2]).is_err());
        let record = [event_key(&entity, 1), event_key(&entity, 2)].concat();
        assert_eq!(shard_log_entries(&record).unwrap().count(), 2);
        assert!(shard_log_entries(&record[..40]).is_err());
        assert!(shard_log_entries(&[]).is_err());
        assert_eq!(shard_log_first(&shard_log_key(ShardId(3), 77)).unwrap(), 77);
    }

    #[test]
    fn one_event_and_runs_read_back() {
        let one = event_value(ShardId(4), 17, b"created");
        let record = decode_event_record(&one).unwrap();
        assert_eq!(
            record,
            EventRecord { shard: ShardId(4), positions: Positions::From(17), payloads: vec![b"created".as_slice()] }
        );
        assert_eq!(record.at(17).unwrap(), (0, b"created".as_slice()));
        assert!(record.at(18).is_err());
        // An empty payload is still one event.
        assert_eq!(decode_event_record(&event_value(ShardId(0), 1, b"")).unwrap().payloads, vec![b"".as_slice()]);

        let payloads: [&[u8]; 3] = [b"a", b"", b"third"];
        let run = event_run_value(ShardId(63), 40, &payloads);
        let record = decode_event_record(&run).unwrap();
        assert_eq!(
            (record.shard, record.positions.clone(), record.payloads.clone()),
            (ShardId(63), Positions::From(40), payloads.to_vec())
        );
        assert_eq!(record.at(42).unwrap(), (2, b"third".as_slice()));
        assert!(record.at(39).is_err() && record.at(43).is_err());
        // Every cut is an error, never a shorter run.
        for cut in 0..run.len() {
            assert!(matches!(decode_event_record(&run[..cut]), Err(JournalError::Corrupt(_))), "cut at {cut}");
        }
        let mut longer = run.clone();
        longer.push(0);
        assert!(decode_event_record(&longer).is_err());
    }

    #[test]
    fn events_of_several_groups_list_their_positions() {
        let payloads: [&[u8]; 3] = [b"first", b"", b"third"];
        // Consecutive positions make the compact forms.
        assert_eq!(events_value(ShardId(2), &[9], &payloads[..1]), event_value(ShardId(2), 9, b"first"));
        assert_eq!(events_value(ShardId(2), &[9, 10, 11], &payloads), event_run_value(ShardId(2), 9, &payloads));
        let listed = events_value(ShardId(2), &[9, 14, 300], &payloads);
        let record = decode_event_record(&listed).unwrap();
        assert_eq!((record.shard, record.payloads.clone()), (ShardId(2), payloads.to_vec()));
        assert_eq!([record.position(0), record.position(1), record.position(2)], [9, 14, 300]);
        assert_eq!(record.at(14).unwrap(), (1, b"".as_slice()));
        assert_eq!(record.at(300).unwrap(), (2, b"third".as_slice()));
        for missing in [0, 8, 10, 13, 15, 299, 301] {
            assert!(record.at(missing).is_err(), "position {missing} is not the record's");
        }
        for cut in 0..listed.len() {
            assert!(matches!(decode_event_record(&listed[..cut]), Err(JournalError::Corrupt(_))), "cut at {cut}");
        }
        let descending = events_value(ShardId(2), &[9, 300, 14], &payloads);
        assert!(decode_event_record(&descending).is_err(), "positions must ascend");
    }
}
