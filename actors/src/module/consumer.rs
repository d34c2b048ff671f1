//! The consumer loop: per shard, read after the stored position, hand each event to the
//! engine (decoded through the node's shared cache a chunk at a time, the worker given up
//! every 128 events so the commands around a long page keep moving), send what it emits,
//! store the new position; poll again at once while pages come
//! back full, after `consumer_poll` otherwise, doubling that wait (up to 8×) while nothing new
//! arrives so idle shards cost little; a node's consumers first poll a share of the period
//! apart (`ConsumerArguments::first_poll`), so their passes do not land together. A shard's
//! position is stored at most every
//! `consumer_store_every`, each shard its own share of that period later than shard 0: storing
//! every shard of every consumer on each poll was five consumers × 64 shards of KV puts in one
//! burst a second on a cluster, which the commands around them waited behind. A cluster node
//! adds and removes shards as it takes and gives back their leases: a removal is answered only
//! after the page in hand is done and its position stored, so the next owner resumes exactly
//! where this one stopped; a consumer that stops stores what moved since its last store.
//!
//! A shard added while its stored position cannot be read (server restarting) waits and is
//! retried on each poll: adding never blocks the caller, so a node's lease loop never waits
//! on a consumer busy with a slow page. A position that failed to store is kept in memory and
//! stored again on the next poll (the page is not handed to the engine twice); a shard whose [`ShardGuard`] says the lease ran
//! out is neither read nor stored, so a stale owner never moves a position backwards.

use super::{AnyEvent, EngineError, ModuleEngine, ModuleEvent, ShardGuard};
use crate::entity::SendError;
use crate::journal::{JournalError, StoredEvent};
use crate::node::Node;
use practice_protocol::shard::ShardId;
use prometheus::IntCounter;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

pub enum ModuleMessage {
    Poll,
    /// Start consuming a shard from its stored position (loaded now, or on a later poll).
    AddShard(ShardId, Option<ShardGuard>),
    /// Stop consuming a shard; answered (when asked) once its last position is stored.
    RemoveShard(ShardId, Option<RpcReplyPort<()>>),
}

pub struct ModuleConsumer;

pub struct ConsumerArguments {
    pub node: Node,
    pub engine: Box<dyn ModuleEngine>,
    pub shards: Vec<ShardId>,
    /// How long after its start the consumer polls first: a node's consumers start together,
    /// and polls left aligned make one burst of all their pages per period.
    pub first_poll: std::time::Duration,
}

/// The first poll of the `index`-th of `count` consumers started together: `index / count`
/// of the poll `period` late, so their passes spread over the period.
pub(crate) fn spread_first_poll(period: std::time::Duration, index: u32, count: u32) -> std::time::Duration {
    period * (index % count.max(1)) / count.max(1)
}

pub struct ConsumerState {
    node: Node,
    engine: Box<dyn ModuleEngine>,
    name: String,
    positions: BTreeMap<ShardId, u64>,
    /// Shards added whose stored position could not be read yet.
    pending: BTreeSet<ShardId>,
    /// Positions moved in memory but not yet durable.
    unsaved: BTreeSet<ShardId>,
    /// Per shard, when its moved position may be stored next.
    store_due: BTreeMap<ShardId, Instant>,
    guards: BTreeMap<ShardId, ShardGuard>,
    /// The idle wait is `consumer_poll` times this.
    backoff: u32,
    /// `practice_module_events_total` per event name for this consumer, looked up once each
    /// (a label lookup per event hashed both labels under the metric's lock).
    seen: HashMap<&'static str, IntCounter>,
    first_poll: std::time::Duration,
}

/// The idle wait grows to at most `consumer_poll` times this.
const MAX_BACKOFF: u32 = 8;

/// Events of a page looked up in (and added to) the shared decoded cache at once.
const DECODED_TOGETHER: usize = 32;

/// Whether a position store waits for the shard's turn.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    IfDue,
    Now,
}

/// What one poll of one shard did.
struct Page {
    /// The page was full: more may be waiting.
    full: bool,
    /// The position moved.
    moved: bool,
}

impl Actor for ModuleConsumer {
    type Msg = ModuleMessage;
    type State = ConsumerState;
    type Arguments = ConsumerArguments;

    async fn pre_start(
        &self,
        _myself: ActorRef<Self::Msg>,
        arguments: ConsumerArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let name = arguments.engine.name().to_string();
        let mut state = ConsumerState {
            node: arguments.node,
            engine: arguments.engine,
            name,
            positions: BTreeMap::new(),
            pending: BTreeSet::new(),
            unsaved: BTreeSet::new(),
            store_due: BTreeMap::new(),
            guards: BTreeMap::new(),
            seen: HashMap::new(),
            backoff: 1,
            first_poll: arguments.first_poll,
        };
        for shard in arguments.shards {
            let position = state.node.journal().load_position(&state.name, shard).await?;
            started(&mut state, shard, position);
        }
        Ok(state)
    }

