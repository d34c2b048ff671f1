//! The generic entity actor: rehydrate on its first message, then for each command (or each
//! of a batch, in order) decide and apply, append before replying; a failed append fails the
//! actor, which rebuilds from the journal. One actor per entity and one message at a time
//! gives G1; the command ids kept in the state give G3.
//!
//! Rehydrating in the first message rather than in `pre_start` keeps the shard supervisor
//! free: a spawn returns at once, so one entity's journal round trips (two on JetStream) never
//! hold up the messages of the other entities of its shard.
//!
//! A first message that starts with a creating command (`Entity::creates`: a claim's
//! `Create`) skips those round trips: its commands are decided against the empty state, and
//! the journal's sequence check, which refuses a first event of an entity that has one,
//! proves the entity new. That outcome stands only if every command was accepted and the
//! append went through; otherwise the actor loads and decides them again, so every answer is
//! the one a loaded actor gives. Every new claim's first command is its `Create`, and the
//! reads it skips (a snapshot and an empty tail) waited on sled's process-wide lock while the
//! journal's writer applied a group.

use super::held::Held;
use super::{rehydrate, Entity, EntityCommand, EntityMessage, Inspection, Outcome, SendError, StateCopy};
use crate::journal::{AppendBatch, Epoch, JournalError, PendingEvent};
use crate::runtime::Runtime;
use chrono::Utc;
use practice_protocol::claim::DecideContext;
use practice_protocol::codec;
use practice_protocol::envelope::{CommandEnvelope, EntityRef, EventEnvelope};
use practice_protocol::ids::CommandId;
use practice_protocol::shard::ShardId;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

pub struct EntityActor<E: Entity>(PhantomData<fn() -> E>);

impl<E: Entity> Default for EntityActor<E> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

pub struct EntityArguments {
    pub entity: EntityRef,
    pub shard: ShardId,
    pub epoch: Epoch,
    pub runtime: Arc<Runtime>,
}

pub struct EntityActorState<E: Entity> {
    entity: EntityRef,
    shard: ShardId,
    epoch: Epoch,
    runtime: Arc<Runtime>,
    held: Held<E::State>,
}

/// Why an actor whose rehydration failed stopped (the supervisor forgets it; the next message
/// starts a fresh one, as a failed start did).
const EXIT_NOT_LOADED: &str = "rehydration failed";

pub use super::actor_exit::{EXIT_FENCED, EXIT_PASSIVATED};

impl<E: Entity> Actor for EntityActor<E> {
    type Msg = EntityMessage;
    type State = EntityActorState<E>;
    type Arguments = EntityArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        arguments: EntityArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        arguments.runtime.metrics.live_actors.with_label_values(&[E::KIND.as_str()]).inc();
        Ok(EntityActorState {
            entity: arguments.entity,
            shard: arguments.shard,
            epoch: arguments.epoch,
            runtime: arguments.runtime,
            held: Held::Unloaded,
        })
    }

    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        state.runtime.metrics.live_actors.with_label_values(&[E::KIND.as_str()]).dec();
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        // Boxed: the actor's task embeds this future (several times over, in ractor's loop),
        // so everything it holds across an await would be paid by every idle actor. Boxed, it
        // is allocated only while a message is handled (6.9 KiB instead of 16 per actor with a
        // 4 KiB future, measured with a bare ractor actor).
        Box::pin(handle_message::<E>(myself, message, state)).await
    }
}

