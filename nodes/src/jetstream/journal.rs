//! [`JetStreamJournal`]: the `Journal` trait over NATS JetStream.
//!
//! The journal keeps a cache of entity heads (at most 4,096 per shard, see
//! [`super::shard_cache`]) and of each shard's epoch marker, so a
//! steady-state append is one round trip: one message holding all of the command's events (see
//! [`super::frame`]) with the epoch check (see [`super::plan`]). Appends of different entities
//! of one shard are pipelined; appends of one entity wait for each other, so the cached head
//! they are planned against is exact. An entity whose head the cache does not hold costs a
//! read of its head first, unless the list of the shard's entities its fence took shows it
//! has none yet (see [`super::known`]): a claim's `Create` is one round trip too. A batch of
//! several entities is an atomic batch. A failed
//! check is resolved by re-reading the server: a moved epoch is `Fenced`, otherwise
//! `SequenceConflict`.
//!
//! Verified against nats-server 2.15.1 on loopback (tests in `nodes/tests/jetstream_*.rs`):
//! - `Nats-Expected-Last-Subject-Sequence` + `…-Subject: epoch.<shard>` on a data message
//!   refuses a stale writer with 10071, in a single publish and inside an atomic batch (the
//!   whole batch is abandoned, nothing stored), including for an entity never written before.
//! - A `Nats-Msg-Id` already in the duplicate window: a plain publish gets a success ack with
//!   `duplicate: true` (nothing stored); inside an atomic batch the batch fails with 10201.
//! - `Nats-Expected-Last-Subject-Sequence: 0` means "no message on this subject yet".
//! - Latency: a single fenced append ≈ 0.5–0.9 ms; an atomic batch of 2–16 messages took
//!   10–45 ms whatever its size and `sync_interval`, which is why one command's events travel
//!   as one message and only multi-entity batches (tests, benchmarks) are atomic batches.

use super::ack::{parse_ack, AckError, PublishAck};
use super::feed::{Feed, HeadLookup, ShardReads};
use super::frame;
use super::known;
use super::own_writes::{InFlight, OwnAnswer, OwnHead, OwnWrites};
use super::plan::{self, plan_batch, plan_message, EntityHead, PlannedMessage};
use super::read;
use super::setup::{self, JetStreamSettings, Stores};
use super::shard_cache::{Reservation, Shard};
use async_nats::jetstream::kv;
use async_nats::jetstream::message::StreamMessage;
use async_nats::{HeaderMap, Request};
use bytes::Bytes;
use practice_actors::journal::{AppendBatch, BoxFuture, Epoch, Journal, JournalError, StoredEvent};
use practice_protocol::envelope::EntityRef;
use practice_protocol::ids::OrgId;
use practice_protocol::shard::{epoch_subject, event_subject, shard_of, ShardId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Multi-message atomic batches one journal keeps open at once. The server holds at most 50
/// open batches per stream (more are refused or stall); 16 per node leaves room for three.
pub const MAX_OPEN_BATCHES: usize = 16;
/// How long listing a shard's entities may take before the shard does without the list.
const LIST_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);
/// Bytes of its own recent events the journal keeps over all shards (split evenly): a few
/// seconds of a node's peak write rate, well past a module consumer's poll.
const OWN_WRITES_BYTES: usize = 32 << 20;

pub struct JetStreamJournal {
    client: async_nats::Client,
    stores: Stores,
    settings: JetStreamSettings,
    /// Shared with the tasks listing their entities.
    shards: Arc<[Shard]>,
    open_batches: tokio::sync::Semaphore,
    own: OwnWrites,
    feed: Feed,
    /// Entity heads read on the server before an append.
    head_reads: AtomicU64,
}

