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
    assert_eq!(stored_format(&path), Some(2));

    // What a build before the marker leaves: no format at all.
    set_format(&path, None);
    assert_eq!(payloads(&path).await.unwrap(), written);
    assert_eq!(stored_format(&path), Some(2), "an open did not record the format");
}

#[tokio::test]
async fn a_store_in_a_newer_format_is_refused_and_left_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("journal");
    let written = append_two(&path).await;
    set_format(&path, Some(3));

    let refused = SledJournal::open(&path, SHARDS).err().expect("a newer format was opened");
    let JournalError::Incompatible(message) = &refused else { panic!("refused as {refused:?}") };
    assert!(message.contains("store format 3"), "{message}");
    assert!(message.contains("formats up to 2"), "{message}");
    assert!(message.contains(&path.display().to_string()), "the message does not say which store: {message}");
    assert_eq!(stored_format(&path), Some(3), "the refused open rewrote the marker");

    // Nothing in it changed: the build that wrote it (here, the marker put back) reads it all.
    set_format(&path, Some(2));
    assert_eq!(payloads(&path).await.unwrap(), written);
}
