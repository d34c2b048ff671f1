//! One owned shard: a task that takes the shard's commands in arrival order, decides them
//! against each claim's state, appends the resulting events of everything that arrived
//! together as one fenced batch (group commit), and only then replies.
//!
//! Architecture invariant: a shard has one writer per process (this task), and the journal's
//! epoch check makes it one writer in the cluster (G1, G6). The task refuses to write once
//! its lease clock has run out, and stops for good when the journal says `Fenced`.

use super::wire::{ClaimCommandEnvelope, CommandReply};
use crate::jetstream::JetStreamJournal;
use futures::{FutureExt, StreamExt};
use practice_actors::journal::{AppendBatch, Epoch, Journal, JournalError, PendingEvent};
use practice_protocol::claim::{decide, ClaimEvent, ClaimState, DecideContext};
use practice_protocol::envelope::{EntityKind, EntityRef, EventEnvelope};
use practice_protocol::shard::{shard_of, ShardId};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Most commands taken into one group commit (the server allows 1,000 messages per batch).
const MAX_COMMANDS_PER_BATCH: usize = 128;

/// Until when this node may write a shard: renewals push it forward; it only runs out.
pub struct LeaseClock {
    origin: Instant,
    valid_until_micros: AtomicU64,
}

impl LeaseClock {
    pub fn new(valid_until: Instant) -> Self {
        let origin = Instant::now();
        let clock = Self { origin, valid_until_micros: AtomicU64::new(0) };
        clock.extend(valid_until);
        clock
    }

    pub fn extend(&self, valid_until: Instant) {
        let micros = valid_until.saturating_duration_since(self.origin).as_micros() as u64;
        self.valid_until_micros.fetch_max(micros, Ordering::SeqCst);
    }

    pub fn revoke(&self) {
        self.valid_until_micros.store(0, Ordering::SeqCst);
    }

    pub fn is_valid(&self) -> bool {
        let now = Instant::now().saturating_duration_since(self.origin).as_micros() as u64;
        now < self.valid_until_micros.load(Ordering::SeqCst)
    }
}

/// Why a shard task ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShardExit {
    /// The node asked it to stop (rebalance, shutdown, lease lost).
    Stopped,
    /// The journal refused its epoch: another node owns the shard now.
    Fenced { current: Epoch },
}

pub struct ShardTask {
    pub shard: ShardId,
    pub epoch: Epoch,
    pub journal: Arc<JetStreamJournal>,
    pub client: async_nats::Client,
    pub lease: Arc<LeaseClock>,
    /// Testing only: write even when the lease clock ran out, so the epoch fence alone is
    /// what refuses a stale owner.
    pub trust_fence_only: bool,
    pub states: HashMap<EntityRef, ClaimState>,
}

struct Incoming {
    reply: Option<async_nats::Subject>,
    envelope: Result<ClaimCommandEnvelope, String>,
}

impl ShardTask {
    pub async fn run(mut self, mut commands: async_nats::Subscriber, mut stop: watch::Receiver<bool>) -> ShardExit {
        loop {
            let first = tokio::select! {
                _ = stop.changed() => return ShardExit::Stopped,
                message = commands.next() => match message {
                    Some(message) => message,
                    None => return ShardExit::Stopped,
                },
            };
            let mut batch = vec![first];
            while batch.len() < MAX_COMMANDS_PER_BATCH {
                match commands.next().now_or_never() {
                    Some(Some(message)) => batch.push(message),
                    _ => break,
                }
            }
            let incoming = batch
                .into_iter()
                .map(|message| Incoming {
                    reply: message.reply,
                    envelope: practice_protocol::codec::decode(&message.payload).map_err(|error| error.to_string()),
                })
                .collect();
            if let Some(exit) = self.process(incoming).await {
                return exit;
            }
        }
    }

    async fn state_of(&mut self, entity: EntityRef) -> Result<ClaimState, JournalError> {
        if let Some(state) = self.states.get(&entity) {
            return Ok(state.clone());
        }
        let mut state = ClaimState::default();
        for stored in self.journal.read_entity(entity, 0).await? {
            let envelope: EventEnvelope<ClaimEvent> = practice_protocol::codec::decode(&stored.payload)
                .map_err(|error| JournalError::Corrupt(format!("event {}: {error}", stored.position)))?;
            state.apply_envelope(&envelope);
        }
        Ok(state)
    }