impl JetStreamJournal {
    /// Connect the backend over an existing client, creating streams and buckets if needed.
    pub async fn open(client: async_nats::Client, settings: JetStreamSettings) -> Result<Arc<Self>, JournalError> {
        if settings.shard_count == 0 {
            return Err(JournalError::InvalidAppend("shard count must be at least 1".into()));
        }
        let context = async_nats::jetstream::new(client.clone());
        let stores = setup::ensure(&context, &settings).await?;
        // The stream as it is, whoever created it: replicated, its leader answers those reads.
        let mut settings = settings;
        settings.read_from_leader |= stores.events.cached_info().config.num_replicas > 1;
        let shards = (0..settings.shard_count).map(|_| Shard::default()).collect();
        let open_batches = tokio::sync::Semaphore::new(MAX_OPEN_BATCHES);
        let own = OwnWrites::new(settings.shard_count, OWN_WRITES_BYTES / usize::from(settings.shard_count));
        let feed = Feed::new(settings.shard_count)?;
        let head_reads = AtomicU64::new(0);
        Ok(Arc::new(Self { client, stores, settings, shards, open_batches, own, feed, head_reads }))
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn settings(&self) -> &JetStreamSettings {
        &self.settings
    }

    /// Shard reads so far: answered from the event feed's window, or by the server.
    pub fn shard_reads(&self) -> ShardReads {
        self.feed.reads()
    }

    /// How many entity heads appends have read on the server so far: one for each entity
    /// whose head the cache did not hold, unless its fence's list showed it had no event yet.
    pub fn head_reads(&self) -> u64 {
        self.head_reads.load(Ordering::Relaxed)
    }

    /// Also count shard reads in `practice_journal_shard_reads_total{source}` of `registry`.
    pub fn register_metrics(&self, registry: &prometheus::Registry) -> Result<(), prometheus::Error> {
        self.feed.register(registry)
    }

    fn shard(&self, shard: ShardId) -> Result<&Shard, JournalError> {
        self.shards.get(usize::from(shard.0)).ok_or_else(|| {
            JournalError::InvalidAppend(format!("shard {shard} out of range 0..{}", self.settings.shard_count))
        })
    }

    /// Publish one message and wait for the server's verdict.
    async fn request(&self, subject: String, headers: HeaderMap, payload: Bytes) -> Result<PublishAck, AppendFailure> {
        let request = Request::new().headers(headers).payload(payload).timeout(Some(self.settings.request_timeout));
        let reply = self
            .client
            .send_request(subject, request)
            .await
            .map_err(|error| AppendFailure::Unavailable(format!("publish: {error}")))?;
        parse_ack(&reply.payload).map_err(AppendFailure::Ack)
    }

    /// The last message on `subject` as the stream holds it, for reads an append is planned
    /// on (heads, epoch markers): from the leader when the stream is replicated, since a
    /// follower may answer a direct get before it has caught up.
    async fn last_known(&self, subject: &str) -> Result<Option<StreamMessage>, JournalError> {
        read::last_message(&self.stores.events, subject, self.settings.read_from_leader).await
    }

    /// The current epoch marker of a shard: `(epoch, stream sequence)`, `(0, 0)` before any.
    async fn read_epoch(&self, shard: ShardId) -> Result<(Epoch, u64), JournalError> {
        match self.last_known(&epoch_subject(shard)).await? {
            None => Ok((Epoch(0), 0)),
            Some(message) => {
                let text = std::str::from_utf8(&message.payload)
                    .map_err(|_| JournalError::Corrupt(format!("epoch marker of shard {shard} is not text")))?;
                let value = text
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| JournalError::Corrupt(format!("epoch marker of shard {shard} is not a number")))?;
                Ok((Epoch(value), message.sequence))
            }
        }
    }

    /// The shard's last event position on the server (0 for an empty shard): the last message
    /// on the shard's wildcard subject.
    async fn server_head(&self, shard: ShardId) -> Result<u64, JournalError> {
        match self.last_known(&format!("evt.{}.>", shard.0)).await? {
            None => Ok(0),
            Some(message) => read::last_position(&message.headers, message.sequence),
        }
    }

