//! Reading the `EVENTS` stream back: last message on a subject (direct get) and ranges of a
//! subject filter through a short-lived pull consumer. A message may hold several events
//! (see [`super::frame`]); readers expand it.

use super::frame::{self, HEADER_EVENT_COUNT};
use super::plan::{EntityHead, HEADER_ENTITY_SEQUENCE};
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use async_nats::jetstream::message::StreamMessage;
use async_nats::jetstream::response::Response;
use async_nats::jetstream::stream::{DirectGetErrorKind, LastRawMessageErrorKind, Stream};
use async_nats::HeaderMap;
use futures::StreamExt;
use practice_actors::journal::{JournalError, StoredEvent};
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::ids::OrgId;
use practice_protocol::shard::ShardId;
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

/// Messages fetched per pull request when reading a range.
const PAGE: usize = 512;

/// The last message stored on `subject`, if any.
pub(crate) async fn last_on_subject(stream: &Stream, subject: &str) -> Result<Option<StreamMessage>, JournalError> {
    match stream.direct_get_last_for_subject(subject).await {
        Ok(message) => Ok(Some(message)),
        Err(error) if error.kind() == DirectGetErrorKind::NotFound => Ok(None),
        Err(error) => Err(JournalError::Unavailable(format!("reading last message of {subject}: {error}"))),
    }
}

/// The last message stored on `subject`, answered by the stream's leader (the JetStream API's
/// message get, not a direct get): in a replicated stream a direct get may be answered by a
/// follower that has not caught up (nats-server 2.15.1 has no way to ask a follower for a
/// minimum last sequence), and a head read behind the writer's own appends or the old
/// owner's last ones would plan an append on a sequence the entity already has.
pub(crate) async fn last_on_subject_from_leader(
    stream: &Stream,
    subject: &str,
) -> Result<Option<StreamMessage>, JournalError> {
    match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) => Ok(Some(message)),
        Err(error) if error.kind() == LastRawMessageErrorKind::NoMessageFound => Ok(None),
        Err(error) => {
            Err(JournalError::Unavailable(format!("reading last message of {subject} from the leader: {error}")))
        }
    }
}

/// The last message stored on `subject`: from the stream's leader when `from_leader` (see
/// [`last_on_subject_from_leader`]), else a direct get.
pub(crate) async fn last_message(
    stream: &Stream,
    subject: &str,
    from_leader: bool,
) -> Result<Option<StreamMessage>, JournalError> {
    match from_leader {
        true => last_on_subject_from_leader(stream, subject).await,
        false => last_on_subject(stream, subject).await,
    }
}

/// One page of a stream's subjects (`STREAM.INFO` with a subject filter).
#[derive(serde::Deserialize)]
struct SubjectsPage {
    /// Subjects matching the filter over all pages.
    #[serde(default)]
    total: usize,
    state: SubjectsState,
}

#[derive(serde::Deserialize)]
struct SubjectsState {
    #[serde(default)]
    subjects: Option<HashMap<String, u64>>,
}

/// Every subject of `stream` holding messages that matches `filter`, page after page (the
/// server sends at most 100,000 a page), each handed to `each` once or more. Returns how many
/// subjects the server counted, for the caller to check it saw them all, or `None` as soon as
/// that is more than `limit`.
pub(crate) async fn list_subjects(
    client: &async_nats::Client,
    stream: &str,
    filter: &str,
    limit: usize,
    mut each: impl FnMut(&str),
) -> Result<Option<usize>, JournalError> {
    let context = async_nats::jetstream::new(client.clone());
    let unavailable = |error: String| JournalError::Unavailable(format!("listing subjects {filter}: {error}"));
    let (mut offset, mut total) = (0, 0);
    loop {
        let request = serde_json::json!({ "subjects_filter": filter, "offset": offset });
        let page: Response<SubjectsPage> = context
            .request(format!("STREAM.INFO.{stream}"), &request)
            .await
            .map_err(|error| unavailable(error.to_string()))?;
        let page = match page {
            Response::Ok(page) => page,
            Response::Err { error } => return Err(unavailable(error.to_string())),
        };
        let subjects = page.state.subjects.unwrap_or_default();
        total = total.max(page.total);
        offset += subjects.len();
        if total.max(offset) > limit {
            return Ok(None);
        }
        subjects.keys().for_each(|subject| each(subject));
        // Without a total from the server, only an empty page says the list is done.
        if subjects.is_empty() || (total > 0 && offset >= total) {
            return Ok(Some(total.max(offset)));
        }
    }
}

