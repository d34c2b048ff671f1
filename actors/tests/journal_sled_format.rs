//! The embedded store's format marker: an open records the format it writes where it is
//! missing, a store from before the marker opens as it is, and a store in a newer format is
//! refused before anything in it changes.

use practice_actors::journal::conformance::entity_in_shard;
use practice_actors::journal::{sled_open, AppendBatch, Journal, JournalError, PendingEvent, SledJournal};
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::ShardId;
use std::path::Path;
use uuid::Uuid;

const SHARDS: u16 = 4;
const FORMAT_KEY: &[u8] = b"mformat";

fn claim() -> EntityRef {
    entity_in_shard(OrgId(Uuid::from_u128(0xf0_4a7)), EntityKind::Claim, ShardId(2), SHARDS, 0)
}

/// The closed store's format marker, as raw sled holds it.
fn stored_format(path: &Path) -> Option<u16> {
    let db = sled_open::open(&sled::Config::new().path(path)).unwrap();
    db.get(FORMAT_KEY).unwrap().map(|bytes| u16::from_be_bytes(bytes.as_ref().try_into().unwrap()))
}

fn set_format(path: &Path, format: Option<u16>) {
    let db = sled_open::open(&sled::Config::new().path(path)).unwrap();
    match format {
        Some(format) => db.insert(FORMAT_KEY, &format.to_be_bytes()).unwrap(),
        None => db.remove(FORMAT_KEY).unwrap(),
    };
    db.flush().unwrap();
}

async fn append_two(path: &Path) -> Vec<u8> {
    let journal = SledJournal::open(path, SHARDS).unwrap();
    let shard = ShardId(2);
    let epoch = journal.fence(shard).await.unwrap();
    let events = (1..=2)
        .map(|sequence| PendingEvent {
            entity: claim(),
            sequence,
            message_id: String::new(),
            payload: vec![sequence as u8; 3],
        })
        .collect();
    journal.append(AppendBatch { shard, epoch, events }).await.unwrap();
    let read = journal.read_entity(claim(), 0).await.unwrap();
    read.iter().flat_map(|event| event.payload.clone()).collect()
}

async fn payloads(path: &Path) -> Result<Vec<u8>, JournalError> {
    let journal = SledJournal::open(path, SHARDS)?;
    let read = journal.read_entity(claim(), 0).await?;
    Ok(read.iter().flat_map(|event| event.payload.clone()).collect())
}

#[tokio::test]
async fn a_store_says_its_format_and_one_from_before_the_marker_opens_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let written = append_two(&path).await;
    assert_eq!(written, vec![1, 1, 1, 2, 2, 2]);
    assert_eq!(stored_format(&path), Some(3));

    // What a build before the marker leaves: no format at all.
    set_format(&path, None);
    assert_eq!(payloads(&path).await.unwrap(), written);
    assert_eq!(stored_format(&path), Some(3), "an open did not record the format");
}

#[tokio::test]
async fn a_store_in_a_newer_format_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let written = append_two(&path).await;
    set_format(&path, Some(4));

    let refused = SledJournal::open(&path, SHARDS).err().expect("a newer format was opened");
    let JournalError::Incompatible(message) = &refused else { panic!("refused as {refused:?}") };
    assert!(message.contains("store format 4"), "{message}");
    assert!(message.contains("formats up to 3"), "{message}");
    assert!(message.contains(&path.display().to_string()), "the message does not say which store: {message}");
    assert_eq!(stored_format(&path), Some(4), "the refused open rewrote the marker");

    // Nothing in it changed: the build that wrote it (here, the marker put back) reads it all.
    set_format(&path, Some(3));
    assert_eq!(payloads(&path).await.unwrap(), written);
}

/// A raw `e` key of `claim()`'s event `sequence`, as every format lays it out: the prefix, org
/// (16), kind (1, 0 for a claim), id (16), sequence (8).
fn raw_event_key(sequence: u64) -> Vec<u8> {
    let claim = claim();
    let mut key = vec![b'e'];
    key.extend_from_slice(claim.org.0.as_bytes());
    key.push(0);
    key.extend_from_slice(claim.id.as_bytes());
    key.extend_from_slice(&sequence.to_be_bytes());
    key
}

/// What a format 2 build leaves after a crash: its events stored as `e` records, and the shard
/// log entries of its last group commits only in `g` records (shard, first position, count,
/// the event keys), not yet folded into `l` records.
#[tokio::test]
async fn a_store_a_format_2_build_left_after_a_crash_reads_the_same_and_folds() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let shard = ShardId(2);
    drop(SledJournal::open(&path, SHARDS).unwrap());
    {
        let db = sled_open::open(&sled::Config::new().path(&path)).unwrap();
        for (number, sequence) in [(0u64, 1u64), (1, 2)] {
            let mut value = shard.0.to_be_bytes().to_vec();
            value.extend_from_slice(&sequence.to_be_bytes());
            value.extend_from_slice(&[sequence as u8; 3]);
            db.insert(raw_event_key(sequence), value).unwrap();
            let mut group = shard.0.to_be_bytes().to_vec();
            group.extend_from_slice(&sequence.to_be_bytes());
            group.extend_from_slice(&1u32.to_be_bytes());
            group.extend_from_slice(&raw_event_key(sequence)[1..]);
            let mut key = vec![b'g'];
            key.extend_from_slice(&number.to_be_bytes());
            db.insert(key, group).unwrap();
        }
        db.insert(FORMAT_KEY, &2u16.to_be_bytes()).unwrap();
        db.flush().unwrap();
    }

    let journal = SledJournal::open(&path, SHARDS).unwrap();
    let by_shard = journal.read_shard(shard, 0, 10).await.unwrap();
    assert_eq!(by_shard.iter().map(|event| (event.position, event.sequence)).collect::<Vec<_>>(), [(1, 1), (2, 2)]);
    assert_eq!(journal.shard_head(shard).await.unwrap(), Some(2));
    // Appends go on after them, and the close folds old and new entries together.
    let epoch = journal.fence(shard).await.unwrap();
    let third = PendingEvent { entity: claim(), sequence: 3, message_id: String::new(), payload: vec![3; 3] };
    journal.append(AppendBatch { shard, epoch, events: vec![third] }).await.unwrap();
    drop(journal);
    assert_eq!(stored_format(&path), Some(3));
    {
        let db = sled_open::open(&sled::Config::new().path(&path)).unwrap();
        assert_eq!(db.scan_prefix(b"g").count() + db.scan_prefix(b"h").count(), 0, "a clean close left groups");
    }
    let journal = SledJournal::open(&path, SHARDS).unwrap();
    let by_shard = journal.read_shard(shard, 0, 10).await.unwrap();
    assert_eq!(by_shard.iter().map(|event| event.position).collect::<Vec<_>>(), [1, 2, 3]);
    drop(journal);
    assert_eq!(payloads(&path).await.unwrap(), vec![1, 1, 1, 2, 2, 2, 3, 3, 3]);
}