    /// Every so often, make sure the shard's latest epoch marker is still this journal's
    /// before its own writes answer for the shard. A failed look (the server away, when no
    /// other writer can fence either) keeps the window and waits for the next turn, so reads
    /// do not each wait on the server meanwhile.
    async fn recheck_fence(&self, shard: ShardId) {
        let Some(ours) = self.own.fence_to_check(shard) else { return };
        let latest = self.last_known(&epoch_subject(shard)).await;
        self.own.fence_checked(shard, ours, latest.map(|latest| latest.map_or(0, |message| message.sequence)).ok());
    }

    /// List the shard's entities after this journal's epoch marker at `epoch_sequence` (the
    /// cache was told with `start_listing` when the marker was stored), beside the shard's
    /// appends: a fence does not wait for it (a shard of 100,000 entities takes ~0.3 s).
    fn spawn_listing(&self, shard: ShardId, epoch_sequence: u64) {
        let (client, shards) = (self.client.clone(), self.shards.clone());
        tokio::spawn(async move {
            let listed = tokio::time::timeout(LIST_WITHIN, list_entities(&client, shard)).await.ok().flatten();
            let state = &shards[usize::from(shard.0)];
            state.lock().finish_listing(epoch_sequence, listed);
            state.listed.notify_waiters();
        });
    }

    /// Wait until the list of the shard's entities this journal's last fence started is done;
    /// whether it is in use (new entities' first appends read no head).
    pub async fn shard_listed(&self, shard: ShardId) -> bool {
        let Ok(state) = self.shard(shard) else { return false };
        loop {
            let listed = state.listed.notified();
            tokio::pin!(listed);
            listed.as_mut().enable();
            match state.lock().listing_state() {
                (true, _) => {}
                (false, in_use) => return in_use,
            }
            listed.await;
        }
    }

    /// This journal no longer holds `shard` (the node gave it up or lost its lease): reads of
    /// it stop trusting this journal's own writes, and its list of the shard's entities goes.
    pub fn release(&self, shard: ShardId) {
        self.own.release(shard);
        if let Ok(state) = self.shard(shard) {
            state.lock().drop_known();
        }
    }

    /// An entity's head as the stream holds it. A head read behind the stream would plan an
    /// append on a sequence the entity already has, which only the epoch check guards.
    async fn read_head(&self, entity: &EntityRef, shard: ShardId) -> Result<EntityHead, JournalError> {
        match self.last_known(&event_subject(entity, shard)).await? {
            None => Ok(EntityHead::default()),
            Some(message) => Ok(EntityHead {
                sequence: read::last_entity_sequence(&message.headers, message.sequence)?,
                stream_sequence: message.sequence,
            }),
        }
    }