/// Our `Practice-Entity-Sequence` header.
pub(crate) fn entity_sequence(headers: &HeaderMap, stream_sequence: u64) -> Result<u64, JournalError> {
    headers
        .get(HEADER_ENTITY_SEQUENCE)
        .and_then(|value| value.as_str().parse::<u64>().ok())
        .ok_or_else(|| JournalError::Corrupt(format!("stream message {stream_sequence} has no entity sequence header")))
}

/// How many events the message holds (1 without our count header).
pub(crate) fn message_event_count(headers: &HeaderMap, stream_sequence: u64) -> Result<usize, JournalError> {
    frame::event_count(headers.get(HEADER_EVENT_COUNT).map(|value| value.as_str()), stream_sequence)
}

/// The entity sequence of the last event a message holds.
pub(crate) fn last_entity_sequence(headers: &HeaderMap, stream_sequence: u64) -> Result<u64, JournalError> {
    let first = entity_sequence(headers, stream_sequence)?;
    Ok(first + message_event_count(headers, stream_sequence)? as u64 - 1)
}

/// The position of the last event a message holds.
pub(crate) fn last_position(headers: &HeaderMap, stream_sequence: u64) -> Result<u64, JournalError> {
    Ok(frame::position(stream_sequence, message_event_count(headers, stream_sequence)? - 1))
}

fn expand_message(
    entity: EntityRef,
    shard: ShardId,
    stream_sequence: u64,
    headers: &HeaderMap,
    payload: &[u8],
) -> Result<Vec<StoredEvent>, JournalError> {
    let first = entity_sequence(headers, stream_sequence)?;
    let count = message_event_count(headers, stream_sequence)?;
    frame::expand(entity, shard, stream_sequence, first, count, payload)
}

/// The events of a message a consumer delivered from `stream_sequence` on an `evt.` subject.
pub(crate) fn expand_delivered(
    message: &async_nats::jetstream::Message,
    stream_sequence: u64,
) -> Result<Vec<StoredEvent>, JournalError> {
    let (shard, entity) = entity_from_subject(message.subject.as_str())
        .ok_or_else(|| JournalError::Corrupt(format!("unexpected subject at stream sequence {stream_sequence}")))?;
    match &message.headers {
        Some(headers) => expand_message(entity, shard, stream_sequence, headers, &message.payload),
        None => expand_message(entity, shard, stream_sequence, &HeaderMap::new(), &message.payload),
    }
}

/// Parse `evt.<shard>.<kind>.<org>.<id>` back into its parts.
pub fn entity_from_subject(subject: &str) -> Option<(ShardId, EntityRef)> {
    let mut parts = subject.split('.');
    if parts.next()? != "evt" {
        return None;
    }
    let shard = ShardId(parts.next()?.parse().ok()?);
    let kind = match parts.next()? {
        "claim" => EntityKind::Claim,
        "payer" => EntityKind::Payer,
        "practice" => EntityKind::Practice,
        _ => return None,
    };
    let org = OrgId(Uuid::parse_str(parts.next()?).ok()?);
    let id = Uuid::parse_str(parts.next()?).ok()?;
    if parts.next().is_some() {
        return None;
    }
    Some((shard, EntityRef { org, kind, id }))
}