async fn handle_message<E: Entity>(
    myself: ActorRef<EntityMessage>,
    message: EntityMessage,
    state: &mut EntityActorState<E>,
) -> Result<(), ActorProcessingErr> {
    // Nothing to rebuild for a passivation or a hibernation: an actor that never loaded has
    // no state to keep.
    if !state.held.is_loaded()
        && !matches!(message, EntityMessage::Passivate(_) | EntityMessage::Hibernate)
        && !starts_history::<E>(&message)
    {
        if let Err(error) = load::<E>(state).await {
            message.refuse(error);
            myself.stop(Some(EXIT_NOT_LOADED.to_string()));
            return Ok(());
        }
    }
    match message {
        EntityMessage::Command { envelope, reply } => {
            let started = Instant::now();
            // A batch of one: the same decide, append and apply as several.
            let result = run_commands::<E>(&myself, state, vec![*envelope])
                .await
                .and_then(|mut outcomes| outcomes.pop().unwrap_or(Err(SendError::Dropped)));
            state.runtime.metrics.command_latency.observe(started.elapsed().as_secs_f64());
            let failure = result.as_ref().err().cloned();
            // The caller gets its answer first; a caller that gave up is not our failure.
            let _ = reply.send(result);
            if let Some(error) = failure {
                fail_on(&myself, state, &error)?;
            }
        }
        EntityMessage::Commands { envelopes, reply } => {
            let (count, started) = (envelopes.len(), Instant::now());
            let result = run_commands::<E>(&myself, state, envelopes).await;
            state.runtime.metrics.command_latency.observe(started.elapsed().as_secs_f64());
            match result {
                Ok(outcomes) => {
                    let _ = reply.send(outcomes);
                }
                Err(error) => {
                    let _ = reply.send((0..count).map(|_| Err(error.clone())).collect());
                    fail_on(&myself, state, &error)?;
                }
            }
        }
        EntityMessage::Passivate(done) => {
            // A snapshot is a shortcut for the next start, not a duty: one the journal
            // refuses (lease gone, server down) costs a longer replay later, nothing more.
            if let Some((version, bytes)) = state.held.encoded(E::version)? {
                if let Err(error) = state.runtime.journal.save_snapshot(state.entity, version, bytes).await {
                    tracing::warn!(kind = E::KIND.as_str(), %error, "snapshot not saved on passivation");
                }
            }
            myself.stop(Some(EXIT_PASSIVATED.to_string()));
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
        EntityMessage::Hibernate => state.held.hibernate(E::version)?,
        EntityMessage::Inspect(reply) => {
            let (version, bytes) = state.held.encoded(E::version)?.unwrap_or_default();
            let _ = reply.send(Inspection { version, state: bytes });
        }
        EntityMessage::Read(reply) => {
            let (version, copy) = state.held.copy(E::version)?.unwrap_or_default();
            let _ = reply.send(StateCopy { version, state: Box::new(copy) });
        }
    }
    Ok(())
}

/// After a command failed: a fenced actor stops; one whose state may differ from the journal
/// now (a failed append, an event that did not encode) fails, so its supervisor restarts it
/// from the journal; any other error (refused before anything was decided) changes nothing.
/// An actor that could not load has stopped already (`run_commands`).
fn fail_on<E: Entity>(
    myself: &ActorRef<EntityMessage>,
    state: &EntityActorState<E>,
    error: &SendError,
) -> Result<(), ActorProcessingErr> {
    if !state.held.is_loaded() {
        return Ok(());
    }
    match error {
        SendError::Journal(JournalError::Fenced { .. }) | SendError::Fenced { .. } => {
            myself.stop(Some(EXIT_FENCED.to_string()));
            Ok(())
        }
        SendError::Journal(_) | SendError::Codec(_) => Err(error.to_string().into()),
        _ => Ok(()),
    }
}

/// Whether a message's commands start with a creating one, so that an actor not loaded yet
/// may decide them as a new entity's.
fn starts_history<E: Entity>(message: &EntityMessage) -> bool {
    let first = match message {
        EntityMessage::Command { envelope, .. } => Some(&envelope.command),
        EntityMessage::Commands { envelopes, .. } => envelopes.first().map(|envelope| &envelope.command),
        _ => None,
    };
    first.is_some_and(E::creates)
}

/// A message's commands. An actor not loaded yet gets here only when they start with a
/// creating command: they are decided as a new entity's first, and when that does not stand
/// (a command refused, or the journal already holds the entity) the actor loads and decides
/// them again. One that cannot load stops, as at the top of `handle_message`.
async fn run_commands<E: Entity>(
    myself: &ActorRef<EntityMessage>,
    state: &mut EntityActorState<E>,
    envelopes: Vec<CommandEnvelope<EntityCommand>>,
) -> Result<Vec<Result<Outcome, SendError>>, SendError> {
    if state.held.is_loaded() {
        return handle_commands::<E>(state, envelopes, Attempt::Loaded).await.map(Option::unwrap_or_default);
    }
    state.held = Held::Live(Box::default());
    match handle_commands::<E>(state, envelopes.clone(), Attempt::AsNew).await {
        Ok(Some(outcomes)) => return Ok(outcomes),
        Ok(None) => state.held = Held::Unloaded,
        Err(error) => return Err(error),
    }
    if let Err(error) = load::<E>(state).await {
        myself.stop(Some(EXIT_NOT_LOADED.to_string()));
        return Err(error);
    }
    handle_commands::<E>(state, envelopes, Attempt::Loaded).await.map(Option::unwrap_or_default)
}

/// Snapshot + journal tail into `state`.
async fn load<E: Entity>(state: &mut EntityActorState<E>) -> Result<(), SendError> {
    let rehydrated = rehydrate::<E>(state.runtime.journal.as_ref(), state.entity).await?;
    E::after_apply(state.entity, &rehydrated.state, &state.runtime);
    state.held = Held::Live(Box::new(rehydrated.state));
    Ok(())
}

/// A command's events as stored: numbered from `first_sequence`, stamped with the command's
/// actor and id, and encoded for the journal.
#[allow(clippy::type_complexity)]
fn enveloped<E: Entity>(
    entity: EntityRef,
    first_sequence: u64,
    context: &DecideContext,
    (actor, command_id): (&practice_protocol::roles::Actor, CommandId),
    events: Vec<E::Event>,
) -> Result<(Vec<EventEnvelope<E::Event>>, Vec<PendingEvent>), SendError> {
    let mut envelopes = Vec::with_capacity(events.len());
    let mut pending = Vec::with_capacity(events.len());
    for (offset, event) in events.into_iter().enumerate() {
        let sequence = first_sequence + offset as u64;
        let event_envelope = EventEnvelope::new(entity, sequence, context.now, actor.clone(), Some(command_id), event);
        let payload = codec::encode(&event_envelope).map_err(|error| SendError::Codec(error.to_string()))?;
        pending.push(PendingEvent { entity, sequence, message_id: event_envelope.event_id.to_string(), payload });
        envelopes.push(event_envelope);
    }
    Ok((envelopes, pending))
}

/// Whether the state commands are decided against is the entity's as loaded, or the empty
/// state of an entity presumed new.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Loaded,
    AsNew,
}