    /// Wait until none of `entities` has an append in flight, then mark them busy. Returns the
    /// cache as it stood then: generation, epoch, and the heads it knew.
    async fn reserve<'a>(
        &self,
        shard: &'a Shard,
        entities: Vec<EntityRef>,
    ) -> (Reservation<'a>, u64, Option<(Epoch, u64)>, HashMap<EntityRef, EntityHead>) {
        loop {
            let idle = shard.idle.notified();
            tokio::pin!(idle);
            idle.as_mut().enable();
            {
                let mut cache = shard.lock();
                if !entities.iter().any(|entity| cache.busy.contains(entity)) {
                    cache.busy.extend(entities.iter().copied());
                    let heads = entities
                        .iter()
                        .filter_map(|entity| cache.take_head(entity).map(|head| (*entity, head)))
                        .collect();
                    let seen = (cache.generation, cache.epoch);
                    return (Reservation::new(shard, entities), seen.0, seen.1, heads);
                }
            }
            idle.await;
        }
    }

    async fn append_reserved(&self, shard: &Shard, batch: &AppendBatch) -> Result<(), JournalError> {
        for event in &batch.events {
            let home = shard_of(&event.entity, self.settings.shard_count);
            if home != batch.shard {
                return Err(JournalError::InvalidAppend(format!(
                    "entity belongs to shard {home}, batch is for shard {}",
                    batch.shard
                )));
            }
        }
        let mut entities: Vec<EntityRef> = batch.events.iter().map(|event| event.entity).collect();
        entities.sort_unstable_by_key(|entity| (entity.org.0, entity.id));
        entities.dedup();
        let (_reservation, generation, cached_epoch, mut heads) = self.reserve(shard, entities.clone()).await;
        let (epoch_sequence, fresh_epoch) = match cached_epoch {
            Some((held, sequence)) if held == batch.epoch => (sequence, false),
            _ => {
                let (current, sequence) = self.read_epoch(batch.shard).await?;
                if current != batch.epoch {
                    return Err(JournalError::Fenced { shard: batch.shard, held: batch.epoch, current });
                }
                (sequence, true)
            }
        };
        // An append of entities whose heads are all cached (the steady state) has nothing to
        // admit: skip the second lock.
        if entities.iter().any(|entity| !heads.contains_key(entity)) {
            shard.lock().admit(epoch_sequence, &entities, &mut heads);
        }
        for entity in &entities {
            if !heads.contains_key(entity) {
                self.head_reads.fetch_add(1, Ordering::Relaxed);
                let head = self.read_head(entity, batch.shard).await?;
                heads.insert(*entity, head);
            }
        }
        let single = plan_message(batch, epoch_sequence, &heads)?;
        // Planned before the append registers as in flight: a plan refused here sent nothing.
        let planned = match single {
            Some(_) => Vec::new(),
            None => plan_batch(batch, epoch_sequence, &heads)?,
        };
        let in_flight = self.own.begin(batch.shard);
        let result = match &single {
            Some(message) => self.publish_message(batch, message).await.map(|ack| {
                let last = batch.events[batch.events.len() - 1].sequence;
                vec![(message.entity, EntityHead { sequence: last, stream_sequence: ack.sequence })]
            }),
            None => {
                self.publish_planned(batch, &planned).await.map(|ack| {
                    // The batch's messages occupy the sequences ending at the ack's.
                    let first = ack.sequence + 1 - planned.len() as u64;
                    planned
                        .iter()
                        .enumerate()
                        .map(|(offset, message)| {
                            let head = EntityHead {
                                sequence: message.entity_sequence,
                                stream_sequence: first + offset as u64,
                            };
                            (message.entity, head)
                        })
                        .collect()
                })
            }
        };
        match result {
            Ok(stored) => {
                if let Some(last) = stored.iter().map(|(_, head)| head.stream_sequence).max() {
                    self.own.saw(last);
                    self.feed.wrote(batch.shard, last);
                    if let Some(in_flight) = in_flight {
                        in_flight.stored(last, stored_events(batch, &stored));
                    }
                }
                let mut cache = shard.lock();
                if cache.generation == generation {
                    if fresh_epoch {
                        cache.epoch = Some((batch.epoch, epoch_sequence));
                    }
                    cache.remember(stored);
                }
                Ok(())
            }
            Err(failure) => {
                // Whatever happened, our view of this shard may be stale now.
                shard.forget();
                settle_failed(in_flight, &failure);
                let error = self.explain(batch, failure).await;
                // Another writer holds the shard, or wrote it under our epoch: its messages
                // are not among our own writes.
                if matches!(error, JournalError::Fenced { .. } | JournalError::SequenceConflict { .. }) {
                    self.own.release(batch.shard);
                    shard.lock().drop_known();
                }
                Err(error)
            }
        }
    }

    /// One message holding all of one entity's events.
    async fn publish_message(
        &self,
        batch: &AppendBatch,
        message: &PlannedMessage,
    ) -> Result<PublishAck, AppendFailure> {
        let mut headers = headers_for(message);
        let payload = if let [event] = batch.events.as_slice() {
            Bytes::from(event.payload.clone())
        } else {
            headers.insert(frame::HEADER_EVENT_COUNT, batch.events.len().to_string().as_str());
            Bytes::from(frame::encode_events(batch.events.iter().map(|event| event.payload.as_slice())))
        };
        let ack = self.request(message.subject.clone(), headers, payload).await?;
        if ack.duplicate {
            Err(AppendFailure::Duplicate)
        } else {
            Ok(ack)
        }
    }

    async fn publish_planned(
        &self,
        batch: &AppendBatch,
        planned: &[PlannedMessage],
    ) -> Result<PublishAck, AppendFailure> {
        // An atomic batch: every message but the last goes without a reply subject; the last
        // carries `Nats-Batch-Commit: 1` and gets the verdict for the whole batch.
        let _open = self
            .open_batches
            .acquire()
            .await
            .map_err(|error| AppendFailure::Unavailable(format!("batch limiter closed: {error}")))?;
        let batch_id = uuid::Uuid::new_v4().simple().to_string();
        let last = planned.len() - 1;
        for (index, (message, event)) in planned.iter().zip(&batch.events).enumerate() {
            let mut headers = headers_for(message);
            headers.insert(plan::HEADER_BATCH_ID, batch_id.as_str());
            headers.insert(plan::HEADER_BATCH_SEQUENCE, (index + 1).to_string().as_str());
            let payload = Bytes::from(event.payload.clone());
            if index == last {
                headers.insert(plan::HEADER_BATCH_COMMIT, "1");
                let ack = self.request(message.subject.clone(), headers, payload).await?;
                if ack.batch_count != planned.len() as u64 {
                    return Err(AppendFailure::Unavailable(format!(
                        "batch committed {} messages, expected {}",
                        ack.batch_count,
                        planned.len()
                    )));
                }
                return Ok(ack);
            }
            self.client
                .publish_with_headers(message.subject.clone(), headers, payload)
                .await
                .map_err(|error| AppendFailure::Unavailable(format!("publish: {error}")))?;
        }
        Err(AppendFailure::Unavailable("empty batch".into()))
    }

    /// Turn a failed publish into the journal's answer, re-reading what it needs.
    async fn explain(&self, batch: &AppendBatch, failure: AppendFailure) -> JournalError {
        match failure {
            AppendFailure::Unavailable(message) => JournalError::Unavailable(message),
            AppendFailure::Ack(AckError::Unreadable(error, body)) => {
                JournalError::Unavailable(format!("unreadable ack: {error}: {body}"))
            }
            AppendFailure::Ack(AckError::Refused(refusal)) if refusal.is_retry() => {
                JournalError::Unavailable(format!("retry: {refusal}"))
            }
            AppendFailure::Ack(AckError::Refused(refusal))
                if !(refusal.is_wrong_last_sequence() || refusal.is_duplicate_in_batch()) =>
            {
                JournalError::Unavailable(refusal.to_string())
            }
            // 10071, 10201 or a duplicate id: either the epoch moved or an entity is ahead of us.
            AppendFailure::Ack(_) | AppendFailure::Duplicate => self.diagnose_conflict(batch).await,
        }
    }

    async fn diagnose_conflict(&self, batch: &AppendBatch) -> JournalError {
        match self.read_epoch(batch.shard).await {
            Err(error) => return error,
            Ok((current, _)) if current != batch.epoch => {
                return JournalError::Fenced { shard: batch.shard, held: batch.epoch, current }
            }
            Ok(_) => {}
        }
        let mut seen = std::collections::HashSet::new();
        for event in &batch.events {
            if !seen.insert(event.entity) {
                continue;
            }
            match self.read_head(&event.entity, batch.shard).await {
                Err(error) => return error,
                Ok(head) if head.sequence + 1 != event.sequence => {
                    return JournalError::SequenceConflict { expected: event.sequence, found: head.sequence }
                }
                Ok(_) => {}
            }
        }
        JournalError::Unavailable("a concurrent write changed the shard; retry".into())
    }
}