/// One entity's events after `after_sequence`, and its head as the read found it: a direct
/// get of the last message (usually the whole answer for a new entity), then direct gets
/// forward; `from_leader`, the stream leader's answers instead (see
/// [`last_on_subject_from_leader`]), so the history is one the leader holds. Entities have
/// short histories, so this beats creating a consumer.
pub(crate) async fn read_entity_subject(
    stream: &Stream,
    subject: &str,
    after_sequence: u64,
    from_leader: bool,
) -> Result<(Vec<StoredEvent>, EntityHead), JournalError> {
    let Some(last) = last_message(stream, subject, from_leader).await? else {
        return Ok((Vec::new(), EntityHead::default()));
    };
    let (shard, entity) =
        entity_from_subject(subject).ok_or_else(|| JournalError::InvalidAppend(format!("bad subject {subject}")))?;
    let last_position = last.sequence;
    let head =
        EntityHead { sequence: last_entity_sequence(&last.headers, last.sequence)?, stream_sequence: last.sequence };
    if head.sequence <= after_sequence {
        return Ok((Vec::new(), head));
    }
    if entity_sequence(&last.headers, last.sequence)? <= after_sequence + 1 {
        // The last message holds everything wanted: one round trip.
        let expanded = expand_message(entity, shard, last.sequence, &last.headers, &last.payload)?;
        return Ok((expanded.into_iter().filter(|event| event.sequence > after_sequence).collect(), head));
    }
    let unavailable = |error: &dyn std::fmt::Display| JournalError::Unavailable(format!("reading {subject}: {error}"));
    let mut events = Vec::new();
    let mut position = 0;
    while position < last_position {
        let message = match from_leader {
            true => {
                let next = stream.raw_message_builder().sequence(position + 1).next_by_subject(subject);
                next.send().await.map_err(|error| unavailable(&error))?
            }
            false => {
                let next = stream.direct_get_next_for_subject(subject, Some(position + 1));
                next.await.map_err(|error| unavailable(&error))?
            }
        };
        position = message.sequence;
        let expanded = expand_message(entity, shard, message.sequence, &message.headers, &message.payload)?;
        events.extend(expanded.into_iter().filter(|event| event.sequence > after_sequence));
    }
    Ok((events, head))
}

/// Up to `limit` events on `filter` with position `> after`, in order.
pub(crate) async fn read_subject(
    stream: &Stream,
    filter: &str,
    after: u64,
    limit: usize,
) -> Result<Vec<StoredEvent>, JournalError> {
    let unavailable = |error: &dyn std::fmt::Display| JournalError::Unavailable(format!("reading {filter}: {error}"));
    let mut events = Vec::new();
    if limit == 0 {
        return Ok(events);
    }
    let consumer = stream
        .create_consumer(pull::Config {
            filter_subject: filter.to_string(),
            // The message holding `after` may hold later events too.
            deliver_policy: DeliverPolicy::ByStartSequence { start_sequence: frame::message_of(after).max(1) },
            ack_policy: AckPolicy::None,
            inactive_threshold: Duration::from_secs(30),
            memory_storage: true,
            ..Default::default()
        })
        .await
        .map_err(|error| unavailable(&error))?;
    let mut pending = consumer.cached_info().num_pending as usize;
    let result = async {
        while pending > 0 && events.len() < limit {
            let want = PAGE.min(limit - events.len()).min(pending);
            let mut batch =
                consumer.fetch().max_messages(want).messages().await.map_err(|error| unavailable(&error))?;
            let mut received = 0;
            while let Some(message) = batch.next().await {
                let message = message.map_err(|error| unavailable(&error))?;
                let info = message.info().map_err(|error| unavailable(&error))?;
                let position = info.stream_sequence;
                received += 1;
                let expanded = expand_delivered(&message, position)?;
                events.extend(expanded.into_iter().filter(|event| event.position > after));
            }
            if received == 0 {
                // Nothing more arrived (purged meanwhile); stop rather than spin.
                break;
            }
            pending = pending.saturating_sub(received);
        }
        Ok::<(), JournalError>(())
    }
    .await;
    // Ephemeral: the server drops it after `inactive_threshold` anyway; be tidy.
    let name = consumer.cached_info().name.clone();
    let _ = stream.delete_consumer(&name).await;
    events.truncate(limit);
    result.map(|()| events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::shard::event_subject;

    #[test]
    fn subjects_round_trip() {
        let entity = EntityRef { org: OrgId(Uuid::from_u128(9)), kind: EntityKind::Payer, id: Uuid::from_u128(77) };
        let subject = event_subject(&entity, ShardId(12));
        assert_eq!(entity_from_subject(&subject), Some((ShardId(12), entity)));
        assert_eq!(entity_from_subject("evt.1.claim.x.y"), None);
        assert_eq!(entity_from_subject("epoch.3"), None);
        assert_eq!(entity_from_subject(&format!("{subject}.extra")), None);
    }
}