/// Several commands in order, each decided against the state the ones before it left (their
/// events applied at once), then every event appended in one journal write. The events are
/// exactly those the commands would have made one by one, each stamped with its own command
/// id (G3 holds per command). A failed append fails the actor as a single command's does —
/// the state it applied ahead is dropped and rebuilt from the journal — and every command of
/// the batch hears the error. `None` (only as new): a command was not accepted with events,
/// or the journal holds the entity already; nothing was appended or counted.
async fn handle_commands<E: Entity>(
    actor_state: &mut EntityActorState<E>,
    commands: Vec<CommandEnvelope<EntityCommand>>,
    attempt: Attempt,
) -> Result<Option<Vec<Result<Outcome, SendError>>>, SendError> {
    let as_new = attempt == Attempt::AsNew;
    let EntityActorState { entity, shard, epoch, runtime, held } = actor_state;
    let (entity, shard, epoch, runtime) = (*entity, *shard, *epoch, &**runtime);
    let (metrics, kind) = (&runtime.metrics, E::KIND.as_str());
    let state = held
        .live()
        .map_err(|error| SendError::Codec(error.to_string()))?
        .ok_or_else(|| SendError::Unavailable("entity state not loaded".into()))?;
    let context = if E::needs_policy() {
        runtime.policies.context(runtime.journal.as_ref(), entity.org).await?
    } else {
        DecideContext::at(Utc::now())
    };
    let mut outcomes = Vec::with_capacity(commands.len());
    let (mut pending, mut accepted, mut event_names) = (Vec::new(), Vec::new(), Vec::new());
    for envelope in commands {
        if envelope.entity != entity {
            if as_new {
                return Ok(None);
            }
            outcomes.push(Err(SendError::WrongKind { expected: entity.kind, found: envelope.entity.kind }));
            continue;
        }
        let CommandEnvelope { command_id, entity: _, issued_at: _, actor, command } = envelope;
        let command = match E::command(command) {
            Ok(command) => command,
            Err(_) if as_new => return Ok(None),
            Err(other) => {
                outcomes.push(Err(SendError::WrongKind { expected: E::KIND, found: other.kind() }));
                continue;
            }
        };
        let command_name = E::command_name(&command);
        let events = match E::decide(state, command_id, &command, &actor, &context) {
            Ok(events) if as_new && events.is_empty() => return Ok(None),
            Ok(events) => events,
            Err(_) if as_new => return Ok(None),
            Err(rejection) => {
                metrics.commands.with_label_values(&[kind, command_name, "rejected"]).inc();
                outcomes.push(Ok(Outcome::Rejected { entity, rejection }));
                continue;
            }
        };
        let (envelopes, events) =
            enveloped::<E>(entity, E::version(state) + 1, &context, (&actor, command_id), events)?;
        for event_envelope in &envelopes {
            event_names.push(E::event_name(&event_envelope.event));
            E::apply(state, event_envelope);
        }
        let appended = events.len();
        pending.extend(events);
        accepted.push(command_name);
        outcomes.push(Ok(Outcome::Accepted {
            entity,
            version: E::version(state),
            events_appended: appended,
            summary: E::summary(state),
        }));
    }
    if !pending.is_empty() {
        let started = Instant::now();
        let result = runtime.journal.append(AppendBatch { shard, epoch, events: pending }).await;
        metrics.append_latency.observe(started.elapsed().as_secs_f64());
        if as_new && matches!(result, Err(JournalError::SequenceConflict { .. })) {
            return Ok(None);
        }
        if let Err(error) = result {
            for command_name in accepted {
                metrics.commands.with_label_values(&[kind, command_name, "failed"]).inc();
            }
            return Err(SendError::Journal(error));
        }
    }
    for event_name in event_names {
        metrics.events.with_label_values(&[kind, event_name]).inc();
    }
    for command_name in accepted {
        metrics.commands.with_label_values(&[kind, command_name, "accepted"]).inc();
    }
    E::after_apply(entity, state, runtime);
    Ok(Some(outcomes))
}