/// The events an acknowledged append stored, with their positions, from where its messages
/// landed (`stored`, one per message): one message holding them all, or (an atomic batch)
/// one message each.
fn stored_events(batch: &AppendBatch, stored: &[(EntityRef, EntityHead)]) -> Vec<StoredEvent> {
    batch
        .events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let position = match stored {
                [(_, head)] => frame::position(head.stream_sequence, index),
                each => frame::position(each[index].1.stream_sequence, 0),
            };
            StoredEvent {
                entity: event.entity,
                sequence: event.sequence,
                shard: batch.shard,
                position,
                payload: event.payload.clone(),
            }
        })
        .collect()
}

/// A refusal or a duplicate stored nothing; anything else leaves the outcome unknown, which
/// dropping the guard reports.
fn settle_failed(in_flight: Option<InFlight<'_>>, failure: &AppendFailure) {
    if let Some(in_flight) = in_flight {
        if matches!(failure, AppendFailure::Duplicate | AppendFailure::Ack(AckError::Refused(_))) {
            in_flight.nothing();
        }
    }
}

/// The headers of one planned message: its id, entity sequence and check.
fn headers_for(message: &PlannedMessage) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(plan::HEADER_MSG_ID, message.message_id.as_str());
    headers.insert(plan::HEADER_ENTITY_SEQUENCE, message.entity_sequence.to_string().as_str());
    if let Some(check) = &message.check {
        headers.insert(plan::HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE, check.last_stream_sequence.to_string().as_str());
        if check.subject != message.subject {
            headers.insert(plan::HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT, check.subject.as_str());
        }
    }
    headers
}

