//! The shard supervisor actor.

use crate::claim::ClaimActor;
use crate::entity::actor_exit::{EXIT_FENCED, EXIT_PASSIVATED};
use crate::entity::{EntityArguments, EntityMessage, SendError};
use crate::journal::Epoch;
use crate::payer::PayerActor;
use crate::practice::PracticeActor;
use crate::runtime::Runtime;
use practice_protocol::envelope::{EntityKind, EntityRef};
use practice_protocol::shard::ShardId;
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorId, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub enum ShardMessage {
    /// Deliver to the entity's actor, spawning it if needed.
    Route {
        entity: EntityRef,
        message: EntityMessage,
    },
    /// Passivate actors idle longer than `idle_after` (sent by the shard's own timer).
    PassivateIdle,
    /// Passivate every live actor now; replies how many.
    PassivateAll(RpcReplyPort<usize>),
    Stats(RpcReplyPort<ShardStats>),
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardStats {
    pub live: usize,
    /// Live actors holding their state encoded (idle, not yet passivated).
    pub hibernated: usize,
    pub passivated: usize,
    pub restarts: u64,
    pub fenced: bool,
}

pub struct ShardArguments {
    pub shard: ShardId,
    /// The epoch this node holds; `None` fences the shard now (the embedded node).
    pub epoch: Option<Epoch>,
    pub runtime: Arc<Runtime>,
}

pub struct ShardSupervisor;

/// An actor asked to passivate, not stopped yet.
struct Stopping {
    actor: ActorId,
    since: Instant,
    waiting: Vec<EntityMessage>,
}

/// A passivating actor not stopped after this long is given up on: what waited for it goes to
/// a fresh actor (the callers' own timeouts are far shorter).
const STOPPING_GIVE_UP: Duration = Duration::from_secs(30);

struct Child {
    actor: ActorRef<EntityMessage>,
    last_used: Instant,
    /// Asked to hibernate since its last message.
    hibernated: bool,
}

pub struct ShardState {
    shard: ShardId,
    epoch: Epoch,
    runtime: Arc<Runtime>,
    children: HashMap<EntityRef, Child>,
    by_actor: HashMap<ActorId, EntityRef>,
    /// Recent failure times per entity, for the restart intensity.
    failures: HashMap<EntityRef, VecDeque<Instant>>,
    /// Passivated entities not yet back, by 64-bit fingerprint: at a million claims the
    /// fingerprint is a quarter of an `EntityRef`'s bytes; a collision (odds ~1e-8 at 1M)
    /// only miscounts the passivated gauge by one.
    passivated: HashSet<u64>,
    /// Entities whose actor was asked to passivate and has not stopped yet: its id, and the
    /// messages that came for the entity meanwhile. They go to a fresh actor once the old one
    /// stopped, so an entity never has two actors (one still working its mailbox).
    stopping: HashMap<EntityRef, Stopping>,
    restarts: u64,
    fenced: bool,
    timer: Option<JoinHandle<()>>,
}

impl Actor for ShardSupervisor {
    type Msg = ShardMessage;
    type State = ShardState;
    type Arguments = ShardArguments;

    async fn pre_start(
        &self,
        myself: ActorRef<Self::Msg>,
        arguments: ShardArguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        let epoch = match arguments.epoch {
            Some(epoch) => epoch,
            None => arguments.runtime.journal.fence(arguments.shard).await?,
        };
        let period = arguments.runtime.config.passivation_check;
        // Shards a node took together would otherwise hibernate, and later passivate and
        // snapshot, one burst of work's actors in the same instant, stalling the commands
        // around them: each starts its checks its own share of a period late.
        let first = period + super::phase(arguments.shard, arguments.runtime.journal.shard_count(), period);
        let timer = idle_timer(myself.clone(), first, period);
        tracing::debug!(shard = arguments.shard.0, epoch = epoch.0, "shard started");
        Ok(ShardState {
            shard: arguments.shard,
            epoch,
            runtime: arguments.runtime,
            children: HashMap::new(),
            by_actor: HashMap::new(),
            failures: HashMap::new(),
            passivated: HashSet::new(),
            stopping: HashMap::new(),
            restarts: 0,
            fenced: false,
            timer: Some(timer),
        })
    }

    async fn post_stop(&self, _myself: ActorRef<Self::Msg>, state: &mut Self::State) -> Result<(), ActorProcessingErr> {
        if let Some(timer) = state.timer.take() {
            timer.abort();
        }
        state.runtime.metrics.passivated_actors.sub(state.passivated.len() as i64);
        let hibernated = state.children.values().filter(|child| child.hibernated).count();
        state.runtime.metrics.hibernated_actors.sub(hibernated as i64);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<Self::Msg>,
        message: Self::Msg,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match message {
            ShardMessage::Route { entity, message } => route(&myself, state, entity, message).await,
            ShardMessage::PassivateIdle => {
                let idle_after = state.runtime.config.idle_after;
                passivate(state, |child| child.last_used.elapsed() >= idle_after, false);
                hibernate(state, state.runtime.config.hibernate_after);
                give_up_stopping(&myself, state).await;
                tidy(state);
            }
            ShardMessage::PassivateAll(reply) => {
                let done = passivate(state, |_| true, true);
                let count = done.len();
                // The children snapshot concurrently (one group commit); wait for all of them.
                for receiver in done {
                    let _ = tokio::time::timeout(Duration::from_secs(30), receiver).await;
                }
                let _ = reply.send(count);
            }
            ShardMessage::Stats(reply) => {
                let _ = reply.send(ShardStats {
                    live: state.children.len(),
                    hibernated: state.children.values().filter(|child| child.hibernated).count(),
                    passivated: state.passivated.len(),
                    restarts: state.restarts,
                    fenced: state.fenced,
                });
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<Self::Msg>,
        event: SupervisionEvent,
        state: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        match event {
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                let Some(entity) = forget(state, cell.get_id()) else { return Ok(()) };
                if reason.as_deref() == Some(EXIT_FENCED) {
                    tracing::warn!(shard = state.shard.0, "shard fenced: a newer owner holds it");
                    state.fenced = true;
                } else if reason.as_deref() != Some(EXIT_PASSIVATED) {
                    tracing::debug!(shard = state.shard.0, kind = entity.kind.as_str(), "entity actor stopped");
                }
                release(&myself, state, entity, cell.get_id()).await;
            }
            SupervisionEvent::ActorFailed(cell, error) => {
                let Some(entity) = forget(state, cell.get_id()) else { return Ok(()) };
                tracing::warn!(shard = state.shard.0, kind = entity.kind.as_str(), %error, "entity actor failed");
                // ractor skips `post_stop` of a failed actor: account for it here.
                state.runtime.metrics.live_actors.with_label_values(&[entity.kind.as_str()]).dec();
                let window = state.runtime.config.restart_window;
                let failures = state.failures.entry(entity).or_default();
                failures.push_back(Instant::now());
                while failures.front().is_some_and(|at| at.elapsed() > window) {
                    failures.pop_front();
                }
                if failures.len() <= state.runtime.config.max_restarts && !state.fenced {
                    state.restarts += 1;
                    state.runtime.metrics.restarts.inc();
                    if let Err(error) = spawn_child(&myself, state, entity).await {
                        tracing::warn!(shard = state.shard.0, %error, "restart failed; next message retries");
                    }
                } else {
                    tracing::error!(shard = state.shard.0, kind = entity.kind.as_str(), "restart intensity exceeded");
                }
                release(&myself, state, entity, cell.get_id()).await;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Drop a stopped actor from the books; its entity if it was the current actor for it.
fn forget(state: &mut ShardState, actor: ActorId) -> Option<EntityRef> {
    let entity = state.by_actor.remove(&actor)?;
    if state.children.get(&entity).is_some_and(|child| child.actor.get_id() == actor)
        && state.children.remove(&entity).is_some_and(|child| child.hibernated)
    {
        state.runtime.metrics.hibernated_actors.dec();
    }
    Some(entity)
}

/// Once a passivating actor stopped (or failed), the messages that waited for it go to the
/// entity's next actor, in their order.
async fn release(myself: &ActorRef<ShardMessage>, state: &mut ShardState, entity: EntityRef, stopped: ActorId) {
    if state.stopping.get(&entity).is_none_or(|stopping| stopping.actor != stopped) {
        return;
    }
    let Some(stopping) = state.stopping.remove(&entity) else { return };
    for message in stopping.waiting {
        route(myself, state, entity, message).await;
    }
}

/// On the passivation tick: passivating actors that never reported their stop are given up on.
async fn give_up_stopping(myself: &ActorRef<ShardMessage>, state: &mut ShardState) {
    let stale: Vec<(EntityRef, ActorId)> = state
        .stopping
        .iter()
        .filter(|(_, stopping)| stopping.since.elapsed() > STOPPING_GIVE_UP)
        .map(|(entity, stopping)| (*entity, stopping.actor))
        .collect();
    for (entity, actor) in stale {
        tracing::warn!(shard = state.shard.0, kind = entity.kind.as_str(), "a passivating actor never stopped");
        release(myself, state, entity, actor).await;
    }
}

fn quarantine_left(state: &ShardState, entity: &EntityRef) -> Option<Duration> {
    let failures = state.failures.get(entity)?;
    let window = state.runtime.config.restart_window;
    let recent: Vec<&Instant> = failures.iter().filter(|at| at.elapsed() <= window).collect();
    if recent.len() <= state.runtime.config.max_restarts {
        return None;
    }
    recent.first().map(|oldest| window.saturating_sub(oldest.elapsed()))
}

async fn route(myself: &ActorRef<ShardMessage>, state: &mut ShardState, entity: EntityRef, message: EntityMessage) {
    if state.fenced {
        message.refuse(SendError::Fenced { shard: state.shard, epoch: state.epoch });
        return;
    }
    if let Some(left) = quarantine_left(state, &entity) {
        if !state.children.contains_key(&entity) {
            message.refuse(SendError::Quarantined { retry_after_ms: left.as_millis() as u64 });
            return;
        }
    }
    if let Some(stopping) = state.stopping.get_mut(&entity) {
        stopping.waiting.push(message);
        return;
    }
    let mut message = message;
    // Two tries: a child that died between its last message and this one is replaced.
    for _ in 0..2 {
        let actor = match state.children.get_mut(&entity) {
            Some(child) => {
                child.last_used = Instant::now();
                if std::mem::take(&mut child.hibernated) {
                    state.runtime.metrics.hibernated_actors.dec();
                }
                child.actor.clone()
            }
            None => {
                make_room(state);
                match spawn_child(myself, state, entity).await {
                    Ok(actor) => actor,
                    Err(error) => {
                        message.refuse(error);
                        return;
                    }
                }
            }
        };
        match actor.cast(message) {
            Ok(()) => return,
            Err(ractor::MessagingErr::SendErr(returned)) => {
                forget(state, actor.get_id());
                message = returned;
            }
            Err(_) => {
                forget(state, actor.get_id());
                return;
            }
        }
    }
    message.refuse(SendError::Dropped);
}

async fn spawn_child(
    myself: &ActorRef<ShardMessage>,
    state: &mut ShardState,
    entity: EntityRef,
) -> Result<ActorRef<EntityMessage>, SendError> {
    let arguments = EntityArguments { entity, shard: state.shard, epoch: state.epoch, runtime: state.runtime.clone() };
    let supervisor = myself.get_cell();
    let spawned = match entity.kind {
        EntityKind::Claim => Actor::spawn_linked(None, ClaimActor::default(), arguments, supervisor).await,
        EntityKind::Payer => Actor::spawn_linked(None, PayerActor::default(), arguments, supervisor).await,
        EntityKind::Practice => Actor::spawn_linked(None, PracticeActor::default(), arguments, supervisor).await,
    };
    let (actor, _join) =
        spawned.map_err(|error| SendError::Unavailable(format!("entity actor did not start: {error}")))?;
    if state.passivated.remove(&fingerprint(&entity)) {
        state.runtime.metrics.passivated_actors.dec();
    }
    state.by_actor.insert(actor.get_id(), entity);
    state.children.insert(entity, Child { actor: actor.clone(), last_used: Instant::now(), hibernated: false });
    Ok(actor)
}

type Done = ractor::concurrency::OneshotReceiver<()>;

fn fingerprint(entity: &EntityRef) -> u64 {
    use std::hash::{Hash, Hasher};
    // Fixed keys: the same entity always gives the same fingerprint.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    entity.hash(&mut hasher);
    hasher.finish()
}

/// Memory hygiene on the passivation tick: forget failures older than the restart window,
/// and give back map capacity left over from a burst of live actors.
fn tidy(state: &mut ShardState) {
    let window = state.runtime.config.restart_window;
    state.failures.retain(|_, failures| failures.back().is_some_and(|at| at.elapsed() <= window));
    if state.children.capacity() > 64 && state.children.len() * 4 < state.children.capacity() {
        state.children.shrink_to(state.children.len() * 2);
    }
    if state.by_actor.capacity() > 64 && state.by_actor.len() * 4 < state.by_actor.capacity() {
        state.by_actor.shrink_to(state.by_actor.len() * 2);
    }
}

/// `PassivateIdle` to the shard after `first`, then every `period`; a tick missed while the
/// runtime was busy is not made up in a burst.
fn idle_timer(shard: ActorRef<ShardMessage>, first: Duration, period: Duration) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + first, period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if shard.cast(ShardMessage::PassivateIdle).is_err() {
                break;
            }
        }
    })
}

/// Ask the children idle for `after` to keep their state encoded until their next message
/// (once each idle spell).
fn hibernate(state: &mut ShardState, after: Duration) {
    for child in state.children.values_mut() {
        if !child.hibernated && child.last_used.elapsed() >= after && child.actor.cast(EntityMessage::Hibernate).is_ok()
        {
            child.hibernated = true;
            state.runtime.metrics.hibernated_actors.inc();
        }
    }
}

/// This shard's share of the node's live-actor bound, if there is one.
fn live_limit(state: &ShardState) -> Option<usize> {
    let max = state.runtime.config.max_live_actors.filter(|max| *max > 0)?;
    Some(max.div_ceil(usize::from(state.runtime.journal.shard_count().max(1))).max(1))
}

/// Before a spawn: at the shard's live bound, passivate its least recently used tenth (at
/// least one), so the bound holds and the O(live) choice is made once per tenth of spawns.
fn make_room(state: &mut ShardState) {
    let Some(limit) = live_limit(state) else { return };
    if state.children.len() < limit {
        return;
    }
    let keep = limit.saturating_sub(limit / 10 + 1);
    let by_age = state.children.iter().map(|(entity, child)| (child.last_used, *entity)).collect();
    let chosen = oldest(by_age, state.children.len().saturating_sub(keep));
    tracing::debug!(shard = state.shard.0, evicted = chosen.len(), limit, "live-actor bound reached");
    passivate_these(state, &chosen, false);
}

/// The `count` entities used longest ago (in no particular order), in O(n).
fn oldest(mut by_age: Vec<(Instant, EntityRef)>, count: usize) -> Vec<EntityRef> {
    if count < by_age.len() {
        by_age.select_nth_unstable_by_key(count, |(last_used, _)| *last_used);
        by_age.truncate(count);
    }
    by_age.into_iter().map(|(_, entity)| entity).collect()
}

/// Ask the matching children to snapshot and stop; they leave the books now, so the next
/// message for one of them spawns a fresh actor that rehydrates. With `wait`, returns a
/// receiver per child that hears when its snapshot is durable.
fn passivate(state: &mut ShardState, select: impl Fn(&Child) -> bool, wait: bool) -> Vec<Done> {
    let chosen: Vec<EntityRef> =
        state.children.iter().filter(|(_, child)| select(child)).map(|(entity, _)| *entity).collect();
    passivate_these(state, &chosen, wait)
}

fn passivate_these(state: &mut ShardState, chosen: &[EntityRef], wait: bool) -> Vec<Done> {
    let mut done = Vec::new();
    for entity in chosen {
        let Some(child) = state.children.remove(entity) else { continue };
        if child.hibernated {
            state.runtime.metrics.hibernated_actors.dec();
        }
        let port = if wait {
            let (sender, receiver) = ractor::concurrency::oneshot();
            done.push(receiver);
            Some(RpcReplyPort::from(sender))
        } else {
            None
        };
        if child.actor.cast(EntityMessage::Passivate(port)).is_ok() {
            let stopping = Stopping { actor: child.actor.get_id(), since: Instant::now(), waiting: Vec::new() };
            state.stopping.insert(*entity, stopping);
            if state.passivated.insert(fingerprint(entity)) {
                state.runtime.metrics.passivated_actors.inc();
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use practice_protocol::ids::OrgId;
    use uuid::Uuid;

    #[test]
    fn the_least_recently_used_are_chosen() {
        let start = Instant::now();
        let entity =
            |id: u128| EntityRef { org: OrgId(Uuid::from_u128(1)), kind: EntityKind::Claim, id: Uuid::from_u128(id) };
        // Used at start + id ms, listed out of order.
        let by_age: Vec<(Instant, EntityRef)> = [5u128, 2, 9, 0, 7, 3, 8, 1, 6, 4]
            .iter()
            .map(|id| (start + Duration::from_millis(*id as u64), entity(*id)))
            .collect();
        let mut chosen = oldest(by_age.clone(), 3);
        chosen.sort_by_key(|entity| entity.id);
        assert_eq!(chosen, vec![entity(0), entity(1), entity(2)]);
        assert_eq!(oldest(by_age.clone(), 10).len(), 10);
        assert_eq!(oldest(by_age.clone(), 20).len(), 10);
        assert!(oldest(by_age, 0).is_empty());
    }
}