    /// Decide, append, reply. `Some` when the task must end.
    async fn process(&mut self, incoming: Vec<Incoming>) -> Option<ShardExit> {
        let now = chrono::Utc::now();
        let context = DecideContext::at(now);
        let mut working: HashMap<EntityRef, ClaimState> = HashMap::new();
        let mut events = Vec::new();
        // (reply subject, reply, entity whose new state the reply reports, events appended)
        let mut replies: Vec<(Option<async_nats::Subject>, CommandReply, Option<EntityRef>)> = Vec::new();
        for Incoming { reply, envelope } in incoming {
            let envelope = match envelope {
                Ok(envelope) => envelope,
                Err(error) => {
                    replies.push((
                        reply,
                        CommandReply::Rejected { reason: format!("malformed command: {error}") },
                        None,
                    ));
                    continue;
                }
            };
            let entity = envelope.entity;
            if entity.kind != EntityKind::Claim || shard_of(&entity, self.journal.shard_count()) != self.shard {
                let reason = "command sent to the wrong shard or entity kind".to_string();
                replies.push((reply, CommandReply::Rejected { reason }, None));
                continue;
            }
            let mut state = match working.get(&entity) {
                Some(state) => state.clone(),
                None => match self.state_of(entity).await {
                    Ok(state) => state,
                    Err(error) => {
                        replies.push((reply, CommandReply::Unavailable { reason: error.to_string() }, None));
                        continue;
                    }
                },
            };
            match decide(&state, envelope.command_id, &envelope.command, &envelope.actor, &context) {
                Err(rejection) => replies.push((reply, CommandReply::Rejected { reason: rejection.to_string() }, None)),
                Ok(decided) => {
                    let count = decided.len() as u32;
                    let mut encoded = Vec::with_capacity(decided.len());
                    let mut next = state.clone();
                    for event in decided {
                        let stored = EventEnvelope::new(
                            entity,
                            next.version + 1,
                            now,
                            envelope.actor.clone(),
                            Some(envelope.command_id),
                            event,
                        );
                        next.apply_envelope(&stored);
                        encoded.push(practice_protocol::codec::encode(&stored).map(|payload| PendingEvent {
                            entity,
                            sequence: stored.sequence,
                            message_id: stored.event_id.0.simple().to_string(),
                            payload,
                        }));
                    }
                    let encoded: Result<Vec<_>, _> = encoded.into_iter().collect();
                    let Ok(encoded) = encoded else {
                        tracing::error!(shard = %self.shard, "an event does not encode");
                        let reason = "internal: an event does not encode".to_string();
                        replies.push((reply, CommandReply::Unavailable { reason }, None));
                        continue;
                    };
                    events.extend(encoded);
                    state = next;
                    let accepted =
                        CommandReply::Accepted { status: state.status, version: state.version, events: count };
                    working.insert(entity, state);
                    replies.push((reply, accepted, Some(entity)));
                }
            }
        }
        let mut exit = None;
        if !events.is_empty() {
            let outcome = if self.lease.is_valid() || self.trust_fence_only {
                self.journal.append(AppendBatch { shard: self.shard, epoch: self.epoch, events }).await
            } else {
                Err(JournalError::Unavailable("lease expired: this node no longer writes the shard".into()))
            };
            match outcome {
                Ok(()) => self.states.extend(working),
                Err(error) => {
                    if let JournalError::Fenced { current, .. } = error {
                        tracing::warn!(shard = %self.shard, held = self.epoch.0, current = current.0, "append fenced");
                        exit = Some(ShardExit::Fenced { current });
                    } else {
                        tracing::warn!(shard = %self.shard, %error, "append refused");
                    }
                    // Our view may be stale: re-read on the next touch.
                    for entity in working.keys() {
                        self.states.remove(entity);
                    }
                    let reason = error.to_string();
                    for (_, reply, entity) in &mut replies {
                        if entity.is_some() {
                            *reply = CommandReply::Unavailable { reason: reason.clone() };
                        }
                    }
                }
            }
        } else {
            // Only duplicates and rejections: states are unchanged but now cached.
            self.states.extend(working);
        }
        for (subject, reply, _) in replies {
            let Some(subject) = subject else { continue };
            match practice_protocol::codec::encode(&reply) {
                Ok(body) => {
                    if let Err(error) = self.client.publish(subject, body.into()).await {
                        tracing::warn!(shard = %self.shard, %error, "reply not sent");
                    }
                }
                Err(error) => tracing::error!(shard = %self.shard, %error, "reply does not encode"),
            }
        }
        exit
    }
}

/// How long after a renewal was sent this node still trusts the lease.
pub fn trusted_for(lease_timeout: Duration) -> Duration {
    lease_timeout.saturating_sub(lease_timeout / 5)
}