/// Why a publish did not store the batch, before diagnosis.
enum AppendFailure {
    Unavailable(String),
    Ack(AckError),
    /// The server already had this `Nats-Msg-Id`: nothing new stored.
    Duplicate,
}

/// The keys of the shard's entities with events (see [`super::known`]); `None` when the list
/// could not be had (the server away), is past the cap, or does not add up: fewer keys than
/// the subjects the server counted means a page missed or repeated, a subject not an
/// entity's, or two entities with one key.
async fn list_entities(client: &async_nats::Client, shard: ShardId) -> Option<HashSet<u64>> {
    let mut keys = HashSet::new();
    let filter = format!("evt.{}.>", shard.0);
    let total = read::list_subjects(client, setup::EVENTS_STREAM, &filter, known::MAX_KNOWN_PER_SHARD, |subject| {
        if let Some((_, entity)) = read::entity_from_subject(subject) {
            keys.insert(known::key(&entity));
        }
    })
    .await;
    (total.ok().flatten() == Some(keys.len())).then_some(keys)
}

fn snapshot_key(entity: &EntityRef) -> String {
    format!("{}.{}.{}", entity.kind.as_str(), entity.org.0.simple(), entity.id.simple())
}

/// KV keys allow `[-/_=.a-zA-Z0-9]`; consumer names are ours, but be strict anyway.
fn position_key(consumer: &str, shard: ShardId) -> Result<String, JournalError> {
    if consumer.is_empty() || !consumer.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_')) {
        return Err(JournalError::InvalidAppend(format!("consumer name {consumer:?} must be [A-Za-z0-9_-]+")));
    }
    Ok(format!("{consumer}.{}", shard.0))
}

fn inbound_key(org: OrgId, message_id: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, message_id.as_bytes());
    let hex: String = digest.as_ref().iter().map(|byte| format!("{byte:02x}")).collect();
    format!("{}.{hex}", org.0.simple())
}

fn kv_unavailable(what: &str, error: impl std::fmt::Display) -> JournalError {
    JournalError::Unavailable(format!("{what}: {error}"))
}

impl Journal for JetStreamJournal {
    fn shard_count(&self) -> u16 {
        self.settings.shard_count
    }