    /// What moved since the last store is stored before the consumer goes.
    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        let unsaved: Vec<ShardId> = state.unsaved.iter().copied().collect();
        for shard in unsaved {
            save_position(state, shard, Store::Now).await;
        }
        Ok(())
    }

    async fn post_start(&self, myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        if state.first_poll.is_zero() {
            myself.cast(ModuleMessage::Poll)?;
        } else {
            myself.send_after(state.first_poll, || ModuleMessage::Poll);
        }
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ModuleMessage::Poll => {}
            ModuleMessage::AddShard(shard, guard) => {
                match guard {
                    Some(guard) => state.guards.insert(shard, guard),
                    None => state.guards.remove(&shard),
                };
                if !state.positions.contains_key(&shard) {
                    state.pending.insert(shard);
                    load_pending(state).await;
                }
                return Ok(());
            }
            ModuleMessage::RemoveShard(shard, reply) => {
                save_position(state, shard, Store::Now).await;
                state.positions.remove(&shard);
                state.pending.remove(&shard);
                state.unsaved.remove(&shard);
                state.store_due.remove(&shard);
                state.guards.remove(&shard);
                let shard_label = shard.0.to_string();
                let _ = state.node.runtime().metrics.consumer_lag.remove_label_values(&[&state.name, &shard_label]);
                if let Some(reply) = reply {
                    let _ = reply.send(());
                }
                return Ok(());
            }
        }
        load_pending(state).await;
        let (mut more, mut moved) = (false, false);
        let shards: Vec<ShardId> = state.positions.keys().copied().collect();
        for shard in shards {
            let page = poll_shard(state, shard).await;
            more |= page.full;
            moved |= page.moved;
        }
        state.backoff = if moved { 1 } else { (state.backoff * 2).min(MAX_BACKOFF) };
        if more {
            myself.cast(ModuleMessage::Poll)?;
        } else {
            let wait = state.node.runtime().config.consumer_poll * state.backoff;
            myself.send_after(wait, || ModuleMessage::Poll);
        }
        Ok(())
    }
}

/// Failures that say "not now" rather than "never": the page stops there and is tried again.
fn retryable(error: &SendError) -> bool {
    matches!(
        error,
        SendError::Timeout(_)
            | SendError::Dropped
            | SendError::Unavailable(_)
            | SendError::Quarantined { .. }
            | SendError::Fenced { .. }
            | SendError::Journal(JournalError::Unavailable(_) | JournalError::Fenced { .. })
    )
}

/// One page of one shard. The
/// shard's head is looked up first (cheap on both journals): an idle shard costs no read.
async fn poll_shard(state: &mut ConsumerState, shard: ShardId) -> Page {
    let mut page = Page { full: false, moved: false };
    if !may_consume(state, shard) {
        return page;
    }
    let runtime = state.node.runtime().clone();
    let batch = runtime.config.consumer_batch;
    let start = state.positions.get(&shard).copied().unwrap_or(0);
    let head = runtime.journal.shard_head(shard).await.ok().flatten();
    if head.is_none_or(|head| head > start) {
        let events = match runtime.journal.read_shard(shard, start, batch).await {
            Ok(events) => events,
            Err(error) => {
                tracing::warn!(consumer = %state.name, shard = shard.0, %error, "consumer read failed");
                return page;
            }
        };
        let position = handle_page(state, shard, start, &events).await;
        if position != start {
            state.positions.insert(shard, position);
            state.unsaved.insert(shard);
        }
        page.moved = position != start;
        page.full = events.len() == batch && page.moved;
    }
    save_position(state, shard, Store::IfDue).await;
    let position = state.positions.get(&shard).copied().unwrap_or(0);
    // At the head read above nothing is left to count (the usual case): no second look.
    let lag = match head {
        Some(head) if head <= position => Some(0),
        _ => runtime.journal.shard_lag(shard, position).await.ok().flatten(),
    };
    if let Some(lag) = lag {
        set_lag(state, shard, lag);
    }
    page
}

/// Load the stored positions of shards added but not started; a failure leaves the shard
/// pending for the next poll.
async fn load_pending(state: &mut ConsumerState) {
    let pending: Vec<ShardId> = state.pending.iter().copied().collect();
    for shard in pending {
        if !may_consume(state, shard) {
            continue;
        }
        match state.node.journal().load_position(&state.name, shard).await {
            Ok(position) => {
                state.pending.remove(&shard);
                started(state, shard, position);
            }
            Err(error) => {
                tracing::warn!(consumer = %state.name, shard = shard.0, %error, "consumer position not loaded yet");
            }
        }
    }
}

