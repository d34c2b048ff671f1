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
/// Group commits' shard log entries not yet folded into `SHARD_LOG` (see `sled_pending`).
pub const PENDING: u8 = b'g';
pub const EPOCHS: u8 = b'p';
pub const SNAPSHOTS: u8 = b's';
pub const CONSUMERS: u8 = b'c';
pub const INBOUND: u8 = b'i';
pub const META: u8 = b'm';

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

/// `events` value: shard (2) + position (8) + payload.
pub fn event_value(shard: ShardId, position: u64, payload: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(10 + payload.len());
    value.extend_from_slice(&shard.0.to_be_bytes());
    value.extend_from_slice(&position.to_be_bytes());
    value.extend_from_slice(payload);
    value
}

pub fn decode_event_value(bytes: &[u8]) -> Result<(ShardId, u64, Vec<u8>), JournalError> {
    if bytes.len() < 10 {
        return Err(JournalError::Corrupt(format!("event value of {} bytes, expected at least 10", bytes.len())));
    }
    let shard = ShardId(u16::from_be_bytes([bytes[0], bytes[1]]));
    let position = read_u64(&bytes[2..10], "event position")?;
    Ok((shard, position, bytes[10..].to_vec()))
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
        assert!(decode_event_value(&[1, 2]).is_err());
        let record = [event_key(&entity, 1), event_key(&entity, 2)].concat();
        assert_eq!(shard_log_entries(&record).unwrap().count(), 2);
        assert!(shard_log_entries(&record[..40]).is_err());
        assert!(shard_log_entries(&[]).is_err());
        assert_eq!(shard_log_first(&shard_log_key(ShardId(3), 77)).unwrap(), 77);
    }
}