    fn fence(&self, shard: ShardId) -> BoxFuture<'_, Result<Epoch, JournalError>> {
        Box::pin(async move {
            let state = self.shard(shard)?;
            // Compare-and-set on the marker's own subject; a lost race re-reads and tries again.
            for _ in 0..16 {
                let (current, sequence) = self.read_epoch(shard).await?;
                let next = Epoch(current.0 + 1);
                let mut headers = HeaderMap::new();
                headers.insert(plan::HEADER_EXPECTED_LAST_SUBJECT_SEQUENCE, sequence.to_string().as_str());
                match self.request(epoch_subject(shard), headers, Bytes::from(next.0.to_string())).await {
                    Ok(ack) => {
                        let generation = self.own.fenced(shard, ack.sequence);
                        {
                            let mut cache = state.lock();
                            cache.generation += 1;
                            cache.forget_heads();
                            if cache.epoch.is_none_or(|(held, _)| held < next) {
                                cache.epoch = Some((next, ack.sequence));
                            }
                            // Before any append can be admitted under the new marker.
                            cache.start_listing(ack.sequence);
                        }
                        self.spawn_listing(shard, ack.sequence);
                        // Read the shard's head now: the own writes then reach back to it, so
                        // module consumers resuming the shard read from memory at once. Best
                        // effort: reads from before the fence go to the server.
                        if let Ok(head) = self.server_head(shard).await {
                            self.own.note_head(shard, generation, head);
                        }
                        return Ok(next);
                    }
                    Err(AppendFailure::Ack(AckError::Refused(refusal)))
                        if refusal.is_wrong_last_sequence() || refusal.is_retry() =>
                    {
                        continue
                    }
                    Err(AppendFailure::Unavailable(message)) => return Err(JournalError::Unavailable(message)),
                    Err(AppendFailure::Ack(error)) => return Err(JournalError::Unavailable(error.to_string())),
                    Err(AppendFailure::Duplicate) => continue,
                }
            }
            Err(JournalError::Unavailable(format!("could not fence shard {shard}: too much contention")))
        })
    }

    fn append(&self, batch: AppendBatch) -> BoxFuture<'_, Result<(), JournalError>> {
        Box::pin(async move {
            let shard = self.shard(batch.shard)?;
            self.append_reserved(shard, &batch).await
        })
    }

    fn read_entity(
        &self,
        entity: EntityRef,
        after_sequence: u64,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>> {
        Box::pin(async move {
            let shard = shard_of(&entity, self.settings.shard_count);
            let subject = event_subject(&entity, shard);
            // An actor rebuilding reads its entity right before its next append: that append
            // plans on the head found here instead of reading the same last message again.
            let state = self.shard(shard)?;
            let began = state.lock().read_mark();
            let (events, head) = read::read_entity_subject(
                &self.stores.events,
                &subject,
                after_sequence,
                self.settings.read_from_leader,
            )
            .await?;
            state.lock().note_read(entity, head, began);
            Ok(events)
        })
    }

    fn read_shard(
        &self,
        shard: ShardId,
        after_position: u64,
        limit: usize,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, JournalError>> {
        Box::pin(async move {
            self.shard(shard)?;
            self.recheck_fence(shard).await;
            match self.own.read(shard, after_position, limit).await {
                OwnAnswer::Events(events) => {
                    self.feed.count_read(true);
                    return Ok(events);
                }
                // The feed would start following the whole stream for a shard only we write.
                OwnAnswer::Server => self.feed.count_read(false),
                OwnAnswer::NotOwned => {
                    if let Some(events) = self.feed.read(&self.stores.events, shard, after_position, limit).await {
                        return Ok(events);
                    }
                }
            }
            read::read_subject(&self.stores.events, &format!("evt.{}.>", shard.0), after_position, limit).await
        })
    }

    fn save_snapshot(
        &self,
        entity: EntityRef,
        sequence: u64,
        state: Vec<u8>,
    ) -> BoxFuture<'_, Result<(), JournalError>> {
        Box::pin(async move {
            let mut value = Vec::with_capacity(8 + state.len());
            value.extend_from_slice(&sequence.to_be_bytes());
            value.extend_from_slice(&state);
            self.stores
                .snapshots
                .put(snapshot_key(&entity), Bytes::from(value))
                .await
                .map_err(|error| kv_unavailable("saving snapshot", error))?;
            Ok(())
        })
    }

    fn load_snapshot(&self, entity: EntityRef) -> BoxFuture<'_, Result<Option<(u64, Vec<u8>)>, JournalError>> {
        Box::pin(async move {
            let value = self
                .stores
                .snapshots
                .get(snapshot_key(&entity))
                .await
                .map_err(|error| kv_unavailable("loading snapshot", error))?;
            let Some(value) = value else { return Ok(None) };
            if value.len() < 8 {
                return Err(JournalError::Corrupt("snapshot shorter than its sequence".into()));
            }
            let (sequence, state) = value.split_at(8);
            let sequence = u64::from_be_bytes(sequence.try_into().unwrap_or_default());
            Ok(Some((sequence, state.to_vec())))
        })
    }

    fn load_position(&self, consumer: &str, shard: ShardId) -> BoxFuture<'_, Result<u64, JournalError>> {
        let key = position_key(consumer, shard);
        Box::pin(async move {
            let value =
                self.stores.positions.get(key?).await.map_err(|error| kv_unavailable("loading position", error))?;
            match value {
                None => Ok(0),
                Some(bytes) => std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(frame::decode_stored_position)
                    .ok_or_else(|| JournalError::Corrupt("consumer position is not a number".into())),
            }
        })
    }

    fn store_position(&self, consumer: &str, shard: ShardId, position: u64) -> BoxFuture<'_, Result<(), JournalError>> {
        let key = position_key(consumer, shard);
        Box::pin(async move {
            self.stores
                .positions
                .put(key?, Bytes::from(frame::encode_stored_position(position)))
                .await
                .map_err(|error| kv_unavailable("storing position", error))?;
            Ok(())
        })
    }

    /// The last event position in the shard: from the event feed once it is running and has
    /// seen the shard, otherwise a direct get of the last message on the shard's wildcard
    /// subject (the server resolves wildcards for last-by-subject). Positions
    /// step by [`frame::EVENTS_PER_MESSAGE`] per stream message, so a lag computed from them
    /// is in position units, not events.
    fn shard_head(&self, shard: ShardId) -> BoxFuture<'_, Result<Option<u64>, JournalError>> {
        Box::pin(async move {
            self.shard(shard)?;
            self.recheck_fence(shard).await;
            match self.own.head(shard) {
                OwnHead::Known(head) => return Ok(Some(head)),
                OwnHead::Unknown(generation) => {
                    let head = self.server_head(shard).await?;
                    self.own.note_head(shard, generation, head);
                    return Ok(Some(head));
                }
                OwnHead::NotOwned => {}
            }
            let opened = match self.feed.head(&self.stores.events, shard).await {
                HeadLookup::Known(head) => return Ok(Some(head)),
                HeadLookup::Unknown(opened) => opened,
            };
            let head = self.server_head(shard).await?;
            self.feed.note_head(shard, head, opened);
            Ok(Some(head))
        })
    }

    /// Counted in memory: the shard's own writes, or the feed's window. A consumer behind
    /// both is at least as far behind as they reach.
    fn shard_lag(&self, shard: ShardId, after: u64) -> BoxFuture<'_, Result<Option<u64>, JournalError>> {
        let counted = self.own.count_after(shard, after).or_else(|| self.feed.count_after(shard, after));
        Box::pin(async move { Ok(counted) })
    }

    fn remember_inbound(&self, org: OrgId, message_id: &str) -> BoxFuture<'_, Result<bool, JournalError>> {
        let key = inbound_key(org, message_id);
        Box::pin(async move {
            match self.stores.inbound_ids.create(key, Bytes::new()).await {
                Ok(_) => Ok(true),
                Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => Ok(false),
                Err(error) => Err(kv_unavailable("remembering inbound id", error)),
            }
        })
    }
}