fn may_consume(state: &ConsumerState, shard: ShardId) -> bool {
    state.guards.get(&shard).is_none_or(|guard| guard())
}

/// Consume `shard` from `position`, its first store due its share of a store period from now.
fn started(state: &mut ConsumerState, shard: ShardId, position: u64) {
    let every = state.node.runtime().config.consumer_store_every;
    let phase = crate::shard::phase(shard, state.node.journal().shard_count(), every);
    state.positions.insert(shard, position);
    state.store_due.insert(shard, Instant::now() + phase);
}

/// Store the shard's position if it moved since the last store (and the lease still runs),
/// now or once its turn has come.
async fn save_position(state: &mut ConsumerState, shard: ShardId, when: Store) {
    if !state.unsaved.contains(&shard) || !may_consume(state, shard) {
        return;
    }
    let now = Instant::now();
    if when == Store::IfDue && state.store_due.get(&shard).is_some_and(|due| *due > now) {
        return;
    }
    let Some(position) = state.positions.get(&shard).copied() else { return };
    match state.node.journal().store_position(&state.name, shard, position).await {
        Ok(()) => {
            state.unsaved.remove(&shard);
            state.store_due.insert(shard, now + state.node.runtime().config.consumer_store_every);
        }
        Err(error) => {
            tracing::warn!(consumer = %state.name, shard = shard.0, %error, "consumer position not stored yet")
        }
    }
}

fn count_seen(state: &mut ConsumerState, event: &'static str) {
    let ConsumerState { node, name, seen, .. } = state;
    seen.entry(event)
        .or_insert_with(|| node.runtime().metrics.module_events.with_label_values(&[name.as_str(), event]))
        .inc();
}

fn set_lag(state: &ConsumerState, shard: ShardId, lag: u64) {
    let shard_label = shard.0.to_string();
    let gauge = &state.node.runtime().metrics.consumer_lag;
    gauge.with_label_values(&[state.name.as_str(), shard_label.as_str()]).set(lag as i64);
}

/// Hand the page's events to the engine in order; returns the position of the last event
/// done with (the page's start when the first one must be retried).
async fn handle_page(state: &mut ConsumerState, shard: ShardId, start: u64, events: &[StoredEvent]) -> u64 {
    let runtime = state.node.runtime().clone();
    let mut position = start;
    for chunk in events.chunks(DECODED_TOGETHER) {
        let decoded = runtime.decoded.get_many(chunk);
        for (stored, decoded) in chunk.iter().zip(decoded) {
            // A page is up to `consumer_batch` decodes and engine calls, with no await between
            // them unless the engine emits commands: a consumer catching up held its worker
            // for tens of ms, and the commands queued behind it waited (`bench jetstream` at
            // half load: 20–90 ms stalls of the whole runtime once a second, when the five
            // consumers polled). Tokio's task budget makes it give the worker up every 128.
            tokio::task::consume_budget().await;
            if handle_event(state, shard, stored, decoded).await == Handled::Retry {
                return position;
            }
            position = stored.position;
        }
    }
    position
}

/// What became of one event.
#[derive(PartialEq, Eq)]
enum Handled {
    /// Done with, whether the engine acted on it, skipped it or it could not be decoded.
    Done,
    /// Not now: the page stops before it and the next poll starts there.
    Retry,
}

async fn handle_event(
    state: &mut ConsumerState,
    shard: ShardId,
    stored: &StoredEvent,
    decoded: Result<Arc<AnyEvent>, SendError>,
) -> Handled {
    let event = match decoded {
        Ok(event) => event,
        Err(error) => {
            tracing::error!(consumer = %state.name, shard = shard.0, position = stored.position, %error,
                "undecodable event skipped");
            return Handled::Done;
        }
    };
    count_seen(state, event.name());
    let module_event = ModuleEvent { shard, position: stored.position, event };
    let commands = match state.engine.handle(&module_event) {
        Ok(commands) => commands,
        Err(EngineError::Transient(reason)) => {
            tracing::warn!(consumer = %state.name, shard = shard.0, %reason, "engine asked to retry");
            return Handled::Retry;
        }
        Err(EngineError::Permanent(reason)) => {
            tracing::error!(consumer = %state.name, shard = shard.0, %reason, "event skipped by engine");
            return Handled::Done;
        }
    };
    for command in commands {
        match state.node.send(command).await {
            Ok(outcome) if !outcome.is_accepted() => {
                tracing::info!(consumer = %state.name, shard = shard.0, "module command rejected");
            }
            Ok(_) => {}
            Err(error) if retryable(&error) => {
                tracing::warn!(consumer = %state.name, %error, "module command will be retried");
                return Handled::Retry;
            }
            Err(error) => {
                tracing::error!(consumer = %state.name, %error, "module command failed");
            }
        }
    }
    Handled::Done
}
